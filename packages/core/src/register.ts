// `node --import @graceful/core/register app.js` (docs/preload.md): the one module of the package that acts on import.
import { startPreload } from './preload/preload.js'

startPreload()

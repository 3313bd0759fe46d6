// `node --import @graceful/core/register app.js` (or `--require`, or through NODE_OPTIONS): the one module of the
// package that acts when it is loaded, since that is what a preload is for. See docs/preload.md.
import { startPreload } from './preload/preload.js'

startPreload()

// The Express example from CommonJS: `require()` loads the ESM packages (Node 20.19+). Run it with
// `node examples/express.cjs`, then press Ctrl-C.
const express = require('express')
const { graceful } = require('@graceful/express')

const pool = { end: async () => {} } // stands in for your database pool

const shutdown = graceful({ drainTimeout: 10_000 })
const app = express()
app.use(shutdown)
app.get('/', (req, res) => {
  setTimeout(() => res.send('hello\n'), Number(req.query.ms ?? 20))
})

const server = shutdown.attach(app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
}))
shutdown.onShutdown('db', () => pool.end(), { timeout: 2_000 })

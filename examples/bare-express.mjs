// The same Express service without graceful, as most services ship. `pnpm demo` runs it next to examples/express.mjs
// to show what is lost: with ON_SIGTERM=close it has the handler most people write by hand, server.close() on SIGTERM;
// without, SIGTERM ends the process on the spot.
import express from 'express'

const app = express()
app.get('/', (req, res) => {
  setTimeout(() => res.send('hello\n'), Number(req.query.ms ?? 20))
})
// An order: a POST with a JSON body, which no client or balancer may send twice.
app.post('/orders', express.json(), (req, res) => {
  setTimeout(() => res.status(201).json({ id: req.body?.id ?? null }), Number(req.query.ms ?? 20))
})
const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`)
})
if (process.env.ON_SIGTERM === 'close') {
  process.on('SIGTERM', () => server.close())
}

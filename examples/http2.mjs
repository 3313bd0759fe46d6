// node:http2 with graceful: each session is sent GOAWAY when draining begins, its open streams finish, new ones go
// elsewhere. HTTPS with HTTP/1.1 fallback when TLS_KEY and TLS_CERT name PEM files, cleartext HTTP/2 (h2c) otherwise.
// Run it with `node examples/http2.mjs`, then press Ctrl-C (or send it SIGTERM).
import { readFileSync } from 'node:fs'
import http2 from 'node:http2'
import { createGraceful } from '@graceful/core'

const g = createGraceful({ drainTimeout: 10_000 })

function handler (req, res) {
  if (g.handle(req, res)) return // /healthz and /livez, over HTTP/2 and HTTP/1.1 alike
  const ms = Number(new URL(req.url, 'http://localhost').searchParams.get('ms') ?? 20)
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }) // the headers leave now, the body later
  setTimeout(() => res.end(`hello over HTTP/${req.httpVersion}\n`), ms)
}

const server = process.env.TLS_KEY
  ? http2.createSecureServer({ key: readFileSync(process.env.TLS_KEY), cert: readFileSync(process.env.TLS_CERT), allowHTTP1: true }, handler)
  : http2.createServer(handler)
g.attach(server)
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', port: server.address().port }))
})

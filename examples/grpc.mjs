// One process serving HTTP and gRPC, shut down with graceful under one deadline: the readiness route and the gRPC
// health service (grpc.health.v1) fail from the signal, both keep serving through the lame duck, then the HTTP listener
// closes and the gRPC sessions get GOAWAY; calls and requests in flight complete, and any the deadline cuts end with
// UNAVAILABLE (gRPC, which clients retry) or are destroyed (HTTP), each named in the report.
//
//   node examples/grpc.mjs        HTTP on PORT (3000), gRPC on GRPC_PORT (50051); then Ctrl-C
import { createServer } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import * as grpc from '@grpc/grpc-js'
import { loadSync } from '@grpc/proto-loader'
import { createGraceful } from '@graceful/core'
import { gracefulGrpc } from '@graceful/grpc'

const log = (entry) => console.log(JSON.stringify(entry))
const g = createGraceful({ drainTimeout: 10_000 })

const { demo } = grpc.loadPackageDefinition(loadSync(new URL('grpc/demo.proto', import.meta.url).pathname))
const grpcShutdown = gracefulGrpc(g)
// The interceptor counts and names the calls, and ends those the deadline cuts with UNAVAILABLE.
const grpcServer = new grpc.Server({ interceptors: [grpcShutdown.interceptor] })
grpcServer.addService(demo.Demo.service, {
  wait: (call, callback) => {
    setTimeout(() => callback(null, { text: `waited ${call.request.ms} ms` }), call.request.ms)
  },
  ticks: async (call) => {
    for (let i = 0; i < call.request.count && !call.cancelled; i++) {
      await sleep(call.request.ms)
      call.write({ text: `tick ${i}` })
    }
    call.end()
  }
})
grpcShutdown.attach(grpcServer) // the health service, and the server in the drain

const http = createServer((req, res) => {
  const ms = Number(new URL(req.url, 'http://localhost').searchParams.get('ms') ?? 0)
  setTimeout(() => res.end(`waited ${ms} ms\n`), ms)
})
g.attach(http) // /healthz and /livez answered ahead of the handler

http.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  grpcServer.bindAsync(`127.0.0.1:${process.env.GRPC_PORT ?? 50051}`, grpc.ServerCredentials.createInsecure(), (err, grpcPort) => {
    if (err) throw err
    log({ msg: 'listening', port: http.address().port, grpcPort, pid: process.pid })
  })
})

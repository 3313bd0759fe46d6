// `node bench/request-signal.mjs`: what the Express middleware's per-request part of `req.shutdownSignal` costs, in
// isolation, on requests shaped as Express makes them (an IncomingMessage whose prototype is the app's `request`).
// Variants: nothing; the middleware's check (one Object.getPrototypeOf comparison, the getter being defined once on
// the prototype); and the alternative of writing the signal on every request. Fresh requests every round, so that a
// write is paid once per request as in a server. Prints the median of the rounds, in nanoseconds per request.
import { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import express from 'express'
import { median } from './stats.mjs'

const app = express()
const signal = new AbortController().signal
const requests = 100_000
const rounds = 7
let seen = null
let sink = 0

const variants = {
  'nothing': (req) => { sink += req.complete ? 1 : 0 },
  'prototype comparison (graceful)': (req) => {
    const prototype = Object.getPrototypeOf(req)
    if (prototype !== seen) seen = prototype
    sink += req.complete ? 1 : 0
  },
  'property written per request': (req) => {
    req.shutdownSignal = signal
    sink += req.complete ? 1 : 0
  }
}

function freshRequests () {
  return Array.from({ length: requests }, () => Object.setPrototypeOf(new IncomingMessage(new Socket()), app.request))
}

const timings = Object.fromEntries(Object.keys(variants).map(name => [name, []]))
for (let round = 0; round < rounds; round++) {
  for (const [name, variant] of Object.entries(variants)) {
    const batch = freshRequests()
    const started = process.hrtime.bigint()
    for (const req of batch) variant(req)
    timings[name].push(Number(process.hrtime.bigint() - started) / requests)
  }
}
for (const [name, values] of Object.entries(timings)) {
  console.log(`${name.padEnd(32)} ${median(values).toFixed(1).padStart(8)} ns/request`)
}
if (sink < 0) console.log(sink)

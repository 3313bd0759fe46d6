// OpenTelemetry for the shutdown, from graceful's diagnostics channels and live gauges. Set up your OpenTelemetry SDK
// first (NodeSDK, or a MeterProvider and a TracerProvider), then call `instrument(g, { flush })` before registering
// any other hook: its flush hook, registered first, runs last, after every span below has ended.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { metrics, trace, context, SpanStatusCode } from '@opentelemetry/api'
import { channels } from '@graceful/core'

export function instrument (g, { flush }) {
  g.onShutdown('telemetry', () => flush())

  // Read at each export: nothing polls, nothing runs per request.
  const meter = metrics.getMeter('graceful')
  const inFlight = meter.createObservableGauge('graceful.in_flight_requests', { description: 'requests in flight' })
  const openSockets = meter.createObservableGauge('graceful.open_sockets', { description: 'open sockets' })
  const observe = result => {
    result.observe(inFlight, g.inFlight)
    result.observe(openSockets, g.openSockets)
  }
  meter.addBatchObservableCallback(observe, [inFlight, openSockets])

  // One span for the shutdown (the lame duck and the drain), one per hook. The channels carry every instance of the
  // process: `graceful` tells which.
  const tracer = trace.getTracer('graceful')
  let shutdown
  const hooks = new Map()
  const handlers = {
    [channels.shutdownStart]: ({ graceful, reason }) => {
      if (graceful !== g) return
      shutdown = tracer.startSpan('graceful.shutdown', { attributes: { 'graceful.reason': reason } })
    },
    [channels.phase]: ({ graceful, phase, inFlight, openSockets }) => {
      if (graceful !== g || shutdown === undefined) return
      shutdown.addEvent(`graceful.${phase}`, { 'graceful.in_flight': inFlight, 'graceful.open_sockets': openSockets })
      // Ended when the drain is over, so that it is exported by the flush hook.
      if (phase === 'cleanup') shutdown.end()
    },
    [channels.hookStart]: ({ graceful, name }) => {
      if (graceful !== g || name === 'telemetry') return
      const parent = shutdown === undefined ? context.active() : trace.setSpan(context.active(), shutdown)
      hooks.set(name, tracer.startSpan(`graceful.hook ${name}`, {}, parent))
    },
    [channels.hookEnd]: ({ graceful, name, result }) => {
      const span = graceful === g ? hooks.get(name) : undefined
      if (span === undefined) return
      span.setAttribute('graceful.hook.status', result.status)
      if (result.status !== 'ok') span.setStatus({ code: SpanStatusCode.ERROR, message: result.error })
      span.end()
    }
  }
  for (const [name, handler] of Object.entries(handlers)) subscribe(name, handler)

  return () => {
    meter.removeBatchObservableCallback(observe, [inFlight, openSockets])
    for (const [name, handler] of Object.entries(handlers)) unsubscribe(name, handler)
  }
}

// The JSON Schema (draft 2020-12) of `graceful-check --json` and of checkShutdown()'s report, version 2. Within a
// version fields are only added; a field removed or changed in meaning makes a new version.
type Schema = Record<string, unknown>

const integer: Schema = { type: 'integer' }
const msOrNull: Schema = { type: ['integer', 'null'] }
const text: Schema = { type: 'string' }
const object = (properties: Record<string, Schema>): Schema => ({ type: 'object', required: Object.keys(properties), properties })
const array = (items: Schema): Schema => ({ type: 'array', items })
const phase: Schema = { enum: ['before-signal', 'lame-duck', 'drain', 'after-exit'] }
const clientKinds = ['keep-alive', 'new-connection', 'slow', 'pipelined', 'prober']
const failureKind: Schema = {
  enum: ['refused', 'routed-to-closed-listener', 'never-accepted', 'reset-fresh-connection', 'reset-reused-connection', 'idle-closed',
    'pipelined-behind-close', 'closed-mid-response', 'exited-in-flight', 'killed-in-flight', 'server-error', 'timed-out', 'probe-failed', 'retried-elsewhere']
}
const event = object({ atMs: integer, what: text })
const balancerName: Schema = { enum: ['kube-proxy', 'nginx', 'haproxy-redispatch', 'caddy', 'none'] }
// [client, sentMs, doneMs, index in failures or null]
const mark: Schema = { type: 'array', prefixItems: [{ enum: clientKinds }, integer, integer, msOrNull], minItems: 4, maxItems: 4 }
const counts = object({ sent: integer, completed: integer, failed: integer, lost: integer })
const distribution = object({ min: integer, median: integer, max: integer })
const finding = object({
  kind: { enum: ['signal-not-delivered', 'did-not-exit', 'exited-before-signal', 'exit-code', 'readiness-never-failed'] },
  fails: { type: 'boolean' },
  cause: text,
  fix: text
})
const failed = object({
  client: { enum: clientKinds },
  method: text,
  path: text,
  idempotent: { type: 'boolean' },
  connection: { enum: ['fresh', 'reused'] },
  localPort: msOrNull,
  sentMs: integer,
  failedMs: integer,
  phase,
  kind: failureKind,
  status: msOrNull,
  error: { type: ['string', 'null'] },
  lost: { type: 'boolean' },
  cause: text,
  fix: text
})
const cycle = object({
  cycle: integer,
  seed: integer,
  url: text,
  signalAfterMs: integer,
  times: object({ readinessFailedMs: msOrNull, listenerRefusedMs: msOrNull, lastResponseMs: msOrNull, exitMs: msOrNull, routingEndedMs: msOrNull }),
  balancer: object({ model: balancerName, propagationMs: msOrNull }),
  servicePhases: { oneOf: [object({ lameDuckMs: integer, drainMs: integer, hooksMs: integer }), { type: 'null' }] },
  marks: array(mark),
  exit: object({ code: msOrNull, signal: { type: ['string', 'null'] }, killedAfterTimeout: { type: 'boolean' } }),
  requests: object({
    sent: integer,
    answered: integer,
    failed: integer,
    lost: integer,
    excused: integer,
    lostNotIdempotent: integer,
    byClient: object(Object.fromEntries(clientKinds.map(kind => [kind, counts])))
  }),
  connectionClose: object({ 'before-signal': integer, 'lame-duck': integer, 'drain': integer, 'after-exit': integer }),
  statuses: { type: 'object', additionalProperties: integer },
  idleSockets: object({ opened: integer, closedByServiceMs: array(integer), openAtExit: integer }),
  probes: object({ sent: integer, changes: array(event) }),
  timeline: array(event),
  failures: array(failed),
  findings: array(finding),
  instances: array(object({ name: text, port: integer, signalledMs: msOrNull, exitMs: msOrNull, code: msOrNull, signal: { type: ['string', 'null'] } })),
  proxyLog: { type: 'object', additionalProperties: integer }
})

/** The JSON Schema of the report (`schemaVersion` 2). */
export const reportSchema: Readonly<Record<string, unknown>> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://github.com/graceful-js/graceful/blob/main/docs/check.md#the-json-report',
  title: 'graceful-check report',
  ...object({
    schemaVersion: { const: 2 },
    tool: object({ name: { const: 'graceful-check' }, version: text }),
    ok: { type: 'boolean' },
    maxLost: integer,
    seed: integer,
    signal: text,
    target: object({ command: { type: ['array', 'null'], items: text }, url: text, pid: msOrNull }),
    balancer: object({ model: balancerName, propagation: object({ min: integer, max: integer }) }),
    lost: array(failed),
    totals: object({ sent: integer, answered: integer, failed: integer, lost: integer, excused: integer, lostNotIdempotent: integer }),
    distribution: object({ lost: distribution, exitMs: { oneOf: [distribution, { type: 'null' }] } }),
    causes: array(object({ kind: failureKind, count: integer, lost: { type: 'boolean' }, cause: text, fix: text })),
    findings: array(finding),
    cycles: array(cycle)
  })
}

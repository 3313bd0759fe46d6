// Types for bench/targets.mjs, which test/docs/bench-docs.test.ts imports.

/** One shutdown measurement of one server (bench/run.mjs's shape in docs/benchmarks.json). */
export interface ShutdownEntry {
  idle: Array<{ ms: number | null, code: number | string }>
  lastResponse: Array<{ ms: number | null, code: number | string }>
  closingClient?: Array<{ ms: number | null, code: number | string }>
  sockets: Record<string, { exitMs: number, code: number | string, peakRss: number, heapPerSocket: number, runs?: Array<{ exitMs: number }> }>
  afterLameDuck?: Record<string, { exitMs: number, code: number | string, runs?: Array<{ exitMs: number }> }>
}

/** What docs/benchmarks.json holds. */
export interface SavedRun {
  machine: { date: string, cpu: string, cores: number, memoryGiB: number, node: string, platform: string }
  quick: boolean
  settings: { rounds: number, duration: number, warmup: number, connections: number, shutdownRepeats: number, socketRepeats: number, socketCounts: number[] }
  overhead?: Record<string, Array<{ round: number, rps: number, p99: number, cpuMicros: number, errors: number }>>
  instructions?: Record<string, number>
  shutdown?: Record<string, ShutdownEntry>
  instructionsByLine?: Record<string, Record<string, number>>
  shutdownMeasuredAgain?: string[]
  shutdownMeasured?: string
  shutdownByLine?: Record<string, Record<string, ShutdownEntry>>
}

/** One verdict: a row of its target's table in docs/benchmarks.md. */
export interface Verdict { node: string, target: string, graceful: string, reference: string, p: string, met: boolean }

export const SIGNIFICANCE: number
/** How much later than the fastest peer's median exit graceful's drain after a lame duck may end (ms). */
export function lameDuckMargin (sockets: number, peerMs: number): number
export const TARGETS: ReadonlyArray<{ id: string, title: string, rule: string }>

/** Whether `own` less the margin is slower than `reference`, by the rank test (the medians under 3 runs a side). */
export function judge (own: readonly number[], reference: readonly number[], margin?: number): { met: boolean, p: string }

/** The peer with the lowest median exit at a socket count among a framework's variants. */
export function fastestPeer (shutdown: Record<string, ShutdownEntry>, variants: ReadonlyArray<readonly string[]>, sockets: number):
  { variant: string, name: string, runs: number[], ms: number } | undefined

/** Every verdict of a saved run, per target id. */
export function verdicts (saved: SavedRun): Record<string, Verdict[]>

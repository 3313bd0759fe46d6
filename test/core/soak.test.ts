// The soak's short run: SIGTERM under randomised keep-alive, pipelined and upload load, a few cycles per framework,
// each cycle one run of graceful-check with the fixture's own record of the connections it accepted as evidence.
// `pnpm soak` runs the long one (see docs/reliability.md).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'

const script = fileURLToPath(new URL('../soak.mjs', import.meta.url))
// A pipelined request that reached the server after its close response is excused only when the server declined
// it (its report counts them): test/soak.mjs and docs/reliability.md say why.
const DECLINED_KIND = 'pipelined-behind-close'
let child: ReturnType<typeof spawn> | undefined

afterEach(() => {
  child?.kill('SIGKILL')
  child = undefined
})

interface CycleResult {
  framework: string
  seed: number
  sent: number
  answered: number
  failed: number
  lost: number
  lostByKind: Record<string, number>
  excusedByKind: Record<string, number>
  exitCode: number | null
  forcedSockets: number
  declinedPipelined: number
}

describe('soak', () => {
  it('Express and Fastify lose no request, beyond pipelined requests the server declined behind a close, over repeated SIGTERMs at random moments under keep-alive, pipelined and upload load', async () => {
    const seed = Math.floor(Math.random() * 2 ** 31)
    // The quiet window is 500 ms rather than 100, as in the contract suite: on a shared two-core CI machine this
    // process can be starved of CPU for longer than 100 ms between reading a response and writing the next request,
    // which is the race of any keep-alive close, not the behaviour under test. `pnpm soak` runs the default.
    child = spawn(process.execPath, [script, '--cycles', '4', '--seed', String(seed), '--idle-grace', '500', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const [code] = await once(child, 'exit') as [number | null]
    const cycles = stdout.trim().split('\n').filter(line => line !== '').map(line => JSON.parse(line) as CycleResult)
    // The seed is in the message of any failure, to replay it with `pnpm soak --seed`.
    const context = `seed ${seed}; ${stderr}`
    expect(cycles, context).toHaveLength(8)
    for (const cycle of cycles) {
      // Any other kind of loss fails; a reset new connection is excused only when the app never accepted it.
      const lost = Object.fromEntries(Object.entries(cycle.lostByKind).filter(([kind]) => kind !== DECLINED_KIND))
      expect({ seed, framework: cycle.framework, lost }).toEqual({ seed, framework: cycle.framework, lost: {} })
      expect(cycle.lostByKind[DECLINED_KIND] ?? 0, context).toBeLessThanOrEqual(cycle.declinedPipelined)
      expect(cycle.answered + cycle.failed, context).toBe(cycle.sent)
      expect(cycle.exitCode, context).toBe(0)
      expect(cycle.forcedSockets, context).toBe(0)
      // Every client ends at a refused connection: the listener really closed under load.
      expect(cycle.excusedByKind.refused, context).toBeGreaterThan(0)
    }
    expect(cycles.reduce((sum, cycle) => sum + cycle.answered, 0)).toBeGreaterThan(200)
    expect(code, context).toBe(0)
  }, 90_000)
})

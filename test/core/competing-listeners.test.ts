// The application's own listeners of a signal graceful answers to run once graceful's shutdown is over, not at the
// signal (where they would close the server or exit mid-drain), and graceful gives them back when it lets go of the
// signal. Real signals sent to this process: SIGUSR2, which nothing else here listens to.
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { createTestGraceful } from '@graceful/core/testing'
import { recordingLogger } from '../helpers/index.js'

const SIGNAL = 'SIGUSR2'

function raise (): void {
  process.kill(process.pid, SIGNAL)
}

const kOwnHandler = Symbol.for('graceful.signal-handler')

/** Resolves once graceful's registry lets go of the signal: its shutdown, and what runs after it, are over. */
function untilReleased (): Promise<void> {
  return new Promise(resolve => {
    const onRemove = (event: string | symbol, listener: Record<symbol, unknown>): void => {
      if (event !== SIGNAL || listener[kOwnHandler] !== true) return
      process.off('removeListener', onRemove)
      resolve()
    }
    process.on('removeListener', onRemove)
  })
}

// The application's listeners stay after a shutdown, as they would without graceful: each test takes its own away.
afterEach(() => {
  for (const listener of process.rawListeners(SIGNAL)) {
    if ((listener as unknown as Record<symbol, unknown>)[kOwnHandler] !== true) process.removeListener(SIGNAL, listener as () => void)
  }
})

describe("the application's own listener of a signal graceful answers to", () => {
  it('runs once the shutdown is over, with the signal\'s arguments, and not at the signal', async () => {
    const g = createTestGraceful({ signals: [SIGNAL] })
    const order: string[] = []
    g.on('phase', ({ phase }) => { order.push(phase) })
    const heard = new Promise<unknown[]>(resolve => {
      process.on(SIGNAL, (...args: unknown[]) => {
        order.push('listener')
        resolve(args)
      })
    })
    const released = untilReleased()
    raise()
    expect((await heard)[0]).toBe(SIGNAL)
    await released
    expect(order).toEqual(['stopping', 'draining', 'cleanup', 'stopped', 'listener'])
  })

  it('is what process.listeners() shows, and removeListener() with it takes it away', async () => {
    const g = createTestGraceful({ signals: [SIGNAL] })
    const listener = (): void => { throw new Error('removed, it must not run') }
    process.on(SIGNAL, listener)
    await new Promise(resolve => { queueMicrotask(() => { resolve(undefined) }) })
    expect(process.listeners(SIGNAL)).toContain(listener)
    process.removeListener(SIGNAL, listener)
    expect(process.listeners(SIGNAL)).not.toContain(listener)
    const released = untilReleased()
    raise()
    await released
    expect(g.state).toBe('stopped')
  })

  it('is given back when the instance lets go of the signal: it hears the next one at once', async () => {
    const g = createTestGraceful({ signals: [SIGNAL] })
    const listener = (): void => {}
    process.once(SIGNAL, listener)
    await new Promise(resolve => { queueMicrotask(() => { resolve(undefined) }) })
    expect(process.rawListeners(SIGNAL)).not.toContain(listener)
    g.dispose()
    const heard = once(process, SIGNAL)
    raise()
    await heard
    expect(process.listeners(SIGNAL)).toEqual([])
  })

  it('is named in an error line when it is still running after hookTimeout, or throws; the process goes on', async () => {
    const { logger, lines } = recordingLogger()
    let named: (line: string) => void = () => {}
    const line = new Promise<string>(resolve => { named = resolve })
    const g = createTestGraceful({
      signals: [SIGNAL],
      hookTimeout: 200,
      logger: { ...logger, error: (obj: object, msg?: string) => { logger.error(obj, msg); if (msg?.includes('ran after the shutdown') === true) named(msg) } }
    })
    // A listener whose promise never settles: Node ignores what a listener returns, graceful waits for it, bounded.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    process.once(SIGNAL, () => new Promise(() => {}))
    process.once(SIGNAL, () => { throw new Error('listener broke') })
    const released = untilReleased()
    raise()
    await released
    expect(await line).toMatch(/2 listeners ran after the shutdown, still running after 200 ms, failed: listener broke/)
    expect(lines.at(-1)!.obj['deferredListeners']).toMatchObject({ signal: SIGNAL, listeners: 2, timedOut: true, errors: ['listener broke'] })
    expect(g.state).toBe('stopped')
  })
})

// An example app in a child process, read line by line: the app's JSON lines on stdout, graceful's (the fallback
// logger's JSON lines) on stderr. Every child is killed by its PID after each test, even one that failed half-way.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'
import type { ShutdownReport } from '@graceful/core'
import { childEnv } from './index.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const running = new Set<ChildProcess>()
afterEach(() => {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
})

export interface Line {
  msg?: string
  id?: string
  /** Which stream it came on: the app's stdout or graceful's stderr. */
  stream: 'stdout' | 'stderr'
  [key: string]: unknown
}

export class ExampleProcess {
  readonly child: ChildProcess
  readonly lines: Line[] = []
  /** Resolves with the exit code and signal once the child has exited and every line it wrote has been read. */
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  #waiters: Array<{ match: (line: Line) => boolean, resolve: (line: Line) => void }> = []

  constructor (script: string, env: Record<string, string> = {}, { stdin = false }: { stdin?: boolean } = {}) {
    this.child = spawn(process.execPath, [script], { cwd: root, env: childEnv(env), stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
    running.add(this.child)
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: this.child[stream]! }).on('line', text => { this.#read(stream, text) })
    }
    const exit = once(this.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    this.exited = once(this.child, 'close').then(async () => {
      running.delete(this.child)
      const [code, signal] = await exit
      return { code, signal }
    })
  }

  /** The first line `match` accepts, already read or still to come; rejects if the child exits without one. */
  until (match: (line: Line) => boolean, what = 'the line awaited'): Promise<Line> {
    const found = this.lines.find(match)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      this.#waiters.push({ match, resolve })
      void this.exited.then(() => { reject(new Error(`exited before ${what}:\n${this.lines.map(line => JSON.stringify(line)).join('\n')}`)) })
    })
  }

  /** The report graceful logged (`graceful: shutdown complete`). */
  get report (): ShutdownReport | undefined {
    return this.lines.find(line => line.msg === 'graceful: shutdown complete') as unknown as ShutdownReport | undefined
  }

  #read (stream: 'stdout' | 'stderr', text: string): void {
    let line: Line
    try {
      line = { ...JSON.parse(text) as Record<string, unknown>, stream }
    } catch {
      line = { text, stream }
    }
    this.lines.push(line)
    for (const waiter of this.#waiters.filter(entry => entry.match(line))) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
      waiter.resolve(line)
    }
  }
}

/** Graceful's own line that says the shutdown has begun: work sources stopped at the signal have been told by then. */
export const shutdownStarted = (line: Line): boolean => line.msg === 'graceful: shutdown started'

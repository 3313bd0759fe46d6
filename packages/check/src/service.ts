import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { createInterface } from 'node:readline'
import { RawConnection } from './connection.js'
import { CheckError } from './errors.js'
import type { Settings } from './options.js'
import { processAlive } from './recorder.js'

/** What starting the service needs of the settings; the port and the pid may differ per instance. */
export type ServiceOptions = Pick<Settings, 'command' | 'cwd' | 'env' | 'host' | 'port' | 'pid' | 'ready' | 'startTimeout' | 'acceptedFromOutput' | 'onOutput'>

export interface Exit {
  code: number | null
  signal: string | null
}

/** The service under test: started here, or one already running. */
export interface Service {
  readonly host: string
  readonly port: number
  readonly pid: number | undefined
  /** Resolves when the process exits. */
  readonly exited: Promise<Exit>
  readonly accepted: Set<number>
  /** The last lines it wrote. */
  readonly output: string[]
  /** Resolves when its output has been read to the end (after the exit: the lines still in the pipe). */
  readonly outputDone: Promise<void>
  signal: (signal: NodeJS.Signals) => void
  /** Whether a process of the group started here is still running (a service a shell left behind). */
  groupAlive: () => boolean
  /** Kills every process started here, by the group's id. */
  kill: () => void
}

const ACCEPTED = /graceful-check accepted (\d+)/

export async function freePort (host: string): Promise<number> {
  const [port] = await freePorts(host, 1)
  return port!
}

/**
 * `count` ports free on `host`, all different: each is held by a listener until every one is chosen. Chosen one after
 * the other instead, the kernel may hand out a port it has just handed out (it is free again), and two instances
 * given the same port make one fail to listen while a health check reaches the other in its name. Drawn at random
 * below the kernel's ephemeral range where there is room (see `belowEphemeral`), else from the kernel.
 */
export async function freePorts (host: string, count: number): Promise<number[]> {
  const range = belowEphemeral()
  const servers: Server[] = []
  try {
    for (let attempt = 0; range !== undefined && servers.length < count && attempt < count * 20; attempt++) {
      const server = await listenOn(host, range.low + Math.floor(Math.random() * (range.high - range.low + 1)))
      if (server !== undefined) servers.push(server)
    }
    while (servers.length < count) {
      const server = await listenOn(host, 0)
      if (server === undefined) throw new CheckError('CHECK_ERR_USAGE', `no port free on ${host}`)
      servers.push(server)
    }
    return servers.map(server => (server.address() as AddressInfo).port)
  } finally {
    await Promise.all(servers.map(async server => {
      server.close()
      await once(server, 'close')
    }))
  }
}

/** A listener on `port` (0: any), or undefined when the port is taken (or not ours to take). */
async function listenOn (host: string, port: number): Promise<Server | undefined> {
  const server = createServer()
  return await new Promise(resolve => {
    server.once('error', () => { resolve(undefined) })
    server.listen(port, host, () => { resolve(server) })
  })
}

/**
 * The ports to choose a service's port from: below the kernel's ephemeral range (Linux:
 * /proc/sys/net/ipv4/ip_local_port_range). Every outgoing connection on the machine takes its local port from that
 * range, so a port chosen in it and released is free only until some connect() takes it, and the service started on
 * it a moment later fails to listen (EADDRINUSE: one run in CI met it). Below the range only a listener asking for
 * that very port can take it. Undefined where the range cannot be read or leaves too little room below it.
 */
function belowEphemeral (): { low: number, high: number } | undefined {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low - FIRST_CHOSEN_PORT >= 1_000 ? { low: FIRST_CHOSEN_PORT, high: low - 1 } : undefined
  } catch {
    return undefined
  }
}

/** Above the ports that well-known services listen on. */
const FIRST_CHOSEN_PORT = 10_000

/** One GET on a fresh connection: its status, or undefined when nothing answered. */
async function get (host: string, port: number, path: string): Promise<number | undefined> {
  const connection = new RawConnection(host, port)
  try {
    if (!await connection.opened()) return undefined
    const timer = setTimeout(() => { connection.destroy() }, 2_000)
    const [exchange] = await connection.exchange([`GET ${path} HTTP/1.1\r\nhost: ${host}\r\nuser-agent: graceful-check\r\nconnection: close\r\n\r\n`], 1)
    clearTimeout(timer)
    return exchange!.answered ? exchange!.status : undefined
  } finally {
    connection.destroy()
  }
}

export async function startService (options: ServiceOptions): Promise<Service> {
  const output: string[] = []
  const accepted = new Set<number>()
  const onLine = (stream: 'stdout' | 'stderr') => (line: string): void => {
    output.push(line)
    if (output.length > 40) output.shift()
    if (options.acceptedFromOutput) {
      const match = ACCEPTED.exec(line)
      if (match !== null) accepted.add(Number(match[1]))
    }
    options.onOutput?.(line, stream)
  }
  let child: ChildProcess | undefined
  let port = options.port
  let exited: Promise<Exit>
  let outputDone: Promise<void> = Promise.resolve()
  if (options.command !== undefined) {
    port ??= await freePort(options.host)
    const [file, ...args] = options.command.map(part => part.replaceAll('{port}', String(port)))
    // A group of its own: a shell or npm between here and the service may leave the service running when it exits,
    // and the group is how every process started here is found and ended.
    child = spawn(file!, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32'
    })
    const spawned = child
    const readers = [createInterface({ input: spawned.stdout! }), createInterface({ input: spawned.stderr! })]
    readers[0]!.on('line', onLine('stdout'))
    readers[1]!.on('line', onLine('stderr'))
    outputDone = Promise.all(readers.map(async reader => { await once(reader, 'close') })).then(() => {})
    exited = new Promise(resolve => {
      spawned.once('exit', (code, signal) => { resolve({ code, signal }) })
      spawned.once('error', () => { resolve({ code: null, signal: null }) })
    })
    await new Promise((resolve, reject) => {
      spawned.once('spawn', resolve)
      spawned.once('error', (err) => {
        reject(new CheckError('CHECK_ERR_COMMAND_NOT_FOUND', `the command could not be started: ${options.command!.join(' ')}: ${err.message}`))
      })
    })
  } else {
    if (port === undefined) throw new CheckError('CHECK_ERR_USAGE', 'a port is needed with --url')
    const pid = options.pid
    // Not a child of this process: nothing tells when it exits, so its liveness is read every 20 ms.
    exited = pid === undefined
      ? new Promise(() => {})
      : new Promise(resolve => {
        const timer = setInterval(() => {
          if (!processAlive(pid)) {
            clearInterval(timer)
            resolve({ code: null, signal: null })
          }
        }, 20)
      })
  }
  const pid = child?.pid ?? options.pid
  const group = child?.pid
  const service: Service = {
    host: options.host,
    port,
    pid,
    exited,
    accepted,
    output,
    outputDone,
    signal: (signal) => {
      if (pid !== undefined) {
        try {
          process.kill(pid, signal)
        } catch {
          // gone already: its exit says so
        }
      }
    },
    groupAlive: () => {
      if (group === undefined || process.platform === 'win32') return false
      try {
        process.kill(-group, 0)
        return true
      } catch {
        return false
      }
    },
    kill: () => {
      if (group === undefined) return
      try {
        if (process.platform === 'win32') child!.kill('SIGKILL')
        else process.kill(-group, 'SIGKILL')
      } catch {
        // every process of the group is gone
      }
    }
  }
  await waitReady(service, options)
  return service
}

/** Probes until the readiness path answers 2xx: a start-up has no event to wait for from outside. */
async function waitReady (service: Service, options: ServiceOptions): Promise<void> {
  let gone: Exit | undefined
  void service.exited.then(exit => { gone = exit })
  const deadline = performance.now() + options.startTimeout
  let last = 'nothing answered'
  for (;;) {
    if (gone !== undefined) {
      service.kill()
      const how = gone.code !== null ? `with code ${gone.code}` : gone.signal !== null ? `on ${gone.signal}` : ''
      throw new CheckError('CHECK_ERR_COMMAND_EXITED', `the command exited ${how} before it was ready on ${service.host}:${service.port}${options.ready}` +
        (service.output.length > 0 ? `; its last lines:\n${service.output.slice(-10).join('\n')}` : ' and wrote nothing'))
    }
    const status = await get(service.host, service.port, options.ready)
    if (status !== undefined && status >= 200 && status <= 299) return
    if (status !== undefined) last = `the last answer was ${status}`
    if (performance.now() > deadline) {
      service.kill()
      throw new CheckError('CHECK_ERR_NOT_READY', `the service was not ready within ${options.startTimeout} ms: GET ${options.ready} on ${service.host}:${service.port} never answered 2xx (${last})` +
        (service.output.length > 0 ? `; its last lines:\n${service.output.slice(-10).join('\n')}` : ''))
    }
    await Promise.race([new Promise(resolve => setTimeout(resolve, 50)), service.exited])
  }
}

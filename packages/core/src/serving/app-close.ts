// The application's own close joined to the shutdown (`server.close()` of an attached server, `fastify.close()`): left
// alone it would close the listener while balancers still route here; joined, it settles once the shutdown is over.
import type { Server as NetServer } from 'node:net'
import type { Phase } from '../report/report.js'

export interface AppCloseHost {
  readonly state: Phase
  /** Starts a shutdown for the application's own close: one that leaves the process alone at the end. */
  shutdownFromApp: (reason: string) => unknown
}

type CloseCallback = (err?: Error) => void

export class AppCloses {
  readonly #host: AppCloseHost
  readonly #patched = new Map<NetServer, NetServer['close'] | undefined>()
  #waiting: CloseCallback[] = []

  constructor (host: AppCloseHost) {
    this.#host = host
  }

  // The application's `server.close()` joins a shutdown under way; outside one it is the server's own close (supertest
  // closes the servers it listens; the service stops by a signal or `shutdown()`).
  install (server: NetServer): void {
    if (this.#patched.has(server)) return
    // Read, not called: each is applied with the server as `this`.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const original = server.close
    this.#patched.set(server, Object.hasOwn(server, 'close') ? original : undefined)
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const closes = this
    server.close = function (this: NetServer, callback?: CloseCallback) {
      if (!closes.#joins('server.close()', this)) {
        // eslint-disable-next-line prefer-rest-params
        return Reflect.apply(original, this, arguments) as NetServer
      }
      if (typeof callback === 'function') closes.#wait(callback)
      return this
    }
  }

  uninstall (): void {
    for (const [server, own] of this.#patched) {
      if (own === undefined) Reflect.deleteProperty(server, 'close')
      else server.close = own
    }
    this.#patched.clear()
  }

  // A framework's close called by the application (an adapter's entry); undefined once the drain is over.
  join (reason: string): Promise<void> | undefined {
    if (!this.#joins(reason, undefined)) return undefined
    return new Promise<void>(resolve => { this.#wait(() => { resolve() }) })
  }

  settle (): void {
    const waiting = this.#waiting
    this.#waiting = []
    for (const callback of waiting) callback()
  }

  #joins (reason: string, server: NetServer | undefined): boolean {
    const state = this.#host.state
    if (state === 'running') {
      if (server !== undefined) return false
      this.#host.shutdownFromApp(reason)
      return true
    }
    if (state === 'stopping' || state === 'draining') return true
    // The drain is over: a framework closes as it would, and a server graceful closed is closed, neither an error nor
    // a wait (Fastify closes its server in an onClose hook, during graceful's own close step).
    return server !== undefined && !server.listening
  }

  #wait (callback: CloseCallback): void {
    const state = this.#host.state
    if (state === 'cleanup' || state === 'stopped') process.nextTick(callback)
    else this.#waiting.push(callback)
  }
}

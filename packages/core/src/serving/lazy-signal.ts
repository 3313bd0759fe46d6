// An AbortSignal made when first read: a shutdown nobody listens to does not pay for an abort (docs/how-it-works.md).
import { setMaxListeners } from 'node:events'

export class LazySignal {
  #controller: AbortController | undefined
  #reason: Error | undefined

  get signal (): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      // One listener per stream, long poll or request is the intended use: no MaxListenersExceededWarning at the eleventh.
      setMaxListeners(0, this.#controller.signal)
      // Read for the first time after its moment: it is aborted already, with the same reason.
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  abort (reason: () => Error): void {
    if (this.#reason !== undefined) return
    this.#reason = reason()
    this.#controller?.abort(this.#reason)
  }
}

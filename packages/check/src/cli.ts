#!/usr/bin/env node
import { writeFileSync } from 'node:fs'
import { checkShutdown, version } from './check.js'
import { helpText, parseCommandLine, type CommandLine } from './command-line.js'
import { isCheckError } from './errors.js'
import { formatHtml } from './html.js'
import { formatJunit } from './junit.js'
import { liveView } from './live.js'
import { formatMarkdown, formatText } from './render.js'
import type { CheckOptions, CheckReport } from './types.js'

/** The files asked for besides the report on stdout; where each went, on stderr. */
function writeFiles (parsed: CommandLine, report: CheckReport): void {
  for (const [file, format, what] of [[parsed.html, formatHtml, 'the shutdown, drawn'], [parsed.junit, formatJunit, 'JUnit XML']] as const) {
    if (file === undefined) continue
    writeFileSync(file, format(report))
    if (!parsed.quiet) process.stderr.write(`graceful-check: ${what}: ${file}\n`)
  }
}

async function main (): Promise<number> {
  let parsed: CommandLine
  try {
    parsed = parseCommandLine(process.argv.slice(2))
  } catch (err) {
    if (!isCheckError(err)) throw err
    process.stderr.write(`graceful-check: ${err.message}\n(graceful-check --help lists every option)\n`)
    return 2
  }
  if (parsed.help) {
    process.stdout.write(helpText() + '\n')
    return 0
  }
  if (parsed.version) {
    process.stdout.write(version() + '\n')
    return 0
  }
  const color = process.env.NO_COLOR === undefined || process.env.NO_COLOR === ''
  const view = parsed.quiet ? undefined : liveView({ stream: process.stderr, color: color && process.stderr.isTTY, live: process.stderr.isTTY })
  const controller = new AbortController()
  let interrupted = false
  const onInterrupt = (): void => {
    if (interrupted) {
      // A second Ctrl-C leaves at once: the service was already being ended by the first.
      process.removeListener('SIGINT', onInterrupt)
      process.kill(process.pid, 'SIGINT')
      return
    }
    interrupted = true
    process.stderr.write('\ngraceful-check: interrupted, ending the service (Ctrl-C again to leave at once)\n')
    controller.abort()
  }
  process.on('SIGINT', onInterrupt)
  try {
    const options: CheckOptions = { ...parsed.check, abortSignal: controller.signal, ...(view === undefined ? {} : { onProgress: view.update }) }
    const report = await checkShutdown(options)
    view?.done()
    writeFiles(parsed, report)
    if (parsed.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n')
    else if (parsed.markdown) process.stdout.write(formatMarkdown(report))
    else process.stdout.write(formatText(report, { color: color && process.stdout.isTTY }))
    return report.ok ? 0 : 1
  } catch (err) {
    view?.done()
    if (!isCheckError(err)) throw err
    process.stderr.write(`graceful-check: ${err.message}\n`)
    return 2
  } finally {
    process.removeListener('SIGINT', onInterrupt)
  }
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`graceful-check: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 2
})

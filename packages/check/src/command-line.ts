import { parseArgs } from 'node:util'
import { parsePropagation } from './balancer.js'
import { CheckError } from './errors.js'
import { OPTION_ROWS, SECTIONS, type OptionRow } from './option-table.js'
import { closest, parseRequest, SIGNALS } from './options.js'
import type { CheckOptions } from './types.js'

/** What the command line asks for: the check's options, and what only the command line does with the report. */
export interface CommandLine {
  check: CheckOptions
  json: boolean
  markdown: boolean
  html: string | undefined
  junit: string | undefined
  quiet: boolean
  help: boolean
  version: boolean
}

function usage (message: string): CheckError {
  return new CheckError('CHECK_ERR_USAGE', message)
}

const flagged = OPTION_ROWS.filter((row): row is OptionRow & { flag: string } => row.flag !== undefined)

/** `-p, --port <n>`, as the help and the docs write a row. */
function spelling (row: OptionRow): string {
  if (row.display !== undefined) return row.display
  return `${row.short === undefined ? '' : `-${row.short}, `}--${row.flag!}${row.value === undefined ? '' : ` ${row.value}`}`
}

/** A value read by its row's kind; throws the one line that says what was expected. */
function read (row: OptionRow & { flag: string }, text: string): unknown {
  const flag = `--${row.flag}`
  switch (row.kind) {
    case 'whole': {
      const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
      if (Number.isNaN(value)) throw usage(`${flag} takes a whole number; got "${text}"`)
      if (value < (row.min ?? 0) || value > (row.max ?? Number.MAX_SAFE_INTEGER)) throw usage(`${flag} takes a whole number from ${row.min ?? 0} to ${row.max ?? Number.MAX_SAFE_INTEGER}; got ${text}`)
      return value
    }
    case 'request': return parseRequest(text)
    case 'path':
      if (!text.startsWith('/')) throw usage(`${flag} takes a path from /, like /healthz; got "${text}"`)
      return text
    case 'signal': {
      const signal = text.toUpperCase().replace(/^(?!SIG)/, 'SIG')
      if (!SIGNALS.has(signal)) {
        const near = closest(signal, SIGNALS)
        throw usage(`${flag} takes one of ${[...SIGNALS].join(', ')}; got "${text}"${near === undefined ? '' : `: did you mean "${near}"?`}`)
      }
      return signal
    }
    case 'choice': {
      if (row.choices!.includes(text)) return text
      const near = closest(text, row.choices!)
      throw usage(`${flag} takes ${row.choices!.map(choice => `"${choice}"`).join(', ')}; got "${text}"${near === undefined ? '' : `: did you mean "${near}"?`}`)
    }
    case 'range': return parsePropagation(text)
    default: return text
  }
}

/** Sets `key` (`load.keepAlive` in `load`) on the check's options. */
function assign (check: CheckOptions, key: string, value: unknown): void {
  if (key.startsWith('load.')) (check.load as Record<string, unknown>)[key.slice('load.'.length)] = value
  else (check as Record<string, unknown>)[key] = value
}

/**
 * The options for checkShutdown() from the command line, read by the option table: Node's parseArgs splits the
 * arguments into tokens, and each token is judged by its row. Throws a CheckError that says what was expected.
 */
export function parseCommandLine (argv: string[]): CommandLine {
  const separator = argv.indexOf('--')
  const own = separator === -1 ? argv : argv.slice(0, separator)
  const command = separator === -1 ? undefined : argv.slice(separator + 1)
  const config = Object.fromEntries(flagged.map(row => [row.flag, {
    type: row.kind === 'switch' ? 'boolean' as const : 'string' as const,
    ...(row.short === undefined ? {} : { short: row.short }),
    ...(row.multiple === true ? { multiple: true } : {})
  }]))
  const { tokens } = parseArgs({ args: own, options: config, strict: false, allowPositionals: true, tokens: true })
  const check: CheckOptions = { load: {} }
  const given = new Map<string, unknown>()
  for (const token of tokens) {
    if (token.kind === 'positional') throw usage(`unexpected "${token.value}": put the service's command after --, like graceful-check -- node server.js`)
    if (token.kind !== 'option') continue
    const row = flagged.find(candidate => candidate.flag === token.name)
    if (row === undefined) {
      const near = closest(token.name, flagged.map(candidate => candidate.flag))
      throw usage(`unknown option ${token.rawName}${near === undefined ? '' : `: did you mean --${near}?`}`)
    }
    let value: unknown = true
    if (row.kind === 'switch') {
      if (token.value !== undefined) throw usage(`--${row.flag} takes no value; got "${token.value}"`)
    } else {
      // parseArgs, not strict, takes the next argument as the value even when it is the next option.
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) throw usage(`--${row.flag} needs a value: ${spelling(row)}`)
      value = read(row, token.value)
    }
    if (row.multiple === true) given.set(row.flag, [...(given.get(row.flag) as unknown[] | undefined) ?? [], value])
    else given.set(row.flag, value)
  }
  const output = (flag: string): unknown => given.get(flag)
  for (const row of flagged) {
    if (row.key === undefined || !given.has(row.flag)) continue
    assign(check, row.key, given.get(row.flag))
  }
  if (command !== undefined && command.length === 0) throw usage('nothing after --: give the command that starts the service, like -- node server.js')
  if (command !== undefined) check.command = command
  const help = output('help') === true
  const version = output('version') === true
  if (!help && !version && command === undefined && check.url === undefined) {
    throw usage('give the command that starts the service after --, like graceful-check -- node server.js (or --url for one already running)')
  }
  if (output('json') === true && output('markdown') === true) throw usage('--json and --markdown both print the report: choose one')
  if (check.pid !== undefined && check.url === undefined) throw usage('--pid goes with --url: graceful-check signals a process it did not start only when told where it listens')
  return {
    check,
    json: output('json') === true,
    markdown: output('markdown') === true,
    html: output('html') as string | undefined,
    junit: output('junit') as string | undefined,
    quiet: output('quiet') === true,
    help,
    version
  }
}

/** The default as a person reads it: no Markdown, nothing for a default that says nothing. */
function shownDefault (row: OptionRow): string {
  const text = row.shown.replace(/`/g, '')
  return row.kind === 'switch' || text === '' || text === '—' ? '' : ` (default ${text})`
}

/** `graceful-check --help`, from the option table. */
export function helpText (): string {
  const lines = [
    'graceful-check: starts a service, loads it through a simulated balancer, sends it SIGTERM and names every lost request with its cause and its fix.',
    '',
    'usage: graceful-check [options] -- <command…>',
    '       graceful-check [options] --url http://127.0.0.1:3000 [--pid <pid>]'
  ]
  for (const section of SECTIONS) {
    lines.push('', section)
    for (const row of OPTION_ROWS.filter(candidate => candidate.section === section && (candidate.flag !== undefined || candidate.display !== undefined))) {
      const left = `  ${row.short === undefined && row.display === undefined ? '    ' : ''}${spelling(row)}`
      lines.push(`${left.padEnd(28)}${left.length >= 28 ? ' ' : ''}${row.help}${shownDefault(row)}`)
    }
  }
  lines.push('', 'exit codes: 0 nothing lost, 1 something lost (or the service did not stop), 2 bad usage or a service that does not start.',
    'Progress goes to stderr, results to stdout; colour only on a terminal, never with NO_COLOR.')
  return lines.join('\n')
}

/** The options table of docs/check.md, from the option table (a test holds the docs to it). */
export function optionsMarkdown (): string {
  const code = (text: string): string => text === '' ? '' : `\`${text}\``
  const lines = ['| command line | `checkShutdown()` | default | meaning |', '|---|---|---|---|']
  for (const row of OPTION_ROWS) {
    const line = row.flag === undefined && row.display === undefined ? '' : `${code(spelling(row))}${row.multiple === true ? ' (repeatable)' : ''}`
    const keys = [row.key, ...(row.alsoKeys?.split(', ') ?? [])].filter((key): key is string => key !== undefined).map(code).join(', ')
    lines.push(`| ${line} | ${keys} | ${row.shown} | ${(row.docs ?? row.help).replace(/\|/g, '\\|')} |`)
  }
  return lines.join('\n')
}

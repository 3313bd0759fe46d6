// graceful-check on the command line, as a user or a CI job runs it, for the tests of test/check/check*.test.ts: each run a
// real child process that starts a real service, loads it over 127.0.0.1 and signals it.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'
import type { CheckReport } from '@graceful/check'

export const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = fileURLToPath(new URL('../../packages/check/dist/cli.js', import.meta.url))
const children = new Set<ReturnType<typeof spawn>>()
afterEach(() => {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
})

export interface Run { code: number | null, stdout: string, stderr: string }

/** graceful-check on the command line, as a user or a CI job runs it. */
export async function check (args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const [code] = await once(child, 'close') as [number | null]
  children.delete(child)
  return { code, stdout, stderr }
}

export async function checkJson (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, report: CheckReport, stderr: string }> {
  const run = await check(['--json', ...args], env)
  let report: CheckReport
  try {
    report = JSON.parse(run.stdout) as CheckReport
  } catch {
    throw new Error(`no JSON report (exit ${run.code}):\n${run.stdout}\n${run.stderr}`)
  }
  return { code: run.code, report, stderr: run.stderr }
}

/** The kinds of the lost requests, once each. */
export const lostKinds = (report: CheckReport): string[] => [...new Set(report.lost.map(failure => failure.kind))].sort()

// A few keywords of JSON Schema, enough for the report's schema: a test that the schema and the report agree.
export function validate (schema: Record<string, unknown>, value: unknown, path = '$'): string[] {
  const errors: string[] = []
  const type = schema.type as string | string[] | undefined
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type]
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number'))) return [`${path}: ${actual}, expected ${types.join(' or ')}`]
  }
  if ('const' in schema && value !== schema.const) errors.push(`${path}: ${String(value)}, expected ${String(schema.const)}`)
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: ${String(value)} not in ${schema.enum.join(', ')}`)
  if (Array.isArray(schema.oneOf)) {
    const matching = (schema.oneOf as Array<Record<string, unknown>>).filter(option => validate(option, value, path).length === 0)
    if (matching.length !== 1) errors.push(`${path}: matches ${matching.length} of oneOf`)
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>
    for (const key of (schema.required as string[] | undefined) ?? []) if (!(key in record)) errors.push(`${path}.${key}: missing`)
    const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>
    for (const [key, item] of Object.entries(record)) {
      if (properties[key] !== undefined) errors.push(...validate(properties[key], item, `${path}.${key}`))
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties as Record<string, unknown>, item, `${path}.${key}`))
      else if (schema.properties !== undefined) errors.push(`${path}.${key}: not in the schema`)
    }
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, index) => errors.push(...validate(schema.items as Record<string, unknown>, item, `${path}[${index}]`)))
  }
  return errors
}


// The flake hunt: the whole suite, several times, with both cores kept busy by a background load, as a starved CI
// runner would be. Every failure is printed with how often it happened; a flaky test is fixed at its cause.
//
//   pnpm test:stress                      3 runs, 2 busy loops (one per core on this 2-core machine)
//   pnpm test:stress --runs 5 --load 4    more of both
//   node test/stress.mjs --runs 2 -- test/core/drain.test.ts test/core/contract.test.ts   only these files
//
// The busy loops are child processes of this script, bounded in time on their own, and ended by their PID when the
// runs are over (or when this script is interrupted). Vitest writes one JSON report per run under a temporary folder.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values, positionals } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    load: { type: 'string', default: String(availableParallelism()) },
    help: { type: 'boolean', default: false }
  },
  allowPositionals: true
})
if (values.help) {
  console.log('usage: node test/stress.mjs [--runs N] [--load N] [-- test files…]')
  process.exit(0)
}
const runs = Number(values.runs)
const load = Number(values.load)
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(load) || load < 0) {
  console.error('--runs must be a whole number from 1 and --load a whole number from 0')
  process.exit(2)
}

// Each busy loop ends itself after two hours even if this script is killed without a chance to end it.
const BUSY = 'const end = Date.now() + 2 * 60 * 60 * 1000; while (Date.now() < end) {}'
const burners = Array.from({ length: load }, () => spawn(process.execPath, ['-e', BUSY], { stdio: 'ignore' }))
const stopBurners = () => { for (const burner of burners) if (burner.exitCode === null) process.kill(burner.pid, 'SIGKILL') }
process.on('exit', stopBurners)
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { stopBurners(); process.exit(130) })
console.error(`stress: ${runs} run(s) of the suite with ${load} busy loop(s) (PIDs ${burners.map(b => b.pid).join(', ') || 'none'})`)

const folder = mkdtempSync(join(tmpdir(), 'graceful-stress-'))
const failures = new Map()
let total = 0
let failed = 0
try {
  for (let run = 1; run <= runs; run++) {
    const report = join(folder, `run-${run}.json`)
    const started = Date.now()
    const child = spawn(join(root, 'node_modules/.bin/vitest'), ['run', '--reporter=dot', '--reporter=json', `--outputFile.json=${report}`, ...positionals],
      { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
    const [code] = await once(child, 'exit')
    let results
    try {
      results = JSON.parse(readFileSync(report, 'utf8'))
    } catch {
      console.error(`stress: run ${run} produced no report (vitest exited ${code})`)
      failed++
      continue
    }
    total += results.numTotalTests
    failed += results.numFailedTests
    for (const file of results.testResults) {
      for (const test of file.assertionResults) {
        if (test.status !== 'failed') continue
        const name = `${file.name.replace(root, '')} > ${test.fullName}`
        const entry = failures.get(name) ?? { count: 0, message: test.failureMessages[0]?.split('\n')[0] ?? '' }
        entry.count++
        failures.set(name, entry)
      }
    }
    console.error(`stress: run ${run}: ${results.numPassedTests} passed, ${results.numFailedTests} failed in ${Math.round((Date.now() - started) / 1000)} s`)
  }
} finally {
  stopBurners()
  rmSync(folder, { recursive: true, force: true })
}

console.log(`\n${runs} run(s), ${load} busy loop(s): ${total - failed} passed, ${failed} failed`)
for (const [name, { count, message }] of [...failures].sort((a, b) => b[1].count - a[1].count)) {
  console.log(`  ${count}/${runs}  ${name}\n         ${message}`)
}
process.exit(failed === 0 ? 0 : 1)

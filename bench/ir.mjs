// Instructions per request under valgrind (callgrind counts instructions, not time: repeatable where throughput
// is noise). Per request = (total at N2 − total at N1) / (N2 − N1), so start-up and shutdown cancel out. N1 is 10 000:
// below a few thousand requests the JIT is still compiling, and a variant that loads more code looked 9 % dearer.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'

async function total (variant, amount, path, env, node) {
  const child = spawn('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', node, '--single-threaded', '--predictable',
    new URL('./server.mjs', import.meta.url).pathname], { env: { ...process.env, ...env, BENCH_VARIANT: variant }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', chunk => { stderr += chunk })
  const port = await new Promise(resolve => createInterface({ input: child.stdout }).on('line', line => {
    try { const event = JSON.parse(line); if (event.event === 'ready') resolve(event.port) } catch { // not a JSON line: valgrind's or the app's own output
    }
  }))
  await autocannon({ url: `http://127.0.0.1:${port}${path}`, connections: 1, amount })
  child.kill('SIGTERM')
  await once(child, 'exit')
  return Number(/I\s+refs:\s+([\d,]+)/.exec(stderr)[1].replaceAll(',', ''))
}

/**
 * `service`: the server starts as a service would (see BENCH_SERVICE_STARTUP in server.mjs). `node`: the Node binary
 * that runs the server (another line than this one's).
 */
export async function instructionsPerRequest (variant, { path = '/', low = 10_000, high = 30_000, service = false, node = process.execPath } = {}) {
  const env = service ? { BENCH_SERVICE_STARTUP: '1' } : {}
  // Both runs at once: instruction counts do not depend on what else the machine is doing.
  const [a, b] = await Promise.all([total(variant, low, path, env, node), total(variant, high, path, env, node)])
  return (b - a) / (high - low)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // node bench/ir.mjs [--service] variant…
  const service = process.argv.includes('--service')
  for (const variant of process.argv.slice(2).filter(arg => arg !== '--service')) {
    console.log(variant, Math.round(await instructionsPerRequest(variant, { service })))
  }
}

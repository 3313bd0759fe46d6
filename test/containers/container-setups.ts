// The container set-ups docs/docker.md describes, with what its table says of each: test/containers/container.test.ts runs them
// in podman and asserts these, and test/docs/docs.test.ts checks that the table says the same.

/** How they are run: `podman stop -t STOP_TIMEOUT`, CLIENTS keep-alive clients with REQUEST_MS requests, a lame duck. */
export const STOP_TIMEOUT = 6
export const CLIENTS = 8
export const REQUEST_MS = 150
export const PRE_STOP_DELAY = 500

/** The documented image, and the broken set-ups: its last lines changed, as a Dockerfile would change them. */
export interface SetUp {
  name: string
  lines: string[]
  exitCode: number
  /** Whether graceful drained: its `shutdown complete` line, and no request lost. */
  drains: boolean
  /** The stop waited for its timeout, then SIGKILL. */
  killedAtTimeout: boolean
  warnings: string[]
}

export const setUps: SetUp[] = [
  { name: 'the documented Dockerfile: tini, then node in exec form', lines: [], exitCode: 0, drains: true, killedAtTimeout: false, warnings: [] },
  {
    // graceful's own handler still starts the drain: the only loss is the kernel's default actions (and reaping).
    name: 'node as PID 1, no init',
    lines: ['ENTRYPOINT []', 'CMD ["node", "server.mjs"]'],
    exitCode: 0, drains: true, killedAtTimeout: false, warnings: ['pid1']
  },
  {
    // A stop signal nothing handles: PID 1 has no default action, so it does nothing at all.
    name: 'node as PID 1 with no handler for the stop signal (STOPSIGNAL SIGQUIT)',
    lines: ['ENTRYPOINT []', 'CMD ["node", "server.mjs"]', 'STOPSIGNAL SIGQUIT'],
    exitCode: 137, drains: false, killedAtTimeout: true, warnings: ['pid1']
  },
  {
    // npm forwards SIGTERM to the shell it runs the script with; that shell dies, npm exits 1, node is killed with it.
    name: 'npm start in exec form',
    lines: ['ENTRYPOINT []', 'CMD ["npm", "start"]'],
    exitCode: 1, drains: false, killedAtTimeout: false, warnings: ['run-script']
  },
  {
    // tini forwards SIGTERM to the shell, which dies of it; tini exits with it and node is killed.
    name: 'a shell-form CMD behind tini',
    lines: ['CMD node server.mjs'],
    exitCode: 143, drains: false, killedAtTimeout: false, warnings: ['shell-parent']
  },
  {
    // Debian's dash does not replace itself with its last command: sh stays PID 1 and ignores SIGTERM.
    name: 'a shell-form CMD without an init (dash as PID 1)',
    lines: ['ENTRYPOINT []', 'CMD node server.mjs'],
    exitCode: 137, drains: false, killedAtTimeout: true, warnings: ['shell-parent']
  }
]

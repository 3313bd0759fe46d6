// The one place graceful looks at its parent process: a shell between the container's stop signal and node.
import { readFileSync } from 'node:fs'

/** What a shell-form CMD (`CMD node server.js`, `sh -c "…"`) puts above node, by its process name. */
const SHELLS = new Set(['sh', 'dash', 'bash', 'ash', 'zsh', 'ksh', 'mksh', 'busybox'])
const COMMAND_LENGTH = 120

export interface ShellParent {
  pid: number
  shell: string
  command: string
  /** `pid1`: the shell is PID 1 itself; `main`: it is the child of the container's init (tini, dumb-init, --init). */
  role: 'pid1' | 'main'
}

// Once per process: how node was started does not change, and /proc is not read again for each instance.
let found: { parent: ShellParent | undefined } | undefined

// A shell that gets the stop signal in node's place (PID 1, or PID 1's child in a container) and does not hand it on:
// node is killed, not drained. Linux only. Outside a container, PID 1's child is a service manager's or an orphan's.
export function shellParent (inContainer: () => boolean): ShellParent | undefined {
  found ??= { parent: readShellParent(inContainer) }
  return found.parent
}

function readShellParent (inContainer: () => boolean): ShellParent | undefined {
  if (process.platform !== 'linux') return undefined
  const pid = process.ppid
  // 0: node is PID 1, or its parent is outside its PID namespace (`docker exec`): no shell of the container's above it.
  if (pid < 1) return undefined
  try {
    const shell = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
    if (!SHELLS.has(shell)) return undefined
    const role = pid === 1 ? 'pid1' : parentOf(pid) === 1 && inContainer() ? 'main' : undefined
    if (role === undefined) return undefined
    return { pid, shell, command: commandOf(pid), role }
  } catch {
    // /proc hidden or the parent gone: nothing known, nothing said.
    return undefined
  }
}

/** The parent's PID from /proc/<pid>/stat: the fourth field, after the name in parentheses (which may hold spaces). */
function parentOf (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

function commandOf (pid: number): string {
  const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(part => part !== '').join(' ')
  return command.length > COMMAND_LENGTH ? `${command.slice(0, COMMAND_LENGTH - 1)}…` : command
}

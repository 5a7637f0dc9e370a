import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { canBind, processAlive } from '../helpers/kdc.js';

/**
 * Processes of the rig: started in the foreground as children of this process (so we know their
 * pids at once, see their stderr when they die early, and Node reaps them), each also writing a
 * pid file. Stopping goes by pid: the child's pid, the pid file's, and every descendant collected
 * just before the signal (helpers, winbindd's domain child, samba-dcerpcd's rpcd_* workers).
 *
 * PID 1 on these machines does not reap orphans: a daemon's helper that outlives its parent
 * lingers as a zombie, and `kill -0` still succeeds on it. A zombie counts as stopped.
 */

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; rejects with its stderr when it exits non-zero. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const what = `${cmd} ${args.join(' ')}`;
        reject(new Error(`${what} failed (${(err as NodeJS.ErrnoException).code ?? 'error'}): ${`${stderr}${stdout}`.trim() || err.message}`));
      } else resolve({ stdout, stderr });
    });
    // A program that exits without reading its stdin makes the write fail with EPIPE: not our error.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

/** Whether pid is gone or a zombie (the test of test/helpers/kdc.ts, shared). */
export function isStopped(pid: number): boolean {
  return !processAlive(pid);
}

/** Field 22 of /proc/PID/stat (start time): tells a process from a later one with the same pid. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Every live descendant of `roots` (children first found, then theirs), read from /proc. */
export function descendants(roots: number[]): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z' || rest[0] === 'X') continue;
      parentOf.set(Number(name), Number(rest[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const wanted = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parentOf) {
      if (wanted.has(ppid) && !wanted.has(pid)) {
        wanted.add(pid);
        found.push(pid);
        grew = true;
      }
    }
  }
  return found;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** A process of the rig: a child of ours and/or a pid file. */
export interface Tracked {
  name: string;
  pidFile: string;
  child?: ChildProcess;
  /** A pid read from pidFile counts only if its command line names this (the rig's dir), against pid reuse. */
  mark: string;
}

function rootPids(t: Tracked): number[] {
  const pids = new Set<number>();
  if (t.child?.pid !== undefined && t.child.exitCode === null && t.child.signalCode === null) pids.add(t.child.pid);
  try {
    const pid = Number(readFileSync(t.pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1 && cmdline(pid).includes(t.mark)) pids.add(pid);
  } catch {
    // no pid file (yet, or any more)
  }
  return [...pids].filter((p) => !isStopped(p));
}

async function waitStopped(pids: number[], ms: number): Promise<number[]> {
  const end = Date.now() + ms;
  let left = pids.filter((p) => !isStopped(p));
  while (left.length > 0 && Date.now() < end) {
    await sleep(20);
    left = left.filter((p) => !isStopped(p));
  }
  return left;
}

/**
 * Stops tracked processes together: SIGTERM to each root (a daemon shuts its own helpers down),
 * SIGKILL to roots still alive after `graceMs`, then SIGKILL to every descendant still alive.
 * Last, every live process whose command line names `mark` (the rig's dir) is stopped too: winbindd
 * starts samba-dcerpcd by itself, and may start a new one while it shuts down, after its pid file
 * was read (seen every time with a rig stopped right after it came up).
 */
export async function stopAll(tracked: Tracked[], graceMs = 3000, mark?: string): Promise<void> {
  const roots = tracked.flatMap(rootPids);
  const kids = descendants(roots);
  for (const p of roots) signal(p, 'SIGTERM');
  const stubborn = await waitStopped(roots, graceMs);
  for (const p of stubborn) signal(p, 'SIGKILL');
  await waitStopped(stubborn, 1000);
  // Helpers normally exit on EOF when their parent goes; give them a moment, then no mercy.
  const leftKids = await waitStopped([...kids, ...descendants(kids)], 300);
  for (const p of leftKids) signal(p, 'SIGKILL');
  await waitStopped(leftKids, 1000);
  if (mark === undefined) return;
  for (let round = 0; round < 3; round++) {
    const named = naming(mark);
    if (named.length === 0) return;
    const all = [...named, ...descendants(named)];
    for (const p of named) signal(p, 'SIGTERM');
    const left = await waitStopped(all, 1000);
    for (const p of left) signal(p, 'SIGKILL');
    await waitStopped(left, 1000);
  }
}

/** The synchronous last resort for process exit: SIGKILL to every tracked process tree and everything naming `mark`. */
export function killAllSync(tracked: Tracked[], mark?: string): void {
  const roots = tracked.flatMap(rootPids);
  for (const p of [...roots, ...descendants(roots)]) signal(p, 'SIGKILL');
  if (mark !== undefined) for (const p of naming(mark)) signal(p, 'SIGKILL');
}

/** Live processes (not this one) whose command line contains `mark`. */
export function naming(mark: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid || isStopped(pid)) continue;
    if (cmdline(pid).includes(mark)) out.push(pid);
  }
  return out;
}

/** Whether util-linux's setpriv can set a parent-death signal here (it can on Debian 12). */
const SETPRIV = spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;

export interface Launched {
  child: ChildProcess;
  /** What the process wrote to stdout and stderr so far. */
  output(): string;
  /** Whether it has exited (or could not be started). */
  exited(): boolean;
  /** Why it could not be started, if so. */
  spawnError(): Error | undefined;
}

/**
 * Starts a daemon in the foreground as our child. With setpriv the kernel kills it if this process
 * dies without stopping it (for daemons that keep running as root: a setuid clears the signal).
 * The child does not hold the event loop open.
 */
export function launch(cmd: string, args: string[], env: NodeJS.ProcessEnv): Launched {
  const [file, argv] = SETPRIV ? ['setpriv', ['--pdeathsig', 'KILL', cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err: Error | undefined;
  const collect = (d: Buffer): void => {
    if (out.length < 64 * 1024) out += d.toString();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.on('error', (e) => (err = e));
  child.unref();
  (child.stdout as unknown as { unref(): void }).unref();
  (child.stderr as unknown as { unref(): void }).unref();
  return {
    child,
    output: () => out,
    exited: () => err !== undefined || child.exitCode !== null || child.signalCode !== null,
    spawnError: () => err,
  };
}

/** Polls `ready` every 10 ms until it is true; false if `gaveUp` becomes true or `ms` pass first. */
export async function waitUntil(ready: () => boolean | Promise<boolean>, ms: number, gaveUp: () => boolean = () => false): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await ready()) return true;
    if (gaveUp() || Date.now() > end) return false;
    await sleep(10);
  }
}

/** The last `lines` lines of a file, or '' when it cannot be read. */
export async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

// --- ports -------------------------------------------------------------------------------------

const handedOut = new Set<number>();


/**
 * A port in 20000-29999 (below Linux's ephemeral range, so no outgoing connection takes it between
 * this check and the daemon's bind) that is free for TCP, and with `udp` also for UDP, on both
 * 127.0.0.1 and 0.0.0.0, and not handed out before by this process.
 */
export async function rigPort(opts: { udp?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    let free = (await canBind('tcp', '127.0.0.1', port)) && (await canBind('tcp', '0.0.0.0', port));
    if (free && opts.udp) free = (await canBind('udp', '127.0.0.1', port)) && (await canBind('udp', '0.0.0.0', port));
    if (free) return port;
  }
  throw new Error('no free port in 20000-29999 after 200 tries');
}

/** The TCP sockets of /proc/net/tcp with local port `port`, as state codes (01 ESTABLISHED, 0A LISTEN, ...). */
export async function tcpStates(port: number): Promise<string[]> {
  const text = await readFile('/proc/net/tcp', 'utf8');
  const hex = ':' + port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[1]?.endsWith(hex) && cols[3] !== undefined) out.push(cols[3]);
  }
  return out;
}

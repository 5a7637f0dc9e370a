import { isListening } from '../helpers/ports.js';
import { launch, rigPort, stopAll, tail, tcpStates, waitUntil, type Launched } from './procs.js';

/**
 * One proxy daemon of another brand (tinyproxy, Apache httpd, mitmproxy, cntlm), started in the
 * foreground as our child (procs.ts `launch`: killed by the kernel if this process dies) on a
 * random free port of 127.0.0.1, with its config and logs in the caller's temp dir. Never the
 * system service: each brand is run from its binary with a config file of its own.
 */
export interface Daemon {
  port: number;
  /** What the process wrote to stdout and stderr so far (mitmdump's flow log is there). */
  output(): string;
  /**
   * Waits (up to 1.5 s) until no client connection to the daemon is open: Apache writes a CONNECT's
   * access-log line, and mitmdump its flow lines, when the connection ends.
   */
  settled(): Promise<void>;
  /** SIGTERM, SIGKILL after 3 s; idempotent. */
  stop(): Promise<void>;
}

export interface DaemonSpec {
  name: string;
  cmd: string;
  /** The command line for a port; called again with a new port when the port was taken meanwhile. */
  args(port: number): Promise<string[]> | string[];
  env?: NodeJS.ProcessEnv;
  /** Where the daemon's own log is, for the error message when it does not start. */
  log?: string;
  /** How long it may take to LISTEN (mitmdump needs about 3 s on this machine). */
  startMs?: number;
}

export async function startDaemon(spec: DaemonSpec): Promise<Daemon> {
  let failure = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await rigPort();
    const p: Launched = launch(spec.cmd, await spec.args(port), spec.env ?? process.env);
    if (await waitUntil(() => isListening(port), spec.startMs ?? 5000, p.exited)) {
      let stopping: Promise<void> | undefined;
      return {
        port,
        output: p.output,
        settled: async () => {
          await waitUntil(async () => !(await tcpStates(port)).some((s) => s === '01' || s === '03' || s === '08'), 1500);
        },
        stop: () => (stopping ??= stopAll([{ name: spec.name, pidFile: '/nonexistent', child: p.child, mark: '\0' }], 3000)),
      };
    }
    p.child.kill('SIGKILL');
    failure = `${p.spawnError()?.message ?? ''}\n${p.output()}\n${spec.log ? await tail(spec.log) : ''}`.trim();
    if (!/in use|Cannot bind|could not bind|Errno 98/i.test(failure)) break;
  }
  throw new Error(`${spec.name} did not start: ${failure || `no LISTEN within ${spec.startMs ?? 5000} ms and nothing logged`}`);
}

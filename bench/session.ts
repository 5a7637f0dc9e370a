import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * One benchmark run's cleanup on every way out (normal end, error, Ctrl-C, SIGTERM, SIGHUP): the
 * client process being timed is killed, the servers stopped, the tmpfs work folder removed.
 * Shared by bench.ts and proxy.ts.
 */
export class BenchSession {
  /** The work folder on tmpfs, once made. */
  work: string | undefined;
  /** The client being timed, so a signal can stop it. */
  child: ChildProcess | undefined;
  /** When that client was spawned (ms since the epoch): logs' timestamps are read against it. */
  spawnedAt = 0;
  /** A signal arrived: the child we killed failing is not news, and nothing new starts. */
  interrupted = false;
  private cleaning: Promise<void> | undefined;

  constructor(
    private readonly name: string,
    /** Stops what the run started (nginx, the rig); called once. */
    private readonly stopServers: () => Promise<void>,
  ) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        this.interrupted = true;
        process.stderr.write(`\n${name}: ${sig}, cleaning up\n`);
        void this.cleanup().finally(() => process.exit(130));
      });
    }
    process.once('exit', () => {
      // Last resort if something exited without cleanup(): at least free the tmpfs.
      if (this.work) rmSync(this.work, { recursive: true, force: true });
    });
  }

  cleanup(): Promise<void> {
    return (this.cleaning ??= (async () => {
      const c = this.child;
      if (c && c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await new Promise((r) => c.once('close', r));
      }
      await this.stopServers().catch((e: unknown) => process.stderr.write(`${this.name}: stopping the servers failed: ${e instanceof Error ? e.message : String(e)}\n`));
      if (this.work) rmSync(this.work, { recursive: true, force: true });
    })());
  }
}

import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';
import { makeTempDir, removeDir } from './tempdir.js';

export interface DebuginfodServer {
  url: string;
  /** The server's verbose log: one line per request (`GET /buildid/... 200 BYTES`). */
  log: string;
  /** The request lines (`GET /buildid/HEX/debuginfo 404`) logged so far. */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
}

const SETPRIV = spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;

/**
 * elfutils' real `debuginfod` (Debian package debuginfod) indexing the ELF files of `dir`
 * (`-F`), with its database in its own temp folder. Ready once its first scan has finished.
 * (debuginfod 0.188 has no option to bind 127.0.0.1 only; the tests talk to it on 127.0.0.1.)
 */
export async function startDebuginfod(dir: string): Promise<DebuginfodServer> {
  const home = await makeTempDir('symsrv-debuginfod-');
  const port = await freePort();
  const log = join(home, 'debuginfod.log');
  const args = ['-F', dir, '-p', String(port), '-d', join(home, 'db.sqlite'), '-t', '0', '-g', '0', '-v'];
  const { openSync } = await import('node:fs');
  const out = openSync(log, 'a');
  const [cmd, argv] = SETPRIV ? ['setpriv', ['--pdeathsig', 'KILL', 'debuginfod', ...args]] : ['debuginfod', args];
  const child = spawn(cmd, argv, { stdio: ['ignore', out, out], env: { ...process.env, DEBUGINFOD_URLS: '' } });
  child.unref();
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    await removeDir(home);
  };
  for (let i = 0; i < 600; i++) {
    const text = await readFile(log, 'utf8').catch(() => '');
    // "fts traversed": the first scan of -F is done, so every file of `dir` is indexed.
    if (/fts traversed/.test(text) && /started http server on/.test(text)) {
      return {
        url: `http://127.0.0.1:${port}`,
        log,
        requests: async () => (await readFile(log, 'utf8')).split('\n').flatMap((l) => /(GET \/buildid\/\S+ \d{3})/.exec(l)?.[1] ?? []),
        stop,
      };
    }
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  const text = await readFile(log, 'utf8').catch(() => '');
  await stop();
  throw new Error(`debuginfod did not start: ${text.slice(-2000)}`);
}

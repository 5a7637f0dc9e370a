import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isListening } from '../helpers/ports.js';
import { makeTempDir, removeDir } from '../helpers/tempdir.js';
import { launch, rigPort, run, stopAll, tail, waitUntil, type Tracked } from './procs.js';

/**
 * SOCKS5 servers for the tests, each from its Debian package, on 127.0.0.1 at a random port with
 * its own config and temp dir, stopped by stop(): dante-server (`danted`, RFC 1929 username
 * method checked against the system's password database, so it needs root and a Unix user) and
 * microsocks (`-u`/`-P`). Both log one line per connection, which tests read to prove a request
 * went through the proxy (microsocks names the destination as the client sent it: a host name
 * for socks5h, an address for socks5).
 */
export interface SocksServer {
  /** `socks5://127.0.0.1:PORT`, without credentials (the tests give them the ways users do). */
  url: string;
  port: number;
  user: string;
  password: string;
  /** The server's own log file, where it has one (dante). */
  logFile?: string;
  /** Everything the server logged so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const DANTED = '/usr/sbin/danted';
const MICROSOCKS = '/usr/bin/microsocks';
/** The Unix user dante checks (created once, its password set at every start: both idempotent). */
export const DANTE_USER = 'symsrvsocks';
export const DANTE_PASSWORD = 'Socks5-rig@pass 1';

function daemonsMissing(programs: string[]): void {
  const missing = programs.filter((p) => !existsSync(p));
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: run test/rig/install.sh (as root)`);
}

/** dante, `socksmethod: username` only: a client without credentials is refused at method selection. */
export async function startDante(): Promise<SocksServer> {
  daemonsMissing([DANTED]);
  if (process.getuid?.() !== 0) throw new Error('startDante needs root (danted checks the system password database; useradd, chpasswd)');
  await ensureUser(DANTE_USER, DANTE_PASSWORD);
  const dir = await makeTempDir('symsrv-dante-');
  const logFile = join(dir, 'danted.log');
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await rigPort();
      await writeFile(join(dir, 'danted.conf'), danteConfig(logFile, port));
      await writeFile(logFile, '');
      const tracked: Tracked = { name: 'danted', pidFile: join(dir, 'danted.pid'), mark: dir, child: undefined };
      // -N 1: one process per kind of work is plenty for tests; -p: the pid file stop() checks too.
      const p = launch(DANTED, ['-f', join(dir, 'danted.conf'), '-p', tracked.pidFile, '-N', '1'], process.env);
      tracked.child = p.child;
      const up = await waitUntil(() => isListening(port), 10_000, p.exited);
      if (up) {
        return {
          url: `socks5://127.0.0.1:${port}`,
          port,
          user: DANTE_USER,
          password: DANTE_PASSWORD,
          logFile,
          log: () => readFile(logFile, 'utf8'),
          stop: async () => {
            await stopAll([tracked], 3000, dir);
            await removeDir(dir);
          },
        };
      }
      await stopAll([tracked], 1000, dir);
      const why = `${p.output()}\n${await tail(logFile)}`;
      if (!/in use/i.test(why)) throw new Error(`danted did not start: ${why.trim()}`);
    }
    throw new Error('danted did not start: no free port after 5 tries');
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

function danteConfig(logFile: string, port: number): string {
  return `# symsrv test: dante on 127.0.0.1:${port}, username/password (RFC 1929) against the system's passwords
logoutput: ${logFile}
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
clientmethod: none
socksmethod: username
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error connect disconnect
}
socks pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  command: connect
  log: error connect disconnect
}
`;
}

/** microsocks with a user and password (`-u`/`-P`): it logs each connection to stderr. */
export async function startMicrosocks(opts: { user?: string; password?: string } = {}): Promise<SocksServer> {
  daemonsMissing([MICROSOCKS]);
  const user = opts.user ?? 'bob';
  const password = opts.password ?? 'micro:socks pw';
  const dir = await makeTempDir('symsrv-microsocks-');
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await rigPort();
      // microsocks writes no pid file: the mark is the port in its command line.
      const tracked: Tracked = { name: 'microsocks', pidFile: join(dir, 'none.pid'), mark: `-p ${port} -u`, child: undefined };
      const p = launch(MICROSOCKS, ['-i', '127.0.0.1', '-p', String(port), '-u', user, '-P', password], process.env);
      tracked.child = p.child;
      if (await waitUntil(() => isListening(port), 10_000, p.exited)) {
        return {
          url: `socks5://127.0.0.1:${port}`,
          port,
          user,
          password,
          log: async () => p.output(),
          stop: async () => {
            await stopAll([tracked], 3000);
            await removeDir(dir);
          },
        };
      }
      await stopAll([tracked], 1000);
      if (!/in use/i.test(p.output())) throw new Error(`microsocks did not start: ${p.output().trim()}`);
    }
    throw new Error('microsocks did not start: no free port after 5 tries');
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

/** A system user (no home, no shell) with `password`, for dante's system password check. */
async function ensureUser(user: string, password: string): Promise<void> {
  const known = await run('getent', ['passwd', user]).then(
    () => true,
    () => false,
  );
  if (!known) {
    await run('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', user]).catch(async (err: unknown) => {
      // Another test process may have added it meanwhile.
      if (!(await run('getent', ['passwd', user]).then(() => true, () => false))) throw err;
    });
  }
  await run('chpasswd', [], { input: `${user}:${password}\n` });
}

import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStopped, naming, startTime, stopAll, type Tracked } from './procs.js';

/**
 * Rigs whose test process died without stop(): SIGKILL (a runner's timeout) and SIGTERM skip
 * Node's exit hooks, and setpriv's parent-death signal does not reach squid (it is cleared when
 * squid drops to the proxy user) nor samba-dcerpcd (winbindd's child, reparented to init). So a
 * rig dir records its owner, and every startRig first stops the processes of rigs whose owner is
 * gone, by the pid files in their dirs.
 */

export const RIG_PREFIX = 'symsrv-rig-';
const OWNER = 'owner';

/** Marks `dir` as this process's rig; `keep`: a sweep stops its processes but leaves the dir. */
export async function claim(dir: string, keep: boolean): Promise<void> {
  await writeFile(join(dir, OWNER), JSON.stringify({ pid: process.pid, start: startTime(process.pid), keep }));
}

/** After a clean stop (of a kept dir): nothing in it is running, so no sweep should look at it. */
export async function release(dir: string): Promise<void> {
  await rm(join(dir, OWNER), { force: true });
}

/** The pid files a rig's processes write, relative to its dir. */
export async function pidFilesOf(dir: string): Promise<Tracked[]> {
  const squids = await readdir(join(dir, 'squid')).catch(() => []);
  return [
    ...squids.map((s) => ({ name: `squid ${s}`, pidFile: join(dir, 'squid', s, 'squid.pid'), mark: dir })),
    { name: 'winbindd', pidFile: join(dir, 'samba', 'run', 'winbindd.pid'), mark: dir },
    { name: 'samba-dcerpcd', pidFile: join(dir, 'samba', 'run', 'samba-dcerpcd.pid'), mark: dir },
    { name: 'krb5kdc', pidFile: join(dir, 'krb5', 'krb5kdc.pid'), mark: dir },
  ];
}

/** Stops the processes of every rig in the temp dir whose owner process is gone; returns those dirs. */
export async function sweepStaleRigs(): Promise<string[]> {
  const swept: string[] = [];
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (!name.startsWith(RIG_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner: { pid?: unknown; start?: unknown; keep?: unknown };
    try {
      owner = JSON.parse(await readFile(join(dir, OWNER), 'utf8')) as typeof owner;
    } catch {
      continue; // no owner file: stopped cleanly and kept, or not ours
    }
    const alive = typeof owner.pid === 'number' && !isStopped(owner.pid) && startTime(owner.pid) === owner.start;
    if (alive) continue;
    await stopAll(await pidFilesOf(dir), 1500, dir + '/');
    if (owner.keep === true) await release(dir);
    else await rm(dir, { recursive: true, force: true });
    swept.push(dir);
  }
  if (swept.length > 0) await removeOrphanedOrigins(swept);
  return swept;
}

/**
 * The origins of a dead rig died with it (test/helpers/nginx.ts runs nginx with a parent-death
 * signal) but their temp dirs stay: remove those that serve a swept rig's store and whose nginx
 * no longer runs.
 */
async function removeOrphanedOrigins(swept: string[]): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (!name.startsWith('symsrv-nginx-')) continue;
    const dir = join(tmpdir(), name);
    const conf = await readFile(join(dir, 'nginx.conf'), 'utf8').catch(() => '');
    if (!swept.some((d) => conf.includes(`alias ${d}/store/;`))) continue;
    if (naming(dir + '/').length > 0) continue; // its nginx still runs
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Removes squid's shared-memory segments (/dev/shm/symsrvrig<tag><scheme>-cf__*.shm) that no
 * running squid owns. A rig's stop() removes its own, but a squid killed while it starts or
 * stops can write them after that (seen: 100 of them on this machine after a day of runs).
 * A squid is alive when a process's command line holds `-n <name>`.
 */
export async function sweepSquidSegments(): Promise<number> {
  const segments = (await readdir('/dev/shm').catch(() => [] as string[])).filter((n) => n.startsWith('symsrvrig') && n.includes('-cf__'));
  if (segments.length === 0) return 0;
  const live = new Set<string>();
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = (await readFile(join('/proc', pid, 'cmdline'), 'utf8').catch(() => '')).split('\0');
    const i = argv.indexOf('-n');
    if (i >= 0 && argv[i + 1]?.startsWith('symsrvrig')) live.add(argv[i + 1]!);
  }
  const dead = segments.filter((n) => !live.has(n.slice(0, n.indexOf('-cf__'))));
  await Promise.all(dead.map((n) => rm(join('/dev/shm', n), { force: true }).catch(() => {})));
  return dead.length;
}

import { readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isStopped, launch, run, startTime, waitUntil, type Tracked } from './procs.js';

/**
 * Samba's winbindd, standalone (no smbd), as the NTLM backend of squid's `ntlm_auth` helper; see
 * /work/shared/notes/proxy-rig.md, "NTLM: standalone winbindd, no smbd". All state lives in
 * `DIR/samba`, except what Samba hard-codes:
 * - the client socket `/run/samba/winbindd/pipe` (libwbclient always uses it): only ONE winbindd
 *   can serve clients per machine, so a second rig fails (or waits) here instead of stealing the
 *   socket; rigs coordinate through WINBIND_LOCK;
 * - the Unix accounts `alice` and `alice@symsrv.test` (tdbsam wants them; created once, left in /etc/passwd);
 * - `proxy` in the group `winbindd_priv`, so ntlm_auth running as proxy may use the privileged pipe.
 */

/** workgroup and netbios name: they must be equal (curl's empty NTLM domain resolves to the workgroup). */
export const DOMAIN = 'SYMSRV';

export interface Winbind {
  /** smb.conf for ntlm_auth's --configfile. */
  conf: string;
  /** winbindd, and samba-dcerpcd which winbindd spawns on demand (reparented to init, own pid file). */
  tracked: Tracked[];
  logDir: string;
}

/**
 * The machine-wide claim on the winbindd socket, held from before winbindd starts until after it
 * stopped: two rigs that both saw `wbinfo -p` fail could otherwise start two winbindds, and the
 * second would take the socket from the first. The file holds the owner's pid, start time and dir.
 */
export const WINBIND_LOCK = '/run/symsrv-rig-winbindd.lock';

const wbinfoPing = (): Promise<boolean> =>
  run('wbinfo', ['-p']).then(
    () => true,
    () => false,
  );

/**
 * Takes WINBIND_LOCK for the rig in `dir`, waiting up to `waitMs` (0: fail at once) while another
 * rig holds it or a winbindd of someone else answers on the hard-coded socket. A lock whose owner
 * process is gone is taken over.
 */
export async function claimWinbind(dir: string, waitMs: number): Promise<void> {
  const end = Date.now() + waitMs;
  const me = JSON.stringify({ pid: process.pid, start: startTime(process.pid), dir });
  for (;;) {
    let busy: string;
    try {
      await writeFile(WINBIND_LOCK, me, { flag: 'wx' });
      if (!(await wbinfoPing())) return;
      await rm(WINBIND_LOCK, { force: true });
      busy = await socketOwner();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const text = await readFile(WINBIND_LOCK, 'utf8').catch(() => '');
      let owner: { pid?: unknown; start?: unknown; dir?: unknown } = {};
      try {
        owner = JSON.parse(text) as typeof owner;
      } catch {
        // being written right now, or garbage: judged by the pid check below
      }
      const alive = typeof owner.pid === 'number' && !isStopped(owner.pid) && startTime(owner.pid) === owner.start;
      if (!alive && text !== '') {
        // The owner died without stop(): its winbindd died with it (parent-death signal).
        if ((await readFile(WINBIND_LOCK, 'utf8').catch(() => '')) === text) await rm(WINBIND_LOCK, { force: true });
        continue;
      }
      busy = `the rig in ${String(owner.dir)} (test process ${String(owner.pid)}) holds ${WINBIND_LOCK}`;
    }
    if (Date.now() >= end) {
      throw new Error(
        'another winbindd already answers on /run/samba/winbindd/pipe, or is about to: Samba hard-codes that ' +
          'socket, so only one rig with NTLM can run per machine. Stop the other rig (or that winbindd), start ' +
          `this one without 'ntlm', 'negotiate-ntlm' and 'all', or pass winbindWaitMs to wait for it. ${busy}`,
      );
    }
    await sleep(200);
  }
}

/** Gives WINBIND_LOCK back if `dir`'s rig holds it. */
export async function releaseWinbind(dir: string): Promise<void> {
  const text = await readFile(WINBIND_LOCK, 'utf8').catch(() => '');
  if (text.includes(JSON.stringify(dir))) await rm(WINBIND_LOCK, { force: true });
}

/** The same, synchronously, for an exit hook. */
export function releaseWinbindSync(dir: string): void {
  try {
    if (readFileSync(WINBIND_LOCK, 'utf8').includes(JSON.stringify(dir))) rmSync(WINBIND_LOCK, { force: true });
  } catch {
    // no lock
  }
}

async function socketOwner(): Promise<string> {
  const line = await run('ss', ['-xlpn']).then(
    (r) => r.stdout.split('\n').find((l) => l.includes('/run/samba/winbindd/pipe'))?.trim() ?? '',
    () => '',
  );
  return `wbinfo -p answers${line ? `; socket: ${line.replace(/\s+/g, ' ')}` : ''}`;
}

/**
 * Takes the winbindd claim (see claimWinbind; the caller releases it after stopping), prepares
 * DIR/samba, adds `user` with `password` to its tdbsam, starts winbindd and waits until `wbinfo -p`
 * answers. `track` is called as soon as a process exists, so a caller can stop it even when this
 * function fails later.
 */
export async function startWinbind(dir: string, users: readonly string[], password: string, waitMs: number, track: (t: Tracked) => void): Promise<Winbind> {
  await claimWinbind(dir, waitMs);
  const s = join(dir, 'samba');
  const sub = ['private', 'state', 'cache', 'lock', 'run', 'ncalrpc', 'log'];
  await Promise.all(sub.map((d) => mkdir(join(s, d), { recursive: true })));
  const conf = join(s, 'smb.conf');
  // Names are fixed before the user is added: the local SAM's SID derives from them.
  await writeFile(
    conf,
    `[global]
  workgroup = ${DOMAIN}
  netbios name = ${DOMAIN}
  server role = standalone server
  security = user
  passdb backend = tdbsam:${s}/private/passdb.tdb
  private dir = ${s}/private
  state directory = ${s}/state
  cache directory = ${s}/cache
  lock directory = ${s}/lock
  pid directory = ${s}/run
  ncalrpc dir = ${s}/ncalrpc
  log file = ${s}/log/log.%m
  interfaces = lo
  bind interfaces only = yes
  disable netbios = yes
  load printers = no
`,
  );

  for (const user of users) await ensureUnixUser(user);
  await ensureGroupMember('proxy', 'winbindd_priv');
  for (const user of users) await run('smbpasswd', ['-c', conf, '-s', '-a', user], { input: `${password}\n${password}\n` });
  // In 4.17 the privileged pipe lives in the state directory; winbindd insists on root and 0750.
  const priv = join(s, 'state', 'winbindd_privileged');
  await mkdir(priv, { recursive: true, mode: 0o750 });
  await chown(priv, 0, await gid('winbindd_priv'));
  await chmod(priv, 0o750);
  await mkdir('/run/samba', { recursive: true });

  const w = launch('winbindd', ['-F', '--no-process-group', '-s', conf], process.env);
  const tracked: Tracked[] = [
    { name: 'winbindd', pidFile: join(s, 'run', 'winbindd.pid'), child: w.child, mark: s },
    { name: 'samba-dcerpcd', pidFile: join(s, 'run', 'samba-dcerpcd.pid'), mark: s },
  ];
  tracked.forEach(track);
  const up = await waitUntil(
    () =>
      run('wbinfo', ['-p']).then(
        () => true,
        () => false,
      ),
    5000,
    w.exited,
  );
  if (!up) {
    const why = w.spawnError()?.message ?? w.output().trim();
    throw new Error(`winbindd did not answer wbinfo -p within 5 s${why ? `: ${why}` : ''}`);
  }
  return { conf, tracked, logDir: join(s, 'log') };
}

async function ensureUnixUser(user: string): Promise<void> {
  const known = await run('getent', ['passwd', user]).then(
    () => true,
    () => false,
  );
  if (known) return;
  // --badname: Debian's useradd refuses `@` in a name without it (alice@symsrv.test, see rig.ts).
  const options = ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin'];
  await run('useradd', [...(/^[a-z_][a-z0-9_-]*$/.test(user) ? [] : ['--badname']), ...options, user]).catch(
    async (err: unknown) => {
      // Another rig (in another test process) may have added it meanwhile.
      const nowKnown = await run('getent', ['passwd', user]).then(
        () => true,
        () => false,
      );
      if (!nowKnown) throw err;
    },
  );
}

async function ensureGroupMember(user: string, group: string): Promise<void> {
  const { stdout } = await run('id', ['-nG', user]);
  if (stdout.trim().split(/\s+/).includes(group)) return;
  await run('usermod', ['-aG', group, user]);
}

async function gid(group: string): Promise<number> {
  const { stdout } = await run('getent', ['group', group]);
  const n = Number(stdout.split(':')[2]);
  if (!Number.isInteger(n)) throw new Error(`getent group ${group}: no gid in ${JSON.stringify(stdout)}`);
  return n;
}

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A real MIT Kerberos KDC in a temp dir, as /work/shared/notes/proxy-rig.md ("Negotiate: MIT KDC
 * in the temp dir") describes: a database with one user and the HTTP service principals a proxy
 * on 127.0.0.1 is known by, a keytab for those, and the user's ticket in a private ccache.
 *
 * Nothing outside `dir` is read or written: every tool gets KRB5_CONFIG / KRB5_KDC_PROFILE /
 * KRB5CCNAME in its own environment, never this process's.
 *
 * No krb5kdc outlives the run: it runs in the foreground (`-n`) as our child, through
 * `setpriv --pdeathsig KILL` when available, so the kernel kills it if this process dies without
 * calling stop(); stop() signals the pid from its pid file (never a name), and an exit hook kills
 * any still running. On these machines PID 1 does not reap orphans, so a process shown as a
 * zombie (`Z`) counts as stopped.
 *
 * For a proxy rig: the keytab is written by kadmin.local as root, mode 0600; squid's
 * negotiate_kerberos_auth runs as `proxy`, so `chown proxy` it, and start squid with this
 * KRB5_CONFIG and a KRB5RCACHEDIR of its own (see the notes). The KDC takes about 0.1 s to start.
 *
 * Packages: krb5-kdc krb5-admin-server krb5-user (kdb5_util, kadmin.local, krb5kdc, kinit).
 */
export interface Kdc {
  realm: string;
  /** The KDC's port on 127.0.0.1 (TCP and UDP). */
  port: number;
  /** krb5.conf for clients, squid's helper and tools: set KRB5_CONFIG to it. */
  krb5Config: string;
  /** kdc.conf (KRB5_KDC_PROFILE) for kadmin.local and the KDC. */
  kdcProfile: string;
  /** `FILE:<path>` of a ccache holding `user`'s TGT (KRB5CCNAME). */
  ccache: string;
  /** Keytab with HTTP/localhost, HTTP/127.0.0.1 and HTTP/proxy.symsrv.test (for a proxy's Negotiate helper). */
  keytab: string;
  /** The principal's name without the realm (`alice`). */
  user: string;
  password: string;
  /** The service principals in `keytab`, with realm. */
  servicePrincipals: string[];
  /** The KDC's log (it names every ticket it issues and every principal it could not find). */
  log: string;
  /** Environment for tools run against this KDC (KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface KdcOptions {
  realm?: string;
  user?: string;
  password?: string;
}

const REALM = 'SYMSRV.TEST';
const SERVICE_HOSTS = ['localhost', '127.0.0.1', 'proxy.symsrv.test'];

export async function startKdc(dir: string, options: KdcOptions = {}): Promise<Kdc> {
  const realm = options.realm ?? REALM;
  const user = options.user ?? 'alice';
  const password = options.password ?? `pw-${randomBytes(6).toString('hex')}`;
  const k = join(dir, 'krb5');
  await mkdir(k, { recursive: true });
  const paths = {
    krb5Config: join(k, 'krb5.conf'),
    kdcProfile: join(k, 'kdc.conf'),
    ccacheFile: join(k, `${user}.ccache`),
    keytab: join(k, 'http.keytab'),
    log: join(k, 'kdc.log'),
    pidFile: join(k, 'krb5kdc.pid'),
    db: join(k, 'principal'),
  };
  const env = {
    KRB5_CONFIG: paths.krb5Config,
    KRB5_KDC_PROFILE: paths.kdcProfile,
    KRB5CCNAME: `FILE:${paths.ccacheFile}`,
  };

  let lastFailure = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeTcpUdpPort();
    await writeFile(paths.krb5Config, krb5Conf(realm, port));
    await writeFile(paths.kdcProfile, kdcConf(realm, port, k, paths));
    if (attempt === 0) {
      // The database does not depend on the port: made once.
      run('kdb5_util', ['create', '-s', '-r', realm, '-P', randomBytes(12).toString('hex')], env);
      run('kadmin.local', ['-r', realm, '-q', `addprinc -pw ${password} ${user}`], env);
      for (const h of SERVICE_HOSTS) run('kadmin.local', ['-r', realm, '-q', `addprinc -randkey HTTP/${h}`], env);
      run('kadmin.local', ['-r', realm, '-q', `ktadd -k ${paths.keytab} ${SERVICE_HOSTS.map((h) => `HTTP/${h}`).join(' ')}`], env);
    }
    const started = await launch(realm, port, paths.pidFile, paths.log, env);
    if ('failure' in started) {
      lastFailure = started.failure;
      // Another process took the port between our check and the KDC's bind: try another.
      if (/in use/i.test(started.failure)) continue;
      throw new Error(`krb5kdc did not start: ${started.failure}`);
    }
    try {
      run('kinit', [`${user}@${realm}`], env, `${password}\n`);
    } catch (err) {
      await started.stop();
      throw err;
    }
    return {
      realm,
      port,
      krb5Config: paths.krb5Config,
      kdcProfile: paths.kdcProfile,
      ccache: env.KRB5CCNAME,
      keytab: paths.keytab,
      user,
      password,
      servicePrincipals: SERVICE_HOSTS.map((h) => `HTTP/${h}@${realm}`),
      log: paths.log,
      env,
      stop: started.stop,
    };
  }
  throw new Error(`krb5kdc did not start after 5 ports: ${lastFailure}`);
}

function run(cmd: string, args: string[], env: Record<string, string>, input?: string): string {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, input, encoding: 'utf8', timeout: 30_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `${cmd} not found: apt-get install --no-install-recommends krb5-kdc krb5-admin-server krb5-user`
        : `${cmd} failed: ${r.error.message}`,
    );
  }
  if (r.status !== 0) throw new Error(`${cmd} ${args[0] ?? ''} exited with ${r.status}: ${`${r.stderr}${r.stdout}`.trim()}`);
  return r.stdout;
}

async function launch(
  realm: string,
  port: number,
  pidFile: string,
  log: string,
  env: Record<string, string>,
): Promise<{ stop(): Promise<void> } | { failure: string }> {
  const args = ['-n', '-r', realm, '-P', pidFile];
  const [cmd, argv] = SETPRIV ? ['setpriv', ['--pdeathsig', 'KILL', KRB5KDC, ...args]] : [KRB5KDC, args];
  const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.unref(); // a test that forgets stop() must not hang the run (the exit hook kills it)
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  (child.stderr as unknown as { unref(): void }).unref();
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once('error', (e) => (spawnError = e));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const childAlive = (): boolean => spawnError === undefined && child.exitCode === null && child.signalCode === null;

  for (let i = 0; i < 500 && childAlive(); i++) {
    if ((await listening('tcp', port)) && (await listening('udp', port))) break;
    await sleep(10);
  }
  if (childAlive() && (await listening('tcp', port))) {
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopping ??= (async () => {
        // By the pid in the pid file, as for the daemons of the proxy rig; the child handle is
        // the fallback when the file is missing.
        const fromFile = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
        const pid = Number.isInteger(fromFile) && fromFile > 0 ? fromFile : child.pid;
        if (pid !== undefined && processAlive(pid)) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            /* already gone */
          }
          for (let i = 0; i < 300 && processAlive(pid); i++) await sleep(10);
          if (processAlive(pid)) process.kill(pid, 'SIGKILL');
        }
        if (child.exitCode === null && child.signalCode === null) {
          // Dead, or about to be, but its exit not yet seen: wait for it with the child ref'd again,
          // or Node could find nothing left to wait for and end the process mid-stop.
          holdOpen(child);
          child.kill('SIGKILL');
          await exited;
        }
        running.delete(child);
      })());
    return { stop };
  }
  running.delete(child);
  if (spawnError) return { failure: `cannot run ${cmd} (${spawnError.code}): apt-get install krb5-kdc` };
  holdOpen(child);
  child.kill('SIGKILL');
  await exited;
  const text = await readFile(log, 'utf8').catch(() => '');
  return { failure: `${stderr}${text}`.trim() || `krb5kdc exited with ${child.exitCode ?? child.signalCode} and said nothing` };
}

function holdOpen(child: ChildProcess): void {
  child.ref();
  (child.stderr as unknown as { ref?(): void } | null)?.ref?.();
}

/** Alive = /proc has it and it is not a zombie (PID 1 here does not reap orphans; `kill -0` would succeed on a zombie). */
export function processAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // "pid (comm) S ...": comm may hold spaces or parentheses, the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X' && state !== '';
}

/** A port in 20000-29999 (below Linux's ephemeral range) that binds on 127.0.0.1 and 0.0.0.0, TCP and UDP. */
async function freeTcpUdpPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if (
      (await canBind('tcp', '127.0.0.1', port)) &&
      (await canBind('tcp', '0.0.0.0', port)) &&
      (await canBind('udp', '127.0.0.1', port)) &&
      (await canBind('udp', '0.0.0.0', port))
    ) {
      return port;
    }
  }
  throw new Error('no free TCP+UDP port in 20000-29999');
}

/** Whether `port` can be bound exclusively on `host` (shared with the proxy rig's port picker). */
export function canBind(proto: 'tcp' | 'udp', host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (proto === 'tcp') {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
    } else {
      const s = createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind({ port, address: host, exclusive: true }, () => s.close(() => resolve(true)));
    }
  });
}

/** Whether 127.0.0.1:port is bound, read from /proc/net (no probe packet: it would show in the KDC's log). */
async function listening(proto: 'tcp' | 'udp', port: number): Promise<boolean> {
  const text = await readFile(`/proc/net/${proto}`, 'utf8').catch(() => '');
  const needle = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return text.split('\n').some((l) => {
    const cols = l.trim().split(/\s+/);
    // TCP: state 0A = LISTEN; UDP: 07 = unconnected (bound).
    return cols[1] === needle && cols[3] === (proto === 'tcp' ? '0A' : '07');
  });
}

function krb5Conf(realm: string, port: number): string {
  return `[libdefaults]
  default_realm = ${realm}
  dns_lookup_realm = false
  dns_lookup_kdc = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
[realms]
  ${realm} = {
    kdc = 127.0.0.1:${port}
  }
[domain_realm]
  localhost = ${realm}
  .symsrv.test = ${realm}
`;
}

function kdcConf(realm: string, port: number, k: string, p: { db: string; log: string }): string {
  return `[kdcdefaults]
  kdc_listen = 127.0.0.1:${port}
  kdc_tcp_listen = 127.0.0.1:${port}
[realms]
  ${realm} = {
    database_name = ${p.db}
    key_stash_file = ${join(k, 'stash')}
    acl_file = ${join(k, 'kadm5.acl')}
  }
[logging]
  kdc = FILE:${p.log}
`;
}

const KRB5KDC = process.env.SYMSRV_KRB5KDC ?? '/usr/sbin/krb5kdc';

/** Whether util-linux's setpriv can set a parent-death signal here (it can on Debian 12). */
const SETPRIV = spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;

/** KDCs started and not yet stopped: killed when this process exits. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKdc, type Kdc } from '../helpers/kdc.js';
import { startNginx, type NginxServer } from '../helpers/nginx.js';
import { makeTempDir, removeDir } from '../helpers/tempdir.js';
import { makeTestCertificates } from '../helpers/tls.js';
import { killAllSync, run, stopAll, tail, tcpStates, waitUntil, type Tracked } from './procs.js';
import { claim, release, RIG_PREFIX, sweepSquidSegments, sweepStaleRigs } from './stale.js';
import { ALL_SCHEMES, AUTH_REALM, startSquid, WINBIND_SCHEMES, type RigScheme, type Squid, type SquidFiles } from './squid.js';
import { DOMAIN, releaseWinbind, releaseWinbindSync, startWinbind } from './winbind.js';

export type { RigScheme } from './squid.js';
export { ALL_SCHEMES, AUTH_REALM } from './squid.js';

/**
 * The authenticating-proxy rig: real squids (one per scheme, plus one offering all four) in front of
 * real nginx origins (HTTP and HTTPS), with an MIT KDC for Negotiate and Samba winbind for NTLM, all
 * on 127.0.0.1, all state in one temp dir. The recipe and its reasons: /work/shared/notes/proxy-rig.md;
 * how to use and debug it: test/rig/README.md. Needs root and test/rig/install.sh's packages.
 */

export interface RigProxy {
  /** `http://localhost:PORT`: localhost, so the Kerberos SPN HTTP@localhost is in the keytab. */
  url: string;
  port: number;
  /** squid's access.log (format `squid`): `TCP_DENIED/407` per challenge; tunnel lines appear when the tunnel closes. */
  accessLog: string;
  cacheLog: string;
}

export interface Rig<S extends RigScheme = RigScheme> {
  /** The rig's temp dir (0755): tls/, store/, auth/, krb5/, samba/, squid/<scheme>/. */
  dir: string;
  user: 'alice';
  /** `alice@symsrv.test`: the user@REALM form, same password, for Basic, Digest and NTLM (see UPN_USER). */
  upnUser: string;
  /** alice's password, the same for Basic, Digest, NTLM (tdbsam) and Kerberos; random per rig. */
  password: string;
  /** NTLM domain = workgroup = netbios name. */
  domain: 'SYMSRV';
  realm: 'SYMSRV.TEST';
  /** Path of the test CA's certificate (PEM) that signed the HTTPS origin's certificate. */
  ca: string;
  /** nginx serving `storeRoot` under /store/ (`${httpOrigin.url}/store/<file>`); its accessLog has `auth="-" pauth="-"` when no credential arrived. */
  httpOrigin: NginxServer;
  httpsOrigin: NginxServer;
  /** The folder both origins serve under /store/; tests put symbol files here. */
  storeRoot: string;
  krb5: {
    /** For KRB5_CONFIG. */
    config: string;
    /** For KRB5CCNAME (`FILE:<path>`): alice's TGT, from kinit. */
    ccache: string;
    /** For KRB5CCNAME (`FILE:<path>`): a ccache for alice that holds no ticket. */
    emptyCcache: string;
  };
  /** The schemes this rig runs a squid for. */
  schemes: S[];
  proxies: Record<S, RigProxy>;
  /**
   * `TCP_DENIED/407` lines in that squid's access.log so far (absolute: take differences). Waits
   * (up to 1.5 s) until no client connection to that squid is open, because a CONNECT's line is
   * written only when its tunnel closes.
   */
  count407(scheme: S): Promise<number>;
  /** Stops every process of the rig and removes `dir` (kept with SYMSRV_RIG_KEEP=1). Idempotent. */
  stop(): Promise<void>;
}

export interface RigOptions<S extends RigScheme> {
  /**
   * Which squids to run (default: all six). Without 'ntlm', 'negotiate-ntlm' and 'all' no winbindd is started; the
   * KDC always runs (it is cheap and lets `krb5` always be valid).
   */
  schemes?: S[];
  /** Keep the temp dir (and copies of the origins' access logs) after stop(); default: SYMSRV_RIG_KEEP=1. */
  keep?: boolean;
  /**
   * With NTLM: how long to wait for another rig's winbindd to go away (only one can run per machine).
   * Default 0: fail at once with "another winbindd already answers on /run/samba/winbindd/pipe".
   */
  winbindWaitMs?: number;
}

const USER = 'alice';
/**
 * alice again under a name of the `user@REALM` form, with the same password, for Basic, Digest and
 * NTLM. A standalone Samba has no user principal names (an Active Directory DC maps a UPN to its
 * account), so the account is simply named so: what the tests check is the client's side, that a
 * name typed as user@REALM goes out as typed and its NTLMv2 proof is right (Windows sends a UPN in
 * the user field with an empty domain).
 */
const UPN_USER = 'alice@symsrv.test';
const REALM = 'SYMSRV.TEST';

/** Rigs started and not stopped: killed (and their dirs removed) when this process exits. */
const live = new Set<{ tracked: Tracked[]; dir: string; keep: boolean }>();
process.once('exit', () => {
  for (const r of live) {
    killAllSync(r.tracked, r.dir + '/');
    releaseWinbindSync(r.dir);
    rmSync(r.keep ? join(r.dir, 'owner') : r.dir, { recursive: true, force: true });
  }
});

/** What the rig runs; test/rig/install.sh installs it. */
const PROGRAMS = [
  '/usr/sbin/squid',
  '/usr/lib/squid/basic_ncsa_auth',
  '/usr/lib/squid/digest_file_auth',
  '/usr/lib/squid/negotiate_kerberos_auth',
  '/usr/lib/squid/negotiate_wrapper_auth',
  '/usr/sbin/winbindd',
  '/usr/bin/ntlm_auth',
  '/usr/bin/wbinfo',
  '/usr/bin/smbpasswd',
  '/usr/sbin/krb5kdc',
  '/usr/sbin/kdb5_util',
  '/usr/sbin/kadmin.local',
  '/usr/bin/kinit',
  '/usr/bin/openssl',
  '/usr/bin/curl',
];

export async function startRig<S extends RigScheme = RigScheme>(opts: RigOptions<S> = {}): Promise<Rig<S>> {
  if (process.getuid?.() !== 0) throw new Error('startRig needs root (squid, winbindd and useradd do)');
  const missing = PROGRAMS.filter((p) => !existsSync(p));
  if (missing.length > 0) throw new Error(`startRig: missing ${missing.join(', ')}: run test/rig/install.sh (as root)`);
  const schemes = [...new Set(opts.schemes ?? (ALL_SCHEMES as S[]))];
  const keep = opts.keep ?? process.env.SYMSRV_RIG_KEEP === '1';
  for (const d of await sweepStaleRigs()) process.stderr.write(`symsrv rig: stopped the processes of ${d}, whose test process died without stop()\n`);
  await sweepSquidSegments();
  const dir = await makeTempDir(RIG_PREFIX);
  await claim(dir, keep);
  await chmod(dir, 0o755); // squid's helpers run as proxy and must traverse it
  const entry = { tracked: [] as Tracked[], dir, keep };
  live.add(entry);
  const track = (t: Tracked): void => void entry.tracked.push(t);
  const origins: Array<{ name: string; server: NginxServer }> = [];
  const origin = (name: string) => (server: NginxServer): NginxServer => (origins.push({ name, server }), server);
  let kdc: Kdc | undefined;

  let stopping: Promise<void> | undefined;
  /** squid's -n tag: squid leaves /dev/shm/<name>-cf__*.shm segments behind, removed on stop. */
  let squidTag: string | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (keep) {
        // nginx's stop() removes its own dir: keep copies of what tests look at.
        await Promise.all(origins.map((o) => copyFile(o.server.accessLog, join(dir, `origin-${o.name}.access.log`)).catch(() => {})));
      }
      await Promise.all([stopAll(entry.tracked, 3000, dir + '/'), kdc?.stop(), ...origins.map((o) => o.server.stop())]);
      await releaseWinbind(dir); // only now: its winbindd and samba-dcerpcd are gone
      if (squidTag) {
        const prefix = `symsrvrig${squidTag}`;
        const names = await readdir('/dev/shm').catch(() => [] as string[]);
        await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => rm(join('/dev/shm', n), { force: true }).catch(() => {})));
      }
      live.delete(entry);
      if (keep) {
        await release(dir);
        process.stderr.write(`symsrv rig: kept ${dir}\n`);
      } else await removeDir(dir);
    })());

  try {
    const password = `Rig-${randomBytes(6).toString('hex')}`;
    const proxyUser = await idsOf('proxy');
    const storeRoot = join(dir, 'store');
    await Promise.all(['tls', 'store', 'auth'].map((d) => mkdir(join(dir, d))));
    await chmod(storeRoot, 0o755);

    const needsWinbind = schemes.some((s) => WINBIND_SCHEMES.includes(s));
    const [{ tls, httpsOrigin }, httpOrigin, , krb, smbConf] = await settleAll([
      makeTestCertificates(join(dir, 'tls')).then(async (tls) => ({
        tls,
        httpsOrigin: await startNginx({ root: storeRoot, tls: { cert: tls.cert, key: tls.key } }).then(origin('https')),
      })),
      startNginx({ root: storeRoot }).then(origin('http')),
      writeAuthFiles(dir, password, proxyUser.gid),
      setUpKerberos(dir, password, proxyUser.uid).then((k) => ((kdc = k.kdc), k)),
      needsWinbind ? startWinbind(dir, [USER, UPN_USER], password, opts.winbindWaitMs ?? 0, track).then((w) => w.conf) : Promise.resolve(''),
    ] as const);

    const files: SquidFiles = {
      htpasswd: join(dir, 'auth', 'htpasswd'),
      digestFile: join(dir, 'auth', 'digest.passwd'),
      keytab: krb.kdc.keytab,
      smbConf,
      env: { KRB5_CONFIG: krb.kdc.krb5Config, KRB5RCACHEDIR: krb.rcache },
    };
    const tag = randomBytes(4).toString('hex'); // squid's service name (-n) must be alphanumeric
    squidTag = tag;
    const squids = await settleAll(
      schemes.map((scheme) =>
        startSquid(
          { rigDir: dir, scheme, files, httpOriginPort: httpOrigin.port, httpsOriginPort: httpsOrigin.port, tag, uid: proxyUser.uid },
          track,
        ),
      ),
    );

    const proxies = {} as Record<S, RigProxy>;
    for (const q of squids as Squid[]) {
      proxies[q.scheme as S] = { url: `http://localhost:${q.port}`, port: q.port, accessLog: q.accessLog, cacheLog: q.cacheLog };
    }

    const count407 = async (scheme: S): Promise<number> => {
      const p = proxies[scheme];
      if (!p) throw new Error(`this rig runs no ${scheme} proxy (schemes: ${schemes.join(', ')})`);
      // Client connections still open (ESTABLISHED, SYN_RECV, CLOSE_WAIT) may owe a log line.
      await waitUntil(async () => !(await tcpStates(p.port)).some((s) => s === '01' || s === '03' || s === '08'), 1500);
      await sleep(10);
      const text = await readFile(p.accessLog, 'utf8').catch(() => '');
      return text.split('\n').filter((l) => l.includes(' TCP_DENIED/407 ')).length;
    };

    // For debugging by hand (SYMSRV_RIG_KEEP=1): what a test would print. Root-only: it holds the password.
    const summary = { user: USER, password, domain: DOMAIN, realm: REALM, ca: tls.ca, httpOrigin: httpOrigin.url, httpsOrigin: httpsOrigin.url, krb5: { config: krb.kdc.krb5Config, ccache: krb.kdc.ccache }, proxies };
    await writeFile(join(dir, 'rig.json'), JSON.stringify(summary, null, 2) + '\n', { mode: 0o600 });

    return {
      dir,
      user: USER,
      upnUser: UPN_USER,
      password,
      domain: DOMAIN,
      realm: REALM,
      ca: tls.ca,
      httpOrigin,
      httpsOrigin,
      storeRoot,
      krb5: { config: krb.kdc.krb5Config, ccache: krb.kdc.ccache, emptyCcache: krb.emptyCcache },
      schemes,
      proxies,
      count407,
      stop,
    };
  } catch (err) {
    const tails = await logTails(dir);
    await stop().catch(() => {});
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`startRig failed: ${msg}\n(rig dir ${dir} ${keep ? 'kept' : 'removed'}; SYMSRV_RIG_KEEP=1 keeps it)${tails}`, { cause: err });
  }
}

/**
 * Like Promise.all, but waits for every promise to settle before rejecting: a start that failed
 * must not leave a sibling still starting (and untracked) while we clean up.
 */
async function settleAll<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const rs = await Promise.allSettled(ps);
  const failed = rs.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length === 1) throw failed[0]!.reason;
  if (failed.length > 1) throw new Error(failed.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n  and: '));
  return rs.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

async function idsOf(user: string): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('getent', ['passwd', user]);
  const [, , uid, gid] = stdout.trim().split(':');
  if (!uid || !gid) throw new Error(`no user ${user} (the squid package creates it: test/rig/install.sh)`);
  return { uid: Number(uid), gid: Number(gid) };
}

/** htpasswd ($apr1$) for Basic, `user:realm:HA1` for Digest: root:proxy 0640. */
async function writeAuthFiles(dir: string, password: string, proxyGid: number): Promise<void> {
  const { stdout } = await run('openssl', ['passwd', '-apr1', '-stdin'], { input: `${password}\n` });
  const htpasswd = join(dir, 'auth', 'htpasswd');
  const digest = join(dir, 'auth', 'digest.passwd');
  const users = [USER, UPN_USER];
  const ha1 = (user: string): string => createHash('md5').update(`${user}:${AUTH_REALM}:${password}`).digest('hex');
  await writeFile(htpasswd, users.map((u) => `${u}:${stdout.trim()}\n`).join(''), { mode: 0o640 });
  await writeFile(digest, users.map((u) => `${u}:${AUTH_REALM}:${ha1(u)}\n`).join(''), { mode: 0o640 });
  for (const f of [htpasswd, digest]) {
    await chown(f, 0, proxyGid);
    await chmod(f, 0o640);
  }
}

/**
 * The KDC (test/helpers/kdc.ts) with alice's ticket, plus what squid's Negotiate helper needs: the
 * keytab owned by proxy (0400) and a replay-cache dir in DIR (proxy, 0700; passed as KRB5RCACHEDIR).
 * Also a ccache that names alice but holds no ticket: what a client sees when nobody ran kinit
 * (or the tickets were purged), so Negotiate has nothing to send.
 */
async function setUpKerberos(dir: string, password: string, proxyUid: number): Promise<{ kdc: Kdc; rcache: string; emptyCcache: string }> {
  const kdc = await startKdc(dir, { realm: REALM, user: USER, password });
  try {
    await chown(kdc.keytab, proxyUid, -1);
    await chmod(kdc.keytab, 0o400);
    const rcache = join(dir, 'krb5', 'rcache');
    await mkdir(rcache, { mode: 0o700 });
    await chown(rcache, proxyUid, -1);
    const empty = join(dir, 'krb5', 'empty.ccache');
    await writeFile(empty, emptyCcache(USER, REALM), { mode: 0o600 });
    return { kdc, rcache, emptyCcache: `FILE:${empty}` };
  } catch (err) {
    await kdc.stop();
    throw err;
  }
}

/**
 * An MIT FILE ccache (format version 4) with a default principal and no credentials:
 * 0x0504, header length 0, principal (name type, component count, realm, components).
 */
function emptyCcache(user: string, realm: string): Buffer {
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const str = (s: string): Buffer => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);
  return Buffer.concat([Buffer.from([0x05, 0x04, 0x00, 0x00]), u32(1 /* KRB5_NT_PRINCIPAL */), u32(1), str(realm), str(user)]);
}

/** The last lines of every log of the rig, for an error message. */
async function logTails(dir: string): Promise<string> {
  const files = [join(dir, 'krb5', 'kdc.log')];
  for (const f of await readdir(join(dir, 'samba', 'log')).catch(() => [])) files.push(join(dir, 'samba', 'log', f));
  for (const s of await readdir(join(dir, 'squid')).catch(() => [])) files.push(join(dir, 'squid', s, 'cache.log'));
  let out = '';
  for (const f of files) {
    const t = await tail(f, 10);
    if (t) out += `\n--- ${f.slice(dir.length + 1)} (last lines)\n${t}`;
  }
  return out;
}

import { chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isListening } from '../helpers/ports.js';
import { launch, rigPort, tail, waitUntil, type Tracked } from './procs.js';

/**
 * One squid 5.7 per scheme (see /work/shared/notes/proxy-rig.md, "squid: one instance per scheme"):
 * `auth_param` is global in squid, and `auth_schemes` only changes which challenges are sent, not
 * what is accepted, so strict per-scheme tests need one process each. `all` offers every scheme,
 * in the order its Proxy-Authenticate headers come out: Negotiate, NTLM, Digest, Basic.
 *
 * `negotiate-ntlm` offers only `Negotiate`, answered by squid's negotiate_wrapper_auth (the squid
 * wiki's Active Directory setup): a token that starts with `NTLMSSP\0` goes to Samba's ntlm_auth
 * (the `ntlm` squid's helper, same winbindd), anything else to negotiate_kerberos_auth (the
 * `negotiate` squid's helper, same keytab). So Kerberos works as on `negotiate`, and a client
 * without a ticket must send raw NTLM messages under the `Negotiate` scheme name.
 */

export type RigScheme = 'basic' | 'digest' | 'ntlm' | 'negotiate' | 'negotiate-ntlm' | 'all';
export const ALL_SCHEMES: readonly RigScheme[] = ['basic', 'digest', 'ntlm', 'negotiate', 'negotiate-ntlm', 'all'];

/** The squids whose helpers talk to winbindd (only one winbindd per machine: see winbind.ts). */
export const WINBIND_SCHEMES: readonly RigScheme[] = ['ntlm', 'negotiate-ntlm', 'all'];

/**
 * Uses of one Digest nonce before squid calls it stale (407 with stale=true): low enough that a
 * 60-file test sees a nonce go stale (proxy.e2e.test.ts), high enough for the self-check's 20.
 */
export const DIGEST_NONCE_USES = 50;

/** Digest realm and Basic realm the proxies announce. */
export const AUTH_REALM = 'symsrv-rig';

export interface SquidFiles {
  /** htpasswd for basic_ncsa_auth (root:proxy 0640). */
  htpasswd: string;
  /** `user:realm:HA1` lines for digest_file_auth -c (root:proxy 0640). */
  digestFile: string;
  /** HTTP/localhost + HTTP/127.0.0.1 keys, proxy 0400. */
  keytab: string;
  /** smb.conf of the rig's winbindd, for ntlm_auth. */
  smbConf: string;
  /** KRB5_CONFIG and KRB5RCACHEDIR for the Negotiate helper (helpers inherit squid's environment). */
  env: Record<string, string>;
}

export interface Squid {
  scheme: RigScheme;
  port: number;
  dir: string;
  accessLog: string;
  cacheLog: string;
}

export interface SquidOptions {
  rigDir: string;
  scheme: RigScheme;
  files: SquidFiles;
  /** The origins' ports: GETs are allowed to both, CONNECT only to the HTTPS one (and 443). */
  httpOriginPort: number;
  httpsOriginPort: number;
  /** A unique alphanumeric tag for squid's service name (-n). */
  tag: string;
  uid: number;
}

/** Starts one squid and waits until it LISTENs; `track` learns of the process as soon as it exists. */
export async function startSquid(o: SquidOptions, track: (t: Tracked) => void): Promise<Squid> {
  const dir = join(o.rigDir, 'squid', o.scheme);
  await mkdir(dir, { recursive: true });
  await chown(dir, o.uid, -1); // squid writes its logs and pid file as proxy
  const paths = { conf: join(dir, 'squid.conf'), pid: join(dir, 'squid.pid'), cacheLog: join(dir, 'cache.log'), accessLog: join(dir, 'access.log') };
  let failure = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await rigPort();
    await writeFile(paths.conf, config(o, port, dir, paths));
    // squid -N: no daemon, no kid processes: the process we start is the one that serves (and it
    // still drops to cache_effective_user proxy). Its helpers are its children.
    const env = { ...process.env, ...o.files.env };
    // -n must be alphanumeric: `negotiate-ntlm` loses its dash.
    const p = launch('/usr/sbin/squid', ['-N', '-n', `symsrvrig${o.tag}${o.scheme.replace(/[^a-z0-9]/g, '')}`, '-f', paths.conf], env);
    track({ name: `squid ${o.scheme}`, pidFile: paths.pid, child: p.child, mark: dir });
    if (await waitUntil(() => isListening(port), 5000, p.exited)) {
      return { scheme: o.scheme, port, dir, accessLog: paths.accessLog, cacheLog: paths.cacheLog };
    }
    p.child.kill('SIGKILL');
    const log = await tail(paths.cacheLog);
    failure = `${p.spawnError()?.message ?? ''}\n${p.output()}\n${log}`.trim();
    if (!/Address already in use|Cannot bind/i.test(failure)) break;
  }
  throw new Error(`squid ${o.scheme} did not start: ${failure || 'no LISTEN within 5 s and nothing in cache.log'}`);
}

function authBlock(scheme: Exclude<RigScheme, 'all'>, f: SquidFiles): string {
  // -s GSS_C_NO_NAME: accept any principal of the keytab (HTTP/localhost and HTTP/127.0.0.1).
  const kerberos = `/usr/lib/squid/negotiate_kerberos_auth -k ${f.keytab} -s GSS_C_NO_NAME`;
  const ntlm = `/usr/bin/ntlm_auth --helper-protocol=squid-2.5-ntlmssp --configfile=${f.smbConf}`;
  switch (scheme) {
    case 'negotiate':
      return `auth_param negotiate program ${kerberos}
auth_param negotiate children 5 startup=1 idle=1
auth_param negotiate keep_alive on
`;
    case 'negotiate-ntlm':
      // negotiate_wrapper_auth [-d] --ntlm CMD ARGS --kerberos CMD ARGS: each helper's arguments
      // run up to the other flag; it starts both helpers and routes each token by its first bytes.
      return `auth_param negotiate program /usr/lib/squid/negotiate_wrapper_auth --ntlm ${ntlm} --kerberos ${kerberos}
auth_param negotiate children 5 startup=1 idle=1
auth_param negotiate keep_alive on
`;
    case 'ntlm':
      return `auth_param ntlm program ${ntlm}
auth_param ntlm children 5 startup=1 idle=1
auth_param ntlm keep_alive on
`;
    case 'digest':
      return `auth_param digest program /usr/lib/squid/digest_file_auth -c ${f.digestFile}
auth_param digest children 5 startup=1 idle=1
auth_param digest realm ${AUTH_REALM}
auth_param digest nonce_max_duration 30 minutes
auth_param digest nonce_max_count ${DIGEST_NONCE_USES}
`;
    case 'basic':
      return `auth_param basic program /usr/lib/squid/basic_ncsa_auth ${f.htpasswd}
auth_param basic children 5 startup=1 idle=1
auth_param basic realm ${AUTH_REALM}
auth_param basic credentialsttl 2 hours
`;
  }
}

function config(o: SquidOptions, port: number, dir: string, p: { pid: string; cacheLog: string; accessLog: string }): string {
  // The order of auth_param blocks is the order of the Proxy-Authenticate headers.
  const schemes = o.scheme === 'all' ? (['negotiate', 'ntlm', 'digest', 'basic'] as const) : [o.scheme];
  return `http_port 127.0.0.1:${port}
visible_hostname symsrv-rig
cache_effective_user proxy
pid_filename ${p.pid}
cache_log ${p.cacheLog}
access_log stdio:${p.accessLog} squid
cache_store_log none
logfile_rotate 0
coredump_dir ${dir}
# squid 5 has no "cache_dir none": no cache_dir = memory only; and nothing is cached at all.
cache deny all
cache_mem 8 MB
netdb_filename none
pinger_enable off
# default 30 s: a stop would take 30 s
shutdown_lifetime 0 seconds
dns_nameservers 127.0.0.1
udp_incoming_address 127.0.0.1
udp_outgoing_address 127.0.0.1
icp_port 0
htcp_port 0
${schemes.map((s) => authBlock(s, o.files)).join('')}
acl SSL_ports port ${o.httpsOriginPort} 443
acl Safe_ports port 80 443 ${o.httpOriginPort} ${o.httpsOriginPort}
acl CONNECT method CONNECT
acl authed proxy_auth REQUIRED
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow authed
http_access deny all
`;
}

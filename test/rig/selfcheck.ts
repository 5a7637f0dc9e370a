import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeTempDir, removeDir } from '../helpers/tempdir.js';
import { tail } from './procs.js';
import type { Rig, RigScheme } from './rig.js';

/**
 * The rig's self-check, with curl 7.88 as the reference client: if this fails, the rig is broken,
 * not symsrv. End-to-end suites call it in their `before` hook.
 *
 * For each single-scheme squid: good credentials fetch URLS files over HTTP and over HTTPS (one curl
 * invocation each, byte-compared) and cause exactly the 407s of EXPECTED_407; a wrong password (for
 * Negotiate: a ccache without a ticket) gets 407; no credentials get 407 with that scheme's
 * Proxy-Authenticate and no other. The `all` squid offers Negotiate, NTLM, Digest, Basic in that
 * order and accepts each of them. The `negotiate-ntlm` squid (Negotiate only, negotiate_wrapper_auth)
 * takes curl's Kerberos token like `negotiate`, refuses curl's plain NTLM and curl without a ticket
 * (curl cannot put NTLM inside Negotiate: the gap symsrv fills), and takes Samba's own NTLM client
 * (`ntlm_auth --helper-protocol=ntlmssp-client-1`) under the Negotiate scheme with the right password
 * only. Finally, neither origin ever saw a credential.
 *
 * The check adds lines to the squids' and origins' access logs (take count407 differences), and
 * its files live in `storeRoot/_rig-selfcheck/`, removed at the end.
 */

/** How many URLs one curl invocation fetches in the counting runs. */
export const URLS = 20;

/**
 * 407s in squid's access.log caused by ONE curl invocation fetching URLS files (from
 * /work/shared/notes/proxy-rig.md, "curl results"). Digest over HTTP: curl starts every URL of its
 * command line without a nonce. NTLM: the Type-1 goes out pre-emptively, one 407 carries the
 * Type-2, and squid then treats the connection as authenticated. Basic and Negotiate are
 * pre-emptive. Over HTTPS only the one CONNECT is authenticated. `negotiate-ntlm` with curl is
 * Kerberos (`--proxy-negotiate` and a ticket), so it costs what `negotiate` costs.
 */
export const EXPECTED_407: Record<Exclude<RigScheme, 'all'>, { http: number; https: number }> = {
  basic: { http: 0, https: 0 },
  digest: { http: URLS, https: 1 },
  ntlm: { http: 1, https: 1 },
  negotiate: { http: 0, https: 0 },
  'negotiate-ntlm': { http: 0, https: 0 },
};

type OneScheme = 'basic' | 'digest' | 'ntlm' | 'negotiate';

/** On the `all` squid with an explicit curl option, for one URL (HTTP, HTTPS): the same logic. */
export const EXPECTED_407_ALL_ONE_URL: Record<OneScheme, { http: number; https: number }> = {
  basic: { http: 0, https: 0 },
  digest: { http: 1, https: 1 },
  ntlm: { http: 1, https: 1 },
  negotiate: { http: 0, https: 0 },
};

const SCHEME_HEADER = { basic: 'Basic', digest: 'Digest', ntlm: 'NTLM', negotiate: 'Negotiate', 'negotiate-ntlm': 'Negotiate' } as const;
const ALL_ORDER = ['Negotiate', 'NTLM', 'Digest', 'Basic'];

export interface SelfCheckReport {
  /** Wall time of the whole check. */
  ms: number;
  /** 407s one curl invocation with URLS files caused, per single-scheme squid. */
  counts: Partial<Record<Exclude<RigScheme, 'all'>, { http: number; https: number }>>;
  /** 407s on the `all` squid, one URL per explicit scheme. */
  allCounts: Partial<Record<OneScheme, { http: number; https: number }>>;
  /**
   * `negotiate-ntlm`, Samba's NTLM client under the Negotiate scheme, one URL per origin: the
   * status with the right password (200) and with a wrong one (407), and the 407s each caused
   * (1, the Type 2; and 2, the Type 2 and the refusal).
   */
  ntlmInNegotiate?: Record<'http' | 'https', { good: number; bad: number; good407: number; bad407: number }>;
  /** Proxy-Authenticate schemes the `all` squid offered, in order (when it runs). */
  allOffered?: string[];
}

interface Curl {
  code: number;
  stdout: string;
  stderr: string;
}

function curl(args: string[], env: Record<string, string>): Promise<Curl> {
  // A clean environment: no *_proxy / NO_PROXY variables of the caller (NO_PROXY=127.0.0.1 would
  // bypass the proxy), no CURL_CA_BUNDLE; -q ignores ~/.curlrc.
  const cleanEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env };
  return new Promise((resolve) => {
    execFile('curl', ['-q', '-s', '-S', '--max-time', '20', ...args], { env: cleanEnv, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `http_code http_connect` per transfer, from `-w`. */
const WRITE_OUT = ['-w', '%{http_code} %{http_connect}\\n'];

export async function selfCheck<S extends RigScheme>(rig: Rig<S>): Promise<SelfCheckReport> {
  const t0 = Date.now();
  const out = await makeTempDir('symsrv-rig-check-', existsSync('/dev/shm') ? '/dev/shm' : undefined);
  const storeDir = join(rig.storeRoot, '_rig-selfcheck');
  const problems: string[] = [];
  const report: SelfCheckReport = { ms: 0, counts: {}, allCounts: {} };
  try {
    // URLS files in the symbol-store layout, random contents, served by both origins.
    const files: Array<{ path: string; bytes: Buffer }> = [];
    for (let i = 0; i < URLS; i++) {
      const name = `sym${String(i).padStart(2, '0')}.pdb`;
      const path = `${name}/${randomBytes(16).toString('hex').toUpperCase()}1/${name}`;
      const bytes = randomBytes(1024 + i * 97);
      await mkdir(join(storeDir, path, '..'), { recursive: true });
      await writeFile(join(storeDir, path), bytes);
      files.push({ path, bytes });
    }
    const urlOf = (origin: 'http' | 'https', path: string): string =>
      `${origin === 'http' ? rig.httpOrigin.url : rig.httpsOrigin.url}/store/_rig-selfcheck/${path}`;

    const checkScheme = async (scheme: Exclude<RigScheme, 'all'>): Promise<void> => {
      const proxy = rig.proxies[scheme as unknown as S];
      const fail = (what: string): void => void problems.push(`${scheme} (${proxy.url}): ${what}`);
      const dir = join(out, scheme);
      await mkdir(dir);
      const count = (): Promise<number> => rig.count407(scheme as unknown as S);
      const { option, user, env } = credentials(rig, scheme, 'good');

      // Good credentials: URLS files in one invocation, per origin; bytes and 407s.
      const counts = { http: 0, https: 0 };
      for (const origin of ['http', 'https'] as const) {
        const before = await count();
        const args = [...WRITE_OUT, '--cacert', rig.ca, '--proxy', proxy.url, option, '-U', user];
        files.forEach((f, i) => args.push('-o', join(dir, `${origin}-${i}`), urlOf(origin, f.path)));
        const r = await curl(args, env);
        const codes = r.stdout.trim().split('\n');
        if (r.code !== 0 || codes.length !== URLS || codes.some((c) => !c.startsWith('200 '))) {
          fail(`good credentials over ${origin}: curl exit ${r.code}, codes ${JSON.stringify(codes)} ${r.stderr.trim()}`);
          continue;
        }
        for (const [i, f] of files.entries()) {
          const got = await readFile(join(dir, `${origin}-${i}`)).catch(() => Buffer.alloc(0));
          if (!got.equals(f.bytes)) fail(`${origin} ${f.path}: ${got.length} bytes that differ from the ${f.bytes.length} served`);
        }
        counts[origin] = (await count()) - before;
        if (counts[origin] !== EXPECTED_407[scheme][origin]) {
          fail(`${URLS} URLs over ${origin} in one curl caused ${counts[origin]} 407s, expected ${EXPECTED_407[scheme][origin]}`);
        }
      }
      report.counts[scheme] = counts;

      // Wrong credentials (Negotiate: no ticket): 407 over both.
      const bad = credentials(rig, scheme, 'bad');
      for (const origin of ['http', 'https'] as const) {
        const r = await curl([...WRITE_OUT, '-o', '/dev/null', '--cacert', rig.ca, '--proxy', proxy.url, bad.option, '-U', bad.user, urlOf(origin, files[0]!.path)], bad.env);
        const status = statusOf(r, origin);
        if (status !== 407) fail(`${scheme === 'negotiate' ? 'no ticket' : 'wrong password'} over ${origin}: ${status} (curl exit ${r.code}), expected 407`);
      }

      // No credentials: 407 and exactly this scheme's challenge.
      for (const origin of ['http', 'https'] as const) {
        const offered = await challenges(rig, proxy.url, urlOf(origin, files[0]!.path), origin, join(dir, `headers-${origin}`), fail);
        if (offered && offered.join() !== SCHEME_HEADER[scheme]) {
          fail(`no credentials over ${origin}: Proxy-Authenticate ${JSON.stringify(offered)}, expected ["${SCHEME_HEADER[scheme]}"]`);
        }
      }
      if (scheme === 'negotiate-ntlm') await checkNtlmInNegotiate(proxy.url, proxy.port, fail);
    };

    /**
     * What only NTLM inside Negotiate gets through: curl with a password and no ticket (plain NTLM,
     * or Negotiate whose GSS-API has no NTLM mechanism) is refused; Samba's NTLM client under the
     * Negotiate scheme is let in with the right password and refused with a wrong one.
     */
    const checkNtlmInNegotiate = async (proxyUrl: string, port: number, fail: (what: string) => void): Promise<void> => {
      const env = { KRB5_CONFIG: rig.krb5.config, KRB5CCNAME: rig.krb5.emptyCcache };
      for (const option of ['--proxy-ntlm', '--proxy-negotiate']) {
        for (const origin of ['http', 'https'] as const) {
          const r = await curl([...WRITE_OUT, '-o', '/dev/null', '--cacert', rig.ca, '--proxy', proxyUrl, option, '-U', `${rig.user}:${rig.password}`, urlOf(origin, files[0]!.path)], env);
          const status = statusOf(r, origin);
          if (status !== 407) fail(`curl ${option} with a password and no ticket over ${origin}: ${status}, expected 407`);
        }
      }
      const result = {} as NonNullable<SelfCheckReport['ntlmInNegotiate']>;
      const smbConf = join(rig.dir, 'samba', 'smb.conf');
      for (const origin of ['http', 'https'] as const) {
        const f = files[2]!;
        const target = origin === 'http' ? urlOf(origin, f.path) : `127.0.0.1:${rig.httpsOrigin.port}`;
        const row = { good: 0, bad: 0, good407: 0, bad407: 0 };
        for (const which of ['good', 'bad'] as const) {
          const before = await rig.count407('negotiate-ntlm' as S);
          const password = which === 'good' ? rig.password : `wrong-${rig.password}`;
          const got = await sambaNtlmInNegotiate(port, origin === 'http' ? 'GET' : 'CONNECT', target, rig.user, password, rig.domain, smbConf);
          row[which] = got.status;
          row[`${which}407`] = (await rig.count407('negotiate-ntlm' as S)) - before;
          if (which === 'good' && (got.status !== 200 || (origin === 'http' && !got.body.equals(f.bytes)))) {
            fail(`Samba's NTLM client under Negotiate over ${origin}: ${got.status} (${got.body.length} bytes), expected 200 and the file`);
          }
          if (which === 'bad' && got.status !== 407) fail(`Samba's NTLM client under Negotiate, wrong password, over ${origin}: ${got.status}, expected 407`);
          // One 407 carries the Type 2; a refused Type 3 gets a second (a bare `Negotiate`).
          const expected = which === 'good' ? 1 : 2;
          if (row[`${which}407`] !== expected) fail(`Samba's NTLM client under Negotiate (${which} password) over ${origin}: ${row[`${which}407`]} 407s, expected ${expected}`);
        }
        result[origin] = row;
      }
      report.ntlmInNegotiate = result;
    };

    const checkAll = async (): Promise<void> => {
      const proxy = rig.proxies['all' as S];
      const fail = (what: string): void => void problems.push(`all (${proxy.url}): ${what}`);
      const dir = join(out, 'all');
      await mkdir(dir);
      for (const origin of ['http', 'https'] as const) {
        const offered = await challenges(rig, proxy.url, urlOf(origin, files[0]!.path), origin, join(dir, `headers-${origin}`), fail);
        if (offered && offered.join() !== ALL_ORDER.join()) {
          fail(`no credentials over ${origin}: Proxy-Authenticate ${JSON.stringify(offered)}, expected ${JSON.stringify(ALL_ORDER)}`);
        }
        if (origin === 'http' && offered) report.allOffered = offered;
      }
      // Each scheme, asked for explicitly, is accepted; one URL per origin.
      for (const scheme of ['negotiate', 'ntlm', 'digest', 'basic'] as const) {
        const { option, user, env } = credentials(rig, scheme, 'good');
        const counts = { http: 0, https: 0 };
        for (const origin of ['http', 'https'] as const) {
          const before = await rig.count407('all' as S);
          const f = files[1]!;
          const file = join(dir, `${scheme}-${origin}`);
          const r = await curl([...WRITE_OUT, '-o', file, '--cacert', rig.ca, '--proxy', proxy.url, option, '-U', user, urlOf(origin, f.path)], env);
          const got = await readFile(file).catch(() => Buffer.alloc(0));
          if (r.code !== 0 || !r.stdout.startsWith('200 ') || !got.equals(f.bytes)) {
            fail(`${option} over ${origin}: curl exit ${r.code}, ${r.stdout.trim()} ${r.stderr.trim()}, ${got.length} bytes`);
            continue;
          }
          counts[origin] = (await rig.count407('all' as S)) - before;
          if (counts[origin] !== EXPECTED_407_ALL_ONE_URL[scheme][origin]) {
            fail(`${option} over ${origin}, one URL: ${counts[origin]} 407s, expected ${EXPECTED_407_ALL_ONE_URL[scheme][origin]}`);
          }
        }
        report.allCounts[scheme] = counts;
      }
    };

    // The squids are independent: check them side by side.
    await Promise.all(
      rig.schemes.map((s) => (s === 'all' ? checkAll() : checkScheme(s as Exclude<RigScheme, 'all'>))).map((p) =>
        p.catch((e: unknown) => void problems.push(`crashed: ${e instanceof Error ? e.stack : String(e)}`)),
      ),
    );

    // No credential ever reaches an origin: not the password, not any Proxy-Authorization or Authorization.
    const basicToken = Buffer.from(`${rig.user}:${rig.password}`).toString('base64');
    for (const o of [rig.httpOrigin, rig.httpsOrigin]) {
      const log = await readFile(o.accessLog, 'utf8').catch(() => '');
      if (!log.includes('_rig-selfcheck')) problems.push(`origin ${o.url}: its access log shows none of the self-check's requests`);
      for (const line of log.split('\n').filter(Boolean)) {
        if (line.includes(rig.password) || line.includes(basicToken) || !line.includes(' auth="-"') || !line.includes(' pauth="-"')) {
          problems.push(`origin ${o.url} received a credential: ${line}`);
          break;
        }
      }
    }
  } finally {
    await removeDir(out);
    await removeDir(storeDir);
  }
  report.ms = Date.now() - t0;
  if (problems.length > 0) {
    let logs = '';
    for (const s of rig.schemes) logs += `\n--- ${s} cache.log (last lines)\n${await tail(rig.proxies[s].cacheLog, 8)}`;
    throw new Error(`rig self-check failed: the test rig is broken, not symsrv (dir ${rig.dir}):\n  ${problems.join('\n  ')}${logs}`);
  }
  return report;
}

/** curl's proxy-auth option, -U value and environment for one scheme. */
function credentials<S extends RigScheme>(rig: Rig<S>, scheme: Exclude<RigScheme, 'all'>, which: 'good' | 'bad'): { option: string; user: string; env: Record<string, string> } {
  // negotiate-ntlm: curl speaks only Kerberos in Negotiate (checkNtlmInNegotiate covers the NTLM side).
  const option = scheme === 'negotiate-ntlm' ? '--proxy-negotiate' : `--proxy-${scheme}`;
  if (scheme === 'negotiate' || scheme === 'negotiate-ntlm') {
    // No password on the wire: "wrong" is a ccache without a ticket (curl then sends nothing).
    return { option, user: ':', env: { KRB5_CONFIG: rig.krb5.config, KRB5CCNAME: which === 'good' ? rig.krb5.ccache : rig.krb5.emptyCcache } };
  }
  const password = which === 'good' ? rig.password : `wrong-${rig.password}`;
  return { option, user: `${rig.user}:${password}`, env: { KRB5_CONFIG: rig.krb5.config, KRB5CCNAME: rig.krb5.emptyCcache } };
}

/** The status the proxy answered: the CONNECT's for HTTPS (curl exits 56 when it was not 200). */
function statusOf(r: Curl, origin: 'http' | 'https'): number {
  const [code, connect] = r.stdout.trim().split(' ');
  return Number(origin === 'https' ? connect : code);
}

/**
 * Asks without credentials; returns the schemes of the Proxy-Authenticate headers of the 407, in
 * order, or undefined (after `fail`) when the answer was not a 407.
 */
async function challenges<S extends RigScheme>(
  rig: Rig<S>,
  proxyUrl: string,
  url: string,
  origin: 'http' | 'https',
  headerFile: string,
  fail: (what: string) => void,
): Promise<string[] | undefined> {
  const r = await curl([...WRITE_OUT, '-o', '/dev/null', '-D', headerFile, '--cacert', rig.ca, '--proxy', proxyUrl, url], {});
  const status = statusOf(r, origin);
  if (status !== 407) {
    fail(`no credentials over ${origin}: ${status} (curl exit ${r.code}), expected 407`);
    return undefined;
  }
  const head = await readFile(headerFile, 'utf8').catch(() => '');
  return head
    .split(/\r?\n/)
    .filter((l) => /^proxy-authenticate:/i.test(l))
    .map((l) => l.slice(l.indexOf(':') + 1).trim().split(/\s+/)[0] ?? '');
}

/**
 * One request through the proxy with Samba's NTLM client (`ntlm_auth --helper-protocol=ntlmssp-client-1`,
 * squid's helper line protocol: `YR` gives the Type 1, `TT <Type 2>` the Type 3) under the
 * `Negotiate` scheme, on one connection, as Windows' SSPI does without a ticket. `GET url` or
 * `CONNECT host:port` (then the answer to the CONNECT is all we read). An independent reference:
 * no code of symsrv's is used.
 */
async function sambaNtlmInNegotiate(
  port: number,
  method: 'GET' | 'CONNECT',
  target: string,
  user: string,
  password: string,
  domain: string,
  smbConf: string,
): Promise<{ status: number; body: Buffer }> {
  const helper = spawn('ntlm_auth', ['--helper-protocol=ntlmssp-client-1', `--username=${user}`, `--domain=${domain}`, `--configfile=${smbConf}`], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  // The password goes in as `PW <base64>` (answered `OK`), not on the command line: it stays out of `ps`.
  const lines = createInterface({ input: helper.stdout! })[Symbol.asyncIterator]();
  const ask = async (line: string): Promise<string> => {
    helper.stdin!.write(`${line}\n`);
    const next = await lines.next();
    return next.done ? '' : next.value;
  };
  const socket = connect(port, '127.0.0.1');
  let buffered = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => void (buffered = Buffer.concat([buffered, d])));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const waitFor = async (ready: () => boolean): Promise<void> => {
    const end = Date.now() + 10_000;
    while (!ready() && Date.now() < end) await Promise.race([new Promise((r) => setTimeout(r, 5)), ended]);
  };
  const exchange = async (token: string): Promise<{ status: number; headers: string[]; body: Buffer }> => {
    buffered = Buffer.alloc(0);
    socket.write(`${method} ${target} HTTP/1.1\r\nHost: ${method === 'GET' ? new URL(target).host : target}\r\nProxy-Authorization: Negotiate ${token}\r\n\r\n`);
    await waitFor(() => buffered.includes('\r\n\r\n'));
    const end = buffered.indexOf('\r\n\r\n');
    const head = buffered.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(head[0]?.split(' ')[1] ?? 0);
    const length = Number(head.find((h) => /^content-length:/i.test(h))?.split(':')[1] ?? 0);
    if (method === 'CONNECT' && status === 200) return { status, headers: head, body: Buffer.alloc(0) };
    await waitFor(() => buffered.length >= end + 4 + length);
    return { status, headers: head, body: Buffer.from(buffered.subarray(end + 4, end + 4 + length)) };
  };
  try {
    const pw = await ask(`PW ${Buffer.from(password).toString('base64')}`);
    if (!pw.startsWith('OK')) throw new Error(`ntlm_auth did not take the password: ${pw}`);
    const type1 = await ask('YR');
    if (!type1.startsWith('YR ')) throw new Error(`ntlm_auth gave no Type 1: ${type1}`);
    const first = await exchange(type1.slice(3));
    const challenge = first.headers.find((h) => /^proxy-authenticate: negotiate \S/i.test(h));
    if (first.status !== 407 || !challenge) return { status: first.status, body: first.body };
    const type3 = await ask(`TT ${challenge.split(/\s+/)[2]}`);
    if (!/^(AF|KK) /.test(type3)) throw new Error(`ntlm_auth gave no Type 3: ${type3}`);
    const second = await exchange(type3.slice(3));
    return { status: second.status, body: second.body };
  } finally {
    socket.destroy();
    helper.kill();
  }
}

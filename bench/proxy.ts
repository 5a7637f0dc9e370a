/**
 * `npm run bench -- proxy` (bench/proxy-run.sh builds, then runs `node dist/bench/proxy.js run`).
 *
 * symsrv against curl through the authenticating-proxy rig (test/rig/rig.ts: one real squid per
 * scheme, Samba winbind for NTLM, an MIT KDC for Negotiate, nginx origins), for Basic, Digest,
 * NTLM and Negotiate, each to the HTTP origin (absolute-URI GETs) and to the HTTPS origin (CONNECT).
 * Both clients fetch the same 200 files of 64 KiB, 8 at a time, into fresh folders on tmpfs;
 * 3 rounds, the clients' order alternating; the table shows median wall times and the 407s each
 * run added to that squid's access.log (the rig's count407 difference around the run).
 * Targets: symsrv/curl <= 1.1, and symsrv causes no more 407s than curl.
 *
 * Root is needed (the rig runs squid and winbindd). Only one rig with NTLM can run per machine:
 * the rig waits up to 2 minutes for another one (e.g. a test run) to finish.
 *
 * The argument `run` is required: the test command runs every .js file under dist/ with
 * `node --test`, and this file must not start a benchmark there.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '../test/helpers/readers.js';
import { makeTempDir, removeDir } from '../test/helpers/tempdir.js';
import { startRig, type Rig } from '../test/rig/rig.js';
import { BenchSession } from './session.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FILES = Number(process.env.BENCH_PROXY_FILES ?? 200);
const FILE_BYTES = Number(process.env.BENCH_PROXY_FILE_KIB ?? 64) * 1024;
const JOBS = 8;
const TARGET_RATIO = 1.1;
const SHM = process.env.BENCH_TMPFS ?? '/dev/shm';
const MAIN = join(repoRoot, 'dist', 'bin', 'symsrv.js'); // the bundled command, as shipped
const FLOOR = join(repoRoot, 'dist', 'bench', 'floor.js');
const SCHEMES = ['basic', 'digest', 'ntlm', 'negotiate'] as const;
const ORIGINS = ['http', 'https'] as const;

type Scheme = (typeof SCHEMES)[number];
type Origin = (typeof ORIGINS)[number];
type Client = 'symsrv' | 'curl' | 'floor';

/** One client run: wall seconds, and what squid logged for it. */
interface Run {
  seconds: number;
  n407: number;
  /** Proxied GETs (`TCP_MISS/200`) over HTTP, tunnels (`TCP_TUNNEL/200`) over HTTPS. */
  carried: number;
}

// ---------------------------------------------------------------------------------------------
// Cleanup on every way out (session.ts). A rig still starting is not in `rig` yet: rig.ts's own
// exit hook kills what it started.

let rig: Rig<Scheme> | undefined;
const session = new BenchSession('bench proxy', async () => {
  await rig?.stop();
});

// ---------------------------------------------------------------------------------------------
// The store: one random file under FILES `.bin` keys (symsrv checks no identity for .bin).

async function buildStore(storeRoot: string): Promise<string[]> {
  const bytes = randomBytes(FILE_BYTES);
  const keys: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const key = `sym${i}.bin/${(0x1000 + i).toString(16).toUpperCase()}/sym${i}.bin`;
    await mkdir(join(storeRoot, key, '..'), { recursive: true });
    await writeFile(join(storeRoot, key), bytes);
    keys.push(key);
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// The two clients

/**
 * A clean environment for a client: none of the caller's *_proxy / NO_PROXY variables (NO_PROXY
 * covering localhost would bypass the proxy), no NODE_OPTIONS, no CURL_CA_BUNDLE. Kerberos points
 * at the rig's KDC; the ticket is there only for Negotiate, so no other run can fall into it.
 */
function cleanEnv(r: Rig<Scheme>, scheme: Scheme): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    KRB5_CONFIG: r.krb5.config,
    KRB5CCNAME: scheme === 'negotiate' ? r.krb5.ccache : r.krb5.emptyCcache,
  };
  if (process.env.HOME) env.HOME = process.env.HOME;
  return env;
}

/** Runs one command, timing its wall clock from spawn to exit; `input` goes to its stdin. */
async function timed(cmd: string, args: string[], env: Record<string, string>, input = ''): Promise<{ seconds: number; code: number | null; stdout: string; stderr: string }> {
  if (session.interrupted) throw new Error('interrupted'); // cleanup() is stopping the rig: start nothing more
  const t0 = performance.now();
  const c = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  session.child = c;
  let stdout = '';
  let stderr = '';
  c.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  c.stdin!.on('error', () => {}); // EPIPE from a client that did not read its stdin: not news
  c.stdin!.end(input);
  const code = await new Promise<number | null>((resolve, reject) => {
    c.once('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    c.once('close', (status) => resolve(status));
  });
  const seconds = (performance.now() - t0) / 1000;
  session.child = undefined;
  return { seconds, code, stdout, stderr };
}

async function checkSize(file: string, who: Client, key: string): Promise<void> {
  const size = (await stat(file)).size;
  if (size !== FILE_BYTES) throw new Error(`${who} wrote ${size} bytes for ${key} (${file}), the store has ${FILE_BYTES}`);
}

async function runSymsrv(r: Rig<Scheme>, scheme: Scheme, base: string, keys: string[]): Promise<number> {
  const cache = await makeTempDir('symsrv-', session.work!);
  try {
    const env = cleanEnv(r, scheme);
    if (scheme !== 'negotiate') {
      // The password travels in the environment, never on a command line (ps would show it).
      // NTLM users type DOMAIN\user; Basic and Digest users a plain name.
      env.SYMSRV_PROXY_USER = scheme === 'ntlm' ? `${r.domain}\\${r.user}` : r.user;
      env.SYMSRV_PROXY_PASSWORD = r.password;
    }
    // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles symsrv's runs.
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    // --proxy-auth SCHEME: told the scheme, as curl is with --proxy-SCHEME.
    const args = [...nodeArgs, MAIN, 'fetch', '-y', `srv*${cache}*${base}`, '--jobs', String(JOBS), '--proxy', r.proxies[scheme].url, '--proxy-auth', scheme, '--cacert', r.ca, ...keys.flatMap((k) => ['--key', k])];
    const x = await timed(process.execPath, args, env);
    if (x.code !== 0) throw new Error(`symsrv fetch (${scheme}, ${base}) exited with ${x.code}:\n${x.stderr.slice(-2000)}${x.stdout.slice(0, 2000)}`);
    const found = new Map<string, string>();
    for (const line of x.stdout.split('\n')) {
      const m = /^found (\S+) (.+)$/.exec(line);
      if (m) found.set(m[1]!, m[2]!);
    }
    for (const key of keys) {
      const path = found.get(key);
      if (!path) throw new Error(`symsrv did not report "found ${key} PATH" (${scheme}, ${base})`);
      if (!path.startsWith(cache + sep)) throw new Error(`symsrv reported ${path} for ${key}, outside its cache ${cache}`);
      await checkSize(path, 'symsrv', key);
    }
    return x.seconds;
  } finally {
    await removeDir(cache);
  }
}

async function runCurl(r: Rig<Scheme>, scheme: Scheme, base: string, keys: string[]): Promise<number> {
  const out = await makeTempDir('curl-', session.work!);
  try {
    // -q first: no ~/.curlrc. The credentials come on stdin as a config file (-K -), so the
    // password is not on the command line either. Negotiate takes its ticket from KRB5CCNAME;
    // curl needs a user set (":") to try it at all.
    const user = scheme === 'negotiate' ? ':' : `${r.user}:${r.password}`;
    const args = ['-q', '-K', '-', '--silent', '--show-error', '--no-progress-meter', '--fail', '--parallel', '--parallel-max', String(JOBS)];
    args.push('--proxy', r.proxies[scheme].url, `--proxy-${scheme}`, '--cacert', r.ca);
    keys.forEach((key, i) => args.push('-o', join(out, String(i)), `${base}/${key}`));
    const x = await timed('curl', args, cleanEnv(r, scheme), `proxy-user = "${user}"\n`);
    if (x.code !== 0) throw new Error(`curl (${scheme}, ${base}) exited with ${x.code}: ${x.stderr.slice(-2000)}`);
    const names = await readdir(out);
    if (names.length !== keys.length) throw new Error(`curl wrote ${names.length} files, expected ${keys.length} (${scheme}, ${base})`);
    for (const [i, key] of keys.entries()) await checkSize(join(out, String(i)), 'curl', key);
    return x.seconds;
  } finally {
    await removeDir(out);
  }
}

/**
 * The Node floor (bench/floor.ts) through the Basic squid to the HTTP origin: plain node:http
 * with a pre-emptive Basic header, the least any Node client costs through this proxy.
 */
async function runFloor(r: Rig<Scheme>, base: string, keys: string[]): Promise<number> {
  const out = await makeTempDir('floor-', session.work!);
  try {
    const env = { ...cleanEnv(r, 'basic'), FLOOR_PROXY: r.proxies.basic.url, FLOOR_PROXY_USER: r.user, FLOOR_PROXY_PASSWORD: r.password };
    const x = await timed(process.execPath, [FLOOR, 'run', out, ...keys.map((k) => `${base}/${k}`)], env);
    if (x.code !== 0) throw new Error(`the node floor exited with ${x.code}: ${x.stderr.slice(-2000)}`);
    for (const [i, key] of keys.entries()) await checkSize(join(out, String(i)), 'floor', key);
    return x.seconds;
  } finally {
    await removeDir(out);
  }
}

/**
 * What squid's access.log holds so far for one scheme: 407s, proxied GETs, tunnels. count407
 * first waits until no client connection to that squid is open (a tunnel's line is written when
 * it closes), so the log is complete when it is read here.
 */
async function tally(r: Rig<Scheme>, scheme: Scheme): Promise<{ n407: number; miss: number; tunnel: number }> {
  const n407 = await r.count407(scheme);
  const lines = (await readFile(r.proxies[scheme].accessLog, 'utf8').catch(() => '')).split('\n');
  return { n407, miss: lines.filter((l) => l.includes(' TCP_MISS/200 ')).length, tunnel: lines.filter((l) => l.includes(' TCP_TUNNEL/200 ')).length };
}

async function measure(r: Rig<Scheme>, who: Client, scheme: Scheme, origin: Origin, keys: string[]): Promise<Run> {
  const base = `${origin === 'http' ? r.httpOrigin.url : r.httpsOrigin.url}/store`;
  const before = await tally(r, scheme);
  const seconds = who === 'floor' ? await runFloor(r, base, keys) : await (who === 'symsrv' ? runSymsrv : runCurl)(r, scheme, base, keys);
  const after = await tally(r, scheme);
  const carried = origin === 'http' ? after.miss - before.miss : after.tunnel - before.tunnel;
  // Proof that the run went through the proxy: over HTTP every file is one proxied GET.
  if (origin === 'http' ? carried < keys.length : carried < 1) {
    throw new Error(`${who} ${scheme} ${origin}: squid logged ${carried} ${origin === 'http' ? 'proxied GETs' : 'tunnels'}; did the client bypass the proxy?`);
  }
  return { seconds, n407: after.n407 - before.n407, carried };
}

// ---------------------------------------------------------------------------------------------

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** "8", or "8-9" when the rounds differ. */
const spread = (xs: number[]): string => (Math.min(...xs) === Math.max(...xs) ? String(xs[0]) : `${Math.min(...xs)}-${Math.max(...xs)}`);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c <= 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} does not exist: build first (npm run build)`);
  if (!existsSync(SHM)) throw new Error(`${SHM} does not exist: set BENCH_TMPFS to a tmpfs folder`);
  const t0 = performance.now();
  session.work = await makeTempDir('symsrv-proxy-bench-', SHM);
  rig = await startRig({ schemes: [...SCHEMES], winbindWaitMs: 120_000 });
  const keys = await buildStore(rig.storeRoot);
  process.stderr.write(
    `bench proxy: rig up and ${FILES} x ${FILE_BYTES / 1024} KiB in its store in ${((performance.now() - t0) / 1000).toFixed(1)} s; outputs on ${SHM}\n` +
      `bench proxy: symsrv = node ${MAIN} fetch --jobs ${JOBS}; curl = curl --parallel --parallel-max ${JOBS} --proxy-<scheme>; ${ROUNDS} rounds\n`,
  );

  const startup: number[] = [];
  for (let i = 0; i < 3; i++) startup.push((await timed(process.execPath, ['-e', '0'], { PATH: process.env.PATH ?? '/usr/bin:/bin' })).seconds);

  const results: Array<{ scheme: Scheme; origin: Origin; symsrv: Run[]; curl: Run[]; floor: Run[] }> = [];
  for (const scheme of SCHEMES) {
    for (const origin of ORIGINS) {
      const cell = { scheme, origin, symsrv: [] as Run[], curl: [] as Run[], floor: [] as Run[] };
      // The Node floor only where it is plain node:http: Basic, absolute-URI GETs to the HTTP origin.
      const floor = scheme === 'basic' && origin === 'http';
      for (let round = 0; round < ROUNDS; round++) {
        const order: Client[] = round % 2 === 0 ? ['symsrv', 'curl', ...(floor ? (['floor'] as const) : [])] : [...(floor ? (['floor'] as const) : []), 'curl', 'symsrv'];
        for (const who of order) {
          const x = await measure(rig, who, scheme, origin, keys);
          cell[who].push(x);
          const what = origin === 'http' ? 'proxied GETs' : 'tunnels';
          process.stderr.write(`bench proxy: ${scheme} ${origin}, round ${round + 1}: ${who.padEnd(6)} ${x.seconds.toFixed(3)} s, ${x.n407} x 407, ${x.carried} ${what}\n`);
        }
      }
      results.push(cell);
    }
  }

  const rows = [['scheme', 'origin', 'symsrv s', 'curl s', `symsrv/curl (target <= ${TARGET_RATIO})`, "symsrv 407s (target <= curl's)", 'curl 407s', 'node floor s']];
  for (const { scheme, origin, symsrv, curl, floor } of results) {
    const a = median(symsrv.map((x) => x.seconds));
    const b = median(curl.map((x) => x.seconds));
    const ratio = a / b;
    const s407 = symsrv.map((x) => x.n407);
    const c407 = curl.map((x) => x.n407);
    rows.push([
      scheme,
      origin === 'http' ? 'HTTP' : 'HTTPS (CONNECT)',
      a.toFixed(3),
      b.toFixed(3),
      `${ratio.toFixed(2)} ${ratio <= TARGET_RATIO ? 'ok' : 'OVER'}`,
      `${spread(s407)} ${Math.max(...s407) <= Math.min(...c407) ? 'ok' : 'OVER'}`,
      spread(c407),
      floor.length > 0 ? median(floor.map((x) => x.seconds)).toFixed(3) : '-',
    ]);
  }
  process.stdout.write(
    `\n${table(rows)}\n\n(times: median of ${ROUNDS} rounds, wall clock incl. process start, ${FILES} files of ${FILE_BYTES / 1024} KiB, ${JOBS} at a time;\n` +
      ` 407s: TCP_DENIED/407 lines each run added to that squid's access.log, "a-b" when rounds differed, ok only if symsrv's most <= curl's fewest;\n` +
      ` node start-up alone, \`node -e 0\`: ${median(startup).toFixed(3)} s, part of every symsrv time;\n` +
      ` node floor: bench/floor.ts, plain node:http with a Basic header, no store, no checks: what any Node client costs at least)\n`,
  );
}

if (process.argv[2] === 'run') {
  main()
    .catch((err: unknown) => {
      if (session.interrupted) return; // the child we killed failed: not news
      process.stderr.write(`bench proxy: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => session.cleanup());
} else if (process.argv[1]?.endsWith('proxy.js') && !process.env.NODE_TEST_CONTEXT) {
  process.stderr.write('usage: node dist/bench/proxy.js run   (or: npm run bench -- proxy)\n');
}

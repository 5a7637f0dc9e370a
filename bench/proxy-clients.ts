/**
 * What the proxy benchmarks share (bench/proxy.ts on loopback, bench/wan.ts behind the latency
 * relay): the store of FILES x FILE_BYTES `.bin` keys in the rig, the two clients (symsrv fetch
 * --jobs 8, curl --parallel --parallel-max 8 told the scheme) run with clean environments and
 * checked file by file, and the table helpers.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '../test/helpers/readers.js';
import { makeTempDir, removeDir } from '../test/helpers/tempdir.js';
import type { Rig } from '../test/rig/rig.js';
import type { BenchSession } from './session.js';

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
export const FILES = Number(process.env.BENCH_PROXY_FILES ?? 200);
export const FILE_BYTES = Number(process.env.BENCH_PROXY_FILE_KIB ?? 64) * 1024;
export const JOBS = 8;
export const SHM = process.env.BENCH_TMPFS ?? '/dev/shm';
export const MAIN = join(repoRoot, 'dist', 'bin', 'symsrv.js'); // the bundled command, as shipped
export const SCHEMES = ['basic', 'digest', 'ntlm', 'negotiate'] as const;
export const ORIGINS = ['http', 'https'] as const;

export type Scheme = (typeof SCHEMES)[number];
export type Origin = (typeof ORIGINS)[number];
export type Client = 'symsrv' | 'curl' | 'floor';

/** A benchmark's rig and session; `proxies` overrides the proxy URL per scheme (the WAN relay's). */
export interface BenchContext {
  rig: Rig<Scheme>;
  session: BenchSession;
  proxies?: Partial<Record<Scheme, string>>;
}

const proxyUrl = (ctx: BenchContext, scheme: Scheme): string => ctx.proxies?.[scheme] ?? ctx.rig.proxies[scheme].url;

// ---------------------------------------------------------------------------------------------
// The store: one random file under FILES `.bin` keys (symsrv checks no identity for .bin).

export async function buildStore(storeRoot: string): Promise<string[]> {
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
export function cleanEnv(r: Rig<Scheme>, scheme: Scheme): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    KRB5_CONFIG: r.krb5.config,
    KRB5CCNAME: scheme === 'negotiate' ? r.krb5.ccache : r.krb5.emptyCcache,
  };
  if (process.env.HOME) env.HOME = process.env.HOME;
  return env;
}

/** Runs one command, timing its wall clock from spawn to exit; `input` goes to its stdin. */
export async function timed(session: BenchSession, cmd: string, args: string[], env: Record<string, string>, input = ''): Promise<{ seconds: number; code: number | null; stdout: string; stderr: string }> {
  if (session.interrupted) throw new Error('interrupted'); // cleanup() is stopping the rig: start nothing more
  const t0 = performance.now();
  session.spawnedAt = performance.timeOrigin + t0;
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

export async function checkSize(file: string, who: Client, key: string): Promise<void> {
  const size = (await stat(file)).size;
  if (size !== FILE_BYTES) throw new Error(`${who} wrote ${size} bytes for ${key} (${file}), the store has ${FILE_BYTES}`);
}

export async function runSymsrv(ctx: BenchContext, scheme: Scheme, base: string, keys: string[]): Promise<number> {
  const { rig: r, session } = ctx;
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
    const args = [...nodeArgs, MAIN, 'fetch', '-y', `srv*${cache}*${base}`, '--jobs', String(JOBS), '--proxy', proxyUrl(ctx, scheme), '--proxy-auth', scheme, '--cacert', r.ca, ...keys.flatMap((k) => ['--key', k])];
    const x = await timed(session, process.execPath, args, env);
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

export async function runCurl(ctx: BenchContext, scheme: Scheme, base: string, keys: string[]): Promise<number> {
  const { rig: r, session } = ctx;
  const out = await makeTempDir('curl-', session.work!);
  try {
    // -q first: no ~/.curlrc. The credentials come on stdin as a config file (-K -), so the
    // password is not on the command line either. Negotiate takes its ticket from KRB5CCNAME;
    // curl needs a user set (":") to try it at all.
    const user = scheme === 'negotiate' ? ':' : `${r.user}:${r.password}`;
    const args = ['-q', '-K', '-', '--silent', '--show-error', '--no-progress-meter', '--fail', '--parallel', '--parallel-max', String(JOBS)];
    args.push('--proxy', proxyUrl(ctx, scheme), `--proxy-${scheme}`, '--cacert', r.ca);
    keys.forEach((key, i) => args.push('-o', join(out, String(i)), `${base}/${key}`));
    const x = await timed(session, 'curl', args, cleanEnv(r, scheme), `proxy-user = "${user}"\n`);
    if (x.code !== 0) throw new Error(`curl (${scheme}, ${base}) exited with ${x.code}: ${x.stderr.slice(-2000)}`);
    const names = await readdir(out);
    if (names.length !== keys.length) throw new Error(`curl wrote ${names.length} files, expected ${keys.length} (${scheme}, ${base})`);
    for (const [i, key] of keys.entries()) await checkSize(join(out, String(i)), 'curl', key);
    return x.seconds;
  } finally {
    await removeDir(out);
  }
}


export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** "8", or "8-9" when the rounds differ. */
export const spread = (xs: number[]): string => (Math.min(...xs) === Math.max(...xs) ? String(xs[0]) : `${Math.min(...xs)}-${Math.max(...xs)}`);

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c <= 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}


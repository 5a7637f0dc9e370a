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
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '../test/helpers/readers.js';
import { makeTempDir, removeDir } from '../test/helpers/tempdir.js';
import { startRig, type Rig } from '../test/rig/rig.js';
import { buildStore, checkSize, cleanEnv, FILE_BYTES, FILES, JOBS, MAIN, median, ORIGINS, ROUNDS, runCurl, runSymsrv, SCHEMES, SHM, spread, table, timed, type Client, type Origin, type Scheme } from './proxy-clients.js';
import { BenchSession } from './session.js';

const TARGET_RATIO = 1.1;
const FLOOR = join(repoRoot, 'dist', 'bench', 'floor.js');

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

/**
 * The Node floor (bench/floor.ts) through the Basic squid to the HTTP origin: plain node:http
 * with a pre-emptive Basic header, the least any Node client costs through this proxy.
 */
async function runFloor(r: Rig<Scheme>, base: string, keys: string[]): Promise<number> {
  const out = await makeTempDir('floor-', session.work!);
  try {
    const env = { ...cleanEnv(r, 'basic'), FLOOR_PROXY: r.proxies.basic.url, FLOOR_PROXY_USER: r.user, FLOOR_PROXY_PASSWORD: r.password };
    const x = await timed(session, process.execPath, [FLOOR, 'run', out, ...keys.map((k) => `${base}/${k}`)], env);
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
  const seconds = who === 'floor' ? await runFloor(r, base, keys) : await (who === 'symsrv' ? runSymsrv : runCurl)({ rig: r, session }, scheme, base, keys);
  const after = await tally(r, scheme);
  const carried = origin === 'http' ? after.miss - before.miss : after.tunnel - before.tunnel;
  // Proof that the run went through the proxy: over HTTP every file is one proxied GET.
  if (origin === 'http' ? carried < keys.length : carried < 1) {
    throw new Error(`${who} ${scheme} ${origin}: squid logged ${carried} ${origin === 'http' ? 'proxied GETs' : 'tunnels'}; did the client bypass the proxy?`);
  }
  return { seconds, n407: after.n407 - before.n407, carried };
}

// ---------------------------------------------------------------------------------------------

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
  for (let i = 0; i < 3; i++) startup.push((await timed(session, process.execPath, ['-e', '0'], { PATH: process.env.PATH ?? '/usr/bin:/bin' })).seconds);

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

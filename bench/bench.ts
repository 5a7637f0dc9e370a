/**
 * `npm run bench` (bench/run.sh builds, then runs `node dist/bench/bench.js run`).
 *
 * symsrv against curl, both downloading the same URLs from the same real nginx on 127.0.0.1,
 * 8 at a time, into fresh folders on tmpfs (/dev/shm: on this machine's ext4 with `discard`,
 * deleting and writing files dominates small runs; see /work/shared/notes/proxy-rig.md).
 * Scenarios: 200 small ELF debug files, and one ELF debug file of 1 GiB. Each file is a real ELF
 * debug file whose GNU build-id note matches its key, so a validating client accepts it.
 * 3 rounds, the two clients' order alternating; the table shows medians.
 *
 * The argument `run` is required: the test command runs every .js file under dist/ with
 * `node --test`, and this file must not start a benchmark there.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomFill } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startNginx, type NginxServer } from '../test/helpers/nginx.js';
import { repoRoot } from '../test/helpers/readers.js';
import { buildStore } from '../test/helpers/store.js';
import { makeTempDir } from '../test/helpers/tempdir.js';
import { buildTestbins } from '../test/helpers/testbins.js';
import { BenchSession } from './session.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SMALL_FILES = Number(process.env.BENCH_SMALL_FILES ?? 200);
/** Padding added to each small file (a real small debug file is tens of KiB). */
const SMALL_PAD = Number(process.env.BENCH_SMALL_PAD_KIB ?? 64) * 1024;
const BIG_BYTES = Number(process.env.BENCH_BIG_MIB ?? 1024) * 1024 * 1024;
const JOBS = 8;
/** Keys (or URLs) per command line; 200 keys take about 14 KB of argv, far below the limit. */
const ARGV_CHUNK = 2000;
const TARGET_RATIO = 1.1;
const TARGET_RSS_MB = 150;
const SHM = process.env.BENCH_TMPFS ?? '/dev/shm';
const MAIN = join(repoRoot, 'dist', 'bin', 'symsrv.js'); // the bundled command, as shipped
const FLOOR = join(repoRoot, 'dist', 'bench', 'floor.js');
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
/**
 * The clients' environment: the caller's, without what changes one client and not the other.
 * NODE_EXTRA_CA_CERTS makes every Node process parse that bundle at start-up (~30 ms for a
 * system bundle, measured: more than Node's own start-up) although these HTTP runs use no TLS;
 * NODE_OPTIONS could load anything; proxy variables would send curl through a proxy.
 */
const CLEAN_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(NODE_EXTRA_CA_CERTS|NODE_OPTIONS|(https?|all|no)_proxy)$/i.test(k)),
) as NodeJS.ProcessEnv;

interface Scenario {
  name: string;
  keys: string[];
  /** Size of each key's file. */
  sizes: Map<string, number>;
}

interface Run {
  seconds: number;
  /** Peak resident set, MB (of the client process). */
  rssMb: number;
}

// ---------------------------------------------------------------------------------------------
// Cleanup on every way out (session.ts).

let nginx: NginxServer | undefined;
const session = new BenchSession('bench', async () => {
  await nginx?.stop();
});

// ---------------------------------------------------------------------------------------------
// The store: real ELF debug files, each under the key of its own build-id.

/** The 16-byte header of a GNU build-id note with a 20-byte descriptor (namesz 4, descsz 20, NT_GNU_BUILD_ID, "GNU\0"). */
const BUILD_ID_NOTE = Buffer.from([4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, 0x47, 0x4e, 0x55, 0]);

/** Offset of the build-id bytes in an ELF file (it must have exactly one such note in `head`). */
function buildIdOffset(head: Buffer, file: string): number {
  const at = head.indexOf(BUILD_ID_NOTE);
  if (at < 0 || head.indexOf(BUILD_ID_NOTE, at + 1) >= 0) throw new Error(`${file}: expected exactly one GNU build-id note`);
  return at + BUILD_ID_NOTE.length;
}

const elfKey = (id: Buffer): string => `_.debug/elf-buildid-sym-${id.toString('hex')}/_.debug`;

/** Runs a tool as `child` (so a signal can stop it) and fails with its stderr. */
async function run(cmd: string, args: string[]): Promise<void> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  session.child = c;
  let stderr = '';
  c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    c.once('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    c.once('close', resolve);
  });
  session.child = undefined;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr}`);
}

/** `objcopy --add-section .bench=pad`: the ELF stays valid and keeps its build-id note. */
function addPadding(base: string, pad: string, out: string): Promise<void> {
  return run('objcopy', ['--add-section', `.bench=${pad}`, '--set-section-flags', '.bench=readonly', base, out]);
}

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const chunk = Buffer.alloc(Math.min(bytes, 8 * 1024 * 1024));
    for (let done = 0; done < bytes; ) {
      const n = Math.min(chunk.length, bytes - done);
      await new Promise<void>((resolve, reject) => randomFill(chunk, 0, n, (err) => (err ? reject(err) : resolve())));
      await fh.write(chunk, 0, n, done);
      done += n;
    }
  } finally {
    await fh.close();
  }
}

async function smallScenario(store: string, baseDebug: string): Promise<Scenario> {
  const pad = join(session.work!, 'small.pad');
  const padded = join(session.work!, 'small.debug');
  await writeRandomFile(pad, SMALL_PAD);
  await addPadding(baseDebug, pad, padded);
  const template = await readFile(padded);
  const at = buildIdOffset(template, padded);
  const keys: string[] = [];
  const sizes = new Map<string, number>();
  for (let i = 0; i < SMALL_FILES; i++) {
    const id = randomBytes(20);
    id.copy(template, at);
    const key = elfKey(id);
    await mkdir(join(store, key, '..'), { recursive: true });
    await writeFile(join(store, key), template);
    keys.push(key);
    sizes.set(key, template.length);
  }
  await unlink(pad);
  await unlink(padded);
  return { name: `${SMALL_FILES} small files`, keys, sizes };
}

async function bigScenario(store: string, baseDebug: string): Promise<Scenario> {
  const pad = join(session.work!, 'big.pad');
  const staged = join(session.work!, 'big.debug');
  await writeRandomFile(pad, BIG_BYTES);
  await addPadding(baseDebug, pad, staged);
  await unlink(pad);
  // A build-id of its own, written in place (the note is in the first pages, before .bench).
  const fh = await open(staged, 'r+');
  const id = randomBytes(20);
  try {
    const head = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    await fh.write(id, 0, id.length, buildIdOffset(head.subarray(0, bytesRead), staged));
  } finally {
    await fh.close();
  }
  const key = elfKey(id);
  await mkdir(join(store, key, '..'), { recursive: true });
  await rename(staged, join(store, key));
  const size = (await stat(join(store, key))).size;
  const name = BIG_BYTES >= 2 ** 30 ? `${+(BIG_BYTES / 2 ** 30).toFixed(2)} GiB file` : `${+(BIG_BYTES / 2 ** 20).toFixed(2)} MiB file`;
  return { name, keys: [key], sizes: new Map([[key, size]]) };
}

/** Checks a file's build-id with readelf (an independent reader), when readelf is installed. */
function checkBuildId(file: string, key: string): void {
  const r = spawnSync('readelf', ['-n', file], { encoding: 'utf8' });
  if (r.error) return;
  const id = /Build ID:\s*([0-9a-f]+)/.exec(r.stdout)?.[1];
  if (!key.includes(`elf-buildid-sym-${id}/`)) throw new Error(`${file}: readelf reads build-id ${id}, the key is ${key}`);
}

// ---------------------------------------------------------------------------------------------
// The two clients

/**
 * Runs one command, timing its wall clock from spawn to exit, and its peak RSS:
 * with GNU time's %M when /usr/bin/time exists, else by polling VmHWM in /proc/PID/status.
 */
async function timed(cmd: string, args: string[]): Promise<{ seconds: number; rssKb: number; stdout: string; stderr: string; code: number | null }> {
  const rssFile = join(session.work!, `rss-${process.hrtime.bigint()}`);
  const [file, argv] = TIME ? [TIME, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const c = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: CLEAN_ENV });
  session.child = c;
  let stdout = '';
  let stderr = '';
  c.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let polledKb = 0;
  const poll = TIME
    ? undefined
    : setInterval(() => {
        readFile(`/proc/${c.pid}/status`, 'utf8')
          .then((s) => (polledKb = Math.max(polledKb, Number(/VmHWM:\s*(\d+)/.exec(s)?.[1] ?? 0))))
          .catch(() => {});
      }, 20);
  const code = await new Promise<number | null>((resolve, reject) => {
    c.once('error', reject);
    c.once('close', (status) => resolve(status));
  });
  const seconds = (performance.now() - t0) / 1000;
  if (poll) clearInterval(poll);
  session.child = undefined;
  let rssKb = polledKb;
  if (TIME) {
    const text = await readFile(rssFile, 'utf8').catch(() => '');
    await unlink(rssFile).catch(() => {});
    // GNU time writes "Command exited with non-zero status N" before the figure when it fails.
    rssKb = Number(text.trim().split('\n').at(-1));
  }
  return { seconds, rssKb, stdout, stderr, code };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function runSymsrv(s: Scenario, base: string): Promise<Run> {
  const cache = await makeTempDir('cache-', session.work!);
  try {
    let seconds = 0;
    let rssKb = 0;
    const found = new Map<string, string>();
    for (const part of chunks(s.keys, ARGV_CHUNK)) {
      // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles symsrv's runs.
      const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
      const args = [...nodeArgs, MAIN, 'fetch', '-y', `srv*${cache}*${base}`, '--jobs', String(JOBS), ...part.flatMap((k) => ['--key', k])];
      const r = await timed(process.execPath, args);
      if (r.code !== 0) throw new Error(`symsrv fetch exited with ${r.code}:\n${r.stderr}${r.stdout.slice(0, 2000)}`);
      seconds += r.seconds;
      rssKb = Math.max(rssKb, r.rssKb);
      for (const line of r.stdout.split('\n')) {
        const m = /^found (\S+) (.+)$/.exec(line);
        if (m) found.set(m[1]!, m[2]!);
      }
    }
    for (const key of s.keys) {
      const path = found.get(key);
      if (!path) throw new Error(`symsrv did not report "found ${key} PATH"`);
      const size = (await stat(path)).size;
      if (size !== s.sizes.get(key)) throw new Error(`symsrv wrote ${size} bytes for ${key}, the store has ${s.sizes.get(key)}`);
    }
    return { seconds, rssMb: rssKb / 1024 };
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

/** The Node floor (bench/floor.ts): plain node:http into files, the least a Node client does. */
async function runFloor(s: Scenario, base: string): Promise<Run> {
  const out = await makeTempDir('floor-', session.work!);
  try {
    const r = await timed(process.execPath, [FLOOR, 'run', out, ...s.keys.map((k) => `${base}/${k}`)]);
    if (r.code !== 0) throw new Error(`the node floor exited with ${r.code}: ${r.stderr.slice(-2000)}`);
    for (const [i, key] of s.keys.entries()) {
      const size = (await stat(join(out, String(i)))).size;
      if (size !== s.sizes.get(key)) throw new Error(`the node floor wrote ${size} bytes for ${key}, the store has ${s.sizes.get(key)}`);
    }
    return { seconds: r.seconds, rssMb: r.rssKb / 1024 };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function runCurl(s: Scenario, base: string): Promise<Run> {
  const out = await makeTempDir('curl-', session.work!);
  try {
    let seconds = 0;
    let rssKb = 0;
    const indexed = s.keys.map((key, i) => ({ key, i }));
    for (const part of chunks(indexed, ARGV_CHUNK)) {
      const args = ['-s', '--fail', '--parallel', '--parallel-max', String(JOBS)];
      for (const { key, i } of part) args.push('-o', join(out, String(i)), `${base}/${key}`);
      const r = await timed('curl', args);
      if (r.code !== 0) throw new Error(`curl exited with ${r.code}: ${r.stderr.slice(-2000)}`);
      seconds += r.seconds;
      rssKb = Math.max(rssKb, r.rssKb);
    }
    const names = await readdir(out);
    if (names.length !== s.keys.length) throw new Error(`curl wrote ${names.length} files, expected ${s.keys.length}`);
    for (const { key, i } of indexed) {
      const size = (await stat(join(out, String(i)))).size;
      if (size !== s.sizes.get(key)) throw new Error(`curl wrote ${size} bytes for ${key}, the store has ${s.sizes.get(key)}`);
    }
    return { seconds, rssMb: rssKb / 1024 };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const only = process.argv.slice(3); // optional scenario filter: "small", "big"
  const missing = ['curl', 'objcopy', 'gcc', 'clang-14', 'lld-link-14', '/usr/sbin/nginx'].filter(
    (t) => spawnSync(t, ['--version'], { stdio: 'ignore' }).error !== undefined,
  );
  if (missing.length > 0) throw new Error(`missing tools: ${missing.join(', ')} (apt-get install curl binutils gcc clang-14 lld-14 nginx-light)`);
  if (!existsSync(MAIN)) throw new Error(`${MAIN} does not exist: build first (npm run build)`);
  if (!existsSync(SHM)) throw new Error(`${SHM} does not exist: set BENCH_TMPFS to a tmpfs folder`);

  const work = (session.work = await makeTempDir('symsrv-bench-', SHM));
  const store = join(work, 'store');
  const t0 = performance.now();
  const bins = await buildTestbins();
  await buildStore(store, []);
  const scenarios: Scenario[] = [];
  if (only.length === 0 || only.includes('small')) scenarios.push(await smallScenario(store, bins.elf.debug));
  if (only.length === 0 || only.includes('big')) scenarios.push(await bigScenario(store, bins.elf.debug));
  for (const s of scenarios) checkBuildId(join(store, s.keys[0]!), s.keys[0]!);
  nginx = await startNginx({ root: store });
  const base = `${nginx.url}/store`;
  process.stderr.write(`bench: store of ${scenarios.map((s) => s.name).join(' + ')} built on ${SHM} in ${((performance.now() - t0) / 1000).toFixed(1)} s; nginx ${nginx.url}\n`);
  process.stderr.write(`bench: symsrv = node ${MAIN} fetch --jobs ${JOBS}; curl = curl --parallel --parallel-max ${JOBS}; node floor = node ${FLOOR}; ${ROUNDS} rounds\n`);

  const startup: number[] = [];
  for (let i = 0; i < 3; i++) startup.push((await timed(process.execPath, ['-e', '0'])).seconds);

  const results: Array<{ s: Scenario; symsrv: Run[]; curl: Run[]; floor: Run[] }> = [];
  for (const s of scenarios) {
    const r = { s, symsrv: [] as Run[], curl: [] as Run[], floor: [] as Run[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['symsrv', 'curl', 'floor'] as const) : (['floor', 'curl', 'symsrv'] as const);
      for (const who of order) {
        const x = who === 'symsrv' ? await runSymsrv(s, base) : who === 'curl' ? await runCurl(s, base) : await runFloor(s, base);
        r[who].push(x);
        process.stderr.write(`bench: ${s.name}, round ${round + 1}: ${who.padEnd(6)} ${x.seconds.toFixed(3)} s, peak RSS ${x.rssMb.toFixed(0)} MB\n`);
      }
    }
    results.push(r);
  }

  const rows = [['scenario', 'symsrv s', 'curl s', `symsrv/curl (target <= ${TARGET_RATIO})`, 'node floor s', 'symsrv/floor', `symsrv peak RSS MB (target < ${TARGET_RSS_MB})`, 'curl peak RSS MB', 'largest file MB']];
  for (const { s, symsrv, curl, floor } of results) {
    const a = median(symsrv.map((x) => x.seconds));
    const b = median(curl.map((x) => x.seconds));
    const f = median(floor.map((x) => x.seconds));
    const rss = Math.max(...symsrv.map((x) => x.rssMb));
    const largest = Math.max(...s.sizes.values()) / 2 ** 20;
    const ratio = a / b;
    rows.push([
      s.name,
      a.toFixed(3),
      b.toFixed(3),
      `${ratio.toFixed(2)} ${ratio <= TARGET_RATIO ? 'ok' : 'OVER'}`,
      f.toFixed(3),
      (a / f).toFixed(2),
      `${rss.toFixed(0)} ${rss < TARGET_RSS_MB ? 'ok' : 'OVER'}`,
      Math.max(...curl.map((x) => x.rssMb)).toFixed(0),
      largest >= 10 ? largest.toFixed(0) : largest.toFixed(3),
    ]);
  }
  process.stdout.write(
    `\n${table(rows)}\n\n(times: median of ${ROUNDS} rounds, wall clock incl. process start; RSS: the highest of the rounds${TIME ? ', GNU time %M' : ', VmHWM polled every 20 ms'};\n` +
      ` node start-up alone, \`node -e 0\`: ${median(startup).toFixed(3)} s;\n` +
      ` node floor: bench/floor.ts, plain node:http piped into files, no store, no checks: what any Node client costs at least)\n`,
  );
}

if (process.argv[2] === 'run') {
  main()
    .catch((err: unknown) => {
      if (session.interrupted) return; // the child we killed failed: not news
      process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => session.cleanup());
} else if (process.argv[1]?.endsWith('bench.js') && !process.env.NODE_TEST_CONTEXT) {
  process.stderr.write('usage: node dist/bench/bench.js run [small] [big]   (or: npm run bench)\n');
}

/**
 * `npm run bench -- cab` (bench/run.sh builds, then runs `node dist/bench/cab.js run`).
 *
 * symsrv's CAB expander (src/formats/cab) against cabextract (libmspack) on the same cabinets:
 *  - MSZIP: a cabinet made by `gcab -c -z` from real binaries (the files of /usr/lib/llvm-14/lib
 *    concatenated, BENCH_CAB_MIB MiB, 300 by default), what `symstore add /compress` makes of a PDB;
 *  - LZX: no tool on Debian writes LZX, so the largest LZX cabinets at hand are used: the two
 *    2 GiB files (2^15 and 2^21 windows) inside libmspack's large-files-cab test cabinet
 *    (test/fixtures/cab). They hold repetitive text, so they measure the decoder's match path
 *    more than its literal path.
 * Both sides write the expanded bytes nowhere (symsrv: a callback that drops them; cabextract:
 * `-p` to /dev/null), so the figures are the decoders'. symsrv runs in a child process so its peak
 * RSS is its own. BENCH_ROUNDS rounds (1 by default); the table shows medians.
 *
 * The argument `run` is required: the test command runs every .js file under dist/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { expandCab } from '../src/formats/cab/expand.js';
import { fixture } from '../test/helpers/readers.js';
import { makeTempDir } from '../test/helpers/tempdir.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const MSZIP_BYTES = Number(process.env.BENCH_CAB_MIB ?? 300) * 1024 * 1024;
const SHM = process.env.BENCH_TMPFS ?? '/dev/shm';
const LLVM_LIB = '/usr/lib/llvm-14/lib';
const SELF = new URL(import.meta.url).pathname;

interface Case {
  label: string;
  cab: string;
  name: string;
}

/** Child mode: expand one file, print seconds, bytes and peak RSS as JSON. */
async function expandOnce(cab: string, name: string): Promise<void> {
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const t0 = performance.now();
  const r = await expandCab(createReadStream(cab, { highWaterMark: 1 << 20 }), { name: cab, wanted: name, write: () => undefined });
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss);
  process.stdout.write(JSON.stringify({ seconds, bytes: r.size, compression: r.compression, rssMb: peak / 1e6 }));
}

function timeSymsrv(c: Case): { seconds: number; bytes: number; compression: string; rssMb: number } {
  const r = spawnSync(process.execPath, [SELF, 'expand', c.cab, c.name], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`symsrv expand of ${c.label} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function timeCabextract(c: Case): number {
  const t0 = performance.now();
  const r = spawnSync('cabextract', ['-q', '-p', '-F', c.name, c.cab], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`cabextract of ${c.label} failed: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Real binaries, concatenated up to `bytes`: what a large PDB's mix of code and tables looks like to deflate. */
async function makeBinary(path: string, bytes: number): Promise<void> {
  const out = await open(path, 'w');
  try {
    let written = 0;
    const names = (await readdir(LLVM_LIB)).filter((n) => /\.(so|a)(\.|$)/.test(n)).sort();
    while (written < bytes) {
      const before = written;
      for (const n of names) {
        const st = await stat(join(LLVM_LIB, n)).catch(() => undefined);
        if (!st?.isFile() || st.size === 0) continue;
        const src = await open(join(LLVM_LIB, n), 'r');
        const buf = Buffer.allocUnsafe(Math.min(st.size, bytes - written));
        await src.read(buf, 0, buf.length, 0);
        await src.close();
        await out.write(buf);
        written += buf.length;
        if (written >= bytes) break;
      }
      if (written === before) throw new Error(`no files to read in ${LLVM_LIB}`);
    }
  } finally {
    await out.close();
  }
}

async function run(): Promise<void> {
  for (const tool of ['cabextract', 'gcab']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) throw new Error(`${tool} is required (apt-get install ${tool})`);
  }
  const dir = await makeTempDir('symsrv-bench-cab-', existsSync(SHM) ? SHM : undefined);
  try {
    process.stderr.write(`making a ${MSZIP_BYTES >> 20} MiB file of real binaries and its gcab MSZIP cabinet...\n`);
    await makeBinary(join(dir, 'big.pdb'), MSZIP_BYTES);
    execFileSync('gcab', ['-c', '-z', 'big.pd_', 'big.pdb'], { cwd: dir });
    await rm(join(dir, 'big.pdb'));
    // The LZX cabinets sit inside libmspack's test cabinet (itself LZX): cabextract takes it out.
    execFileSync('cabextract', ['-q', '-d', dir, fixture('cab/large-files-cab.cab')]);
    const cases: Case[] = [
      { label: `MSZIP, gcab, ${MSZIP_BYTES >> 20} MiB of binaries`, cab: join(dir, 'big.pd_'), name: 'big.pdb' },
      { label: 'LZX 2^21 window, 2 GiB text', cab: join(dir, 'large-files.cab'), name: 'lzx21-2gb.txt' },
      { label: 'LZX 2^15 window, 2 GiB text', cab: join(dir, 'large-files.cab'), name: 'lzx15-2gb.txt' },
      { label: 'MSZIP, 2 GiB text', cab: join(dir, 'large-files.cab'), name: 'mszip-2gb.txt' },
    ];
    const rows: string[] = [];
    for (const c of cases) {
      const ours: number[] = [];
      const theirs: number[] = [];
      let info: ReturnType<typeof timeSymsrv> | undefined;
      for (let i = 0; i < ROUNDS; i++) {
        // alternate who goes first, so neither always gets the warm page cache
        if (i % 2 === 0) {
          info = timeSymsrv(c);
          theirs.push(timeCabextract(c));
        } else {
          theirs.push(timeCabextract(c));
          info = timeSymsrv(c);
        }
        ours.push(info.seconds);
      }
      const mb = info!.bytes / 1e6;
      const s = median(ours);
      const t = median(theirs);
      rows.push(
        `| ${c.label} | ${mb.toFixed(0)} MB | ${(mb / s).toFixed(0)} MB/s (${s.toFixed(2)} s, peak RSS ${info!.rssMb.toFixed(0)} MB) | ` +
          `${(mb / t).toFixed(0)} MB/s (${t.toFixed(2)} s) | ${(s / t).toFixed(2)} |`,
      );
      process.stderr.write(`${rows[rows.length - 1]}\n`);
    }
    console.log(`\nCAB expansion, symsrv against cabextract ${ROUNDS > 1 ? `(median of ${ROUNDS})` : '(1 round)'}:`);
    console.log('| cabinet | expanded | symsrv | cabextract -p | time ratio (symsrv/cabextract) |');
    console.log('|---|---:|---:|---:|---:|');
    for (const r of rows) console.log(r);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'run') {
  await run();
} else if (mode === 'expand') {
  await expandOnce(rest[0]!, rest[1]!);
}

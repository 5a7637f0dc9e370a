/**
 * `npm run bench -- startup`: how long symsrv takes to start, against bare `node -e 0`, measured by
 * hyperfine (Debian package `hyperfine`; no shell, warm-up runs first):
 * - `symsrv --version` and `symsrv key FILE` (a PE from test/fixtures): target within 15 ms of node;
 * - `symsrv fetch` of one key already in the downstream cache: target within 25 ms of node (the
 *   upstream is a closed port, so a request would show as a failure, not as a faster run).
 * Environment: BENCH_STARTUP_RUNS (30), BENCH_NODE_ARGS (extra node options for symsrv's runs),
 * BENCH_STARTUP_IR=1 adds each command's instruction count under valgrind (callgrind's "I refs",
 * one run each, ~15 s per command): wall times on a busy machine swing by 2x, instruction counts by
 * about 1%, so this column compares builds when the machine is not quiet.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/readers.js';
import { makeTempDir, removeDir } from '../test/helpers/tempdir.js';
import { MAIN, table } from './proxy-clients.js';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 30);
const FILE = join(repoRoot, 'test', 'fixtures', 'pe', 'HelloWorld.exe');
/** HelloWorld.exe's key (`symsrv key` prints it; the fetch run checks it is found in the cache). */
const KEY = 'HelloWorld.exe/577F59198000/HelloWorld.exe';

interface Case {
  name: string;
  argv: string[];
  /** ms over `node -e 0` allowed (issue 16, target 3); undefined for node itself. */
  target?: number;
}

/** Runs a command to its end; its stdout, or an error with its stderr. */
function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.once('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}${cmd === 'hyperfine' ? ' (Debian package hyperfine)' : ''}`)));
    c.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} ... exited with ${code}: ${err.slice(-1500)}`))));
  });
}

/** Instructions a command executes (millions), counted by valgrind's callgrind. */
async function instructions(argv: string[]): Promise<number> {
  const err = await new Promise<string>((resolve, reject) => {
    const c = spawn('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    c.stderr.on('data', (d: Buffer) => (text += d.toString()));
    c.once('error', (e) => reject(new Error(`cannot run valgrind: ${e.message} (Debian package valgrind)`)));
    c.once('close', () => resolve(text));
  });
  const m = /I\s+refs:\s+([\d,]+)/.exec(err);
  if (!m) throw new Error(`valgrind printed no instruction count for ${argv.slice(0, 3).join(' ')}: ${err.slice(-500)}`);
  return Number(m[1]!.replace(/,/g, '')) / 1e6;
}

/** An argv as one hyperfine command line (`-N`: split on spaces, no shell; our paths have none). */
const line = (argv: string[]): string => {
  for (const a of argv) if (/\s/.test(a)) throw new Error(`bench startup: "${a}" has a space, hyperfine -N cannot pass it`);
  return argv.join(' ');
};

async function main(): Promise<void> {
  const work = await makeTempDir('symsrv-startup-');
  try {
    const cache = join(work, 'cache');
    await mkdir(join(cache, KEY, '..'), { recursive: true });
    await copyFile(FILE, join(cache, KEY));
    const node = process.execPath;
    const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const sym = (...args: string[]): string[] => [node, ...extra, MAIN, ...args];
    const cases: Case[] = [
      { name: 'node -e 0', argv: [node, '-e', '0'] },
      { name: 'symsrv --version', argv: sym('--version'), target: 15 },
      { name: 'symsrv key FILE', argv: sym('key', FILE), target: 15 },
      { name: 'symsrv fetch (cached key)', argv: sym('fetch', '-y', `srv*${cache}*http://127.0.0.1:9`, '--key', KEY), target: 25 },
    ];
    // Each command must do its job, or its time means nothing.
    if (!(await run(cases[2]!.argv[0]!, cases[2]!.argv.slice(1))).includes(KEY)) throw new Error(`symsrv key ${FILE} did not print ${KEY}`);
    if (!(await run(cases[3]!.argv[0]!, cases[3]!.argv.slice(1))).startsWith(`found ${KEY} `)) throw new Error(`symsrv fetch did not find ${KEY} in its cache`);

    const json = join(work, 'hyperfine.json');
    await run('hyperfine', ['-N', '--warmup', '3', '--runs', String(RUNS), '--style', 'none', '--export-json', json, ...cases.map((c) => line(c.argv))]);
    const results = (JSON.parse(await readFile(json, 'utf8')) as { results: Array<{ median: number; mean: number; stddev: number; user: number; system: number }> }).results;
    const base = results[0]!.median * 1000;
    const ir: number[] = [];
    if (process.env.BENCH_STARTUP_IR === '1') for (const c of cases) ir.push(await instructions(c.argv));
    const rows = [['command', 'median ms', 'mean ± sd ms', 'user+sys ms', 'over node ms', 'target', ...(ir.length ? ['instructions M', 'over node'] : [])]];
    cases.forEach((c, i) => {
      const r = results[i]!;
      const over = r.median * 1000 - base;
      rows.push([
        c.name,
        (r.median * 1000).toFixed(1),
        `${(r.mean * 1000).toFixed(1)} ± ${(r.stddev * 1000).toFixed(1)}`,
        ((r.user + r.system) * 1000).toFixed(1),
        c.target === undefined ? '-' : over.toFixed(1),
        c.target === undefined ? '-' : `<= ${c.target} ${over <= c.target ? 'ok' : 'OVER'}`,
        ...(ir.length ? [ir[i]!.toFixed(1), i === 0 ? '-' : `+${(((ir[i]! - ir[0]!) / ir[0]!) * 100).toFixed(1)}%`] : []),
      ]);
    });
    process.stdout.write(
      `\n${table(rows)}\n\n(hyperfine -N, ${RUNS} runs after 3 warm-ups; "over node": median minus node -e 0's median` +
        `${ir.length ? '; instructions: valgrind callgrind, one run each, over node -e 0 in %' : ''})\n`,
    );
  } finally {
    await removeDir(work);
  }
}

if (process.argv[2] === 'run') {
  main().catch((err: unknown) => {
    process.stderr.write(`bench startup: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
} else if (process.argv[1]?.endsWith('startup.js') && !process.env.NODE_TEST_CONTEXT) {
  process.stderr.write('usage: node dist/bench/startup.js run   (or: npm run bench -- startup)\n');
}

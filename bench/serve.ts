import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startNginx, type NginxServer } from '../test/helpers/nginx.js';
import { makeTempDir } from '../test/helpers/tempdir.js';
import { CLI } from '../test/helpers/cli.js';
import { BenchSession } from './session.js';

/**
 * `npm run bench -- serve`: `symsrv serve` against nginx serving the same store folder (on tmpfs),
 * in one run. wrk at 64 connections over 200 cached 64 KiB files (requests/s), then one 1 GiB file
 * by curl (MB/s), and symsrv's peak RSS under that load. Targets (issue 17): ≥ 0.8× nginx's
 * requests/s, ≥ 0.9× its throughput on the big file, RSS flat.
 * Environment: BENCH_SERVE_SECONDS (10), BENCH_SERVE_FILES (200), BENCH_BIG_MIB (1024), BENCH_TMPFS (/dev/shm).
 */

const SECONDS = Number(process.env.BENCH_SERVE_SECONDS ?? 10);
const FILES = Number(process.env.BENCH_SERVE_FILES ?? 200);
const BIG_MIB = Number(process.env.BENCH_BIG_MIB ?? 1024);
const TMPFS = process.env.BENCH_TMPFS ?? '/dev/shm';
const ROUNDS = 3;

let nginx: NginxServer | undefined;
let serve: ChildProcess | undefined;
const session = new BenchSession('bench serve', async () => {
  serve?.kill('SIGKILL');
  await nginx?.stop();
});

async function startServe(store: string): Promise<{ url: string; pid: number }> {
  const child = spawn(process.execPath, [CLI, 'serve', '-y', `srv*${store}`, '--listen', '127.0.0.1:0', '--access-log', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
  serve = child;
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  for (let i = 0; i < 500; i++) {
    const m = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
    if (m) return { url: m[1]!, pid: child.pid! };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`symsrv serve did not start: ${err}`);
}

function wrk(base: string, paths: string): { rps: number; errors: string } {
  const r = spawnSync('wrk', ['-t', '2', '-c', '64', '-d', `${SECONDS}s`, '-s', paths, base], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const errors = /Non-2xx or 3xx responses: \d+|Socket errors:.*/.exec(r.stdout)?.[0] ?? '';
  return { rps, errors };
}

function download(url: string): number {
  const r = spawnSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{time_total}', url], { encoding: 'utf8' });
  return Number(r.stdout);
}

async function vmHwmKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  for (const tool of ['wrk', 'curl']) if (spawnSync(tool, ['--version']).error) throw new Error(`${tool} is needed: apt-get install ${tool}`);
  const work = await makeTempDir('symsrv-bench-serve-', TMPFS);
  session.work = work;
  const store = join(work, 'store');
  const keys: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const key = `f${i}.bin/${(0x1000 + i).toString(16).toUpperCase()}/f${i}.bin`;
    await mkdir(join(store, key, '..'), { recursive: true });
    await writeFile(join(store, key), randomBytes(64 * 1024));
    keys.push(key);
  }
  const bigKey = 'big.bin/B16/big.bin';
  await mkdir(join(store, 'big.bin/B16'), { recursive: true });
  spawnSync('dd', ['if=/dev/urandom', `of=${join(store, bigKey)}`, 'bs=1M', `count=${BIG_MIB}`, 'status=none']);
  // wrk walks the keys in turn on every connection.
  const lua = (prefix: string): string =>
    `local paths = {${keys.map((k) => `"${prefix}/${k}"`).join(',')}}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`;
  await writeFile(join(work, 'nginx.lua'), lua('/store'));
  await writeFile(join(work, 'serve.lua'), lua(''));

  nginx = await startNginx({ root: store });
  const s = await startServe(store);
  const rssStart = await vmHwmKb(s.pid);
  const rows: string[][] = [['case', 'symsrv serve', 'nginx', 'symsrv / nginx', 'target']];

  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS && !session.interrupted; r++) {
    const x = wrk(s.url, join(work, 'serve.lua'));
    const y = wrk(nginx.url, join(work, 'nginx.lua'));
    if (x.errors || y.errors) process.stderr.write(`wrk errors: symsrv "${x.errors}", nginx "${y.errors}"\n`);
    a.push(x.rps);
    b.push(y.rps);
  }
  rows.push([`${FILES} × 64 KiB cached, wrk -c 64 (req/s)`, median(a).toFixed(0), median(b).toFixed(0), (median(a) / median(b)).toFixed(2), '≥ 0.8']);
  const rssSmall = await vmHwmKb(s.pid);

  const c: number[] = [];
  const d: number[] = [];
  for (let r = 0; r < ROUNDS && !session.interrupted; r++) {
    c.push(download(`${s.url}/${bigKey}`));
    d.push(download(`${nginx.url}/store/${bigKey}`));
  }
  const mb = (t: number): number => (BIG_MIB * 1024 * 1024) / t / 1e6;
  rows.push([`${BIG_MIB} MiB file, curl (MB/s)`, mb(median(c)).toFixed(0), mb(median(d)).toFixed(0), (median(d) / median(c)).toFixed(2), '≥ 0.9']);
  const rssEnd = await vmHwmKb(s.pid);
  rows.push(['symsrv serve peak RSS (MiB): start / after wrk / after big file', `${(rssStart / 1024).toFixed(0)} / ${(rssSmall / 1024).toFixed(0)} / ${(rssEnd / 1024).toFixed(0)}`, '', '', 'flat']);

  const width = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  process.stdout.write(`\n${rows.map((row) => '| ' + row.map((cell, i) => cell.padEnd(width[i]!)).join(' | ') + ' |').join('\n')}\n\n(median of ${ROUNDS} rounds; wrk -t 2 -c 64 -d ${SECONDS}s; both servers read the same tmpfs folder; nginx: one process, as the tests run it)\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench serve: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => session.cleanup());

/**
 * One table for all of `npm run bench` (issue 16, "Done means": every figure in one table, the
 * reference beside symsrv). Each part keeps printing its own detailed table, and also records its
 * headline figures here; bench/run.sh prints them together at the end.
 *
 * A part records with `record({...})`: a line of JSON appended to the file named by
 * BENCH_SUMMARY (bench/run.sh sets it; unset, recording does nothing, so a part run alone still
 * works). `node dist/bench/summary.js print FILE` prints the table.
 */
import { appendFileSync, readFileSync } from 'node:fs';

export interface Figure {
  /** Which target of the issue it measures, e.g. "16.1 wan", "16.3 start-up", "17 serve". */
  target: string;
  /** The case, e.g. "Basic, HTTPS origin, 200 × 64 KiB". */
  case: string;
  /** The unit of the two values below, e.g. "s", "ms over node -e 0", "req/s", "MB/s". */
  unit: string;
  symsrv: number;
  /** What symsrv is compared with, e.g. "curl", "nginx", "Node floor". */
  reference: string;
  referenceValue: number;
  /** symsrv / reference (or reference / symsrv where more is better), as the goal reads. */
  ratio: number;
  /** The goal in words, e.g. "≤ 1.0", "≥ 0.8". */
  goal: string;
  /** Whether the goal is met. */
  met: boolean;
}

export function record(f: Figure): void {
  const file = process.env.BENCH_SUMMARY;
  if (file) appendFileSync(file, JSON.stringify(f) + '\n');
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function summaryTable(figures: Figure[]): string {
  const rows = [['target', 'case', 'unit', 'symsrv', 'reference', 'ratio', 'goal', 'met']];
  for (const f of figures) rows.push([f.target, f.case, f.unit, fmt(f.symsrv), `${f.reference} ${fmt(f.referenceValue)}`, fmt(f.ratio), f.goal, f.met ? 'yes' : 'NO']);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => '| ' + r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ') + ' |').join('\n');
}

if (process.argv[2] === 'print' && process.argv[3]) {
  let text = '';
  try {
    text = readFileSync(process.argv[3], 'utf8');
  } catch {
    // no part recorded anything
  }
  const figures = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Figure);
  if (figures.length) process.stdout.write(`\nSummary (issue 16/17 targets):\n${summaryTable(figures)}\n`);
}

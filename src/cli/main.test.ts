import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI } from '../../test/helpers/cli.js';
import { repoRoot } from '../../test/helpers/readers.js';

/**
 * main.ts answers `--version` before commander loads (start-up, issue 16) and loads commander for
 * everything else: both paths must behave as commander does.
 */

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('--version and -V print the package version and a newline, exit 0', () => {
  for (const flag of ['--version', '-V']) {
    const r = run([flag]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
    assert.equal(r.stderr, '');
  }
});

test('commander still answers the rest: --help lists -V, an unknown option exits 2 with a usage error', () => {
  const help = run(['--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /-V, --version/);
  const bad = run(['--bogus']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown option '--bogus'/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
});

test('a reader that goes away (symsrv key DUMP | head -1) ends the command quietly, not with an EPIPE stack trace', async () => {
  const { spawn } = await import('node:child_process');
  const dump = new URL('../../../test/fixtures/minidumps/invalid-parameter.dmp', import.meta.url).pathname;
  const child = spawn(process.execPath, [CLI, 'key', dump, dump, dump, dump], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.once('data', () => child.stdout.destroy()); // `head -1`: read one chunk, close the pipe
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /EPIPE|\n\s+at /);
});

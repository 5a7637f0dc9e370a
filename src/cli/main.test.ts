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

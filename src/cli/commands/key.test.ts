import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { CLI } from '../../../test/helpers/cli.js';
import { makeTempDir, removeDir } from '../../../test/helpers/tempdir.js';

const FIX = new URL('../../../../test/fixtures/', import.meta.url).pathname;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Bounded: the FIFO regression used to block forever.
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

test('regression: `symsrv key` on a FIFO says so and does not block (issue 14, defect 13)', async (t) => {
  const dir = await makeTempDir('symsrv-fifo-');
  t.after(() => removeDir(dir));
  const fifo = join(dir, 'pipe.pdb');
  const made = spawnSync('mkfifo', [fifo]);
  if (made.status !== 0) return t.skip('mkfifo is not available');
  const r = await run(['key', fifo]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /pipe\.pdb is not a regular file/);
});

test('regression: C1 controls in a CodeView name are escaped on the terminal (issue 14, defect 4)', async (t) => {
  const dir = await makeTempDir('symsrv-c1-');
  t.after(() => removeDir(dir));
  const bytes = await readFile(join(FIX, 'pe/crash.exe'));
  const old = Buffer.from('C:\\projects\\breakpad-tools\\windows\\Release\\crash.pdb\0', 'latin1');
  const at = bytes.indexOf(old);
  bytes.fill(0, at, at + old.length);
  // U+009B is the 8-bit CSI: "\u009b2J" clears the screen on terminals that read C1 controls.
  bytes.write('C:\\b\\x\u009b2J\u0085y.pdb', at, 'utf8');
  const file = join(dir, 'c1.exe');
  await writeFile(file, bytes);
  const r = await run(['key', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /[\u0080-\u009f]/);
  assert.match(r.stdout, /pdbref\tx\\x9b2J\\x85y\.pdb\/3249D99D0C4049318610F4E4FB0B69361\/x\\x9b2J\\x85y\.pdb/);
});

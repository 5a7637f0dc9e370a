import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { CLI } from '../../test/helpers/cli.js';
import { startFaultServer, type FaultServer } from '../../test/helpers/faults.js';
import { fixture } from '../../test/helpers/readers.js';
import { buildStore } from '../../test/helpers/store.js';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { CRASH, CWE } from '../../test/helpers/fixture-store.js';

/**
 * Regression (issue 14 #11): Ctrl-C in `symsrv fetch` exited 2 ("usage error ... nothing was
 * fetched") and printed nothing, though keys were already found. It exits 130 and prints the
 * rows of the keys it finished.
 */
let tmp: string;
let slow: FaultServer;
const KEYS = [CRASH, CWE, ...Array.from({ length: 4 }, (_, i) => `crash.pdb/${i}249D99D0C4049318610F4E4FB0B69361/crash.pdb`)];

before(async () => {
  tmp = await makeTempDir('symsrv-interrupt-');
  await buildStore(join(tmp, 'www'), KEYS.map((key) => ({ path: fixture(key === CWE ? 'pdb/CrashWithException.pdb' : 'pdb/crash.pdb'), key })));
  // Slow enough that the later keys are still downloading when the signal comes.
  slow = await startFaultServer({ root: join(tmp, 'www'), slow: { chunkBytes: 16 * 1024, delayMs: 30 } });
});
after(async () => {
  await slow?.stop();
  if (tmp) await removeDir(tmp);
});

for (const json of [false, true]) {
  test(`SIGINT after the first key is found: exit 130, its row printed${json ? ' (--json)' : ''}`, { timeout: 120_000 }, async () => {
    const cache = join(tmp, `cache-${json}`);
    const child = spawn(process.execPath, [CLI, 'fetch', ...(json ? ['--json'] : []), '--jobs', '1', '--retries', '0', '--no-proxy', '-y', `srv*${cache}*${slow.url}/slow`, ...KEYS.flatMap((k) => ['--key', k])]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // The first key is found once its file is renamed into the cache.
    for (;;) {
      if (await access(join(cache, CRASH)).then(() => true, () => false)) break;
      await sleep(20);
    }
    child.kill('SIGINT');
    const code = await closed;
    assert.equal(code, 130, stderr);
    if (json) {
      const rows = JSON.parse(stdout) as { key: string; status: string }[];
      assert.deepEqual(rows[0], { key: CRASH, status: 'found', path: join(cache, CRASH), store: `${slow.url}/slow` });
      assert.ok(rows.length < KEYS.length, 'keys not looked up are not reported as missing');
    } else {
      assert.match(stdout, new RegExp(`^found ${CRASH.replace(/\./g, '\\.')} `, 'm'));
    }
    assert.match(stderr, /interrupted/);
  });
}

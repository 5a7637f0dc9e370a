import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../test/helpers/cli.js';
import { startHostileOrigin, LOCATIONS, type HostileOrigin } from '../../test/helpers/hostile-origin.js';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { CRASH } from '../../test/helpers/fixture-store.js';
import { isSymsrvError } from '../errors.js';
import { Transport } from './transport.js';

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;

/** Runs the CLI to its end (or kills it after `limitMs`: then `killed` is true). */
function symsrv(args: string[], limitMs = 60_000): Promise<{ code: number | null; killed: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, HTTP_PROXY: undefined, http_proxy: undefined, ALL_PROXY: undefined } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let killed = false;
    const t = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, killed, stdout, stderr });
    });
  });
}

describe('hostile origins (issue 14 #6, #8)', { timeout: 180_000 }, () => {
  let hostile: HostileOrigin;
  let nginx: NginxServer;
  let tmp: string;

  before(async () => {
    tmp = await makeTempDir('symsrv-hostile-');
    const root = join(tmp, 'root');
    await mkdir(join(root, CRASH, '..'), { recursive: true });
    await copyFile(join(FIX, 'pdb/crash.pdb'), join(root, CRASH));
    hostile = await startHostileOrigin();
    nginx = await startNginx({ root });
  });
  after(async () => {
    await hostile?.stop();
    await nginx?.stop();
    if (tmp) await removeDir(tmp);
  });

  test('regression: a 404 with an endless body is drained a bounded amount, then the connection is dropped', { timeout: 30_000 }, async () => {
    const t = new Transport({ retries: 0 });
    try {
      // getText is what the index2.txt probe uses: it drained the body forever.
      assert.equal(await t.getText(`${hostile.url}/endless-404/index2.txt`, 1024), undefined);
      const res = await t.get(`${hostile.url}/endless-404/a.pdb`);
      assert.equal(res.status, 404);
      await res.discard();
    } finally {
      await t.close();
    }
  });

  test('regression: `symsrv fetch --timeout 5` against an endless 404 ends, the key missing', async () => {
    const r = await symsrv(['fetch', '--json', '--timeout', '5', '--retries', '0', '--no-proxy', '-y', `srv*${join(tmp, 'c1')}*${hostile.url}/endless-404`, '--key', CRASH]);
    assert.equal(r.killed, false, 'the process did not end by itself');
    assert.equal(r.code, 1, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { status: string }[])[0]!.status, 'missing');
  });

  for (const [i, location] of LOCATIONS.entries()) {
    test(`regression: a redirect to ${location} is that store's error, not a TypeError`, async () => {
      const t = new Transport({ retries: 0 });
      try {
        await assert.rejects(t.get(`${hostile.url}/bad-location/${i}/x`), (e) => isSymsrvError(e, 'E_HTTP_STATUS') && /bad Location/.test((e as Error).message));
      } finally {
        await t.close();
      }
    });
  }

  test('regression: a bogus Location costs that key on that store only; the next store in the path is tried', async () => {
    const path = `srv*${join(tmp, 'c2')}*${hostile.url}/bad-location/0;srv*${join(tmp, 'c3')}*${nginx.url}/store`;
    const r = await symsrv(['fetch', '--json', '--retries', '0', '--no-proxy', '-y', path, '--key', CRASH, '--key', 'missing.pdb/ABC1/missing.pdb']);
    assert.equal(r.killed, false);
    assert.doesNotMatch(r.stderr, /internal error|TypeError/);
    const rows = JSON.parse(r.stdout) as { key: string; status: string }[];
    assert.deepEqual(rows.map((x) => x.status), ['found', 'error']);
  });
});

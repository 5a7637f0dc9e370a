import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRig, type Rig } from '../../test/rig/rig.js';
import { selfCheck } from '../../test/rig/selfcheck.js';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { CLI, cleanEnv } from '../../test/helpers/cli.js';
import { startFaultProxy } from '../../test/helpers/fault-proxy.js';
import { Transport } from './transport.js';

/**
 * A store URL's userinfo (`http://user:pw@origin/`) through a real proxy (the rig's Basic squid)
 * to a real origin (nginx). RFC 9110 §4.2.4: userinfo is never sent in a request target, so the
 * password must not be in the absolute-URI request line the proxy logs; it goes to that origin
 * as `Authorization: Basic`, and to no other origin after a redirect. Regression: forward.ts
 * wrote `GET http://alice:s3cret@origin/...`, and squid's access.log kept the password.
 */

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;
const KEY = 'crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb';
// `;`, `*` and a space-encoded char: the masking once stopped at those.
const USER = 'bob';
const PASSWORD = 'pa;ss*w0rd';
const ENCODED = encodeURIComponent(PASSWORD).replace(/\*/g, '%2A');
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

test('the request line a proxy receives holds no userinfo (squid hides it in its log: a recording proxy)', async () => {
  // squid rewrites such a URL before logging it, so its access.log cannot show the leak; this
  // proxy records the request target exactly as it arrived, then refuses it.
  const proxy = await startFaultProxy();
  proxy.modes.set('origin.test', 'forbidden');
  const transport = new Transport({ retries: 0, proxies: { proxy: proxy.url } });
  try {
    const res = await transport.get(`http://${USER}:${ENCODED}@origin.test/store/${KEY}`);
    assert.equal(res.status, 403);
    await res.discard();
    assert.deepEqual(proxy.seen, [`GET http://origin.test/store/${KEY}`]);
  } finally {
    await transport.close();
    await proxy.stop();
  }
});

describe('store URL credentials through a proxy', { timeout: 300_000 }, () => {
  let rig: Rig<'basic'>;
  let tmp: string;

  function symsrv(args: string[]) {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      env: cleanEnv({
        SYMSRV_PROXY_USER: rig.user,
        SYMSRV_PROXY_PASSWORD: rig.password,
      }),
      timeout: 120_000,
    });
    return { code: r.status, out: r.stdout + r.stderr };
  }

  before(async () => {
    rig = await startRig({ schemes: ['basic'] });
    await selfCheck(rig);
    tmp = await makeTempDir('symsrv-store-cred-');
    await mkdir(join(rig.storeRoot, KEY, '..'), { recursive: true });
    await copyFile(join(FIX, 'pdb/crash.pdb'), join(rig.storeRoot, KEY));
  });

  after(async () => {
    await rig?.stop();
    if (tmp) await removeDir(tmp);
  });

  const withUserinfo = (url: string): string => url.replace('://', `://${USER}:${ENCODED}@`);
  const logs = async (): Promise<string> =>
    (await readFile(rig.proxies.basic.accessLog, 'utf8')) + (await readFile(rig.httpOrigin.accessLog, 'utf8'));

  test('the password is sent as Authorization to the origin, never in the request line', async () => {
    const store = withUserinfo(`${rig.httpOrigin.url}/store`);
    const r = symsrv(['fetch', '--json', '-v', '--retries', '0', '--proxy', rig.proxies.basic.url, '-y', `srv*${join(tmp, 'a')}*${store}`, '--key', KEY]);
    assert.equal(r.code, 0, r.out);
    const origin = (await readFile(rig.httpOrigin.accessLog, 'utf8')).split('\n').filter((l) => l.includes(KEY));
    assert.ok(origin.length > 0, 'the origin was asked for the key');
    for (const line of origin) assert.ok(line.includes(`auth="${BASIC}"`), `the origin got Basic credentials: ${line}`);
    const all = (await logs()) + r.out;
    assert.ok(!all.includes(ENCODED) && !all.includes(PASSWORD), 'no password in squid\'s access.log, the origin\'s log or the output');
  });

  test('a redirect to another origin carries no credentials', async () => {
    // 127.0.0.1 redirects to localhost: the same nginx, another origin.
    const other = rig.httpOrigin.url.replace('127.0.0.1', 'localhost').replace(/^http:\/\//, '');
    const store = withUserinfo(`${rig.httpOrigin.url}/cross/http/${other}`);
    for (const proxy of [['--proxy', rig.proxies.basic.url], ['--proxy', 'direct']]) {
      const before = (await readFile(rig.httpOrigin.accessLog, 'utf8')).length;
      const r = symsrv(['fetch', '--json', '-v', '--retries', '0', ...proxy, '-y', `srv*${join(tmp, `b${proxy[1]!.length}`)}*${store}`, '--key', KEY]);
      assert.equal(r.code, 0, r.out);
      const lines = (await readFile(rig.httpOrigin.accessLog, 'utf8')).slice(before).split('\n').filter((l) => l.includes(KEY));
      const cross = lines.filter((l) => l.includes('/cross/'));
      const landed = lines.filter((l) => l.includes('"GET /store/') || l.includes(`"GET http://${other}/store/`));
      assert.ok(cross.length > 0 && landed.length > 0, lines.join('\n'));
      for (const l of cross) assert.ok(l.includes(`auth="${BASIC}"`), l);
      for (const l of landed) assert.ok(l.includes('auth="-"'), `no credentials after the redirect to another origin: ${l}`);
      const all = (await logs()) + r.out;
      assert.ok(!all.includes(ENCODED) && !all.includes(PASSWORD), all);
    }
  });
});

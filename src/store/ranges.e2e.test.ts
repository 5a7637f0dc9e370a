import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir } from '../../test/helpers/tempdir.js';
import { startRig, type Rig } from '../../test/rig/rig.js';
import { parseKey } from '../keys/key.js';
import { Transport } from '../transport/transport.js';
import { HttpStore } from './http.js';

const BIG = parseKey('big.bin/B16/big.bin');
const bytes = randomBytes(5 * 1024 * 1024 + 777);

describe('parallel ranges through the Basic squid, HTTPS origin (CONNECT)', () => {
  let rig: Rig<'basic'>;
  let tmp: string;
  before(async () => {
    rig = await startRig({ schemes: ['basic'] });
    tmp = await makeTempDir('symsrv-ranges-e2e-');
    await mkdir(join(rig.storeRoot, BIG.name, BIG.id), { recursive: true });
    await writeFile(join(rig.storeRoot, BIG.name, BIG.id, BIG.name), bytes);
  });
  after(async () => {
    await rig?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('the parts go over the authenticated tunnels; byte-identical; no credential at the origin', async () => {
    const t = new Transport({
      retries: 1,
      ca: [await readFile(rig.ca, 'utf8')],
      proxies: { proxy: rig.proxies.basic.url, proxyCredentials: { user: rig.user, password: rig.password } },
    });
    const into = join(tmp, 'dst');
    const before407 = await rig.count407('basic');
    try {
      const r = await new HttpStore(`${rig.httpsOrigin.url}/store`, t, { rangeThreshold: 1024 * 1024 }).lookup(BIG, { into });
      assert.equal(r.status, 'found');
    } finally {
      await t.close(); // squid writes a CONNECT line when its tunnel closes
    }
    assert.ok((await readFile(join(into, BIG.name))).equals(bytes));
    const origin = (await readFile(rig.httpsOrigin.accessLog, 'utf8')).split('\n').filter((l) => l.includes('big.bin'));
    const ranged = origin.filter((l) => l.startsWith('206 ') && /range="bytes=\d+-\d+"/.test(l));
    assert.equal(ranged.length, 3, origin.join('\n'));
    assert.ok(origin.every((l) => l.includes('auth="-" pauth="-"')), origin.join('\n'));
    // Basic: one 407 names the scheme, then the credentials go up front on every tunnel.
    assert.ok((await rig.count407('basic')) - before407 <= 1);
    const squid = await readFile(rig.proxies.basic.accessLog, 'utf8');
    const tunnels = squid.split('\n').filter((l) => / CONNECT /.test(l) && l.includes(`/200 `) && l.includes(` ${rig.user} `));
    assert.ok(tunnels.length >= 2, squid);
  });
});

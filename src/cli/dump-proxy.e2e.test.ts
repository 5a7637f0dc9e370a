import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRig, type Rig } from '../../test/rig/rig.js';
import { selfCheck } from '../../test/rig/selfcheck.js';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { buildMinidump, rsds, writeSyntheticPdb } from '../../test/helpers/dump-readers.js';
import { CLI, cleanEnv } from '../../test/helpers/cli.js';
import { Platform } from '../formats/minidump/minidump.js';
import { pdbKey } from '../keys/key.js';

/**
 * `symchk /id` at scale: a Windows dump of 300 modules fetched through a real NTLM squid (Samba
 * winbind checks the password), every module's PDB asked for at once through the `--jobs` pool,
 * and the proxy's access log shows at most one authentication (407) per connection.
 */

const MODULES = 300;
const JOBS = 4;

const guidOf = (i: number): Buffer => createHash('md5').update(`module ${i}`).digest();

describe('symsrv fetch DUMP (300 modules) through an NTLM proxy', { timeout: 600_000 }, () => {
  let rig: Rig<'ntlm'>;
  let tmp: string;
  let dump: string;
  const keys: string[] = [];

  before(async () => {
    rig = await startRig({ schemes: ['ntlm'], winbindWaitMs: 120_000 });
    await selfCheck(rig);
    tmp = await makeTempDir('symsrv-dump-proxy-');
    const modules = Array.from({ length: MODULES }, (_, i) => ({
      path: `C:\\Program Files\\App\\mod${i}.dll`,
      timestamp: 0x60000000 + i,
      sizeOfImage: 0x10000 + i * 0x1000,
      codeView: rsds(guidOf(i), 1 + (i % 3), `D:\\build\\mod${i}.pdb`),
    }));
    dump = join(tmp, 'big.dmp');
    await writeFile(dump, buildMinidump(Platform.WIN32_NT, modules));
    // The store has the PDBs of the even modules; the odd ones are missing.
    for (let i = 0; i < MODULES; i++) {
      const key = pdbKey(`mod${i}.pdb`, guidOf(i), 1 + (i % 3)).index;
      keys.push(key);
      if (i % 2 === 0) {
        await mkdir(join(rig.storeRoot, dirname(key)), { recursive: true });
        await writeSyntheticPdb(join(rig.storeRoot, key), guidOf(i), 1 + (i % 3));
      }
    }
  });

  after(async () => {
    await rig?.stop();
    if (tmp) await removeDir(tmp);
  });

  for (const https of [false, true]) {
    test(`${https ? 'HTTPS (CONNECT)' : 'HTTP'}: all ${MODULES} PDBs asked for, at most one 407 per connection, plus the first contact`, async (t) => {
      const origin = `${https ? rig.httpsOrigin.url : rig.httpOrigin.url}/store`;
      const cache = join(tmp, `cache-${https}`);
      const before407 = await rig.count407('ntlm');
      const tunnelsBefore = (await readFile(rig.proxies.ntlm.accessLog, 'utf8')).split('\n').filter((l) => l.includes('TCP_TUNNEL/200')).length;
      const r = spawnSync(
        process.execPath,
        [CLI, 'fetch', '--json', '--retries', '0', '--jobs', String(JOBS), '--cacert', rig.ca, '--proxy', rig.proxies.ntlm.url, '-y', `srv*${cache}*${origin}`, dump],
        {
          encoding: 'utf8',
          timeout: 300_000,
          env: cleanEnv({
            SYMSRV_PROXY_USER: `${rig.domain}\\${rig.user}`,
            SYMSRV_PROXY_PASSWORD: rig.password,
          }),
        },
      );
      assert.equal(r.status, 1, 'the odd modules are missing: exit 1');
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(rig.password), 'no password in the output');
      const rows = JSON.parse(r.stdout) as { key: string; status: string; path?: string }[];
      assert.deepEqual(
        rows.map((x) => x.key),
        keys,
      );
      rows.forEach((row, i) => assert.equal(row.status, i % 2 === 0 ? 'found' : 'missing', `${row.key}: ${JSON.stringify(row)}`));
      for (const i of [0, 150, 298]) assert.deepEqual(await readFile(rows[i]!.path!), await readFile(join(rig.storeRoot, keys[i]!)));

      const added = (await rig.count407('ntlm')) - before407;
      let connections = JOBS;
      if (https) {
        const tunnels = (await readFile(rig.proxies.ntlm.accessLog, 'utf8')).split('\n').filter((l) => l.includes('TCP_TUNNEL/200'));
        connections = tunnels.length - tunnelsBefore;
        assert.ok(connections >= 1 && connections <= 2 * JOBS, `${connections} tunnels`);
      }
      t.diagnostic(`${added} 407s for ${connections} connections, ${MODULES} keys`);
      assert.ok(added >= 1, 'the proxy did ask for authentication');
      // One 407 per connection, plus the first contact that learns the proxy's schemes (nothing
      // scheme-specific goes to a proxy before it named them: issue 13's budget, connections + 1).
      assert.ok(added <= connections + 1, `${added} 407s for ${connections} connections`);
    });
  }
});

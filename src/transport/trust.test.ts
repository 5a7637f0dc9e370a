import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { makeTestCertificates } from '../../test/helpers/tls.js';

// Three nginx HTTPS origins, each with a certificate from its own CA: one CA given as `ca`
// (--cacert), one in NODE_EXTRA_CA_CERTS, one trusted by nobody.
let tmp: string;
const servers: NginxServer[] = [];
const cas: string[] = [];

before(async () => {
  tmp = await makeTempDir('symsrv-trust-');
  await mkdir(join(tmp, 'www'));
  await writeFile(join(tmp, 'www', 'x.bin'), 'x');
  for (const name of ['given', 'env', 'unknown']) {
    const dir = join(tmp, name);
    await mkdir(dir);
    const c = await makeTestCertificates(dir);
    cas.push(c.ca);
    servers.push(await startNginx({ root: join(tmp, 'www'), tls: { cert: c.cert, key: c.key } }));
  }
});
after(async () => {
  for (const s of servers) await s.stop();
  if (tmp) await removeDir(tmp);
});

test('--cacert adds to the system trust: the given CA and NODE_EXTRA_CA_CERTS are both trusted, another CA is not', async () => {
  const transport = new URL('./transport.js', import.meta.url).href;
  // A child process: NODE_EXTRA_CA_CERTS is read by Node at start-up only.
  const script = `
    import { Transport } from ${JSON.stringify(transport)};
    const t = new Transport({ ca: [${JSON.stringify(await readFile(cas[0]!, 'utf8'))}], retries: 0 });
    for (const url of ${JSON.stringify(servers.map((s) => `${s.url}/store/x.bin`))}) {
      try { const r = await t.get(url); await r.discard(); console.log(r.status); }
      catch (e) { console.log(e.code + ' ' + e.message); }
    }
    await t.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: cas[1]! } });
  assert.equal(r.status, 0, r.stderr);
  const [given, env, unknown] = r.stdout.trim().split('\n');
  assert.equal(given, '200');
  assert.equal(env, '200');
  assert.match(unknown!, /^E_NETWORK .*TLS certificate check failed/);
});

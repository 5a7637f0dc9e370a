import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, cleanEnv } from '../../test/helpers/cli.js';
import { CRASH, CWE, HELLO } from '../../test/helpers/fixture-store.js';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { freePort } from '../../test/helpers/ports.js';
import { fixture } from '../../test/helpers/readers.js';
import { listFiles, makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { makeTestCertificates } from '../../test/helpers/tls.js';
import { startDante, startMicrosocks, type SocksServer } from '../../test/rig/socks.js';
import { isSymsrvError } from '../errors.js';
import { Transport } from './transport.js';

/**
 * `symsrv fetch` through real SOCKS5 servers (test/rig/socks.ts): dante (RFC 1929 username
 * method, checked against the system's password database) and microsocks (-u/-P), to real nginx
 * origins over HTTP and HTTPS (TLS over the SOCKS connection). Every cell checks the files
 * byte for byte and the SOCKS server's own log, so a request that went around the proxy fails.
 */

const PDBS: Record<string, string> = { [CRASH]: 'pdb/crash.pdb', [CWE]: 'pdb/CrashWithException.pdb', [HELLO]: 'pdb/HelloWorld.pdb' };
/** 20 keys with no identity (.bin): served and checked byte for byte, for the --jobs test. */
const MANY = Array.from({ length: 20 }, (_, i) => `sym${i}.bin/${(0x2000 + i).toString(16).toUpperCase()}/sym${i}.bin`);
const METHOD = 'SOCKS5 username/password';

describe('symsrv fetch through SOCKS5 proxies (dante, microsocks)', { timeout: 300_000 }, () => {
  let tmp: string;
  let ca: string;
  let http: NginxServer;
  let https: NginxServer;
  let dante: SocksServer;
  let micro: SocksServer;
  const outputs: string[] = [];

  function symsrv(args: string[], env: Record<string, string | undefined> = {}) {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      env: cleanEnv({
        ...env,
      }),
      timeout: 120_000,
    });
    outputs.push(r.stdout, r.stderr);
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** The origin as `localhost` (not 127.0.0.1): socks5h sends the name, socks5 the address. */
  const origin = (tls: boolean): string => `${tls ? https.url : http.url}/store`.replace('127.0.0.1', 'localhost');
  const port = (tls: boolean): string => new URL(tls ? https.url : http.url).port;
  const fetchArgs = (tls: boolean, cache: string, keys: string[]): string[] => [
    'fetch',
    '--json',
    '--retries',
    '0',
    '--cacert',
    ca,
    '-y',
    `srv*${cache}*${origin(tls)}`,
    ...keys.flatMap((k) => ['--key', k]),
  ];
  const withScheme = (server: SocksServer, scheme: 'socks5' | 'socks5h', userinfo = ''): string => server.url.replace('socks5://', `${scheme}://${userinfo}`);
  const userinfo = (s: SocksServer): string => `${encodeURIComponent(s.user)}:${encodeURIComponent(s.password)}@`;

  async function sameFiles(cache: string, keys: string[]): Promise<void> {
    for (const key of keys) {
      const source = PDBS[key] ? fixture(PDBS[key]) : fixture('pe/crash.exe');
      assert.deepEqual(await readFile(join(cache, key)), await readFile(source), key);
    }
  }

  before(async () => {
    tmp = await makeTempDir('symsrv-socks-e2e-');
    const www = join(tmp, 'www');
    for (const [key, file] of [...Object.entries(PDBS), ...MANY.map((k) => [k, 'pe/crash.exe'] as const)]) {
      await mkdir(join(www, key, '..'), { recursive: true });
      await copyFile(fixture(file), join(www, key));
    }
    const certs = await makeTestCertificates(tmp);
    ca = certs.ca;
    http = await startNginx({ root: www });
    https = await startNginx({ root: www, tls: { cert: certs.cert, key: certs.key } });
    dante = await startDante();
    micro = await startMicrosocks();
  });

  after(async () => {
    await dante?.stop();
    await micro?.stop();
    await http?.stop();
    await https?.stop();
    if (tmp) await removeDir(tmp);
    // No credential ever reaches the output (errors, --json, --verbose).
    for (const s of [dante, micro]) {
      if (!s) continue;
      for (const out of outputs) assert.ok(!out.includes(s.password) && !out.includes(encodeURIComponent(s.password)), 'a password in the output');
    }
  });

  // Each cell gives the credentials another of the ways users have.
  const ways: Record<string, (s: SocksServer, scheme: 'socks5' | 'socks5h', tls: boolean) => { args: string[]; env: Record<string, string> }> = {
    'SYMSRV_PROXY_USER/SYMSRV_PROXY_PASSWORD': (s, scheme) => ({ args: ['--proxy', withScheme(s, scheme)], env: { SYMSRV_PROXY_USER: s.user, SYMSRV_PROXY_PASSWORD: s.password } }),
    '--proxy-user': (s, scheme) => ({ args: ['--proxy', withScheme(s, scheme), '--proxy-user', s.user], env: { SYMSRV_PROXY_PASSWORD: s.password } }),
    'userinfo in https_proxy / ALL_PROXY': (s, scheme, tls) => ({ args: [], env: { [tls ? 'https_proxy' : 'ALL_PROXY']: withScheme(s, scheme, userinfo(s)) } }),
  };
  const wayNames = Object.keys(ways);
  let cell = 0;
  for (const server of ['dante', 'microsocks'] as const) {
    for (const scheme of ['socks5', 'socks5h'] as const) {
      for (const tls of [false, true]) {
        const way = wayNames[cell++ % wayNames.length]!;
        test(`${server}, ${scheme}, ${tls ? 'HTTPS' : 'HTTP'} origin, credentials from ${way}: files byte-identical, through the proxy`, async () => {
          const s = server === 'dante' ? dante : micro;
          const cache = join(tmp, `${server}-${scheme}-${tls}`);
          const given = ways[way]!(s, scheme, tls);
          const r = symsrv([...fetchArgs(tls, cache, Object.keys(PDBS)), ...given.args, '--verbose'], given.env);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          assert.match(r.stderr, new RegExp(`${scheme}://127\\.0\\.0\\.1:${s.port}`));
          const rows = JSON.parse(r.stdout) as { status: string }[];
          assert.deepEqual(rows.map((x) => x.status), ['found', 'found', 'found']);
          await sameFiles(cache, Object.keys(PDBS));
          const log = await s.log();
          if (server === 'microsocks') {
            // It logs the destination as sent: the name for socks5h (DNS at the proxy), the address for socks5.
            assert.match(log, new RegExp(`connected to ${scheme === 'socks5h' ? 'localhost' : '127\\.0\\.0\\.1'}:${port(tls)}\\b`));
          } else {
            assert.match(log, new RegExp(`tcp/connect \\[: username%${s.user}@127\\.0\\.0\\.1\\.\\d+ 127\\.0\\.0\\.1\\.${s.port} -> .* 127\\.0\\.0\\.1\\.${port(tls)}\\b`));
          }
        });
      }
    }
  }

  for (const server of ['dante', 'microsocks'] as const) {
    test(`${server}: a wrong password is a clear error naming the proxy, tried once, nothing cached`, async () => {
      const s = server === 'dante' ? dante : micro;
      const cache = join(tmp, `${server}-wrong`);
      for (const tls of [false, true]) {
        const t0 = Date.now();
        const r = symsrv([...fetchArgs(tls, cache, Object.keys(PDBS)), '--proxy', withScheme(s, 'socks5h'), '--jobs', '3'], {
          SYMSRV_PROXY_USER: s.user,
          SYMSRV_PROXY_PASSWORD: 'not-the-password',
        });
        assert.ok(Date.now() - t0 < 60_000, 'no hang');
        assert.equal(r.code, 1, r.stdout + r.stderr);
        const rows = JSON.parse(r.stdout) as { status: string; error: string }[];
        for (const row of rows) assert.equal(row.error, `proxy authentication failed for ${s.user} at socks5h://127.0.0.1:${s.port} (${METHOD})`);
      }
      assert.deepEqual(await listFiles(cache), []);
      if (server === 'dante') {
        // Once per run (2 runs), not once per file: each try is a failed logon toward a lockout.
        const refusals = (await s.log()).match(/system password authentication failed for user/g) ?? [];
        assert.equal(refusals.length, 2, await s.log());
      }
    });

    test(`${server}: no credentials: says the proxy requires them and how to give them`, async () => {
      const s = server === 'dante' ? dante : micro;
      const cache = join(tmp, `${server}-none`);
      const r = symsrv([...fetchArgs(true, cache, [CRASH]), '--proxy', withScheme(s, 'socks5')]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const [row] = JSON.parse(r.stdout) as { error: string }[];
      assert.match(row!.error, new RegExp(`^the SOCKS5 proxy socks5://127\\.0\\.0\\.1:${s.port} requires authentication \\(${METHOD}\\)\\. Give credentials with --proxy-user USER and the password in SYMSRV_PROXY_PASSWORD`));
      assert.deepEqual(await listFiles(cache), []);
    });
  }

  // Regression (issue 13, defect 4): a PAC file answering only SOCKS5 sent symsrv direct.
  test('a PAC file answering only "SOCKS5 host:port": used (DNS at the proxy), never DIRECT', async () => {
    const pac = join(tmp, 'socks.pac');
    await writeFile(pac, `function FindProxyForURL(url, host) { return "SOCKS5 127.0.0.1:${micro.port}"; }\n`);
    for (const tls of [false, true]) {
      const cache = join(tmp, `pac-${tls}`);
      const before = (await micro.log()).length;
      const r = symsrv([...fetchArgs(tls, cache, [CRASH]), '--pac', pac, '--verbose'], { SYMSRV_PROXY_USER: micro.user, SYMSRV_PROXY_PASSWORD: micro.password });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      await sameFiles(cache, [CRASH]);
      // Through microsocks, which was sent the name: DIRECT would leave no line here.
      assert.match((await micro.log()).slice(before), new RegExp(`connected to localhost:${port(tls)}\\b`));
      assert.match(r.stderr, new RegExp(`-> 200 via proxy socks5h://127\\.0\\.0\\.1:${micro.port} \\(pac\\)`));
    }
  });

  test('a PAC file whose first SOCKS5 proxy is down: the next candidate (cannot reach the proxy)', async () => {
    const dead = await freePort();
    const pac = join(tmp, 'fallback.pac');
    await writeFile(pac, `function FindProxyForURL(url, host) { return "SOCKS5 127.0.0.1:${dead}; SOCKS 127.0.0.1:${dante.port}"; }\n`);
    const cache = join(tmp, 'pac-fallback');
    const r = symsrv([...fetchArgs(true, cache, [CRASH]), '--pac', pac], { SYMSRV_PROXY_USER: dante.user, SYMSRV_PROXY_PASSWORD: dante.password });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await sameFiles(cache, [CRASH]);
  });

  test('a PAC file answering only SOCKS4: E_PROXY saying why, not DIRECT', async () => {
    const pac = join(tmp, 'socks4.pac');
    await writeFile(pac, `function FindProxyForURL(url, host) { return "SOCKS4 127.0.0.1:${dante.port}"; }\n`);
    const cache = join(tmp, 'pac-socks4');
    const r = symsrv([...fetchArgs(false, cache, [CRASH]), '--pac', pac]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /no proxy in it that symsrv can use \(skipped 'SOCKS4 127\.0\.0\.1:\d+': SOCKS4 proxies are not supported/);
    assert.deepEqual(await listFiles(cache), []);
  });

  for (const [server, tls] of [['dante', true], ['microsocks', false]] as const) {
    test(`${server}, ${tls ? 'HTTPS' : 'HTTP'}: --jobs 4 with 20 files, over a pool of at most 4 SOCKS connections`, async () => {
      const s = server === 'dante' ? dante : micro;
      const cache = join(tmp, `${server}-jobs`);
      const before = (await s.log()).length;
      const r = symsrv([...fetchArgs(tls, cache, MANY), '--proxy', withScheme(s, 'socks5h', userinfo(s)), '--jobs', '4']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const rows = JSON.parse(r.stdout) as { status: string }[];
      assert.deepEqual(rows.map((x) => x.status), MANY.map(() => 'found'));
      await sameFiles(cache, MANY);
      const log = (await s.log()).slice(before);
      const connections = (log.match(server === 'dante' ? /tcp\/connect \[/g : /connected to /g) ?? []).length;
      assert.ok(connections >= 1 && connections <= 4, `${connections} SOCKS connections for 20 files at --jobs 4:\n${log}`);
    });
  }

  test('API: the proxy option with socks5h://user:pw@ and an unreachable SOCKS proxy', async () => {
    const t = new Transport({ retries: 0, ca: [await readFile(ca, 'utf8')], proxies: { proxy: withScheme(dante, 'socks5h', userinfo(dante)) } });
    try {
      const res = await t.get(`${origin(true)}/${CRASH}`);
      assert.equal(res.status, 200);
      await res.discard();
    } finally {
      await t.close();
    }
    const dead = await freePort();
    const down = new Transport({ retries: 0, proxies: { proxy: `socks5h://127.0.0.1:${dead}` } });
    try {
      await assert.rejects(down.get(`${origin(false)}/${CRASH}`), (err: unknown) => {
        assert.ok(isSymsrvError(err, 'E_PROXY'), String(err));
        assert.equal(err.unreachable, true);
        assert.match(err.message, new RegExp(`^cannot reach the proxy socks5h://127\\.0\\.0\\.1:${dead}: ECONNREFUSED`));
        return true;
      });
    } finally {
      await down.close();
    }
  });

  test('API: a prompt gives the credentials the SOCKS5 proxy asks for', async () => {
    const asked: string[][] = [];
    const t = new Transport({
      retries: 0,
      proxies: {
        proxy: withScheme(micro, 'socks5h'),
        prompt: async (request) => {
          asked.push(request.schemes);
          return { user: micro.user, password: micro.password };
        },
      },
    });
    try {
      const res = await t.get(`${origin(false)}/${CRASH}`);
      assert.equal(res.status, 200);
      await res.discard();
      assert.deepEqual(asked, [[METHOD]]);
    } finally {
      await t.close();
    }
  });
});

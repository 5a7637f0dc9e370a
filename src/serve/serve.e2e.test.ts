import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../test/helpers/cli.js';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { requireTool } from '../../test/helpers/readers.js';
import { listFiles, makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { makeTestCertificates } from '../../test/helpers/tls.js';
import { startRig, type Rig } from '../../test/rig/rig.js';

/**
 * `symsrv serve` as its users meet it: curl (HEAD, Range, 304, traversal), `symsrv fetch`,
 * elfutils' `debuginfod-find` and gdb as clients; nginx as the upstream store, and the rig's NTLM
 * squid between serve and the upstream for the authenticated way out.
 */

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;
const PDB_KEY = 'crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb';
const BUILD_ID = '126ba1461caf6644cfdd124bfcceeffa81b18897';
const DEBUG_KEY = `_.debug/elf-buildid-sym-${BUILD_ID}/_.debug`;
const MISSING_KEY = 'gone.pdb/0123456789ABCDEF0123456789ABCDEF1/gone.pdb';

interface Served {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  accessLog: string;
  stop(): Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Starts `symsrv serve ARGS --listen 127.0.0.1:0` and waits for the "serving ... on URL" line. */
async function serve(args: string[], env: Record<string, string | undefined> = {}, accessLog?: string): Promise<Served> {
  const log = accessLog ?? join(dir, `access-${randomBytes(4).toString('hex')}.log`);
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--access-log', log, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, _NT_SYMBOL_PATH: undefined, HTTP_PROXY: undefined, http_proxy: undefined, https_proxy: undefined, HTTPS_PROXY: undefined, ALL_PROXY: undefined, ...env },
  });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = / on (https?:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) {
        clearInterval(t);
        resolve(m[1]!);
      } else if (child.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`symsrv serve exited ${child.exitCode}: ${stderr}`));
      }
    }, 20);
  });
  return {
    url,
    child,
    stderr: () => stderr,
    accessLog: log,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      running.delete(child);
      return code;
    },
  };
}

function curl(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('curl', ['-sS', '--path-as-is', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** HTTP status and headers of a curl request (`-D -`, body discarded). */
function head(args: string[]): { status: number; headers: Record<string, string> } {
  const r = curl(['-o', '/dev/null', '-D', '-', ...args]);
  const lines = r.stdout.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0]!.split(' ')[1]), headers };
}

/** The access log once it holds a line matching `re` (the line is written just after the response ends). */
async function logWith(path: string, re: RegExp): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (re.test(text)) return text;
    await new Promise((r) => setTimeout(r, 20));
  }
  return readFile(path, 'utf8');
}

function requestsFor(log: string, path: string): number {
  return log.split('\n').filter((l) => l.includes(`GET ${path} `)).length;
}

let dir: string;
let origin: NginxServer;
let upstream: string;
before(async () => {
  requireTool('curl');
  dir = await makeTempDir('symsrv-serve-');
  upstream = join(dir, 'upstream');
  for (const [key, file] of [
    [PDB_KEY, join(FIX, 'pdb/crash.pdb')],
    [DEBUG_KEY, join(FIX, 'elf/symbolized_executable')],
  ] as const) {
    await mkdir(join(upstream, key, '..'), { recursive: true });
    await copyFile(file, join(upstream, key));
  }
  origin = await startNginx({ root: upstream });
});
after(async () => {
  for (const c of running) c.kill('SIGKILL');
  await origin?.stop();
  await removeDir(dir);
});

describe('symsrv serve: what it serves', () => {
  let s: Served;
  let cache: string;
  before(async () => {
    cache = join(dir, 'cache1');
    s = await serve(['-y', `srv*${cache}*${origin.url}/store`]);
  });
  after(() => s.stop());

  test('a key: fetched upstream once, cached, then served from the cache; byte-identical; application/octet-stream', async () => {
    const out = join(dir, 'got.pdb');
    assert.equal(curl(['-f', '-o', out, `${s.url}/${PDB_KEY}`]).code, 0);
    assert.deepEqual(await readFile(out), await readFile(join(FIX, 'pdb/crash.pdb')));
    assert.equal(curl(['-f', '-o', out, `${s.url}/${PDB_KEY}`]).code, 0);
    assert.ok((await listFiles(cache)).includes(PDB_KEY));
    assert.equal(requestsFor(await readFile(origin.accessLog, 'utf8'), `/store/${PDB_KEY}`), 1);
    const log = await logWith(s.accessLog, / hit 200 /);
    assert.match(log, new RegExp(`GET /${PDB_KEY} key=${PDB_KEY} upstream 200 1019904 `));
    assert.match(log, new RegExp(`GET /${PDB_KEY} key=${PDB_KEY} hit 200 1019904 `));
  });

  test('HEAD, Range (single, suffix, unsatisfiable), ETag / If-None-Match and If-Modified-Since → 304', async () => {
    const url = `${s.url}/${PDB_KEY}`;
    const h = head(['-I', url]);
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], '1019904');
    assert.equal(h.headers['accept-ranges'], 'bytes');
    assert.equal(h.headers['content-type'], 'application/octet-stream');
    const etag = h.headers['etag']!;
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);

    const original = await readFile(join(FIX, 'pdb/crash.pdb'));
    const r1 = spawnSync('curl', ['-sS', '-r', '32-63', url]);
    assert.deepEqual(r1.stdout, original.subarray(32, 64));
    const r2 = spawnSync('curl', ['-sS', '-H', 'Range: bytes=-16', url]);
    assert.deepEqual(r2.stdout, original.subarray(original.length - 16));
    const partial = head(['-r', '32-63', url]);
    assert.equal(partial.status, 206);
    assert.equal(partial.headers['content-range'], `bytes 32-63/${original.length}`);
    const bad = head(['-H', `Range: bytes=${original.length + 10}-`, url]);
    assert.equal(bad.status, 416);
    assert.equal(bad.headers['content-range'], `bytes */${original.length}`);

    assert.equal(head(['-H', `If-None-Match: ${etag}`, url]).status, 304);
    assert.equal(head(['-H', 'If-None-Match: "other"', url]).status, 200);
    assert.equal(head(['-H', `If-Modified-Since: ${h.headers['last-modified']}`, url]).status, 304);
  });

  test("SymSrv's other probes (name.pd_, file.ptr) and unknown keys are 404 with a text body, never HTML", () => {
    for (const path of [PDB_KEY.replace(/b$/, '_'), PDB_KEY.replace(/[^/]+$/, 'file.ptr'), MISSING_KEY]) {
      const r = curl(['-D', '-', `${s.url}/${path}`]);
      assert.match(r.stdout, /^HTTP\/1\.1 404 /, path);
      assert.match(r.stdout, /content-type: text\/plain/i);
      assert.doesNotMatch(r.stdout, /<html/i);
    }
  });

  test('traversal (.., %2e%2e, backslash, NUL, encoded slash) is refused with 400 before any path is built', async () => {
    const before = (await readFile(origin.accessLog, 'utf8')).split('\n').length;
    for (const path of ['/../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/crash.pdb/..%2f..%2fx/crash.pdb', '/a%5c..%5cb/ID/x', '/a%00b/ID/a%00b', '/crash.pdb/%2E%2E/crash.pdb', '/buildid/../../etc/passwd']) {
      const h = head([`${s.url}${path}`]);
      assert.equal(h.status, 400, path);
    }
    assert.equal((await readFile(origin.accessLog, 'utf8')).split('\n').length, before, 'nothing reached upstream');
  });

  test('symsrv fetch with srv*CACHE*http://serve gets keys from it', async () => {
    const c2 = join(dir, 'client-cache');
    const r = spawnSync(process.execPath, [CLI, 'fetch', '-y', `srv*${c2}*${s.url}`, '--key', PDB_KEY, '--key', DEBUG_KEY], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(await readFile(join(c2, DEBUG_KEY)), await readFile(join(FIX, 'elf/symbolized_executable')));
  });

  test('a remembered hit whose file was removed (a cache cleared) is looked up again, not a 500', async () => {
    const { rm } = await import('node:fs/promises');
    const before = requestsFor(await readFile(origin.accessLog, 'utf8'), `/store/${PDB_KEY}`);
    await rm(join(cache, PDB_KEY));
    const out = join(dir, 'again.pdb');
    assert.equal(curl(['-f', '-o', out, `${s.url}/${PDB_KEY}`]).code, 0);
    assert.deepEqual(await readFile(out), await readFile(join(FIX, 'pdb/crash.pdb')));
    assert.equal(requestsFor(await readFile(origin.accessLog, 'utf8'), `/store/${PDB_KEY}`), before + 1);
  });

  test('/healthz and /metrics (Prometheus text)', () => {
    assert.equal(curl([`${s.url}/healthz`]).stdout, 'ok\n');
    const m = curl([`${s.url}/metrics`]).stdout;
    assert.match(m, /^# TYPE symsrv_requests_total counter$/m);
    assert.match(m, /^symsrv_requests_total\{result="hit"\} \d+$/m);
    assert.match(m, /^symsrv_upstream_seconds_count [1-9]\d*$/m);
    assert.match(m, /^symsrv_bytes_sent_total [1-9]\d*$/m);
    assert.match(m, /^symsrv_in_flight 1$/m); // the /metrics request itself
  });
});

describe('symsrv serve: load and faults', () => {
  test('200 concurrent requests for one key not yet cached: one upstream download; for a key upstream lacks: one probe series, then the negative cache', async () => {
    const s = await serve(['-y', `srv*${join(dir, 'cache2')}*${origin.url}/store`]);
    try {
      const many = (path: string): Promise<number[]> =>
        Promise.all(Array.from({ length: 200 }, () => fetch(`${s.url}/${path}`).then(async (r) => (await r.arrayBuffer(), r.status))));
      const downloads = async (): Promise<number> => requestsFor(await readFile(origin.accessLog, 'utf8'), `/store/${DEBUG_KEY}`);
      const before = await downloads();
      assert.deepEqual(new Set(await many(DEBUG_KEY)), new Set([200]));
      assert.equal((await downloads()) - before, 1);

      const missing = 'absent.pdb/0123456789ABCDEF0123456789ABCDEF2/absent.pdb';
      assert.deepEqual(new Set(await many(missing)), new Set([404]));
      const after1 = await readFile(origin.accessLog, 'utf8');
      assert.equal(requestsFor(after1, `/store/${missing}`), 1);
      assert.equal(requestsFor(after1, `/store/${missing.replace(/b$/, '_')}`), 1);
      assert.equal(requestsFor(after1, `/store/${missing.replace(/[^/]+$/, 'file.ptr')}`), 1);
      assert.deepEqual(new Set(await many(missing)), new Set([404]));
      assert.equal(requestsFor(await readFile(origin.accessLog, 'utf8'), `/store/${missing}`), 1, 'the negative cache answered');
      assert.match(curl([`${s.url}/metrics`]).stdout, /^symsrv_requests_total\{result="negative"\} [1-9]\d*$/m);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  test('an upstream failure is a 502 with a one-line body, never cached as a miss', async () => {
    const s = await serve(['-y', `srv*${join(dir, 'cache3')}*http://127.0.0.1:9/store`, '--retries', '0']);
    try {
      for (let i = 0; i < 2; i++) {
        const r = curl(['-D', '-', `${s.url}/${PDB_KEY}`]);
        assert.match(r.stdout, /^HTTP\/1\.1 502 /);
        assert.match(r.stdout, /upstream failed: .*ECONNREFUSED/);
      }
      assert.equal((await logWith(s.accessLog, / error 502 [^]* error 502 /)).split('\n').filter((l) => / error 502 /.test(l)).length, 2);
    } finally {
      await s.stop();
    }
  });

  test('SIGTERM lets a download in flight finish, then exits 0', async () => {
    const big = randomBytes(24 * 1024 * 1024);
    const key = 'big.bin/B16/big.bin';
    const local = join(dir, 'bigstore');
    await mkdir(join(local, 'big.bin/B16'), { recursive: true });
    await writeFile(join(local, key), big);
    const s = await serve(['-y', `srv*${local}`]);
    const out = join(dir, 'big.out');
    const slow = spawn('curl', ['-sS', '--limit-rate', '16M', '-o', out, `${s.url}/${key}`]);
    const done = new Promise<number | null>((resolve) => slow.once('close', resolve));
    await new Promise((r) => setTimeout(r, 400));
    const code = await s.stop();
    assert.equal(await done, 0);
    assert.equal(code, 0);
    assert.ok((await readFile(out)).equals(big), 'the whole file arrived'); // (no deepEqual: a diff of 24 MiB exhausts the heap)
    assert.match(s.stderr(), /draining/);
  });

  test('two instances on one cache folder under load: every answer right, no temp file left', async () => {
    const shared = join(dir, 'shared-cache');
    const keys: string[] = [];
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 20; i++) {
      const key = `f${i}.bin/${(0x100 + i).toString(16).toUpperCase()}/f${i}.bin`;
      const bytes = randomBytes(64 * 1024 + i);
      await mkdir(join(upstream, key, '..'), { recursive: true });
      await writeFile(join(upstream, key), bytes);
      keys.push(key);
      files.set(key, bytes);
    }
    const a = await serve(['-y', `srv*${shared}*${origin.url}/store`]);
    const b = await serve(['-y', `srv*${shared}*${origin.url}/store`]);
    try {
      const jobs = Array.from({ length: 200 }, (_, i) => {
        const key = keys[i % keys.length]!;
        return fetch(`${(i % 2 ? a : b).url}/${key}`).then(async (r) => ({ key, status: r.status, body: Buffer.from(await r.arrayBuffer()) }));
      });
      for (const r of await Promise.all(jobs)) {
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, files.get(r.key));
      }
      const cached = await listFiles(shared);
      assert.ok(!cached.some((f) => f.includes('symsrv-tmp')), cached.join(', '));
      for (const key of keys) assert.deepEqual(await readFile(join(shared, key)), files.get(key));
      // Coalescing is per instance: at most one download per key per instance.
      const log = await readFile(origin.accessLog, 'utf8');
      for (const key of keys) assert.ok(requestsFor(log, `/store/${key}`) <= 2, key);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe('symsrv serve: client authentication and TLS', () => {
  test('--token-file demands the bearer token (and a token file others can read is refused); --users checks htpasswd bcrypt', async () => {
    const token = join(dir, 'token');
    await writeFile(token, 'correct-horse-battery-staple\n');
    await chmod(token, 0o644);
    const refused = spawnSync(process.execPath, [CLI, 'serve', '--token-file', token, '-y', `srv*${upstream}`], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /readable by others/);
    await chmod(token, 0o600);
    const s = await serve(['-y', `srv*${upstream}`, '--token-file', token]);
    try {
      assert.equal(head([`${s.url}/${PDB_KEY}`]).status, 401);
      assert.equal(head(['-H', 'Authorization: Bearer wrong-token-wrong-token', `${s.url}/${PDB_KEY}`]).status, 401);
      assert.equal(head(['-H', 'Authorization: Bearer correct-horse-battery-staple', `${s.url}/${PDB_KEY}`]).status, 200);
      assert.equal(head([`${s.url}/healthz`]).status, 200, 'health checks need no token');
      assert.doesNotMatch(await readFile(s.accessLog, 'utf8'), /correct-horse/);
    } finally {
      await s.stop();
    }
    requireTool('htpasswd'); // apache2-utils (scripts/test-all.sh)
    const users = join(dir, 'users');
    assert.equal(spawnSync('htpasswd', ['-bcB', users, 'bob', 's3cret-pw']).status, 0);
    await chmod(users, 0o600);
    const u = await serve(['-y', `srv*${upstream}`, '--users', users]);
    try {
      assert.equal(head(['-u', 'bob:wrong', `${u.url}/${PDB_KEY}`]).status, 401);
      assert.equal(head(['-u', 'bob:s3cret-pw', `${u.url}/${PDB_KEY}`]).status, 200);
    } finally {
      await u.stop();
    }
  });

  test('--cert/--key serve HTTPS', async () => {
    const tls = join(dir, 'tls');
    await mkdir(tls);
    const certs = await makeTestCertificates(tls);
    await chmod(certs.key, 0o600);
    const s = await serve(['-y', `srv*${upstream}`, '--cert', certs.cert, '--key', certs.key]);
    try {
      assert.match(s.url, /^https:/);
      const r = curl(['--cacert', certs.ca, '-o', '/dev/null', '-w', '%{http_code}', `${s.url}/${PDB_KEY}`]);
      assert.equal(r.stdout, '200');
    } finally {
      await s.stop();
    }
  });
});

describe('symsrv serve through the NTLM squid: debuginfod-find and gdb', { timeout: 300_000 }, () => {
  let rig: Rig<'ntlm'>;
  before(async () => {
    rig = await startRig({ schemes: ['ntlm'], winbindWaitMs: 120_000 });
    await mkdir(join(rig.storeRoot, DEBUG_KEY, '..'), { recursive: true });
    await copyFile(join(FIX, 'elf/symbolized_executable'), join(rig.storeRoot, DEBUG_KEY));
  });
  after(() => rig?.stop());

  test('both get the debug file by build-id; serve logged in to the proxy once per connection; no credential leaked', async () => {
    requireTool('debuginfod-find');
    const before407 = await rig.count407('ntlm');
    const s = await serve(['-y', `srv*${join(dir, 'ntlm-cache')}*${rig.httpOrigin.url}/store`, '--proxy', rig.proxies.ntlm.url, '--proxy-user', `${rig.domain}\\${rig.user}`], {
      SYMSRV_PROXY_PASSWORD: rig.password,
    });
    const xdg = join(dir, 'xdg');
    try {
      const env = { ...process.env, DEBUGINFOD_URLS: s.url, XDG_CACHE_HOME: xdg, HOME: dir };
      const find = spawnSync('debuginfod-find', ['debuginfo', BUILD_ID], { encoding: 'utf8', env });
      assert.equal(find.status, 0, find.stderr);
      assert.deepEqual(await readFile(find.stdout.trim()), await readFile(join(FIX, 'elf/symbolized_executable')));

      requireTool('gdb');
      {
        await removeDir(xdg);
        const gdb = spawnSync('gdb', ['-nx', '-batch', '-iex', 'set debuginfod enabled on', '-ex', 'info line main', join(FIX, 'elf/stripped_executable')], { encoding: 'utf8', env, timeout: 60_000 });
        assert.match(gdb.stdout + gdb.stderr, /Line 2 of "main\.c" starts at address 0x[0-9a-f]+ <main>/);
      }
    } finally {
      await s.stop();
    }
    const cost = (await rig.count407('ntlm')) - before407;
    assert.ok(cost >= 1 && cost <= 2, `407s: ${cost}`);
    const everything = (await readFile(s.accessLog, 'utf8')) + s.stderr() + (await readFile(rig.httpOrigin.accessLog, 'utf8'));
    assert.ok(!everything.includes(rig.password));
    assert.doesNotMatch(await readFile(rig.httpOrigin.accessLog, 'utf8'), /pauth="(?!-)/);
    assert.deepEqual((await readdir(join(dir, 'ntlm-cache'))).sort(), ['_.debug']);
  });
});

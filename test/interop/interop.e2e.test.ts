import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../helpers/cli.js';
import { repoRoot } from '../helpers/readers.js';
import { listFiles, makeTempDir, removeDir } from '../helpers/tempdir.js';
import { startRig, type Rig } from '../rig/rig.js';
import { selfCheck } from '../rig/selfcheck.js';
import { BRANDS, type Brand, type ClientSetup, type Kind, type RunningBrand } from './brands.js';
import { renderMatrix, type Matrix, type Outcome, type Row } from './matrix.js';

/**
 * symsrv against every proxy brand of test/interop/brands.ts (tinyproxy, Apache httpd Basic and
 * Digest, mitmproxy, cntlm in front of the NTLM squid), each started from its Debian package on
 * 127.0.0.1, over HTTP and HTTPS origins: good credentials (20 real files, byte-identical), a wrong
 * password (a clear error naming the proxy, within the 60 s the run is given), no credentials (the
 * message says how to give them), and no credential ever reaching an origin. curl runs each cell
 * beside symsrv, with the same files and the same proxy, as the reference. With
 * SYMSRV_WRITE_INTEROP=1 the run writes docs/interop.md (matrix.ts): results as measured.
 */

const N = 20;
const FIX = join(repoRoot, 'test', 'fixtures');
const WRITE = process.env.SYMSRV_WRITE_INTEROP === '1';
/** SYMSRV_INTEROP_BRANDS=id,id runs only those brands (to debug one; docs/interop.md is then not written). */
const only = process.env.SYMSRV_INTEROP_BRANDS?.split(',');
/**
 * symsrv's settings in every cell: no retry (a failure shows on the first try, as in the proxy e2e
 * suite, nothing hidden by a second attempt) and a 15 s timeout (a proxy that stops answering is
 * reported as such in 15 s instead of the 120 s default); everything else is the default.
 */
export const SYMSRV_SETTINGS = ['--retries', '0', '--timeout', '15'];
/** curl's per-transfer bound (10 s), and how long one curl run (15 s) or symsrv run (60 s) may take in all. */
const CURL_MAX_TIME = ['--max-time', '10'];
const CURL_KILL_MS = 15_000;
const SYMSRV_KILL_MS = 60_000;

interface Proc {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** Killed by the bound of runProc. */
  killed: boolean;
}

/** Asynchronous, so the counting relay (in this process) keeps relaying while a client runs. */
function runProc(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Proc> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      const killed = err !== null && code === null;
      resolve({ code, stdout, stderr: killed ? `${stderr}\n(killed after ${timeoutMs / 1000} s)` : stderr, ms: Date.now() - t0, killed });
    });
  });
}

/** No proxy variables, credentials or curl settings of the caller leak into a run. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', SYMSRV_PROMPTS: '0' };
  return { ...env, ...extra };
}

describe('proxy interop: each brand, symsrv and curl side by side', { timeout: 600_000 }, () => {
  let rig: Rig<'ntlm'>;
  let tmp: string;
  const files: Array<{ key: string; bytes: Buffer }> = [];
  const matrix: Matrix = { rows: [], leaks: new Map(), files: N, settings: SYMSRV_SETTINGS };

  before(async () => {
    rig = await startRig({ schemes: ['ntlm'], winbindWaitMs: 120_000 });
    await selfCheck(rig);
    tmp = await makeTempDir('symsrv-interop-');
    // N real files (PE, PDB, ELF, portable PDB) under keys with no identity (.bin): byte-compared, not validated.
    const all: string[] = [];
    for (const sub of ['pe', 'pdb', 'elf', 'portable-pdb']) {
      for (const e of await readdir(join(FIX, sub), { withFileTypes: true })) if (e.isFile()) all.push(join(FIX, sub, e.name));
    }
    assert.ok(all.length >= N, `${all.length} fixture files`);
    for (const [i, path] of all.sort().slice(0, N).entries()) {
      const key = `interop${i}.bin/${(0xa000 + i).toString(16).toUpperCase()}/interop${i}.bin`;
      await mkdir(join(rig.storeRoot, 'interop', key, '..'), { recursive: true });
      await copyFile(path, join(rig.storeRoot, 'interop', key));
      files.push({ key, bytes: await readFile(path) });
    }
  });

  after(async () => {
    if (WRITE && !only && matrix.rows.length > 0) await writeFile(join(repoRoot, 'docs', 'interop.md'), renderMatrix(matrix));
    await rig?.stop();
    if (tmp) await removeDir(tmp);
  });

  const originUrl = (origin: 'HTTP' | 'HTTPS'): string => `${origin === 'HTTP' ? rig.httpOrigin.url : rig.httpsOrigin.url}/store/interop`;

  for (const brand of BRANDS.filter((x) => !only || only.includes(x.id))) {
    const kinds = brand.kinds ?? ['good', 'bad', 'none'];
    describe(`${brand.title} (${brand.auth})`, () => {
      let b: RunningBrand;
      const outputs: string[] = [];
      const dirs: string[] = [];
      const logMarks = { http: 0, https: 0 };

      const lines = async (log: string): Promise<string[]> => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);

      before(async () => {
        logMarks.http = (await lines(rig.httpOrigin.accessLog)).length;
        logMarks.https = (await lines(rig.httpsOrigin.accessLog)).length;
        b = await brand.start(rig);
        await brandSelfCheck(brand, b);
      });

      after(async () => {
        await b?.stop();
      });

      /** curl with `credArgs`, every file (or the first only) in one invocation. */
      const curl = async (origin: 'HTTP' | 'HTTPS', label: string, setup: ClientSetup, credArgs: string[], all: boolean): Promise<{ outcome: Outcome; codes: string[] }> => {
        const dir = join(tmp, `${brand.id}-${origin}-curl-${label}`);
        await mkdir(dir);
        dirs.push(dir);
        const chosen = all ? files : files.slice(0, 1);
        const args = ['-q', '-s', '-S', ...CURL_MAX_TIME, '-w', '%{http_code}\\n', '--cacert', b.ca, '--proxy', setup.proxy, ...credArgs];
        chosen.forEach((f, i) => args.push('-o', join(dir, String(i)), `${originUrl(origin)}/${f.key}`));
        const before = await b.count();
        const r = await runProc('curl', args, cleanEnv({}), CURL_KILL_MS);
        const challenges = (await b.count()) - before;
        const codes = r.stdout.trim().split('\n');
        let identical = 0;
        for (const [i, f] of chosen.entries()) if ((await readFile(join(dir, String(i))).catch(() => Buffer.alloc(0))).equals(f.bytes)) identical++;
        const ok = identical === chosen.length;
        const failed = r.killed ? `killed after ${CURL_KILL_MS / 1000} s` : `HTTP ${[...new Set(codes)].join(',')}, exit ${r.code}`;
        const summary = all ? (ok ? `${identical}/${N} identical` : `${identical}/${N}, ${failed}`) : `HTTP ${codes.join(',')}`;
        return { outcome: { ok, summary, challenges, ms: r.ms, message: ok ? undefined : r.stderr.trim() || undefined }, codes };
      };

      /** `symsrv fetch` of every file through the proxy. */
      const symsrv = async (origin: 'HTTP' | 'HTTPS', kind: Kind, setup: ClientSetup): Promise<{ proc: Proc; rows: Array<{ status: string; error?: string }>; cache: string; challenges: number; identical: number; unanswered: number }> => {
        const cache = join(tmp, `${brand.id}-${origin}-symsrv-${kind}`);
        dirs.push(cache);
        const args = ['fetch', '--json', '--verbose', ...SYMSRV_SETTINGS, '--cacert', b.ca, '--proxy', setup.proxy, ...setup.symsrvArgs, '-y', `srv*${cache}*${originUrl(origin)}`];
        for (const f of files) args.push('--key', f.key);
        const before = await b.count();
        const unansweredBefore = b.unanswered?.() ?? 0;
        // 60 s: the bound for an answer when the password is wrong or missing (and plenty for 20 files).
        const proc = await runProc(process.execPath, [CLI, ...args], cleanEnv(setup.symsrvEnv), SYMSRV_KILL_MS);
        const challenges = (await b.count()) - before;
        const unanswered = (b.unanswered?.() ?? 0) - unansweredBefore;
        outputs.push(proc.stdout, proc.stderr);
        let rows: Array<{ status: string; error?: string }> = [];
        try {
          rows = JSON.parse(proc.stdout) as typeof rows;
        } catch {
          // reported through the outcome
        }
        let identical = 0;
        for (const f of files) if ((await readFile(join(cache, f.key)).catch(() => Buffer.alloc(0))).equals(f.bytes)) identical++;
        return { proc, rows, cache, challenges, identical, unanswered };
      };

      const firstError = (rows: Array<{ error?: string }>, proc: Proc): string => rows.find((r) => r.error)?.error ?? (proc.stderr.trim().split('\n').pop() || `exit ${proc.code}`);

      for (const origin of ['HTTP', 'HTTPS'] as const) {
        const row: Row = { brand, origin };
        matrix.rows.push(row);

        test(`${origin}: good credentials: ${N} files arrive byte-identical (curl beside)`, async () => {
          const setup = b.client('good')!;
          row.curl = (await curl(origin, 'good', setup, setup.curlArgs, true)).outcome;
          if (b.curlAnyauth) row.curlAnyauth = (await curl(origin, 'anyauth', setup, b.curlAnyauth, true)).outcome;
          const s = await symsrv(origin, 'good', setup);
          const ok = s.proc.code === 0 && s.identical === N && s.unanswered === 0;
          const failed = s.proc.killed ? `killed after ${SYMSRV_KILL_MS / 1000} s` : s.proc.code !== 0 ? `exit ${s.proc.code}` : `${s.unanswered} request(s) never answered`;
          row.symsrv = {
            ok,
            summary: ok ? `${N}/${N} identical` : `${s.identical}/${N}, ${failed}`,
            challenges: s.challenges,
            ms: s.proc.ms,
            message: ok ? undefined : firstError(s.rows, s.proc),
          };
          assert.equal(s.proc.code, 0, s.proc.stdout.slice(0, 1500) + s.proc.stderr.slice(0, 1500));
          assert.equal(s.identical, N);
          // No request waited for a proxy that had gone silent (seen where a relay is in front).
          assert.equal(s.unanswered, 0, 'requests the proxy never answered');
        });

        test(`${origin}: a wrong password fails with a clear message naming the proxy, and nothing is cached`, async () => {
          const setup = b.client('bad')!;
          row.badCurl = await curlRefused(origin, 'bad', setup);
          const s = await symsrv(origin, 'bad', setup);
          const message = firstError(s.rows, s.proc);
          const cached = await listFiles(s.cache);
          // The proxy named (its URL, or host:port), and what happened: authentication failed or refused.
          const named = message.includes(setup.proxy) || message.includes(new URL(setup.proxy).host);
          const clear = s.proc.code === 1 && s.rows.length === N && s.rows.every((r) => r.status === 'error') && named && /authentication/i.test(message);
          row.badSymsrv = { ok: clear && cached.length === 0, summary: clear ? 'clear error' : s.proc.killed ? `killed after ${SYMSRV_KILL_MS / 1000} s` : 'unclear error', challenges: s.challenges, ms: s.proc.ms, message };
          assert.equal(s.proc.code, 1, s.proc.stdout.slice(0, 1500) + s.proc.stderr.slice(0, 1500));
          assert.ok(named, `the message names the proxy ${setup.proxy}: ${message}`);
          assert.match(message, /authentication/i);
          assert.deepEqual(cached, []);
        });

        if (kinds.includes('none')) {
          test(`${origin}: no credentials: the message says how to give them`, async () => {
            const setup = b.client('none')!;
            row.noneCurl = await curlRefused(origin, 'none', setup);
            const s = await symsrv(origin, 'none', setup);
            const message = firstError(s.rows, s.proc);
            const how = /--proxy-user USER and the password in SYMSRV_PROXY_PASSWORD/.test(message);
            row.noneSymsrv = { ok: s.proc.code === 1 && how, summary: how ? 'says how' : s.proc.killed ? `killed after ${SYMSRV_KILL_MS / 1000} s` : 'does not say how', challenges: s.challenges, ms: s.proc.ms, message };
            assert.equal(s.proc.code, 1, s.proc.stdout.slice(0, 1500) + s.proc.stderr.slice(0, 1500));
            assert.ok(how, message);
          });
        }
      }

      /** curl with the bad (or no) credentials, one URL: refused (401/407) is what a proxy should answer. */
      async function curlRefused(origin: 'HTTP' | 'HTTPS', kind: Kind, setup: ClientSetup): Promise<Outcome> {
        const dir = join(tmp, `${brand.id}-${origin}-curl-${kind}`);
        await mkdir(dir);
        dirs.push(dir);
        const args = ['-q', '-s', '-S', ...CURL_MAX_TIME, '-o', join(dir, 'out'), '-w', '%{http_code} %{http_connect}', '--cacert', b.ca, '--proxy', setup.proxy, ...setup.curlArgs, `${originUrl(origin)}/${files[0]!.key}`];
        const before = await b.count();
        const r = await runProc('curl', args, cleanEnv({}), CURL_KILL_MS);
        const challenges = (await b.count()) - before;
        if (brand.socks) {
          // A SOCKS5 server refuses in its handshake: curl's exit 97 (CURLE_PROXY), no HTTP status.
          return { ok: r.code === 97, summary: r.code === 97 ? 'SOCKS5 handshake refused (exit 97)' : `exit ${r.code}`, challenges, ms: r.ms };
        }
        const [code, connectCode] = r.stdout.trim().split(' ');
        const status = origin === 'HTTPS' && connectCode !== '000' && connectCode !== '200' ? connectCode : code;
        return { ok: status === '407' || status === '401', summary: `HTTP ${status}`, challenges, ms: r.ms };
      }

      test('no credential reaches an origin, an output or a file', async () => {
        const secrets = [rig.password, Buffer.from(`${rig.user}:${rig.password}`).toString('base64'), ...(brand.secrets ?? [])];
        const problems: string[] = [];
        for (const [name, log, mark] of [['HTTP', rig.httpOrigin.accessLog, logMarks.http], ['HTTPS', rig.httpsOrigin.accessLog, logMarks.https]] as const) {
          const mine = (await lines(log)).slice(mark);
          if (mine.length === 0) problems.push(`the ${name} origin saw no request`);
          const bad = mine.filter((l) => !l.includes(' auth="-"') || !l.includes(' pauth="-"') || secrets.some((s) => l.includes(s)));
          if (bad.length > 0) problems.push(`the ${name} origin received a credential: ${bad[0]}`);
        }
        if (secrets.some((s) => outputs.join('\n').includes(s))) problems.push("the password is in symsrv's output");
        if (/(Basic|Digest|NTLM|Negotiate) [A-Za-z0-9+/=]{16,}/.test(outputs.join('\n'))) problems.push("a Proxy-Authorization value is in symsrv's output");
        for (const d of dirs) {
          for (const f of await listFiles(d)) {
            const bytes = await readFile(join(d, f));
            if (secrets.some((s) => bytes.includes(Buffer.from(s)))) problems.push(`${d}/${f} holds a credential`);
          }
        }
        matrix.leaks.set(brand.id, problems);
        assert.deepEqual(problems, []);
      });
    });
  }

  /**
   * The brand's own self-check, with curl and the brand's scheme option: one file over HTTP and
   * HTTPS with good credentials (200, byte-identical), refused without (or, for cntlm, with a
   * wrongly configured cntlm). A failure here means the brand's rig is broken, not symsrv.
   */
  async function brandSelfCheck(brand: Brand, b: RunningBrand): Promise<void> {
    const dir = await makeTempDir('symsrv-interop-check-');
    const problems: string[] = [];
    try {
      const f = files[0]!;
      for (const origin of ['HTTP', 'HTTPS'] as const) {
        const url = `${originUrl(origin)}/${f.key}`;
        const good = b.client('good')!;
        const out = join(dir, origin);
        const r = await runProc('curl', ['-q', '-s', '-S', '--max-time', '30', '-o', out, '-w', '%{http_code}', '--cacert', b.ca, '--proxy', good.proxy, ...good.curlArgs, url], cleanEnv({}), 40_000);
        const got = await readFile(out).catch(() => Buffer.alloc(0));
        if (r.stdout !== '200' || !got.equals(f.bytes)) problems.push(`good credentials over ${origin}: HTTP ${r.stdout}, ${got.length} bytes, ${r.stderr.trim()}`);
        const refused = b.client('none') ?? b.client('bad')!;
        const n = await runProc('curl', ['-q', '-s', '-S', '--max-time', '30', '-o', '/dev/null', '-w', '%{http_code} %{http_connect}', '--cacert', b.ca, '--proxy', refused.proxy, ...refused.curlArgs, url], cleanEnv({}), 40_000);
        const refusedOk = brand.socks ? n.code === 97 : /\b407\b/.test(n.stdout);
        if (!refusedOk) problems.push(`${b.client('none') ? 'no credentials' : 'a wrong password'} over ${origin}: ${n.stdout} (exit ${n.code}), expected ${brand.socks ? 'a refused SOCKS5 handshake' : '407'}`);
      }
    } finally {
      await removeDir(dir);
    }
    if (problems.length > 0) throw new Error(`the ${brand.title} (${brand.auth}) rig is broken (curl self-check, not symsrv):\n  ${problems.join('\n  ')}`);
  }
});

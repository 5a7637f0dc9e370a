import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { CLI } from '../../test/helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../../test/helpers/fault-proxy.js';
import { startNginx, type NginxServer } from '../../test/helpers/nginx.js';
import { makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { terminalPrompt } from '../prompts/terminal.js';

/**
 * Regression (issue 14 #4): text from servers, proxies and PAC scripts reached the terminal raw,
 * so a file.ptr MSG:, a CONNECT reason phrase, a PAC answer or a Basic realm could move the
 * cursor, clear the screen or set the window title. Each must arrive escaped (`\x1b`).
 */
const KEY = 'evil.pdb/ABCDEF1/evil.pdb';
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/; // any control but tab and newline

/** The CLI's stdout and stderr (spawned, not spawnSync: the fault proxy runs in this process). */
async function symsrv(args: string[]): Promise<string> {
  const child = execFile(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, HTTP_PROXY: undefined, HTTPS_PROXY: undefined, http_proxy: undefined, https_proxy: undefined, ALL_PROXY: undefined },
    timeout: 60_000,
  });
  let out = '';
  child.stdout!.on('data', (d: string) => (out += d));
  child.stderr!.on('data', (d: string) => (out += d));
  await new Promise((resolve) => child.on('close', resolve));
  return out;
}

describe('outside text reaches the terminal escaped', () => {
  let tmp: string;
  let nginx: NginxServer;
  let proxy: FaultProxy;

  before(async () => {
    tmp = await makeTempDir('symsrv-escape-');
    await mkdir(join(tmp, 'root', KEY, '..'), { recursive: true });
    await writeFile(join(tmp, 'root', KEY, '../file.ptr'), 'MSG: read me\x1b]0;pwned\x07\x1b[2J\u009b31m!\n');
    nginx = await startNginx({ root: join(tmp, 'root') });
    proxy = await startFaultProxy();
    proxy.modes.set('evil.test', 'escapes');
  });
  after(async () => {
    await nginx?.stop();
    await proxy?.stop();
    if (tmp) await removeDir(tmp);
  });

  test('a file.ptr MSG: line', async () => {
    for (const json of [[], ['--json']]) {
      const out = await symsrv(['fetch', ...json, '-v', '--retries', '0', '--no-proxy', '-y', `srv*${join(tmp, 'c')}*${nginx.url}/store`, '--key', KEY]);
      assert.match(out, /read me/, out);
      assert.doesNotMatch(out, RAW, out);
      if (json.length === 0) assert.match(out, /\\x1b\]0;pwned\\x07/);
    }
  });

  test('a CONNECT reason phrase and a forwarded request\'s status line', async () => {
    for (const scheme of ['https', 'http']) {
      const out = await symsrv(['fetch', '--retries', '0', '--proxy', proxy.url, '-y', `srv*${join(tmp, 'c')}*${scheme}://evil.test/s`, '--key', KEY]);
      assert.match(out, /403/, out);
      assert.doesNotMatch(out, RAW, out);
    }
  });

  test('a PAC answer and a PAC error', async () => {
    const pac = join(tmp, 'evil.pac');
    await writeFile(pac, `function FindProxyForURL(url, host) { if (host === 'throw.test') throw new Error('boom\\x1b[2J\\u009b'); return 'SOCKS \\x1b]0;pwned\\x07evil:1; HTTPS \\u009b31m:2'; }`);
    for (const host of ['evil.test', 'throw.test']) {
      for (const cmd of [['path'], ['fetch', '--retries', '0', '--key', KEY]]) {
        const out = await symsrv([...cmd, '--pac', pac, ...(cmd[0] === 'path' ? [`srv*${join(tmp, 'c')}*http://${host}/s`] : ['-y', `srv*${join(tmp, 'c')}*http://${host}/s`])]);
        assert.doesNotMatch(out, RAW, `${cmd.join(' ')} ${host}: ${out}`);
      }
    }
  });

  test('a Basic realm at the credential prompt', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (d: Buffer) => (shown += d.toString()));
    const asking = terminalPrompt({ input, output })({ proxy: 'http://p:1', schemes: ['Basic'], realm: 'corp\x1b[2J\x1b[HPassword: \u009b', refused: false } as never);
    input.write('\n'); // an empty user name: Cancel
    assert.equal(await asking, null);
    assert.match(shown, /realm "corp\\x1b\[2J\\x1b\[HPassword: \\x9b"/);
    assert.doesNotMatch(shown, RAW);
  });
});

test('library messages name options; the CLI says the flags (a TLS failure names --cacert)', async () => {
  const { makeTestCertificates } = await import('../../test/helpers/tls.js');
  const tmp = await makeTempDir('symsrv-flags-');
  const certs = await makeTestCertificates(tmp);
  const tls = await startNginx({ root: tmp, tls: { cert: certs.cert, key: certs.key } });
  try {
    const out = await symsrv(['fetch', '--retries', '0', '--no-proxy', '-y', `srv*${join(tmp, 'c')}*${tls.url}/store`, '--key', KEY]);
    assert.match(out, /TLS certificate check failed .*--cacert/, out);
    assert.doesNotMatch(out, /the ca option/);
  } finally {
    await tls.stop();
    await removeDir(tmp);
  }
});

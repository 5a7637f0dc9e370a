import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startRig, type Rig } from '../../test/rig/rig.js';
import { listFiles, makeTempDir, removeDir } from '../../test/helpers/tempdir.js';
import { SymbolClient } from '../client.js';
import type { CredentialRequest } from './types.js';
import { CLI } from '../../test/helpers/cli.js';
import { CRASH, HELLO } from '../../test/helpers/fixture-store.js';

/**
 * The credential prompt through a real terminal (tmux) and a real squid (Basic): asked on a 407,
 * told and asked again on a wrong password, Cancel turns Internet stores off with one message
 * while the local cache keeps working, and the password never shows on the screen or in a file.
 */

const MAIN = CLI; // the bundled command, as shipped
const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;

function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

async function screenUntil(session: string, pattern: RegExp, ms = 15_000): Promise<string> {
  let screen = '';
  for (const end = Date.now() + ms; Date.now() < end; ) {
    screen = tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', session);
    if (pattern.test(screen)) return screen;
    await sleep(50);
  }
  throw new Error(`the screen never showed ${pattern}:\n${screen}`);
}

describe('credential prompts in a terminal', { timeout: 180_000 }, () => {
  let rig: Rig<'basic'>;
  let tmp: string;
  const sessions: string[] = [];

  before(async () => {
    rig = await startRig({ schemes: ['basic'] });
    tmp = await makeTempDir('symsrv-prompts-');
    for (const [name, key] of [['crash.pdb', CRASH], ['HelloWorld.pdb', HELLO]] as const) {
      await mkdir(join(rig.storeRoot, key, '..'), { recursive: true });
      await copyFile(join(FIX, 'pdb', name), join(rig.storeRoot, key));
    }
  });
  after(async () => {
    for (const s of sessions) spawnSync('tmux', ['kill-session', '-t', s]);
    await rig?.stop();
    if (tmp) await removeDir(tmp);
  });

  /** Runs symsrv in a fresh tmux session; its exit code lands in a file. */
  async function start(name: string, args: string[], extraEnv = ''): Promise<{ session: string; code: () => Promise<number> }> {
    const session = `symsrv-${name}-${process.pid}`;
    sessions.push(session);
    const codeFile = join(tmp, `${name}.code`);
    const cmd = [process.execPath, MAIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const env = 'env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy -u SYMSRV_PROXY_USER -u SYMSRV_PROXY_PASSWORD -u CI -u SYMSRV_PROMPTS';
    tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50', `${env} ${extraEnv} ${cmd}; echo $? > ${codeFile}; sleep 60`);
    return {
      session,
      code: async () => {
        for (let i = 0; i < 300; i++) {
          const text = await readFile(codeFile, 'utf8').catch(() => '');
          if (text.trim()) return Number(text.trim());
          await sleep(50);
        }
        throw new Error('symsrv did not exit');
      },
    };
  }

  /** Waits until `pattern` (global) occurs at least `n` times on the screen. */
  async function screenCount(session: string, pattern: RegExp, n: number): Promise<void> {
    await screenUntil(session, { test: (screen: string) => (screen.match(pattern)?.length ?? 0) >= n } as RegExp);
  }

  /**
   * At `User name:`: alice with a wrong password, told and asked again, then the right one. Each
   * step waits for its own new prompt line (earlier prompts stay on the screen).
   */
  async function answerWrongThenRight(session: string): Promise<void> {
    const count = (re: RegExp): number => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', session).match(re)?.length ?? 0;
    const passwords = count(/Password:/g);
    const users = count(/User name:/g);
    tmux('send-keys', '-t', session, 'alice', 'Enter');
    await screenCount(session, /Password:/g, passwords + 1);
    tmux('send-keys', '-t', session, 'wrong-password', 'Enter');
    await screenCount(session, /User name:/g, users + 1);
    await screenUntil(session, /refused those credentials[\s\S]*User name: alice$/m);
    tmux('send-keys', '-t', session, 'Enter'); // the offered user name
    await screenCount(session, /Password:/g, passwords + 2);
    tmux('send-keys', '-t', session, rig.password, 'Enter');
  }

  const args = (cache: string, ...keys: string[]): string[] => [
    'fetch', '--retries', '0', '--proxy', rig.proxies.basic.url, '-y', `srv*${cache}*${rig.httpOrigin.url}/store`, ...keys.flatMap((k) => ['--key', k]),
  ];

  test('interactive: asked on a 407; a wrong password is told and asked again; the right one fetches', async () => {
    const cache = join(tmp, 'c1');
    const run = await start('good', args(cache, CRASH));
    await screenUntil(run.session, /requires authentication \(Basic, realm "symsrv-rig"\)[\s\S]*User name: $/m);
    await answerWrongThenRight(run.session);
    const screen = await screenUntil(run.session, /^found /m);
    assert.equal(await run.code(), 0);
    assert.ok(!screen.includes(rig.password) && !screen.includes('wrong-password'), 'no password on the screen');
    for (const f of await listFiles(tmp)) {
      assert.ok(!(await readFile(join(tmp, f))).includes(Buffer.from(rig.password)), `${f} holds the password`);
    }
  });

  test('Cancel: one message, Internet stores off, the local cache still answers, no second prompt', async () => {
    const cache = join(tmp, 'c2');
    // HelloWorld.pdb is already in the local cache; crash.pdb must come through the proxy.
    await mkdir(join(cache, HELLO, '..'), { recursive: true });
    await copyFile(join(FIX, 'pdb/HelloWorld.pdb'), join(cache, HELLO));
    const run = await start('cancel', [...args(cache, CRASH, HELLO, 'CrashWithException.pdb/F535C5FB2AE84BB8AA206C30BE566C5A1/CrashWithException.pdb'), '--jobs', '1']);
    await screenUntil(run.session, /User name: $/m);
    tmux('send-keys', '-t', run.session, 'C-c');
    const screen = await screenUntil(run.session, /^(found|missing|error) [\s\S]*\n(found|missing|error) [\s\S]*\n(found|missing|error) /m);
    assert.equal(await run.code(), 1);
    assert.equal(screen.match(/User name:/g)?.length, 1, 'asked once');
    assert.equal(screen.match(/^symsrv: .*Internet symbol stores are off/gm)?.length, 1, 'said once');
    assert.match(screen, new RegExp(`^found ${HELLO.replace(/\./g, '\\.')} `, 'm'));
  });

  test('symsrv shell: prompts off gives an error; !sym prompts + .reload asks, wrong then right, and loads', async () => {
    const cache = join(tmp, 'shell');
    const history = join(tmp, 'shell_history');
    const bin = join(tmp, 'crash.exe');
    await copyFile(join(FIX, 'pe/crash.exe'), bin);
    const run = await start('shell', ['shell', '--proxy', rig.proxies.basic.url, '-y', `srv*${cache}*${rig.httpOrigin.url}/store`, bin], `SYMSRV_SHELL_HISTORY=${history}`);
    await screenUntil(run.session, /symsrv> $/m);
    tmux('send-keys', '-t', run.session, '.reload', 'Enter');
    await screenUntil(run.session, /requires authentication[\s\S]*symsrv> $/m);
    tmux('send-keys', '-t', run.session, '!sym prompts', 'Enter');
    await screenUntil(run.session, /prompts on[\s\S]*symsrv> $/m);
    tmux('send-keys', '-t', run.session, '.reload', 'Enter');
    await screenUntil(run.session, /User name: $/m);
    await answerWrongThenRight(run.session);
    await screenUntil(run.session, /Password: \n[\s\S]*symsrv> $/m);
    tmux('send-keys', '-t', run.session, 'lm', 'Enter');
    await screenUntil(run.session, new RegExp(cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '/crash\\.pdb'));
    // !sym noisy: each probe of a .reload, with the proxy, why it was chosen and the scheme.
    // (the cached copy is removed first, so the lookup goes to the server again)
    await rm(join(cache, 'crash.pdb'), { recursive: true, force: true });
    tmux('send-keys', '-t', run.session, '!sym noisy', 'Enter');
    tmux('send-keys', '-t', run.session, '.reload /f', 'Enter');
    const screen = await screenUntil(run.session, /SYMSRV: .*crash\.pdb -> 200/);
    assert.match(screen, new RegExp(`SYMSRV: .*/crash\\.pdb -> missing`));
    assert.match(screen, new RegExp(`SYMSRV: .*/crash\\.pdb -> 200 via proxy ${rig.proxies.basic.url} \\(option\\), Basic`));
    tmux('send-keys', '-t', run.session, 'q', 'Enter');
    assert.equal(await run.code(), 0);
    assert.ok(!screen.includes(rig.password) && !screen.includes('wrong-password'), 'no password on the screen');
    const hist = await readFile(history, 'utf8');
    assert.match(hist, /\.reload/);
    assert.ok(!hist.includes(rig.password) && !hist.includes('wrong-password') && !hist.includes('alice'), 'no answer in the history');
  });

  test('symsrv shell: Cancel says so once, keeps local symbols, no prompt again until !sym prompts', async () => {
    const cache = join(tmp, 'shell-cancel');
    const bins = join(tmp, 'bins-cancel');
    await mkdir(bins, { recursive: true });
    await copyFile(join(FIX, 'pe/crash.exe'), join(bins, 'crash.exe'));
    await copyFile(join(FIX, 'pe/HelloWorld.exe'), join(bins, 'HelloWorld.exe'));
    // HelloWorld.pdb is in the local cache already; crash.pdb must come through the proxy.
    await mkdir(join(cache, HELLO, '..'), { recursive: true });
    await copyFile(join(FIX, 'pdb/HelloWorld.pdb'), join(cache, HELLO));
    const run = await start('shellcancel', ['shell', '--proxy', rig.proxies.basic.url, '-y', `srv*${cache}*${rig.httpOrigin.url}/store`, bins], `SYMSRV_SHELL_HISTORY=${join(tmp, 'h2')}`);
    await screenUntil(run.session, /symsrv> $/m);
    tmux('send-keys', '-t', run.session, '!sym prompts', 'Enter');
    await screenUntil(run.session, /prompts on[\s\S]*symsrv> $/m);
    tmux('send-keys', '-t', run.session, '.reload', 'Enter');
    await screenUntil(run.session, /User name: $/m);
    tmux('send-keys', '-t', run.session, 'C-c');
    await screenUntil(run.session, /Internet symbol stores are off[\s\S]*symsrv> $/m);
    tmux('send-keys', '-t', run.session, '.reload /f', 'Enter');
    tmux('send-keys', '-t', run.session, 'lm', 'Enter');
    let screen = await screenUntil(run.session, /HelloWorld\.pdb[\s\S]*symsrv> $/m);
    assert.equal(screen.match(/User name:/g)?.length, 1, 'no second prompt after Cancel');
    // The notice once (the module's own state line may repeat the reason).
    assert.equal(screen.match(/^SYMSRV: .*Internet symbol stores are off/gm)?.length, 1, 'said once');
    tmux('send-keys', '-t', run.session, '!sym prompts', 'Enter');
    tmux('send-keys', '-t', run.session, '.reload', 'Enter');
    // The first prompt's line is still on the screen: wait for a second one.
    screen = await screenUntil(run.session, /User name:[\s\S]*User name: $/m);
    assert.equal(screen.match(/User name:/g)?.length, 2, 'asked again after !sym prompts');
    await answerWrongThenRight(run.session);
    tmux('send-keys', '-t', run.session, 'lm', 'Enter');
    await screenUntil(run.session, new RegExp(`${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/crash\\.pdb`));
    tmux('send-keys', '-t', run.session, 'q', 'Enter');
    assert.equal(await run.code(), 0);
    for (const f of await listFiles(tmp)) {
      assert.ok(!(await readFile(join(tmp, f))).includes(Buffer.from(rig.password)), `${f} holds the password`);
    }
  });

  test('library: a prompt callback (a GUI dialog), asked again on refusal; noPrompts; a new path keeps the answer, a new proxy asks; Cancel', async () => {
    const asked: CredentialRequest[] = [];
    const answers: Array<{ user: string; password: string } | null> = [
      { user: 'alice', password: 'wrong-password' },
      { user: 'alice', password: rig.password },
    ];
    const client = new SymbolClient({
      symbolPath: `srv*${join(tmp, 'lib')}*${rig.httpOrigin.url}/store`,
      proxy: rig.proxies.basic.url,
      transport: { retries: 0 },
      prompt: async (req) => {
        asked.push(req);
        return answers.shift() ?? null;
      },
    });
    try {
      await client.setOptions({ noPrompts: true });
      const off = await client.find(CRASH);
      assert.equal(off.status === 'error' && off.error.code, 'E_PROXY_AUTH_REQUIRED');
      assert.equal(asked.length, 0, 'noPrompts: never asked');
      await client.setOptions({ noPrompts: false });
      const on = await client.find(CRASH);
      assert.equal(on.status, 'found', JSON.stringify(on));
      assert.deepEqual(asked.map((a) => [a.refused, a.schemes, a.realm]), [
        [false, ['Basic'], 'symsrv-rig'],
        [true, ['Basic'], 'symsrv-rig'],
      ]);
      assert.ok(!JSON.stringify(asked).includes(rig.password), 'requests carry no password');
      // A new symbol path (.sympath) keeps what was answered: the proxy's credentials are not the path's.
      await client.setOptions({ symbolPath: `srv*${join(tmp, 'lib-new')}*${rig.httpOrigin.url}/store` });
      assert.equal((await client.find(HELLO)).status, 'found');
      assert.equal(asked.length, 2, 'not asked again after a symbol path change');
      // A new proxy is another question.
      await client.setOptions({ proxy: rig.proxies.basic.url });
      assert.equal((await client.find(CRASH)).status, 'error', 'the answers ran out: Cancel');
      assert.equal(asked.length, 3, 'asked again for a new proxy setting');
    } finally {
      await client.close();
    }
    // Cancel: Internet stores off for the session, until prompts are switched on again.
    const messages: string[] = [];
    const cancelling = new SymbolClient({
      symbolPath: `srv*${join(tmp, 'lib2')}*${rig.httpOrigin.url}/store`,
      proxy: rig.proxies.basic.url,
      transport: { retries: 0 },
      prompt: async () => null,
      onMessage: (m) => messages.push(m),
    });
    try {
      assert.equal((await cancelling.find(CRASH)).status, 'error');
      assert.equal(cancelling.internetDisabled, true);
      assert.deepEqual(await cancelling.find(HELLO), { key: HELLO, status: 'missing' }, 'HTTP stores skipped');
      assert.equal(messages.length, 1);
      await cancelling.setOptions({ noPrompts: false });
      assert.equal(cancelling.internetDisabled, false);
    } finally {
      await cancelling.close();
    }
  });

  test('prompts off (--no-prompts, or not a terminal): a clear error saying how to give credentials', async () => {
    const r = spawnSync(process.execPath, [MAIN, ...args(join(tmp, 'c3'), CRASH)], {
      encoding: 'utf8',
      env: { ...process.env, SYMSRV_PROXY_USER: undefined, SYMSRV_PROXY_PASSWORD: undefined, HTTP_PROXY: undefined, http_proxy: undefined },
      input: 'alice\n',
    });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /requires authentication .*SYMSRV_PROXY_PASSWORD/);
    assert.doesNotMatch(r.stderr, /User name/);
    await writeFile(join(tmp, 'done'), '');
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { startFaultServer, type FaultServer } from '../../../test/helpers/faults.js';
import type { NginxServer } from '../../../test/helpers/nginx.js';
import { makeTempDir } from '../../../test/helpers/tempdir.js';
import { CLI } from '../../../test/helpers/cli.js';
import { CRASH, CWE, startFixtureStore, type FixtureStore } from '../../../test/helpers/fixture-store.js';

const MAIN = CLI; // the bundled command, as shipped
const FIX = new URL('../../../../test/fixtures/', import.meta.url).pathname;
const EXES = [join(FIX, 'pe/crash.exe'), join(FIX, 'pe/CrashWithException.exe')];

let tmp: string;
let nginx: NginxServer;
let faults: FaultServer;

let store: FixtureStore;

before(async () => {
  store = await startFixtureStore('symsrv-cli-shell-');
  ({ tmp, nginx } = store);
  faults = await startFaultServer({ root: join(tmp, 'www') });
});
after(async () => {
  await faults?.stop();
  await store?.stop();
});

/** The environment of a shell under test: no symbol path or proxy from the machine, history in `tmp`. */
function testEnv(history: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, SYMSRV_SHELL_HISTORY: history };
  for (const name of ['_NT_SYMBOL_PATH', '_NT_ALT_SYMBOL_PATH', '_NT_SYMBOL_PROXY', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy']) {
    delete env[name];
  }
  return env;
}

describe('symsrv shell, commands on stdin', () => {
  test('runs each line as a command after a simple prompt, exits 0 at q; nothing goes to the history file', () => {
    const cache = join(tmp, 'pipe-cache');
    const history = join(tmp, 'pipe-history');
    const r = spawnSync(process.execPath, [MAIN, 'shell', '-y', `srv*${cache}*${nginx.url}/store`, ...EXES], {
      input: 'lm\n.reload\nlm\nq\nlm\n',
      encoding: 'utf8',
      env: testEnv(history),
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      'symsrv> lm',
      'module              symbols',
      'crash               deferred',
      'CrashWithException  deferred',
      'symsrv> .reload',
      `crash: loaded ${join(cache, CRASH)}`,
      `CrashWithException: loaded ${join(cache, CWE)}`,
      'symsrv> lm',
      'module              symbols',
      `crash               loaded    ${join(cache, CRASH)}`,
      `CrashWithException  loaded    ${join(cache, CWE)}`,
      'symsrv> q',
    ]);
    assert.equal(spawnSync('test', ['-e', history]).status, 1, 'no history file for piped commands');
  });

  test('the end of input quits (exit 0); a bad command is one line and the loop goes on', () => {
    const r = spawnSync(process.execPath, [MAIN, 'shell', '-y', `srv*${join(tmp, 'pipe-cache2')}*${nginx.url}/store`, EXES[0]!], {
      input: 'nonsense\r\n!sym noisy\r\nld crash',
      encoding: 'utf8',
      env: testEnv(join(tmp, 'pipe-history2')),
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^symsrv> nonsense\nCouldn't resolve error at 'nonsense'/);
    assert.match(r.stdout, /SYMSRV: {2}http:\/\/127\.0\.0\.1:\d+\/store: .*crash\.pdb -> 200 via direct\ncrash: loaded /);
  });

  test('a TARGET that is not a binary, or a missing one: exit 2 before the console starts, no stack trace', () => {
    for (const bad of [join(FIX, 'pdb/crash.pdb'), join(tmp, 'nope.exe')]) {
      const r = spawnSync(process.execPath, [MAIN, 'shell', '-y', join(tmp, 'x'), bad], { input: 'q\n', encoding: 'utf8', env: testEnv(join(tmp, 'h3')) });
      assert.equal(r.status, 2, bad);
      assert.match(r.stderr, /^symsrv: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.equal(r.stdout, '');
    }
  });
});

describe('symsrv shell in a terminal (tmux)', () => {
  // A tmux server of our own (-L), so the test never touches the user's sessions.
  const socket = `symsrv-test-${process.pid}`;
  const tmux = (...args: string[]): string => {
    const r = spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
    if (r.error) throw new Error(`cannot run tmux (${(r.error as NodeJS.ErrnoException).code}): apt-get install tmux`);
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** The pane with its scrollback, blank rows below the cursor and trailing blanks removed. */
  const screen = (name: string): string =>
    tmux('capture-pane', '-p', '-J', '-S', '-', '-t', name)
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n')
      .trimEnd();
  /** The pane's text once it matches `re` (polled; fails with the screen after `ms`). */
  const waitFor = async (name: string, re: RegExp, ms = 15_000): Promise<string> => {
    const end = Date.now() + ms;
    for (;;) {
      const text = screen(name);
      if (re.test(text)) return text;
      if (Date.now() > end) assert.fail(`timed out waiting for ${re} on the screen:\n${text}`);
      await sleep(100);
    }
  };
  /** The line the cursor is on (the prompt and what is typed), trailing blanks removed. */
  const currentLine = (name: string): string => {
    const lines = tmux('capture-pane', '-p', '-t', name).split('\n'); // not -J: rows as the cursor counts them
    const row = Number(tmux('display-message', '-p', '-t', name, '#{cursor_y}').trim());
    return (lines[row] ?? '').trimEnd();
  };
  /** Starts the shell in a new tmux session; its exit code lands in `<dir>/rc`. */
  const start = async (name: string, dir: string, args: string[]): Promise<void> => {
    const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const env = testEnv(join(dir, 'history'));
    const script = [
      // Ctrl+C goes to the whole foreground process group: this sh must outlive it to write rc.
      'trap : INT',
      ...['_NT_SYMBOL_PATH', '_NT_ALT_SYMBOL_PATH', '_NT_SYMBOL_PROXY', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'].map(
        (v) => `unset ${v}`,
      ),
      `export SYMSRV_SHELL_HISTORY=${quote(env['SYMSRV_SHELL_HISTORY']!)}`,
      `${quote(process.execPath)} ${quote(MAIN)} shell ${args.map(quote).join(' ')}`,
      `echo $? > ${quote(join(dir, 'rc'))}`,
    ].join('\n');
    await writeFile(join(dir, `${name}.sh`), script + '\n');
    tmux('new-session', '-d', '-s', name, '-x', '200', '-y', '50', `sh ${quote(join(dir, `${name}.sh`))}`);
  };
  const exitCode = async (dir: string): Promise<number> => {
    const end = Date.now() + 15_000;
    for (;;) {
      const text = await readFile(join(dir, 'rc'), 'utf8').catch(() => '');
      if (text.trim() !== '') return Number(text.trim());
      if (Date.now() > end) assert.fail('the shell did not exit');
      await sleep(100);
    }
  };

  after(() => {
    spawnSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  });

  test('prompt, .reload then lm shows the PDB paths, Up recalls the last command, q exits 0; the history outlives the session', async () => {
    const dir = await makeTempDir('symsrv-tmux-', tmp);
    const cache = join(dir, 'cache');
    await start('one', dir, ['-y', `srv*${cache}*${nginx.url}/store`, ...EXES]);
    await waitFor('one', /^symsrv> ?$/m);
    assert.match(screen('one'), /symsrv \S+ shell: 2 modules, symbols deferred/);

    tmux('send-keys', '-t', 'one', '.reload', 'Enter');
    await waitFor('one', /^CrashWithException: loaded /m);
    tmux('send-keys', '-t', 'one', 'lm', 'Enter');
    const listed = await waitFor('one', /^CrashWithException +loaded +\S+/m);
    assert.ok(listed.includes(`crash               loaded    ${join(cache, CRASH)}`), listed);
    assert.ok(listed.includes(`CrashWithException  loaded    ${join(cache, CWE)}`), listed);
    await waitFor('one', /CrashWithException +loaded .*\n+symsrv> ?$/);

    // Up: the last command comes back on the prompt line; Enter runs it again.
    tmux('send-keys', '-t', 'one', 'Up');
    await waitFor('one', /\nsymsrv> lm$/);
    assert.equal(currentLine('one'), 'symsrv> lm');
    tmux('send-keys', '-t', 'one', 'Up');
    await waitFor('one', /\nsymsrv> \.reload$/);
    tmux('send-keys', '-t', 'one', 'Down', 'Enter');
    await waitFor('one', /symsrv> lm\n(?:.*\n){3}symsrv> lm\nmodule +symbols\ncrash +loaded .*\nCrashWithException +loaded .*\nsymsrv> ?$/);

    tmux('send-keys', '-t', 'one', 'q', 'Enter');
    assert.equal(await exitCode(dir), 0);
    assert.equal(await readFile(join(dir, 'history'), 'utf8'), '.reload\nlm\nq\n');
    assert.equal((await stat(join(dir, 'history'))).mode & 0o777, 0o600);

    // A new session starts with that history; Ctrl+D on an empty line quits.
    await writeFile(join(dir, 'rc'), '');
    await start('two', dir, ['-y', `srv*${cache}*${nginx.url}/store`, ...EXES]);
    await waitFor('two', /^symsrv> ?$/m);
    tmux('send-keys', '-t', 'two', 'Up', 'Up');
    await waitFor('two', /\nsymsrv> lm$/);
    tmux('send-keys', '-t', 'two', 'C-u');
    await waitFor('two', /\nsymsrv> ?$/);
    tmux('send-keys', '-t', 'two', 'C-d');
    assert.equal(await exitCode(dir), 0);
  });
  test('Ctrl+C drops the line being typed; during a lookup it stops the lookup, not the console', async () => {
    const dir = await makeTempDir('symsrv-tmux-', tmp);
    // /stall/ sends headers and 16 bytes, then nothing: the lookup waits until it is stopped.
    await start('three', dir, ['-y', `srv*${join(dir, 'cache')}*${faults.url}/stall`, EXES[0]!]);
    await waitFor('three', /^symsrv> ?$/m);
    tmux('send-keys', '-t', 'three', 'not a command', 'C-c');
    await waitFor('three', /symsrv> not a command\^C\nsymsrv> ?$/);
    tmux('send-keys', '-t', 'three', 'ld crash', 'Enter');
    await sleep(500);
    tmux('send-keys', '-t', 'three', 'C-c');
    await waitFor('three', /symsrv> ld crash\n(?:\^C)?\n?interrupted: 1 module not looked up\nsymsrv> ?$/);
    tmux('send-keys', '-t', 'three', 'lm', 'Enter');
    await waitFor('three', /crash +deferred\nsymsrv> ?$/);
    tmux('send-keys', '-t', 'three', 'q', 'Enter');
    assert.equal(await exitCode(dir), 0);
    assert.equal(await readFile(join(dir, 'history'), 'utf8'), 'ld crash\nlm\nq\n');
  });
});

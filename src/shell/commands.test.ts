import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NginxServer } from '../../test/helpers/nginx.js';
import { complete, executeCommand, parseCommandLine, runCommand } from './commands.js';
import { loadTargets } from './modules.js';
import { ShellSession } from './session.js';
import { CRASH, CWE, HELLO, startFixtureStore, type FixtureStore } from '../../test/helpers/fixture-store.js';

const FIX = new URL('../../../test/fixtures/', import.meta.url).pathname;
const BINARIES = ['pe/crash.exe', 'pe/CrashWithException.exe', 'pe/HelloWorld.exe'].map((f) => join(FIX, f));

describe('parseCommandLine', () => {
  test('names are case-insensitive; the rest of the line is the argument, as the debugger reads it', () => {
    assert.deepEqual(parseCommandLine('  .SymPath  srv*C:\\My Symbols*https://x/s  '), { name: '.sympath', args: 'srv*C:\\My Symbols*https://x/s' });
    assert.deepEqual(parseCommandLine('.sympath+ /opt/syms'), { name: '.sympath+', args: '/opt/syms' });
    assert.deepEqual(parseCommandLine('!SYM NOISY'), { name: '!sym', args: 'NOISY' });
    assert.deepEqual(parseCommandLine('.sympath "/my syms"'), { name: '.sympath', args: '/my syms' });
    assert.equal(parseCommandLine('   '), undefined);
  });

  test('lm takes its options glued on (lmv, lmvm crash) or apart (lm v m crash)', () => {
    assert.deepEqual(parseCommandLine('LM'), { name: 'lm', args: '' });
    assert.deepEqual(parseCommandLine('lmvm crash'), { name: 'lm', args: 'vm crash' });
    assert.deepEqual(parseCommandLine('lmv'), { name: 'lm', args: 'v' });
    assert.deepEqual(parseCommandLine('lm m cr*'), { name: 'lm', args: 'm cr*' });
    assert.deepEqual(parseCommandLine('lmx'), { name: 'lmx', args: '' }, 'not an lm option: an unknown command');
  });
});

describe('the shell against a real store', () => {
  let tmp: string;
  let nginx: NginxServer;
  let n = 0;
  /** A session on a fresh cache in front of the nginx store, with the three binaries loaded. */
  const open = async (opts: { retries?: number } = {}): Promise<{ session: ShellSession; cache: string }> => {
    const cache = join(tmp, `cache${++n}`);
    const { modules } = await loadTargets(BINARIES);
    const session = new ShellSession({
      symbolPath: `srv*${cache}*${nginx.url}/store`,
      transport: { retries: opts.retries ?? 0, proxies: { proxy: 'direct' } },
      modules,
      env: {},
    });
    return { session, cache };
  };

  let store: FixtureStore;
  before(async () => {
    // HelloWorld's PDB is left out: that module stays missing.
    store = await startFixtureStore('symsrv-shell-');
    ({ tmp, nginx } = store);
  });
  after(() => store?.stop());

  test('lm shows every module deferred; .reload loads them; lm then shows the PDB paths, and a missing one as missing', async () => {
    const { session, cache } = await open();
    try {
      assert.deepEqual((await runCommand(session, 'lm')).split('\n'), [
        'module              symbols',
        'crash               deferred',
        'CrashWithException  deferred',
        'HelloWorld          deferred',
        '',
      ]);
      assert.deepEqual((await runCommand(session, '.reload')).split('\n'), [
        `crash: loaded ${join(cache, CRASH)}`,
        `CrashWithException: loaded ${join(cache, CWE)}`,
        `HelloWorld: missing ${HELLO} not found`,
        '',
      ]);
      assert.deepEqual((await runCommand(session, 'LM')).split('\n'), [
        'module              symbols',
        `crash               loaded    ${join(cache, CRASH)}`,
        `CrashWithException  loaded    ${join(cache, CWE)}`,
        `HelloWorld          missing   ${HELLO} not found`,
        '',
      ]);
      assert.deepEqual(
        session.modules.map((m) => m.state.status),
        ['loaded', 'loaded', 'missing'],
      );
      // lm options: problems only, a pattern, verbose
      assert.match(await runCommand(session, 'lme'), /^module +symbols\nHelloWorld +missing/);
      const v = await runCommand(session, 'lmvm crash');
      assert.match(v, new RegExp(`image:  ${join(FIX, 'pe/crash.exe')}`));
      assert.match(v, new RegExp(`key:    ${CRASH} \\(pdbref\\)`));
      assert.match(v, new RegExp(`store:  ${nginx.url}/store`));
      assert.doesNotMatch(v, /CrashWithException/);
    } finally {
      await session.close();
    }
  });

  test('!sym noisy + .reload /f prints each probe (store, URL, status, route); .reload keeps loaded modules', async () => {
    const { session, cache } = await open();
    try {
      await runCommand(session, '.reload');
      assert.equal(await runCommand(session, '!sym noisy'), 'noisy mode - symbol prompts off\n');
      // Without /f only HelloWorld (missing) is looked up again: the cache, then the server.
      const again = (await runCommand(session, '.reload')).trimEnd().split('\n');
      assert.deepEqual(again, [
        `SYMSRV:  ${cache}: ${join(cache, HELLO)} -> missing`,
        `SYMSRV:  ${nginx.url}/store: ${nginx.url}/store/${HELLO} -> 404 via direct`,
        `SYMSRV:  ${nginx.url}/store: ${nginx.url}/store/${HELLO.replace(/b$/, '_')} -> 404 via direct`,
        `SYMSRV:  ${nginx.url}/store: ${nginx.url}/store/${HELLO.replace(/[^/]+$/, 'file.ptr')} -> 404`,
        `HelloWorld: missing ${HELLO} not found`,
      ]);
      // /f looks loaded modules up again (found in the cache this time), one at a time in noisy
      // mode: each module's probes come right before its line.
      const forced = (await runCommand(session, '.reload /f crash*')).trimEnd().split('\n');
      assert.deepEqual(forced, [
        `SYMSRV:  ${cache}: ${join(cache, CRASH)} -> found`,
        `crash: loaded ${join(cache, CRASH)}`,
        `SYMSRV:  ${cache}: ${join(cache, CWE)} -> found`,
        `CrashWithException: loaded ${join(cache, CWE)}`,
      ]);
      assert.equal(await runCommand(session, '!sym quiet'), 'quiet mode - symbol prompts off\n');
      assert.doesNotMatch(await runCommand(session, '.reload /f crash'), /SYMSRV/);
    } finally {
      await session.close();
    }
  });

  test(
    'looking a missing module up again and again stays fast (regression: discard() left 404 sockets out of the pool)',
    async () => {
      const { session } = await open();
      try {
        for (let i = 0; i < 4; i++) {
          const out = await runCommand(session, 'ld HelloWorld', AbortSignal.timeout(5000));
          assert.equal(out, `HelloWorld: missing ${HELLO} not found\n`, `lookup ${i + 1}`);
        }
      } finally {
        await session.close();
      }
    },
  );

  test('ld loads one module now, by module or file name; an unknown name is a one-line error', async () => {
    const { session, cache } = await open();
    try {
      assert.equal(await runCommand(session, 'ld CrashWithException.exe'), `CrashWithException: loaded ${join(cache, CWE)}\n`);
      assert.deepEqual(
        session.modules.map((m) => m.state.status),
        ['deferred', 'loaded', 'deferred'],
      );
      assert.equal(await runCommand(session, 'ld crashwithexception'), 'Symbols already loaded for CrashWithException\n');
      assert.equal(await runCommand(session, 'ld nosuch'), "no module matches 'nosuch' (lm lists them)\n");
      assert.equal(await runCommand(session, '.reload /f crash'), `crash: loaded ${join(cache, CRASH)}\n`);
      assert.equal(await runCommand(session, '.reload /x'), ".reload: unknown option '/x' (usage: .reload [/f] [MODULE])\n");
    } finally {
      await session.close();
    }
  });

  test('.sympath shows and sets the path, .sympath+ appends, .symfix sets the Microsoft server path (not looked up)', async () => {
    const { session, cache } = await open();
    try {
      const shown = await runCommand(session, '.sympath');
      assert.match(shown, new RegExp(`^Symbol search path is: srv\\*${cache}\\*${nginx.url}/store  \\(argument\\)\n1\\. srv\\*`));
      const other = join(tmp, 'other');
      await runCommand(session, `.sympath srv*${other}*${nginx.url}/store`);
      assert.equal(session.symbolPath, `srv*${other}*${nginx.url}/store`);
      // the new client is used: the next lookup fills the new cache
      assert.equal(await runCommand(session, 'ld crash'), `crash: loaded ${join(other, CRASH)}\n`);
      await runCommand(session, '.sympath+ /opt/more-syms');
      assert.equal(session.symbolPath, `srv*${other}*${nginx.url}/store;/opt/more-syms`);
      const fixed = await runCommand(session, '.symfix /tmp/x');
      assert.equal(session.symbolPath, 'srv*/tmp/x*https://msdl.microsoft.com/download/symbols');
      assert.match(fixed, /^Symbol search path is: srv\*\/tmp\/x\*https:\/\/msdl\.microsoft\.com\/download\/symbols\n/);
      // symbols already loaded stay loaded across a path change
      assert.equal(session.modules[0]!.state.status, 'loaded');
      assert.equal(await runCommand(session, '.sympath+'), 'usage: .sympath+ PATH\n');
    } finally {
      await session.close();
    }
  });

  test('.sympath never shows URL userinfo', async () => {
    const { session } = await open();
    try {
      const out = await runCommand(session, `.sympath srv*${join(tmp, 'c-ui')}*http://alice:s3cret@127.0.0.1:1/store`);
      assert.doesNotMatch(out, /s3cret|alice/);
      assert.match(out, /http:\/\/\*\*\*@127\.0\.0\.1:1\/store/);
    } finally {
      await session.close();
    }
  });

  test('!sym prompts / !sym prompts off flip session.promptsOn (off at the start, as in cdb) and call onPromptsChanged', async () => {
    const { session } = await open();
    const seen: boolean[] = [];
    session.onPromptsChanged = (on) => seen.push(on);
    try {
      assert.equal(session.promptsOn, false);
      assert.equal(await runCommand(session, '!sym'), 'quiet mode - symbol prompts off\n');
      assert.equal(await runCommand(session, '!sym prompts'), 'quiet mode - symbol prompts on\n');
      assert.equal(session.promptsOn, true);
      assert.equal(await runCommand(session, '!SYM Prompts Off'), 'quiet mode - symbol prompts off\n');
      assert.equal(session.promptsOn, false);
      assert.deepEqual(seen, [true, false]);
      assert.equal(await runCommand(session, '!sym loud'), 'usage: !sym <noisy/quiet - prompts/prompts off>\n');
    } finally {
      await session.close();
    }
  });

  test('a store that fails gives the module an error state with the reason', async () => {
    const { session } = await open();
    try {
      await runCommand(session, `.sympath srv*${join(tmp, 'c-500')}*${nginx.url}/error500`);
      const out = await runCommand(session, 'ld crash');
      assert.match(out, /^crash: error .*500/);
      assert.match(await runCommand(session, 'lm m crash'), /crash +error +.*500/);
    } finally {
      await session.close();
    }
  });

  test('unknown commands and q: one line, the loop goes on; q ends it', async () => {
    const { session } = await open();
    try {
      assert.equal(await runCommand(session, 'k'), "Couldn't resolve error at 'k' (.help lists the commands)\n");
      assert.equal(await runCommand(session, ''), '');
      const help = await runCommand(session, '.help');
      for (const c of ['.sympath [PATH]', '.sympath+ PATH', '.symfix [CACHE]', '!sym', '.reload [/f] [MODULE]', 'lm', 'ld MODULE', 'q']) {
        assert.ok(help.includes(c), c);
      }
      assert.equal(await executeCommand(session, 'Q', { write: () => {} }), 'quit');
      assert.equal(await executeCommand(session, 'lm', { write: () => {} }), 'continue');
    } finally {
      await session.close();
    }
  });

  test('Ctrl+C (an aborted signal) leaves the modules as they were', async () => {
    const { session } = await open();
    try {
      const stop = new AbortController();
      stop.abort();
      assert.equal(await runCommand(session, '.reload', stop.signal), 'interrupted: 3 modules not looked up\n');
      assert.deepEqual(
        session.modules.map((m) => m.state.status),
        ['deferred', 'deferred', 'deferred'],
      );
    } finally {
      await session.close();
    }
  });

  test('Tab completion: command names, then module names', async () => {
    const { session } = await open();
    try {
      assert.deepEqual(complete(session, '.sym'), [['.symfix', '.symfix+', '.sympath', '.sympath+'], '.sym']);
      assert.deepEqual(complete(session, '.reload /f cr'), [['crash', 'CrashWithException'], 'cr']);
      assert.deepEqual(complete(session, 'ld H'), [['HelloWorld'], 'H']);
    } finally {
      await session.close();
    }
  });
});

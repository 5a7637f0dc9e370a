import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import envPaths from 'env-paths';
import { defaultDownstreamStore, MICROSOFT_SYMBOL_SERVER, symbolPathFromEnv, symfixPath } from './defaults.js';
import { parseSymbolPath } from './parse.js';

const userCache = path.join(envPaths('symsrv', { suffix: '' }).cache, 'sym');

describe('defaultDownstreamStore', () => {
  it('Advanced SymSrv Use: the sym subdirectory of DBGHELP_HOMEDIR', () => {
    assert.equal(defaultDownstreamStore({ DBGHELP_HOMEDIR: 'C:\\Symbols' }), path.join('C:\\Symbols', 'sym'));
    assert.equal(defaultDownstreamStore({ DBGHELP_HOMEDIR: '/srv/dbg' }), path.join('/srv/dbg', 'sym'));
  });

  it('trims DBGHELP_HOMEDIR and takes the first entry of a ;-list', () => {
    assert.equal(defaultDownstreamStore({ DBGHELP_HOMEDIR: '  /a  ' }), path.join('/a', 'sym'));
    assert.equal(defaultDownstreamStore({ DBGHELP_HOMEDIR: ' ;/a;/b' }), path.join('/a', 'sym'));
  });

  it('without DBGHELP_HOMEDIR (or with a blank one): sym under the user cache folder', () => {
    assert.equal(defaultDownstreamStore({}), userCache);
    assert.equal(defaultDownstreamStore({ DBGHELP_HOMEDIR: '' }), userCache);
    assert.equal(defaultDownstreamStore({ DBGHELP_HOMEDIR: ' ; ' }), userCache);
  });

  it('is what parseSymbolPath uses for an empty token when no option is given', () => {
    const saved = process.env['DBGHELP_HOMEDIR'];
    process.env['DBGHELP_HOMEDIR'] = '/tmp/home-for-test';
    try {
      const e = parseSymbolPath('srv**https://x').elements[0];
      assert.deepEqual(e?.type === 'srv' && e.stores[0], { kind: 'local', path: path.join('/tmp/home-for-test', 'sym'), isDefault: true });
    } finally {
      if (saved === undefined) delete process.env['DBGHELP_HOMEDIR'];
      else process.env['DBGHELP_HOMEDIR'] = saved;
    }
  });
});

describe('symfixPath', () => {
  it('.symfix c:\\myCache: the Microsoft symbol server behind the cache', () => {
    assert.equal(MICROSOFT_SYMBOL_SERVER, 'https://msdl.microsoft.com/download/symbols');
    assert.equal(symfixPath('c:\\myCache'), 'srv*c:\\myCache*https://msdl.microsoft.com/download/symbols');
  });

  it('.symfix with no cache: the default downstream store', () => {
    assert.equal(symfixPath(undefined, { DBGHELP_HOMEDIR: '/h' }), `srv*${path.join('/h', 'sym')}*${MICROSOFT_SYMBOL_SERVER}`);
    assert.equal(symfixPath('  ', {}), `srv*${userCache}*${MICROSOFT_SYMBOL_SERVER}`);
  });

  it('parses back to a two-store chain', () => {
    const e = parseSymbolPath(symfixPath('/c')).elements[0];
    assert.deepEqual(e?.type === 'srv' && e.stores, [
      { kind: 'local', path: '/c', isDefault: false },
      { kind: 'http', url: MICROSOFT_SYMBOL_SERVER },
    ]);
  });
});

describe('symbolPathFromEnv', () => {
  it('undefined when neither variable is set, or both are blank', () => {
    assert.equal(symbolPathFromEnv({}), undefined);
    assert.equal(symbolPathFromEnv({ _NT_SYMBOL_PATH: '', _NT_ALT_SYMBOL_PATH: ' ; ' }), undefined);
  });

  it('either variable alone', () => {
    assert.equal(symbolPathFromEnv({ _NT_SYMBOL_PATH: 'srv*c:\\s*https://x' }), 'srv*c:\\s*https://x');
    assert.equal(symbolPathFromEnv({ _NT_ALT_SYMBOL_PATH: 'c:\\private' }), 'c:\\private');
  });

  it('Symbol path for Windows debuggers: _NT_SYMBOL_PATH is appended after _NT_ALT_SYMBOL_PATH', () => {
    assert.equal(
      symbolPathFromEnv({ _NT_SYMBOL_PATH: 'srv*c:\\s*https://x', _NT_ALT_SYMBOL_PATH: 'c:\\private' }),
      'c:\\private;srv*c:\\s*https://x',
    );
  });

  it('a cache* at the end of _NT_ALT_SYMBOL_PATH applies to _NT_SYMBOL_PATH (one path)', () => {
    const text = symbolPathFromEnv({ _NT_SYMBOL_PATH: 'c:\\b', _NT_ALT_SYMBOL_PATH: 'c:\\a;cache*c:\\c;' });
    assert.equal(text, 'c:\\a;cache*c:\\c;c:\\b');
    const last = parseSymbolPath(text ?? '', { defaultDownstream: '/d' }).elements[2];
    assert.deepEqual(last?.type === 'folder' && last.caches, [{ kind: 'local', path: 'c:\\c', isDefault: false }]);
  });

  it('does not double the separator when a value ends or starts with ;', () => {
    assert.equal(symbolPathFromEnv({ _NT_SYMBOL_PATH: ';c:\\b;', _NT_ALT_SYMBOL_PATH: 'c:\\a;' }), 'c:\\a;c:\\b');
  });
});

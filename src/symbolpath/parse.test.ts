import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSymsrvError } from '../errors.js';
import { MICROSOFT_SYMBOL_SERVER } from './defaults.js';
import { parseSymbolPath, type StoreSpec, type SymbolPathElement } from './parse.js';

// Worked examples come from Microsoft's docs; each test names its source. The same examples are
// in docs/symbolpath.md. A fixed default downstream store keeps results independent of the machine.
const DEF = '/home/u/.cache/symsrv/sym';
const opts = { defaultDownstream: DEF };
const MS = MICROSOFT_SYMBOL_SERVER;

const local = (path: string): StoreSpec => ({ kind: 'local', path, isDefault: false });
const http = (url: string): StoreSpec => ({ kind: 'http', url });
const def: StoreSpec = { kind: 'local', path: DEF, isDefault: true };

function parse(text: string): SymbolPathElement[] {
  return parseSymbolPath(text, opts).elements;
}

function only(text: string): SymbolPathElement {
  const elements = parse(text);
  assert.equal(elements.length, 1, `one element in ${text}`);
  return elements[0]!;
}

function srv(text: string, stores: StoreSpec[], caches: StoreSpec[] = [], implied: string[] = []): SymbolPathElement {
  return { type: 'srv', text, stores, caches, implied } as SymbolPathElement;
}

function assertUnsupported(text: string, ...mentions: string[]): void {
  const e = only(text);
  assert.equal(e.type, 'unsupported', `${text} is unsupported`);
  if (e.type !== 'unsupported') return;
  assert.equal(e.text, text);
  for (const m of mentions) assert.ok(e.reason.includes(m), `reason "${e.reason}" mentions "${m}"`);
}

describe('parseSymbolPath: empty and whitespace', () => {
  it('an empty path, or only ; and blanks, has no elements', () => {
    for (const text of ['', ' ', ';', ';;;', ' ; \t; ', '\n;\r\n']) {
      assert.deepEqual(parseSymbolPath(text, opts), { text, elements: [] });
    }
  });

  it('trims elements and ignores empty ones', () => {
    const p = parseSymbolPath('  C:\\a  ;; \t;\\\\srv\\share ; ', opts);
    assert.equal(p.text, '  C:\\a  ;; \t;\\\\srv\\share ; ');
    assert.deepEqual(p.elements, [
      { type: 'folder', text: 'C:\\a', path: 'C:\\a', caches: [] },
      { type: 'folder', text: '\\\\srv\\share', path: '\\\\srv\\share', caches: [] },
    ]);
  });

  it('trims the stores of a chain', () => {
    assert.deepEqual(only('srv* C:\\sym * https://x '), srv('srv* C:\\sym * https://x', [local('C:\\sym'), http('https://x')]));
  });
});

describe('parseSymbolPath: plain folders', () => {
  it('Symbol path for Windows debuggers, "Symbol path syntax": C:\\Dir1;C:\\Dir2\\DirA;C:\\Dir2\\DirB', () => {
    assert.deepEqual(
      parse('C:\\Dir1;C:\\Dir2\\DirA;C:\\Dir2\\DirB').map((e) => e.type === 'folder' && e.path),
      ['C:\\Dir1', 'C:\\Dir2\\DirA', 'C:\\Dir2\\DirB'],
    );
  });

  it('keeps drive paths whole: a colon is not a separator', () => {
    assert.deepEqual(only('D:\\symbols\\x64'), { type: 'folder', text: 'D:\\symbols\\x64', path: 'D:\\symbols\\x64', caches: [] });
    assert.deepEqual(only('c:'), { type: 'folder', text: 'c:', path: 'c:', caches: [] });
  });

  it('keeps UNC, relative and POSIX paths as given', () => {
    for (const p of ['\\\\server\\share\\symbols', '.', '..\\dll', 'symbols', '/usr/lib/debug', './sym', '~/sym']) {
      assert.deepEqual(only(p), { type: 'folder', text: p, path: p, caches: [] });
    }
  });

  it('a word that only looks like a keyword is a folder (srv, cache, symsrv without *)', () => {
    for (const p of ['srv', 'cache', 'symsrv', 'srvfoo', 'C:\\srv*']) {
      assert.equal(only(p).type, 'folder', p);
    }
  });

  it('Advanced SymSrv Use, "Working With HTTP and SMB...": HTTP needs srv*, so a bare URL is unsupported', () => {
    assertUnsupported('https://msdl.microsoft.com/download/symbols', 'srv*');
    assertUnsupported('HTTP://example.com/symbols', 'srv*');
  });
});

describe('parseSymbolPath: srv* chains (documented examples)', () => {
  it('Symbol path for Windows debuggers: srv*c:\\MyServerSymbols*https://msdl.microsoft.com/download/symbols', () => {
    const t = 'srv*c:\\MyServerSymbols*https://msdl.microsoft.com/download/symbols';
    assert.deepEqual(only(t), srv(t, [local('c:\\MyServerSymbols'), http(MS)]));
  });

  it('Symbol path for Windows debuggers: c:\\MyRegularSymbols;srv*c:\\MyServerSymbols*https://...', () => {
    const [a, b] = parse('c:\\MyRegularSymbols;srv*c:\\MyServerSymbols*https://msdl.microsoft.com/download/symbols');
    assert.deepEqual(a, { type: 'folder', text: 'c:\\MyRegularSymbols', path: 'c:\\MyRegularSymbols', caches: [] });
    assert.deepEqual(b, srv('srv*c:\\MyServerSymbols*https://msdl.microsoft.com/download/symbols', [local('c:\\MyServerSymbols'), http(MS)]));
  });

  it('Advanced SymSrv Use: symsrv*symsrv.dll*\\\\mybuilds\\mysymbols (one store, opened in place)', () => {
    const t = 'symsrv*symsrv.dll*\\\\mybuilds\\mysymbols';
    assert.deepEqual(only(t), srv(t, [local('\\\\mybuilds\\mysymbols')]));
  });

  it('Advanced SymSrv Use: symsrv*symsrv.dll*c:\\localsymbols*\\\\mybuilds\\mysymbols', () => {
    const t = 'symsrv*symsrv.dll*c:\\localsymbols*\\\\mybuilds\\mysymbols';
    assert.deepEqual(only(t), srv(t, [local('c:\\localsymbols'), local('\\\\mybuilds\\mysymbols')]));
  });

  it('Advanced SymSrv Use: the symsrv*symsrv.dll* HTTPS example equals its srv* shortening', () => {
    const long = only('symsrv*symsrv.dll*\\\\localserver\\myshare\\mycache*https://www.company.com/manysymbols');
    const short = only('srv*\\\\localserver\\myshare\\mycache*https://www.company.com/manysymbols');
    const stores = [local('\\\\localserver\\myshare\\mycache'), http('https://www.company.com/manysymbols')];
    assert.deepEqual(long.type === 'srv' && long.stores, stores);
    assert.deepEqual(short.type === 'srv' && short.stores, stores);
  });

  it('Advanced SymSrv Use, "Cascading Downstream Stores": srv*c:\\localcache*\\\\interim\\store*https://msdl...', () => {
    const t = 'srv*c:\\localcache*\\\\interim\\store*https://msdl.microsoft.com/download/symbols';
    assert.deepEqual(only(t), srv(t, [local('c:\\localcache'), local('\\\\interim\\store'), http(MS)]));
  });

  it('Advanced SymSrv Use, "Cascading Downstream Stores": srv**\\\\interim\\store*https://internetsite', () => {
    const t = 'srv**\\\\interim\\store*https://internetsite';
    assert.deepEqual(only(t), srv(t, [def, local('\\\\interim\\store'), http('https://internetsite')]));
  });

  it('Advanced SymSrv Use, "Example HTTP and SMB...": the UNC-only branch-office chain', () => {
    const t = 'srv*C:\\Symbols*\\\\BranchOfficeA\\Symbols*\\\\MainOffice\\Symbols';
    assert.deepEqual(only(t), srv(t, [local('C:\\Symbols'), local('\\\\BranchOfficeA\\Symbols'), local('\\\\MainOffice\\Symbols')]));
  });

  it('Advanced SymSrv Use, "Multiple HTTP and SMB...": two chains separated by ;', () => {
    const t =
      'srv*C:\\Symbols*\\\\Machine1\\Symbols*https://SymProxyName/Symbols;srv*C:\\WebSymbols*https://msdl.microsoft.com/download/symbols';
    const [a, b, c] = parse(t);
    assert.deepEqual(a, srv('srv*C:\\Symbols*\\\\Machine1\\Symbols*https://SymProxyName/Symbols', [
      local('C:\\Symbols'),
      local('\\\\Machine1\\Symbols'),
      http('https://SymProxyName/Symbols'),
    ]));
    assert.deepEqual(b, srv('srv*C:\\WebSymbols*https://msdl.microsoft.com/download/symbols', [local('C:\\WebSymbols'), http(MS)]));
    assert.equal(c, undefined);
  });

  it('Using SymSrv: srv*\\\\mybuilds\\mysymbols and srv**\\\\mybuilds\\mysymbols', () => {
    assert.deepEqual(only('srv*\\\\mybuilds\\mysymbols'), srv('srv*\\\\mybuilds\\mysymbols', [local('\\\\mybuilds\\mysymbols')]));
    assert.deepEqual(only('srv**\\\\mybuilds\\mysymbols'), srv('srv**\\\\mybuilds\\mysymbols', [def, local('\\\\mybuilds\\mysymbols')]));
  });

  it('Using SymSrv: srv*c:\\localsymbols*\\\\NearbyServer\\store*http://DistantServer', () => {
    const t = 'srv*c:\\localsymbols*\\\\NearbyServer\\store*http://DistantServer';
    assert.deepEqual(only(t), srv(t, [local('c:\\localsymbols'), local('\\\\NearbyServer\\store'), http('http://DistantServer')]));
  });
});

describe('parseSymbolPath: the default downstream store', () => {
  it('an empty token anywhere is the default downstream store (srv*c:\\a**url)', () => {
    const t = 'srv*c:\\a**https://x';
    assert.deepEqual(only(t), srv(t, [local('c:\\a'), def, http('https://x')]));
  });

  it('a trailing * is an empty token too ("Cascading Downstream Stores")', () => {
    assert.deepEqual(only('srv*c:\\a*'), srv('srv*c:\\a*', [local('c:\\a'), def]));
  });

  it('srv*url: a lone HTTP store gets the default downstream store in front (Using SymSrv, Advanced SymSrv Use)', () => {
    assert.deepEqual(only('srv*https://x'), srv('srv*https://x', [def, http('https://x')], [], ['default-downstream']));
  });

  it('Symbol path for Windows debuggers: srv*https://msdl.microsoft.com/download/symbols', () => {
    const t = 'srv*https://msdl.microsoft.com/download/symbols';
    assert.deepEqual(only(t), srv(t, [def, http(MS)], [], ['default-downstream']));
  });

  it('srv*c:\\a: a lone local store is opened in place, no default store (Using SymSrv)', () => {
    assert.deepEqual(only('srv*c:\\a'), srv('srv*c:\\a', [local('c:\\a')]));
  });

  it('srv* alone is the Microsoft symbol server behind the default downstream store (.symfix)', () => {
    const expected = srv('srv*', [def, http(MS)], [], ['microsoft-symbol-server', 'default-downstream']);
    assert.deepEqual(only('srv*'), expected);
    assert.deepEqual(only('SRV*  '), { ...expected, text: 'SRV*' });
    assert.deepEqual(only('symsrv*symsrv.dll*'), { ...expected, text: 'symsrv*symsrv.dll*' });
    assert.deepEqual(only('symsrv*symsrv.dll'), { ...expected, text: 'symsrv*symsrv.dll' });
  });

  it('uses defaultDownstreamStore() when no option is given', () => {
    const e = parseSymbolPath('srv**https://x').elements[0];
    assert.equal(e?.type, 'srv');
    if (e?.type !== 'srv') return;
    const first = e.stores[0];
    assert.equal(first?.kind === 'local' && first.isDefault, true);
    assert.ok(first?.kind === 'local' && first.path.endsWith('sym'));
  });

  it('refuses an empty defaultDownstream option', () => {
    assert.throws(() => parseSymbolPath('srv*', { defaultDownstream: ' ' }), (err) => isSymsrvError(err, 'E_USAGE'));
  });
});

describe('parseSymbolPath: keywords and the DLL name', () => {
  it('srv, symsrv and cache are case-insensitive (.symfix prints SRV*)', () => {
    assert.deepEqual(only('SRV*c:\\x*https://y'), srv('SRV*c:\\x*https://y', [local('c:\\x'), http('https://y')]));
    assert.deepEqual(only('SymSrv*SymSrv.dll*c:\\x'), srv('SymSrv*SymSrv.dll*c:\\x', [local('c:\\x')]));
    assert.deepEqual(only('CACHE*c:\\c'), { type: 'cache', text: 'CACHE*c:\\c', store: local('c:\\c') });
  });

  it('symsrv*SYMSRV.DLL*... and a full path to symsrv.dll are SymSrv', () => {
    assert.equal(only('symsrv*SYMSRV.DLL*c:\\a*https://x').type, 'srv');
    assert.equal(only('symsrv*C:\\Debuggers\\symsrv.dll*c:\\a*https://x').type, 'srv');
  });

  it('another symbol server DLL is unsupported, and the rest of the path still works', () => {
    const [a, b] = parse('symsrv*other.dll*\\\\server\\share;C:\\sym');
    assert.equal(a?.type, 'unsupported');
    assert.ok(a?.type === 'unsupported' && a.reason.includes('other.dll'));
    assert.deepEqual(b, { type: 'folder', text: 'C:\\sym', path: 'C:\\sym', caches: [] });
  });

  it('symsrv* with no DLL name is unsupported', () => {
    assertUnsupported('symsrv*', 'DLL');
    assertUnsupported('symsrv**c:\\a', 'DLL');
  });
});

describe('parseSymbolPath: HTTP stores must be last', () => {
  it('an HTTP store before the end of the chain makes the element unsupported, naming the store', () => {
    assertUnsupported('srv*https://a*c:\\b', 'https://a', 'not the last');
    assertUnsupported('srv*c:\\a*https://b*\\\\c\\d', 'https://b', 'not the last');
  });

  it('two HTTP stores in one chain: only one can be specified per chain', () => {
    assertUnsupported('srv*c:\\a*https://one*https://two', 'https://one');
  });

  it('a trailing * after an HTTP store puts the default store upstream of it: unsupported', () => {
    assertUnsupported('srv*https://x*', 'https://x');
  });

  it('an HTTP store with no host is unsupported', () => {
    assertUnsupported('srv*c:\\a*https://', 'https://');
  });

  it('http:// and https:// are recognised case-insensitively', () => {
    assert.deepEqual(only('srv*c:\\a*HTTPS://X/s'), srv('srv*c:\\a*HTTPS://X/s', [local('c:\\a'), http('HTTPS://X/s')]));
  });

  it('an unsupported element does not stop the next one', () => {
    const [a, b] = parse('srv*https://a*c:\\b;srv*c:\\sym*https://msdl.microsoft.com/download/symbols');
    assert.equal(a?.type, 'unsupported');
    assert.equal(b?.type, 'srv');
  });
});

describe('parseSymbolPath: store count', () => {
  it('Using SymSrv: up to 10 stores after srv*', () => {
    const ten = `srv*${Array.from({ length: 9 }, (_, i) => `c:\\s${i}`).join('*')}*https://x`;
    assert.equal(only(ten).type, 'srv');
    const eleven = `srv*${Array.from({ length: 10 }, (_, i) => `c:\\s${i}`).join('*')}*https://x`;
    assertUnsupported(eleven, '11', '10');
  });
});

describe('parseSymbolPath: cache*', () => {
  it('Advanced SymSrv Use, "cache*localsymbolcache": only elements to the right are cached', () => {
    const t =
      '\\\\someshare\\that\\cachestar\\ignores;srv*c:\\mysymbols*https://msdl.microsoft.com/download/symbols;cache*c:\\mysymbols;\\\\anothershare\\that\\gets\\cached';
    const [a, b, c, d] = parse(t);
    const cache = local('c:\\mysymbols');
    assert.deepEqual(a, {
      type: 'folder',
      text: '\\\\someshare\\that\\cachestar\\ignores',
      path: '\\\\someshare\\that\\cachestar\\ignores',
      caches: [],
    });
    assert.deepEqual(b, srv('srv*c:\\mysymbols*https://msdl.microsoft.com/download/symbols', [cache, http(MS)]));
    assert.deepEqual(c, { type: 'cache', text: 'cache*c:\\mysymbols', store: cache });
    assert.deepEqual(d, {
      type: 'folder',
      text: '\\\\anothershare\\that\\gets\\cached',
      path: '\\\\anothershare\\that\\gets\\cached',
      caches: [cache],
    });
  });

  it('Symbol path for Windows debuggers: cache*;\\\\someshare uses the default cache', () => {
    const [a, b] = parse('cache*;\\\\someshare');
    assert.deepEqual(a, { type: 'cache', text: 'cache*', store: def });
    assert.deepEqual(b, { type: 'folder', text: '\\\\someshare', path: '\\\\someshare', caches: [def] });
  });

  it('Symbol path for Windows debuggers: cache*c:\\MySymbols;\\\\someshare', () => {
    const [, b] = parse('cache*c:\\MySymbols;\\\\someshare');
    assert.deepEqual(b, { type: 'folder', text: '\\\\someshare', path: '\\\\someshare', caches: [local('c:\\MySymbols')] });
  });

  it('"Combining cache* and srv*": cache*c:\\MySymbols;srv*https://... caches in c:\\MySymbols, no default store', () => {
    const [, b] = parse('cache*c:\\MySymbols;srv*https://msdl.microsoft.com/download/symbols');
    assert.deepEqual(b, srv('srv*https://msdl.microsoft.com/download/symbols', [http(MS)], [local('c:\\MySymbols')]));
  });

  it('"Combining cache* and srv*": cache*;srv*https://... caches in the default store', () => {
    const [, b] = parse('cache*;srv*https://msdl.microsoft.com/download/symbols');
    assert.deepEqual(b, srv('srv*https://msdl.microsoft.com/download/symbols', [http(MS)], [def]));
  });

  it('.symfix c:\\myCache expands to cache*c:\\myCache;SRV*https://msdl.microsoft.com/download/symbols', () => {
    const [a, b] = parse('cache*c:\\myCache;SRV*https://msdl.microsoft.com/download/symbols');
    assert.deepEqual(a, { type: 'cache', text: 'cache*c:\\myCache', store: local('c:\\myCache') });
    assert.deepEqual(b, srv('SRV*https://msdl.microsoft.com/download/symbols', [http(MS)], [local('c:\\myCache')]));
    // and the unexpanded form, srv* after the cache element:
    assert.deepEqual(parse('cache*c:\\myCache;srv*')[1], srv('srv*', [http(MS)], [local('c:\\myCache')], ['microsoft-symbol-server']));
  });

  it('.symfix+ c:\\myCache: c:\\somesymbols;cache*c:\\myCache;SRV*https://... (the earlier folder is not cached)', () => {
    const [a, , c] = parse('c:\\somesymbols;cache*c:\\myCache;SRV*https://msdl.microsoft.com/download/symbols');
    assert.deepEqual(a, { type: 'folder', text: 'c:\\somesymbols', path: 'c:\\somesymbols', caches: [] });
    assert.equal(c?.type === 'srv' && c.caches.length, 1);
  });

  it('Symbol Paths (DbgHelp): cache*c:\\myCache;srv*\\\\symbols\\symbols', () => {
    const [a, b] = parse('cache*c:\\myCache;srv*\\\\symbols\\symbols');
    assert.deepEqual(a, { type: 'cache', text: 'cache*c:\\myCache', store: local('c:\\myCache') });
    assert.deepEqual(b, srv('srv*\\\\symbols\\symbols', [local('\\\\symbols\\symbols')], [local('c:\\myCache')]));
  });

  it('a chain with its own downstream store also gets the cache (cache* applies to any element to its right)', () => {
    const [, b] = parse('cache*c:\\c;srv*c:\\d*https://x');
    assert.deepEqual(b, srv('srv*c:\\d*https://x', [local('c:\\d'), http('https://x')], [local('c:\\c')]));
  });

  it('a later cache* replaces the earlier one for the elements after it', () => {
    const [, b, , d] = parse('cache*c:\\one;c:\\a;cache*c:\\two;c:\\b');
    assert.deepEqual(b?.type === 'folder' && b.caches, [local('c:\\one')]);
    assert.deepEqual(d?.type === 'folder' && d.caches, [local('c:\\two')]);
  });

  it('cache* with an HTTP store or several stores is unsupported, and the earlier cache stays in effect', () => {
    const [a, b, c, d] = parse('cache*c:\\c;cache*https://x;cache*c:\\a*c:\\b;c:\\f');
    assert.equal(a?.type, 'cache');
    assert.ok(b?.type === 'unsupported' && b.reason.includes('https://x'));
    assert.ok(c?.type === 'unsupported' && c.reason.includes('one folder'));
    assert.deepEqual(d?.type === 'folder' && d.caches, [local('c:\\c')]);
  });
});

describe('parseSymbolPath: input that is not a symbol path', () => {
  it('a NUL character throws E_BAD_SYMBOL_PATH naming the element', () => {
    assert.throws(
      () => parseSymbolPath('C:\\ok;srv*c:\\a\0b*https://x;C:\\z', opts),
      (err) => isSymsrvError(err, 'E_BAD_SYMBOL_PATH') && err.message.includes('srv*c:\\a\\x00b*https://x') && err.message.includes('NUL'),
    );
  });

  it('odd text SymSrv tolerates does not throw', () => {
    for (const t of ['***', 'srv***', 'srv**', 'cache**', '*;*', '   srv*   ;', 'srv*c:\\a;;cache*']) {
      assert.doesNotThrow(() => parseSymbolPath(t, opts), t);
    }
  });
});

describe('parseSymbolPath: debuginfod* (symsrv extension)', () => {
  const dbg = (url: string): StoreSpec => ({ kind: 'debuginfod', url });
  const env = (urls: string) => ({ ...opts, env: { DEBUGINFOD_URLS: urls } });

  it('local tokens are downstream stores, URL tokens debuginfod servers asked in order', () => {
    const t = 'debuginfod*/var/cache/sym*https://a.example/*https://b.example';
    assert.deepEqual(only(t), srv(t, [local('/var/cache/sym'), dbg('https://a.example/'), dbg('https://b.example')]));
  });

  it('servers alone get the default downstream store', () => {
    const t = 'debuginfod*https://a.example';
    assert.deepEqual(only(t), srv(t, [def, dbg('https://a.example')], [], ['default-downstream']));
  });

  it('no server: those of DEBUGINFOD_URLS (space-separated); none there is unsupported', () => {
    assert.deepEqual(parseSymbolPath('debuginfod', env(' https://a.example  http://b.example/x ')).elements[0], srv('debuginfod', [def, dbg('https://a.example'), dbg('http://b.example/x')], [], ['debuginfod-urls', 'default-downstream']));
    assert.deepEqual(parseSymbolPath('DEBUGINFOD*/c', env('https://a.example')).elements[0], srv('DEBUGINFOD*/c', [local('/c'), dbg('https://a.example')], [], ['debuginfod-urls']));
    const e = parseSymbolPath('debuginfod*', env('')).elements[0];
    assert.ok(e?.type === 'unsupported' && e.reason.includes('DEBUGINFOD_URLS'));
  });

  it('a local store after a server is unsupported', () => {
    assertUnsupported('debuginfod*https://a.example*/c', 'downstream stores go first');
  });
});

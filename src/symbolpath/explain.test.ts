import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { explainSymbolPath, formatExplanation } from './explain.js';
import { parseSymbolPath } from './parse.js';

const DEF = '/home/u/.cache/symsrv/sym';

function explain(text: string) {
  return explainSymbolPath(parseSymbolPath(text, { defaultDownstream: DEF }));
}

describe('explainSymbolPath', () => {
  it('srv*C:\\sym*https://msdl...: downstream, upstream, and the line symsrv path prints', () => {
    const items = explain('srv*C:\\sym*https://msdl.microsoft.com/download/symbols');
    assert.deepEqual(items, [
      {
        index: 1,
        type: 'srv',
        text: 'srv*C:\\sym*https://msdl.microsoft.com/download/symbols',
        downstream: [{ kind: 'local', location: 'C:\\sym', isDefault: false }],
        upstream: { kind: 'http', location: 'https://msdl.microsoft.com/download/symbols', isDefault: false },
        caches: [],
        implied: [],
        summary:
          'symbol server: looks in C:\\sym, then https://msdl.microsoft.com/download/symbols; files found upstream are copied to C:\\sym',
      },
    ]);
    assert.equal(
      formatExplanation(items),
      '1. srv*C:\\sym*https://msdl.microsoft.com/download/symbols\n' +
        '   symbol server: looks in C:\\sym, then https://msdl.microsoft.com/download/symbols; files found upstream are copied to C:\\sym',
    );
  });

  it('is JSON-serialisable as is', () => {
    const items = explain('cache*;\\\\share;srv*https://x;srv*https://a*c:\\b');
    assert.deepEqual(JSON.parse(JSON.stringify(items)), items);
  });

  it('Advanced SymSrv Use, cascading: srv*c:\\localcache*\\\\interim\\store*https://msdl...', () => {
    const [item] = explain('srv*c:\\localcache*\\\\interim\\store*https://msdl.microsoft.com/download/symbols');
    assert.deepEqual(item?.downstream.map((s) => s.location), ['c:\\localcache', '\\\\interim\\store']);
    assert.equal(item?.upstream?.location, 'https://msdl.microsoft.com/download/symbols');
    assert.equal(
      item?.summary,
      'symbol server: looks in c:\\localcache, then \\\\interim\\store, then https://msdl.microsoft.com/download/symbols; ' +
        'files found upstream are copied to c:\\localcache and \\\\interim\\store',
    );
  });

  it('srv*url names the default downstream store it adds, and why', () => {
    const [item] = explain('srv*https://x');
    assert.deepEqual(item?.downstream, [{ kind: 'local', location: DEF, isDefault: true }]);
    assert.deepEqual(item?.implied, ['default-downstream']);
    assert.match(item?.summary ?? '', /default downstream store/);
    assert.match(item?.summary ?? '', /cannot be opened from an HTTP store/);
  });

  it('srv* says it is the Microsoft public symbol server', () => {
    const [item] = explain('srv*');
    assert.equal(item?.upstream?.location, 'https://msdl.microsoft.com/download/symbols');
    assert.deepEqual(item?.implied, ['microsoft-symbol-server', 'default-downstream']);
    assert.match(item?.summary ?? '', /Microsoft public symbol server/);
  });

  it('a single local store is opened in place', () => {
    const [item] = explain('srv*\\\\mybuilds\\mysymbols');
    assert.deepEqual(item?.downstream, []);
    assert.equal(item?.upstream?.location, '\\\\mybuilds\\mysymbols');
    assert.equal(item?.summary, 'symbol server: looks in \\\\mybuilds\\mysymbols (files are opened where they are)');
  });

  it('Advanced SymSrv Use, cache*: only elements to the right list the cache', () => {
    const items = explain(
      '\\\\someshare\\that\\cachestar\\ignores;srv*c:\\mysymbols*https://msdl.microsoft.com/download/symbols;cache*c:\\mysymbols;\\\\anothershare\\that\\gets\\cached',
    );
    assert.deepEqual(
      items.map((i) => [i.type, i.caches.map((c) => c.location)]),
      [
        ['folder', []],
        ['srv', []],
        ['cache', []],
        ['folder', ['c:\\mysymbols']],
      ],
    );
    assert.equal(items[2]?.summary, 'cache: looks in c:\\mysymbols; files found by the elements after it are copied here');
    assert.equal(
      items[3]?.summary,
      'folder: looks in \\\\anothershare\\that\\gets\\cached; files found here are copied to the cache c:\\mysymbols',
    );
  });

  it('.symfix c:\\myCache expansion: the HTTP chain is cached in the cache* folder', () => {
    const [, item] = explain('cache*c:\\myCache;SRV*https://msdl.microsoft.com/download/symbols');
    assert.deepEqual(item?.downstream, []);
    assert.deepEqual(item?.caches, [{ kind: 'local', location: 'c:\\myCache', isDefault: false }]);
    assert.equal(
      item?.summary,
      'symbol server: looks in https://msdl.microsoft.com/download/symbols; files found are copied to the cache c:\\myCache',
    );
  });

  it('a chain with a downstream store and a cache names both', () => {
    const [, item] = explain('cache*;srv*c:\\d*https://x');
    assert.equal(
      item?.summary,
      `symbol server: looks in c:\\d, then https://x; files found upstream are copied to c:\\d, and to the cache ${DEF} (default downstream store)`,
    );
  });

  it('unsupported elements carry their reason', () => {
    const [item] = explain('symsrv*other.dll*\\\\server\\share');
    assert.equal(item?.type, 'unsupported');
    assert.equal(item?.upstream, null);
    assert.match(item?.reason ?? '', /other\.dll/);
    assert.equal(item?.summary, `skipped: ${item?.reason}`);
  });
});

describe('formatExplanation', () => {
  it('numbers the elements, one indented line each', () => {
    const text = formatExplanation(explain('C:\\a;srv*https://a*c:\\b'));
    const lines = text.split('\n');
    assert.equal(lines.length, 4);
    assert.equal(lines[0], '1. C:\\a');
    assert.equal(lines[1], '   folder: looks in C:\\a');
    assert.equal(lines[2], '2. srv*https://a*c:\\b');
    assert.match(lines[3] ?? '', /^ {3}skipped: HTTP store https:\/\/a is not the last store/);
  });

  it('says so when the path is empty', () => {
    assert.equal(formatExplanation(explain(' ; ')), 'The symbol path is empty: no store is searched.');
  });
});

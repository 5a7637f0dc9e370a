import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cidr4Match, cidr6Match, findNoProxyMatch, matchesNoProxy } from './noproxy.js';

/** A URL for curl's "name" column: IPv6 addresses go in brackets. */
function url(name: string, scheme = 'http', port?: number): URL {
  const host = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
  return new URL(`${scheme}://${host}${port === undefined ? '' : `:${port}`}/download/symbols/`);
}

// curl tests/unit/unit1614.c (curl master, 2026; lib/proxy.c `proxy_check_noproxy`), in order.
// The old curl 7.86 answer for "www.example.com" vs "example.com" (FALSE) was a regression curl
// fixed in 7.87; these are today's answers.
const CURL_UNIT1614: [name: string, noProxy: string, match: boolean][] = [
  ['www.example.com', 'localhost .example.com .example.de', false], // a blank without a comma ends the list
  ['www.example.com', 'localhost,.example.com,.example.de', true],
  ['www.example.com.', 'localhost,.example.com,.example.de', true],
  ['example.com', 'localhost,.example.com,.example.de', true],
  ['example.com.', 'localhost,.example.com,.example.de', true],
  ['www.example.com', 'localhost,.example.com.,.example.de', true],
  ['www.example.com', 'localhost,www.example.com.,.example.de', true],
  ['example.com', 'localhost,example.com,.example.de', true],
  ['example.com.', 'localhost,example.com,.example.de', true],
  ['nexample.com', 'localhost,example.com,.example.de', false],
  ['www.example.com', 'localhost,example.com,.example.de', true],
  ['127.0.0.1', '127.0.0.1,localhost', true],
  ['127.0.0.1', '127.0.0.1,localhost,', true],
  ['127.0.0.1', '127.0.0.1/8,localhost,', true],
  ['127.0.0.1', '127.0.0.1/28,localhost,', true],
  ['127.0.0.1', '127.0.0.1/31,localhost,', true],
  ['127.0.0.1', 'localhost,127.0.0.1', true],
  [
    '127.0.0.1',
    'localhost,127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.',
    false,
  ],
  [
    '127.0.0.1',
    'localhost,127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0.1.127.0.0',
    false,
  ],
  ['localhost', 'localhost,127.0.0.1', true],
  ['localhost', '127.0.0.1,localhost', true],
  ['foobar', 'barfoo', false],
  ['foobar', 'foobar', true],
  ['192.168.0.1', 'foobar', false],
  ['192.168.0.1', '192.168.0.0/16', true],
  ['192.168.0.1', '192.168.0.0/16a', false],
  ['192.168.0.1', '192.168.0.0/16 ', true],
  ['192.168.0.1', '192.168.0.0/a16', false],
  ['192.168.0.1', '192.168.0.0/ 16', false],
  ['192.168.0.1', '192.168.0.0/24', true],
  ['192.168.0.1', '192.168.0.0/32', false],
  ['192.168.0.1', '192.168.0.1/32', true],
  ['192.168.0.1', '192.168.0.1/33', false],
  ['192.168.0.1', '192.168.0.0', false],
  ['192.168.1.1', '192.168.0.0/24', false],
  ['192.168.1.1', '192.168.0.0/33', false],
  ['192.168.1.1', 'foo, bar, 192.168.0.0/24', false],
  ['192.168.1.1', 'foo, bar, 192.168.0.0/16', true],
  ['::1', 'foo, bar, 192.168.0.0/16', false],
  ['::1', 'foo, bar, ::1/64', true],
  ['::1', '::1/64', true],
  ['::1', '::1/96', true],
  ['::1', '::1/129', false],
  ['::1', '::1/128', true],
  ['::1', '::1/127', true],
  ['::1', '::1/a127', false],
  ['::1', '::1/127a', false],
  ['::1', '::1/ 127', false],
  ['::1', '::1/127 ', true],
  ['::1', '::1/126', true],
  ['::1', '::1/125', true],
  ['::1', '::1/124', true],
  ['::1', '::1/123', true],
  ['::1', '::1/122', true],
  ['2001:db8:8000::1', '2001:db8::/65', false],
  ['2001:db8:8000::1', '2001:db8::/66', false],
  ['2001:db8:8000::1', '2001:db8::/67', false],
  ['2001:db8:8000::1', '2001:db8::/68', false],
  ['2001:db8:8000::1', '2001:db8::/69', false],
  ['2001:db8:8000::1', '2001:db8::/70', false],
  ['2001:db8:8000::1', '2001:db8::/71', false],
  ['2001:db8:8000::1', '2001:db8::/72', false],
  ['2001:db8::1', '2001:db8::/65', true],
  ['2001:db8::1', '2001:db8::/66', true],
  ['2001:db8::1', '2001:db8::/67', true],
  ['2001:db8::1', '2001:db8::/68', true],
  ['2001:db8::1', '2001:db8::/69', true],
  ['2001:db8::1', '2001:db8::/70', true],
  ['2001:db8::1', '2001:db8::/71', true],
  ['2001:db8::1', '2001:db8::/72', true],
  ['::1', '::1/129', false],
  ['bar', 'foo, bar, ::1/64', true],
  ['BAr', 'foo, bar, ::1/64', true],
  ['BAr', 'foo,,,,,              bar, ::1/64', true],
  ['www.example.com', 'foo, .example.com', true],
  ['www.example.com', 'www2.example.com, .example.net', false],
  ['example.com', '.example.com, .example.net', true],
  ['nonexample.com', '.example.com, .example.net', false],
];

describe('matchesNoProxy: curl tests/unit/unit1614.c', () => {
  for (const [name, noProxy, match] of CURL_UNIT1614) {
    test(`${name} in "${noProxy.length > 60 ? `${noProxy.slice(0, 57)}...` : noProxy}" -> ${match}`, () => {
      assert.equal(matchesNoProxy(url(name), noProxy), match);
      assert.equal(matchesNoProxy(url(name, 'https'), noProxy), match, 'the scheme does not matter');
    });
  }
});

describe('cidr4Match / cidr6Match: curl tests/unit/unit1614.c list4 and list6', () => {
  const list4: [string, string, number, boolean][] = [
    ['192.160.0.1', '192.160.0.1', 33, false],
    ['192.160.0.1', '192.160.0.1', 32, true],
    ['192.160.0.1', '192.160.0.1', 0, true],
    ['192.160.0.1', '192.160.0.1', 24, true],
    ['192.160.0.1', '192.160.0.1', 26, true],
    ['192.160.0.1', '192.160.0.1', 20, true],
    ['192.160.0.1', '192.160.0.1', 18, true],
    ['192.160.0.1', '192.160.0.1', 12, true],
    ['192.160.0.1', '192.160.0.1', 8, true],
    ['192.160.0.1', '10.0.0.1', 8, false],
    ['192.160.0.1', '10.0.0.1', 32, false],
    ['192.160.0.1', '10.0.0.1', 0, false],
  ];
  for (const [address, network, bits, match] of list4) {
    test(`${address} in ${network}/${bits} -> ${match}`, () => assert.equal(cidr4Match(address, network, bits), match));
  }
  const list6: [string, string, number, boolean][] = [
    ['::1', '::1', 0, true],
    ['::1', '::1', 128, true],
    ['::1', '0:0::1', 128, true],
    ['::1', '0:0::1', 129, false],
    ['fe80::ab47:4396:55c9:8474', 'fe80::ab47:4396:55c9:8474', 64, true],
  ];
  for (const [address, network, bits, match] of list6) {
    test(`${address} in ${network}/${bits} -> ${match}`, () => assert.equal(cidr6Match(address, network, bits), match));
  }
  test('a malformed address never matches', () => {
    assert.equal(cidr4Match('192.168.0.1', '192.168.0', 16), false);
    assert.equal(cidr4Match('192.168.0.1', '010.1.1.1', 8), false);
    assert.equal(cidr6Match('::1', '::g', 64), false);
    assert.equal(cidr6Match('::1', '192.168.0.1', 8), false);
  });
});

describe('matchesNoProxy: the documented rules (CURLOPT_NOPROXY(3), curl(1) ENVIRONMENT)', () => {
  const cases: [target: string, noProxy: string, match: boolean, why: string][] = [
    ['https://msdl.microsoft.com/download/symbols', '*', true, '* alone matches every host'],
    ['https://10.1.2.3/', '*', true, '* alone matches addresses too'],
    ['https://msdl.microsoft.com/', ' * ', true, 'blanks around the lone * are ignored'],
    ['https://msdl.microsoft.com/', 'localhost,*', false, 'a * inside a list is an ordinary entry (curl)'],
    ['https://msdl.microsoft.com/', '', false, 'empty: nothing matches'],
    ['https://ample.com/', 'ample.com', true, 'the man page example: ample.com'],
    ['https://ample.com:80/', 'ample.com', true, 'any port'],
    ['https://www.ample.com/', 'ample.com', true, 'a sub-domain'],
    ['https://www.example.com/', 'ample.com', false, 'not a mere suffix'],
    ['https://ample.com.org/', 'ample.com', false, 'not a prefix'],
    ['https://symbols.corp.example/', '.corp.example', true, 'leading dot: sub-domains'],
    ['https://corp.example/', '.corp.example', true, 'leading dot: the domain itself too (curl)'],
    ['https://SYMBOLS.Corp.Example/', 'symbols.CORP.example', true, 'case does not matter'],
    ['http://127.0.0.1:8080/', 'localhost', false, 'an address never matches a name'],
    ['http://localhost/', '127.0.0.1', false, 'a name is never resolved'],
    ['http://[::1]:8080/', '::1', true, 'IPv6 entries without brackets (the documented form)'],
    ['http://[::1]/', '0:0:0:0:0:0:0:1', true, 'IPv6 compared as addresses'],
    ['http://10.20.30.40/', '10.0.0.0/8', true, 'CIDR, curl >= 7.86'],
    ['http://[fe80::1]/', 'fe80::/10', true, 'IPv6 CIDR'],
    ['http://[fe80::1]/', '10.0.0.0/8', false, 'an IPv4 range never matches an IPv6 host'],
    ['http://10.0.0.1/', 'fe80::/10', false, 'an IPv6 range never matches an IPv4 host'],
  ];
  for (const [target, noProxy, match, why] of cases) {
    test(`${why}: ${target} vs "${noProxy}" -> ${match}`, () => assert.equal(matchesNoProxy(new URL(target), noProxy), match));
  }
});

describe('matchesNoProxy: entries curl ignores, read as other tools read them', () => {
  const cases: [target: string, noProxy: string, match: boolean][] = [
    ['http://symbols.corp.example:8080/', 'symbols.corp.example:8080', true],
    ['http://symbols.corp.example/', 'symbols.corp.example:8080', false],
    ['https://symbols.corp.example/', 'symbols.corp.example:443', true],
    ['http://symbols.corp.example/', 'symbols.corp.example:80', true],
    ['https://a.symbols.corp.example:8443/', '.corp.example:8443', true],
    ['http://10.0.0.1:8080/', '10.0.0.1:8080', true],
    ['http://10.0.0.1:8081/', '10.0.0.1:8080', false],
    ['http://[::1]:8080/', '[::1]:8080', true],
    ['http://[::1]:8081/', '[::1]:8080', false],
    ['http://[::1]:8081/', '[::1]', true],
    ['http://[2001:db8::5]/', '[2001:db8::5]', true],
    ['https://symbols.corp.example/', '*.corp.example', true],
    ['https://corp.example/', '*.corp.example', true],
    ['https://notcorp.example/', '*.corp.example', false],
  ];
  for (const [target, noProxy, match] of cases) {
    test(`${target} vs "${noProxy}" -> ${match}`, () => assert.equal(matchesNoProxy(new URL(target), noProxy), match));
  }
});

describe('findNoProxyMatch', () => {
  test('names the matching entry', () => {
    assert.equal(findNoProxyMatch(new URL('https://msdl.microsoft.com/'), 'localhost, .microsoft.com ,10.0.0.0/8'), '.microsoft.com');
    assert.equal(findNoProxyMatch(new URL('https://msdl.microsoft.com/'), '*'), '*');
    assert.equal(findNoProxyMatch(new URL('https://msdl.microsoft.com/'), 'localhost'), undefined);
  });
  test('a URL without a host never matches (curl: nothing to compare)', () => {
    assert.equal(findNoProxyMatch(new URL('file:///C:/symbols/'), 'localhost'), undefined);
  });
});

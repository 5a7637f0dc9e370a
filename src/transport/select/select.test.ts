import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSymsrvError, SymsrvError } from '../../errors.js';
import { describeProxy, MAX_PAC_CANDIDATES, parseProxyOption, ProxySelector, selectProxies, type ProxyChoice, type ProxySettings } from './select.js';
import type { InternetSettings } from './windows.js';

/** The corporate PAC file of pac.test.ts, cut down (kept here: importing a test file runs its tests). */
const CORP_PAC = `
function FindProxyForURL(url, host) {
  if (isPlainHostName(host) || dnsDomainIs(host, ".corp.example")) return "DIRECT";
  if (shExpMatch(host, "*.microsoft.com") && shExpMatch(url, "https:*")) return "PROXY a.corp.example:1; PROXY b.corp.example:2; DIRECT";
  return "PROXY a.corp.example:1";
}
`;

const MSDL = new URL('https://msdl.microsoft.com/download/symbols/ntdll.pdb/1EB3F8A2D4C1E3B1C0A2F3E4D5C6B7A81/ntdll.pdb');
const HTTP_STORE = new URL('http://symbols.example.org/symbols/ntdll.pdb/1EB3F8A2D4C1E3B1C0A2F3E4D5C6B7A81/ntdll.pdb');

/** `[describeProxy(url), source]` of each candidate: the shape most tests compare. */
async function pick(target: URL, settings: ProxySettings): Promise<[string, string][]> {
  return (await selectProxies(target, settings)).map((c) => [describeProxy(c.url), c.source]);
}

function usageError(message: RegExp, secret?: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(isSymsrvError(err, 'E_USAGE'), `expected E_USAGE, got ${String(err)}`);
    assert.match(err.message, message);
    if (secret) assert.ok(!err.message.includes(secret), err.message);
    return true;
  };
}

describe('parseProxyOption', () => {
  const valid: [text: string, href: string, shown: string][] = [
    ['proxy:3128', 'http://proxy:3128/', 'http://proxy:3128'],
    ['http://proxy:3128', 'http://proxy:3128/', 'http://proxy:3128'],
    ['HTTP://Proxy.Corp.Example:3128/', 'http://proxy.corp.example:3128/', 'http://proxy.corp.example:3128'],
    ['http://proxy', 'http://proxy/', 'http://proxy:80'],
    ['proxy:80', 'http://proxy/', 'http://proxy:80'],
    ['http://alice:s3cret@proxy:3128', 'http://alice:s3cret@proxy:3128/', 'http://proxy:3128'],
    ['alice:s3cret@proxy:3128', 'http://alice:s3cret@proxy:3128/', 'http://proxy:3128'],
    ['http://CORP%5Calice:p%40ss@proxy:3128', 'http://CORP%5Calice:p%40ss@proxy:3128/', 'http://proxy:3128'],
    ['[::1]:3128', 'http://[::1]:3128/', 'http://[::1]:3128'],
    ['10.0.0.1:8080', 'http://10.0.0.1:8080/', 'http://10.0.0.1:8080'],
    ['  myproxyserver:80  ', 'http://myproxyserver/', 'http://myproxyserver:80'],
    // SOCKS5: socks5 resolves target names here, socks5h at the proxy; port 1080 by default (RFC 1928).
    ['socks5://127.0.0.1:1080', 'socks5://127.0.0.1:1080', 'socks5://127.0.0.1:1080'],
    ['socks5h://alice:s3cret@socks.corp.example', 'socks5h://alice:s3cret@socks.corp.example', 'socks5h://socks.corp.example:1080'],
    ['SOCKS5H://[::1]:1081/', 'socks5h://[::1]:1081/', 'socks5h://[::1]:1081'],
  ];
  for (const [text, href, shown] of valid) {
    test(`${JSON.stringify(text)} -> ${href}`, () => {
      const url = parseProxyOption(text);
      assert.equal(url.href, href);
      assert.equal(describeProxy(url), shown);
    });
  }

  const invalid: [text: string, message: RegExp][] = [
    ['', /is empty/],
    ['   ', /is empty/],
    ['proxy', /'proxy': no port: write host:port/],
    ['[::1]', /no port/],
    ['proxy:', /no port/],
    ['https://proxy:443', /https:\/\/ proxies \(TLS to the proxy itself\) are not supported yet; give the proxy as http:\/\/host:port/],
    ['HTTPS://proxy:443', /https:\/\/ proxies/],
    ['socks://127.0.0.1:1080', /socks:\/\/ \(SOCKS4\) proxies are not supported; give a SOCKS5 proxy as socks5:\/\/host:port/],
    ['socks4a://127.0.0.1:1080', /socks4a:\/\/ \(SOCKS4\) proxies are not supported/],
    ['socks5h://127.0.0.1:1080/path', /without a path/],
    ['ftp://proxy:21', /ftp:\/\/ proxies are not supported/],
    ['http://proxy:3128/proxy.pac', /without a path \(a PAC file goes in the pac option\)/],
    ['http://proxy:3128/?x=1', /without a path/],
    ['proxy:0', /port 0/],
    ['proxy:99999', /not a proxy/],
    ['http://:3128', /not a proxy|no host/],
    ['pro xy:3128', /not a proxy/],
    ['direct', /'direct' is not a proxy here/],
  ];
  for (const [text, message] of invalid) {
    test(`${JSON.stringify(text)}: E_USAGE ${message}`, () => assert.throws(() => parseProxyOption(text), usageError(message)));
  }

  test('a refused proxy with credentials does not show them', () => {
    assert.throws(() => parseProxyOption('https://alice:hunter2@proxy:443'), usageError(/'https:\/\/\*\*\*@proxy:443'/, 'hunter2'));
    assert.throws(() => parseProxyOption('alice:hunter2@proxy'), usageError(/'\*\*\*@proxy': no port/, 'hunter2'));
  });
});

describe('describeProxy', () => {
  test('never the credentials', () => {
    assert.equal(describeProxy(new URL('http://alice:hunter2@proxy.corp.example:3128/')), 'http://proxy.corp.example:3128');
  });
  test('the port always, DIRECT for null', () => {
    assert.equal(describeProxy(new URL('http://proxy/')), 'http://proxy:80');
    assert.equal(describeProxy(new URL('http://[::1]:8080/')), 'http://[::1]:8080');
    assert.equal(describeProxy(null), 'DIRECT');
  });
});

describe('selectProxies: precedence, first match wins', () => {
  let dir: string;
  let pacPath: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'symsrv-select-'));
    pacPath = join(dir, 'corp.pac');
    await writeFile(pacPath, CORP_PAC);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const everything = (): ProxySettings => ({
    pac: pacPath,
    env: {
      _NT_SYMBOL_PROXY: 'nt:1',
      https_proxy: 'http://env-lower:2',
      HTTPS_PROXY: 'http://env-upper:3',
      http_proxy: 'http://env-http:4',
      all_proxy: 'http://all-lower:5',
      ALL_PROXY: 'http://all-upper:6',
    },
    platform: 'win32',
    readWindowsSettings: async () => ({ proxyEnable: true, proxyServer: 'win:7' }),
  });

  test('1. the proxy option beats everything', async () => {
    assert.deepEqual(await pick(MSDL, { ...everything(), proxy: 'opt:8080' }), [['http://opt:8080', 'option']]);
  });

  test("1. proxy 'direct' (--no-proxy) beats everything too", async () => {
    const [choice, ...rest] = await selectProxies(MSDL, { ...everything(), proxy: 'direct' });
    assert.deepEqual(rest, []);
    assert.deepEqual(choice, { url: null, source: 'option', detail: "proxy option 'direct': connecting directly, whatever the environment says" });
    assert.deepEqual(await pick(MSDL, { ...everything(), proxy: 'DIRECT' }), [['DIRECT', 'option']]);
  });

  test('1. proxy null means "the default": the next steps decide (SSRVOPT_PROXY with NULL data)', async () => {
    assert.deepEqual(await pick(MSDL, { ...everything(), pac: undefined, proxy: null }), [['http://nt:1', '_NT_SYMBOL_PROXY']]);
    assert.deepEqual(await pick(MSDL, { ...everything(), pac: undefined }), [['http://nt:1', '_NT_SYMBOL_PROXY']]);
  });

  test('2. the pac option beats _NT_SYMBOL_PROXY, the environment and Windows: its candidates in order', async () => {
    const choices = await selectProxies(MSDL, everything());
    assert.deepEqual(
      choices.map((c) => [describeProxy(c.url), c.source]),
      [
        ['http://a.corp.example:1', 'pac'],
        ['http://b.corp.example:2', 'pac'],
        ['DIRECT', 'pac'],
      ],
    );
    assert.match(choices[0]?.detail ?? '', /answered "PROXY a\.corp\.example:1; PROXY b\.corp\.example:2; DIRECT" for https:\/\/msdl\.microsoft\.com\/: candidate 1 of 3, PROXY http:\/\/a\.corp\.example:1$/);
    assert.match(choices[2]?.detail ?? '', /candidate 3 of 3, DIRECT$/);
  });

  test('3. _NT_SYMBOL_PROXY beats the environment and Windows', async () => {
    assert.deepEqual(await pick(MSDL, { ...everything(), pac: undefined }), [['http://nt:1', '_NT_SYMBOL_PROXY']]);
  });

  test('4. the environment beats Windows', async () => {
    const s = everything();
    delete s.pac;
    delete s.env?.['_NT_SYMBOL_PROXY'];
    assert.deepEqual(await pick(MSDL, s), [['http://env-lower:2', 'env:https_proxy']]);
  });

  test('5. Windows Internet Settings when nothing else is set', async () => {
    const choices = await selectProxies(MSDL, { env: {}, platform: 'win32', readWindowsSettings: async () => ({ proxyEnable: true, proxyServer: 'win:7' }) });
    assert.deepEqual(choices, [{ url: new URL('http://win:7'), source: 'windows', detail: 'Windows Internet Settings: ProxyServer for all schemes: http://win:7' }]);
  });

  test('6. direct when nothing is configured, saying what was checked', async () => {
    assert.deepEqual(await selectProxies(MSDL, { env: {}, platform: 'linux' }), [
      {
        url: null,
        source: 'direct',
        detail: 'no proxy is configured (checked proxy option, pac option, _NT_SYMBOL_PROXY, https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY): connecting directly',
      },
    ]);
  });

  test('a URL that is not http(s) never goes through a proxy', async () => {
    assert.deepEqual(await pick(new URL('file:///C:/symbols/ntdll.pdb'), { proxy: 'opt:1' }), [['DIRECT', 'direct']]);
  });
});

describe('_NT_SYMBOL_PROXY (SymSrv: "set _NT_SYMBOL_PROXY=myproxyserver:80")', () => {
  const forms: [value: string, shown: string][] = [
    ['myproxyserver:80', 'http://myproxyserver:80'],
    ['http://myproxyserver:8080', 'http://myproxyserver:8080'],
    ['http://alice:hunter2@myproxyserver:8080', 'http://myproxyserver:8080'],
    ['10.1.2.3:3128', 'http://10.1.2.3:3128'],
    ['[fd00::1]:3128', 'http://[fd00::1]:3128'],
    ['direct', 'DIRECT'],
  ];
  for (const [value, shown] of forms) {
    test(`${value} -> ${shown}`, async () => {
      const [choice] = await selectProxies(MSDL, { env: { _NT_SYMBOL_PROXY: value } });
      assert.equal(describeProxy(choice?.url ?? null), shown);
      assert.equal(choice?.source, '_NT_SYMBOL_PROXY');
      assert.ok(!choice?.detail.includes('hunter2'));
    });
  }

  test('the credentials stay on the URL for the auth layer', async () => {
    const [choice] = await selectProxies(MSDL, { env: { _NT_SYMBOL_PROXY: 'http://alice:hunter2@myproxyserver:8080' } });
    assert.equal(choice?.url?.username, 'alice');
    assert.equal(choice?.url?.password, 'hunter2');
    assert.equal(choice?.detail, '_NT_SYMBOL_PROXY=http://myproxyserver:8080');
  });

  test('empty is unset', async () => {
    assert.deepEqual(await pick(MSDL, { env: { _NT_SYMBOL_PROXY: '', HTTPS_PROXY: 'http://p:1' } }), [['http://p:1', 'env:HTTPS_PROXY']]);
  });

  test('malformed: E_USAGE naming the variable', async () => {
    await assert.rejects(selectProxies(MSDL, { env: { _NT_SYMBOL_PROXY: 'myproxyserver' } }), usageError(/^_NT_SYMBOL_PROXY 'myproxyserver': no port/));
    await assert.rejects(selectProxies(MSDL, { env: { _NT_SYMBOL_PROXY: 'https://p:443' } }), usageError(/^_NT_SYMBOL_PROXY 'https:\/\/p:443': https:\/\/ proxies/));
  });

  test('NO_PROXY does not apply to it (nor to the proxy option)', async () => {
    assert.deepEqual(await pick(MSDL, { env: { _NT_SYMBOL_PROXY: 'nt:1', NO_PROXY: '*' } }), [['http://nt:1', '_NT_SYMBOL_PROXY']]);
    assert.deepEqual(await pick(MSDL, { proxy: 'opt:1', env: { NO_PROXY: '*' } }), [['http://opt:1', 'option']]);
  });
});

describe('environment variables, read as curl reads them (curl(1) ENVIRONMENT, lib/proxy.c)', () => {
  const cases: [name: string, target: URL, env: NodeJS.ProcessEnv, expected: [string, string]][] = [
    ['https: lower case wins', MSDL, { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' }, ['http://lower:1', 'env:https_proxy']],
    ['https: upper case alone', MSDL, { HTTPS_PROXY: 'http://upper:2' }, ['http://upper:2', 'env:HTTPS_PROXY']],
    ['https: an empty lower-case one is unset', MSDL, { https_proxy: '', HTTPS_PROXY: 'http://upper:2' }, ['http://upper:2', 'env:HTTPS_PROXY']],
    ['https: all_proxy as fallback', MSDL, { all_proxy: 'http://all:3', http_proxy: 'http://web:4' }, ['http://all:3', 'env:all_proxy']],
    ['https: ALL_PROXY as fallback', MSDL, { ALL_PROXY: 'http://all:3' }, ['http://all:3', 'env:ALL_PROXY']],
    ['https: all_proxy before ALL_PROXY', MSDL, { all_proxy: 'http://lower:3', ALL_PROXY: 'http://upper:4' }, ['http://lower:3', 'env:all_proxy']],
    ['https: the scheme variable before all_proxy', MSDL, { HTTPS_PROXY: 'http://tls:1', all_proxy: 'http://all:3' }, ['http://tls:1', 'env:HTTPS_PROXY']],
    ['https: http_proxy is not for https', MSDL, { http_proxy: 'http://web:4' }, ['DIRECT', 'direct']],
    ['http: http_proxy', HTTP_STORE, { http_proxy: 'http://web:4', HTTPS_PROXY: 'http://tls:1' }, ['http://web:4', 'env:http_proxy']],
    ['http: upper-case HTTP_PROXY is read (Go, Python, undici)', HTTP_STORE, { HTTP_PROXY: 'http://upper:8080' }, ['http://upper:8080', 'env:HTTP_PROXY']],
    ['http: http_proxy before HTTP_PROXY', HTTP_STORE, { http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:2' }, ['http://lower:1', 'env:http_proxy']],
    ['http: HTTP_PROXY before ALL_PROXY', HTTP_STORE, { HTTP_PROXY: 'http://upper:2', ALL_PROXY: 'http://all:3' }, ['http://upper:2', 'env:HTTP_PROXY']],
    ['http: in a CGI context (REQUEST_METHOD) HTTP_PROXY is not read (httpoxy)', HTTP_STORE, { HTTP_PROXY: 'http://attacker:8080', REQUEST_METHOD: 'GET' }, ['DIRECT', 'direct']],
    ['http: ... but ALL_PROXY is', HTTP_STORE, { HTTP_PROXY: 'http://attacker:8080', REQUEST_METHOD: 'GET', ALL_PROXY: 'http://all:3' }, ['http://all:3', 'env:ALL_PROXY']],
    ['http: ... and so is lower-case http_proxy (no header can set it)', HTTP_STORE, { http_proxy: 'http://web:4', REQUEST_METHOD: 'POST' }, ['http://web:4', 'env:http_proxy']],
    ['http: HTTPS_PROXY is not for http', HTTP_STORE, { HTTPS_PROXY: 'http://tls:1' }, ['DIRECT', 'direct']],
    ['a bare host:port', MSDL, { HTTPS_PROXY: 'proxy.corp.example:3128' }, ['http://proxy.corp.example:3128', 'env:HTTPS_PROXY']],
  ];
  for (const [name, target, env, expected] of cases) {
    test(name, async () => assert.deepEqual(await pick(target, { env, platform: 'linux' }), [expected]));
  }

  test('an HTTP_PROXY ignored in a CGI context is mentioned in the detail', async () => {
    const [choice] = await selectProxies(HTTP_STORE, { env: { HTTP_PROXY: 'http://attacker:8080', REQUEST_METHOD: 'GET' }, platform: 'linux' });
    assert.match(choice?.detail ?? '', /HTTP_PROXY is ignored because REQUEST_METHOD is set \(a CGI program, .*httpoxy\)/);
  });

  test('the detail says whether NO_PROXY matched', async () => {
    const [unset] = await selectProxies(MSDL, { env: { HTTPS_PROXY: 'http://alice:hunter2@proxy:3128' } });
    assert.equal(unset?.detail, 'HTTPS_PROXY=http://proxy:3128 (NO_PROXY is not set)');
    const [miss] = await selectProxies(MSDL, { env: { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'localhost,.corp.example' } });
    assert.equal(miss?.detail, 'HTTPS_PROXY=http://proxy:3128 (NO_PROXY does not match msdl.microsoft.com)');
  });

  test('a SOCKS5 ALL_PROXY / https_proxy, credentials in the URL: used, never shown', async () => {
    const [all] = await selectProxies(MSDL, { env: { ALL_PROXY: 'socks5h://alice:hunter2@127.0.0.1:1080' } });
    assert.equal(all?.url?.href, 'socks5h://alice:hunter2@127.0.0.1:1080');
    assert.equal(all?.detail, 'ALL_PROXY=socks5h://127.0.0.1:1080 (NO_PROXY is not set)');
    const [https] = await selectProxies(MSDL, { env: { https_proxy: 'socks5://s:1081', ALL_PROXY: 'http://p:3128' } });
    assert.equal(describeProxy(https?.url ?? null), 'socks5://s:1081');
  });

  test('a SOCKS4 ALL_PROXY: E_USAGE saying what works', async () => {
    await assert.rejects(selectProxies(MSDL, { env: { ALL_PROXY: 'socks4://127.0.0.1:1080' } }), usageError(/^ALL_PROXY 'socks4:\/\/127\.0\.0\.1:1080': socks4:\/\/ \(SOCKS4\) proxies are not supported; give a SOCKS5 proxy/));
  });

  test('a malformed value never shows its password', async () => {
    await assert.rejects(selectProxies(MSDL, { env: { HTTPS_PROXY: 'https://alice:hunter2@proxy:443' } }), usageError(/^HTTPS_PROXY 'https:\/\/\*\*\*@proxy:443'/, 'hunter2'));
  });
});

describe('NO_PROXY', () => {
  const proxy = { HTTPS_PROXY: 'http://proxy:3128', http_proxy: 'http://proxy:3128' };
  test('a matching entry: direct, source no_proxy, naming the entry', async () => {
    const [choice] = await selectProxies(MSDL, { env: { ...proxy, NO_PROXY: 'localhost, .microsoft.com' } });
    assert.deepEqual(choice, {
      url: null,
      source: 'no_proxy',
      detail: "NO_PROXY entry '.microsoft.com' matches msdl.microsoft.com: connecting directly instead of through HTTPS_PROXY=http://proxy:3128",
    });
  });
  test('no_proxy wins over NO_PROXY', async () => {
    assert.deepEqual(await pick(MSDL, { env: { ...proxy, no_proxy: 'localhost', NO_PROXY: '*' } }), [['http://proxy:3128', 'env:HTTPS_PROXY']]);
    assert.deepEqual(await pick(MSDL, { env: { ...proxy, no_proxy: '*', NO_PROXY: 'localhost' } }), [['DIRECT', 'no_proxy']]);
  });
  test('an empty no_proxy is unset: NO_PROXY is read', async () => {
    assert.deepEqual(await pick(MSDL, { env: { ...proxy, no_proxy: '', NO_PROXY: '*' } }), [['DIRECT', 'no_proxy']]);
  });
  test('* matches everything', async () => {
    const [choice] = await selectProxies(HTTP_STORE, { env: { ...proxy, NO_PROXY: '*' } });
    assert.equal(choice?.detail, 'NO_PROXY=* matches every host: connecting directly instead of through http_proxy=http://proxy:3128');
  });
  test('an address range', async () => {
    assert.deepEqual(await pick(new URL('http://10.1.2.3:8080/symbols/'), { env: { ...proxy, NO_PROXY: '10.0.0.0/8' } }), [['DIRECT', 'no_proxy']]);
  });
});

describe('Windows Internet Settings (platform win32)', () => {
  const win = (settings: InternetSettings | undefined, extra: ProxySettings = {}): ProxySettings => ({
    env: {},
    platform: 'win32',
    readWindowsSettings: async () => settings,
    ...extra,
  });

  test('not read on other platforms', async () => {
    let reads = 0;
    const choices = await selectProxies(MSDL, {
      env: {},
      platform: 'linux',
      readWindowsSettings: async () => {
        reads++;
        return { proxyEnable: true, proxyServer: 'win:7' };
      },
    });
    assert.equal(reads, 0);
    assert.deepEqual(
      choices.map((c) => c.source),
      ['direct'],
    );
  });

  test('per-scheme ProxyServer', async () => {
    const settings = { proxyEnable: true, proxyServer: 'http=web:3128;https=tls:3129' };
    assert.deepEqual(await pick(MSDL, win(settings)), [['http://tls:3129', 'windows']]);
    assert.deepEqual(await pick(HTTP_STORE, win(settings)), [['http://web:3128', 'windows']]);
  });

  test('a host name ProxyServer without a port: port 80, as WinINet', async () => {
    assert.deepEqual(await pick(MSDL, win({ proxyEnable: true, proxyServer: 'proxy.corp.example' })), [['http://proxy.corp.example:80', 'windows']]);
  });

  test('ProxyOverride: direct, source windows', async () => {
    const [choice] = await selectProxies(new URL('https://symbols.corp.example/s'), win({ proxyEnable: true, proxyServer: 'p:1', proxyOverride: '<local>;*.corp.example' }));
    assert.deepEqual(choice, { url: null, source: 'windows', detail: "Windows Internet Settings: ProxyOverride entry '*.corp.example' matches symbols.corp.example: connecting directly" });
  });

  test('ProxyEnable 0: direct, saying so', async () => {
    const [choice] = await selectProxies(MSDL, win({ proxyEnable: false, proxyServer: 'p:1' }));
    assert.equal(choice?.source, 'direct');
    assert.match(choice?.detail ?? '', /checked .*Windows Internet Settings\): connecting directly; Windows Internet Settings: no manual proxy enabled$/);
  });

  test('no settings (reg query failed): direct', async () => {
    assert.deepEqual(await pick(MSDL, win(undefined)), [['DIRECT', 'direct']]);
    const failing: ProxySettings = { env: {}, platform: 'win32', readWindowsSettings: () => Promise.reject(new Error('reg.exe not found')) };
    assert.deepEqual(await pick(MSDL, failing), [['DIRECT', 'direct']]);
  });

  test('AutoConfigURL: the PAC file, downloaded with fetchText, before the manual proxy', async () => {
    const fetched: string[] = [];
    const choices = await selectProxies(
      MSDL,
      win(
        { proxyEnable: true, proxyServer: 'manual:1', autoConfigURL: 'http://wpad.corp.example/wpad.dat' },
        {
          fetchText: async (url) => {
            fetched.push(url);
            return CORP_PAC;
          },
        },
      ),
    );
    assert.deepEqual(fetched, ['http://wpad.corp.example/wpad.dat']);
    assert.deepEqual(
      choices.map((c) => [describeProxy(c.url), c.source]),
      [
        ['http://a.corp.example:1', 'pac'],
        ['http://b.corp.example:2', 'pac'],
        ['DIRECT', 'pac'],
      ],
    );
    assert.match(choices[0]?.detail ?? '', /^the PAC file http:\/\/wpad\.corp\.example\/wpad\.dat \(Windows AutoConfigURL\) answered/);
  });

  test('AutoConfigURL that cannot be downloaded: the manual proxy, with a note', async () => {
    const [choice, ...rest] = await selectProxies(
      MSDL,
      win(
        { proxyEnable: true, proxyServer: 'manual:1', autoConfigURL: 'http://wpad.corp.example/wpad.dat' },
        { fetchText: () => Promise.reject(new Error('ECONNREFUSED')) },
      ),
    );
    assert.deepEqual(rest, []);
    assert.equal(describeProxy(choice?.url ?? null), 'http://manual:1');
    assert.equal(choice?.source, 'windows');
    assert.match(choice?.detail ?? '', /; AutoConfigURL skipped: cannot download the PAC file http:\/\/wpad\.corp\.example\/wpad\.dat: ECONNREFUSED$/);
  });

  test('AutoConfigURL without fetchText: skipped with a note', async () => {
    const [choice] = await selectProxies(MSDL, win({ proxyEnable: false, autoConfigURL: 'http://wpad.corp.example/wpad.dat' }));
    assert.equal(choice?.source, 'direct');
    assert.match(choice?.detail ?? '', /AutoConfigURL skipped: .*no fetchText function was given/);
  });

  test('a socks-only ProxyServer: that SOCKS server, spoken to as SOCKS5 with names resolved there', async () => {
    const [choice] = await selectProxies(MSDL, win({ proxyEnable: true, proxyServer: 'socks=s:1080' }));
    assert.equal(choice?.url?.href, 'socks5h://s:1080');
    assert.equal(choice?.source, 'windows');
    assert.match(choice?.detail ?? '', /socks= entry for https URLs \(spoken to as SOCKS5.*WinINet would speak SOCKS4\): socks5h:\/\/s:1080$/);
  });

  test('an http= entry and a socks= entry: http URLs to the HTTP proxy, https URLs to the SOCKS one', async () => {
    const settings = win({ proxyEnable: true, proxyServer: 'http=web:3128;socks=s:1080' });
    assert.equal(describeProxy((await selectProxies(new URL('http://symbols.example/x'), settings))[0]?.url ?? null), 'http://web:3128');
    assert.equal((await selectProxies(MSDL, settings))[0]?.url?.href, 'socks5h://s:1080');
  });
});

describe('PAC answers', () => {
  const pacFor = (answer: string): ProxySettings => ({
    pac: 'http://pac.test/proxy.pac',
    fetchText: async () => `function FindProxyForURL(url, host) { return ${JSON.stringify(answer)}; }`,
  });

  test('PROXY a:1; PROXY b:2; DIRECT -> three candidates in order', async () => {
    assert.deepEqual(await pick(MSDL, pacFor('PROXY a:1; PROXY b:2; DIRECT')), [
      ['http://a:1', 'pac'],
      ['http://b:2', 'pac'],
      ['DIRECT', 'pac'],
    ]);
  });

  test('SOCKS5 and SOCKS entries are SOCKS5 proxies with DNS at the proxy; SOCKS4 and HTTPS are skipped, with a note', async () => {
    const choices = await selectProxies(MSDL, pacFor('SOCKS5 s:1080; SOCKS4 s4:1080; HTTPS tls:443; PROXY a:1; SOCKS t'));
    assert.deepEqual(
      choices.map((c) => describeProxy(c.url)),
      ['socks5h://s:1080', 'http://a:1', 'socks5h://t:1080'],
    );
    assert.match(choices[0]?.detail ?? '', /candidate 1 of 3, SOCKS5 socks5h:\/\/s:1080 \(skipped 'SOCKS4 s4:1080': SOCKS4 proxies are not supported .*; skipped 'HTTPS tls:443': HTTPS proxies/);
  });

  // Regression (issue 13, defect 4): an answer of proxies symsrv could not use sent it DIRECT.
  test('a PAC answering only SOCKS5: that proxy, never DIRECT', async () => {
    assert.deepEqual(await pick(MSDL, pacFor('SOCKS5 socks.corp.example:1080')), [['socks5h://socks.corp.example:1080', 'pac']]);
  });

  test('nothing usable: E_PROXY naming the PAC file and the answer, not DIRECT', async () => {
    await assert.rejects(selectProxies(MSDL, pacFor('SOCKS4 s:1080; HTTPS tls:443')), (err: unknown) => {
      assert.ok(isSymsrvError(err, 'E_PROXY'), String(err));
      assert.match(err.message, /answered "SOCKS4 s:1080; HTTPS tls:443" for .*: no proxy in it that symsrv can use \(skipped 'SOCKS4 s:1080'.*\); not connecting directly instead$/);
      return true;
    });
  });

  test('a PROXY entry without a port: port 80', async () => {
    assert.deepEqual(await pick(MSDL, pacFor('PROXY web')), [['http://web:80', 'pac']]);
  });

  test('a malformed PROXY entry is skipped', async () => {
    assert.deepEqual(await pick(MSDL, pacFor('PROXY :1; PROXY ok:2')), [['http://ok:2', 'pac']]);
  });

  test('repeated candidates are given once', async () => {
    assert.deepEqual(await pick(MSDL, pacFor('PROXY a:1; PROXY a:1; DIRECT; DIRECT')), [
      ['http://a:1', 'pac'],
      ['DIRECT', 'pac'],
    ]);
  });

  test('a pac option that fails is an error, not a silent DIRECT', async () => {
    await assert.rejects(selectProxies(MSDL, { pac: '/nonexistent/dir/proxy.pac' }), (err: unknown) => isSymsrvError(err, 'E_IO'));
    await assert.rejects(
      selectProxies(MSDL, { pac: 'http://pac.test/proxy.pac', fetchText: async () => 'function FindProxyForURL(url, host) { throw new Error("broken"); }' }),
      (err: unknown) => isSymsrvError(err, 'E_PROXY') && /failed for msdl\.microsoft\.com: broken/.test(err.message),
    );
  });
});

describe('ProxySelector', () => {
  test('checks the proxy option when built', () => {
    assert.throws(() => new ProxySelector({ proxy: 'https://proxy:443' }), usageError(/^proxy option 'https:\/\/proxy:443': https:\/\/ proxies/));
    assert.throws(() => new ProxySelector({ proxy: 'socks4://proxy:1080' }), usageError(/SOCKS4/));
    assert.throws(() => new ProxySelector({ pac: '  ' }), usageError(/the pac option must be the URL or path of a PAC file/));
  });

  test('reads the Windows settings once', async () => {
    let reads = 0;
    const selector = new ProxySelector({
      env: {},
      platform: 'win32',
      readWindowsSettings: async () => {
        reads++;
        return { proxyEnable: true, proxyServer: 'win:7' };
      },
    });
    try {
      await Promise.all([selector.choose(MSDL), selector.choose(MSDL), selector.choose(HTTP_STORE)]);
      await selector.choose(new URL('https://symbols.nuget.org/download/symbols/'));
      assert.equal(reads, 1);
    } finally {
      selector.close();
    }
  });

  test('downloads a PAC file once and runs it once per scheme + host + port', async () => {
    let downloads = 0;
    const runs: string[] = [];
    const selector = new ProxySelector({
      pac: 'http://pac.test/proxy.pac',
      fetchText: async () => {
        downloads++;
        return 'function FindProxyForURL(url, host) { alert(url); return "PROXY p:1"; }';
      },
      onPacAlert: (m) => runs.push(m),
    });
    try {
      await Promise.all([selector.choose(MSDL), selector.choose(new URL('https://msdl.microsoft.com/download/symbols/other.pdb/X/other.pdb'))]);
      await selector.choose(MSDL);
      await selector.choose(new URL('http://msdl.microsoft.com/download/symbols/'));
      await selector.choose(new URL('https://symbols.nuget.org/download/symbols/'));
      assert.equal(downloads, 1);
      assert.deepEqual(runs, ['https://msdl.microsoft.com/', 'http://msdl.microsoft.com/', 'https://symbols.nuget.org/']);
    } finally {
      selector.close();
    }
  });

  test('a PAC file that cannot be loaded is not downloaded again for every request', async () => {
    let downloads = 0;
    const selector = new ProxySelector({
      pac: 'http://pac.test/proxy.pac',
      fetchText: async () => {
        downloads++;
        throw new Error('HTTP 503');
      },
    });
    try {
      for (let i = 0; i < 3; i++) {
        await assert.rejects(selector.choose(MSDL), (err: unknown) => isSymsrvError(err, 'E_PROXY') && /HTTP 503/.test(err.message));
      }
      assert.equal(downloads, 1);
    } finally {
      selector.close();
    }
  });
});

describe('no detail ever holds a password', () => {
  const secret = 'hunter2';
  const settingsList: ProxySettings[] = [
    { proxy: `http://alice:${secret}@opt:1` },
    { proxy: `alice:${secret}@opt:1` },
    { env: { _NT_SYMBOL_PROXY: `http://alice:${secret}@nt:1` } },
    { env: { HTTPS_PROXY: `http://alice:${secret}@env:1`, http_proxy: `http://alice:${secret}@env:1` } },
    { env: { ALL_PROXY: `http://alice:${secret}@all:1` } },
    { env: { HTTPS_PROXY: `http://alice:${secret}@env:1`, http_proxy: `http://alice:${secret}@env:1`, NO_PROXY: '*' } },
    { env: { HTTP_PROXY: `http://alice:${secret}@upper:1` } },
    { env: { HTTP_PROXY: `http://alice:${secret}@ignored:1`, REQUEST_METHOD: 'GET' } },
    { env: {}, platform: 'win32', readWindowsSettings: async () => ({ proxyEnable: true, proxyServer: `http://alice:${secret}@win:1` }) },
  ];
  for (const [i, settings] of settingsList.entries()) {
    test(`settings #${i + 1}`, async () => {
      const choices: ProxyChoice[] = [...(await selectProxies(MSDL, settings)), ...(await selectProxies(HTTP_STORE, settings))];
      for (const choice of choices) {
        assert.ok(!choice.detail.includes(secret), choice.detail);
        assert.ok(!choice.detail.includes('alice'), choice.detail);
      }
    });
  }
});

/** Regressions of issue 14 defect 7: what a hostile PAC answer costs. */
describe('PAC answers from a hostile script', () => {
  const pacScript = (body: string): ProxySettings => ({
    pac: 'http://pac.test/proxy.pac',
    fetchText: async () => `function FindProxyForURL(url, host) { ${body} }`,
  });

  test(`thousands of candidates: only the first ${MAX_PAC_CANDIDATES} are kept, and the detail says so`, async () => {
    const choices = await selectProxies(MSDL, pacScript('var a = []; for (var i = 0; i < 4000; i++) a.push("PROXY h" + i + ":1"); return a.join(";");'));
    assert.equal(choices.length, MAX_PAC_CANDIDATES);
    assert.deepEqual(choices.slice(0, 2).map((c) => describeProxy(c.url)), ['http://h0:1', 'http://h1:1']);
    assert.match(choices[0]?.detail ?? '', new RegExp(`only the first ${MAX_PAC_CANDIDATES} candidates are kept`));
    assert.ok((choices[0]?.detail.length ?? 0) < 2_000, 'the detail stays one readable line');
  });

  test('a 60 000-character answer without blanks completes, and its message is cut (no usable proxy in it: an error, never DIRECT)', async () => {
    await assert.rejects(selectProxies(MSDL, pacScript('return "PROXY " + new Array(60000).join("a") + ":1";')), (err) => {
      assert.ok(err instanceof SymsrvError && err.code === 'E_PROXY', String(err));
      assert.ok(err.message.length < 2_000, `${err.message.length} characters`);
      return true;
    });
  });

  test('a password in a skipped entry never reaches the detail', async () => {
    const choices = await selectProxies(MSDL, pacScript('return "PROXY alice:hunter2@a:1; PROXY ok:2";'));
    assert.deepEqual(choices.map((c) => describeProxy(c.url)), ['http://ok:2']);
    for (const c of choices) {
      assert.ok(!c.detail.includes('hunter2') && !c.detail.includes('alice'), c.detail);
    }
  });
});

describe('selectProxy: a caller-injected proxy resolver (as proxy-agent getProxyForUrl)', () => {
  const env = { HTTPS_PROXY: 'http://env:1' };
  const cases: [name: string, answer: Awaited<ReturnType<NonNullable<ProxySettings['selectProxy']>>>, expected: [string, string][]][] = [
    ['a proxy beats the option and the environment', 'http://ide:8080', [['http://ide:8080', 'caller']]],
    ['host:port', 'ide:8080', [['http://ide:8080', 'caller']]],
    ["'direct'", 'direct', [['DIRECT', 'caller']]],
    ['null is direct', null, [['DIRECT', 'caller']]],
    ['undefined: symsrv decides', undefined, [['http://opt:2', 'option']]],
    ['candidates, in order', [{ url: new URL('http://a:1'), source: 'pac', detail: 'IDE PAC' }, { url: null, source: 'pac', detail: '' }], [['http://a:1', 'caller'], ['DIRECT', 'caller']]],
  ];
  for (const [name, answer, expected] of cases) {
    test(name, async () => assert.deepEqual(await pick(MSDL, { env, proxy: 'opt:2', selectProxy: async () => answer }), expected));
  }

  test('it is given the whole URL; its proxy keeps credentials on the URL but never in the detail', async () => {
    let asked = '';
    const [choice] = await selectProxies(MSDL, { selectProxy: async (url) => ((asked = url), 'http://alice:hunter2@ide:8080') });
    assert.equal(asked, MSDL.href);
    assert.equal(choice?.url?.password, 'hunter2');
    assert.equal(choice?.detail, 'the selectProxy callback answered http://ide:8080 for https://msdl.microsoft.com/');
  });

  test('a bad answer is E_USAGE, a throw is E_PROXY naming the host', async () => {
    await assert.rejects(selectProxies(MSDL, { selectProxy: async () => 'socks4://x:1' }), usageError(/^the selectProxy callback 'socks4:\/\/x:1'/));
    await assert.rejects(selectProxies(MSDL, { selectProxy: async () => [] }), usageError(/non-empty list/));
    await assert.rejects(
      selectProxies(MSDL, { selectProxy: async () => Promise.reject(new Error('IDE gone')) }),
      (err: unknown) => isSymsrvError(err, 'E_PROXY') && err.message === 'the selectProxy callback failed for https://msdl.microsoft.com/: IDE gone',
    );
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  matchProxyOverride,
  parseProxyServer,
  parseRegQueryOutput,
  proxyFromInternetSettings,
  readInternetSettings,
  type InternetSettings,
} from './windows.js';

// `reg query "HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings"` as Windows 10/11
// print it: CRLF lines, a blank line first, four-space separated columns, then the sub-keys.
const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n';

const MANUAL_PROXY = crlf([
  '',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings',
  '    DisableCachingOfSSLPages    REG_DWORD    0x0',
  '    IE5_UA_Backup_Flag    REG_SZ    5.0',
  '    PrivacyAdvanced    REG_DWORD    0x1',
  '    SecureProtocols    REG_DWORD    0xa80',
  '    User Agent    REG_SZ    Mozilla/4.0 (compatible; MSIE 8.0; Win32)',
  '    CertificateRevocation    REG_DWORD    0x1',
  '    ZonesSecurityUpgrade    REG_BINARY    D08F3A5C0B3FD601',
  '    EnableNegotiate    REG_DWORD    0x1',
  '    MigrateProxy    REG_DWORD    0x1',
  '    ProxyEnable    REG_DWORD    0x1',
  '    ActiveXCache    REG_SZ    C:\\Windows\\Downloaded Program Files',
  '    WarnOnIntranet    REG_DWORD    0x1',
  '    EnableHttp1_1    REG_DWORD    0x1',
  '    ProxyHttp1.1    REG_DWORD    0x1',
  '    ProxyServer    REG_SZ    proxy.corp.example:8080',
  '    ProxyOverride    REG_SZ    <local>;*.corp.example;10.*',
  '',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\5.0',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\CACHE',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Connections',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\ZoneMap',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Zones',
]);

const PER_SCHEME_AND_PAC = crlf([
  '',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings',
  '    (Default)    REG_SZ    (value not set)',
  '    ProxyEnable    REG_DWORD    0x1',
  '    ProxyServer    REG_SZ    http=web.corp.example:3128;https=secure.corp.example:3129;ftp=ftp.corp.example:2121;socks=socks.corp.example:1080',
  '    ProxyOverride    REG_SZ    symbols.corp.example;192.168.*;<local>',
  '    AutoConfigURL    REG_SZ    http://wpad.corp.example/wpad.dat',
  '',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Connections',
]);

// The "Use a proxy server" box cleared: the address stays in the registry, ProxyEnable is 0.
const PROXY_OFF = crlf([
  '',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings',
  '    ProxyEnable    REG_DWORD    0x0',
  '    ProxyServer    REG_SZ    proxy.corp.example:8080',
  '    ProxyOverride    REG_SZ    ',
]);

// `reg query /s`: a sub-key's values must not be taken for the key's.
const WITH_SUBKEY_VALUES = crlf([
  '',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings',
  '    ProxyEnable    REG_DWORD    0x0',
  '',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Something',
  '    ProxyEnable    REG_DWORD    0x1',
  '    ProxyServer    REG_SZ    evil:1',
]);

describe('parseRegQueryOutput', () => {
  const cases: [name: string, text: string, expected: InternetSettings][] = [
    ['manual proxy with a bypass list', MANUAL_PROXY, { proxyEnable: true, proxyServer: 'proxy.corp.example:8080', proxyOverride: '<local>;*.corp.example;10.*' }],
    [
      'per-scheme proxies and an AutoConfigURL',
      PER_SCHEME_AND_PAC,
      {
        proxyEnable: true,
        proxyServer: 'http=web.corp.example:3128;https=secure.corp.example:3129;ftp=ftp.corp.example:2121;socks=socks.corp.example:1080',
        proxyOverride: 'symbols.corp.example;192.168.*;<local>',
        autoConfigURL: 'http://wpad.corp.example/wpad.dat',
      },
    ],
    ['proxy turned off, empty ProxyOverride', PROXY_OFF, { proxyEnable: false, proxyServer: 'proxy.corp.example:8080' }],
    ['values of a sub-key are ignored', WITH_SUBKEY_VALUES, { proxyEnable: false }],
    ['LF line ends', MANUAL_PROXY.replace(/\r\n/g, '\n'), { proxyEnable: true, proxyServer: 'proxy.corp.example:8080', proxyOverride: '<local>;*.corp.example;10.*' }],
    ['nothing', '', { proxyEnable: false }],
    ['an error message', 'ERROR: The system was unable to find the specified registry key or value.\r\n', { proxyEnable: false }],
  ];
  for (const [name, text, expected] of cases) {
    test(name, () => assert.deepEqual(parseRegQueryOutput(text), expected));
  }

  test('value names are case-insensitive; ProxyEnable may be written in decimal', () => {
    const text = crlf(['HKEY_CURRENT_USER\\X', '    proxyenable    REG_DWORD    1', '    PROXYSERVER    REG_SZ    p:1']);
    assert.deepEqual(parseRegQueryOutput(text), { proxyEnable: true, proxyServer: 'p:1' });
  });

  test('a ProxyEnable of the wrong type does not enable the proxy', () => {
    const text = crlf(['HKEY_CURRENT_USER\\X', '    ProxyEnable    REG_SZ    1', '    ProxyServer    REG_SZ    p:1']);
    assert.equal(parseRegQueryOutput(text).proxyEnable, false);
  });
});

describe('parseProxyServer (WINHTTP_PROXY_INFO: [<scheme>=][<scheme>://]<server>[:<port>])', () => {
  test('one server for every scheme', () => {
    assert.deepEqual(parseProxyServer('proxy:8080'), [{ scheme: undefined, server: 'proxy:8080' }]);
  });
  test('per scheme, separated by ; or white space', () => {
    assert.deepEqual(parseProxyServer('HTTP=a:1; https=b:2 socks=c:3;;'), [
      { scheme: 'http', server: 'a:1' },
      { scheme: 'https', server: 'b:2' },
      { scheme: 'socks', server: 'c:3' },
    ]);
  });
  test('a scheme prefix in the server is kept', () => {
    assert.deepEqual(parseProxyServer('http=http://a:1'), [{ scheme: 'http', server: 'http://a:1' }]);
  });
  test('an empty server is dropped', () => {
    assert.deepEqual(parseProxyServer('http=;https=b:2'), [{ scheme: 'https', server: 'b:2' }]);
  });
});

describe('matchProxyOverride', () => {
  const cases: [target: string, override: string, match: string | undefined][] = [
    ['https://symbols/', '<local>', '<local>'],
    ['https://symbols.corp.example/', '<local>', undefined],
    ['http://[fe80::1]/', '<local>', undefined], // an IP literal is not a local name
    ['https://symbols.corp.example/', '*.corp.example', '*.corp.example'],
    ['https://corp.example/', '*.corp.example', undefined],
    ['https://SYMBOLS.CORP.EXAMPLE/', '*.Corp.Example', '*.Corp.Example'],
    ['http://10.1.2.3/', '10.*', '10.*'],
    ['http://110.1.2.3/', '10.*', undefined],
    ['https://symbols.corp.example/', 'symbols.corp.example', 'symbols.corp.example'],
    ['https://symbols.corp.example/', 'a.example; symbols.corp.example', 'symbols.corp.example'],
    ['https://symbols.corp.example/', 'a.example symbols.corp.example', 'symbols.corp.example'],
    ['https://symbols.corp.example/', '*corp*', '*corp*'],
    ['https://symbols.corp.example/', 'https://*.corp.example', 'https://*.corp.example'],
    ['http://symbols.corp.example/', 'https://*.corp.example', undefined],
    ['https://symbols.corp.example:8443/', '*.corp.example:8443', '*.corp.example:8443'],
    ['https://symbols.corp.example/', '*.corp.example:8443', undefined],
    ['http://[::1]:99/', '[::1]:99', '[::1]:99'],
    ['https://msdl.microsoft.com/', '<local>;*.corp.example;10.*', undefined],
    ['https://msdl.microsoft.com/', '<-loopback>', undefined],
    ['https://msdl.microsoft.com/', '', undefined],
  ];
  for (const [target, override, match] of cases) {
    test(`${target} vs "${override}" -> ${String(match)}`, () => assert.equal(matchProxyOverride(new URL(target), override), match));
  }
});

describe('proxyFromInternetSettings', () => {
  const manual = parseRegQueryOutput(MANUAL_PROXY);
  const perScheme = parseRegQueryOutput(PER_SCHEME_AND_PAC);
  const cases: [name: string, settings: InternetSettings, target: string, proxy: string | null | undefined, detail: RegExp][] = [
    ['one proxy for https', manual, 'https://msdl.microsoft.com/download/symbols', 'proxy.corp.example:8080', /ProxyServer for all schemes/],
    ['one proxy for http', manual, 'http://msdl.microsoft.com/download/symbols', 'proxy.corp.example:8080', /ProxyServer for all schemes/],
    ['<local> bypasses a dotless name', manual, 'http://symbols/', null, /ProxyOverride entry '<local>' matches symbols/],
    ['a wildcard entry bypasses', manual, 'https://symbols.corp.example/', null, /'\*\.corp\.example'/],
    ['an address pattern bypasses', manual, 'http://10.0.0.7:8080/', null, /'10\.\*'/],
    ['loopback is never proxied', manual, 'http://127.0.0.1:8080/', null, /loopback/],
    ['localhost is never proxied', { proxyEnable: true, proxyServer: 'p:1' }, 'http://localhost:8080/', null, /loopback/],
    ['<local> matches localhost first', manual, 'http://localhost:8080/', null, /'<local>' matches localhost/],
    ['[::1] is never proxied', manual, 'http://[::1]:8080/', null, /loopback/],
    ['https entry for https', perScheme, 'https://msdl.microsoft.com/', 'secure.corp.example:3129', /for https URLs/],
    ['http entry for http', perScheme, 'http://msdl.microsoft.com/', 'web.corp.example:3128', /for http URLs/],
    ['per-scheme bypass', perScheme, 'https://symbols.corp.example/', null, /'symbols\.corp\.example'/],
    ['ProxyEnable 0: nothing to say', parseRegQueryOutput(PROXY_OFF), 'https://msdl.microsoft.com/', undefined, /^$/],
    ['no ProxyServer: nothing to say', { proxyEnable: true }, 'https://msdl.microsoft.com/', undefined, /^$/],
    ['an http-only list does not proxy https', { proxyEnable: true, proxyServer: 'http=web:3128' }, 'https://msdl.microsoft.com/', null, /no entry for https URLs: connecting directly/],
    ['a socks-only list: the SOCKS server, as SOCKS5', { proxyEnable: true, proxyServer: 'socks=s:1080' }, 'https://msdl.microsoft.com/', 'socks5h://s:1080', /socks= entry for https URLs \(spoken to as SOCKS5/],
    ['a scheme entry beats the socks= entry', { proxyEnable: true, proxyServer: 'socks=s:1080;https=tls:2' }, 'https://x.example/', 'tls:2', /for https URLs/],
    ['the general entry beats the socks= entry', { proxyEnable: true, proxyServer: 'socks=s:1080;all:1' }, 'https://x.example/', 'all:1', /for all schemes/],
    ['the scheme entry beats the general one', { proxyEnable: true, proxyServer: 'all:1;https=tls:2' }, 'https://x.example/', 'tls:2', /for https URLs/],
    ['the general entry serves other schemes', { proxyEnable: true, proxyServer: 'all:1;https=tls:2' }, 'http://x.example/', 'all:1', /for all schemes/],
    ['<-loopback> lets loopback go through the proxy', { proxyEnable: true, proxyServer: 'p:1', proxyOverride: '<-loopback>' }, 'http://127.0.0.1:8080/', 'p:1', /for all schemes/],
  ];
  for (const [name, settings, target, proxy, detail] of cases) {
    test(name, () => {
      const decision = proxyFromInternetSettings(settings, new URL(target));
      if (proxy === undefined) {
        assert.equal(decision, undefined);
        return;
      }
      assert.ok(decision);
      assert.equal(decision.proxy, proxy);
      assert.match(decision.detail, detail);
      assert.match(decision.detail, /^Windows Internet Settings: /);
    });
  }
});

describe('readInternetSettings', () => {
  test('off Windows it reads nothing and starts no process', { skip: process.platform === 'win32' }, async () => {
    assert.equal(await readInternetSettings(), undefined);
  });
  test('on Windows it returns parsed settings', { skip: process.platform !== 'win32' }, async () => {
    const settings = await readInternetSettings();
    assert.ok(settings === undefined || typeof settings.proxyEnable === 'boolean');
  });
});

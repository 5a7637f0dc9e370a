import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, removeDir } from '../../../test/helpers/tempdir.js';
import { describeProxy, selectProxies, type ProxyChoice } from './select.js';
import { whichDesktop } from './desktop.js';
import { parseGVariantText, readGnomeSettings } from './gnome.js';
import { kdeProxy, readKdeSettings } from './kde.js';
import { macosSettingsFrom, parseScutilProxy } from './macos.js';

const MSDL = new URL('https://msdl.microsoft.com/download/symbols/ntdll.pdb/1EB3F8A2D4C1E3B1C0A2F3E4D5C6B7A81/ntdll.pdb');
const HTTP_STORE = new URL('http://symbols.example.org/symbols/a.pdb/1/a.pdb');
const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'scutil');

const shown = (choices: ProxyChoice[]): [string, string][] => choices.map((c) => [c.url ? (c.url.protocol === 'socks5:' ? c.url.href.replace(/\/$/, '') : describeProxy(c.url)) : 'DIRECT', c.source]);

describe('whichDesktop (XDG_CURRENT_DESKTOP, platform)', () => {
  const cases: [NodeJS.Platform, string | undefined, string | undefined][] = [
    ['linux', 'ubuntu:GNOME', 'gnome'],
    ['linux', 'X-Cinnamon', 'gnome'],
    ['linux', 'MATE', 'gnome'],
    ['linux', 'KDE', 'kde'],
    ['freebsd', 'KDE', 'kde'],
    ['linux', 'XFCE', undefined],
    ['linux', undefined, undefined],
    ['darwin', undefined, 'macos'],
    ['win32', 'GNOME', undefined],
  ];
  for (const [platform, desktop, expected] of cases) {
    test(`${platform} ${desktop ?? '(unset)'} -> ${expected ?? 'none'}`, () => assert.equal(whichDesktop(platform, desktop === undefined ? {} : { XDG_CURRENT_DESKTOP: desktop }), expected));
  }
});

describe('GNOME: org.gnome.system.proxy through the real gsettings (keyfile backend, private HOME)', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  const gset = (schema: string, key: string, value: string): void => {
    execFileSync('gsettings', ['set', schema, key, value], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const reset = (): void => {
    execFileSync('gsettings', ['reset-recursively', 'org.gnome.system.proxy'], { env, stdio: 'ignore' });
  };
  const select = (target: URL, extra: NodeJS.ProcessEnv = {}): Promise<ProxyChoice[]> =>
    selectProxies(target, { env: { ...env, ...extra }, platform: 'linux', fetchText: async () => Promise.reject(new Error('no network in tests')) });

  before(async () => {
    home = await makeTempDir('symsrv-gnome-');
    env = { PATH: process.env['PATH'], HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GSETTINGS_BACKEND: 'keyfile', XDG_CURRENT_DESKTOP: 'ubuntu:GNOME' };
  });
  after(() => removeDir(home));

  test('manual: the HTTPS proxy for https URLs, the HTTP proxy for http URLs, ignore-hosts bypasses', async () => {
    reset();
    gset('org.gnome.system.proxy', 'mode', 'manual');
    gset('org.gnome.system.proxy.http', 'host', 'web.corp.example');
    gset('org.gnome.system.proxy.http', 'port', '3128');
    gset('org.gnome.system.proxy.https', 'host', 'secure.corp.example');
    gset('org.gnome.system.proxy.https', 'port', '3129');
    gset('org.gnome.system.proxy', 'ignore-hosts', "['localhost', '127.0.0.0/8', '::1', '*.corp.example', 'symbols.example.org']");
    // The settings really are in gsettings' keyfile, not only in our reading of them.
    assert.match(await readFile(join(home, '.config', 'glib-2.0', 'settings', 'keyfile'), 'utf8'), /host='secure\.corp\.example'/);

    const [https] = await select(MSDL);
    assert.deepEqual(shown([https!]), [['http://secure.corp.example:3129', 'gnome']]);
    assert.equal(https?.detail, "GNOME proxy settings (org.gnome.system.proxy mode 'manual'): the HTTPS proxy: http://secure.corp.example:3129");
    assert.deepEqual(shown(await select(new URL('http://msdl.microsoft.com/x'))), [['http://web.corp.example:3128', 'gnome']]);
    const [bypassed] = await select(HTTP_STORE);
    assert.equal(bypassed?.url, null);
    assert.match(bypassed?.detail ?? '', /exception 'symbols\.example\.org' matches symbols\.example\.org: connecting directly/);
    assert.deepEqual(shown(await select(new URL('https://sym.corp.example/'))), [['DIRECT', 'gnome']]);
    assert.deepEqual(shown(await select(new URL('http://127.0.0.1:8080/'))), [['DIRECT', 'gnome']]);
  });

  test('`symsrv path --json` (the built CLI) says the GNOME setting was used', () => {
    const out = execFileSync(process.execPath, [join(process.cwd(), 'dist', 'bin', 'symsrv.js'), 'path', '--json', `srv*${join(home, 'cache')}*https://msdl.microsoft.com/download/symbols`], { env, encoding: 'utf8' });
    const { proxies } = JSON.parse(out) as { proxies: { proxy: string; source: string; detail: string }[] };
    assert.deepEqual(proxies.map((p) => [p.proxy, p.source]), [['http://secure.corp.example:3129', 'gnome']]);
    assert.match(proxies[0]?.detail ?? '', /^GNOME proxy settings \(org\.gnome\.system\.proxy mode 'manual'\): the HTTPS proxy/);
  });

  test('the environment comes first; desktop settings only where it names no proxy', async () => {
    assert.deepEqual(shown(await select(MSDL, { HTTPS_PROXY: 'http://env:1' })), [['http://env:1', 'env:HTTPS_PROXY']]);
    assert.deepEqual(shown(await select(MSDL, { XDG_CURRENT_DESKTOP: 'XFCE' })), [['DIRECT', 'direct']]);
  });

  test('no HTTPS proxy but a SOCKS one: a socks5: URL for https URLs (as glib-networking)', async () => {
    reset();
    gset('org.gnome.system.proxy', 'mode', 'manual');
    gset('org.gnome.system.proxy.http', 'host', 'web.corp.example');
    gset('org.gnome.system.proxy.http', 'port', '3128');
    gset('org.gnome.system.proxy.socks', 'host', 'socks.corp.example');
    gset('org.gnome.system.proxy.socks', 'port', '1080');
    const [choice] = await select(MSDL);
    assert.deepEqual(shown([choice!]), [['socks5://socks.corp.example:1080', 'gnome']]);
    assert.match(choice?.detail ?? '', /the SOCKS proxy \(no HTTPS proxy is set\)/);
  });

  test("use-authentication: the HTTP proxy's user and password go on its URL, never in the detail", async () => {
    reset();
    gset('org.gnome.system.proxy', 'mode', 'manual');
    gset('org.gnome.system.proxy.http', 'host', 'web.corp.example');
    gset('org.gnome.system.proxy.http', 'port', '3128');
    gset('org.gnome.system.proxy.http', 'use-authentication', 'true');
    gset('org.gnome.system.proxy.http', 'authentication-user', 'CORP\\alice');
    gset('org.gnome.system.proxy.http', 'authentication-password', "p@ss:w'rd");
    const [choice] = await select(new URL('http://msdl.microsoft.com/x'));
    assert.equal(decodeURIComponent(choice?.url?.username ?? ''), 'CORP\\alice');
    assert.equal(decodeURIComponent(choice?.url?.password ?? ''), "p@ss:w'rd");
    assert.ok(!choice?.detail.includes('alice') && !choice?.detail.includes('p@ss'), choice?.detail);
  });

  test('mode auto: the autoconfig-url PAC file runs, and the detail names the setting', async () => {
    reset();
    const pac = join(home, 'corp.pac');
    await writeFile(pac, 'function FindProxyForURL(url, host) { return "PROXY pac-proxy.corp.example:8080; DIRECT"; }');
    gset('org.gnome.system.proxy', 'mode', 'auto');
    gset('org.gnome.system.proxy', 'autoconfig-url', pathToFileURL(pac).href);
    const choices = await select(MSDL);
    assert.deepEqual(shown(choices), [
      ['http://pac-proxy.corp.example:8080', 'pac'],
      ['DIRECT', 'pac'],
    ]);
    assert.match(choices[0]?.detail ?? '', /\(GNOME proxy settings \(org\.gnome\.system\.proxy mode 'auto', autoconfig-url\)\) answered/);
  });

  test("mode none, or auto without a URL (WPAD, not done): direct, and the detail says what was read", async () => {
    reset();
    gset('org.gnome.system.proxy', 'mode', 'none');
    const [none] = await select(MSDL);
    assert.deepEqual(shown([none!]), [['DIRECT', 'direct']]);
    assert.match(none?.detail ?? '', /checked .*GNOME proxy settings \(org\.gnome\.system\.proxy mode 'none'\)/);
    gset('org.gnome.system.proxy', 'mode', 'auto');
    const [auto] = await select(MSDL);
    assert.match(auto?.detail ?? '', /no autoconfig-url \(WPAD auto-detection is not done\)/);
  });

  test('no gsettings schema or tool: no settings, no error', async () => {
    assert.equal(await readGnomeSettings({ ...env, PATH: '/nonexistent' }), undefined);
  });

  test('GVariant text as gsettings prints it', () => {
    assert.equal(parseGVariantText("'it\\'s'"), "it's");
    assert.equal(parseGVariantText('"it\'s"'), "it's");
    assert.deepEqual(parseGVariantText("['a', 'b,c', '\\u00e9']"), ['a', 'b,c', 'é']);
    assert.deepEqual(parseGVariantText('@as []'), []);
    assert.equal(parseGVariantText('3128'), 3128);
    assert.equal(parseGVariantText('true'), true);
    assert.equal(parseGVariantText("'unterminated"), undefined);
  });
});

describe('KDE: kioslaverc [Proxy Settings]', () => {
  let home: string;
  const write = async (body: string): Promise<NodeJS.ProcessEnv> => {
    await mkdir(join(home, '.config'), { recursive: true });
    await writeFile(join(home, '.config', 'kioslaverc'), body);
    return { HOME: home, XDG_CURRENT_DESKTOP: 'KDE' };
  };
  before(async () => {
    home = await makeTempDir('symsrv-kde-');
  });
  after(() => removeDir(home));

  test('ProxyType=1 with "http://host port" values (as System Settings writes them), NoProxyFor', async () => {
    const env = await write(
      '[$Version]\nupdate_info=kioslave.upd:kde4.2\n\n[Proxy Settings]\nNoProxyFor=localhost,127.0.0.1,.corp.example\nProxy Config Script=\nProxyType=1\nReversedException=false\n' +
        'ftpProxy=\nhttpProxy=http://web.corp.example 3128\nhttpsProxy=http://secure.corp.example:3129\nsocksProxy=socks://socks.corp.example 1080\n',
    );
    const [https] = await selectProxies(MSDL, { env, platform: 'linux' });
    assert.deepEqual(shown([https!]), [['http://secure.corp.example:3129', 'kde']]);
    assert.match(https?.detail ?? '', /^KDE proxy settings \(.*kioslaverc ProxyType=1\): the HTTPS proxy: http:\/\/secure\.corp\.example:3129$/);
    assert.deepEqual(shown(await selectProxies(HTTP_STORE, { env, platform: 'linux' })), [['http://web.corp.example:3128', 'kde']]);
    assert.deepEqual(shown(await selectProxies(new URL('https://sym.corp.example/'), { env, platform: 'linux' })), [['DIRECT', 'kde']]);
  });

  test('ReversedException: only the listed hosts use the proxy', async () => {
    const env = await write('[Proxy Settings]\nNoProxyFor=.microsoft.com\nProxyType=1\nReversedException=true\nhttpsProxy=http://secure.corp.example 3129\n');
    assert.deepEqual(shown(await selectProxies(MSDL, { env, platform: 'linux' })), [['http://secure.corp.example:3129', 'kde']]);
    assert.deepEqual(shown(await selectProxies(new URL('https://symbols.nuget.org/'), { env, platform: 'linux' })), [['DIRECT', 'kde']]);
  });

  test('ProxyType=4: the values name environment variables', async () => {
    const env = { ...(await write('[Proxy Settings]\nNoProxyFor=CORP_NO_PROXY\nProxyType=4\nhttpsProxy=CORP_HTTPS_PROXY\n')), CORP_HTTPS_PROXY: 'http://from-var:8080', CORP_NO_PROXY: 'nuget.org' };
    assert.deepEqual(shown(await selectProxies(MSDL, { env, platform: 'linux' })), [['http://from-var:8080', 'kde']]);
    assert.deepEqual(shown(await selectProxies(new URL('https://symbols.nuget.org/'), { env, platform: 'linux' })), [['DIRECT', 'kde']]);
  });

  test('ProxyType=2: the Proxy Config Script', async () => {
    const pac = join(home, 'kde.pac');
    await writeFile(pac, 'function FindProxyForURL(url, host) { return "PROXY kde-pac.corp.example:8080"; }');
    const env = await write(`[Proxy Settings]\nProxy Config Script=${pathToFileURL(pac).href}\nProxyType=2\n`);
    const [choice] = await selectProxies(MSDL, { env, platform: 'linux' });
    assert.deepEqual(shown([choice!]), [['http://kde-pac.corp.example:8080', 'pac']]);
    assert.match(choice?.detail ?? '', /KDE proxy settings \(.*ProxyType=2, Proxy Config Script\)/);
  });

  test('ProxyType=0 and no file: direct', async () => {
    const env = await write('[Proxy Settings]\nProxyType=0\nhttpsProxy=http://unused 1\n');
    assert.deepEqual(shown(await selectProxies(MSDL, { env, platform: 'linux' })), [['DIRECT', 'direct']]);
    assert.equal(await readKdeSettings({ HOME: join(home, 'nowhere') }), undefined);
  });

  test('proxy values in every spelling', () => {
    assert.equal(kdeProxy('http://h 3128', 'http'), 'http://h:3128');
    assert.equal(kdeProxy('http://h:3128', 'http'), 'http://h:3128');
    assert.equal(kdeProxy('h:3128', 'http'), 'http://h:3128');
    assert.equal(kdeProxy('http://h', 'http'), 'http://h:80');
    assert.equal(kdeProxy('socks://s 1080', 'socks5'), 'socks5://s:1080');
    assert.equal(kdeProxy('http://[::1] 3128', 'http'), 'http://[::1]:3128');
    assert.equal(kdeProxy('', 'http'), undefined);
  });
});

describe('macOS: scutil --proxy (fixtures in its format)', () => {
  const settingsOf = async (name: string) => macosSettingsFrom(parseScutilProxy(await readFile(join(FIXTURES, name), 'utf8')));
  const select = async (name: string, target: URL): Promise<ProxyChoice[]> => {
    const settings = await settingsOf(name);
    return selectProxies(target, { env: {}, platform: 'darwin', readDesktopSettings: async () => settings, fetchText: async () => 'function FindProxyForURL(u, h) { return "PROXY wpad-proxy.corp.example:8080"; }' });
  };

  test('manual: HTTP and HTTPS proxies, ExceptionsList and ExcludeSimpleHostnames', async () => {
    const [https] = await select('manual.txt', MSDL);
    assert.deepEqual(shown([https!]), [['http://secure.corp.example:3129', 'macos']]);
    assert.equal(https?.detail, 'macOS proxy settings (scutil --proxy): the HTTPS proxy: http://secure.corp.example:3129');
    assert.deepEqual(shown(await select('manual.txt', new URL('http://msdl.microsoft.com/'))), [['http://proxy.corp.example:3128', 'macos']]);
    assert.deepEqual(shown(await select('manual.txt', new URL('https://symbols.corp.example/'))), [['DIRECT', 'macos']]);
    assert.deepEqual(shown(await select('manual.txt', new URL('http://printer.local/'))), [['DIRECT', 'macos']]);
    assert.deepEqual(shown(await select('manual.txt', new URL('http://169.254.3.4/'))), [['DIRECT', 'macos']]);
    const [simple] = await select('manual.txt', new URL('http://symbols/'));
    assert.match(simple?.detail ?? '', /simple host name \(ExcludeSimpleHostnames\)/);
  });

  test('the __SCOPED__ per-interface copy is not read as the top level', async () => {
    const parsed = parseScutilProxy(await readFile(join(FIXTURES, 'manual.txt'), 'utf8'));
    assert.deepEqual(parsed.exceptions, ['*.local', '169.254/16', 'symbols.corp.example']);
    assert.equal(parsed.values.get('HTTPProxy'), 'proxy.corp.example');
  });

  test('ProxyAutoConfigEnable: the PAC URL', async () => {
    const [choice] = await select('pac.txt', MSDL);
    assert.deepEqual(shown([choice!]), [['http://wpad-proxy.corp.example:8080', 'pac']]);
    assert.match(choice?.detail ?? '', /the PAC file http:\/\/wpad\.corp\.example\/wpad\.dat \(macOS proxy settings \(scutil --proxy ProxyAutoConfigEnable, ProxyAutoConfigURLString\)\)/);
  });

  test('SOCKS only: a socks5: URL', async () => {
    assert.deepEqual(shown(await select('socks.txt', MSDL)), [['socks5://10.0.0.5:1080', 'macos']]);
  });

  test('nothing enabled: direct', async () => {
    assert.deepEqual(shown(await select('none.txt', MSDL)), [['DIRECT', 'direct']]);
  });
});

import { isSymsrvError, messageOf, SymsrvError } from '../../errors.js';
import { findNoProxyMatch } from './noproxy.js';
import { describeProxy, parseProxy, withHttpScheme } from './parse-proxy.js';
import { MAX_PAC_CANDIDATES, pacChoices } from './pac-choices.js';
import { pacRequestUrl, type PacScript } from './pac.js';
import { loadPacScript } from './pac-file.js';
import { maskUserinfo } from '../../redact.js';
import { proxyFromInternetSettings, readInternetSettings, type InternetSettings } from './windows.js';
import { decideDesktop, type DesktopProxySettings } from './desktop.js';
import { readDesktopSettings } from './desktop-read.js';

/**
 * Which proxy a request to a URL goes through, and why. First match wins (docs/proxy-selection.md):
 *
 *  0. the caller's `selectProxy(url)` resolver, if it has an opinion;
 *  1. the `proxy` option: `host:port`, `http://[user:pw@]host:port`, or `'direct'` (CLI `--no-proxy`);
 *     `null` or absent means "the default", as SymSrv's `SSRVOPT_PROXY` with NULL data;
 *  2. the `pac` option: a PAC file (URL or path), whose answer can list several candidates;
 *  3. `_NT_SYMBOL_PROXY=host:port`, SymSrv's own variable;
 *  4. `https_proxy`/`HTTPS_PROXY` (https URLs), `http_proxy`/`HTTP_PROXY` (http URLs; the
 *     upper-case one not in a CGI context, where `REQUEST_METHOD` is set), then
 *     `all_proxy`/`ALL_PROXY`, lower case first, minus `no_proxy`/`NO_PROXY`;
 *  5. on Windows, the Internet Settings: the AutoConfigURL PAC file, else the manual proxy with
 *     its ProxyOverride list;
 *  5b. elsewhere, the desktop's settings: GNOME (gsettings), KDE (kioslaverc), macOS (scutil),
 *     read by gnome.ts, kde.ts, macos.ts into one shape (desktop.ts): a PAC URL, or a manual
 *     proxy with its exceptions;
 *  6. direct.
 *
 * Each answer records where it came from and a sentence saying why (as vscode-proxy-agent records
 * `env`/`setting`/`system`), for `symsrv path` and `--verbose`. A sentence never holds a password:
 * proxies are printed with describeProxy, raw values through redaction.
 */
export { describeProxy, isSocksProxy, parseProxyOption, proxyPort } from './parse-proxy.js';
export { MAX_PAC_CANDIDATES } from './pac-choices.js';

export type ProxySource =
  | 'caller'
  | 'option'
  | '_NT_SYMBOL_PROXY'
  | 'env:HTTPS_PROXY'
  | 'env:https_proxy'
  | 'env:HTTP_PROXY'
  | 'env:http_proxy'
  | 'env:ALL_PROXY'
  | 'env:all_proxy'
  | 'windows'
  | 'gnome'
  | 'kde'
  | 'macos'
  | 'pac'
  | 'no_proxy'
  | 'direct';

export type ProxyChoice = {
  /** The HTTP proxy to use, userinfo included (the auth layer's lowest-priority credentials); null = direct. */
  url: URL | null;
  source: ProxySource;
  /** Why, in one sentence, without credentials. */
  detail: string;
};

/**
 * A caller's own proxy resolution (as proxy-agent's `getProxyForUrl`; an IDE host plugs in the
 * proxy its user configured). Asked first, with the URL requested; it answers a proxy (`host:port`,
 * `http://[user:pw@]host:port`), `'direct'`, null (direct), a list of candidates tried in order, or
 * undefined: "no opinion", symsrv's own steps decide.
 */
export type ProxyResolver = (url: string) => Promise<string | null | undefined | ProxyChoice[]>;

export interface ProxySettings {
  /** Asked before every other step (see ProxyResolver). */
  selectProxy?: ProxyResolver;
  /** `host:port`, `http://host:port`, `http://user:pw@host:port`, `'direct'`; null/absent = the default. */
  proxy?: string | null | 'direct';
  /** A PAC file: `http(s)://` URL (downloaded with fetchText), `file:` URL or path. */
  pac?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to process.platform; the Windows Internet Settings are read on 'win32' only. */
  platform?: NodeJS.Platform;
  /** Downloads a PAC file (the option's, or Windows' AutoConfigURL). Without it a PAC URL cannot be used. */
  fetchText?: (url: string) => Promise<string>;
  /** Defaults to `reg query` of HKCU\...\Internet Settings (windows.ts). */
  readWindowsSettings?: () => Promise<InternetSettings | undefined>;
  /** Defaults to the reader of the desktop named by the platform and XDG_CURRENT_DESKTOP (desktop-read.ts). */
  readDesktopSettings?: () => Promise<DesktopProxySettings | undefined>;
  /** Receives the PAC script's alert() messages. */
  onPacAlert?: (message: string) => void;
}

/** The ordered candidates for one request (PAC can give several, every other step one). */
export async function selectProxies(target: URL, settings: ProxySettings): Promise<ProxyChoice[]> {
  const selector = new ProxySelector(settings);
  try {
    return await selector.choose(target);
  } finally {
    selector.close();
  }
}

const HTTPS_VARS = ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'] as const;
// Upper-case HTTP_PROXY is read (Go's net/http, Python, undici's EnvHttpProxyAgent and Docker do,
// and on Windows names are case-insensitive anyway), except in a CGI context: there the server sets
// HTTP_PROXY from the request's `Proxy:` header ("httpoxy", CVE-2016-5385), so a client could pick
// our proxy. Go's httpproxy treats a set REQUEST_METHOD as that context; so do we. (curl never reads
// HTTP_PROXY; the lower-case http_proxy cannot come from a header, so it is read even there.)
const HTTP_VARS = ['http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'] as const;

/**
 * Chooses proxies for many requests: the `proxy` option is checked when built (E_USAGE at once),
 * the Windows settings are read once, each PAC file is loaded and compiled once (a failure to load
 * it is kept too: a broken PAC file is not downloaded again for every request), and PAC answers
 * are kept per scheme + host + port, which is all the script is shown. Call close() when done.
 */
export class ProxySelector {
  private readonly settings: ProxySettings;
  private readonly option: ProxyChoice | undefined;
  private windows: Promise<InternetSettings | undefined> | undefined;
  private desktop: Promise<DesktopProxySettings | undefined> | undefined;
  private readonly pacScripts = new Map<string, Promise<PacScript>>();
  private readonly pacAnswers = new Map<string, Promise<ProxyChoice[]>>();

  constructor(settings: ProxySettings = {}) {
    this.settings = settings;
    this.option = optionChoice(settings.proxy);
    if (settings.pac !== undefined && (typeof settings.pac !== 'string' || settings.pac.trim() === '')) {
      throw new SymsrvError('E_USAGE', 'the pac option must be the URL or path of a PAC file', { subject: 'pac option' });
    }
  }

  async choose(target: URL): Promise<ProxyChoice[]> {
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      return [{ url: null, source: 'direct', detail: `${target.protocol} URLs do not go through a proxy` }];
    }
    if (this.settings.selectProxy) {
      const fromCaller = await callerChoices(this.settings.selectProxy, target);
      if (fromCaller) return fromCaller;
    }
    if (this.option) return [this.option];
    if (this.settings.pac !== undefined) return this.fromPac(this.settings.pac, target, 'the pac option');

    const env = this.settings.env ?? process.env;
    const nt = ntSymbolProxy(env);
    if (nt) return [nt];

    const notes: string[] = [];
    const fromEnv = envChoice(target, env, notes);
    if (fromEnv) return [fromEnv];

    const platform = this.settings.platform ?? process.platform;
    if (platform === 'win32') {
      const fromWindows = await this.fromWindows(target, notes);
      if (fromWindows) return fromWindows.map((c) => withNotes(c, notes));
    }
    const desktop = platform === 'win32' ? undefined : await this.fromDesktop(target, env, platform, notes);
    if (desktop) return desktop.map((c) => withNotes(c, notes));
    const checked = ['proxy option', 'pac option', '_NT_SYMBOL_PROXY', ...(target.protocol === 'https:' ? HTTPS_VARS : HTTP_VARS)];
    if (platform === 'win32') checked.push('Windows Internet Settings');
    else if (this.desktopName) checked.push(this.desktopName);
    return [withNotes({ url: null, source: 'direct', detail: `no proxy is configured (checked ${checked.join(', ')}): connecting directly` }, notes)];
  }

  /** Frees the PAC sandboxes. */
  close(): void {
    for (const script of this.pacScripts.values()) {
      script.then(
        (s) => s.dispose(),
        () => undefined,
      );
    }
    this.pacScripts.clear();
    this.pacAnswers.clear();
  }

  private fromPac(pac: string, target: URL, from: string): Promise<ProxyChoice[]> {
    const key = `${pac}\n${pacRequestUrl(target)}`;
    let answer = this.pacAnswers.get(key);
    if (!answer) {
      answer = this.runPac(pac, target, from);
      this.pacAnswers.set(key, answer);
      // A failed run (a timeout on a slow DNS lookup) is tried again next time.
      const mine = answer;
      mine.catch(() => {
        if (this.pacAnswers.get(key) === mine) this.pacAnswers.delete(key);
      });
    }
    return answer;
  }

  private async runPac(pac: string, target: URL, from: string): Promise<ProxyChoice[]> {
    let script = this.pacScripts.get(pac);
    if (!script) {
      script = loadPacScript(pac, {
        fetchText: this.settings.fetchText,
        ...(this.settings.onPacAlert ? { onAlert: this.settings.onPacAlert } : {}),
      });
      script.catch(() => undefined); // kept (see the class comment); reported by the await below
      this.pacScripts.set(pac, script);
    }
    const answer = await (await script).findProxy(target);
    return pacChoices(answer, target, `the PAC file ${maskUserinfo(pac)} (${from})`);
  }

  private desktopName: string | undefined;

  /** GNOME, KDE or macOS settings (desktop.ts); read once. A PAC file they name that fails is an error, as the pac option's. */
  private async fromDesktop(target: URL, env: NodeJS.ProcessEnv, platform: NodeJS.Platform, notes: string[]): Promise<ProxyChoice[] | undefined> {
    const read = this.settings.readDesktopSettings ?? (() => readDesktopSettings(platform, env));
    this.desktop ??= Promise.resolve()
      .then(read)
      .catch(() => undefined);
    const settings = await this.desktop;
    if (!settings) return undefined;
    this.desktopName = settings.setting;
    notes.push(...(settings.notes ?? []));
    const decision = decideDesktop(settings, target);
    if (!decision) return undefined;
    if (decision.kind === 'pac') return this.fromPac(decision.url, target, settings.setting);
    if (decision.kind === 'direct') return [{ url: null, source: settings.source, detail: decision.detail }];
    const url = decision.proxy.startsWith('socks5://') ? socksUrl(decision.proxy, settings.setting) : parseProxy(decision.proxy, settings.setting);
    return [{ url, source: settings.source, detail: `${decision.detail}: ${describeProxy(url)}` }];
  }

  private async fromWindows(target: URL, notes: string[]): Promise<ProxyChoice[] | undefined> {
    const read = this.settings.readWindowsSettings ?? (() => readInternetSettings());
    // Unreadable settings are no settings: the next step decides.
    this.windows ??= Promise.resolve()
      .then(read)
      .catch(() => undefined);
    const settings = await this.windows;
    if (!settings) return undefined;
    if (settings.autoConfigURL) {
      try {
        return await this.fromPac(settings.autoConfigURL, target, 'Windows AutoConfigURL');
      } catch (err) {
        if (!isSymsrvError(err)) throw err;
        // WinINet also falls back to the manual settings when the script cannot be used.
        notes.push(`AutoConfigURL skipped: ${err.message}`);
      }
    }
    const decision = proxyFromInternetSettings(settings, target);
    if (!decision) {
      notes.push('Windows Internet Settings: no manual proxy enabled');
      return undefined;
    }
    if (decision.proxy === null) return [{ url: null, source: 'windows', detail: decision.detail }];
    const url = parseProxy(withHttpScheme(decision.proxy), 'Windows Internet Settings ProxyServer');
    return [{ url, source: 'windows', detail: `${decision.detail}: ${describeProxy(url)}` }];
  }
}

async function callerChoices(selectProxy: ProxyResolver, target: URL): Promise<ProxyChoice[] | undefined> {
  const shown = `${target.protocol}//${target.host}/`;
  let answer: Awaited<ReturnType<ProxyResolver>>;
  try {
    answer = await selectProxy(target.href);
  } catch (err) {
    throw new SymsrvError('E_PROXY', `the selectProxy callback failed for ${shown}: ${messageOf(err)}`, { cause: err, subject: shown });
  }
  if (answer === undefined) return undefined;
  if (answer === null || (typeof answer === 'string' && /^\s*direct\s*$/i.test(answer))) {
    return [{ url: null, source: 'caller', detail: `the selectProxy callback answered direct for ${shown}` }];
  }
  if (typeof answer === 'string') {
    const url = parseProxy(answer, 'the selectProxy callback');
    return [{ url, source: 'caller', detail: `the selectProxy callback answered ${describeProxy(url)} for ${shown}` }];
  }
  if (!Array.isArray(answer) || answer.length === 0 || !answer.every((c) => c && (c.url === null || c.url instanceof URL))) {
    throw new SymsrvError('E_USAGE', `the selectProxy callback must answer a proxy, 'direct', null, undefined or a non-empty list of { url: URL | null }, not ${typeof answer}`);
  }
  return answer.slice(0, MAX_PAC_CANDIDATES).map((c) => ({
    url: c.url,
    source: 'caller' as const,
    detail: typeof c.detail === 'string' && c.detail ? c.detail : `the selectProxy callback answered ${describeProxy(c.url)} for ${shown}`,
  }));
}

/**
 * A SOCKS proxy from desktop settings, as a `socks5:` URL: the transport's SOCKS support (issue 13)
 * takes such URLs; parseProxy still refuses SOCKS where the user types a proxy.
 */
function socksUrl(text: string, where: string): URL {
  try {
    const url = new URL(text);
    if (url.hostname && url.port) return url;
  } catch {
    // below
  }
  throw new SymsrvError('E_USAGE', `${where}: the SOCKS proxy '${maskUserinfo(text)}' is not host:port`, { subject: where });
}

function optionChoice(proxy: string | null | undefined): ProxyChoice | undefined {
  if (proxy === null || proxy === undefined) return undefined;
  if (typeof proxy !== 'string') throw new SymsrvError('E_USAGE', `the proxy option must be a string, 'direct' or null, not ${typeof proxy}`);
  if (/^\s*direct\s*$/i.test(proxy)) {
    return { url: null, source: 'option', detail: `proxy option 'direct': connecting directly, whatever the environment says` };
  }
  const url = parseProxy(proxy, 'proxy option');
  return { url, source: 'option', detail: `proxy option: ${describeProxy(url)}` };
}

function ntSymbolProxy(env: NodeJS.ProcessEnv): ProxyChoice | undefined {
  const value = envValue(env, '_NT_SYMBOL_PROXY');
  if (value === undefined) return undefined;
  if (/^\s*direct\s*$/i.test(value)) {
    return { url: null, source: '_NT_SYMBOL_PROXY', detail: `_NT_SYMBOL_PROXY=direct: connecting directly` };
  }
  const url = parseProxy(value, '_NT_SYMBOL_PROXY');
  return { url, source: '_NT_SYMBOL_PROXY', detail: `_NT_SYMBOL_PROXY=${describeProxy(url)}` };
}

function envChoice(target: URL, env: NodeJS.ProcessEnv, notes: string[]): ProxyChoice | undefined {
  const https = target.protocol === 'https:';
  const names = https ? HTTPS_VARS : HTTP_VARS;
  let name: (typeof names)[number] | undefined;
  let value: string | undefined;
  const cgi = envValue(env, 'REQUEST_METHOD') !== undefined;
  for (const n of names) {
    value = envValue(env, n);
    if (value === undefined) continue;
    if (n === 'HTTP_PROXY' && cgi) {
      notes.push('HTTP_PROXY is ignored because REQUEST_METHOD is set (a CGI program, where HTTP_PROXY may come from a request header: httpoxy)');
      value = undefined;
      continue;
    }
    name = n;
    break;
  }
  if (name === undefined || value === undefined) return undefined;
  const url = parseProxy(value, name);
  const host = target.hostname;
  const noProxyName = envValue(env, 'no_proxy') !== undefined ? 'no_proxy' : envValue(env, 'NO_PROXY') !== undefined ? 'NO_PROXY' : undefined;
  const source = `env:${name}` as ProxySource;
  if (noProxyName === undefined) {
    return withNotes({ url, source, detail: `${name}=${describeProxy(url)} (NO_PROXY is not set)` }, notes);
  }
  const entry = findNoProxyMatch(target, envValue(env, noProxyName) ?? '');
  if (entry === undefined) {
    return withNotes({ url, source, detail: `${name}=${describeProxy(url)} (${noProxyName} does not match ${host})` }, notes);
  }
  const what = entry === '*' ? `${noProxyName}=* matches every host` : `${noProxyName} entry '${entry}' matches ${host}`;
  return withNotes({ url: null, source: 'no_proxy', detail: `${what}: connecting directly instead of through ${name}=${describeProxy(url)}` }, notes);
}

/** curl: an empty variable is an unset one. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function withNotes(choice: ProxyChoice, notes: string[]): ProxyChoice {
  return notes.length === 0 ? choice : { ...choice, detail: `${choice.detail}; ${notes.join('; ')}` };
}

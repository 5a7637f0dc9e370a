import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { findNoProxyMatch } from './noproxy.js';

/**
 * The desktop's own proxy settings, read where the environment names no proxy: GNOME (gnome.ts),
 * KDE (kde.ts), macOS (macos.ts). Each reader returns this one shape; select.ts turns it into
 * choices (a manual proxy with its bypass list, or a PAC URL). Windows keeps its own reader
 * (windows.ts), older than this shape.
 */
export interface DesktopProxySettings {
  source: 'gnome' | 'kde' | 'macos';
  /** What was read, for the detail: `GNOME proxy settings (org.gnome.system.proxy mode 'manual')`. */
  setting: string;
  mode: 'none' | 'manual' | 'pac';
  /** mode 'pac': the PAC file's URL. */
  pacUrl?: string;
  /** HTTP proxies as `http://[user:pw@]host:port`, for http and https URLs. */
  http?: string;
  https?: string;
  /** A SOCKS proxy as `socks5://host:port`, for any URL without a proxy of its own scheme. */
  socks?: string;
  /** Hosts that bypass the proxy, in NO_PROXY syntax (noproxy.ts): names, `.suffix`, `*.suffix`, CIDR, `host:port`. */
  bypass: string[];
  /** KDE's ReversedException: only the hosts in `bypass` use the proxy. */
  bypassReversed?: boolean;
  /** macOS ExcludeSimpleHostnames: names without a dot go direct. */
  excludeSimpleHostnames?: boolean;
  /** Things read and not used (WPAD auto-detection...), for the detail. */
  notes?: string[];
}

export type DesktopDecision =
  | { kind: 'pac'; url: string }
  | { kind: 'proxy'; proxy: string; detail: string }
  | { kind: 'direct'; detail: string };

/** What the manual settings say for `target` (pure; the PAC case is the caller's). */
export function decideDesktop(settings: DesktopProxySettings, target: URL): DesktopDecision | undefined {
  if (settings.mode === 'none') return undefined;
  if (settings.mode === 'pac') return settings.pacUrl ? { kind: 'pac', url: settings.pacUrl } : undefined;
  const host = target.hostname;
  const where = settings.setting;
  const hit = settings.bypass.length ? findNoProxyMatch(target, settings.bypass.join(',')) : undefined;
  if (settings.bypassReversed) {
    if (hit === undefined) return { kind: 'direct', detail: `${where}: ${host} is not in the list of hosts that use the proxy (reversed exceptions): connecting directly` };
  } else if (hit !== undefined) {
    return { kind: 'direct', detail: `${where}: exception '${hit}' matches ${host}: connecting directly` };
  }
  const plain = target.hostname.replace(/^\[|\]$/g, '');
  if (settings.excludeSimpleHostnames && !plain.includes('.') && isIP(plain) === 0) {
    return { kind: 'direct', detail: `${where}: ${host} is a simple host name (ExcludeSimpleHostnames): connecting directly` };
  }
  const https = target.protocol === 'https:';
  const own = https ? settings.https : settings.http;
  if (own) return { kind: 'proxy', proxy: own, detail: `${where}: the ${https ? 'HTTPS' : 'HTTP'} proxy` };
  if (settings.socks) return { kind: 'proxy', proxy: settings.socks, detail: `${where}: the SOCKS proxy (no ${https ? 'HTTPS' : 'HTTP'} proxy is set)` };
  return { kind: 'direct', detail: `${where}: no proxy is set for ${https ? 'https' : 'http'} URLs: connecting directly` };
}

/**
 * `host` and `port` of a desktop setting as a proxy URL; undefined when either is missing (an
 * empty host or port 0 is how GNOME and macOS say "not set"). IPv6 addresses get brackets.
 */
export function proxyUrl(scheme: 'http' | 'socks5', host: string | undefined, port: number | undefined, userinfo = ''): string | undefined {
  // Users type `http://proxy` into the host field too.
  const h = (host ?? '').trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
  if (!h || port === undefined || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  const shown = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
  return `${scheme}://${userinfo}${shown}:${port}`;
}

/** Runs a settings tool; undefined on any failure (no tool, no schema, a timeout): no settings. */
export function runTool(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 5_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 1024 * 1024, encoding: 'utf8', windowsHide: true }, (err, stdout) => {
      resolve(err ? undefined : stdout);
    });
  });
}

/** Which desktop's settings apply: macOS by platform, GNOME and KDE by `XDG_CURRENT_DESKTOP` (a `:`-separated list). */
export function whichDesktop(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): 'gnome' | 'kde' | 'macos' | undefined {
  if (platform === 'darwin') return 'macos';
  if (platform === 'win32') return undefined;
  const names = (env['XDG_CURRENT_DESKTOP'] ?? '').split(':').map((n) => n.trim().toUpperCase());
  if (names.includes('KDE')) return 'kde';
  // GNOME and the desktops that keep their proxy in GNOME's schema.
  if (names.some((n) => ['GNOME', 'GNOME-CLASSIC', 'GNOME-FLASHBACK', 'UNITY', 'CINNAMON', 'X-CINNAMON', 'BUDGIE', 'BUDGIE-DESKTOP', 'PANTHEON', 'MATE', 'UBUNTU'].includes(n))) return 'gnome';
  return undefined;
}

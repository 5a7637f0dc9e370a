import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { proxyUrl, type DesktopProxySettings } from './desktop.js';

/**
 * KDE's proxy settings: the `[Proxy Settings]` group of `kioslaverc` in the XDG config folder
 * (`$XDG_CONFIG_HOME`, default `~/.config`), as KIO and System Settings write it:
 *
 *   ProxyType=1                         0 none, 1 manual, 2 PAC ("Proxy Config Script"),
 *                                       3 WPAD auto-detection (not done here), 4 environment variables
 *   httpProxy=http://proxy.corp 3128    also `http://proxy.corp:3128`; with ProxyType 4, the name
 *   httpsProxy=...                      of a variable (`HTTPS_PROXY`) holding the proxy
 *   socksProxy=socks://socks.corp 1080
 *   NoProxyFor=localhost,.corp.example  with ProxyType 4, the name of a variable (`NO_PROXY`)
 *   ReversedException=false             true: only the hosts in NoProxyFor use the proxy
 *   Proxy Config Script=http://wpad.corp/wpad.dat
 *
 * The file is read by hand (an INI file; no KDE library runs under Node): groups, `key=value`,
 * keys with KConfig flags (`key[$e]`), KConfig's escapes (`\s`, `\t`, `\n`, `\\`).
 */
export async function readKdeSettings(env: NodeJS.ProcessEnv): Promise<DesktopProxySettings | undefined> {
  const base = env['XDG_CONFIG_HOME']?.trim() || join(env['HOME']?.trim() || homedir(), '.config');
  const path = join(base, 'kioslaverc');
  let text: string;
  try {
    const file = await open(path, 'r');
    try {
      // A settings file is a few KB; read at most 256 KiB of it.
      const buffer = Buffer.alloc(256 * 1024);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await file.close();
    }
  } catch {
    return undefined;
  }
  return kdeSettingsFrom(parseKdeGroup(text, 'Proxy Settings'), env, path);
}

/** The `key=value` pairs of one group of a KConfig file. */
export function parseKdeGroup(text: string, group: string): Map<string, string> {
  const values = new Map<string, string>();
  let inGroup = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      inGroup = line === `[${group}]`;
      continue;
    }
    if (!inGroup) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim().replace(/\[\$[a-z]+\]$/i, '');
    values.set(key, unescapeKConfig(line.slice(eq + 1).trim()));
  }
  return values;
}

function unescapeKConfig(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => ({ s: ' ', t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);
}

/** The settings, from the `[Proxy Settings]` values; `file` names the file in the details. */
export function kdeSettingsFrom(values: Map<string, string>, env: NodeJS.ProcessEnv, file = 'kioslaverc'): DesktopProxySettings | undefined {
  const type = values.get('ProxyType');
  if (type === undefined) return undefined;
  const setting = `KDE proxy settings (${file} ProxyType=${type})`;
  const fromEnv = type === '4';
  const field = (key: string): string => {
    const v = values.get(key)?.trim() ?? '';
    return fromEnv ? (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? (env[v]?.trim() ?? '') : '') : v;
  };
  const bypass = field('NoProxyFor')
    .split(/[,\s]+/)
    .map((h) => h.trim())
    .filter(Boolean);
  if (type === '2') {
    const script = values.get('Proxy Config Script')?.trim();
    if (!script) return { source: 'kde', setting, mode: 'none', bypass, notes: [`${setting}: no Proxy Config Script`] };
    return { source: 'kde', setting: `KDE proxy settings (${file} ProxyType=2, Proxy Config Script)`, mode: 'pac', pacUrl: script, bypass };
  }
  if (type === '3') return { source: 'kde', setting, mode: 'none', bypass, notes: [`${setting}: WPAD auto-detection is not done`] };
  if (type !== '1' && type !== '4') return { source: 'kde', setting, mode: 'none', bypass };
  const settings: DesktopProxySettings = { source: 'kde', setting, mode: 'manual', bypass };
  if (values.get('ReversedException')?.trim().toLowerCase() === 'true') settings.bypassReversed = true;
  const http = kdeProxy(field('httpProxy'), 'http');
  const https = kdeProxy(field('httpsProxy'), 'http');
  const socks = kdeProxy(field('socksProxy'), 'socks5');
  if (http) settings.http = http;
  if (https) settings.https = https;
  if (socks) settings.socks = socks;
  return settings;
}

/** `http://host port`, `http://host:port`, `host:port`, `[v6]:port` as a proxy URL (with userinfo, if any). */
export function kdeProxy(value: string, scheme: 'http' | 'socks5'): string | undefined {
  const v = value.trim();
  if (!v) return undefined;
  const spaced = /^(.*\S)\s+(\d+)$/.exec(v);
  let hostPart = spaced?.[1] ?? v;
  let port = spaced?.[2] !== undefined ? Number(spaced[2]) : undefined;
  hostPart = hostPart.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
  const at = hostPart.lastIndexOf('@');
  const userinfo = at >= 0 ? hostPart.slice(0, at + 1) : '';
  hostPart = hostPart.slice(at + 1);
  if (port === undefined) {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(hostPart);
    if (m?.[1] && m[2]) {
      hostPart = m[1];
      port = Number(m[2]);
    } else {
      port = scheme === 'socks5' ? 1080 : 80;
    }
  }
  return proxyUrl(scheme, hostPart.replace(/^\[|\]$/g, ''), port, userinfo);
}

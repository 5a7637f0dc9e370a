import { proxyUrl, runTool, type DesktopProxySettings } from './desktop.js';

/**
 * GNOME's proxy settings (and those of the desktops that share its schema: Unity, Cinnamon, MATE,
 * Budgie, Pantheon): the `org.gnome.system.proxy` schema of gsettings-desktop-schemas, read with
 * one `gsettings list-recursively org.gnome.system.proxy` (whatever backend the session uses:
 * dconf, or the keyfile backend the tests use). Interpreted as glib-networking's GNOME resolver
 * does: mode none/manual/auto; in manual mode an HTTP proxy for http URLs, an HTTPS one for https
 * URLs, the SOCKS one for either when its own is not set; ignore-hosts as a bypass list.
 *
 * Credentials: when `org.gnome.system.proxy.http use-authentication` is true, its
 * authentication-user/-password go on the HTTP proxy's URL, as glib-networking puts them on its
 * proxy URI. They are the credentials the user gave that proxy in the desktop's settings, and they
 * become the auth layer's lowest-priority source (as userinfo in `http_proxy`); they are never
 * printed (details show `http://host:port`). The schema has them for the HTTP proxy only.
 */
export async function readGnomeSettings(env: NodeJS.ProcessEnv): Promise<DesktopProxySettings | undefined> {
  const text = await runTool('gsettings', ['list-recursively', 'org.gnome.system.proxy'], env);
  return text === undefined ? undefined : gnomeSettingsFrom(parseGsettingsList(text));
}

/** `schema key value` lines of `gsettings list-recursively` as `schema key` -> value. */
export function parseGsettingsList(text: string): Map<string, GValue> {
  const values = new Map<string, GValue>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) (\S+) (.*)$/.exec(line.trim());
    if (!m || !m[1] || !m[2] || m[3] === undefined) continue;
    const value = parseGVariantText(m[3]);
    if (value !== undefined) values.set(`${m[1]} ${m[2]}`, value);
  }
  return values;
}

export type GValue = string | number | boolean | string[];

/** The GVariant text forms gsettings prints for these keys: 'str' / "str", ints, booleans, ['a', 'b'] / @as []. */
export function parseGVariantText(text: string): GValue | undefined {
  const t = text.trim();
  if (t === 'true' || t === 'false') return t === 'true';
  if (/^-?\d+$/.test(t)) return Number(t);
  if (t.startsWith("'") || t.startsWith('"')) {
    const r = readString(t, 0);
    return r && r.end === t.length ? r.value : undefined;
  }
  const body = t.startsWith('@as ') ? t.slice(4).trim() : t;
  if (!body.startsWith('[') || !body.endsWith(']')) return undefined;
  const items: string[] = [];
  let i = 1;
  for (;;) {
    while (body[i] === ' ' || body[i] === ',') i++;
    if (body[i] === ']') return i === body.length - 1 ? items : undefined;
    const r = readString(body, i);
    if (!r) return undefined;
    items.push(r.value);
    i = r.end;
  }
}

/** A quoted GVariant string at `start`, with its backslash escapes. */
function readString(text: string, start: number): { value: string; end: number } | undefined {
  const quote = text[start];
  if (quote !== "'" && quote !== '"') return undefined;
  let value = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === quote) return { value, end: i + 1 };
    if (c !== '\\') {
      value += c;
      continue;
    }
    const n = text[++i];
    if (n === undefined) return undefined;
    if (n === 'u' || n === 'U') {
      const len = n === 'u' ? 4 : 8;
      const hex = text.slice(i + 1, i + 1 + len);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) return undefined;
      value += String.fromCodePoint(Number.parseInt(hex, 16));
      i += len;
    } else {
      value += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v' } as Record<string, string>)[n] ?? n;
    }
  }
  return undefined;
}

/** The settings, from the values of parseGsettingsList. */
export function gnomeSettingsFrom(values: Map<string, GValue>): DesktopProxySettings | undefined {
  const S = 'org.gnome.system.proxy';
  const str = (key: string): string => {
    const v = values.get(key);
    return typeof v === 'string' ? v : '';
  };
  const num = (key: string): number | undefined => {
    const v = values.get(key);
    return typeof v === 'number' ? v : undefined;
  };
  const mode = str(`${S} mode`);
  if (!mode) return undefined;
  const setting = `GNOME proxy settings (${S} mode '${mode}')`;
  const ignore = values.get(`${S} ignore-hosts`);
  const bypass = Array.isArray(ignore) ? ignore.map((h) => h.trim()).filter(Boolean) : [];
  if (mode === 'auto') {
    const url = str(`${S} autoconfig-url`).trim();
    if (!url) {
      // glib-networking then tries WPAD (wpad://); we do not look for a PAC file on the network.
      return { source: 'gnome', setting, mode: 'none', bypass, notes: [`${setting}: no autoconfig-url (WPAD auto-detection is not done)`] };
    }
    return { source: 'gnome', setting: `GNOME proxy settings (${S} mode 'auto', autoconfig-url)`, mode: 'pac', pacUrl: url, bypass };
  }
  if (mode !== 'manual') return { source: 'gnome', setting, mode: 'none', bypass };
  let userinfo = '';
  if (values.get(`${S}.http use-authentication`) === true && str(`${S}.http authentication-user`)) {
    userinfo = `${encodeURIComponent(str(`${S}.http authentication-user`))}:${encodeURIComponent(str(`${S}.http authentication-password`))}@`;
  }
  const settings: DesktopProxySettings = { source: 'gnome', setting, mode: 'manual', bypass };
  const http = proxyUrl('http', str(`${S}.http host`), num(`${S}.http port`), userinfo);
  const https = proxyUrl('http', str(`${S}.https host`), num(`${S}.https port`));
  const socks = proxyUrl('socks5', str(`${S}.socks host`), num(`${S}.socks port`));
  if (http) settings.http = http;
  if (https) settings.https = https;
  if (socks) settings.socks = socks;
  return settings;
}

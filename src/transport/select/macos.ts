import { proxyUrl, runTool, type DesktopProxySettings } from './desktop.js';

/**
 * macOS's proxy settings (System Settings > Network > Details > Proxies), as `scutil --proxy`
 * prints the merged configuration of the network service in use:
 *
 *   <dictionary> {
 *     ExceptionsList : <array> {
 *       0 : *.local
 *       1 : 169.254/16
 *     }
 *     ExcludeSimpleHostnames : 1
 *     HTTPEnable : 1
 *     HTTPPort : 3128
 *     HTTPProxy : proxy.corp.example
 *     ...
 *   }
 *
 * Read as CFNetwork reads it: ProxyAutoConfigEnable with ProxyAutoConfigURLString first, then
 * HTTP/HTTPS/SOCKS with their Enable flags; ExceptionsList (`*.local`, `169.254/16`) and
 * ExcludeSimpleHostnames as the bypass rules. Auto-discovery (ProxyAutoDiscoveryEnable, WPAD) is
 * not done.
 */
export async function readMacosSettings(env: NodeJS.ProcessEnv): Promise<DesktopProxySettings | undefined> {
  // /usr/sbin/scutil, not one found on PATH.
  const text = await runTool('/usr/sbin/scutil', ['--proxy'], env);
  return text === undefined ? undefined : macosSettingsFrom(parseScutilProxy(text));
}

export interface ScutilProxy {
  values: Map<string, string>;
  exceptions: string[];
}

/** The top-level `key : value` pairs and the ExceptionsList array of `scutil --proxy` output. */
export function parseScutilProxy(text: string): ScutilProxy {
  const values = new Map<string, string>();
  const exceptions: string[] = [];
  let depth = 0;
  let inExceptions = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '}') {
      depth--;
      if (depth <= 1) inExceptions = false;
      continue;
    }
    const m = /^(.+?) : (.*)$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) {
      if (line.endsWith('{')) depth++;
      continue;
    }
    const [key, value] = [m[1].trim(), m[2].trim()];
    if (value.endsWith('{')) {
      depth++;
      if (depth === 2 && key === 'ExceptionsList') inExceptions = true;
      continue;
    }
    if (inExceptions && depth === 2) exceptions.push(value);
    else if (depth === 1) values.set(key, value);
  }
  return { values, exceptions };
}

/** The settings, from parseScutilProxy's result. */
export function macosSettingsFrom({ values, exceptions }: ScutilProxy): DesktopProxySettings | undefined {
  if (values.size === 0) return undefined;
  const on = (key: string): boolean => values.get(key) === '1';
  const port = (key: string): number | undefined => (/^\d+$/.test(values.get(key) ?? '') ? Number(values.get(key)) : undefined);
  const bypass = exceptions.map(macosException).filter(Boolean);
  const base: Pick<DesktopProxySettings, 'source' | 'bypass' | 'excludeSimpleHostnames'> = { source: 'macos', bypass };
  if (on('ExcludeSimpleHostnames')) base.excludeSimpleHostnames = true;
  const pac = values.get('ProxyAutoConfigURLString');
  if (on('ProxyAutoConfigEnable') && pac) {
    return { ...base, setting: 'macOS proxy settings (scutil --proxy ProxyAutoConfigEnable, ProxyAutoConfigURLString)', mode: 'pac', pacUrl: pac };
  }
  const settings: DesktopProxySettings = { ...base, setting: 'macOS proxy settings (scutil --proxy)', mode: 'manual' };
  const http = on('HTTPEnable') ? proxyUrl('http', values.get('HTTPProxy'), port('HTTPPort')) : undefined;
  const https = on('HTTPSEnable') ? proxyUrl('http', values.get('HTTPSProxy'), port('HTTPSPort')) : undefined;
  const socks = on('SOCKSEnable') ? proxyUrl('socks5', values.get('SOCKSProxy'), port('SOCKSPort')) : undefined;
  if (http) settings.http = http;
  if (https) settings.https = https;
  if (socks) settings.socks = socks;
  if (!http && !https && !socks) {
    settings.mode = 'none';
    if (on('ProxyAutoDiscoveryEnable')) settings.notes = ['macOS proxy settings: auto proxy discovery (WPAD) is not done'];
  }
  return settings;
}

/**
 * A macOS exception as a NO_PROXY entry: `*.local` and `.local` as suffixes, and the short
 * network form `169.254/16` (CFNetwork fills the missing octets with zeros) as a CIDR.
 */
export function macosException(entry: string): string {
  const e = entry.trim();
  const net = /^(\d{1,3}(?:\.\d{1,3}){0,3})\/(\d{1,2})$/.exec(e);
  if (net?.[1] && net[2]) {
    const octets = net[1].split('.');
    while (octets.length < 4) octets.push('0');
    return `${octets.join('.')}/${net[2]}`;
  }
  return e;
}

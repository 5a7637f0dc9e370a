import { parseSymbolPath, type SymbolPath } from '../../symbolpath/parse.js';
import { symbolPathFromEnv, symfixPath } from '../../symbolpath/defaults.js';
import { explainSymbolPath, formatExplanation } from '../../symbolpath/explain.js';
import { describeProxy, ProxySelector } from '../../transport/proxy/select.js';
import { fetchPac } from '../../transport/transport.js';
import { out, printJson } from '../output.js';
import { proxyOptions } from './fetch.js';

export interface PathOptions {
  json?: boolean;
  proxy?: string | false;
  pac?: string;
}

/** `symsrv path [SYMPATH] [--json]`: the symbol path element by element, and the proxy each server goes through. */
export async function run(sympath: string | undefined, opts: PathOptions): Promise<void> {
  const fromEnv = symbolPathFromEnv();
  const source = sympath !== undefined ? 'argument' : fromEnv !== undefined ? 'environment' : 'default (.symfix)';
  const text = sympath ?? fromEnv ?? symfixPath();
  const parsed = parseSymbolPath(text);
  const explained = explainSymbolPath(parsed);
  const proxies = await proxiesOf(parsed, opts);
  if (opts.json) {
    printJson({ symbolPath: text, source, elements: explained, proxies });
    return;
  }
  out(`symbol path (${source}): ${text}`);
  out(formatExplanation(explained));
  for (const p of proxies) out(`proxy for ${p.url}: ${p.proxy ?? 'direct'} (${p.source}: ${p.detail})`);
}

/** The proxy choice for every HTTP store on the path (the first candidate; a PAC file may give more). */
async function proxiesOf(p: SymbolPath, opts: PathOptions): Promise<{ url: string; proxy: string | null; source: string; detail: string }[]> {
  const urls = new Set<string>();
  for (const el of p.elements) {
    if (el.type !== 'srv') continue;
    for (const s of [...el.caches, ...el.stores]) if (s.kind === 'http') urls.add(s.url);
  }
  if (urls.size === 0) return [];
  const p2 = proxyOptions(opts);
  const selector = new ProxySelector({
    ...(p2.proxy !== undefined ? { proxy: p2.proxy } : {}),
    ...(p2.pac ? { pac: p2.pac } : {}),
    fetchText: (url: string) => fetchPac(url),
  });
  try {
    const rows = [];
    for (const url of urls) {
      const [first] = await selector.choose(new URL(url));
      rows.push({ url, proxy: first?.url ? describeProxy(first.url) : null, source: first?.source ?? 'direct', detail: first?.detail ?? '' });
    }
    return rows;
  } finally {
    await (selector as { close?: () => Promise<void> | void }).close?.();
  }
}

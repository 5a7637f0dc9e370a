import { parseSymbolPath, type SymbolPath } from '../../symbolpath/parse.js';
import { maskUserinfo } from '../../redact.js';
import { resolveSymbolPath } from '../../symbolpath/defaults.js';
import { explainSymbolPath, formatExplanation } from '../../symbolpath/explain.js';
import { describeProxy } from '../../transport/select/select.js';
import { Transport } from '../../transport/transport.js';
import { out, printJson } from '../output.js';
import { proxyOptions } from './fetch.js';

export interface PathOptions {
  json?: boolean;
  proxy?: string | false;
  pac?: string;
}

/** `symsrv path [SYMPATH] [--json]`: the symbol path element by element, and the proxy each server goes through. */
export async function run(sympath: string | undefined, opts: PathOptions): Promise<void> {
  const { text, source } = resolveSymbolPath(sympath);
  const parsed = parseSymbolPath(text);
  const explained = explainSymbolPath(parsed);
  const proxies = await proxiesOf(parsed, opts);
  // URL userinfo is masked in everything shown (explainSymbolPath masks the elements).
  const shown = maskUserinfo(text);
  if (opts.json) {
    printJson({ symbolPath: shown, source, elements: explained, proxies });
    return;
  }
  out(`symbol path (${source}): ${shown}`);
  out(formatExplanation(explained));
  for (const p of proxies) out(`proxy for ${p.url}: ${p.proxy ?? 'direct'} (${p.source}: ${p.detail})`);
}

/** The proxy choice for every HTTP store on the path (the first candidate; a PAC file may give more). */
async function proxiesOf(p: SymbolPath, opts: PathOptions): Promise<{ url: string; proxy: string | null; source: string; detail: string }[]> {
  const urls = new Set<string>();
  for (const el of p.elements) {
    if (el.type !== 'srv') continue;
    for (const s of [...el.caches, ...el.stores]) if (s.kind !== 'local') urls.add(s.url);
  }
  if (urls.size === 0) return [];
  // The transport's own choice, as fetch would make it (options, PAC, environment).
  const transport = new Transport({ proxies: proxyOptions(opts) });
  try {
    const rows = [];
    for (const url of urls) {
      const [first] = await transport.chooseProxy(url);
      rows.push({ url: maskUserinfo(url), proxy: first?.url ? describeProxy(first.url) : null, source: first?.source ?? 'direct', detail: first?.detail ?? '' });
    }
    return rows;
  } finally {
    await transport.close();
  }
}

import { isSymsrvError, SymsrvError } from '../../errors.js';
import { pacRequestUrl } from './pac.js';
import { parsePacResult } from './pac-file.js';
import { describeProxy, isSocksProxy, parseProxy } from './parse-proxy.js';
import type { ProxyChoice } from './select.js';

/** A PAC answer as proxy choices, with a detail each. */

/**
 * Candidates kept from one PAC answer. Each one tried costs a connection attempt (and a route, see
 * transport.ts); browsers try a handful. Chromium has no limit, but 40 000 candidates once cost 35 s
 * and 1.4 GB for a single key.
 */
export const MAX_PAC_CANDIDATES = 16;

/**
 * The answer as shown in a detail: the userinfo of any entry masked, then cut. Token by token, in
 * one pass: a regex like /\S+@/g is quadratic on a long run without `@`, and a PAC answer is
 * outside input (100 k characters once cost 5 s). Masking comes before cutting, so that a cut
 * cannot leave the start of a password unmasked.
 */
function showAnswer(answer: string): string {
  const head = answer.length > 4 * 200 ? answer.slice(0, 4 * 200) : answer;
  const masked = head
    .trim()
    .split(/(\s+)/)
    .map((token) => {
      const at = token.lastIndexOf('@');
      return at < 0 ? token : `***${token.slice(at)}`;
    })
    .join('');
  return truncate(masked, 200);
}

export function pacChoices(answer: string, target: URL, where: string): ProxyChoice[] {
  const shownAnswer = showAnswer(answer);
  const head = `${where} answered "${shownAnswer}" for ${pacRequestUrl(target)}`;
  const skipped: string[] = [];
  const candidates: { url: URL | null; label: string }[] = [];
  const seen = new Set<string>();
  for (const entry of parsePacResult(answer)) {
    let url: URL | null;
    if (entry.kind === 'skipped') {
      skipped.push(`skipped '${showAnswer(entry.text)}': ${entry.reason}`);
      continue;
    } else if (entry.kind === 'direct') {
      url = null;
    } else {
      try {
        url = parseProxy(`${entry.scheme}://${entry.server}`, 'PAC entry');
      } catch (err) {
        if (!isSymsrvError(err)) throw err;
        skipped.push(`skipped '${showAnswer(entry.text)}': not a host:port`);
        continue;
      }
    }
    const label = url === null ? 'DIRECT' : `${isSocksProxy(url) ? 'SOCKS5' : 'PROXY'} ${describeProxy(url)}`;
    if (seen.has(label)) continue;
    seen.add(label);
    if (candidates.length === MAX_PAC_CANDIDATES) {
      skipped.push(`only the first ${MAX_PAC_CANDIDATES} candidates are kept`);
      break;
    }
    candidates.push({ url, label });
  }
  if (skipped.length > 8) skipped.splice(8, skipped.length - 8, `${skipped.length - 8} more skipped`);
  const notes = skipped.length ? ` (${skipped.join('; ')})` : '';
  if (candidates.length === 0) {
    // Never DIRECT in place of a proxy we cannot use (Chromium falls back to DIRECT here): where
    // direct connections are blocked it fails anyway, and where they are not it bypasses the
    // network's policy. An empty answer is DIRECT (parsePacResult), so this is always a refusal.
    throw new SymsrvError('E_PROXY', `${head}: no proxy in it that symsrv can use${notes}; not connecting directly instead`, { subject: where });
  }
  return candidates.map((c, i) => ({
    url: c.url,
    source: 'pac' as const,
    detail: `${head}: candidate ${i + 1} of ${candidates.length}, ${c.label}${notes}`,
  }));
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

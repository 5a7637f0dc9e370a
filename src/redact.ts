/**
 * Credentials out of text that people see: URL userinfo (`https://user:pw@host`, a proxy
 * `user:pw@host:port`) never reaches a message, a log line, `--json` output, the screen or the
 * shell's history file. One place for it, so no caller picks a weaker variant.
 *
 * The userinfo is found by the URL grammar, not by a character class: after `scheme://` the
 * authority runs to the first `/`, `?`, `#` or `\` (WHATWG URL, RFC 3986 §3.2), and its userinfo
 * ends at the authority's LAST `@` (as WHATWG parses `user:p@ss@host`). So a password holding `;`,
 * `*` or a space (which a symbol path splits at, or a URL parser would percent-encode) is still
 * covered whole, also in text no URL parser accepts (`https://u:pw@[host`, a port of 99999).
 */

/** `scheme://` where a scheme may start (RFC 3986 §3.1), anywhere in a text. */
const SCHEME = /\b[a-z][a-z0-9+.-]*:\/\//gi;

/** A whole text of the form `user:pw@host[:port]` (a proxy given without a scheme); not a path. */
const SCHEMELESS_PROXY = /^[^/?#\s\\]*@[A-Za-z0-9.\-[\]:]+$/;

/** The [start, end) ranges of the userinfo of every `scheme://user:pw@` in `text` (without the `@`). */
export function userinfoRanges(text: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const m of text.matchAll(SCHEME)) {
    const start = m.index + m[0].length;
    let end = start;
    while (end < text.length && !'/?#\\'.includes(text[end]!)) end++;
    const at = text.lastIndexOf('@', end - 1);
    if (at >= start) ranges.push([start, at]);
  }
  return ranges;
}

/** `text` with each range replaced by `with` (ranges from userinfoRanges: sorted, may nest). */
function replaceRanges(text: string, ranges: Array<[number, number]>, by: string, dropAt: boolean): string {
  let out = '';
  let pos = 0;
  for (const [start, end] of ranges) {
    if (end < pos) continue; // inside a range already replaced
    out += text.slice(pos, Math.max(pos, start)) + by;
    pos = dropAt ? end + 1 : end;
  }
  return out + text.slice(pos);
}

/**
 * A text as shown: `http://user:pw@host:1/x` → `http://***@host:1/x` wherever it occurs, and a
 * text that is a scheme-less proxy spec, `user:pw@host:1`, → `***@host:1`.
 */
export function maskUserinfo(text: string): string {
  const ranges = userinfoRanges(text);
  if (ranges.length > 0) return replaceRanges(text, ranges, '***', false);
  return SCHEMELESS_PROXY.test(text) ? `***${text.slice(text.lastIndexOf('@'))}` : text;
}

/** Whether a text holds URL userinfo (a possible password). */
export function hasUserinfo(text: string): boolean {
  return maskUserinfo(text) !== text;
}

/**
 * A URL as it may appear in a message: userinfo removed (`https://user:pw@host/` →
 * `https://host/`); a scheme-less `user:pw@host:1` → `host:1`.
 */
export function redactUrl(url: string): string {
  if (!url.includes('://')) return SCHEMELESS_PROXY.test(url) ? url.slice(url.lastIndexOf('@') + 1) : url;
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return replaceRanges(url, userinfoRanges(url), '', true);
  }
}

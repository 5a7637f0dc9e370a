/**
 * Credentials out of text that people see: URL userinfo (`https://user:pw@host`, a proxy
 * `user:pw@host:port`) never reaches a message, a log line, `--json` output, the screen or the
 * shell's history file. One place for it, so no caller picks a weaker variant.
 */

/** userinfo of every `scheme://user:pw@` in `text` (up to the last `@` before the path). */
const SCHEME_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/?#\s;*]*@/gi;

/** A whole text of the form `user:pw@host[:port]` (a proxy given without a scheme); not a path. */
const SCHEMELESS_PROXY = /^[^/?#\s\\]*@[A-Za-z0-9.\-[\]:]+$/;

/**
 * A text as shown: `http://user:pw@host:1/x` → `http://***@host:1/x` wherever it occurs, and a
 * text that is a scheme-less proxy spec, `user:pw@host:1`, → `***@host:1`.
 */
export function maskUserinfo(text: string): string {
  const masked = text.replace(SCHEME_USERINFO, '$1***@');
  if (masked !== text) return masked;
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
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

import { SymsrvError } from '../errors.js';
import { redactUrl } from '../redact.js';

/**
 * A store URL's userinfo (`https://user:pw@host/symbols`), taken out of the URL before anything
 * is sent. RFC 9110 §4.2.4: userinfo is never sent in a request target; through a proxy the
 * absolute-URI request line (`GET http://host/...`) is what proxies log, so it must not hold it.
 * The credentials travel only as `Authorization: Basic` (RFC 7617) to the URL's own origin,
 * never after a redirect to another origin (undici's redirect handler strips Authorization on
 * a cross-origin hop for the same reason, CVE-2023-45143 and its kin).
 */
export interface OriginCredentials {
  /** The URL without its userinfo: the only form that goes into a request or a message. */
  readonly url: URL;
  /** `Basic ...` for `origin`, when the URL had userinfo. */
  readonly authorization: string | undefined;
  readonly origin: string;
}

export function takeUserinfo(u: URL): OriginCredentials {
  const url = new URL(u.href);
  if (!url.username && !url.password) return { url, authorization: undefined, origin: url.origin };
  const user = decode(url.username, u);
  const password = decode(url.password, u);
  url.username = '';
  url.password = '';
  return { url, authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`, origin: url.origin };
}

/** The headers for one hop: Authorization only while the hop stays on the credentials' origin. */
export function headersForHop(target: URL, creds: OriginCredentials, headers: Record<string, string>): Record<string, string> {
  return creds.authorization && target.origin === creds.origin ? { ...headers, authorization: creds.authorization } : headers;
}

function decode(text: string, u: URL): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A URIError (`%zz`) is bad input, not a crash: say which URL, never what was in it.
    throw new SymsrvError('E_USAGE', `bad URL ${redactUrl(u.href)}: its user name or password has a bad %-escape`, { subject: redactUrl(u.href) });
  }
}

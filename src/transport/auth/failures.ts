/**
 * The errors of proxy authentication, as a person reads them: what failed, at which proxy, and
 * what to do. Never a credential: the user name as typed, never the password or a header value.
 */

import { SymsrvError } from '../../errors.js';
import { redactUrl } from '../../redact.js';
import { KERBEROS_MISSING_HELP } from './negotiate.js';
import { TITLE, type AcceptedScheme, type Challenge } from './types.js';
import type { ResolvedCredentials } from './credentials.js';
import { describeProxy } from '../select/select.js';

/** Why Kerberos and NTLM inside Negotiate could not be used (ProxyAuth.reasons). */
export interface Reasons {
  kerberos: string | undefined;
  kerberosMissing: boolean;
  ntlmInside: string | undefined;
}

const HOW_TO_GIVE = 'Give credentials with the proxyUser option with the password in SYMSRV_PROXY_PASSWORD (or proxyCredentials), or set SYMSRV_PROXY_USER and SYMSRV_PROXY_PASSWORD';

/** The proxy refused what we sent (`scheme`), or nothing we had could be sent. */
export function refusedError(proxy: URL, creds: ResolvedCredentials | undefined, scheme: AcceptedScheme | undefined, reasons: Reasons): SymsrvError {
  const where = describeProxy(proxy);
  const title = scheme ? TITLE[scheme] : 'no usable scheme';
  if (scheme === 'negotiate' || !creds) {
    const why = [reasons.kerberos, reasons.ntlmInside].filter((r) => r !== undefined);
    const help = scheme === 'negotiate' && reasons.kerberosMissing ? `. ${KERBEROS_MISSING_HELP}` : '';
    return new SymsrvError('E_PROXY_AUTH', `proxy authentication failed at ${where} (${title}${why.length > 0 ? `: ${why.join('; ')}` : ''})${help}`, { subject: where });
  }
  return new SymsrvError('E_PROXY_AUTH', `proxy authentication failed for ${creds.typed} at ${where} (${title})`, { subject: where });
}

/** The proxy offers only schemes we may not or cannot use. */
export function unusableError(proxy: URL, challenges: Challenge[], allowed: readonly (keyof typeof TITLE)[]): SymsrvError {
  const where = describeProxy(proxy);
  const names = challenges.map((c) => c.scheme).join(', ') || 'none';
  return new SymsrvError('E_PROXY_AUTH', `the proxy ${where} demands authentication with a scheme symsrv cannot use here (offered: ${names}; allowed: ${allowed.map((s) => TITLE[s]).join(', ')})`, {
    subject: where,
    final: true,
  });
}

/** The proxy wants credentials we do not have: say how to give them (or, for Negotiate, what is missing). */
export function requiredError(proxy: URL, challenges: Challenge[], reasons: Reasons): SymsrvError {
  const where = describeProxy(proxy);
  const raw = [...new Set(challenges.map((c) => c.scheme))];
  const offers = raw.map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join(', ');
  // Why Kerberos failed matters only when the proxy asked for it.
  const negotiate = raw.includes('negotiate');
  if (negotiate && reasons.kerberosMissing) {
    // A password helps a Negotiate-only proxy only if its Negotiate also takes NTLM.
    const meanwhile =
      raw.length === 1
        ? `Meanwhile, if the proxy's Negotiate also takes NTLM (Windows proxies and squid's negotiate_wrapper do), a Windows account works without Kerberos: ${HOW_TO_GIVE} (USER as DOMAIN\\user)`
        : `Meanwhile the proxy's other schemes take a user name and password: ${HOW_TO_GIVE}`;
    return new SymsrvError('E_PROXY_AUTH_REQUIRED', `the proxy ${where} requires authentication (it offers ${offers}). Kerberos could not be used: ${reasons.kerberos}. ${KERBEROS_MISSING_HELP}. ${meanwhile}`, {
      subject: where,
    });
  }
  const kerberos = negotiate && reasons.kerberos ? ` Kerberos could not be used: ${reasons.kerberos}.` : '';
  return new SymsrvError('E_PROXY_AUTH_REQUIRED', `the proxy ${where} requires authentication (it offers ${offers}).${kerberos} ${HOW_TO_GIVE}`, { subject: where });
}

/**
 * A 401 to a plain-HTTP request that carried Proxy-Authorization, from a proxy that has not yet
 * accepted these credentials: the origin may have refused the request, or the proxy the proxy
 * credentials (tinyproxy answers a Proxy-Authorization it refuses with 401, not 407). Both are
 * named: which it was cannot be told from the answer.
 */
export function ambiguous401(proxy: URL, creds: ResolvedCredentials | undefined, url: string): SymsrvError {
  const where = describeProxy(proxy);
  const target = redactUrl(url);
  const who = creds ? ` of ${creds.typed}` : '';
  return new SymsrvError(
    'E_HTTP_STATUS',
    `Request failed with 401: GET ${target}: either the origin server refused the request, or the proxy ${where} refused the proxy credentials${who}: proxy authentication failed there (some proxies, tinyproxy among them, answer refused proxy credentials with 401 instead of 407)`,
    { subject: target, status: 401, retryable: false },
  );
}

/** A 401 to a CONNECT: only the proxy can have sent it. */
export function connect401(proxy: URL, target: string): SymsrvError {
  const where = describeProxy(proxy);
  return new SymsrvError('E_PROXY_AUTH', `proxy authentication failed at ${where}: it answered CONNECT ${target} with 401. ${HOW_TO_GIVE}`, { subject: where });
}

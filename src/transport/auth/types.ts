/**
 * Proxy authentication: the shapes every scheme module shares.
 *
 * A scheme module answers challenges for one proxy. Basic and Digest state lives per proxy (a
 * Digest nonce is reused with an increasing nonce count, so later requests are signed
 * pre-emptively); NTLM and Negotiate state lives per connection (their messages must travel on
 * one kept-alive socket, and squid then treats the socket as authenticated), so the connection
 * layer creates one AuthSession per socket for those.
 */

export type SchemeName = 'negotiate' | 'ntlm' | 'digest' | 'basic';

/** Strongest first: the order used when a proxy offers several (overridable with --proxy-auth). */
export const SCHEME_STRENGTH: readonly SchemeName[] = ['negotiate', 'ntlm', 'digest', 'basic'];

/** One challenge of a `Proxy-Authenticate` header (a header may carry several). */
export interface Challenge {
  /** Lower-case scheme name as sent (`basic`, `digest`, `ntlm`, `negotiate`, or another). */
  scheme: string;
  /** auth-params (`realm`, `nonce`, `qop`, ...), names lower-cased, values unquoted. */
  params: Record<string, string>;
  /** token68 form (NTLM and Negotiate carry a base64 token), when present. */
  token?: string;
}

/** A user as typed: `DOMAIN\user`, `user@REALM` or `user`. The password never leaves this object except to a scheme. */
export interface Credentials {
  user: string;
  password: string;
  /** From `DOMAIN\user`; undefined when none was given. */
  domain?: string;
}

/** The user as typed: `DOMAIN\user` whole again (Basic and Digest send it so, as Windows proxies and curl expect; messages name it so). */
export function typedUser(creds: Credentials): string {
  return creds.domain === undefined || creds.domain === '' ? creds.user : `${creds.domain}\\${creds.user}`;
}

/** What a scheme needs to know about the request it signs. */
export interface AuthRequest {
  /** `GET`, or `CONNECT` for a tunnel. */
  method: string;
  /** The request-target as sent to the proxy: an absolute URI for HTTP, `host:port` for CONNECT. */
  uri: string;
}

/**
 * One scheme's state machine. `respond` is called with the challenge of a 407 (or undefined to
 * ask for a pre-emptive header) and returns the `Proxy-Authorization` value to send next, or
 * undefined when it has nothing (it cannot authenticate: no ticket, no credentials, or the proxy
 * refused what it had — then the caller tries the next scheme or fails).
 */
export interface AuthSession {
  readonly scheme: SchemeName;
  respond(request: AuthRequest, challenge: Challenge | undefined): Promise<string | undefined>;
}

/** A scheme as accepted: `negotiate-ntlm` is NTLM inside Negotiate (no Kerberos ticket). */
export type AcceptedScheme = SchemeName | 'negotiate-ntlm';

export const TITLE: Record<AcceptedScheme, string> = {
  negotiate: 'Negotiate',
  'negotiate-ntlm': 'Negotiate (NTLM)',
  ntlm: 'NTLM',
  digest: 'Digest',
  basic: 'Basic',
};

/**
 * Basic proxy authentication (RFC 7617): `Proxy-Authorization: Basic base64(user ":" password)`.
 *
 * One session per proxy. The first Basic challenge is answered, and from then on every request is
 * sent with the header up front (RFC 7617 §2.2 lets a client reuse credentials within the
 * protection space), so a download of twenty files costs one 407, not twenty. A Basic challenge
 * to a request that already carried the header means the proxy refused the credentials: the
 * session answers nothing more (no loop, and no string of failed logins that could lock a
 * directory account); the caller asks for new credentials and makes a new session.
 */

import { SymsrvError } from '../../errors.js';
import { typedUser, type AuthRequest, type AuthSession, type Challenge, type Credentials } from './types.js';

/**
 * `Basic <base64>` for the credentials. The octets are always UTF-8:
 * - with `charset="UTF-8"` (RFC 7617 §2.1) the proxy asks for UTF-8, and user and password are
 *   also normalized to NFC as that section requires;
 * - without it RFC 7617 leaves the encoding to the two sides. UTF-8 is still the choice: for ASCII
 *   it gives the same octets as any other choice, Latin-1 cannot encode most characters at all, a
 *   JavaScript string has no local code page to fall back to, and what proxies check Basic
 *   credentials against (LDAP, Active Directory, htpasswd files written on a UTF-8 system) holds
 *   UTF-8; curl too sends the bytes it was given, UTF-8 on today's systems.
 *   No normalization then: the proxy did not say what it stores, so the password goes as typed.
 */
export function basicCredentials(creds: Credentials, challenge?: Challenge): string {
  const user = typedUser(creds);
  // RFC 7617 §2: the user-id cannot contain a colon (the proxy splits at the first one).
  // The message names the rule, never the user name.
  if (user.includes(':')) {
    throw new SymsrvError('E_USAGE', 'a proxy user name for Basic authentication cannot contain ":" (RFC 7617 §2)');
  }
  const utf8 = challenge?.params['charset']?.toLowerCase() === 'utf-8';
  const pass = `${user}:${creds.password}`;
  // This value goes to the proxy only: the connection layer sends Proxy-Authorization to the
  // proxy it came from (on the CONNECT request for a tunnel, never inside it).
  return `Basic ${Buffer.from(utf8 ? pass.normalize('NFC') : pass, 'utf8').toString('base64')}`;
}

export function createBasicSession(creds: Credentials): AuthSession {
  /** The header once a challenge was answered; undefined before that and after a refusal. */
  let header: string | undefined;
  let refused = false;
  /** The requests that carried our header: a Basic challenge to one of them is a refusal. */
  const signed = new WeakSet<AuthRequest>();

  return {
    scheme: 'basic',
    async respond(request: AuthRequest, challenge: Challenge | undefined): Promise<string | undefined> {
      if (refused) return undefined;
      if (challenge === undefined) {
        // Pre-emptive: only once the proxy asked for Basic (we never volunteer a password to a
        // proxy that may not want one, or may be happy with a stronger scheme).
        if (header === undefined) return undefined;
        signed.add(request);
        return header;
      }
      if (challenge.scheme !== 'basic') return undefined;
      if (signed.has(request)) {
        // The proxy saw our credentials on this very request and asked again: refused.
        refused = true;
        header = undefined;
        return undefined;
      }
      header = basicCredentials(creds, challenge);
      signed.add(request);
      return header;
    },
  };
}

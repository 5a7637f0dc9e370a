/**
 * `Proxy-Authenticate` parsing (RFC 9110 §11.6.1, grammar of §11.3), the user spec as typed, and
 * the choice among the schemes a proxy offers.
 *
 * A 407 may carry several `Proxy-Authenticate` fields, and one field several challenges:
 *
 *     Proxy-Authenticate: Negotiate, NTLM, Digest realm="a, b", nonce="x", qop="auth,auth-int", Basic realm="r"
 *
 * A comma therefore separates both challenges and the auth-params of one challenge; an item that is
 * `token = value` is a parameter of the challenge before it, any other token starts a new challenge.
 * The parser never throws: a proxy's junk is skipped up to the next comma, and what remains is used.
 */

import { pickDigestChallenge } from './digest.js';
import { SCHEME_STRENGTH, type Challenge, type SchemeName } from './types.js';

/** tchar of RFC 9110 §5.6.2. */
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
/** token68 of RFC 9110 §11.2, before its trailing `=` padding. */
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.pos >= this.s.length;
  }

  get char(): string | undefined {
    return this.s[this.pos];
  }

  skipWs(): void {
    while (isWs(this.char)) this.pos++;
  }

  /** Reads a token; '' when none starts here. */
  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR.test(this.char!)) this.pos++;
    return this.s.slice(start, this.pos);
  }

  /**
   * Reads a quoted-string starting at `"`, removing the quotes and the backslash of each
   * quoted-pair; undefined when it never ends (then the scanner is at the end).
   */
  quoted(): string | undefined {
    let out = '';
    this.pos++; // the opening quote
    while (!this.done) {
      const c = this.char!;
      this.pos++;
      if (c === '"') return out;
      if (c === '\\') {
        if (this.done) break;
        out += this.char!;
        this.pos++;
      } else {
        out += c;
      }
    }
    return undefined;
  }

  /** Skips to the next comma outside a quoted-string (junk recovery). */
  skipItem(): void {
    while (!this.done && this.char !== ',') {
      if (this.char === '"') this.quoted();
      else this.pos++;
    }
  }

  /** After an item: true when only whitespace lies before the next comma or the end. */
  atItemEnd(): boolean {
    this.skipWs();
    return this.done || this.char === ',';
  }
}

/**
 * After `scheme 1*SP`: reads a token68 if that is what follows (a run of token68 characters, `=`
 * padding, then a comma or the end). Otherwise leaves the scanner where it was: auth-params follow.
 */
function readToken68(sc: Scanner): string | undefined {
  const start = sc.pos;
  while (!sc.done && TOKEN68_CHAR.test(sc.char!)) sc.pos++;
  if (sc.pos === start) return undefined;
  while (sc.char === '=') sc.pos++;
  const value = sc.s.slice(start, sc.pos);
  if (sc.atItemEnd()) return value;
  sc.pos = start;
  return undefined;
}

/**
 * An auth-param value after `=`: a quoted-string, or (leniently) an unquoted run up to a comma or
 * whitespace. RFC 9110 allows only a token there, but proxies send `nonce=abc/def+==` unquoted.
 */
function readValue(sc: Scanner): string | undefined {
  sc.skipWs();
  if (sc.char === '"') return sc.quoted();
  const start = sc.pos;
  while (!sc.done && sc.char !== ',' && sc.char !== '"' && !isWs(sc.char)) sc.pos++;
  return sc.pos > start ? sc.s.slice(start, sc.pos) : undefined;
}

function parseField(field: string, out: Challenge[]): void {
  const sc = new Scanner(field);
  let current: Challenge | undefined;
  while (true) {
    while (isWs(sc.char) || sc.char === ',') sc.pos++;
    if (sc.done) return;

    const start = sc.pos;
    const name = sc.token();
    if (name === '') {
      sc.skipItem();
      continue;
    }
    sc.skipWs();
    if (sc.char === '=') {
      // `name = value`: a parameter of the challenge before it (none before it: junk).
      sc.pos++;
      const value = readValue(sc);
      const key = name.toLowerCase();
      // A name must not repeat within a challenge (RFC 9110 §11.2): the first one counts.
      // `__proto__` is never a real parameter and must not touch the object's prototype.
      if (value !== undefined && current !== undefined && key !== '__proto__' && !Object.hasOwn(current.params, key)) {
        current.params[key] = value;
      }
      if (!sc.atItemEnd()) sc.skipItem(); // junk after the value (or no value): up to the next comma
      continue;
    }

    // A new challenge: `scheme`, then a comma, the end, or whitespace and a token68 or params.
    const wsAfter = sc.pos > start + name.length;
    if (!sc.done && sc.char !== ',' && !wsAfter) {
      current = undefined; // `Basic"x"`: no challenge, and its params belong to none
      sc.skipItem();
      continue;
    }
    current = { scheme: name.toLowerCase(), params: {} };
    out.push(current);
    if (sc.done || sc.char === ',') continue;
    const token = readToken68(sc);
    if (token !== undefined) current.token = token;
    // Otherwise the next loop turn reads the first auth-param (no comma before it).
  }
}

/**
 * The challenges of a 407's `Proxy-Authenticate` field(s), in the order sent. Scheme and parameter
 * names are lower-cased, values unquoted. Accepts the string Node gives for a repeated field
 * (the values joined with `, `) as well as an array of raw values. Never throws.
 */
export function parseChallenges(headers: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (headers === undefined) return out;
  for (const field of Array.isArray(headers) ? headers : [headers]) {
    if (typeof field === 'string') parseField(field, out);
  }
  return out;
}

/**
 * A user as typed: `DOMAIN\user` gives a domain and a user; `user@REALM` stays whole (Kerberos
 * and NTLM both take the UPN form as the user name); anything else is the user. A backslash at
 * either end is not a domain separator.
 */
export function parseUserSpec(user: string): { user: string; domain?: string } {
  const i = user.indexOf('\\');
  if (i > 0 && i < user.length - 1) return { user: user.slice(i + 1), domain: user.slice(0, i) };
  return { user };
}

/**
 * The offered schemes we can answer, in the order of `allowed`: strongest first by default, or
 * the order a `--proxy-auth LIST` gave. Digest counts only when one of its challenges is usable
 * (an algorithm Node's crypto has, `qop=auth` or no qop).
 */
export function chooseScheme(offered: Challenge[], allowed: readonly SchemeName[] = SCHEME_STRENGTH): SchemeName[] {
  const out: SchemeName[] = [];
  for (const scheme of allowed) {
    if (out.includes(scheme) || challengeFor(offered, scheme) === undefined) continue;
    out.push(scheme);
  }
  return out;
}

/**
 * The challenge to hand to `AuthSession.respond` for a scheme: for Digest, the strongest usable
 * one when the proxy sent several; for the others, the first of that scheme.
 */
export function challengeFor(offered: Challenge[], scheme: SchemeName): Challenge | undefined {
  if (scheme === 'digest') return pickDigestChallenge(offered);
  return offered.find((c) => c.scheme === scheme);
}

/**
 * What a Negotiate session may send to this proxy:
 * - `kerberos`: a Kerberos token, and nothing when Kerberos cannot be used;
 * - `kerberos-then-ntlm`: Kerberos, and NTLM inside Negotiate when Kerberos cannot be used;
 * - `ntlm`: NTLM inside Negotiate right away (Kerberos is known not to work here);
 * - undefined: nothing (Kerberos does not work and NTLM inside Negotiate cannot or should not).
 *
 * NTLM inside Negotiate needs credentials, and is used only when the proxy is known NOT to offer
 * the plain `NTLM` scheme among those allowed (`ntlmOffered === false`): where both are offered,
 * plain NTLM stays the fallback, as before (squid with negotiate_kerberos_auth beside ntlm_auth
 * refuses NTLM tokens under Negotiate). Before the proxy has said what it offers (`undefined`, a
 * pre-emptive first message) it is not guessed: a plain-NTLM proxy would answer it with a 407.
 * `ntlmInsideFailed`: the proxy already showed that its Negotiate takes no NTLM.
 */
export function negotiateMechanism(state: {
  kerberosUnavailable: boolean;
  credentials: boolean;
  ntlmOffered: boolean | undefined;
  ntlmInsideFailed?: boolean;
}): 'kerberos' | 'kerberos-then-ntlm' | 'ntlm' | undefined {
  const ntlmInside = state.credentials && state.ntlmOffered === false && !state.ntlmInsideFailed;
  if (!state.kerberosUnavailable) return ntlmInside ? 'kerberos-then-ntlm' : 'kerberos';
  return ntlmInside ? 'ntlm' : undefined;
}

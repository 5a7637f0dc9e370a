/**
 * The proxy-authentication decision, as a pure function: from what the proxy offers (its 407's
 * challenges, or none before any 407 on a request) and what is known of it and of this
 * connection, the one thing to do next. No socket, no session, no clock: ConnectionAuth carries
 * the action out, tells ProxyAuth what it learnt (its verbs), and asks again when the action gave
 * nothing (a Negotiate session without a Kerberos ticket), so every branch is a table test
 * (decide.test.ts).
 *
 * The rules (docs/proxy-auth.md, "Which scheme, and when"):
 * - Nothing scheme-specific goes to a proxy before it has named its schemes (its first 407):
 *   tinyproxy takes any Proxy-Authorization it cannot check for wrong credentials and answers
 *   401, and a Kerberos token or an NTLM Type 1 is no use to a Basic or Digest proxy anyway. Until
 *   then one request goes out bare to learn them, and the others wait for its 407 (`discover`),
 *   so that costs one 407 per proxy and run, not one per connection.
 * - Once they are known, each new connection opens with the first message of the scheme that
 *   will be chosen (an NTLM Type 1, a Kerberos token, a Basic or Digest answer to the proxy's
 *   known challenge): one 407 per connection for NTLM, none for the others.
 * - The user who named exactly one scheme (`--proxy-auth ntlm`, the API's `proxyAuth: ['ntlm']`)
 *   gets it up front from the start, as curl's --proxy-ntlm and --proxy-basic do; Digest needs
 *   the proxy's nonce first, so it is discovered as above.
 * - Strongest offered first (or the order of `allowed`); a refused password is never retried
 *   with a weaker scheme (each try is a failed logon toward the account's lockout).
 */

import { chooseScheme, negotiateMechanism } from './challenge.js';
import type { AcceptedScheme, Challenge, SchemeName } from './types.js';

/** What is known of the proxy (ProxyAuth's state, as a snapshot). */
export interface ProxyState {
  /** Schemes allowed, in the order to prefer them. */
  allowed: readonly SchemeName[];
  /** The one scheme the user named (`--proxy-auth X`), sent before the proxy asks; else undefined. */
  named: SchemeName | undefined;
  /** Whether there are credentials (for NTLM, Digest, Basic, and NTLM inside Negotiate). */
  credentials: boolean;
  /**
   * The schemes the proxy named that we may use (its last 407, in the order of `allowed`);
   * undefined before its first answer; empty when it answered without asking for any.
   */
  known: readonly SchemeName[] | undefined;
  /** The connection scheme the proxy accepted from us: new connections open with it. */
  worked: 'ntlm' | 'negotiate' | undefined;
  /** Kerberos cannot be used in this session (no ticket, no library, refused). */
  kerberosUnavailable: boolean;
  /** The proxy's Negotiate takes no NTLM (it ignored a Type 1 under Negotiate). */
  ntlmInsideFailed: boolean;
  /** The proxy refused the current credentials. */
  refused: boolean;
  /** A prompt may give other credentials. */
  canAsk: boolean;
}

/** What this connection did on this request (ConnectionAuth's state). */
export interface ConnectionState {
  /** The scheme of the header this connection sent last; undefined when none was sent. */
  scheme: SchemeName | undefined;
  /** Negotiate: what its tokens carried. */
  mechanism?: 'kerberos' | 'ntlm' | undefined;
  /** NTLM inside Negotiate: the proxy refused the credentials (a bare 407 after the Type 3). */
  credentialsRefused?: boolean;
  /** The next round travels on the connection that got the 407 (a handshake cannot move). */
  sameConnection: boolean;
  /** The proxy accepted a connection scheme's handshake on this connection: later requests on it need no header. */
  authenticated?: boolean;
  /** The session under way was handed this 407 and had nothing to answer. */
  stalled?: boolean;
  /** Schemes started anew in this round that had nothing to send (Negotiate without a ticket...). */
  failed?: readonly SchemeName[];
}

export type Action =
  /** Send nothing scheme-specific. */
  | { kind: 'none' }
  /** Nothing is known of the proxy: one request goes out bare to learn its schemes; others wait for it. */
  | { kind: 'discover' }
  /**
   * Send `scheme`'s next message: `continue` the session under way on this connection, or
   * `start` one (Basic and Digest: the proxy's shared session). `password`: it may carry
   * (a proof of) the password, so it waits for its turn to try unproven credentials.
   */
  | { kind: 'send'; scheme: SchemeName; how: 'continue' | 'start'; password: boolean; mechanism?: 'kerberos' | 'kerberos-then-ntlm' | 'ntlm' }
  /**
   * Stop: `refused` (the proxy refused the credentials; `scheme` says in which), `unusable`
   * (it offers nothing we may use), `required` (it wants credentials we do not have).
   */
  | { kind: 'fail'; reason: 'refused' | 'unusable' | 'required'; scheme?: AcceptedScheme };

/** What the 407 taught about this proxy, for ProxyAuth's verbs. */
export interface Learnt {
  /** The proxy refused our Kerberos token. */
  kerberosRefused?: boolean;
  /** The proxy's Negotiate ignored an NTLM Type 1. */
  ntlmInsideFailed?: boolean;
}

export interface Decision {
  action: Action;
  learnt: Learnt;
}

const isConnectionScheme = (s: SchemeName | undefined): s is 'ntlm' | 'negotiate' => s === 'ntlm' || s === 'negotiate';

/**
 * The next step for a request: `challenges` are those of the 407 it just got, or undefined before
 * any 407 on it (what to send up front on a connection).
 */
export function decide(challenges: Challenge[] | undefined, proxy: ProxyState, conn: ConnectionState): Decision {
  return challenges === undefined ? { action: opening(proxy, conn), learnt: {} } : answer(challenges, proxy, conn);
}

/**
 * Whether a message of `scheme` carries the password or a proof of it, or opens a handshake that
 * will (an NTLM Type 1 holds no credential, but its Type 3 does): such steps wait for their turn
 * to try unproven credentials (ProxyAuth.trial). Gating the Type 1 too costs no 407 (each
 * connection needs its own Type 2 either way) and spares the proxy a Type 2 per waiting
 * connection when the password turns out wrong. Kerberos never carries the password.
 */
function password(scheme: SchemeName, p: ProxyState, mechanism?: string): boolean {
  if (!p.credentials) return false;
  switch (scheme) {
    case 'basic':
    case 'digest':
    case 'ntlm':
      return true;
    case 'negotiate':
      return mechanism === 'ntlm'; // NTLM inside Negotiate (`how` does not matter: as for NTLM)
  }
}

function ntlmOffered(p: ProxyState, offered: readonly SchemeName[] | undefined): boolean | undefined {
  // Only plain NTLM among the allowed schemes counts: with NTLM not allowed, NTLM inside Negotiate is the only way.
  if (!p.allowed.includes('ntlm')) return false;
  return offered ? offered.includes('ntlm') : undefined;
}

function mechanismFor(p: ProxyState, offered: readonly SchemeName[] | undefined) {
  return negotiateMechanism({
    kerberosUnavailable: p.kerberosUnavailable,
    credentials: p.credentials,
    ntlmOffered: ntlmOffered(p, offered),
    ntlmInsideFailed: p.ntlmInsideFailed,
  });
}

/** The first step of `scheme` if it can be taken; undefined when it has nothing to send. */
function start(scheme: SchemeName, p: ProxyState, offered: readonly SchemeName[] | undefined, failed: readonly SchemeName[]): Action | undefined {
  if (failed.includes(scheme)) return undefined;
  if (scheme === 'negotiate') {
    const mechanism = mechanismFor(p, offered);
    return mechanism ? { kind: 'send', scheme, how: 'start', password: password(scheme, p, mechanism), mechanism } : undefined;
  }
  if (!p.credentials) return undefined;
  return { kind: 'send', scheme, how: 'start', password: password(scheme, p) };
}

function opening(p: ProxyState, c: ConnectionState): Action {
  // Credentials already refused: with nobody to ask for others, fail before sending anything;
  // with a prompt, send nothing up front and let the 407 lead to the question.
  if (p.refused) return p.canAsk ? { kind: 'none' } : { kind: 'fail', reason: 'refused' };
  if (c.authenticated) return { kind: 'none' };
  const failed = c.failed ?? [];
  // Named by the user: up front from the start (Digest cannot be: it needs the proxy's nonce).
  if (p.named && p.named !== 'digest') {
    const a = start(p.named, p, p.known, failed);
    if (a) return a;
  }
  if (p.worked && (p.known === undefined || p.known.includes(p.worked))) {
    const a = start(p.worked, p, p.known, failed);
    if (a) return a;
  }
  if (p.known === undefined) return { kind: 'discover' };
  for (const scheme of p.known) {
    const a = start(scheme, p, p.known, failed);
    if (a) return a;
  }
  return { kind: 'none' };
}

function answer(challenges: Challenge[], p: ProxyState, c: ConnectionState): Decision {
  const learnt: Learnt = {};
  if (p.refused) return { action: { kind: 'fail', reason: 'refused' }, learnt };
  const offered = chooseScheme(challenges, p.allowed);
  if (offered.length === 0) return { action: { kind: 'fail', reason: 'unusable' }, learnt };
  let state = p;
  const failed = c.failed ?? [];

  // The handshake under way on this connection goes on, if the proxy still offers its scheme.
  const cur = c.scheme;
  if (cur && offered.includes(cur)) {
    const movable = !isConnectionScheme(cur) || c.sameConnection;
    if (movable && !c.stalled) {
      return { action: { kind: 'send', scheme: cur, how: 'continue', password: password(cur, p, c.mechanism) }, learnt };
    }
    if (cur === 'negotiate') {
      if (c.mechanism !== 'ntlm') learnt.kerberosRefused = true;
      else if (c.credentialsRefused) return { action: { kind: 'fail', reason: 'refused', scheme: 'negotiate-ntlm' }, learnt };
      else if (c.sameConnection) learnt.ntlmInsideFailed = true;
      state = { ...p, kerberosUnavailable: p.kerberosUnavailable || learnt.kerberosRefused === true, ntlmInsideFailed: p.ntlmInsideFailed || learnt.ntlmInsideFailed === true };
    } else if (movable) {
      // Credentials were sent and refused: no weaker scheme with the same password (another
      // failed logon toward lockout, and Basic would expose it).
      return { action: { kind: 'fail', reason: 'refused', scheme: cur }, learnt };
    }
    // else: an NTLM handshake whose connection closed: it starts again on the new one (below).
  }

  let missingCredentials = false;
  let negotiateUnusable = false;
  for (const scheme of offered) {
    if (failed.includes(scheme)) {
      if (scheme === 'negotiate') continue; // no Kerberos: the next scheme
      return { action: { kind: 'fail', reason: 'refused', scheme }, learnt };
    }
    const a = start(scheme, state, offered, failed);
    if (a) return { action: a, learnt };
    // Negotiate with nothing to send (no Kerberos, no NTLM inside) alone asks for no password.
    if (scheme !== 'negotiate') missingCredentials = true;
    else negotiateUnusable = true;
  }
  if (missingCredentials || !p.credentials) return { action: { kind: 'fail', reason: 'required' }, learnt };
  // Negotiate could not be used at all (the reasons say why): not a refusal of the password.
  return { action: { kind: 'fail', reason: 'refused', ...(negotiateUnusable ? { scheme: 'negotiate' as const } : {}) }, learnt };
}

/**
 * Digest proxy authentication (RFC 7616, and the RFC 2617 and RFC 2069 forms it grew from).
 *
 * One session per proxy. The first Digest challenge is answered; its nonce is then kept and every
 * later request is signed up front with the next nonce count (RFC 7616 §3.4: a nonce may be used
 * again with a higher `nc`), which turns one 407 per request into one 407 per nonce. When the
 * nonce expires the proxy says `stale=true` with a new one: the session takes it and signs again,
 * without asking anyone anything. A challenge without `stale=true` to a request that carried our
 * header means the password was refused: the session answers nothing more (no loop, and no string
 * of failed logins that could lock a directory account).
 *
 * Supported: MD5, MD5-sess, SHA-256, SHA-256-sess, SHA-512-256 and SHA-512-256-sess (the last two
 * when Node's crypto has `sha512-256`); `qop=auth`, or no qop (RFC 2069); `opaque`; `userhash`.
 * Not supported: `qop=auth-int` alone (it hashes the message body; no proxy we know offers only
 * that, and `auth` is always offered beside it), unknown algorithms (SHA-1 of old drafts, ...).
 */

import { createHash, getHashes, randomBytes } from 'node:crypto';
import { typedUser, type AuthRequest, type AuthSession, type Challenge, type Credentials } from './types.js';

type HashName = 'md5' | 'sha256' | 'sha512-256';

interface Algorithm {
  /** As written in the `algorithm` parameter we send back. */
  name: string;
  hash: HashName;
  /** `-sess`: A1 also covers the nonce and cnonce (RFC 7616 §3.4.2). */
  sess: boolean;
  /** Higher is stronger; chooses among several Digest challenges. */
  strength: number;
}

const NODE_HASHES = new Set(getHashes());

/** The algorithms we can compute here, by lower-cased name. */
const ALGORITHMS: ReadonlyMap<string, Algorithm> = new Map(
  (
    [
      ['MD5', 'md5', 1],
      ['SHA-256', 'sha256', 2],
      ['SHA-512-256', 'sha512-256', 3],
    ] as const
  )
    .filter(([, hash]) => NODE_HASHES.has(hash))
    .flatMap(([name, hash, strength]): [string, Algorithm][] => [
      [name.toLowerCase(), { name, hash, sess: false, strength }],
      [`${name.toLowerCase()}-sess`, { name: `${name}-sess`, hash, sess: true, strength }],
    ]),
);

/** A Digest challenge we can answer. */
interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque: string | undefined;
  algorithm: Algorithm;
  /** Whether the challenge named its algorithm (then we name it back; absent means MD5). */
  algorithmNamed: boolean;
  /** `auth`, or undefined for the RFC 2069 form without qop, cnonce and nc. */
  qop: 'auth' | undefined;
  userhash: boolean;
  /** `charset=UTF-8` (RFC 7616 §4): the proxy wants UTF-8 and NFC. */
  utf8: boolean;
  stale: boolean;
}

/** Control characters cannot travel in a header value: a value holding one is not echoed. */
function hasCtl(s: string): boolean {
  return /[\u0000-\u0008\u000a-\u001f\u007f]/.test(s);
}

/** The Digest challenge as we would answer it, or undefined when we cannot. */
function parseDigestChallenge(challenge: Challenge): DigestChallenge | undefined {
  if (challenge.scheme !== 'digest') return undefined;
  const p = challenge.params;
  const nonce = p['nonce'];
  if (nonce === undefined || nonce === '') return undefined;
  const realm = p['realm'] ?? '';
  const opaque = p['opaque'];
  if (hasCtl(nonce) || hasCtl(realm) || (opaque !== undefined && hasCtl(opaque))) return undefined;

  const algorithm = ALGORITHMS.get((p['algorithm'] ?? 'MD5').toLowerCase());
  if (algorithm === undefined) return undefined;

  let qop: 'auth' | undefined;
  const qops = (p['qop'] ?? '')
    .split(',')
    .map((q) => q.trim().toLowerCase())
    .filter((q) => q !== '');
  if (qops.length > 0) {
    // Only `auth`: `auth-int` alone would need the message body hashed in, which this client does
    // not do; a proxy that offers nothing else is not answered (the caller tries the next scheme).
    if (!qops.includes('auth')) return undefined;
    qop = 'auth';
  }
  // `-sess` mixes in the cnonce, and RFC 2617 §3.2.2 sends a cnonce only with a qop: a challenge
  // asking for both `-sess` and no qop cannot be answered consistently.
  if (algorithm.sess && qop === undefined) return undefined;

  return {
    realm,
    nonce,
    opaque,
    algorithm,
    algorithmNamed: p['algorithm'] !== undefined,
    qop,
    userhash: p['userhash']?.toLowerCase() === 'true',
    utf8: p['charset']?.toLowerCase() === 'utf-8',
    stale: p['stale']?.toLowerCase() === 'true',
  };
}

/**
 * The Digest challenge to answer when a proxy sent several (one per algorithm, RFC 7616 §3.7):
 * the strongest algorithm we can compute, the first offered among equals. Undefined when none is
 * usable.
 */
export function pickDigestChallenge(offered: readonly Challenge[]): Challenge | undefined {
  let best: Challenge | undefined;
  let bestStrength = 0;
  for (const c of offered) {
    const d = parseDigestChallenge(c);
    if (d !== undefined && d.algorithm.strength > bestStrength) {
      best = c;
      bestStrength = d.algorithm.strength;
    }
  }
  return best;
}

/**
 * Octets of a value that came off the wire (realm, nonce) or goes onto it (method, request-target).
 * Node's http reads header bytes as Latin-1, so such a string is one character per byte, and
 * Latin-1 gives the proxy's bytes back. A string with a character past U+00FF did not come that
 * way: UTF-8 then.
 */
function wire(s: string): Buffer {
  return Buffer.from(s, /[^\u0000-\u00ff]/.test(s) ? 'utf8' : 'latin1');
}

/** Octets of what the user typed: UTF-8 (RFC 7616 §4, and what curl sends). */
function typed(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

function digestHex(hash: HashName, parts: Buffer[]): string {
  const h = createHash(hash);
  parts.forEach((part, i) => {
    if (i > 0) h.update(':');
    h.update(part);
  });
  return h.digest('hex');
}

/** A quoted-string (RFC 9110 §5.6.4): `"` and `\` escaped with a backslash. */
function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** RFC 8187 ext-value for `username*`: `UTF-8''` then attr-chars, everything else %XX. */
function extValue(s: string): string {
  let out = "UTF-8''";
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9!#$&+\-.^_`|~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Test seams; nothing here is meant for production use. */
export interface DigestOptions {
  /** Makes a client nonce (default: 16 random bytes, hex). Tests inject the RFC's values. */
  cnonce?: () => string;
}

/** How many `stale=true` answers in a row one request may get before it stops (a proxy bug). */
const MAX_STALE_ROUNDS = 3;

/** The state of the nonce in use: one per proxy session. */
interface NonceState {
  challenge: DigestChallenge;
  /** The last nonce count sent with this nonce. */
  nc: number;
  /** `-sess`: the cnonce A1 was computed with, kept for the life of the nonce. */
  sessCnonce?: string;
}

export function createDigestSession(creds: Credentials, options: DigestOptions = {}): AuthSession {
  const makeCnonce = options.cnonce ?? ((): string => randomBytes(16).toString('hex'));
  let state: NonceState | undefined;
  let refused = false;
  /** The requests that carried our header: a non-stale challenge to one of them is a refusal. */
  const signed = new WeakSet<AuthRequest>();
  const staleRounds = new WeakMap<AuthRequest, number>();

  function sign(request: AuthRequest): string | undefined {
    if (state === undefined) return undefined;
    if (hasCtl(request.method) || hasCtl(request.uri)) return undefined;
    if (state.nc >= 0xffffffff) {
      // nc is 8 hex digits: past that the nonce is spent; the next 407 brings a fresh one.
      state = undefined;
      return undefined;
    }
    const ch = state.challenge;
    const alg = ch.algorithm;
    state.nc += 1;
    const nc = state.nc.toString(16).padStart(8, '0');

    // RFC 7616 §4: with charset=UTF-8 the proxy expects NFC-normalized user and password.
    const user = ch.utf8 ? typedUser(creds).normalize('NFC') : typedUser(creds);
    const password = ch.utf8 ? creds.password.normalize('NFC') : creds.password;

    let cnonce: string | undefined;
    if (ch.qop !== undefined) {
      // With -sess, A1 is fixed by the first cnonce: keeping that cnonce for the nonce's life
      // gives the same A1 whether the proxy computes it once (RFC 2617) or per request (squid).
      if (alg.sess) state.sessCnonce ??= makeCnonce();
      cnonce = alg.sess ? state.sessCnonce : makeCnonce();
      if (cnonce === undefined || hasCtl(cnonce)) return undefined;
    }

    let ha1 = digestHex(alg.hash, [typed(user), wire(ch.realm), typed(password)]);
    if (alg.sess) ha1 = digestHex(alg.hash, [Buffer.from(ha1), wire(ch.nonce), wire(cnonce!)]);
    const ha2 = digestHex(alg.hash, [wire(request.method), wire(request.uri)]);
    const response =
      ch.qop === undefined
        ? digestHex(alg.hash, [Buffer.from(ha1), wire(ch.nonce), Buffer.from(ha2)])
        : digestHex(alg.hash, [Buffer.from(ha1), wire(ch.nonce), Buffer.from(nc), wire(cnonce!), Buffer.from(ch.qop), Buffer.from(ha2)]);

    // This header goes to the proxy only: the connection layer sends Proxy-Authorization to the
    // proxy that challenged (on the CONNECT request for a tunnel, never inside it). The password
    // itself is never in it, only hashes; the user name is, unless the proxy asked for userhash.
    const fields: string[] = [];
    if (ch.userhash) {
      fields.push(`username=${quote(digestHex(alg.hash, [typed(user), wire(ch.realm)]))}`);
    } else if (/^[\u0020-\u007e]*$/.test(user)) {
      fields.push(`username=${quote(user)}`);
    } else if (ch.utf8 || hasCtl(user)) {
      // RFC 7616 §3.4.4: a name that a quoted-string cannot carry goes as username*.
      fields.push(`username*=${extValue(user)}`);
    } else {
      // A non-ASCII name to an RFC 2617 proxy (no charset=UTF-8, so username* is likely unknown
      // to it): its UTF-8 octets in the quoted-string, as curl sends them.
      fields.push(`username=${quote(typed(user).toString('latin1'))}`);
    }
    fields.push(`realm=${quote(ch.realm)}`, `uri=${quote(request.uri)}`);
    if (ch.algorithmNamed) fields.push(`algorithm=${alg.name}`);
    fields.push(`nonce=${quote(ch.nonce)}`);
    if (ch.qop !== undefined) fields.push(`nc=${nc}`, `cnonce=${quote(cnonce!)}`, `qop=${ch.qop}`);
    fields.push(`response=${quote(response)}`);
    if (ch.opaque !== undefined) fields.push(`opaque=${quote(ch.opaque)}`);
    if (ch.userhash) fields.push('userhash=true');

    signed.add(request);
    return `Digest ${fields.join(', ')}`;
  }

  return {
    scheme: 'digest',
    async respond(request: AuthRequest, challenge: Challenge | undefined): Promise<string | undefined> {
      if (refused) return undefined;
      if (challenge === undefined) return sign(request); // pre-emptive: only once a nonce is known
      const ch = parseDigestChallenge(challenge);
      if (ch === undefined) return undefined;
      if (signed.has(request)) {
        if (!ch.stale) {
          // The proxy saw a valid-looking answer on this request and did not call the nonce
          // stale: it refused the user or the password (RFC 7616 §3.3).
          refused = true;
          state = undefined;
          return undefined;
        }
        // stale=true: the password was right, only the nonce expired. Not a refusal.
        const rounds = (staleRounds.get(request) ?? 0) + 1;
        staleRounds.set(request, rounds);
        if (rounds > MAX_STALE_ROUNDS) return undefined;
      }
      const same =
        state !== undefined &&
        state.challenge.nonce === ch.nonce &&
        state.challenge.realm === ch.realm &&
        state.challenge.algorithm === ch.algorithm;
      // A new nonce starts again at nc=1; the same nonce (a proxy that repeats it) keeps counting.
      if (!same) state = { challenge: ch, nc: 0 };
      return sign(request);
    },
  };
}

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseChallenges } from './challenge.js';
import { decide, type Action, type ConnectionState, type Decision, type ProxyState } from './decide.js';
import { SCHEME_STRENGTH } from './types.js';

/** A proxy we know nothing of, with credentials, every scheme allowed. */
const P: ProxyState = {
  allowed: SCHEME_STRENGTH,
  named: undefined,
  credentials: true,
  known: undefined,
  worked: undefined,
  kerberosUnavailable: false,
  ntlmInsideFailed: false,
  refused: false,
  canAsk: false,
};
/** A connection that has sent nothing yet. */
const C: ConnectionState = { scheme: undefined, sameConnection: true };

const send = (scheme: string, how: 'start' | 'continue', password: boolean, mechanism?: string): Action =>
  ({ kind: 'send', scheme, how, password, ...(mechanism ? { mechanism } : {}) }) as Action;
const fail = (reason: 'refused' | 'unusable' | 'required', scheme?: string): Action => ({ kind: 'fail', reason, ...(scheme ? { scheme } : {}) }) as Action;

const squidNtlm = parseChallenges(['NTLM']);
const type2 = parseChallenges(['NTLM TlRMTVNTUAACAAAADAAMADAAAAA1goni']);
const tinyproxy = parseChallenges(['Basic realm="Tinyproxy"']);
const digest = parseChallenges(['Digest realm="r", nonce="n1", qop="auth"']);
const digestStale = parseChallenges(['Digest realm="r", nonce="n2", qop="auth", stale=true']);
const negotiateOnly = parseChallenges(['Negotiate']);
const negotiateType2 = parseChallenges(['Negotiate TlRMTVNTUAACAAAADAAMADAAAAA1goni']);
const all = parseChallenges(['Negotiate', 'NTLM', 'Digest realm="r", nonce="n", qop="auth"', 'Basic realm="r"']);
const unknown = parseChallenges(['Bearer realm="x"']);

interface Row {
  name: string;
  challenges: string | undefined;
  proxy?: Partial<ProxyState>;
  conn?: Partial<ConnectionState>;
  action: Action;
  learnt?: Decision['learnt'];
}

const CH: Record<string, ReturnType<typeof parseChallenges>> = { squidNtlm, type2, tinyproxy, digest, digestStale, negotiateOnly, negotiateType2, all, unknown };

const rows: Row[] = [
  // First contact: nothing scheme-specific before the proxy names its schemes.
  { name: 'first contact: go bare to discover the schemes (no NTLM Type 1, no Kerberos token)', challenges: undefined, action: { kind: 'discover' } },
  { name: 'first contact without credentials: discover too', challenges: undefined, proxy: { credentials: false }, action: { kind: 'discover' } },
  { name: 'the proxy answered without asking: nothing up front', challenges: undefined, proxy: { known: [] }, action: { kind: 'none' } },
  { name: 'discovery 407 from tinyproxy: Basic, which carries the password', challenges: 'tinyproxy', action: send('basic', 'start', true) },
  { name: 'known Basic proxy, new connection: Basic up front', challenges: undefined, proxy: { known: ['basic'] }, action: send('basic', 'start', true) },
  // NTLM
  { name: 'discovery 407 from an NTLM squid: Type 1 (it opens a handshake that proves the password: waits for its turn)', challenges: 'squidNtlm', action: send('ntlm', 'start', true) },
  { name: 'NTLM Type 2 on the same connection: Type 3 (a proof of the password)', challenges: 'type2', conn: { scheme: 'ntlm' }, action: send('ntlm', 'continue', true) },
  { name: 'NTLM Type 2 but the connection closed: start again with a Type 1', challenges: 'type2', conn: { scheme: 'ntlm', sameConnection: false }, action: send('ntlm', 'start', true) },
  { name: 'NTLM, bare 407 after the Type 3: refused, no weaker scheme', challenges: 'all', conn: { scheme: 'ntlm', stalled: true }, proxy: { kerberosUnavailable: true }, action: fail('refused', 'ntlm') },
  { name: 'known NTLM proxy, new connection: Type 1 up front', challenges: undefined, proxy: { known: ['ntlm'] }, action: send('ntlm', 'start', true) },
  { name: 'NTLM worked: new connections open with it', challenges: undefined, proxy: { known: ['negotiate', 'ntlm'], worked: 'ntlm', kerberosUnavailable: true }, action: send('ntlm', 'start', true) },
  { name: 'an authenticated NTLM connection needs no header', challenges: undefined, proxy: { known: ['ntlm'], worked: 'ntlm' }, conn: { authenticated: true }, action: { kind: 'none' } },
  // Negotiate
  { name: 'Negotiate with a ticket possible: Kerberos first (strongest)', challenges: 'all', action: send('negotiate', 'start', false, 'kerberos') },
  { name: 'Negotiate without a ticket (tried, nothing): next offered, NTLM', challenges: 'all', conn: { failed: ['negotiate'] }, proxy: { kerberosUnavailable: true }, action: send('ntlm', 'start', true) },
  { name: 'Negotiate without a ticket and no credentials: Kerberos only', challenges: 'negotiateOnly', proxy: { credentials: false }, action: send('negotiate', 'start', false, 'kerberos') },
  { name: 'Negotiate-only proxy, no Kerberos, no credentials: credentials required', challenges: 'negotiateOnly', proxy: { credentials: false, kerberosUnavailable: true }, action: fail('required') },
  {
    name: 'Kerberos token refused (bare 407 after it): learnt, then NTLM inside Negotiate',
    challenges: 'negotiateOnly',
    conn: { scheme: 'negotiate', mechanism: 'kerberos', stalled: true },
    action: send('negotiate', 'start', true, 'ntlm'),
    learnt: { kerberosRefused: true },
  },
  { name: 'known proxy with a ticket: the Kerberos token up front', challenges: undefined, proxy: { known: ['negotiate'] }, action: send('negotiate', 'start', false, 'kerberos-then-ntlm') },
  // NTLM inside Negotiate
  { name: 'Negotiate-only proxy, no ticket, credentials: NTLM inside Negotiate', challenges: 'negotiateOnly', proxy: { kerberosUnavailable: true }, action: send('negotiate', 'start', true, 'ntlm') },
  { name: 'NTLM inside Negotiate, Type 2: the Type 3 carries a proof of the password', challenges: 'negotiateType2', conn: { scheme: 'negotiate', mechanism: 'ntlm' }, proxy: { kerberosUnavailable: true }, action: send('negotiate', 'continue', true) },
  {
    name: 'NTLM inside Negotiate, password refused: refused as Negotiate (NTLM)',
    challenges: 'negotiateOnly',
    conn: { scheme: 'negotiate', mechanism: 'ntlm', credentialsRefused: true, stalled: true },
    proxy: { kerberosUnavailable: true },
    action: fail('refused', 'negotiate-ntlm'),
  },
  {
    name: "the proxy's Negotiate ignored the Type 1: learnt, and nothing else to try",
    challenges: 'negotiateOnly',
    conn: { scheme: 'negotiate', mechanism: 'ntlm', stalled: true },
    proxy: { kerberosUnavailable: true },
    action: fail('refused', 'negotiate'),
    learnt: { ntlmInsideFailed: true },
  },
  { name: 'where plain NTLM is offered too, it is the fallback (not NTLM inside Negotiate)', challenges: 'all', proxy: { kerberosUnavailable: true }, action: send('ntlm', 'start', true) },
  // Digest
  { name: 'Digest challenge: answered (a hash of the password)', challenges: 'digest', action: send('digest', 'start', true) },
  { name: 'Digest stale=true after our answer: the session goes on with the new nonce', challenges: 'digestStale', conn: { scheme: 'digest' }, action: send('digest', 'continue', true) },
  { name: 'Digest refused (the session had nothing for a non-stale challenge): refused', challenges: 'digest', conn: { scheme: 'digest', stalled: true }, action: fail('refused', 'digest') },
  { name: 'known Digest proxy, new connection: signed up front with its nonce', challenges: undefined, proxy: { known: ['digest'] }, action: send('digest', 'start', true) },
  // Refused, nothing usable, required
  { name: 'credentials refused earlier, no prompt: fail before sending anything', challenges: undefined, proxy: { known: ['basic'], refused: true }, action: fail('refused') },
  { name: 'credentials refused earlier, a prompt may give others: send nothing', challenges: undefined, proxy: { known: ['basic'], refused: true, canAsk: true }, action: { kind: 'none' } },
  { name: 'credentials refused earlier: a 407 is that refusal', challenges: 'tinyproxy', proxy: { refused: true }, action: fail('refused') },
  { name: 'Basic refused on the same request: refused', challenges: 'tinyproxy', conn: { scheme: 'basic', stalled: true }, action: fail('refused', 'basic') },
  { name: 'a scheme we cannot use: unusable', challenges: 'unknown', action: fail('unusable') },
  { name: 'allowed list excludes what is offered: unusable', challenges: 'tinyproxy', proxy: { allowed: ['ntlm', 'negotiate'] }, action: fail('unusable') },
  { name: 'Basic offered, no credentials: required', challenges: 'tinyproxy', proxy: { credentials: false }, action: fail('required') },
  // Named scheme: up front from the start
  { name: '--proxy-auth ntlm: Type 1 before the proxy asks', challenges: undefined, proxy: { allowed: ['ntlm'], named: 'ntlm' }, action: send('ntlm', 'start', true) },
  { name: '--proxy-auth basic: Basic before the proxy asks', challenges: undefined, proxy: { allowed: ['basic'], named: 'basic' }, action: send('basic', 'start', true) },
  { name: '--proxy-auth negotiate: Kerberos (or NTLM inside, NTLM not being allowed) up front', challenges: undefined, proxy: { allowed: ['negotiate'], named: 'negotiate' }, action: send('negotiate', 'start', false, 'kerberos-then-ntlm') },
  { name: '--proxy-auth digest: needs the nonce, so it is discovered', challenges: undefined, proxy: { allowed: ['digest'], named: 'digest' }, action: { kind: 'discover' } },
  { name: '--proxy-auth ntlm without credentials: nothing to send, discover', challenges: undefined, proxy: { allowed: ['ntlm'], named: 'ntlm', credentials: false }, action: { kind: 'discover' } },
  { name: '--proxy-auth basic,ntlm on a proxy offering all: Basic, in the list order', challenges: 'all', proxy: { allowed: ['basic', 'ntlm'] }, action: send('basic', 'start', true) },
];

describe('decide: the 407 decision, without sockets', () => {
  for (const row of rows) {
    test(row.name, () => {
      const challenges = row.challenges === undefined ? undefined : CH[row.challenges]!;
      const d = decide(challenges, { ...P, ...row.proxy }, { ...C, ...row.conn });
      assert.deepEqual(d.action, row.action);
      assert.deepEqual(d.learnt, row.learnt ?? {});
    });
  }

  test('a step that gave nothing is never chosen again: the loop of ConnectionAuth ends', () => {
    // Every scheme failed in turn: the decisions end in a failure within four steps.
    const failed: string[] = [];
    let d = decide(all, P, { ...C, failed: [] });
    for (let i = 0; i < 4 && d.action.kind === 'send'; i++) {
      failed.push(d.action.scheme);
      d = decide(all, { ...P, kerberosUnavailable: true }, { ...C, failed: failed as never });
    }
    assert.equal(d.action.kind, 'fail');
  });
});

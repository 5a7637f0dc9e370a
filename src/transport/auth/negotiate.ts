/**
 * Negotiate proxy authentication (RFC 4559): a Kerberos ticket from the user's ticket cache,
 * sent as an SPNEGO token, through the optional native package `kerberos` (MIT GSS-API on Unix,
 * SSPI on Windows).
 *
 * One session per CONNECTION, like NTLM: squid (and Windows proxies) then treat the connection as
 * authenticated. The flow:
 *
 *     request + Proxy-Authorization: Negotiate <SPNEGO token with a Kerberos AP-REQ>
 *     200 (squid may add `Proxy-Authenticate: Negotiate <AP-REP>` for mutual authentication)
 *
 * The token is sent pre-emptively when the session is asked first (respond(req, undefined)), or
 * in answer to a `Negotiate` challenge. A 407 with a server token after ours is handed to GSS-API
 * (a continuation, or a KRB-ERROR that says why); a bare 407 after ours is a refusal. Either way
 * the session sends at most MAX_TOKENS tokens, then answers nothing more.
 *
 * When Kerberos cannot be used (the package is missing or does not load, there is no ticket, the
 * KDC cannot be reached, the KDC does not know the proxy's service principal), `kerberosError`
 * says why, and:
 * - with `fallbackNtlm` credentials the session goes on with NTLM inside Negotiate: the NTLM
 *   handshake of ntlm.ts, its raw NTLMSSP messages under the `Negotiate` scheme name, on the same
 *   connection (see below);
 * - without, respond returns undefined and `lastError` says why, so the caller moves to the next
 *   scheme the proxy offers (NTLM, Digest, Basic) and can name the reason if all fail. curl, by
 *   contrast, picks Negotiate, has no token, and stops with a 407.
 * Which of the two is the caller's choice (`negotiateMechanism` in challenge.ts): NTLM inside
 * Negotiate only when the proxy does not offer the plain `NTLM` scheme, which stays the first
 * fallback where it is offered (it is what most NTLM proxies expect).
 *
 * NTLM inside Negotiate, on the wire (what Windows' SSPI Negotiate package sends without a ticket):
 *
 *     request + Proxy-Authorization: Negotiate <NTLM Type 1, raw: TlRMTVNTUAAB...>
 *     407    + Proxy-Authenticate:  Negotiate <NTLM Type 2>
 *     request + Proxy-Authorization: Negotiate <NTLM Type 3>
 *     200 (a bare `Negotiate` 407 instead: the password was refused; the session ends)
 *
 * Raw, not SPNEGO-wrapped (a NegTokenInit offering the NTLMSSP OID 1.3.6.1.4.1.311.2.2.10): squid's
 * negotiate_wrapper_auth, the squid wiki's Active Directory setup, routes a token to its NTLM
 * helper only when it starts with `NTLMSSP\0` and sends anything else to the Kerberos helper,
 * which refuses a wrapped NTLM token ("An unsupported mechanism was requested"); Samba's own
 * Negotiate helper (`ntlm_auth --helper-protocol=gss-spnego`) takes raw NTLMSSP as well as the
 * wrapped form (its SPNEGO server falls back to the mechanism whose magic matches). So the raw
 * form works with both, and the wrapped one would need a second encoder and, once Samba sees the
 * NTLM MIC, a SPNEGO mechListMIC signed with NTLM session keys — for no acceptor we know that needs
 * it. (Verified with the rig's negotiate-ntlm squid and Samba 4.17's helpers: test/rig/README.md.)
 * A Negotiate acceptor without NTLM (negotiate_kerberos_auth alone) answers the Type 1 with a
 * bare 407: that is not a refusal of the password, and `credentialsRefused` stays false.
 *
 * SPN: `HTTP@<proxy host as written in the proxy URL>` (a GSS host-based service name; MIT turns
 * it into HTTP/host@REALM without DNS canonicalisation when krb5.conf says so); on Windows SSPI
 * wants the SPN form `HTTP/<host>`, as @vscode/proxy-agent passes it.
 *
 * Security: a Kerberos token is bound to the proxy's service principal; only that proxy can read
 * it. Delegation (GSS_C_DELEG_FLAG) is never asked for: it would hand the user's TGT to the proxy.
 * lastError holds GSS-API's messages (principal and cache names), never a credential. The NTLM
 * messages carry proofs of the password, never the password (ntlm.ts), to the proxy only.
 */

import { createNtlmSession, type NtlmSession } from './ntlm.js';
import type { AuthRequest, AuthSession, Challenge, Credentials } from './types.js';
import { messageOf } from '../../errors.js';
import { withTimeout } from '../timeout.js';

/** The part of the `kerberos` package used here (typed locally: the package is optional). */
export interface KerberosClientLike {
  step(challenge: string): Promise<string>;
  contextComplete: boolean;
}

export interface KerberosLike {
  initializeClient(service: string, options?: { flags?: number; mechOID?: number }): Promise<KerberosClientLike>;
  GSS_C_MUTUAL_FLAG: number;
  GSS_C_REPLAY_FLAG: number;
  GSS_MECH_OID_KRB5: number;
  GSS_MECH_OID_SPNEGO: number;
}

export interface NegotiateOptions {
  /** The proxy's host name exactly as written in the proxy URL (IPv6 brackets are removed). */
  proxyHost: string;
  /**
   * NTLM inside Negotiate: when Kerberos cannot be used, these credentials answer with raw NTLM
   * messages under the Negotiate scheme (see the header). Without them the session gives up.
   */
  fallbackNtlm?: Credentials;
  /**
   * Kerberos is already known not to work with this proxy (the reason, from an earlier session):
   * not tried again; with `fallbackNtlm` the session starts with NTLM, else it has nothing.
   */
  kerberosUnavailable?: string;
  /** Longest wait for GSS-API (ticket cache, KDC) per step; default 15 s. */
  timeoutMs?: number;
  /** Tests: a stand-in for `import('kerberos')`. */
  loadKerberos?: () => Promise<KerberosLike>;
  /** Tests: the platform whose SPN form is used (default process.platform). */
  platform?: NodeJS.Platform;
}

export interface NegotiateSession extends AuthSession {
  /** Why the session has no (more) token to give, for the caller's final error message. */
  readonly lastError: string | undefined;
  /** Why Kerberos could not be used (also when NTLM took over); undefined while it may work. */
  readonly kerberosError: string | undefined;
  /** What the tokens carry: `kerberos`, or `ntlm` (NTLM inside Negotiate); undefined before the first. */
  readonly mechanism: 'kerberos' | 'ntlm' | undefined;
  /** The proxy refused the NTLM credentials (a wrong password), as opposed to having no use for them. */
  readonly credentialsRefused: boolean;
  /** Kerberos failed because the optional `kerberos` package is missing or does not load. */
  readonly kerberosMissing: boolean;
}

/**
 * What to do when the `kerberos` package is missing, for the error a person reads: a
 * Negotiate-only proxy cannot use a password unless its Negotiate also takes NTLM, so "give a
 * user name and password" alone would send them the wrong way.
 */
export const KERBEROS_MISSING_HELP =
  'To use your Kerberos ticket, install the optional npm package where symsrv is installed: npm install kerberos ' +
  '(it has prebuilt binaries for Windows and macOS; elsewhere it is built, which needs a C++ compiler and the Kerberos ' +
  'development files: libkrb5-dev on Debian and Ubuntu, krb5-devel on Fedora and RHEL), then run kinit';

/** Tokens one session sends at most: the first, and one continuation for a mutual-auth round. */
const MAX_TOKENS = 2;
const DEFAULT_TIMEOUT_MS = 15_000;

/** `HTTP@host` for GSS-API, `HTTP/host` for Windows SSPI. */
export function servicePrincipalName(proxyHost: string, platform: NodeJS.Platform = process.platform): string {
  const host = proxyHost.startsWith('[') && proxyHost.endsWith(']') ? proxyHost.slice(1, -1) : proxyHost;
  return platform === 'win32' ? `HTTP/${host}` : `HTTP@${host}`;
}

let kerberosModule: Promise<KerberosLike> | undefined;

/**
 * `kerberos`, loaded on first use (it is an optionalDependency with a native part: it may be
 * absent, or fail to load on a machine without libgssapi). The outcome is kept either way.
 */
export function loadKerberos(): Promise<KerberosLike> {
  return (kerberosModule ??= (async () => {
    // A variable specifier: the build must not need the optional package's types.
    const name = 'kerberos';
    const mod = (await import(name)) as { default?: unknown };
    // CommonJS: the functions are properties of the default export (proxy-agent-negotiate 1.1.0
    // looks for them on the namespace and fails with "initializeClient is not a function").
    const k = (mod.default ?? mod) as Partial<KerberosLike>;
    if (typeof k.initializeClient !== 'function') throw new Error('it has no initializeClient function');
    return k as KerberosLike;
  })());
}

export function createNegotiateSession(options: NegotiateOptions): NegotiateSession {
  const spn = servicePrincipalName(options.proxyHost, options.platform);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const load = options.loadKerberos ?? loadKerberos;
  let state: 'start' | 'sent' | 'done' = 'start';
  let tokensSent = 0;
  let client: KerberosClientLike | undefined;
  let lastError: string | undefined;
  let kerberosError = options.kerberosUnavailable;
  let mechanism: 'kerberos' | 'ntlm' | undefined;
  let kerberosMissing = false;
  /** NTLM inside Negotiate, once Kerberos gave way: every later round is its. */
  let ntlm: NtlmSession | undefined;

  const giveUp = (why: string): undefined => {
    state = 'done';
    lastError = why;
    return undefined;
  };

  const timed = <T>(p: Promise<T>, what: string): Promise<T> =>
    withTimeout(p, timeoutMs, () => new Error(`no answer within ${timeoutMs} ms while ${what}`));

  /** The first token: Kerberos's, or (when it cannot be used and there are credentials) NTLM's Type 1. */
  const first = async (request: AuthRequest): Promise<string | undefined> => {
    if (kerberosError === undefined) {
      const token = await firstKerberos();
      if (token !== undefined) return token;
      kerberosError = lastError;
    }
    if (!options.fallbackNtlm) return giveUp(kerberosError ?? 'Kerberos cannot be used');
    ntlm = createNtlmSession(options.fallbackNtlm, { scheme: 'negotiate' });
    mechanism = 'ntlm';
    state = 'sent';
    // The Type 1, raw under `Negotiate`: to the proxy only, on this session's connection (ntlm.ts).
    return ntlm.respond(request, undefined);
  };

  const firstKerberos = async (): Promise<string | undefined> => {
    let k: KerberosLike;
    try {
      k = await load();
    } catch (err) {
      kerberosMissing = true;
      return giveUp(`Kerberos is not available: the optional package "kerberos" could not be loaded (${messageOf(err)})`);
    }
    let token: string;
    try {
      // What curl asks for: mutual authentication and replay detection; never delegation.
      client = await timed(
        k.initializeClient(spn, { flags: k.GSS_C_MUTUAL_FLAG | k.GSS_C_REPLAY_FLAG, mechOID: k.GSS_MECH_OID_SPNEGO }),
        `preparing a Kerberos context for ${spn}`,
      );
      token = await timed(client.step(''), `getting a Kerberos ticket for ${spn}`);
    } catch (err) {
      return giveUp(await explain(k, err));
    }
    if (!token) return giveUp(`Kerberos produced no token for ${spn}`);
    state = 'sent';
    mechanism = 'kerberos';
    tokensSent = 1;
    // To the proxy only: a ticket for its own service principal, which only it can read.
    return `Negotiate ${token}`;
  };

  /** A clearer reason than SPNEGO's own: with no ticket SPNEGO only says it "cannot find mechanisms". */
  const explain = async (k: KerberosLike, err: unknown): Promise<string> => {
    let detail = messageOf(err);
    if (/SPNEGO cannot find mechanisms/i.test(detail)) {
      try {
        const krb5 = await timed(k.initializeClient(spn, { mechOID: k.GSS_MECH_OID_KRB5 }), 'asking Kerberos why');
        await timed(krb5.step(''), 'asking Kerberos why');
      } catch (inner) {
        detail = messageOf(inner);
      }
    }
    return `${reason(detail, spn)} (${detail})`;
  };

  return {
    scheme: 'negotiate',
    get lastError() {
      return ntlm ? ntlm.lastError : lastError;
    },
    get kerberosError() {
      return kerberosError;
    },
    get mechanism() {
      return mechanism;
    },
    get credentialsRefused() {
      return ntlm?.refused ?? false;
    },
    get kerberosMissing() {
      return kerberosMissing;
    },
    async respond(request: AuthRequest, challenge: Challenge | undefined): Promise<string | undefined> {
      if (ntlm) return ntlm.respond(request, challenge);
      if (state === 'done') return undefined;
      if (challenge === undefined) {
        // Pre-emptive on a new connection; after our token the connection needs no header.
        return state === 'start' ? first(request) : undefined;
      }
      if (challenge.scheme !== 'negotiate') return undefined;
      if (state === 'start') return first(request);
      // A 407 after our token.
      if (challenge.token === undefined || challenge.token === '') {
        return giveUp(`the proxy refused the Kerberos ticket for ${spn}`);
      }
      if (tokensSent >= MAX_TOKENS || client === undefined) {
        return giveUp(`the proxy refused the Kerberos ticket for ${spn} after ${tokensSent} rounds`);
      }
      let token: string;
      try {
        token = await timed(client.step(challenge.token), `reading the proxy's Negotiate answer`);
      } catch (err) {
        return giveUp(`the proxy refused the Kerberos ticket for ${spn}: ${messageOf(err)}`);
      }
      if (!token) return giveUp(`the proxy refused the Kerberos ticket for ${spn}`);
      tokensSent++;
      // To the proxy only, on the connection whose 407 carried the server's token.
      return `Negotiate ${token}`;
    },
  };
}

/** A short reason from a GSS-API message, for a person. */
function reason(detail: string, spn: string): string {
  const noTicket = /No Kerberos credentials|No credentials cache|credentials cache.*not found|Credential cache is empty|Bad format in credentials cache|SPNEGO cannot find/i;
  if (noTicket.test(detail)) {
    return 'no Kerberos ticket (run kinit, or check KRB5CCNAME)';
  }
  if (/expired/i.test(detail)) return 'the Kerberos ticket has expired (run kinit)';
  if (/Cannot contact any KDC|Cannot find KDC|Cannot resolve network address for KDC/i.test(detail)) {
    return 'the Kerberos KDC cannot be reached';
  }
  if (/not found in Kerberos database|Server not found/i.test(detail)) {
    return `the KDC does not know the proxy's service principal ${spn} (give the proxy's name as its keytab has it)`;
  }
  if (/Clock skew/i.test(detail)) return 'the clocks of this machine and the KDC differ too much';
  if (/no answer within/i.test(detail)) return 'Kerberos did not answer in time';
  return 'Kerberos failed';
}

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
 * KDC cannot be reached, the KDC does not know the proxy's service principal) respond returns
 * undefined and `lastError` says why, so the caller moves to the next scheme the proxy offers
 * (NTLM, Digest, Basic) and can name the reason if all fail. curl, by contrast, picks Negotiate,
 * has no token, and stops with a 407.
 *
 * SPN: `HTTP@<proxy host as written in the proxy URL>` (a GSS host-based service name; MIT turns
 * it into HTTP/host@REALM without DNS canonicalisation when krb5.conf says so); on Windows SSPI
 * wants the SPN form `HTTP/<host>`, as @vscode/proxy-agent passes it.
 *
 * NTLM inside SPNEGO (`fallbackNtlm`) is not done: a proxy that offers Negotiate with an NTLM
 * acceptor offers the plain `NTLM` scheme beside it (squid with both helpers, Windows proxies),
 * squid's negotiate_kerberos_auth accepts no NTLMSSP token at all, and SPNEGO-wrapped NTLM needs
 * a mechListMIC signed with NTLM session keys — a second protocol for no proxy we know that
 * needs it. The fallback is the caller's: the plain NTLM scheme with the same credentials.
 *
 * Security: a Kerberos token is bound to the proxy's service principal; only that proxy can read
 * it. Delegation (GSS_C_DELEG_FLAG) is never asked for: it would hand the user's TGT to the proxy.
 * lastError holds GSS-API's messages (principal and cache names), never a credential.
 */

import type { AuthRequest, AuthSession, Challenge, Credentials } from './types.js';

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
   * Accepted for the API's shape, not used: NTLM inside SPNEGO is not done (see the header). The
   * caller falls back to the plain NTLM scheme with these credentials.
   */
  fallbackNtlm?: Credentials;
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
}

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

  const giveUp = (why: string): undefined => {
    state = 'done';
    lastError = why;
    return undefined;
  };

  const timed = <T>(p: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      // Not unref'd: the caller is waiting for this answer (and the timer is cleared as soon as it comes).
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms while ${what}`)), timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  };

  const first = async (): Promise<string | undefined> => {
    let k: KerberosLike;
    try {
      k = await load();
    } catch (err) {
      return giveUp(`Kerberos is not available: the optional package "kerberos" could not be loaded (${message(err)})`);
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
    tokensSent = 1;
    // To the proxy only: a ticket for its own service principal, which only it can read.
    return `Negotiate ${token}`;
  };

  /** A clearer reason than SPNEGO's own: with no ticket SPNEGO only says it "cannot find mechanisms". */
  const explain = async (k: KerberosLike, err: unknown): Promise<string> => {
    let detail = message(err);
    if (/SPNEGO cannot find mechanisms/i.test(detail)) {
      try {
        const krb5 = await timed(k.initializeClient(spn, { mechOID: k.GSS_MECH_OID_KRB5 }), 'asking Kerberos why');
        await timed(krb5.step(''), 'asking Kerberos why');
      } catch (inner) {
        detail = message(inner);
      }
    }
    return `${reason(detail, spn)} (${detail})`;
  };

  return {
    scheme: 'negotiate',
    get lastError() {
      return lastError;
    },
    async respond(_request: AuthRequest, challenge: Challenge | undefined): Promise<string | undefined> {
      if (state === 'done') return undefined;
      if (challenge === undefined) {
        // Pre-emptive on a new connection; after our token the connection needs no header.
        return state === 'start' ? first() : undefined;
      }
      if (challenge.scheme !== 'negotiate') return undefined;
      if (state === 'start') return first();
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
        return giveUp(`the proxy refused the Kerberos ticket for ${spn}: ${message(err)}`);
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
  const noTicket = /No Kerberos credentials|No credentials cache|credentials cache.*not found|Bad format in credentials cache|SPNEGO cannot find/i;
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

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

import { SymsrvError } from '../../errors.js';
import { basicCredentials } from './basic.js';
import { challengeFor, chooseScheme, negotiateMechanism, parseChallenges } from './challenge.js';
import { createNegotiateSession, type NegotiateSession } from './negotiate.js';
import { createNtlmSession } from './ntlm.js';
import { TITLE, type AcceptedScheme, type AuthRequest, type AuthSession, type SchemeName } from './types.js';
import type { ProxyAuth } from './proxy-auth.js';
import { describeProxy } from '../select/select.js';

/**
 * Most request rounds one request (or one CONNECT) makes with a proxy before it gives up: a 407
 * loop ends here. Sessions refuse to answer twice on their own; only credentials asked for again
 * at a prompt add rounds.
 */
export const MAX_AUTH_ROUNDS = 30;

/**
 * The handshake state of one connection: what to send first, what to answer to a 407, and the
 * errors when nothing can be answered. A 407 loop cannot happen: each session refuses to answer
 * twice, and the callers cap the rounds.
 */
export class ConnectionAuth {
  private session: AuthSession | undefined;
  private lastScheme: SchemeName | undefined;

  constructor(private readonly auth: ProxyAuth) {}

  /** The header for a request before any 407 on it (pre-emptive), or undefined. */
  async first(request: AuthRequest): Promise<string | undefined> {
    const a = this.auth;
    // Credentials already refused: with no one to ask for others, fail before sending anything;
    // with a prompt, send nothing up front and let the 407 lead to the question (next()).
    const refused = a.refused;
    if (refused) {
      if (!a.canAsk) throw refused;
      return undefined;
    }
    if (a.connectionScheme) {
      this.session = this.newSession(a.connectionScheme);
      const h = this.session ? await this.session.respond(request, undefined) : undefined;
      this.noteKerberos(this.session);
      if (h) {
        this.lastScheme = a.connectionScheme;
        return h;
      }
    }
    for (const scheme of ['digest', 'basic'] as const) {
      const shared = a.shared(scheme);
      if (!shared) continue;
      if (!(await this.mayTry())) return undefined;
      const h = await shared.respond(request, undefined);
      if (h) {
        this.lastScheme = scheme;
        return h;
      }
    }
    // Told to use Basic and nothing else (--proxy-auth basic, curl's --proxy-basic): send it up
    // front. Only then: sent unasked, a password would go to any proxy on the path.
    if (a.allowed.length === 1 && a.allowed[0] === 'basic' && a.credentials) {
      if (!(await this.mayTry())) return undefined;
      this.lastScheme = 'basic';
      return basicCredentials(a.credentials);
    }
    // A proxy we know nothing of yet: open with a connection scheme's first message. It costs no
    // more than sending nothing (a proxy that wants something else answers 407 either way) and
    // saves the discovery round, so an NTLM proxy costs one 407 per connection, as with curl's
    // --proxy-ntlm. Nothing secret goes out: an NTLM Type 1 holds no credential, a Kerberos
    // token is sealed for the proxy's own service principal. Password schemes (Digest, Basic)
    // never go out before the proxy asks for them.
    for (const scheme of a.allowed) {
      if (scheme !== 'negotiate' && scheme !== 'ntlm') break;
      if (a.notOffered.has(scheme)) continue;
      const session = this.newSession(scheme);
      if (!session) continue;
      const h = await session.respond(request, undefined);
      this.noteKerberos(session);
      if (h) {
        this.session = session;
        this.lastScheme = scheme;
        return h;
      }
    }
    return undefined;
  }

  /**
   * The header that answers a 407 on `request`. `sameConnection` says whether the next round
   * travels on the connection that got the 407 (a connection scheme's handshake cannot move).
   * Throws E_PROXY_AUTH_REQUIRED (no credentials) or E_PROXY_AUTH (refused / nothing usable).
   */
  async next(request: AuthRequest, header: string | string[] | undefined, info: { sameConnection: boolean }): Promise<string> {
    // A person may answer (again): wrong credentials are told and asked for again, as many times
    // as they like; Cancel ends it (E_PROXY_AUTH_CANCELLED).
    for (;;) {
      try {
        return await this.answer(request, header, info);
      } catch (err) {
        if (!(err instanceof SymsrvError) || (err.code !== 'E_PROXY_AUTH' && err.code !== 'E_PROXY_AUTH_REQUIRED')) throw err;
        if (err.final) throw err;
        const challenges = parseChallenges(header);
        // Only a password scheme can use what a person types (Negotiate too, when it falls back to NTLM).
        const a = this.auth;
        const ntlmInside = a.negotiateUnavailable !== undefined && a.ntlmInsideFailed === undefined;
        if (!chooseScheme(challenges, a.allowed).some((s) => s !== 'negotiate' || ntlmInside)) throw err;
        const realm = challenges.find((c) => c.params['realm'])?.params['realm'];
        const names = [...new Set(challenges.map((c) => TITLE[c.scheme as SchemeName] ?? c.scheme))];
        if (!(await this.auth.ask(names, realm, err.code === 'E_PROXY_AUTH'))) throw err;
        // New credentials: start over on this request, with no half-done handshake.
        this.session = undefined;
        this.lastScheme = undefined;
      }
    }
  }

  private async answer(request: AuthRequest, header: string | string[] | undefined, info: { sameConnection: boolean }): Promise<string> {
    const a = this.auth;
    // Refused on another connection meanwhile: no further try with them (next() may ask for others).
    const refused = a.refused;
    if (refused) throw refused;
    const challenges = parseChallenges(header);
    const offered = chooseScheme(challenges, a.allowed);
    a.offered = offered;
    const where = describeProxy(a.proxy);
    if (offered.length === 0) {
      const names = challenges.map((c) => c.scheme).join(', ') || 'none';
      throw new SymsrvError('E_PROXY_AUTH', `the proxy ${where} demands authentication with a scheme symsrv cannot use here (offered: ${names}; allowed: ${a.allowed.map((s) => TITLE[s]).join(', ')})`, {
        subject: where,
        final: true,
      });
    }

    if (this.lastScheme && (this.lastScheme === 'ntlm' || this.lastScheme === 'negotiate') && !challenges.some((c) => c.scheme === this.lastScheme)) {
      a.notOffered.add(this.lastScheme);
    }
    // The handshake under way on this connection goes on, if the proxy still offers its scheme.
    if (this.session && this.lastScheme && offered.includes(this.lastScheme)) {
      const connectionScheme = this.lastScheme === 'ntlm' || this.lastScheme === 'negotiate';
      if (!connectionScheme || info.sameConnection) {
        if (this.sendsPassword(this.lastScheme)) await this.tryOrThrow();
        const h = await this.session.respond(request, challengeFor(challenges, this.lastScheme));
        if (h) return h;
      }
      if (this.lastScheme === 'negotiate') {
        const n = this.session as NegotiateSession;
        if (n.mechanism !== 'ntlm') a.negotiateUnavailable ??= 'the proxy refused the Kerberos token';
        else if (n.credentialsRefused) throw this.refused('negotiate-ntlm'); // as for NTLM below
        else if (info.sameConnection) a.ntlmInsideFailed ??= n.lastError ?? "the proxy's Negotiate does not take NTLM";
      } else if (info.sameConnection || !connectionScheme) {
        // Credentials were sent and refused: do not try weaker schemes with the same password
        // (another failed logon counts toward account lockout, and Basic would expose it).
        throw this.refused();
      }
    }

    let missingCredentials = false;
    for (const scheme of offered) {
      const session = scheme === 'basic' || scheme === 'digest' ? a.shared(scheme) : this.newSession(scheme);
      if (!session) {
        // Negotiate has nothing to send (no Kerberos, no NTLM inside): that alone asks for no password.
        if (scheme !== 'negotiate') missingCredentials = true;
        continue;
      }
      if (this.sendsPassword(scheme)) await this.tryOrThrow();
      const h = await session.respond(request, challengeFor(challenges, scheme));
      this.noteKerberos(session);
      if (h) {
        this.session = session;
        this.lastScheme = scheme;
        return h;
      }
      if (scheme === 'negotiate') {
        a.negotiateUnavailable ??= (session as NegotiateSession).lastError ?? 'no Kerberos ticket';
        continue;
      }
      throw this.refused(scheme);
    }
    if (missingCredentials || !a.credentials) throw this.required(challenges.map((c) => c.scheme));
    throw this.refused();
  }

  /** The proxy accepted the last header: remember a connection scheme for new connections. */
  accepted(): void {
    const label = this.label();
    if (label) this.auth.lastAccepted = label;
    // Kerberos proves nothing about the password; every other scheme sent it.
    this.auth.endTrial(this, label !== undefined && label !== 'negotiate');
    if (this.lastScheme === 'ntlm' || this.lastScheme === 'negotiate') this.auth.connectionScheme = this.lastScheme;
  }

  refused(scheme: AcceptedScheme | undefined = this.label()): SymsrvError {
    const where = describeProxy(this.auth.proxy);
    const creds = this.auth.credentials;
    const title = scheme ? TITLE[scheme] : 'no usable scheme';
    if (scheme === 'negotiate' || !creds) {
      const reasons = [this.auth.negotiateUnavailable, this.auth.ntlmInsideFailed].filter((r) => r !== undefined);
      const why = reasons.length > 0 ? `: ${reasons.join('; ')}` : '';
      return new SymsrvError('E_PROXY_AUTH', `proxy authentication failed at ${where} (${title}${why})`, { subject: where });
    }
    const error = new SymsrvError('E_PROXY_AUTH', `proxy authentication failed for ${creds.typed} at ${where} (${title})`, { subject: where });
    this.auth.refusal = { credentials: creds, error };
    this.auth.endTrial(this, false);
    return error;
  }

  private required(offeredRaw: string[]): SymsrvError {
    const where = describeProxy(this.auth.proxy);
    const offers = [...new Set(offeredRaw)].map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join(', ');
    // Why Kerberos failed matters only when the proxy asked for it.
    const asked = offeredRaw.some((s) => s.toLowerCase() === 'negotiate');
    const kerberos = asked && this.auth.negotiateUnavailable ? ` Kerberos could not be used: ${this.auth.negotiateUnavailable}.` : '';
    return new SymsrvError(
      'E_PROXY_AUTH_REQUIRED',
      `the proxy ${where} requires authentication (it offers ${offers}).${kerberos} Give credentials with --proxy-user USER and the password in SYMSRV_PROXY_PASSWORD, or set SYMSRV_PROXY_USER and SYMSRV_PROXY_PASSWORD`,
      { subject: where },
    );
  }

  /** The request ended without an answer on the credentials (network error, abort, lost socket). */
  settle(): void {
    this.auth.endTrial(this, false);
  }

  /** Whether answering `scheme` now may put the password on the wire (Kerberos never does). */
  private sendsPassword(scheme: SchemeName): boolean {
    if (!this.auth.credentials) return false;
    return scheme !== 'negotiate' || this.auth.negotiateUnavailable !== undefined;
  }

  /**
   * Waits for this connection's turn to try unproven credentials (ProxyAuth.trial). False when,
   * meanwhile, the proxy refused them and a prompt may give others (send nothing up front);
   * throws the refusal when nobody can.
   */
  private async mayTry(): Promise<boolean> {
    await this.auth.trial(this);
    const refused = this.auth.refused;
    if (!refused) return true;
    if (!this.auth.canAsk) throw refused;
    return false;
  }

  /** As mayTry, in answer to a 407: a refusal meanwhile is thrown (next() may then ask). */
  private async tryOrThrow(): Promise<void> {
    await this.auth.trial(this);
    const refused = this.auth.refused;
    if (refused) throw refused;
  }

  /** The scheme of this connection's handshake as a person reads it: NTLM inside Negotiate is `negotiate-ntlm`. */
  private label(): AcceptedScheme | undefined {
    if (this.lastScheme === 'negotiate' && (this.session as NegotiateSession | undefined)?.mechanism === 'ntlm') return 'negotiate-ntlm';
    return this.lastScheme;
  }

  /** Why Kerberos could not be used, once a Negotiate session found out (also when NTLM took over). */
  private noteKerberos(session: AuthSession | undefined): void {
    if (session?.scheme !== 'negotiate') return;
    const why = (session as NegotiateSession).kerberosError;
    if (why !== undefined) this.auth.negotiateUnavailable ??= why;
  }

  /** A connection scheme's session (Basic and Digest sessions are shared: ProxyAuth.shared). */
  private newSession(scheme: 'ntlm' | 'negotiate'): AuthSession | undefined {
    const a = this.auth;
    switch (scheme) {
      case 'negotiate': {
        const mechanism = negotiateMechanism({
          kerberosUnavailable: a.negotiateUnavailable !== undefined,
          credentials: a.credentials !== undefined,
          ntlmOffered: a.offered ? a.offered.includes('ntlm') : undefined,
          ntlmInsideFailed: a.ntlmInsideFailed !== undefined,
        });
        if (mechanism === undefined) return undefined;
        return createNegotiateSession({
          proxyHost: a.proxy.hostname,
          ...(mechanism !== 'kerberos' && a.credentials ? { fallbackNtlm: a.credentials } : {}),
          ...(mechanism === 'ntlm' ? { kerberosUnavailable: a.negotiateUnavailable } : {}),
        });
      }
      case 'ntlm':
        return a.credentials ? createNtlmSession(a.credentials) : undefined;
    }
  }
}

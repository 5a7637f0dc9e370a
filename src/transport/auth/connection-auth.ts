import { SymsrvError } from '../../errors.js';
import { challengeFor, chooseScheme, parseChallenges } from './challenge.js';
import { decide, type Action, type ConnectionState } from './decide.js';
import { ambiguous401, connect401, refusedError, requiredError, unusableError } from './failures.js';
import { createNegotiateSession, type NegotiateSession } from './negotiate.js';
import { createNtlmSession } from './ntlm.js';
import type { ProxyAuth } from './proxy-auth.js';
import { TITLE, type AcceptedScheme, type AuthRequest, type AuthSession, type Challenge, type SchemeName } from './types.js';

/**
 * Most request rounds one request (or one CONNECT) makes with a proxy before it gives up: a 407
 * loop ends here. Sessions refuse to answer twice on their own; only credentials asked for again
 * at a prompt add rounds.
 */
export const MAX_AUTH_ROUNDS = 30;

/** Most decisions per round: each step that gives nothing rules a scheme out, and there are four. */
const MAX_STEPS = 8;

/**
 * The handshake of one connection: carries out what `decide` says (decide.ts), and tells the
 * proxy's state (ProxyAuth, its one owner) what it learns. `first()` before any 407 on a
 * request, `next()` on each 407, `accepted()`, `settle()`.
 */
export class ConnectionAuth {
  private session: AuthSession | undefined;
  private scheme: SchemeName | undefined;
  /** The proxy accepted a connection scheme on this connection: it needs no header any more. */
  private authenticated = false;

  constructor(private readonly auth: ProxyAuth) {}

  private state(sameConnection: boolean, extra: Partial<ConnectionState> = {}): ConnectionState {
    const n = this.scheme === 'negotiate' ? (this.session as NegotiateSession) : undefined;
    return {
      scheme: this.scheme,
      sameConnection,
      ...(n ? { mechanism: n.mechanism, credentialsRefused: n.credentialsRefused } : {}),
      ...(this.authenticated ? { authenticated: true } : {}),
      ...extra,
    };
  }

  /** The header for a request before any 407 on it (pre-emptive), or undefined. */
  async first(request: AuthRequest): Promise<string | undefined> {
    // A new request on this connection: a handshake of an earlier one is not continued (a 407
    // on an authenticated connection starts a new one; it is no refusal of the last).
    this.session = undefined;
    this.scheme = undefined;
    const failed: SchemeName[] = [];
    for (let step = 0; step < MAX_STEPS; step++) {
      const { action } = decide(undefined, this.auth.state(), this.state(true, { failed }));
      switch (action.kind) {
        case 'none':
          return undefined;
        case 'fail':
          throw this.failure(action, []);
        case 'discover':
          // Ours to go out bare (the proxy's 407 names its schemes), or known meanwhile: decide again.
          if (await this.auth.discover(this)) return undefined;
          continue;
        case 'send': {
          if (action.password && !(await this.mayTry())) return undefined;
          const h = await this.run(request, action, undefined);
          if (h) return h;
          failed.push(action.scheme);
        }
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
    this.authenticated = false;
    // A person may answer (again): wrong credentials are told and asked for again, as many times
    // as they like; Cancel ends it (E_PROXY_AUTH_CANCELLED).
    for (;;) {
      try {
        return await this.answer(request, header, info);
      } catch (err) {
        this.auth.discovered(this); // nobody waits for our question
        if (!(err instanceof SymsrvError) || (err.code !== 'E_PROXY_AUTH' && err.code !== 'E_PROXY_AUTH_REQUIRED')) throw err;
        if (err.final) throw err;
        const challenges = parseChallenges(header);
        // Only a password scheme can use what a person types (Negotiate too, when it falls back to NTLM).
        const p = this.auth.state();
        const ntlmInside = p.kerberosUnavailable && !p.ntlmInsideFailed;
        if (!chooseScheme(challenges, p.allowed).some((s) => s !== 'negotiate' || ntlmInside)) throw err;
        const realm = challenges.find((c) => c.params['realm'])?.params['realm'];
        const names = [...new Set(challenges.map((c) => TITLE[c.scheme as SchemeName] ?? c.scheme))];
        if (!(await this.auth.ask(names, realm, err.code === 'E_PROXY_AUTH'))) throw err;
        // New credentials: start over on this request, with no half-done handshake.
        this.session = undefined;
        this.scheme = undefined;
      }
    }
  }

  private async answer(request: AuthRequest, header: string | string[] | undefined, info: { sameConnection: boolean }): Promise<string> {
    const a = this.auth;
    const challenges = parseChallenges(header);
    if (!a.refused) a.offered(challenges);
    const failed: SchemeName[] = [];
    let stalled = false;
    try {
      for (let step = 0; step < MAX_STEPS; step++) {
        const { action, learnt } = decide(challenges, a.state(), this.state(info.sameConnection, { failed, stalled }));
        if (learnt.kerberosRefused) a.kerberosUnavailable('the proxy refused the Kerberos token');
        if (learnt.ntlmInsideFailed) a.ntlmInsideUnavailable((this.session as NegotiateSession | undefined)?.lastError ?? "the proxy's Negotiate does not take NTLM");
        if (action.kind !== 'send') throw this.failure(action, challenges);
        if (action.password) await this.tryOrThrow();
        // Our answer to the discovery 407 is settled (and holds the trial when it carries the
        // password): the connections waiting for the schemes may go.
        a.discovered(this);
        const h = await this.run(request, action, challenges);
        if (h) return h;
        if (action.how === 'continue') stalled = true;
        else failed.push(action.scheme);
      }
      throw this.refused();
    } finally {
      a.discovered(this);
    }
  }

  /** Carries out a `send`: the session's next header, or undefined when it has nothing. */
  private async run(request: AuthRequest, action: Extract<Action, { kind: 'send' }>, challenges: Challenge[] | undefined): Promise<string | undefined> {
    const a = this.auth;
    const { scheme } = action;
    const shared = scheme === 'basic' || scheme === 'digest';
    let session: AuthSession | undefined;
    if (action.how === 'continue') session = this.session;
    else if (scheme === 'basic' || scheme === 'digest') session = a.shared(scheme);
    else session = this.newSession(scheme, action.mechanism);
    if (!session) return undefined;
    let h: string | undefined;
    if (challenges) {
      h = await session.respond(request, challengeFor(challenges, scheme));
    } else {
      h = await session.respond(request, undefined);
      // A new connection to a proxy whose Basic or Digest challenge is known: answer it up front
      // (to that proxy only, on this connection), instead of going bare for a 407 that says the same.
      const known = shared && h === undefined ? a.knownChallenge(scheme) : undefined;
      if (known) h = await session.respond(request, known);
    }
    this.noteKerberos(session);
    if (h) {
      this.session = session;
      this.scheme = scheme;
      a.sent(scheme);
    } else if (scheme === 'negotiate' && action.how === 'start') {
      const n = session as NegotiateSession;
      a.kerberosUnavailable(n.lastError ?? 'no Kerberos ticket', n.kerberosMissing);
    }
    return h;
  }

  private failure(action: Exclude<Action, { kind: 'send' }>, challenges: Challenge[]): SymsrvError {
    const a = this.auth;
    if (action.kind !== 'fail') return this.refused(); // `none`/`discover` never answer a 407
    switch (action.reason) {
      case 'unusable':
        return unusableError(a.proxy, challenges, a.allowed);
      case 'required':
        return requiredError(a.proxy, challenges, a.reasons);
      case 'refused':
        return a.refused ?? this.refused(action.scheme);
    }
  }

  /** The proxy let the request through: what it carried works on this proxy (and connection). */
  accepted(): void {
    this.auth.accepted(this, this.label());
    if (this.scheme === 'ntlm' || this.scheme === 'negotiate') this.authenticated = true;
  }

  /** The proxy refused the credentials (E_PROXY_AUTH); recorded so that they are not sent again. */
  refused(scheme: AcceptedScheme | undefined = this.label()): SymsrvError {
    const a = this.auth;
    const error = refusedError(a.proxy, a.credentials, scheme, a.reasons);
    // Kerberos proves nothing about the password: only a refused password is remembered.
    if (scheme !== 'negotiate' && a.credentials) a.refuse(this, error);
    else a.settle(this);
    return error;
  }

  /**
   * A 401 where a 407 was due. On a CONNECT only the proxy can have sent it; on a plain-HTTP
   * request it may be the origin's: undefined then when the proxy already accepted these
   * credentials (the origin's 401, reported as such by the store), else an error naming both.
   */
  refused401(request: AuthRequest, sentHeader: boolean): SymsrvError | undefined {
    if (request.method === 'CONNECT') return sentHeader ? this.refused() : connect401(this.auth.proxy, request.uri);
    if (!sentHeader || this.auth.provenCredentials) return undefined;
    this.auth.settle(this);
    return ambiguous401(this.auth.proxy, this.auth.credentials, request.uri);
  }

  /** The request ended without an answer on the credentials (network error, abort, lost socket). */
  settle(): void {
    this.auth.settle(this);
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
    if (this.scheme === 'negotiate' && (this.session as NegotiateSession | undefined)?.mechanism === 'ntlm') return 'negotiate-ntlm';
    return this.scheme;
  }

  /** Why Kerberos could not be used, once a Negotiate session found out (also when NTLM took over). */
  private noteKerberos(session: AuthSession | undefined): void {
    if (session?.scheme !== 'negotiate') return;
    const n = session as NegotiateSession;
    if (n.kerberosError !== undefined) this.auth.kerberosUnavailable(n.kerberosError, n.kerberosMissing);
  }

  /** A connection scheme's session (Basic and Digest sessions are shared: ProxyAuth.shared). */
  private newSession(scheme: 'ntlm' | 'negotiate', mechanism: 'kerberos' | 'kerberos-then-ntlm' | 'ntlm' | undefined): AuthSession | undefined {
    const a = this.auth;
    const creds = a.credentials;
    if (scheme === 'ntlm') return creds ? createNtlmSession(creds) : undefined;
    if (mechanism === undefined) return undefined;
    const load = a.loadKerberos;
    return createNegotiateSession({
      proxyHost: a.proxy.hostname,
      ...(mechanism !== 'kerberos' && creds ? { fallbackNtlm: creds } : {}),
      ...(mechanism === 'ntlm' ? { kerberosUnavailable: a.reasons.kerberos } : {}),
      ...(load ? { loadKerberos: load } : {}),
    });
  }
}

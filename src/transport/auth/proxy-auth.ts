import { SymsrvError } from '../../errors.js';
import { createBasicSession } from './basic.js';
import { challengeFor, chooseScheme, parseUserSpec } from './challenge.js';
import type { CredentialRequest } from '../../prompts/types.js';
import { createDigestSession } from './digest.js';
import type { KerberosLike } from './negotiate.js';
import type { ProxyState } from './decide.js';
import { SCHEME_STRENGTH, TITLE, type AcceptedScheme, type AuthSession, type Challenge, type SchemeName } from './types.js';
import type { ResolvedCredentials } from './credentials.js';
import { Turn } from './turn.js';
import { describeProxy } from '../select/select.js';

/** Longest wait for another connection's discovery of the schemes, or its first try of new credentials. */
const TURN_WAIT_MS = 60_000;

export interface ProxyAuthOptions {
  /**
   * Schemes allowed, in the order to prefer them (`--proxy-auth LIST`); default strongest first.
   * A list of one is "the scheme named": sent before the proxy asks (curl's --proxy-ntlm).
   */
  allowed?: readonly SchemeName[];
  /** Credentials for schemes that need a password (NTLM, Digest, Basic). */
  credentials?: ResolvedCredentials | undefined;
  /**
   * Asks a person when no credentials were given, or when the proxy refused the ones asked for.
   * Returns undefined when prompts are off (then the error says how to give credentials).
   */
  prompt?: (request: CredentialRequest) => Promise<{ user: string; password: string } | null | undefined>;
  /** Tests: a stand-in for `import('kerberos')` (negotiate.ts). */
  loadKerberos?: () => Promise<KerberosLike>;
}

/**
 * Authentication with one proxy: the one owner of what is known of it. Connections
 * (ConnectionAuth) read it as a snapshot (`state()`, for the pure `decide`) and tell it what they
 * learn through its verbs: `offered` (a 407's schemes), `accepted`, `refuse`,
 * `kerberosUnavailable`, `ntlmInsideUnavailable`, `settle`. Basic and Digest sessions are shared
 * by every connection to it (the Digest nonce is reused with a growing nonce count); NTLM and
 * Negotiate sessions belong to a connection.
 */
export class ProxyAuth {
  readonly allowed: readonly SchemeName[];
  /** The scheme the user named (a list of one), sent up front from the start. */
  private readonly named: SchemeName | undefined;
  private creds: ResolvedCredentials | undefined;
  private basic: AuthSession | undefined;
  private digest: AuthSession | undefined;
  /** A `DOMAIN\user` whose password went as Basic (said under `--verbose`: see `describe`). */
  private basicForDomainUser: string | undefined;
  /** The scheme of the last accepted request, for `!sym noisy` and `--verbose`. */
  private lastAccepted: AcceptedScheme | undefined;
  /** The connection scheme that worked: new connections open with its first message. */
  private worked: 'ntlm' | 'negotiate' | undefined;
  /** Why Kerberos cannot work in this session (no ticket, no library...): not tried again. */
  private kerberosWhy: string | undefined;
  /** The `kerberos` package is missing or does not load (the message then says how to get it). */
  private kerberosMissing = false;
  /** Why this proxy's Negotiate takes no NTLM: NTLM inside Negotiate is not tried again. */
  private ntlmInsideWhy: string | undefined;
  /** The schemes the proxy's last 407 offered that we may use; undefined before its first answer. */
  private known: readonly SchemeName[] | undefined;
  /** That 407's challenges: a new connection answers Basic's or Digest's up front. */
  private challenges: Challenge[] = [];
  /**
   * The credentials this proxy refused, and its error. They are never sent again: every try is
   * one more failed logon toward the account's lockout, and a run of 200 files would otherwise
   * try each file (and each probe) once. Only new credentials (from the prompt) are tried.
   */
  private refusal: { credentials: ResolvedCredentials; error: SymsrvError } | undefined;
  /** The credentials this proxy accepted once: from then on every connection sends them at once. */
  private proven: ResolvedCredentials | undefined;
  /** One question at a time per proxy: parallel connections that need credentials wait for the same answer. */
  private asking: Promise<boolean> | undefined;
  /** One request learns the proxy's schemes while the others wait (see `discover`). */
  private readonly discovery = new Turn(TURN_WAIT_MS);
  /** One connection at a time tries unproven credentials (see `trial`). */
  private readonly trialTurn = new Turn(TURN_WAIT_MS);

  constructor(
    readonly proxy: URL,
    private readonly options: ProxyAuthOptions = {},
  ) {
    this.allowed = options.allowed ?? SCHEME_STRENGTH;
    this.named = options.allowed?.length === 1 ? options.allowed[0] : undefined;
    this.creds = options.credentials;
  }

  get credentials(): ResolvedCredentials | undefined {
    return this.creds;
  }

  get loadKerberos(): (() => Promise<KerberosLike>) | undefined {
    return this.options.loadKerberos;
  }

  /** What `decide` needs to know of this proxy, now. */
  state(): ProxyState {
    return {
      allowed: this.allowed,
      named: this.named,
      credentials: this.creds !== undefined,
      known: this.known,
      worked: this.worked,
      kerberosUnavailable: this.kerberosWhy !== undefined,
      ntlmInsideFailed: this.ntlmInsideWhy !== undefined,
      refused: this.refused !== undefined,
      canAsk: this.options.prompt !== undefined,
    };
  }

  /** Why Kerberos and NTLM inside Negotiate could not be used, for messages. */
  get reasons(): { kerberos: string | undefined; kerberosMissing: boolean; ntlmInside: string | undefined } {
    return { kerberos: this.kerberosWhy, kerberosMissing: this.kerberosMissing, ntlmInside: this.ntlmInsideWhy };
  }

  // ---- verbs: what connections tell the proxy's state ----

  /** The proxy answered a 407 with these challenges: its schemes are known from now on. */
  offered(challenges: Challenge[]): void {
    this.known = chooseScheme(challenges, this.allowed);
    this.challenges = challenges;
  }

  /**
   * The proxy let a request through. `scheme`: what it carried (undefined: nothing), `by` the
   * connection; a connection scheme is then used on new connections at once.
   */
  accepted(by: object, scheme: AcceptedScheme | undefined): void {
    this.known ??= []; // answered without asking: nothing to discover
    this.discovery.release(by);
    if (scheme === undefined) {
      this.trialTurn.release(by);
      return;
    }
    this.lastAccepted = scheme;
    // Kerberos proves nothing about the password; every other scheme sent it.
    if (scheme !== 'negotiate' && this.creds) this.proven = this.creds;
    if (scheme !== 'negotiate') this.trialTurn.release(by, true);
    else this.trialTurn.release(by);
    if (scheme === 'ntlm' || scheme === 'negotiate' || scheme === 'negotiate-ntlm') this.worked = scheme === 'ntlm' ? 'ntlm' : 'negotiate';
  }

  /** A SOCKS5 server took the current credentials (RFC 1929): proven, as after a Basic answer went through. */
  acceptedBySocks(by: object): void {
    this.known ??= [];
    this.discovery.release(by);
    if (this.creds) this.proven = this.creds;
    this.trialTurn.release(by, true);
  }

  /** The proxy refused the current credentials: never sent again (`error` is what later requests get). */
  refuse(by: object, error: SymsrvError): void {
    if (this.creds) this.refusal = { credentials: this.creds, error };
    this.trialTurn.release(by, true);
  }

  kerberosUnavailable(why: string, missing = false): void {
    this.kerberosWhy ??= why;
    if (missing) this.kerberosMissing = true;
  }

  ntlmInsideUnavailable(why: string): void {
    this.ntlmInsideWhy ??= why;
  }

  /** `by` is done with the request without an answer on the credentials (network error, abort): the next one may try. */
  settle(by: object): void {
    this.discovery.release(by);
    this.trialTurn.release(by);
  }

  // ---- turns ----

  /**
   * Until the proxy has named its schemes, one request goes out bare to learn them and the
   * others wait for its 407 (a proxy such as tinyproxy refuses any Proxy-Authorization it cannot
   * check, so nothing is guessed; and 50 files at once must not cost 50 discovery 407s).
   * Resolves true when `by` is to go out bare; false when the schemes are known meanwhile.
   */
  discover(by: object): Promise<boolean> {
    return this.discovery.take(by, () => this.known === undefined);
  }

  /** `by` has sent its answer to the discovery 407: the others may go. */
  discovered(by: object): void {
    this.discovery.release(by);
  }

  /**
   * Until the proxy has accepted the current credentials once, one connection at a time may send
   * them. With 8 downloads at a time a wrong password would otherwise be 8 failed logons at once,
   * enough to lock an Active Directory account (lockout thresholds are often 3 to 10). The others
   * wait for that first handshake; then they all go (credentials proven) or fail (refused, see
   * `refuse`). It costs one handshake's latency once per session.
   */
  async trial(by: object): Promise<void> {
    await this.trialTurn.take(by, () => this.creds !== undefined && this.proven !== this.creds && this.refused === undefined);
  }

  /** Whether the proxy accepted the current credentials once (a 401 after that is the origin's). */
  get provenCredentials(): boolean {
    return this.creds !== undefined && this.proven === this.creds;
  }

  /** The refusal of the current credentials, if the proxy refused them. */
  get refused(): SymsrvError | undefined {
    return this.refusal && this.refusal.credentials === this.creds ? this.refusal.error : undefined;
  }

  /** Whether a prompt can give other credentials than the ones refused. */
  get canAsk(): boolean {
    return this.options.prompt !== undefined;
  }

  /**
   * Asks for (new) credentials. Resolves true when there are new ones to try; false when prompts
   * are off; throws E_PROXY_AUTH_CANCELLED when the person cancels. Answers live in memory only,
   * for this proxy only.
   */
  ask(schemes: string[], realm: string | undefined, refused: boolean): Promise<boolean> {
    const prompt = this.options.prompt;
    if (!prompt) return Promise.resolve(false);
    const before = this.creds;
    this.asking ??= (async () => {
      try {
        const answer = await prompt({
          proxy: describeProxy(this.proxy),
          schemes,
          ...(realm ? { realm } : {}),
          refused,
          ...(before ? { user: before.typed } : {}),
        });
        if (answer === undefined) return false;
        if (answer === null || !answer.user) {
          throw new SymsrvError('E_PROXY_AUTH_CANCELLED', `proxy authentication for ${describeProxy(this.proxy)} was cancelled: Internet symbol stores are off for this session`, {
            subject: describeProxy(this.proxy),
          });
        }
        const spec = parseUserSpec(answer.user);
        this.creds = { ...spec, password: answer.password, source: 'option', typed: answer.user };
        this.basic = undefined;
        this.digest = undefined;
        this.worked = undefined;
        return true;
      } finally {
        this.asking = undefined;
      }
    })();
    // Someone else's question already answered while we waited counts as new credentials too.
    return this.asking.then((fresh) => fresh || this.creds !== before);
  }

  /** The proxy's shared Basic or Digest session (undefined without credentials). */
  shared(scheme: 'basic' | 'digest'): AuthSession | undefined {
    const creds = this.creds;
    if (!creds) return undefined;
    if (scheme === 'basic') return (this.basic ??= createBasicSession(creds));
    return (this.digest ??= createDigestSession(creds));
  }

  /** The proxy's last challenge of `scheme`, for a new connection's answer before any 407 on it. */
  knownChallenge(scheme: SchemeName): Challenge | undefined {
    return challengeFor(this.challenges, scheme);
  }

  /** A header of `scheme` went to the proxy (for `describe`). */
  sent(scheme: SchemeName): void {
    if (scheme === 'basic' && this.creds?.domain) this.basicForDomainUser = this.creds.typed;
  }

  /**
   * The scheme the proxy last accepted, as a person reads it (`--verbose`, `!sym noisy`). When a
   * `DOMAIN\user` password went as Basic, it says so: that is a Windows account's password, only
   * base64-encoded on the way to the proxy. curl does the same with --proxy-anyauth when the
   * proxy offers only Basic, so it is sent (the proxy asked for it), but not silently;
   * `--proxy-auth` without basic refuses it.
   */
  describe(): string | undefined {
    const s = this.lastAccepted ? TITLE[this.lastAccepted] : undefined;
    if (this.basicForDomainUser === undefined || (this.lastAccepted !== undefined && this.lastAccepted !== 'basic')) return s;
    const note = `the password of the Windows account ${this.basicForDomainUser} went as Basic, readable by anyone on the way to the proxy: it offers nothing stronger`;
    return s ? `${s} (${note})` : note;
  }
}

import { SymsrvError } from '../../errors.js';
import { createBasicSession } from './basic.js';
import { parseUserSpec } from './challenge.js';
import type { CredentialRequest } from '../../prompts/types.js';
import { createDigestSession } from './digest.js';
import { SCHEME_STRENGTH, type AcceptedScheme, type AuthSession, type SchemeName } from './types.js';
import { ConnectionAuth } from './connection-auth.js';
import type { ResolvedCredentials } from './credentials.js';
import { describeProxy } from '../select/select.js';

/** Longest wait for another connection's first try of new credentials (ProxyAuth.trial). */
const TRIAL_WAIT_MS = 60_000;

export interface ProxyAuthOptions {
  /** Schemes allowed, in the order to prefer them (`--proxy-auth LIST`); default strongest first. */
  allowed?: readonly SchemeName[];
  /** Credentials for schemes that need a password (NTLM, Digest, Basic). */
  credentials?: ResolvedCredentials | undefined;
  /**
   * Asks a person when no credentials were given, or when the proxy refused the ones asked for.
   * Returns undefined when prompts are off (then the error says how to give credentials).
   */
  prompt?: (request: CredentialRequest) => Promise<{ user: string; password: string } | null | undefined>;
}

/**
 * Authentication with one proxy. Basic and Digest state is shared by every connection to it (the
 * Digest nonce is reused with a growing nonce count, so requests after the first challenge are
 * signed up front). NTLM and Negotiate authenticate a connection: each connection gets its own
 * session from `connection()`, and once a scheme worked, new connections start its handshake
 * right away (curl's behaviour for NTLM) instead of waiting for a 407.
 */
export class ProxyAuth {
  readonly allowed: readonly SchemeName[];
  private basic: AuthSession | undefined;
  private digest: AuthSession | undefined;
  /** The scheme of the last accepted request, for `!sym noisy` and `--verbose`. */
  lastAccepted: AcceptedScheme | undefined;
  /** The connection scheme that worked: new connections open with its first message. */
  connectionScheme: 'ntlm' | 'negotiate' | undefined;
  /** Why Kerberos cannot work in this session (no ticket...): not tried again. */
  negotiateUnavailable: string | undefined;
  /** Why this proxy's Negotiate takes no NTLM (it ignored a Type 1): NTLM inside Negotiate is not tried again. */
  ntlmInsideFailed: string | undefined;
  /** The schemes the proxy's last 407 offered that we may use (undefined before any 407). */
  offered: readonly SchemeName[] | undefined;
  /** Connection schemes sent up front that this proxy turned out not to offer: not sent up front again. */
  readonly notOffered = new Set<SchemeName>();
  /**
   * The credentials this proxy refused, and its error. They are never sent again: every try is
   * one more failed logon toward the account's lockout, and a run of 200 files would otherwise
   * try each file (and each probe) once. Only new credentials (from the prompt) are tried.
   */
  refusal: { credentials: ResolvedCredentials; error: SymsrvError } | undefined;

  constructor(
    readonly proxy: URL,
    private readonly options: ProxyAuthOptions = {},
  ) {
    this.allowed = options.allowed ?? SCHEME_STRENGTH;
    this.creds = options.credentials;
  }

  private creds: ResolvedCredentials | undefined;
  /** One question at a time per proxy: parallel connections that need credentials wait for the same answer. */
  private asking: Promise<boolean> | undefined;

  get credentials(): ResolvedCredentials | undefined {
    return this.creds;
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
        this.connectionScheme = undefined;
        return true;
      } finally {
        this.asking = undefined;
      }
    })();
    // Someone else's question already answered while we waited counts as new credentials too.
    return this.asking.then((fresh) => fresh || this.creds !== before);
  }

  /** The credentials this proxy accepted once: from then on every connection sends them at once. */
  private proven: ResolvedCredentials | undefined;
  /** The connection trying credentials not yet proven, and the connections waiting for it. */
  private trialHolder: ConnectionAuth | undefined;
  private trialWaiters: Array<() => void> = [];

  /**
   * Until the proxy has accepted the current credentials once, one connection at a time may send
   * them. With 8 downloads at a time a wrong password would otherwise be 8 failed logons at once,
   * enough to lock an Active Directory account (lockout thresholds are often 3 to 10). The others
   * wait for that first handshake; then they all go (credentials proven) or fail (refused, see
   * `refusal`). It costs one handshake's latency once per session.
   */
  async trial(c: ConnectionAuth): Promise<void> {
    const deadline = Date.now() + TRIAL_WAIT_MS;
    while (this.creds && this.proven !== this.creds && this.trialHolder && this.trialHolder !== c) {
      const left = deadline - Date.now();
      if (left <= 0) break; // a holder that never reported back (a bug of ours): never hang on it
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.trialWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (this.creds && this.proven !== this.creds && !this.refused) this.trialHolder = c;
  }

  /** `c` is done with the credentials it sent: accepted, refused, or failed otherwise (settle). */
  endTrial(c: ConnectionAuth, accepted: boolean): void {
    if (accepted && this.creds) this.proven = this.creds;
    if (this.trialHolder !== c && !accepted) return;
    this.trialHolder = undefined;
    const waiters = this.trialWaiters;
    this.trialWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Whether a prompt can give other credentials than the ones refused. */
  get canAsk(): boolean {
    return this.options.prompt !== undefined;
  }

  /** The refusal of the current credentials, if the proxy refused them. */
  get refused(): SymsrvError | undefined {
    return this.refusal && this.refusal.credentials === this.creds ? this.refusal.error : undefined;
  }

  shared(scheme: 'basic' | 'digest'): AuthSession | undefined {
    const creds = this.creds;
    if (!creds) return undefined;
    if (scheme === 'basic') return (this.basic ??= createBasicSession(creds));
    return (this.digest ??= createDigestSession(creds));
  }

  /** The state of one new connection to the proxy. */
  connection(): ConnectionAuth {
    return new ConnectionAuth(this);
  }
}

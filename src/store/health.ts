import { SymsrvError } from '../errors.js';

/**
 * Failing stores are remembered (symstore's `_clientFailure`, symbolicator's host deny-list): a
 * store that refused the connection, failed TLS, timed out connecting, or answered 401/403 will
 * answer the next key the same way. Without this a 200-key fetch against a dead store cost ~400
 * failing probes (the file and `index2.txt` for each key) and as many timeouts.
 */

/** How long a library or server remembers a failure by default: it may have been passing. */
export const DEFAULT_FAILURE_TTL_MS = 5 * 60 * 1000;

/** Codes of a host that cannot be reached at all (the socket's errno, or the resolver's). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL']);
const TLS = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_|ERR_SSL_)/;

/** Whether `err` says the whole store is unusable, not just this key. */
export function isStoreDown(err: unknown): boolean {
  if (!(err instanceof SymsrvError)) return false;
  if (err.code === 'E_HTTP_STATUS') return err.status === 401 || err.status === 403;
  if (err.code === 'E_TIMEOUT') return /timed out connecting/.test(err.message);
  if (err.code !== 'E_NETWORK') return false;
  const cause = err.cause as { code?: string; cause?: { code?: string } } | undefined;
  const code = cause?.code ?? cause?.cause?.code ?? '';
  return UNREACHABLE.has(code) || TLS.test(code);
}

/** One store's remembered failure. */
export class StoreHealth {
  private failure: SymsrvError | undefined;
  private until = 0;

  /** `ttlMs`: how long a failure is remembered (Infinity: for the rest of the run). */
  constructor(private readonly ttlMs: number = DEFAULT_FAILURE_TTL_MS) {}

  /** The failure to answer with instead of asking the store, while it is remembered. */
  current(): SymsrvError | undefined {
    if (this.failure && Date.now() < this.until) return this.failure;
    this.failure = undefined;
    return undefined;
  }

  /** Remembers `err` if it says the store is down; returns it either way, for rethrowing. */
  record(err: unknown): unknown {
    if (isStoreDown(err)) {
      this.failure = err as SymsrvError;
      this.until = Date.now() + this.ttlMs;
    }
    return err;
  }
}

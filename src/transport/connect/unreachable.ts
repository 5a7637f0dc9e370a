import { SymsrvError } from '../../errors.js';
import { describeProxy } from '../select/select.js';

/** Socket errors that mean the proxy could not be reached at all (no answer was ever possible). */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);

export function isConnectFailure(err: unknown): boolean {
  return CONNECT_FAILURES.has((err as NodeJS.ErrnoException)?.code ?? '');
}

/**
 * "cannot reach the proxy": the one error for a proxy that could not be connected to, marked so
 * that the transport tries the next candidate of a PAC answer (`PROXY a; PROXY b; DIRECT`).
 * Tunnels (tunnel.ts) and plain-HTTP lanes (forward.ts) both raise it.
 */
export function unreachableProxy(proxy: URL, err: unknown): SymsrvError {
  const where = describeProxy(proxy);
  const e = err as NodeJS.ErrnoException;
  return new SymsrvError('E_PROXY', `cannot reach the proxy ${where}: ${e?.code ?? e?.message ?? String(err)}`, { cause: err, subject: where, unreachable: true });
}

export function isUnreachableProxy(err: unknown): boolean {
  return err instanceof SymsrvError && err.unreachable;
}

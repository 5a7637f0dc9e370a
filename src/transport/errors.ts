import { SymsrvError } from '../errors.js';
import { redactUrl } from '../redact.js';

export { redactUrl };

const TIMEOUT_CODES = new Set(['ETIMEDOUT']);

/** TLS verification failures: retrying cannot help, and the message must say what to do. */
const TLS_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_)/;

/**
 * The TLS handshake met bytes that are not TLS at all (a plain-HTTP server, a proxy's block page
 * after its 200 to CONNECT): not a certificate problem, and --cacert cannot mend it.
 */
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_UNKNOWN_PROTOCOL', 'ERR_SSL_RECORD_LAYER_FAILURE']);

export function isNotTls(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  return NOT_TLS_CODES.has(e?.code ?? e?.cause?.code ?? '');
}

/** What toTransportError reads of an AbortSignal (or a RequestGuard): whether and why it aborted. */
export interface AbortState {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

/** Turns whatever the http module or the socket threw into a SymsrvError naming the URL. */
export function toTransportError(err: unknown, url: string, signal?: AbortState): SymsrvError {
  if (err instanceof SymsrvError) return err;
  // Our own timers abort with the SymsrvError that says which timeout fired.
  if (signal?.aborted && signal.reason instanceof SymsrvError) return signal.reason;
  const where = redactUrl(url);
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  // Timeouts and caller aborts come as SymsrvErrors from the RequestGuard (above); this is a
  // signal aborted with a reason of its own.
  if (signal?.aborted) return new SymsrvError('E_ABORTED', `GET ${where}: aborted`, { cause: err, subject: where });
  if (TIMEOUT_CODES.has(code)) {
    return new SymsrvError('E_TIMEOUT', `GET ${where}: timed out (${code})`, { cause: err, subject: where });
  }
  if (NOT_TLS_CODES.has(code)) {
    return new SymsrvError('E_NETWORK', `GET ${where}: the answer to the TLS handshake is not TLS (${code}): is it an http:// server?`, {
      cause: err,
      subject: where,
      retryable: false,
    });
  }
  if (TLS_CODES.test(code)) {
    return new SymsrvError(
      'E_NETWORK',
      `GET ${where}: TLS certificate check failed (${code}); if a proxy or private CA signs this server's certificate, pass it in the ca option or NODE_EXTRA_CA_CERTS`,
      { cause: err, subject: where, retryable: false },
    );
  }
  if (e?.message === 'aborted' && code === 'ECONNRESET') {
    // Node's word for a body cut short by the server.
    return new SymsrvError('E_NETWORK', `GET ${where}: the connection closed before the whole answer arrived`, { cause: err, subject: where });
  }
  const detail = [code, e?.cause?.message ?? e?.message].filter(Boolean).join(': ');
  return new SymsrvError('E_NETWORK', `GET ${where}: ${detail || 'network error'}`, { cause: err, subject: where });
}

/** Whether another try may succeed. */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof SymsrvError)) return false;
  if (err.retryable === false) return false;
  if (err.code === 'E_NETWORK' || err.code === 'E_TIMEOUT') return true;
  if (err.code === 'E_HTTP_STATUS') {
    const status = err.status ?? 0;
    return status === 429 || (status >= 500 && status !== 501 && status !== 505);
  }
  return false;
}

/** `headers`: the response's, for its Retry-After on a 429 or 503 (RFC 9110 §10.2.3). */
export function statusError(
  status: number,
  statusText: string,
  url: string,
  options: { retryable?: boolean; headers?: Record<string, string | string[] | undefined> } = {},
): SymsrvError {
  const where = redactUrl(url);
  const { headers, ...rest } = options;
  const retryAfter = (status === 429 || status === 503) && headers ? parseRetryAfter(headers['retry-after']) : undefined;
  return new SymsrvError('E_HTTP_STATUS', `Request failed with ${status}${statusText ? ' ' + statusText : ''}: GET ${where}`, {
    subject: where,
    status,
    ...rest,
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
}

/** Retry-After as ms: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

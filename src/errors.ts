import { escapeOutput } from './escape.js';
/**
 * One error type for everything symsrv reports, with a stable `code` to match on
 * (as undici does with `UND_ERR_*`): callers should test `err.code`, never the message.
 *
 * Bad input (a malformed file, a refused download) is a SymsrvError with a specific code.
 * A bug of ours is anything else (TypeError, RangeError...) and is never dressed up as bad input.
 */
export const ErrorCodes = {
  /** The file is not a PE image, or its headers are inconsistent. */
  E_BAD_PE: 'E_BAD_PE',
  /** The file is not an MSF 7.0 PDB, or its superblock/directory/streams are inconsistent. */
  E_BAD_PDB: 'E_BAD_PDB',
  /** The file is not an ELF file, or its headers/notes are inconsistent. */
  E_BAD_ELF: 'E_BAD_ELF',
  /** The file is not a Mach-O file (thin or fat), or its headers/load commands are inconsistent. */
  E_BAD_MACHO: 'E_BAD_MACHO',
  /** The file is not a minidump (MDMP), or its stream directory/module list is inconsistent. */
  E_BAD_MINIDUMP: 'E_BAD_MINIDUMP',
  /** The file is of no format we compute keys for. */
  E_UNKNOWN_FORMAT: 'E_UNKNOWN_FORMAT',
  /** A file ends before a structure it declares (a short read). */
  E_TRUNCATED: 'E_TRUNCATED',
  /** A key is malformed or has a component that could escape a store (`..`, `/`, `\`, NUL). */
  E_BAD_KEY: 'E_BAD_KEY',
  /** A symbol path element cannot be understood. */
  E_BAD_SYMBOL_PATH: 'E_BAD_SYMBOL_PATH',
  /** No store on the symbol path has the file. */
  E_NOT_FOUND: 'E_NOT_FOUND',
  /** Connecting, sending or receiving failed (after the retries). */
  E_NETWORK: 'E_NETWORK',
  /** A connect, header or body timeout fired. */
  E_TIMEOUT: 'E_TIMEOUT',
  /** A server answered with a status we cannot use (other than 404). */
  E_HTTP_STATUS: 'E_HTTP_STATUS',
  /** What arrived is not the file that was asked for (HTML page, wrong GUID, wrong magic). */
  E_INVALID_CONTENT: 'E_INVALID_CONTENT',
  /** A compressed file symsrv does not use as is: a Quantum CAB, or a CAB given where a key is computed (`symsrv key x.pd_`). */
  E_COMPRESSED_UNSUPPORTED: 'E_COMPRESSED_UNSUPPORTED',
  /** A compressed store file (`.pd_`, a Microsoft Cabinet) is malformed: bad structure, checksum or compressed data. */
  E_BAD_CAB: 'E_BAD_CAB',
  /** A `file.ptr` names a target that cannot be used. */
  E_BAD_POINTER: 'E_BAD_POINTER',
  /** The proxy could not be used: unreachable, refused the tunnel (403), or did not speak HTTP. */
  E_PROXY: 'E_PROXY',
  /** The proxy demands authentication and no credentials were given (the message says how to give them). */
  E_PROXY_AUTH_REQUIRED: 'E_PROXY_AUTH_REQUIRED',
  /** The proxy refused the credentials given, or no offered scheme could be used. */
  E_PROXY_AUTH: 'E_PROXY_AUTH',
  /** The person cancelled the proxy credential prompt: Internet stores are off for the session. */
  E_PROXY_AUTH_CANCELLED: 'E_PROXY_AUTH_CANCELLED',
  /** Reading or writing a local file or folder failed. */
  E_IO: 'E_IO',
  /** The operation was aborted by the caller. */
  E_ABORTED: 'E_ABORTED',
  /** Wrong use of the CLI or API (bad option value). */
  E_USAGE: 'E_USAGE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface SymsrvErrorOptions {
  cause?: unknown;
  /** The file or URL the error is about, when there is one. */
  subject?: string;
  /** The HTTP status that caused it (E_HTTP_STATUS). */
  status?: number;
  /** False when another try cannot succeed (a TLS check, a bad redirect); undefined: the code decides (isRetryable). */
  retryable?: boolean;
  /** The proxy could not be reached at all: the transport tries the next candidate of a PAC answer. */
  unreachable?: boolean;
  /** No prompt can mend it (the proxy offers no scheme symsrv can use): asking for other credentials is pointless. */
  final?: boolean;
  /** The server's Retry-After on a 429 or 503, in ms: the retry waits that long (retry.ts). */
  retryAfter?: number;
}

export class SymsrvError extends Error {
  readonly code: ErrorCode;
  readonly subject: string | undefined;
  readonly status: number | undefined;
  readonly retryable: boolean | undefined;
  readonly unreachable: boolean;
  readonly final: boolean;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options: SymsrvErrorOptions = {}) {
    // Messages quote outside text (a reason phrase, a PAC answer, a file.ptr): its control
    // characters are escaped here, once, for every log and terminal a message may reach.
    super(escapeOutput(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SymsrvError';
    this.code = code;
    this.subject = options.subject;
    this.status = options.status;
    this.retryable = options.retryable;
    this.unreachable = options.unreachable === true;
    this.final = options.final === true;
    this.retryAfter = options.retryAfter;
  }
}

export function isSymsrvError(err: unknown, code?: ErrorCode): err is SymsrvError {
  return err instanceof SymsrvError && (code === undefined || err.code === code);
}

/** An error's message (or whatever was thrown, as text), for messages that quote a cause. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

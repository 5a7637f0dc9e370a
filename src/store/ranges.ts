import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { SymsrvError } from '../errors.js';
import type { SymbolKey } from '../keys/key.js';
import { toTransportError } from '../transport/errors.js';
import { withRetry, type RetryPolicy } from '../transport/retry.js';
import type { HttpResponse } from '../transport/transport.js';
import { BodyGuard } from './bound.js';

/**
 * Large files in parallel ranges (issue 16, target 2): one TCP stream is capped by the window and
 * the path's latency (and per connection by some proxies and CDNs); several ranges over the pool's
 * connections use the link better. Hand-written: no npm downloader writes ranges into a caller's
 * temp file over a caller's transport (proxy authentication, pools, retries live there).
 */

/**
 * Files at least this large are split. Below it a split buys little: four extra requests (through
 * an authenticating proxy each may cost a handshake) against a body that one stream moves in well
 * under a second on a fast link; above it the split pays on any link capped per connection.
 * `SYMSRV_RANGE_THRESHOLD` (bytes) overrides it, for tests and tuning.
 */
export const RANGE_THRESHOLD = envBytes('SYMSRV_RANGE_THRESHOLD') ?? 64 * 1024 * 1024;

/** Parts per file (further bounded by the connections per origin). */
export const RANGE_PARTS = 4;

/** Bytes gathered per positioned write: few, large writes (as download.ts's write buffer); memory per part stays this. */
const WRITE_CHUNK = 1024 * 1024;

function envBytes(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

export interface RangeOptions {
  threshold: number;
  parts: number;
  retry: RetryPolicy;
  /** GETs the response's URL with these extra headers (a `Range`). */
  get(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<HttpResponse>;
}

/**
 * A part came back as something else than the range asked for: the caller downloads in one stream.
 * A SymsrvError so that writeAtomically passes it through as it is; never retried as such.
 */
export class RangesRefused extends SymsrvError {
  constructor(message: string, subject: string) {
    super('E_HTTP_STATUS', message, { subject, retryable: false });
  }
}

/** Whether `res` (a first GET) may be split: a 200 with a Content-Length at least `threshold`, and `Accept-Ranges: bytes`. */
export function canSplit(res: HttpResponse, threshold: number): boolean {
  const accept = res.headers['accept-ranges'];
  return (
    res.status === 200 &&
    res.contentLength !== undefined &&
    res.contentLength >= threshold &&
    /(^|,)\s*bytes\s*(,|$)/i.test(Array.isArray(accept) ? accept.join(',') : (accept ?? ''))
  );
}

export interface SplitTarget {
  key: SymbolKey;
  limit: number;
  where: string;
  signal?: AbortSignal | undefined;
  onBytes?: ((n: number) => void) | undefined;
}

/**
 * Writes `res`'s body (Content-Length `total`) into `temp`: the first part from `res` itself (through
 * the BodyGuard: the magic check holds), the others from Range GETs in parallel, each in place.
 * A part answered otherwise than `206` with the matching Content-Range throws RangesRefused; any
 * failure stops every part (the caller removes the temp file).
 */
export async function writeRanges(res: HttpResponse, temp: string, total: number, t: SplitTarget, o: RangeOptions): Promise<void> {
  const parts = Math.max(1, Math.min(o.parts, Math.floor(total / (1024 * 1024)) || 1));
  const size = Math.ceil(total / parts);
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(t.signal?.reason);
  t.signal?.addEventListener('abort', onAbort, { once: true });
  const handle = await open(temp, 'w');
  try {
    const first = (async () => {
      const guarded = res.body.pipe(new BodyGuard(t.key, false, t.limit, t.where));
      res.body.once('error', (err) => guarded.destroy(err));
      // A destroyed body ends no pipe: the guard is ended with the reason, so the sink stops too.
      stop.signal.addEventListener('abort', () => guarded.destroy(new SymsrvError('E_ABORTED', `GET ${t.where}: stopped`, { subject: t.where })), { once: true });
      try {
        await sink(guarded, handle, 0, Math.min(size, total), res.url, t, stop.signal);
      } finally {
        // The rest of this body is another part's: the connection is dropped, not drained.
        res.body.destroy();
      }
    })();
    const others: Promise<void>[] = [];
    for (let start = size; start < total; start += size) {
      const end = Math.min(start + size, total) - 1;
      others.push(
        withRetry(
          async () => {
            const p = await o.get(res.url, { range: `bytes=${start}-${end}` }, stop.signal);
            const cr = p.headers['content-range'];
            if (p.status !== 206 || cr !== `bytes ${start}-${end}/${total}`) {
              await p.discard();
              const what = p.status === 206 ? 'another Content-Range' : `status ${p.status}`;
              throw new RangesRefused(`${t.where}: asked bytes ${start}-${end}, got ${what}`, t.where);
            }
            try {
              await sink(p.body, handle, start, end - start + 1, p.url, t, stop.signal);
            } finally {
              p.body.destroy();
            }
          },
          o.retry,
          stop.signal,
        ),
      );
    }
    // The first failure stops the others and is the one reported (theirs are then E_ABORTED);
    // a refused range wins, as it turns into one stream.
    let failure: unknown;
    const all = [first, ...others].map((p) =>
      p.catch((err: unknown) => {
        if (failure === undefined || (err instanceof RangesRefused && !(failure instanceof RangesRefused))) failure = err;
        stop.abort();
      }),
    );
    await Promise.all(all);
    if (failure !== undefined) throw failure;
  } finally {
    t.signal?.removeEventListener('abort', onAbort);
    await handle.close();
  }
}

/**
 * Reads `length` bytes of `body` into `handle` at `position`, in writes of up to WRITE_CHUNK;
 * each write is awaited before the next chunk is read, so memory stays flat whatever the file.
 */
async function sink(body: Readable, handle: FileHandle, position: number, length: number, url: string, t: SplitTarget, signal: AbortSignal): Promise<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let at = position;
  let got = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const bufs = pending;
    const n = pendingBytes;
    pending = [];
    pendingBytes = 0;
    try {
      await handle.writev(bufs, at);
    } catch (err) {
      throw new SymsrvError('E_IO', `cannot write ${t.where} into its temp file: ${(err as NodeJS.ErrnoException).code}`, { cause: err, subject: t.where });
    }
    at += n;
  };
  try {
    for await (const c of body) {
      let chunk = c as Buffer;
      if (got + chunk.length > length) chunk = chunk.subarray(0, length - got);
      got += chunk.length;
      pending.push(chunk);
      pendingBytes += chunk.length;
      t.onBytes?.(chunk.length);
      if (pendingBytes >= WRITE_CHUNK) await flush();
      if (got >= length) break;
    }
  } catch (err) {
    if (err instanceof SymsrvError) throw err;
    throw toTransportError(err, url, signal.aborted ? signal : t.signal);
  }
  await flush();
  if (got !== length) {
    throw new SymsrvError('E_NETWORK', `GET ${t.where}: a part ended after ${got} of ${length} bytes`, { subject: t.where });
  }
}

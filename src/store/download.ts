import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SymsrvError } from '../errors.js';
import type { SymbolKey } from '../keys/key.js';
import type { HttpResponse } from '../transport/transport.js';
import { redactUrl, toTransportError } from '../transport/errors.js';
import { writeAtomically } from './atomic.js';
import { checkContent } from './validate.js';

export interface DownloadOptions {
  key: SymbolKey;
  /** The body is a compressed store file (`.pd_`): checked as a CAB, not against the key. */
  compressed?: boolean;
  signal?: AbortSignal;
  /** Called with each chunk's size as it is written. */
  onBytes?: (n: number) => void;
}

/**
 * Streams a response body into `dir/fileName` through a temp file, checks its length and its
 * content against the key, and only then renames it into place. Memory stays flat whatever the
 * size: the body flows chunk by chunk from the socket to the disk.
 */
export async function saveResponse(res: HttpResponse, dir: string, fileName: string, options: DownloadOptions): Promise<string> {
  const where = redactUrl(res.url);
  return writeAtomically(dir, fileName, async (temp) => {
    let received = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        options.onBytes?.(chunk.length);
        done(null, chunk);
      },
    });
    try {
      await pipeline(res.body, counter, createWriteStream(temp), options.signal ? { signal: options.signal } : {});
    } catch (err) {
      if (err instanceof SymsrvError) throw err;
      // A write error is ours (disk full, permissions); anything else came from the connection.
      if ((err as NodeJS.ErrnoException).syscall === 'write' || (err as NodeJS.ErrnoException).syscall === 'open') {
        throw new SymsrvError('E_IO', `cannot write ${temp}: ${(err as NodeJS.ErrnoException).code}`, { cause: err, subject: temp });
      }
      throw toTransportError(err, res.url, options.signal);
    }
    if (res.contentLength !== undefined && received !== res.contentLength) {
      throw new SymsrvError(
        'E_NETWORK',
        `GET ${where}: the connection ended after ${received} of ${res.contentLength} bytes`,
        { subject: where },
      );
    }
    await checkContent(temp, options.key, { compressed: options.compressed ?? false, origin: where });
  });
}

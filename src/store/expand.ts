import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { SymsrvError } from '../errors.js';
import { expandCab } from '../formats/cab/expand.js';
import type { SymbolKey } from '../keys/key.js';
import { writeAtomically } from './atomic.js';
import { checkContent } from './validate.js';

/** Expanded bytes buffered toward the disk: bounded, so memory stays flat in the file's size. */
const WRITE_BUFFER = 8 * 1024 * 1024;

export interface ExpandIntoOptions {
  key: SymbolKey;
  /** The cabinet's file or URL (without credentials), for messages. */
  origin: string;
  /** Turns a failure of the source stream (a dropped connection, a read error) into a SymsrvError. */
  sourceError: (err: unknown) => SymsrvError;
}

/**
 * Expands a compressed store file (`name.pd_`, a CAB) streaming in from `source` into
 * `dir/key.name`, as SymSrv leaves it: the expanded bytes go to a temp file as they are decoded,
 * the result is checked against the key (GUID/age, timestamp/size, build-id), and only then
 * renamed into place. A malformed or cut cabinet leaves no file.
 */
export async function expandInto(source: AsyncIterable<Buffer>, dir: string, options: ExpandIntoOptions): Promise<string> {
  const { key, origin } = options;
  return writeAtomically(dir, key.name, async (temp) => {
    const file = createWriteStream(temp, { highWaterMark: WRITE_BUFFER });
    let writeError: unknown;
    file.on('error', (err) => (writeError ??= err));
    try {
      await expandCab(guard(source, options.sourceError), {
        name: origin,
        wanted: key.name,
        write: async (chunk) => {
          if (writeError) throw fileError(temp, writeError);
          if (!file.write(chunk)) await drained(file, temp);
        },
      });
      file.end();
      await once(file, 'close');
    } catch (err) {
      file.destroy();
      throw err;
    }
    if (writeError) throw fileError(temp, writeError);
    await checkContent(temp, key, { origin });
  });
}

/** Passes the source's chunks on; its failures become SymsrvErrors (a cut body is not bad CAB data). */
async function* guard(source: AsyncIterable<Buffer>, toError: (err: unknown) => SymsrvError): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of source) yield chunk;
  } catch (err) {
    throw err instanceof SymsrvError ? err : toError(err);
  }
}

async function drained(file: WriteStream, temp: string): Promise<void> {
  try {
    await once(file, 'drain');
  } catch (err) {
    throw fileError(temp, err);
  }
}

function fileError(temp: string, err: unknown): SymsrvError {
  return new SymsrvError('E_IO', `cannot write ${temp}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err, subject: temp });
}

import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SymsrvError } from '../errors.js';
import { expandCab } from '../formats/cab/expand.js';
import type { ByteSource } from '../io/source.js';

/** Bytes read from the cabinet at a time. */
const CHUNK = 1024 * 1024;

/**
 * Runs `fn` on the file a compressed store file (`name.pd_`, `name.dl_`: a one-file CAB) holds,
 * expanded into a private temp folder that is removed afterwards. The formats' parsers need random
 * access (a PDB is an MSF file of scattered pages), a cabinet gives the bytes only in order: so the
 * file is expanded to disk first, streaming, never whole in memory. `fn` gets the file's path and
 * its name as the cabinet records it: the name SymSrv files it under (`ntdll.pdb` for `ntdll.pd_`).
 */
export async function withExpanded<T>(src: ByteSource, fn: (path: string, name: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'symsrv-key-'));
  try {
    const temp = join(dir, 'expanded');
    const out = createWriteStream(temp, { mode: 0o600 });
    let writeError: unknown;
    out.on('error', (err) => (writeError ??= err));
    let expanded;
    try {
      expanded = await expandCab(chunks(src), {
        name: src.name,
        write: async (chunk) => {
          if (writeError) throw ioError(temp, writeError);
          if (!out.write(chunk)) await once(out, 'drain');
        },
      });
      out.end();
      await once(out, 'close');
    } finally {
      out.destroy();
    }
    if (writeError) throw ioError(temp, writeError);
    const name = expanded.name.slice(Math.max(expanded.name.lastIndexOf('\\'), expanded.name.lastIndexOf('/')) + 1);
    return await fn(temp, name);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function* chunks(src: ByteSource): AsyncGenerator<Buffer> {
  for (let at = 0; at < src.size; at += CHUNK) yield await src.read(at, Math.min(CHUNK, src.size - at), 'cabinet data');
}

function ioError(path: string, err: unknown): SymsrvError {
  return new SymsrvError('E_IO', `cannot write the expanded file ${path}: ${(err as Error).message}`, { subject: path, cause: err });
}

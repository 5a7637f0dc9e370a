import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { SymsrvError } from '../errors.js';

/**
 * A read-only byte source with positioned reads. Parsers never read a whole file: they ask
 * for the few ranges they need, so a multi-GB PDB costs a few pages of memory.
 */
export interface ByteSource {
  /** A name for messages (the file path, or a label). */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Reads exactly `length` bytes at `position`. A read that would pass the end of the source
   * fails with E_TRUNCATED (the message says what was being read), never returns short data.
   */
  read(position: number, length: number, what?: string): Promise<Buffer>;
  close(): Promise<void>;
}

function truncated(name: string, position: number, length: number, size: number, what?: string): SymsrvError {
  const thing = what ? `${what} ` : '';
  return new SymsrvError(
    'E_TRUNCATED',
    `${name}: ${thing}at offset 0x${position.toString(16)} (${length} bytes) runs past the end of the file (${size} bytes)`,
    { subject: name },
  );
}

function checkRange(name: string, size: number, position: number, length: number, what?: string): void {
  if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0) {
    throw truncated(name, position, length, size, what);
  }
  if (position + length > size) throw truncated(name, position, length, size, what);
}

/** Reads are served from a few cached pages: parsers ask for many small ranges near each other. */
const PAGE = 64 * 1024;
const PAGES = 4;

/**
 * A ByteSource over a file on disk. Small reads go through a tiny page cache (4 × 64 KiB, least
 * recently used out): a PE or ELF header walk is dozens of reads of a few bytes each, and each
 * uncached read is a thread-pool round trip. Memory stays bounded whatever the file's size.
 */
export class FileSource implements ByteSource {
  private readonly pages = new Map<number, Buffer>();

  private constructor(
    readonly name: string,
    readonly size: number,
    private readonly handle: FileHandle,
  ) {}

  static async open(path: string): Promise<FileSource> {
    let handle: FileHandle;
    try {
      // O_NONBLOCK: opening a FIFO (or a device) for reading would otherwise block until a writer
      // comes, forever; with it the open returns at once and the type check below refuses it.
      // A regular file's reads are not affected by the flag.
      handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw new SymsrvError('E_IO', `cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
        cause: err,
        subject: path,
      });
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new SymsrvError('E_IO', `${path} is not a regular file`, { subject: path });
      return new FileSource(path, st.size, handle);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async read(position: number, length: number, what?: string): Promise<Buffer> {
    checkRange(this.name, this.size, position, length, what);
    const first = Math.floor(position / PAGE);
    if (length > 0 && first === Math.floor((position + length - 1) / PAGE)) {
      const page = await this.page(first, what);
      const at = position - first * PAGE;
      return Buffer.from(page.subarray(at, at + length));
    }
    return this.readDirect(position, length, what);
  }

  private async page(index: number, what?: string): Promise<Buffer> {
    let page = this.pages.get(index);
    if (page) {
      this.pages.delete(index); // re-insert: most recently used last
    } else {
      const start = index * PAGE;
      page = await this.readDirect(start, Math.min(PAGE, this.size - start), what);
      if (this.pages.size >= PAGES) this.pages.delete(this.pages.keys().next().value!);
    }
    this.pages.set(index, page);
    return page;
  }

  private async readDirect(position: number, length: number, what?: string): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, position + done);
      // The file shrank under us: report it as truncation rather than returning garbage.
      if (bytesRead === 0) throw truncated(this.name, position, length, position + done, what);
      done += bytesRead;
    }
    return buf;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** A ByteSource over bytes in memory (tests, and small blobs already read). */
export class BufferSource implements ByteSource {
  constructor(
    private readonly bytes: Buffer,
    readonly name = '<buffer>',
  ) {}

  get size(): number {
    return this.bytes.length;
  }

  async read(position: number, length: number, what?: string): Promise<Buffer> {
    checkRange(this.name, this.size, position, length, what);
    return this.bytes.subarray(position, position + length);
  }

  async close(): Promise<void> {}
}

/** Opens `path`, runs `fn` on it, and closes it on every exit path. */
export async function withFile<T>(path: string, fn: (src: ByteSource) => Promise<T>): Promise<T> {
  const src = await FileSource.open(path);
  try {
    return await fn(src);
  } finally {
    await src.close();
  }
}

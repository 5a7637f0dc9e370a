import { SymsrvError } from '../../errors.js';

/**
 * A forward-only reader over a stream of chunks (an HTTP body, a file read stream): a cabinet is
 * expanded as it arrives, so nothing but the bytes asked for is held. Reads are exact; a stream
 * that ends early is an E_BAD_CAB naming what was being read.
 */
export class StreamReader {
  private chunk: Buffer = Buffer.alloc(0);
  private at = 0;
  private done = false;
  /** Bytes consumed so far: the offset in the cabinet of the next byte. */
  position = 0;

  constructor(
    private readonly source: AsyncIterator<Buffer | Uint8Array | string>,
    private readonly name: string,
  ) {}

  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.length) {
      if (this.done) return false;
      const next = await this.source.next();
      if (next.done) {
        this.done = true;
        return false;
      }
      const v = next.value;
      this.chunk = Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.from(v.buffer, v.byteOffset, v.length);
      this.at = 0;
    }
    return true;
  }

  private short(what: string): SymsrvError {
    return new SymsrvError('E_BAD_CAB', `${this.name}: the cabinet ends inside ${what} (at offset 0x${this.position.toString(16)})`, {
      subject: this.name,
    });
  }

  /** Exactly `n` bytes. The result may share memory with the stream's chunk: use it before the next read. */
  async read(n: number, what: string): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    if (!(await this.fill())) throw this.short(what);
    if (this.chunk.length - this.at >= n) {
      const out = this.chunk.subarray(this.at, this.at + n);
      this.at += n;
      this.position += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      if (!(await this.fill())) throw this.short(what);
      const take = Math.min(n - got, this.chunk.length - this.at);
      this.chunk.copy(out, got, this.at, this.at + take);
      this.at += take;
      got += take;
      this.position += take;
    }
    return out;
  }

  /** Moves forward to `offset` (a cabinet's structures are read in stream order only). */
  async skipTo(offset: number, what: string): Promise<void> {
    if (offset < this.position) {
      throw new SymsrvError(
        'E_BAD_CAB',
        `${this.name}: ${what} at offset 0x${offset.toString(16)} lies before the data already read (0x${this.position.toString(16)}); ` +
          'a cabinet is read in one pass and its parts must come in order',
        { subject: this.name },
      );
    }
    let left = offset - this.position;
    while (left > 0) {
      if (!(await this.fill())) throw this.short(what);
      const take = Math.min(left, this.chunk.length - this.at);
      this.at += take;
      this.position += take;
      left -= take;
    }
  }

  /**
   * Reads what is left of the stream, up to `limit` bytes, so an HTTP connection can be reused;
   * a longer or failing remainder is cut instead (the stream is closed). Never throws.
   */
  async finish(limit: number): Promise<void> {
    let left = limit;
    try {
      while (!this.done && left >= 0) {
        left -= this.chunk.length - this.at;
        this.at = this.chunk.length;
        if (left >= 0) await this.fill();
      }
    } catch {
      // the remainder is not ours to judge
    }
    if (!this.done) await this.close();
  }

  /** Closes the source (a file stream's descriptor, an HTTP body's socket). */
  async close(): Promise<void> {
    this.done = true;
    await this.source.return?.().catch(() => undefined);
  }

  /** A NUL-terminated string of at most `max` bytes (the NUL not counted), as latin1/UTF-8 bytes. */
  async cString(max: number, what: string): Promise<Buffer> {
    const bytes: number[] = [];
    for (;;) {
      const b = (await this.read(1, what))[0]!;
      if (b === 0) return Buffer.from(bytes);
      if (bytes.length >= max) {
        throw new SymsrvError('E_BAD_CAB', `${this.name}: ${what} is longer than ${max} bytes`, { subject: this.name });
      }
      bytes.push(b);
    }
  }
}

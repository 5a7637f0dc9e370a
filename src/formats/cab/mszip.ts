import { constants, inflateRawSync } from 'node:zlib';
import { SymsrvError } from '../../errors.js';
import { MAX_BLOCK_UNCOMPRESSED } from './cab.js';

/** Deflate's window: each MSZIP block may refer to the previous 32 KiB of the folder's output. */
const HISTORY = 32 * 1024;

/**
 * MSZIP ([MS-MCI] 2): each CFDATA is "CK" then a raw deflate stream that may refer back into the
 * previous block's output. Node's zlib does the inflate (a preset dictionary is exactly "the
 * previous 32 KiB"); only the framing is ours. Output per block is bounded by the block's declared
 * size, so a deflate bomb costs at most 32 KiB.
 */
export class MsZipDecoder {
  private history: Buffer = Buffer.alloc(0);

  constructor(private readonly name: string) {}

  decode(data: Buffer, cbUncomp: number, index: number): Buffer {
    if (data.length < 2 || data[0] !== 0x43 || data[1] !== 0x4b) {
      throw this.bad(index, 'does not start with the MSZIP signature "CK"');
    }
    let out: Buffer;
    try {
      out = inflateRawSync(data.subarray(2), {
        ...(this.history.length > 0 ? { dictionary: this.history } : {}),
        maxOutputLength: MAX_BLOCK_UNCOMPRESSED,
        // A block's deflate stream need not end with a final block: take what it holds.
        finishFlush: constants.Z_SYNC_FLUSH,
      });
    } catch (err) {
      throw this.bad(index, `is not valid deflate data (${(err as Error).message})`);
    }
    if (out.length !== cbUncomp) throw this.bad(index, `expands to ${out.length} bytes, not the ${cbUncomp} it declares`);
    this.history =
      out.length >= HISTORY ? Buffer.from(out.subarray(out.length - HISTORY)) : Buffer.concat([this.history, out]).subarray(-HISTORY);
    return out;
  }

  private bad(index: number, what: string): SymsrvError {
    return new SymsrvError('E_BAD_CAB', `${this.name}: MSZIP data block ${index} ${what}`, { subject: this.name });
  }
}

import { SymsrvError } from '../../errors.js';
import { buildTable, type HuffTable } from './lzx-huffman.js';

/**
 * LZX as CAB uses it ([MS-PATCH] "LZX DELTA Compression and Decompression" describes the format;
 * the CAB flavour has no reference data). Hand-written: npm has no maintained LZX decoder (checked
 * `npm view lzx`, `cab`, `mspack`, the registry's name list), and none that streams. Checked
 * against libmspack/cabextract on libmspack's own test cabinets and on cabinets it reads.
 *
 * One CFDATA block is one 32 KiB frame. State that spans frames: the window (2^15..2^21 bytes),
 * the current block (type, bytes left, its trees), the repeated offsets R0-R2, the tree lengths
 * (each block's lengths are deltas from the previous block's). Memory is the window plus the
 * tables, whatever the size of the file.
 */

const MIN_MATCH = 2;
const NUM_CHARS = 256;
const PRETREE_SYMS = 20;
const LENGTH_SYMS = 249;
const ALIGNED_SYMS = 8;
/** Writes past a tree's last symbol land here, as in libmspack (a run may overshoot by up to 50). */
const LENTABLE_SAFETY = 64;
/** E8 translation stops after this many frames (1 GiB of output), per the format. */
const E8_MAX_FRAMES = 32768;
/** Bytes a frame may read past its block's end (bit-buffer look-ahead) before the data is called short. */
const OVERREAD = 16;

const BLOCK_VERBATIM = 1;
const BLOCK_ALIGNED = 2;
const BLOCK_UNCOMPRESSED = 3;

/** Position slots per window size (15..21 bits). */
const POSITION_SLOTS: Record<number, number> = { 15: 30, 16: 32, 17: 34, 18: 36, 19: 38, 20: 42, 21: 50 };
const EXTRA_BITS = new Uint8Array(51);
const POSITION_BASE = new Uint32Array(51);
for (let i = 0, base = 0; i < 51; i++) {
  EXTRA_BITS[i] = i < 4 ? 0 : Math.min((i - 2) >> 1, 17);
  POSITION_BASE[i] = base;
  base += 1 << EXTRA_BITS[i]!;
}

function emptyTable(): HuffTable {
  return { table: new Uint16Array(0), bits: 0 };
}

export class LzxDecoder {
  private readonly window: Uint8Array;
  private readonly windowSize: number;
  private readonly mainSyms: number;
  private windowPosn = 0;
  /** Where the current frame starts in the window. */
  private framePosn = 0;
  /** Bytes output so far (all frames). */
  private offset = 0;
  private frame = 0;
  private r0 = 1;
  private r1 = 1;
  private r2 = 1;
  private headerRead = false;
  private e8Size = 0;
  private blockType = 0;
  private blockLength = 0;
  private blockRemaining = 0;
  private readonly mainLen: Uint8Array;
  private readonly lengthLen = new Uint8Array(LENGTH_SYMS + LENTABLE_SAFETY);
  private readonly alignedLen = new Uint8Array(ALIGNED_SYMS);
  private readonly preLen = new Uint8Array(PRETREE_SYMS);
  private readonly main = emptyTable();
  private readonly length = emptyTable();
  private readonly aligned = emptyTable();
  private readonly pre = emptyTable();

  // Bit reader over the current frame's input: 16-bit little-endian words, bits taken MSB first.
  private input: Uint8Array = new Uint8Array(0);
  private end = 0;
  private ip = 0;
  private bitBuf = 0;
  private bitCount = 0;
  /** Input left over after a frame (a block holding more than its frame): read first by the next. */
  private carry: Uint8Array | undefined;

  constructor(
    windowBits: number,
    private readonly name: string,
  ) {
    const slots = POSITION_SLOTS[windowBits];
    if (slots === undefined) throw this.bad(`LZX window of 2^${windowBits} bytes (must be 2^15..2^21)`);
    this.windowSize = 1 << windowBits;
    this.window = new Uint8Array(this.windowSize);
    this.mainSyms = NUM_CHARS + slots * 8;
    this.mainLen = new Uint8Array(this.mainSyms + LENTABLE_SAFETY);
  }

  private bad(what: string): SymsrvError {
    return new SymsrvError('E_BAD_CAB', `${this.name}: ${what}`, { subject: this.name });
  }

  private corrupt(what: string): SymsrvError {
    return this.bad(`LZX frame ${this.frame}: ${what}`);
  }

  // ---- bits ----

  private ensure(n: number): void {
    while (this.bitCount < n) {
      const ip = this.ip;
      let w = 0;
      if (ip + 1 < this.end) w = this.input[ip]! | (this.input[ip + 1]! << 8);
      else if (ip < this.end) w = this.input[ip]!;
      else if (ip > this.end + OVERREAD) throw this.corrupt('the compressed data ends early');
      this.ip = ip + 2;
      this.bitBuf = (this.bitBuf << 16) | w;
      this.bitCount += 16;
    }
  }

  /** Up to 16 bits. */
  private bits(n: number): number {
    this.ensure(n);
    this.bitCount -= n;
    return (this.bitBuf >>> this.bitCount) & ((1 << n) - 1);
  }

  private symbol(t: HuffTable, what: string): number {
    if (t.bits === 0) throw this.corrupt(`a ${what} symbol is used but the tree is empty`);
    this.ensure(t.bits);
    const e = t.table[(this.bitBuf >>> (this.bitCount - t.bits)) & ((1 << t.bits) - 1)]!;
    this.bitCount -= e & 31;
    return e >>> 5;
  }

  private rawByte(): number {
    if (this.ip >= this.end) throw this.corrupt('an uncompressed block ends early');
    return this.input[this.ip++]!;
  }

  // ---- trees ----

  /** Reads lengths [first, last) as pretree-coded deltas from the previous block's ([MS-PATCH] 2.2.2). */
  private readLengths(lens: Uint8Array, first: number, last: number): void {
    for (let i = 0; i < PRETREE_SYMS; i++) this.preLen[i] = this.bits(4);
    const why = buildTable(this.preLen, PRETREE_SYMS, this.pre, false);
    if (why) throw this.corrupt(`bad pretree: ${why}`);
    for (let x = first; x < last; ) {
      let z = this.symbol(this.pre, 'pretree');
      if (z === 17) {
        for (let y = this.bits(4) + 4; y > 0; y--) lens[x++] = 0;
      } else if (z === 18) {
        for (let y = this.bits(5) + 20; y > 0; y--) lens[x++] = 0;
      } else if (z === 19) {
        const y = this.bits(1) + 4;
        z = this.symbol(this.pre, 'pretree');
        if (z > 16) throw this.corrupt('a repeated length is itself a run code');
        const v = (lens[x]! - z + 17) % 17;
        for (let k = 0; k < y; k++) lens[x++] = v;
      } else {
        lens[x] = (lens[x]! - z + 17) % 17;
        x++;
      }
    }
  }

  private readBlockHeader(): void {
    if (this.blockType === BLOCK_UNCOMPRESSED) {
      // An odd-sized uncompressed block is followed by a pad byte; bits restart after it.
      if (this.blockLength & 1) this.rawByte();
      this.bitBuf = 0;
      this.bitCount = 0;
    }
    this.blockType = this.bits(3);
    this.blockLength = this.blockRemaining = (this.bits(16) << 8) | this.bits(8);
    switch (this.blockType) {
      case BLOCK_ALIGNED:
      case BLOCK_VERBATIM:
        // An aligned block's header is a verbatim one preceded by the aligned offset tree.
        if (this.blockType === BLOCK_ALIGNED) {
          for (let i = 0; i < ALIGNED_SYMS; i++) this.alignedLen[i] = this.bits(3);
          this.tree(this.alignedLen, ALIGNED_SYMS, this.aligned, false, 'aligned offset');
        }
        this.readLengths(this.mainLen, 0, NUM_CHARS);
        this.readLengths(this.mainLen, NUM_CHARS, this.mainSyms);
        this.tree(this.mainLen, this.mainSyms, this.main, false, 'main');
        this.readLengths(this.lengthLen, 0, LENGTH_SYMS);
        this.tree(this.lengthLen, LENGTH_SYMS, this.length, true, 'length');
        break;
      case BLOCK_UNCOMPRESSED: {
        // 1-16 bits of padding up to a 16-bit boundary (16 when already on one), then R0-R2.
        if (this.bitCount === 0) this.ensure(16);
        this.bitCount = 0;
        this.bitBuf = 0;
        const r = [0, 0, 0].map(() => this.rawByte() | (this.rawByte() << 8) | (this.rawByte() << 16) | (this.rawByte() << 24));
        this.r0 = r[0]! >>> 0;
        this.r1 = r[1]! >>> 0;
        this.r2 = r[2]! >>> 0;
        break;
      }
      default:
        throw this.corrupt(`block type ${this.blockType} does not exist`);
    }
  }

  private tree(lens: Uint8Array, count: number, t: HuffTable, allowEmpty: boolean, what: string): void {
    const why = buildTable(lens, count, t, allowEmpty);
    if (why) throw this.corrupt(`bad ${what} tree: ${why}`);
  }

  // ---- frames ----

  /**
   * Decodes one frame (one CFDATA block) of `frameSize` bytes (32 KiB but for the last) and returns
   * its output, E8-translated, in a new buffer the caller owns.
   */
  decodeFrame(data: Uint8Array, frameSize: number): Buffer {
    if (this.carry) {
      const joined = new Uint8Array(this.carry.length + data.length);
      joined.set(this.carry);
      joined.set(data, this.carry.length);
      data = joined;
      this.carry = undefined;
    }
    this.input = data;
    this.end = data.length;
    this.ip = 0;
    if (!this.headerRead) {
      // The stream header: whether E8 call translation is on, and the translation size.
      this.e8Size = this.bits(1) ? ((this.bits(16) << 16) | this.bits(16)) | 0 : 0;
      this.headerRead = true;
    }
    const framePosn = this.windowPosn;
    this.framePosn = framePosn;
    if (framePosn + frameSize > this.windowSize) throw this.corrupt('the frame does not fit the window');
    let todo = frameSize;
    while (todo > 0) {
      if (this.blockRemaining === 0) this.readBlockHeader();
      const run = Math.min(this.blockRemaining, todo);
      if (this.blockType === BLOCK_UNCOMPRESSED) this.copyStored(run);
      else this.decodeRun(run);
      this.blockRemaining -= run;
      todo -= run;
    }
    this.finishFrame();
    const out = Buffer.from(this.window.subarray(framePosn, framePosn + frameSize));
    if (this.e8Size !== 0 && this.frame < E8_MAX_FRAMES && frameSize > 10) translateE8(out, this.offset, this.e8Size);
    this.windowPosn = (framePosn + frameSize) & (this.windowSize - 1);
    this.offset += frameSize;
    this.frame++;
    return out;
  }

  /** After a frame the bit stream is realigned to 16 bits; a frame may not use bits past its data. */
  private finishFrame(): void {
    // (inside an uncompressed block the reader is byte-aligned and holds no bits: nothing to drop)
    this.bitCount -= this.bitCount & 15;
    if (this.bitCount === 16) this.ip -= 2; // a look-ahead word: it belongs to the next frame
    if (this.ip > this.end) throw this.corrupt('the compressed data ends early');
    this.carry = this.ip < this.end ? this.input.slice(this.ip, this.end) : undefined;
    this.bitBuf = 0;
    this.bitCount = 0;
  }

  private copyStored(run: number): void {
    if (this.ip + run > this.end) throw this.corrupt('an uncompressed block ends early');
    this.window.set(this.input.subarray(this.ip, this.ip + run), this.windowPosn);
    this.ip += run;
    this.windowPosn += run;
  }

  /** Decodes `run` bytes of a verbatim or aligned block into the window. The hot loop. */
  private decodeRun(run: number): void {
    const window = this.window;
    const windowSize = this.windowSize;
    const aligned = this.blockType === BLOCK_ALIGNED;
    const mainT = this.main.table;
    const mainBits = this.main.bits;
    const mainMask = (1 << mainBits) - 1;
    let posn = this.windowPosn;
    const stop = posn + run;
    let r0 = this.r0;
    let r1 = this.r1;
    let r2 = this.r2;
    // The main-tree lookup is inlined on local copies of the bit reader (it runs once per output
    // byte for literals); the copies go back to the fields before any other read.
    const input = this.input;
    const end = this.end;
    let ip = this.ip;
    let buf = this.bitBuf;
    let cnt = this.bitCount;
    while (posn < stop) {
      if (cnt < 16) {
        let w = 0;
        if (ip + 1 < end) w = input[ip]! | (input[ip + 1]! << 8);
        else if (ip < end) w = input[ip]!;
        else if (ip > end + OVERREAD) throw this.corrupt('the compressed data ends early');
        ip += 2;
        buf = (buf << 16) | w;
        cnt += 16;
      }
      const e = mainT[(buf >>> (cnt - mainBits)) & mainMask]!;
      cnt -= e & 31;
      const sym = e >>> 5;
      if (sym < NUM_CHARS) {
        window[posn++] = sym;
        continue;
      }
      this.ip = ip;
      this.bitBuf = buf;
      this.bitCount = cnt;
      const m = sym - NUM_CHARS;
      let len = m & 7;
      if (len === 7) len += this.symbol(this.length, 'length');
      len += MIN_MATCH;
      const slot = m >>> 3;
      let off: number;
      if (slot === 0) {
        off = r0;
      } else if (slot === 1) {
        off = r1;
        r1 = r0;
        r0 = off;
      } else if (slot === 2) {
        off = r2;
        r2 = r0;
        r0 = off;
      } else {
        const extra = EXTRA_BITS[slot]!;
        off = POSITION_BASE[slot]! - 2;
        if (aligned && extra >= 3) {
          if (extra > 3) off += this.bits(extra - 3) * 8;
          off += this.symbol(this.aligned, 'aligned offset');
        } else if (extra > 16) {
          off += this.bits(extra - 16) * 65536 + this.bits(16);
        } else if (extra > 0) {
          off += this.bits(extra);
        }
        r2 = r1;
        r1 = r0;
        r0 = off;
      }
      ip = this.ip;
      buf = this.bitBuf;
      cnt = this.bitCount;
      if (posn + len > stop) throw this.corrupt('a match runs past the end of its block or frame');
      // Nothing before the stream's first byte can be referred to (libmspack's "premature match" check).
      if (off > this.offset + (posn - this.framePosn)) {
        throw this.corrupt(`a match refers ${off} bytes back, before the start of the data`);
      }
      if (off > windowSize || off === 0) throw this.corrupt(`match offset ${off} outside the window`);
      let src = posn - off;
      if (src >= 0) {
        // No wrap: a far source is one copyWithin; a near one (a repeated pattern, overlapping the
        // destination) is copied a period at a time, each piece already written when read.
        if (off >= len) {
          window.copyWithin(posn, src, src + len);
          posn += len;
        } else if (off === 1) {
          window.fill(window[src]!, posn, posn + len);
          posn += len;
        } else if (off >= 8) {
          for (let left = len; left > 0; ) {
            const n = left < off ? left : off;
            window.copyWithin(posn, src, src + n);
            posn += n;
            src += n;
            left -= n;
          }
        } else {
          for (let k = 0; k < len; k++) window[posn++] = window[src++]!;
        }
        continue;
      }
      // The source wraps around the window's end (the destination never does: frames fit the window).
      src += windowSize;
      for (let k = 0; k < len; k++) {
        window[posn++] = window[src++]!;
        if (src === windowSize) src = 0;
      }
    }
    this.ip = ip;
    this.bitBuf = buf;
    this.bitCount = cnt;
    this.windowPosn = posn;
    this.r0 = r0;
    this.r1 = r1;
    this.r2 = r2;
  }
}

/**
 * Undoes the compressor's E8 call translation on one frame: the 32-bit operand after each 0xE8
 * byte was turned from relative to absolute (so repeated calls to one function compress well).
 * `start` is the frame's offset in the output, `size` the translation size from the stream header.
 */
export function translateE8(buf: Buffer, start: number, size: number): void {
  const end = buf.length - 10;
  let i = buf.indexOf(0xe8);
  while (i !== -1 && i < end) {
    const cur = start + i;
    const abs = buf.readInt32LE(i + 1);
    if (abs >= -cur && abs < size) {
      buf.writeInt32LE((abs >= 0 ? abs - cur : abs + size) | 0, i + 1);
    }
    i = buf.indexOf(0xe8, i + 5);
  }
}

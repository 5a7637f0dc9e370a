/**
 * Canonical Huffman decoding tables for LZX ([MS-PATCH] LZX DELTA 2.2; the CAB flavour uses the same
 * trees). A table has 2^bits entries, bits = the longest code; each entry holds (symbol << 5) | length.
 * Filling the whole table costs at most 64 Ki entries per tree per LZX block, which a block of
 * 32 KiB or more of output pays for many times over, and makes every decode one lookup.
 */
export interface HuffTable {
  table: Uint16Array;
  /** Index width (the longest code length); 0 for an empty tree. */
  bits: number;
}

/** Why a tree cannot be built, or undefined when it was. */
export function buildTable(lens: Uint8Array, count: number, out: HuffTable, allowEmpty: boolean): string | undefined {
  const perLength = new Uint16Array(17);
  let maxLen = 0;
  for (let s = 0; s < count; s++) {
    const l = lens[s]!;
    if (l > 16) return `code length ${l} over 16`;
    perLength[l]!++;
    if (l > maxLen) maxLen = l;
  }
  if (maxLen === 0) {
    out.bits = 0;
    return allowEmpty ? undefined : 'the tree has no codes';
  }
  // Kraft: the codes must fill the code space exactly (as libmspack requires); an over-full or
  // incomplete tree is a corrupt block, and an incomplete one would leave table holes.
  let left = 1;
  for (let l = 1; l <= 16; l++) {
    left = left * 2 - perLength[l]!;
    if (left < 0) return 'the tree is over-subscribed';
  }
  if (left !== 0) return 'the tree is incomplete';
  const next = new Uint32Array(17);
  let code = 0;
  for (let l = 1; l <= 16; l++) {
    code = (code + (l === 1 ? 0 : perLength[l - 1]!)) << 1; // zero-length symbols have no code
    next[l] = code;
  }
  const size = 1 << maxLen;
  if (out.table.length < size) out.table = new Uint16Array(size);
  const table = out.table;
  for (let s = 0; s < count; s++) {
    const l = lens[s]!;
    if (l === 0) continue;
    const c = next[l]!++;
    const span = 1 << (maxLen - l);
    const start = c << (maxLen - l);
    table.fill((s << 5) | l, start, start + span);
  }
  out.bits = maxLen;
  return undefined;
}

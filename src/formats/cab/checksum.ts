/**
 * The CFDATA checksum of the Microsoft Cabinet format ([MS-CAB] 2.6): the data's little-endian
 * 32-bit words XORed together, a tail of 1-3 bytes folded in most-significant byte first, then the
 * same over the block's cbData/cbUncomp fields with that as the seed. A stored checksum of 0 means
 * "none". Same definition as libmspack's cabd_checksum (the independent reader the tests use).
 */
export function cabChecksum(data: Uint8Array, seed = 0): number {
  let sum = seed | 0;
  const words = data.length >>> 2;
  let i = 0;
  for (let w = 0; w < words; w++, i += 4) {
    sum ^= data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
  }
  // The 1-3 bytes left over are folded in with the first of them most significant.
  let tail = 0;
  for (; i < data.length; i++) tail = (tail << 8) | data[i]!;
  return (sum ^ tail) >>> 0;
}

/** The checksum a CFDATA block should carry: over its data, then over its two size fields. */
export function blockChecksum(sizes: Uint8Array, data: Uint8Array): number {
  return cabChecksum(sizes, cabChecksum(data));
}

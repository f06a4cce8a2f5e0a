/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib, gzip and PNG; Python's zlib.crc32 gives the same
 * numbers), for checkpoint checksums. Plain TypeScript, so it runs in browsers as in Node, and
 * synchronous, so a checkpoint can be verified before anything is loaded from it. A flipped bit
 * anywhere is always detected, as is any burst of errors up to 32 bits long.
 *
 *   crc32(bytes)                       // one buffer
 *   crc32(b, crc32(a))                 // the CRC of a followed by b
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The CRC-32 of `bytes`, continuing from `previous` (the CRC of the bytes before them). */
export function crc32(bytes: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** The CRC as 8 lowercase hex digits. */
export function crc32Hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

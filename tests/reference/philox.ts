/**
 * CPU reference for Philox4x32-10 (Salmon et al., SC11; Random123's philox4x32 with 10 rounds) and
 * for the dropout keep rule of shaders/dropout.wgsl. Tests only.
 *
 * The 64-bit product is computed here with float64 arithmetic on a 16-bit split of one operand,
 * a different route from the shader's 16x16 limb products and carry columns, so a shared slip is
 * unlikely.
 */

export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;

const TWO_16 = 0x10000;
const TWO_32 = 0x100000000;

/** Elements per Philox call in the dropout rule: four 32-bit words, split into eight 16-bit draws. */
export const DROPOUT_BLOCK = 8;

/** [hi, lo] of the exact 64-bit product of two u32 values. */
export function mulhilo32(a: number, b: number): [number, number] {
  // a * b = u * 2^16 + t with t = a * b_lo < 2^48 and u = a * b_hi < 2^48, both exact in float64.
  const t = a * (b % TWO_16);
  const u = a * Math.floor(b / TWO_16);
  const uHigh = Math.floor(u / TWO_16);
  const rest = (u % TWO_16) * TWO_16 + t; // < 2^32 + 2^48: exact
  const hi = (uHigh + Math.floor(rest / TWO_32)) >>> 0;
  const lo = rest % TWO_32 >>> 0;
  return [hi, lo];
}

/** Philox4x32 with `rounds` rounds (10 is the standard, crush-resistant choice). */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>, rounds = 10, out = new Uint32Array(4)): Uint32Array {
  let c0 = counter[0] >>> 0, c1 = counter[1] >>> 0, c2 = counter[2] >>> 0, c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const [hi0, lo0] = mulhilo32(PHILOX_M0, c0);
    const [hi1, lo1] = mulhilo32(PHILOX_M1, c2);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/** Keep when the 16-bit draw is >= this: round(p * 2^16), in 0 .. 2^16 (2^16 keeps nothing). */
export function keepThreshold(p: number): number {
  return Math.round(p * TWO_16);
}

/**
 * The 16-bit draw of element j (0..7) of a block from the block's four Philox words: the low half
 * of word j for j < 4, the high half of word j - 4 for j >= 4.
 */
export function blockDraw(words: ArrayLike<number>, j: number): number {
  return j < 4 ? words[j] % TWO_16 : Math.floor(words[j - 4] / TWO_16);
}

/**
 * The dropout keep mask (1 = kept) of elements start .. start+n-1 under (seed, offset): element i
 * takes draw i % 8 of Philox(counter = (floor(i / 8), offset_lo, offset_hi, 0), key = (seed_lo, seed_hi)).
 */
export function dropoutKeepMask(n: number, p: number, seed: number, offset: number, start = 0): Uint8Array {
  const threshold = keepThreshold(p);
  const key = [seed % TWO_32, Math.floor(seed / TWO_32)];
  const offLo = offset % TWO_32;
  const offHi = Math.floor(offset / TWO_32);
  const mask = new Uint8Array(n);
  const counter = [0, offLo, offHi, 0];
  const words = new Uint32Array(4);
  let block = -1;
  for (let k = 0; k < n; k++) {
    const i = start + k;
    const b = Math.floor(i / DROPOUT_BLOCK);
    if (b !== block) {
      counter[0] = b;
      philox4x32(counter, key, 10, words);
      block = b;
    }
    mask[k] = blockDraw(words, i % DROPOUT_BLOCK) >= threshold ? 1 : 0;
  }
  return mask;
}

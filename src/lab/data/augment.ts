/**
 * Light training-time augmentation on the GPU (shaders/augment.wgsl): random shift and horizontal
 * flip of a batch of images [B, C, H, W], in one fused pass, optionally fused with the batch gather.
 *
 * - shift k: the image is padded by k pixels of `fill` on every side and cropped back to H × W at a
 *   random offset, i.e. translated by (dy, dx), each uniform in -k..k, with `fill` shifted in.
 * - flip p: with probability p the (cropped) image is mirrored left to right.
 *
 * Randomness is counter-based (Philox4x32-10, as dropout uses): the decisions for sample b of a
 * batch are a pure function of (seed, step, b), computed on the GPU; the CPU uploads only the
 * uniform block. `augmentDecision` is the CPU twin of the shader's rule, so a test (or a curious
 * user) can reproduce any augmented batch exactly. The op has no gradient: it is a data op, and
 * an input that requires grad is refused.
 */
import augmentSrc from '../../../shaders/augment.wgsl';
import philoxSrc from '../../../shaders/philox.wgsl';
import { engine } from '../../runtime/engine.js';
import { defineKernel } from '../../runtime/kernel.js';
import { checkSeedWord } from '../../runtime/generator.js';
import { isGradEnabled } from '../../runtime/autograd.js';
import { Tensor } from '../../runtime/tensor.js';
import { assertDtype, assertLive } from '../../nn/functional/util.js';
import { grid1d, Params } from '../../runtime/params.js';
import { describeValue } from '../../runtime/format.js';

const AUGMENT = defineKernel('augment', augmentSrc, { PHILOX: philoxSrc });

const TWO_24 = 0x1000000;
const TWO_32 = 0x100000000;
/** Largest shift: 2k + 1 must stay far below 2^21 so the CPU twin's products are exact in float64. */
export const MAX_AUGMENT_SHIFT = 1 << 16;

export interface AugmentOptions {
  /** Largest shift k in pixels along each axis (pad by k, crop back at a random offset); 0 = none. Default 0. */
  shift?: number;
  /** Probability of a horizontal flip; `true` means 0.5, `false` 0. Default false. */
  flip?: boolean | number;
  /** Value shifted in at the borders. Default 0 (black for raw [0, 1] images). */
  fill?: number;
}

export interface AugmentCallOptions extends AugmentOptions {
  /** Philox key: any integer in 0 .. 2^53 - 1. */
  seed: number;
  /** The training step (counter): distinct steps draw independent decisions. 0 .. 2^53 - 1. */
  step: number;
  /**
   * Fused gather: sample b of the output is row index[b] of x (a 1-D i32/u32 tensor), as with
   * indexSelect(x, 0, index); an index outside 0..rows-1 gives an all-fill sample.
   */
  index?: Tensor;
}

/** One sample's draws: translate by (dy, dx), then mirror when `flip`. */
export interface AugmentDecision {
  dy: number;
  dx: number;
  flip: boolean;
}

/** Resolved, checked options (also what the sampler stores). */
export interface ResolvedAugment {
  shift: number;
  flipProbability: number;
  fill: number;
}

/** Checks and fills in defaults; errors name `op`. */
export function resolveAugment(op: string, o: AugmentOptions = {}): ResolvedAugment {
  if (o === null || typeof o !== 'object') throw new Error(`${op}: augmentation options must be an object, got ${describeValue(o)}`);
  const shift = o.shift ?? 0;
  if (!Number.isInteger(shift) || shift < 0 || shift > MAX_AUGMENT_SHIFT) {
    throw new Error(`${op}: shift must be an integer in 0..${MAX_AUGMENT_SHIFT} (pixels), got ${describeValue(o.shift)}`);
  }
  const flip = o.flip ?? false;
  const flipProbability = flip === true ? 0.5 : flip === false ? 0 : flip;
  if (typeof flipProbability !== 'number' || !(flipProbability >= 0 && flipProbability <= 1)) {
    throw new Error(`${op}: flip must be true, false or a probability in [0, 1], got ${describeValue(o.flip)}`);
  }
  const fill = o.fill ?? 0;
  if (typeof fill !== 'number' || !Number.isFinite(fill)) throw new Error(`${op}: fill must be a finite number, got ${describeValue(o.fill)}`);
  return { shift, flipProbability, fill };
}

/** True when the options change nothing (no shift, never flip). */
export function isIdentityAugment(a: ResolvedAugment): boolean {
  return a.shift === 0 && a.flipProbability === 0;
}

/** Flip when the top 24 bits of the word are below round(p * 2^24): exact for p = 0 and p = 1. */
export function flipThreshold(p: number): number {
  return Math.round(p * TWO_24);
}

// ---- CPU twin of the shader's Philox ----

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
/** 'AUG': the counter's last word (see the shader header). */
export const AUGMENT_PHILOX_DOMAIN = 0x00415547;

/** [hi, lo] of the 64-bit product of two u32, from 16-bit limbs as in the shader. */
function mulhilo(a: number, b: number): [number, number] {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = Math.imul(a0, b0) >>> 0;
  const p01 = Math.imul(a0, b1) >>> 0;
  const p10 = Math.imul(a1, b0) >>> 0;
  const p11 = Math.imul(a1, b1) >>> 0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hi = (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
  const lo = ((mid << 16) | (p00 & 0xffff)) >>> 0;
  return [hi, lo];
}

/** Philox4x32-10 (Random123): four u32 words from a 4-word counter and a 2-word key. */
export function philox4x32_10(counter: readonly number[], key: readonly number[]): [number, number, number, number] {
  let c0 = counter[0] >>> 0, c1 = counter[1] >>> 0, c2 = counter[2] >>> 0, c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const [hi0, lo0] = mulhilo(PHILOX_M0, c0);
    const [hi1, lo1] = mulhilo(PHILOX_M1, c2);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  return [c0, c1, c2, c3];
}

const lo32 = (v: number) => v % TWO_32;
const hi32 = (v: number) => Math.floor(v / TWO_32);

/**
 * The shader's decisions for sample `sample` (its position in the batch) under (seed, step): the
 * CPU twin of shaders/augment.wgsl, exact. floor(word * (2k + 1) / 2^32) is exact in float64 since
 * the product stays below 2^53.
 */
export function augmentDecision(seed: number, step: number, sample: number, options: AugmentOptions = {}): AugmentDecision {
  checkSeedWord('augmentDecision', 'seed', seed);
  checkSeedWord('augmentDecision', 'step', step);
  if (!Number.isInteger(sample) || sample < 0 || sample >= TWO_32) {
    throw new Error(`augmentDecision: sample must be an integer in 0..2^32-1, got ${describeValue(sample)}`);
  }
  const a = resolveAugment('augmentDecision', options);
  const [w0, w1, w2] = philox4x32_10([sample, lo32(step), hi32(step), AUGMENT_PHILOX_DOMAIN], [lo32(seed), hi32(seed)]);
  const span = 2 * a.shift + 1;
  return {
    dy: Math.floor((w0 * span) / TWO_32) - a.shift,
    dx: Math.floor((w1 * span) / TWO_32) - a.shift,
    flip: w2 >>> 8 < flipThreshold(a.flipProbability),
  };
}

/** The decisions for samples 0..batchSize-1 of one step. */
export function augmentDecisions(seed: number, step: number, batchSize: number, options: AugmentOptions = {}): AugmentDecision[] {
  return Array.from({ length: batchSize }, (_, b) => augmentDecision(seed, step, b, options));
}

/**
 * CPU reference of the pixel rule for one [C, H, W] sample (float64 or f32 in, same type out):
 * out[c, y, x] = in[c, y + dy, xs + dx] with xs = flip ? W - 1 - x : x, `fill` outside.
 */
export function augmentSampleCpu(
  sample: ArrayLike<number>,
  channels: number,
  height: number,
  width: number,
  d: AugmentDecision,
  fill = 0,
): Float64Array {
  const out = new Float64Array(channels * height * width);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const sy = y + d.dy;
        const sx = (d.flip ? width - 1 - x : x) + d.dx;
        const inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        out[(c * height + y) * width + x] = inside ? sample[(c * height + sy) * width + sx] : fill;
      }
    }
  }
  return out;
}

/**
 * Augments a batch x [B, C, H, W] (f32), or with `index` the rows index[0..B-1] of a dataset tensor
 * x [rows, C, H, W] (gather and augment in one pass). Returns a fresh tensor [B, C, H, W]; the
 * caller disposes it. Options that change nothing still run the kernel (a plain copy/gather).
 */
export function augmentImages(x: Tensor, options: AugmentCallOptions): Tensor {
  const op = 'augmentImages';
  if (!(x instanceof Tensor)) throw new Error(`${op}: x must be a Tensor, got ${describeValue(x)}`);
  if (options === null || typeof options !== 'object') throw new Error(`${op}: options with a seed and a step are required`);
  assertLive(op, x);
  assertDtype(op, x, 'f32');
  if (x.rank !== 4) throw new Error(`${op}: images must have shape [B, C, H, W], got [${x.shape}]`);
  if (x.requiresGrad && isGradEnabled()) {
    throw new Error(`${op}: the input requires grad, but augmentation is a data op without a gradient (detach it first)`);
  }
  checkSeedWord(op, 'seed', options.seed);
  checkSeedWord(op, 'step', options.step);
  const a = resolveAugment(op, options);
  const [rows, C, H, W] = x.shape;
  const index = options.index;
  if (index !== undefined) {
    if (!(index instanceof Tensor)) throw new Error(`${op}: index must be a Tensor, got ${describeValue(index)}`);
    assertLive(op, index);
    if (index.rank !== 1) throw new Error(`${op}: the index must be 1-D, got shape [${index.shape}]`);
    assertDtype(`${op} (index)`, index, 'i32', 'u32');
  }
  const batch = index ? index.size : rows;
  const out = Tensor.empty([batch, C, H, W], 'f32');
  if (out.size === 0) return out;
  const uniforms = new Params()
    .u32('n', out.size).u32('channels', C).u32('height', H).u32('width', W)
    .u32('shift', a.shift).u32('flip_threshold', flipThreshold(a.flipProbability)).u32('key_lo', lo32(options.seed)).u32('key_hi', hi32(options.seed))
    .u32('step_lo', lo32(options.step)).u32('step_hi', hi32(options.step)).f32('fill', a.fill).u32('rows', rows);
  const buffers = index ? [x.buffer(op), index.buffer(op), out.buffer(op)] : [x.buffer(op), out.buffer(op)];
  engine().dispatch({ kernel: AUGMENT, defines: { GATHER: index !== undefined }, buffers, uniforms, workgroups: grid1d(out.size) });
  return out;
}

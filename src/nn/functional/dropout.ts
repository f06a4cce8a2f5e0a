/**
 * Fused dropout (shaders/dropout.wgsl): Philox mask drawn on the GPU and scaling in one pass.
 *
 * The mask is counter-based: one Philox4x32-10 call, counter = (floor(i / 8), offset_lo, offset_hi, 0)
 * and key = (seed_lo, seed_hi), gives four 32-bit words, i.e. eight 16-bit draws, one per element of
 * a block of eight: element i with j = i % 8 draws the low half of word j (j < 4) or the high half of
 * word j - 4 (j >= 4), and is kept when that draw is >= threshold = round(p * 2^16).
 * Nothing is drawn on the CPU, the mask does not depend on how the work is split, and backward
 * regenerates it from (seed, offset) instead of saving it (see the shader's header for why).
 * Kept values are x * f32(1 / (1 - p)).
 *
 * Rate resolution: the drop probability is threshold / 2^16, p rounded to a multiple of 1/65536
 * (p = 0.1 drops 6554/65536 = 0.100006 of the elements), which halves the generator's work per
 * element against 32-bit draws. The scale stays 1 / (1 - p), as in PyTorch and FlashAttention, so
 * E[y] / x = (1 - threshold / 2^16) / (1 - p) is within 2^-17 / (1 - p) of 1 (0.9999932 at p = 0.1).
 * A p below 2^-17 drops nothing, and one within 2^-17 of 1 drops everything (threshold 2^16).
 *
 * Seeds. With an explicit `seed` the call is fully deterministic (`offset` defaults to 0; distinct
 * offsets give independent masks under one seed). Otherwise the call draws from a `Generator`
 * (src/runtime/generator.ts): the one given as `generator`, else `defaultGenerator`. The mask's key
 * is the generator's seed and its offset the generator's count, which then advances, so two calls
 * differ and the k-th draw after `generator.manualSeed(s)` equals `dropout(x, p, { seed: s, offset: k })`.
 */
import dropoutSrc from '../../../shaders/dropout.wgsl';
import philoxSrc from '../../../shaders/philox.wgsl';
import { engine, isInitialized } from '../../runtime/engine.js';
import {
  autotuneEnabled, bucketPow2, engineAutotuner, registerTunableOp, type Candidate, type Timer, type TuneResult,
} from '../../runtime/autotune.js';
import { defineKernel } from '../../runtime/kernel.js';
import { record } from '../../runtime/autograd.js';
import { checkSeedWord, Generator, resolveGenerator } from '../../runtime/generator.js';
import { Tensor } from '../../runtime/tensor.js';
import { describeValue } from '../../runtime/format.js';
import { assertFloat, assertLive } from './util.js';
import { grid1d, Params } from '../../runtime/params.js';

const DROPOUT = defineKernel('dropout', dropoutSrc, { PHILOX: philoxSrc });

export interface DropoutOptions {
  /** Philox key. */
  seed?: number;
  /** Philox counter offset: distinct offsets give independent masks under one seed. */
  offset?: number;
  /** Without a seed: the stream the mask is drawn from (default: `defaultGenerator`). */
  generator?: Generator;
  /** false: identity (eval mode). Default true. */
  training?: boolean;
}

/** Elements of one block (one Philox call: four 32-bit words, eight 16-bit draws). */
const ELEMENTS_PER_BLOCK = 8;
const TWO_16 = 2 ** 16;
const TWO_32 = 2 ** 32;

const lo32 = (v: number) => v % TWO_32;
const hi32 = (v: number) => Math.floor(v / TWO_32);

/**
 * The keep rule's threshold: keep when the 16-bit draw is >= it. p * 2^16 is exact in float64 (a
 * power-of-two scaling) and Math.round rounds half up. A p within 2^-17 of 1 gives 2^16, which no
 * 16-bit draw reaches: everything is dropped, p's nearest multiple of 2^-16 being 1 (a u32 holds it,
 * so unlike a 32-bit threshold it needs no clamp).
 */
function dropoutThreshold(p: number): number {
  return Math.round(p * TWO_16);
}

interface MaskKey {
  seed: number;
  offset: number;
  threshold: number;
  scale: number;
}

// ---- launch shape: chosen per adapter by the autotuner ----

/** Threads per workgroup and blocks of 8 elements per thread (see the shader). */
export interface DropoutLaunch {
  workgroupSize: number;
  blocksPerThread: number;
}

/** Measured best on SwiftShader (bench and A/B runs); untuned adapters use it too. */
const DEFAULT_LAUNCH: DropoutLaunch = { workgroupSize: 256, blocksPerThread: 1 };

/**
 * What the autotuner times. Every launch shape writes the same output (the mask depends only on the
 * element index), so a choice changes speed, never a result.
 */
export const DROPOUT_LAUNCHES: readonly DropoutLaunch[] = [64, 128, 256].flatMap((workgroupSize) =>
  [1, 2, 4].map((blocksPerThread) => ({ workgroupSize, blocksPerThread })));

export const dropoutLaunchId = (l: DropoutLaunch) => `wg${l.workgroupSize}x${l.blocksPerThread}`;

/** The tuner's class: the length rounded up to a power of two, and whether it ends in a partial vec4. */
export function dropoutProblemClass(n: number): string {
  return `n${bucketPow2(n, 1024, 2 ** 30)}|partial${+(n % 4 !== 0)}`;
}

const seenDropoutClasses = new Map<string, number>();
let launchOverride: DropoutLaunch | null = null;

/** @internal Tests: run every dropout with this launch shape (null: the normal choice). */
export function setDropoutLaunchForTests(launch: DropoutLaunch | null): void {
  launchOverride = launch;
}

/** The launch shape dropout uses for n elements now, and whether the autotuner chose it. */
export function dropoutChoice(n: number): { launch: DropoutLaunch; id: string; tuned: boolean; problemClass: string; timesMs?: Record<string, number> } {
  const problemClass = dropoutProblemClass(n);
  if (autotuneEnabled()) {
    const rec = engineAutotuner().lookup('dropout', problemClass);
    const launch = rec && DROPOUT_LAUNCHES.find((l) => dropoutLaunchId(l) === rec.choice);
    if (rec && launch) return { launch, id: rec.choice, tuned: true, problemClass, timesMs: rec.timesMs };
  }
  return { launch: DEFAULT_LAUNCH, id: dropoutLaunchId(DEFAULT_LAUNCH), tuned: false, problemClass };
}

function pickLaunch(n: number): DropoutLaunch {
  if (launchOverride) return launchOverride;
  if (!autotuneEnabled()) return DEFAULT_LAUNCH;
  const choice = dropoutChoice(n);
  if (!choice.tuned && !seenDropoutClasses.has(choice.problemClass)) seenDropoutClasses.set(choice.problemClass, n);
  return choice.launch;
}

/**
 * Times every launch shape on a tensor of each length's class (unless a choice is stored) and
 * stores the fastest for this adapter; later dropouts of that class use it. [] when tuning is off.
 */
export async function autotuneDropout(lengths: readonly number[], options: { timer?: Timer } = {}): Promise<TuneResult[]> {
  if (!autotuneEnabled()) return [];
  const t = engineAutotuner();
  const out: TuneResult[] = [];
  const done = new Set<string>();
  for (const n of lengths) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`autotuneDropout: lengths must be positive integers, got ${describeValue(n)}`);
    const problemClass = dropoutProblemClass(n);
    if (done.has(problemClass)) continue;
    done.add(problemClass);
    let x: Tensor | null = null;
    const key: MaskKey = { seed: 1, offset: 0, threshold: dropoutThreshold(0.1), scale: 1 / 0.9 };
    const candidates: Candidate[] = DROPOUT_LAUNCHES.map((launch) => ({
      id: dropoutLaunchId(launch),
      run: () => {
        x ??= Tensor.empty([n]);
        runDropout(x, key, launch).dispose();
      },
    }));
    try {
      out.push(await t.tune('dropout', problemClass, candidates, { n }, options.timer));
    } finally {
      (x as Tensor | null)?.dispose();
    }
  }
  return out;
}

registerTunableOp('dropout', async () => (isInitialized() ? autotuneDropout([...seenDropoutClasses.values()]) : []));

/** y = x * mask * scale; used for the forward (on x) and the backward (on the output gradient). */
function runDropout(x: Tensor, m: MaskKey, launch = pickLaunch(x.size)): Tensor {
  const out = Tensor.empty(x.shape);
  const uniforms = new Params()
    .u32('n', x.size).u32('threshold', m.threshold).f32('scale', m.scale).pad()
    .u32('key_lo', lo32(m.seed)).u32('key_hi', hi32(m.seed)).u32('offset_lo', lo32(m.offset)).u32('offset_hi', hi32(m.offset));
  const blocks = Math.ceil(x.size / ELEMENTS_PER_BLOCK);
  engine().dispatch({
    kernel: DROPOUT,
    // Only a length that is not a multiple of 4 ends in a partial vec4 (see the shader).
    defines: { PARTIAL: x.size % 4 !== 0, WG: launch.workgroupSize, BLOCKS: launch.blocksPerThread },
    buffers: [x.buffer('dropout'), out.buffer('dropout')],
    uniforms,
    workgroups: grid1d(Math.ceil(blocks / launch.blocksPerThread), launch.workgroupSize),
  });
  return out;
}

/** A new handle on x's storage whose gradient passes straight through (p = 0, eval mode). */
function identity(x: Tensor): Tensor {
  return record('dropout', [x], x.view(x.shape), (g) => [g.view(g.shape)]);
}

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p) (inverted dropout), so
 * the expectation is unchanged and evaluation needs no rescaling. `training: false` and p = 0 return
 * x unchanged (a view sharing its storage, with gradient passing through).
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`dropout: x must be a Tensor, got ${describeValue(x)}`);
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${describeValue(p)}`);
  assertLive('dropout', x);
  assertFloat('dropout', x);
  const { seed, offset, training = true } = options;
  if (typeof training !== 'boolean') throw new Error(`dropout: training must be true or false, got ${describeValue(training)}`);
  if (seed !== undefined) {
    checkSeedWord('dropout', 'seed', seed);
    if (options.generator !== undefined) throw new Error('dropout: give a seed (and offset) or a generator, not both');
  }
  if (offset !== undefined) {
    if (seed === undefined) {
      throw new Error('dropout: an offset needs an explicit seed (without a seed the generator chooses the offset)');
    }
    checkSeedWord('dropout', 'offset', offset);
  }
  const source = seed === undefined ? resolveGenerator('dropout', options.generator) : { seed, offset: offset ?? 0 };
  if (!training || p === 0) return identity(x);

  // A generator advances only when a mask is drawn (not for the identity cases above).
  const drawn = source instanceof Generator ? { seed: source.seed, offset: source.nextOffset() } : source;
  const key: MaskKey = { ...drawn, threshold: dropoutThreshold(p), scale: 1 / (1 - p) };
  const y = runDropout(x, key);
  // Nothing is saved: the backward regenerates the same mask from the key.
  return record('dropout', [x], y, (g) => [runDropout(g, key)]);
}

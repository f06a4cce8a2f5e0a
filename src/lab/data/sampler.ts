/**
 * The data order of training, on the host: which samples form step s of epoch e. It is a pure
 * function of (seed, epoch, batch size, count, dropLast), so a checkpoint only needs the position
 * (epoch, step) to resume the exact order. The GPU side (gpu-dataset.ts) uploads an epoch's
 * permutation once and gathers each batch from it on the device.
 *
 *   order of epoch e = Fisher–Yates shuffle of 0..n-1 driven by xoshiro128** seeded from (seed, e)
 *   batch s of epoch e = order[s·B .. s·B + B - 1] (the last one shorter when it is kept)
 */
import { describeValue } from '../../runtime/format.js';
import { SeededRng } from './synthetic.js';
import { checkSeedWord } from '../../runtime/generator.js';

/** Where a sampler is: the next batch it produces is step `step` of epoch `epoch` (both from 0). */
export interface DataPosition {
  epoch: number;
  step: number;
}

/**
 * Epoch streams live far from the small stream numbers the synthetic generator uses (0, 1, 2), so
 * that a data set made from seed s and an order shuffled with seed s draw unrelated numbers
 * (otherwise epoch 1 would repeat the very swaps that shuffled the synthetic labels).
 */
const ORDER_STREAM_BASE = 0x4f524452; // 'ORDR'

/**
 * The order of epoch `epoch` under `seed`: a permutation of 0..n-1 (Fisher–Yates). Identical on
 * every JS engine (integer PRNG, float64 scaling that is exact).
 */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new Error(`epochPermutation: n must be an integer in 0..2^31-1, got ${describeValue(n)}`);
  checkSeedWord('epochPermutation', 'seed', seed);
  checkSeedWord('epochPermutation', 'epoch', epoch);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new SeededRng(seed, ORDER_STREAM_BASE + epoch);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Batches per pass over n samples: ⌊n / B⌋ when the last partial batch is dropped, else ⌈n / B⌉. */
export function batchesPerEpoch(n: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/** Checks a batch size against the number of samples; errors name `op`. */
export function checkBatchSize(op: string, batchSize: unknown, n: number): asserts batchSize is number {
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize <= 0) {
    throw new Error(`${op}: batch size must be a positive integer, got ${describeValue(batchSize)}`);
  }
  if (batchSize > n) throw new Error(`${op}: batch size ${batchSize} is larger than the ${n} samples of the split`);
}

/**
 * Checks a position against the number of steps per epoch: 0 <= step < stepsPerEpoch (a position
 * at the end of an epoch is spelled as step 0 of the next one).
 */
export function checkPosition(op: string, p: unknown, stepsPerEpoch: number): asserts p is DataPosition {
  if (p === null || typeof p !== 'object') throw new Error(`${op}: a position must be { epoch, step }, got ${describeValue(p)}`);
  const { epoch, step } = p as DataPosition;
  checkSeedWord(op, 'epoch', epoch);
  if (!Number.isInteger(step) || step < 0 || step >= stepsPerEpoch) {
    throw new Error(`${op}: step ${describeValue(step)} is outside 0..${stepsPerEpoch - 1} (${stepsPerEpoch} steps per epoch)`);
  }
}

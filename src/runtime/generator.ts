/**
 * Random streams as objects: a `Generator` is a seed and a counter (PyTorch's torch.Generator).
 *
 * Every random draw of the library takes one counter value from a generator and then advances it:
 *  - a dropout mask is Philox4x32-10 with key = the seed and counter offset = that value
 *    (src/nn/functional/dropout.ts), so the k-th mask after `manualSeed(s)` is
 *    `dropout(x, p, { seed: s, offset: k })`;
 *  - a host-drawn tensor (randn, rand) and the weights of a layer built without a seed come from a
 *    xoshiro128** stream seeded with `hostSeed(seed, value)` (src/nn/functional/creation.ts,
 *    src/nn/init.ts).
 * The whole state is `{ seed, count }`: `getState()` / `setState()` save and restore it exactly
 * (checkpoints), `clone()` forks an independent copy that continues the same stream.
 *
 * Whoever draws owns a generator and passes it on: the trainer makes one from its seed and sets it
 * once on its model (`Module.setGenerator`), `analysis.measure` makes one per measured gradient, so
 * nothing saves and restores shared state around a step. Calls given neither a seed nor a
 * generator use `defaultGenerator` (torch.default_generator), a convenience for scripts and tests.
 */

import { describeValue } from './format.js';

/** Seed of `defaultGenerator` (and of a `new Generator()` given no seed). */
export const DEFAULT_SEED = 0x5eed_d20f;

/**
 * Seeds, counters and steps of the counter-based streams (dropout, augmentation, data order) are
 * non-negative safe integers: the shaders take them as two u32 words.
 */
export function checkSeedWord(op: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(`${op}: ${name} must be a non-negative integer below 2^53, got ${describeValue(v)}`);
  }
}

/**
 * splitmix32-style mixing of a few words (each up to 2^53, both 32-bit halves folded in) into one
 * u32: nearby inputs give unrelated outputs.
 */
export function mixWords(...words: number[]): number {
  let h = 0x2545f491;
  for (const w of words) {
    h = (h ^ (w >>> 0) ^ Math.floor(w / 2 ** 32)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** A generator's whole state, JSON-safe: its seed and the number of draws taken since seeding. */
export interface GeneratorState {
  seed: number;
  count: number;
}

export class Generator {
  private _seed: number;
  private _count = 0;

  constructor(seed: number = DEFAULT_SEED) {
    checkSeedWord('Generator', 'seed', seed);
    this._seed = seed;
  }

  /** A generator in the given state (validated as `setState` does). */
  static fromState(state: GeneratorState): Generator {
    return new Generator().setState(state);
  }

  /** The seed (PyTorch's initial_seed). */
  get seed(): number {
    return this._seed;
  }

  /** Draws taken since seeding: the counter value the next draw gets. */
  get count(): number {
    return this._count;
  }

  /** Reseeds and restarts the counter at 0, so the stream replays from its start. */
  manualSeed(seed: number): this {
    checkSeedWord('Generator.manualSeed', 'seed', seed);
    this._seed = seed;
    this._count = 0;
    return this;
  }

  /** A snapshot of the state (a fresh object; the generator goes on independently). */
  getState(): GeneratorState {
    return { seed: this._seed, count: this._count };
  }

  /** Restores a snapshot from `getState`: the next draws are exactly those the saved generator would have made. */
  setState(state: GeneratorState): this {
    if (state === null || typeof state !== 'object') throw new Error(`Generator.setState: state must be { seed, count }, got ${describeValue(state)}`);
    checkSeedWord('Generator.setState', 'seed', state.seed);
    checkSeedWord('Generator.setState', 'count', state.count);
    this._seed = state.seed;
    this._count = state.count;
    return this;
  }

  /** An independent copy in the same state: both continue the same stream without disturbing each other. */
  clone(): Generator {
    return Generator.fromState(this.getState());
  }

  /** Takes one draw: returns the counter value it gets (a Philox offset) and advances. */
  nextOffset(): number {
    const offset = this._count;
    if (!Number.isSafeInteger(offset + 1)) throw new Error(`Generator: the counter of seed ${this._seed} is exhausted (2^53 draws)`);
    this._count = offset + 1;
    return offset;
  }

  /** Takes one draw for a host stream: a u32 seed for xoshiro128** from (seed, counter value). */
  nextHostSeed(): number {
    return hostSeed(this._seed, this.nextOffset());
  }
}

/** The u32 seed of the host stream of draw `offset` of a generator seeded with `seed`. */
export function hostSeed(seed: number, offset: number): number {
  return mixWords(seed, offset);
}

/**
 * The generator of calls given neither a seed nor a generator (torch.default_generator). The
 * library's own code (trainer, analysis, layers) never draws from it unless a caller left the
 * choice to it.
 */
export const defaultGenerator = new Generator(DEFAULT_SEED);

/** `generator` if given (checked), else the default: the stream an op given no seed draws from. */
export function resolveGenerator(op: string, generator: unknown): Generator {
  if (generator === undefined) return defaultGenerator;
  if (!(generator instanceof Generator)) throw new Error(`${op}: generator must be a Generator, got ${describeValue(generator)}`);
  return generator;
}

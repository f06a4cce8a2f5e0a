/**
 * Generator (src/runtime/generator.ts): a seed and a counter. Its k-th draw is the dropout mask
 * of Philox key = seed, offset = k (checked against the CPU Philox reference), its state
 * round-trips, generators are independent of each other and of the default one, and two models
 * with generators of their own do not disturb each other's masks.
 */
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_SEED, defaultGenerator, dropout, Generator, Linear, MLP, ones, rand, randn, tensor, type Tensor,
} from '../src/index.js';
import { hostSeed } from '../src/runtime/generator.js';
import { dropoutKeepMask } from './reference/philox.js';
import { randomArray } from './helpers/check.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

const N = 1000;
const P = 0.5;

/** The keep mask of one dropout of ones([N]) drawn from `generator` (1 where kept). */
async function mask(generator: Generator): Promise<number[]> {
  const x = ones([N]);
  const y = dropout(x, P, { generator });
  const v = await y.toArray();
  x.dispose();
  y.dispose();
  return Array.from(v, (e) => (e !== 0 ? 1 : 0));
}

const reference = (seed: number, offset: number) => Array.from(dropoutKeepMask(N, P, seed, offset));

async function values(t: Tensor): Promise<Float32Array> {
  const v = await t.toArray();
  t.dispose();
  return v as Float32Array;
}

describe('Generator', () => {
  test('draw k of a generator seeded s is the Philox mask of key s, offset k; manualSeed restarts it', async () => {
    const g = new Generator(7);
    expect(g.getState()).toEqual({ seed: 7, count: 0 });
    const first = await mask(g);
    const second = await mask(g);
    expect(g.count).toBe(2);
    expect(first).toEqual(reference(7, 0));
    expect(second).toEqual(reference(7, 1));
    expect(second).not.toEqual(first);
    // Same seed, same stream: a second generator replays it, and so does reseeding.
    const twin = new Generator(7);
    expect(await mask(twin)).toEqual(first);
    g.manualSeed(7);
    expect(g.count).toBe(0);
    expect(await mask(g)).toEqual(first);
    // Seeds use both 32-bit key words.
    expect(await mask(new Generator(7 + 2 ** 32))).toEqual(reference(7 + 2 ** 32, 0));
    expect(new Generator().seed).toBe(DEFAULT_SEED);
  });

  test('getState / setState / fromState / clone round-trip the stream exactly', async () => {
    const g = new Generator(123);
    await mask(g);
    const saved = g.getState();
    expect(saved).toEqual({ seed: 123, count: 1 });
    const copy = g.clone();
    const restored = Generator.fromState(saved);
    const next = [await mask(g), await mask(g)];
    expect(g.getState()).toEqual({ seed: 123, count: 3 });
    // The snapshot is a copy: the generator moving on did not change it.
    expect(saved).toEqual({ seed: 123, count: 1 });
    expect([await mask(copy), await mask(copy)]).toEqual(next);
    expect([await mask(restored), await mask(restored)]).toEqual(next);
    g.setState(saved);
    expect([await mask(g), await mask(g)]).toEqual(next);
    // JSON round trip (what a checkpoint stores).
    const fromJson = Generator.fromState(JSON.parse(JSON.stringify(saved)));
    expect(await mask(fromJson)).toEqual(next[0]);
  });

  test('generators are independent: interleaved draws give each its own stream; the default one is untouched', async () => {
    const before = defaultGenerator.getState();
    const a = new Generator(1);
    const b = new Generator(2);
    const original = a.clone();
    const interleaved = [await mask(a), await mask(b), await mask(a), await mask(b)];
    expect(interleaved).toEqual([reference(1, 0), reference(2, 0), reference(1, 1), reference(2, 1)]);
    expect(a.getState()).toEqual({ seed: 1, count: 2 });
    expect(b.getState()).toEqual({ seed: 2, count: 2 });
    // A clone goes on alone: the original's draws did not move it.
    expect(original.getState()).toEqual({ seed: 1, count: 0 });
    expect(defaultGenerator.getState()).toEqual(before);
  });

  test('randn / rand: same generator state, same values; the k-th draw is the stream hostSeed(seed, k)', async () => {
    const a = new Generator(42);
    const b = new Generator(42);
    const n1 = await values(randn([3, 5], { generator: a }));
    const n2 = await values(randn([3, 5], { generator: a }));
    expect(Array.from(n2)).not.toEqual(Array.from(n1));
    expect(await values(randn([3, 5], { generator: b }))).toEqual(n1);
    expect(await values(randn([3, 5], { seed: hostSeed(42, 1) }))).toEqual(n2);
    const u = await values(rand([7], { generator: new Generator(5) }));
    expect(await values(rand([7], { seed: hostSeed(5, 0) }))).toEqual(u);
    expect(u.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(a.count).toBe(2);
  });

  test('layer init: a layer built without a seed takes its seed from its generator (default: defaultGenerator)', async () => {
    const before = defaultGenerator.getState();
    const a = new Linear(4, 3, { generator: new Generator(9) });
    const b = new Linear(4, 3, { generator: new Generator(9) });
    const c = new Linear(4, 3, { seed: hostSeed(9, 0) });
    const [wa, wb, wc] = await Promise.all([a, b, c].map((l) => l.weight.toArray()));
    expect(wb).toEqual(wa);
    expect(wc).toEqual(wa);
    expect(defaultGenerator.getState()).toEqual(before);
    const unseeded = new Linear(4, 3);
    expect(defaultGenerator.count).toBe(before.count + 1);
    const same = new Linear(4, 3, { seed: hostSeed(before.seed, before.count) });
    expect(await unseeded.weight.toArray()).toEqual(await same.weight.toArray());
    for (const l of [a, b, c, unseeded, same]) l.dispose();
  });

  test('bad seeds, states and arguments are errors that say so', () => {
    for (const seed of [-1, 1.5, 2 ** 53, NaN]) {
      expect(() => new Generator(seed)).toThrow(`Generator: seed must be a non-negative integer below 2^53, got ${seed}`);
      expect(() => new Generator(1).manualSeed(seed)).toThrow(`Generator.manualSeed: seed must be a non-negative integer below 2^53, got ${seed}`);
    }
    expect(() => new Generator('3' as unknown as number)).toThrow('Generator: seed must be a non-negative integer below 2^53, got "3"');
    const g = new Generator(4);
    expect(() => g.setState({ seed: 1, count: -1 })).toThrow('Generator.setState: count must be a non-negative integer below 2^53, got -1');
    expect(() => g.setState({ seed: 'x' as unknown as number, count: 0 })).toThrow('Generator.setState: seed must be a non-negative integer below 2^53, got "x"');
    expect(() => Generator.fromState(undefined as never)).toThrow('Generator.setState: state must be { seed, count }, got undefined');
    // A failed setState leaves the generator as it was.
    expect(g.getState()).toEqual({ seed: 4, count: 0 });
    expect(() => new Generator(1).setState({ seed: 1, count: 2 ** 53 - 1 }).nextOffset()).toThrow(/Generator: the counter of seed 1 is exhausted/);

    const x = ones([4]);
    expect(() => dropout(x, 0.5, { seed: 1, generator: g })).toThrow('dropout: give a seed (and offset) or a generator, not both');
    expect(() => dropout(x, 0.5, { generator: { seed: 1, count: 0 } as unknown as Generator })).toThrow(/dropout: generator must be a Generator/);
    // Checked in eval mode too, and nothing is drawn.
    expect(() => dropout(x, 0.5, { training: false, generator: 7 as unknown as Generator })).toThrow('dropout: generator must be a Generator, got 7');
    x.dispose();
    expect(g.count).toBe(0);
    expect(() => randn([2], { seed: 1, generator: g })).toThrow('randn: give a seed or a generator, not both');
    expect(() => rand([2], { generator: 'g' as unknown as Generator })).toThrow('rand: generator must be a Generator, got "g"');
    expect(() => new Linear(2, 2, { seed: 1, generator: g })).toThrow('Linear: give a seed or a generator, not both');
    const model = new MLP({ inFeatures: 4, hiddenSizes: [3], numClasses: 2, seed: 1 });
    expect(() => model.setGenerator({} as unknown as Generator)).toThrow('MLP.setGenerator: expected a Generator or null, got [object Object]');
    model.dispose();
  });
});

describe('models with generators of their own', () => {
  const config = { inFeatures: 64, hiddenSizes: [48, 32], numClasses: 5 } as const;

  function makeModel(seed: number, generatorSeed: number): MLP {
    const model = new MLP({ ...config, seed }).setGenerator(new Generator(generatorSeed));
    model.setDropRate(0.4);
    return model;
  }

  test('setGenerator reaches every dropout site, and two models do not disturb each other', async () => {
    const x = tensor(Float32Array.from(randomArray(6 * 64, 3)), [6, 64]);
    const steps = 3;
    // Each model alone.
    const alone: Float32Array[][] = [];
    for (const [seed, gen] of [[1, 10], [2, 20]]) {
      const m = makeModel(seed, gen);
      const outs: Float32Array[] = [];
      for (let i = 0; i < steps; i++) outs.push(await values(m.forward(x)));
      expect(m.generator!.count).toBe(steps * config.hiddenSizes.length);
      alone.push(outs);
      m.dispose();
    }
    // Both in turn, with draws from the default generator in between: the same outputs.
    const a = makeModel(1, 10);
    const b = makeModel(2, 20);
    expect(a.namedModules().every(([, m]) => m.generator === a.generator)).toBe(true);
    const before = defaultGenerator.getState();
    for (let i = 0; i < steps; i++) {
      expect(await values(a.forward(x))).toEqual(alone[0][i]);
      dropout(ones([8]), 0.5).dispose();
      expect(await values(b.forward(x))).toEqual(alone[1][i]);
    }
    expect(defaultGenerator.count).toBe(before.count + steps);
    // The outputs do depend on the generator: masks really were drawn.
    expect(alone[0][1]).not.toEqual(alone[0][0]);
    // null puts the model back on the default generator.
    a.setGenerator(null);
    a.forward(x).dispose();
    expect(defaultGenerator.count).toBe(before.count + steps + config.hiddenSizes.length);
    x.dispose();
    a.dispose();
    b.dispose();
  });
});

/**
 * nn layers: forward against float64 references (tests/reference/nn.ts), every gradient (input and
 * parameters) against central finite differences of that reference, dropout / drop-path rates and
 * statistics, stable parameter names, initialisation statistics, and error messages.
 */
import { describe, expect, test } from 'vitest';
import {
  Block,
  DropPath,
  Dropout,
  GELU,
  LayerNorm,
  Linear,
  Mlp,
  Module,
  MultiHeadSelfAttention,
  PatchEmbed,
  ViT,
  deriveSeed,
  truncNormalArray,
} from '../src/nn/index.js';
import { dropout, Generator, liveTensorCount, ones, tensor } from '../src/index.js';
import { useGpu } from './helpers/gpu.js';
import { expectClose, numericGrad, randomArray, weightedSum } from './helpers/check.js';
import { attentionRef, blockRef, geluExact, layerNormRef, linearRef, mlpRef, patchEmbedRef } from './reference/nn.js';

useGpu();

const f32Rounded = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));

/**
 * Overwrites every parameter with random values (LayerNorm scales around 1, the rest in
 * ±scale) and returns float64 copies of exactly those f32 values, by dotted name.
 */
function randomizeParameters(m: Module, seed: number, scale = 0.5): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  m.namedParameters().forEach(([name, p], i) => {
    const isNormScale = /norm\d?\.weight$/.test(name);
    const v = f32Rounded(randomArray(p.size, seed + 101 * i, isNormScale ? 0.7 : -scale, isNormScale ? 1.3 : scale));
    p.assign(Float32Array.from(v));
    out.set(name, v);
  });
  return out;
}

/**
 * Forward of `module` on x vs `ref`, and the gradients of Σ w·y w.r.t. x and every parameter vs
 * central differences of Σ w·ref. `ref` reads parameters from the map by dotted name.
 */
async function checkAgainstReference(
  module: Module,
  xShape: number[],
  ref: (x: Float64Array, params: Map<string, Float64Array>) => Float64Array,
  opts: { seed: number; rtol?: number; atol?: number; gradAtol?: number },
): Promise<void> {
  const { seed, rtol = 1e-4, atol = 1e-5, gradAtol = 1e-4 } = opts;
  const params = randomizeParameters(module, seed);
  const xData = f32Rounded(randomArray(xShape.reduce((a, b) => a * b, 1), seed + 7));
  const x = tensor(Float32Array.from(xData), xShape, { requiresGrad: true });
  const y = module.forward(x);
  const expected = ref(xData, params);
  expectClose(await y.toArray(), expected, { rtol, atol, what: `${module.constructor.name} forward` });
  const w = randomArray(y.size, seed + 13);
  const wt = tensor(Float32Array.from(w), y.shape);
  y.backward({ grad: wt });

  const names = [...params.keys()];
  const inputs = [xData, ...names.map((n) => params.get(n)!)];
  const grads = numericGrad((ins) => {
    const m = new Map(names.map((n, i) => [n, ins[i + 1]]));
    return weightedSum(ref(ins[0], m), w);
  }, inputs);
  expectClose(await x.grad!.toArray(), grads[0], { rtol: 1e-3, atol: gradAtol, what: 'grad x' });
  const named = new Map(module.namedParameters());
  for (const [i, n] of names.entries()) {
    const g = named.get(n)!.grad;
    expect(g, `grad of ${n}`).not.toBeNull();
    expectClose(await g!.toArray(), grads[i + 1], { rtol: 1e-3, atol: gradAtol, what: `grad ${n}` });
  }
  for (const t of [x, y, wt]) t.dispose();
  module.zeroGrad();
}

describe('Linear', () => {
  test.each([
    { rows: [3], inF: 5, outF: 7, bias: true, activation: 'none' as const },
    { rows: [2, 3], inF: 17, outF: 4, bias: false, activation: 'none' as const },
    { rows: [5], inF: 6, outF: 9, bias: true, activation: 'gelu' as const },
    { rows: [4], inF: 3, outF: 5, bias: true, activation: 'relu' as const },
  ])('forward and gradients vs float64: $rows x $inF -> $outF, bias $bias, $activation', async ({ rows, inF, outF, bias, activation }) => {
    const lin = new Linear(inF, outF, { bias, activation, seed: 1 });
    expect(lin.weight.shape).toEqual([outF, inF]);
    expect(lin.bias?.shape ?? null).toEqual(bias ? [outF] : null);
    const n = rows.reduce((a, b) => a * b, 1);
    await checkAgainstReference(lin, [...rows, inF], (x, p) => linearRef(x, n, p.get('weight')!, p.get('bias') ?? null, inF, outF, activation), { seed: 10 + inF });
    lin.dispose();
  });
});

describe('LayerNorm', () => {
  test('defaults: eps 1e-6, weight ones, bias zeros, no weight decay', async () => {
    const ln = new LayerNorm(6);
    expect(ln.eps).toBe(1e-6);
    expect([...(await ln.weight.toArray())]).toEqual([1, 1, 1, 1, 1, 1]);
    expect([...(await ln.bias.toArray())]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(ln.weight.weightDecay).toBe(false);
    expect(ln.bias.weightDecay).toBe(false);
    ln.dispose();
  });

  test.each([{ eps: 1e-6, d: 17 }, { eps: 1e-2, d: 8 }])('forward and gradients vs float64 (eps $eps, dim $d)', async ({ eps, d }) => {
    const ln = new LayerNorm(d, { eps });
    await checkAgainstReference(ln, [3, d], (x, p) => layerNormRef(x, d, p.get('weight')!, p.get('bias')!, eps), { seed: 40 + d, gradAtol: 2e-4 });
    ln.dispose();
  });
});

describe('GELU', () => {
  test('exact erf form by default, tanh on request', async () => {
    const xs = Float32Array.from({ length: 41 }, (_, i) => -5 + i / 4);
    const x = tensor(xs, [41]);
    const exact = new GELU().forward(x);
    expectClose(await exact.toArray(), Array.from(xs, geluExact), { rtol: 1e-5, atol: 1e-6, what: 'gelu exact' });
    const approx = new GELU({ approximate: 'tanh' }).forward(x);
    const tanhRef = Array.from(xs, (z) => 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3))));
    expectClose(await approx.toArray(), tanhRef, { rtol: 1e-5, atol: 1e-6, what: 'gelu tanh' });
    for (const t of [x, exact, approx]) t.dispose();
  });
});

describe('Dropout module', () => {
  test('rate settable per step; eval mode and p = 0 are the identity', async () => {
    const d = new Dropout(0.25).setGenerator(new Generator(3));
    const data = Float32Array.from(randomArray(4000, 5, 0.5, 1.5));
    const x = tensor(data, [40, 100]);
    const y = d.forward(x);
    const v = await y.toArray();
    const zeros = v.filter((e) => e === 0).length;
    // Binomial(4000, 0.25): std 27; 5 std either side.
    expect(Math.abs(zeros - 1000)).toBeLessThan(140);
    const scale = Math.fround(1 / 0.75);
    v.forEach((e, i) => { if (e !== 0) expect(e).toBe(Math.fround(data[i] * scale)); });

    d.p = 0.6;
    const y2 = d.forward(x);
    const z2 = (await y2.toArray()).filter((e) => e === 0).length;
    expect(Math.abs(z2 - 2400)).toBeLessThan(160);

    d.eval();
    expect(d.training).toBe(false);
    const y3 = d.forward(x);
    expect([...(await y3.toArray())]).toEqual([...data]);
    d.train();
    d.p = 0;
    const y4 = d.forward(x);
    expect([...(await y4.toArray())]).toEqual([...data]);
    for (const t of [x, y, y2, y3, y4]) t.dispose();
  });

  test('bad rates are errors naming the layer', () => {
    expect(() => new Dropout(1)).toThrow(/Dropout: p must be in \[0, 1\), got 1/);
    const d = new Dropout();
    expect(() => { d.p = -0.1; }).toThrow(/Dropout: p must be in \[0, 1\), got -0.1/);
    expect(() => { d.p = NaN; }).toThrow(/Dropout: p must be in \[0, 1\)/);
  });
});

describe('DropPath', () => {
  test('drops whole samples with probability p and scales kept ones by 1/(1-p)', async () => {
    const B = 3000;
    const p = 0.3;
    const dp = new DropPath(p).setGenerator(new Generator(11));
    const data = Float32Array.from(randomArray(B * 2 * 3, 17, 0.5, 1.5));
    const x = tensor(data, [B, 2, 3], { requiresGrad: true });
    const y = dp.forward(x);
    const v = await y.toArray();
    const scale = Math.fround(1 / (1 - p));
    let dropped = 0;
    for (let b = 0; b < B; b++) {
      const row = v.subarray(b * 6, b * 6 + 6);
      const zeroed = row.every((e) => e === 0);
      if (zeroed) dropped++;
      // Either the whole sample is zero or every element is x · f32(1/(1−p)) (f32 product).
      else row.forEach((e, k) => expect(e).toBe(Math.fround(data[b * 6 + k] * scale)));
    }
    // Binomial(3000, 0.3): std 25; 5 std.
    expect(Math.abs(dropped - B * p)).toBeLessThan(126);

    // Gradient: the same per-sample mask times the output gradient.
    y.backward({ grad: ones([B, 2, 3]) });
    const g = await x.grad!.toArray();
    for (let b = 0; b < B; b++) {
      const kept = v[b * 6] !== 0;
      for (let k = 0; k < 6; k++) expect(g[b * 6 + k]).toBe(kept ? scale : 0);
    }
    x.dispose();
    y.dispose();
  });

  test('identity in eval mode and at p = 0; gradient passes through', async () => {
    const dp = new DropPath(0.5).eval();
    const data = Float32Array.from(randomArray(12, 3));
    const x = tensor(data, [4, 3], { requiresGrad: true });
    const y = dp.forward(x);
    expect([...(await y.toArray())]).toEqual([...data]);
    y.backward({ grad: ones([4, 3]) });
    expect([...(await x.grad!.toArray())]).toEqual(new Array(12).fill(1));
    dp.train();
    dp.p = 0;
    const y2 = dp.forward(x);
    expect([...(await y2.toArray())]).toEqual([...data]);
    for (const t of [x, y, y2]) t.dispose();
  });

  test('bad rates are errors', () => {
    expect(() => new DropPath(1.5)).toThrow(/DropPath: p must be in \[0, 1\), got 1.5/);
  });
});

const attentionParams = (p: Map<string, Float64Array>, prefix = '') => ({
  qkvW: p.get(`${prefix}qkv.weight`)!, qkvB: p.get(`${prefix}qkv.bias`)!, projW: p.get(`${prefix}proj.weight`)!, projB: p.get(`${prefix}proj.bias`)!,
});

describe('MultiHeadSelfAttention', () => {
  test.each([{ B: 2, T: 3, C: 4, H: 2 }, { B: 1, T: 5, C: 6, H: 3 }])('forward and gradients vs float64: B $B, T $T, dim $C, heads $H', async ({ B, T, C, H }) => {
    const attn = new MultiHeadSelfAttention(C, H, { seed: 2 });
    expect(attn.namedParameters().map(([n]) => n)).toEqual(['qkv.weight', 'qkv.bias', 'proj.weight', 'proj.bias']);
    await checkAgainstReference(attn, [B, T, C], (x, p) => attentionRef(x, B, T, C, H, attentionParams(p)), { seed: 60 + T });
    attn.dispose();
  });

  test('dropout on the attention probabilities and after the projection reach the output', async () => {
    const attn = new MultiHeadSelfAttention(4, 2, { seed: 3 });
    randomizeParameters(attn, 5);
    const x = tensor(Float32Array.from(randomArray(24, 9)), [2, 3, 4]);
    const base = await attn.forward(x).toArray();
    attn.attnDrop.p = 0.5; // only the attention-probability site
    const a = await attn.forward(x).toArray();
    expect(a).not.toEqual(base);
    attn.attnDrop.p = 0;
    attn.projDrop.p = 0.5; // only the output site: zeros appear in the output itself
    const b = await attn.forward(x).toArray();
    expect(b.filter((e) => e === 0).length).toBeGreaterThan(0);
    attn.eval();
    expect(await attn.forward(x).toArray()).toEqual(base);
    x.dispose();
    attn.dispose();
  });

  test('errors', () => {
    expect(() => new MultiHeadSelfAttention(10, 3)).toThrow(/MultiHeadSelfAttention: dim 10 is not divisible by numHeads 3/);
    const attn = new MultiHeadSelfAttention(4, 2);
    const x = tensor(new Float32Array(10), [2, 5]);
    expect(() => attn.forward(x)).toThrow(/MultiHeadSelfAttention: expected input \[B, T, 4\], got \[2, 5\]/);
    x.dispose();
    attn.dispose();
  });
});

const mlpParams = (p: Map<string, Float64Array>, prefix = '') => ({
  fc1W: p.get(`${prefix}fc1.weight`)!, fc1B: p.get(`${prefix}fc1.bias`)!, fc2W: p.get(`${prefix}fc2.weight`)!, fc2B: p.get(`${prefix}fc2.bias`)!,
});

describe('Mlp and Block', () => {
  test('Mlp: fc1, exact GELU, fc2 vs float64, with gradients', async () => {
    const mlp = new Mlp(5, 7, { outFeatures: 3, seed: 4 });
    await checkAgainstReference(mlp, [2, 2, 5], (x, p) => mlpRef(x, 4, 5, 7, 3, mlpParams(p)), { seed: 80 });
    mlp.dispose();
  });

  test('pre-LN Block vs float64, with gradients of x and all 16 parameters', async () => {
    const [B, T, C, H] = [2, 3, 4, 2];
    const block = new Block(C, H, { mlpRatio: 2, seed: 5 });
    expect(block.namedParameters().map(([n]) => n)).toEqual([
      'norm1.weight', 'norm1.bias',
      'attn.qkv.weight', 'attn.qkv.bias', 'attn.proj.weight', 'attn.proj.bias',
      'norm2.weight', 'norm2.bias',
      'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias',
    ]);
    await checkAgainstReference(block, [B, T, C], (x, p) => blockRef(x, B, T, C, H, 2 * C, 1e-6, {
      ...attentionParams(p, 'attn.'), ...mlpParams(p, 'mlp.'),
      n1W: p.get('norm1.weight')!, n1B: p.get('norm1.bias')!, n2W: p.get('norm2.weight')!, n2B: p.get('norm2.bias')!,
    }), { seed: 90, gradAtol: 2e-4 });
    block.dispose();
  });

  test('Block forward + backward leave no tensors behind but the gradients', async () => {
    const block = new Block(8, 2, { seed: 6 });
    const x = tensor(Float32Array.from(randomArray(2 * 5 * 8, 3)), [2, 5, 8], { requiresGrad: true });
    const before = liveTensorCount();
    const y = block.forward(x);
    y.backward({ grad: ones([2, 5, 8]) });
    y.dispose();
    const grads = block.parameters().length + 1; // a .grad per parameter and for x
    const onesLeft = 1; // the ones() passed as grad above (never disposed here)
    expect(liveTensorCount()).toBe(before + grads + onesLeft);
    x.dispose();
    block.dispose();
  });
});

describe('PatchEmbed', () => {
  test('equals a Conv2d with kernel = stride = p (weight [dim, C·p·p] = conv weight reshaped)', async () => {
    const [B, Cin, Hh, Ww, P, dim] = [2, 2, 4, 6, 2, 3];
    const pe = new PatchEmbed({ imageSize: [Hh, Ww], patchSize: P, inChannels: Cin, dim, seed: 7 });
    expect(pe.numPatches).toBe(6);
    expect(pe.proj.weight.shape).toEqual([dim, Cin * P * P]);
    await checkAgainstReference(pe, [B, Cin, Hh, Ww], (x, p) => patchEmbedRef(x, B, Cin, Hh, Ww, P, p.get('proj.weight')!, p.get('proj.bias')!, dim), { seed: 100 });
    pe.dispose();
  });

  test('errors name the geometry', () => {
    expect(() => new PatchEmbed({ imageSize: 10, patchSize: 4, dim: 8 })).toThrow(/PatchEmbed: image 10x10 is not divisible into 4x4 patches/);
    const pe = new PatchEmbed({ imageSize: 8, patchSize: 4, inChannels: 2, dim: 4 });
    const x = tensor(new Float32Array(2 * 64), [2, 1, 8, 8]);
    expect(() => pe.forward(x)).toThrow(/PatchEmbed: expected f32 images of shape \[B, 2, 8, 8\] \(or \[B, 128\]\), got \[2, 1, 8, 8\]/);
    x.dispose();
    pe.dispose();
  });
});

describe('parameter names', () => {
  test('a ViT has stable, timm-style dotted names in registration order', () => {
    const vit = new ViT({ imageSize: 8, patchSize: 4, numClasses: 3, dim: 8, depth: 2, numHeads: 2 });
    const names = vit.namedParameters().map(([n]) => n);
    const block = (i: number) => [
      'norm1.weight', 'norm1.bias', 'attn.qkv.weight', 'attn.qkv.bias', 'attn.proj.weight', 'attn.proj.bias',
      'norm2.weight', 'norm2.bias', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias',
    ].map((n) => `blocks.${i}.${n}`);
    expect(names).toEqual([
      'cls_token', 'pos_embed', 'patch_embed.proj.weight', 'patch_embed.proj.bias',
      ...block(0), ...block(1), 'norm.weight', 'norm.bias', 'head.weight', 'head.bias',
    ]);
    expect(Object.keys(vit.stateDict())).toEqual(names);
    vit.dispose();
  });
});

describe('initialisation', () => {
  test('Linear: trunc-normal std 0.02 weights, zero bias; same seed, same weights', async () => {
    const a = new Linear(128, 256, { seed: 42 });
    const w = (await a.weight.toArray()) as Float32Array;
    const n = w.length;
    const mean = w.reduce((s, v) => s + v, 0) / n;
    const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
    // n = 32768: std of the mean 1.1e-4, of the std 7.8e-5; 5 of each.
    expect(Math.abs(mean)).toBeLessThan(5.5e-4);
    expect(Math.abs(std - 0.02)).toBeLessThan(4e-4);
    expect([...(await a.bias!.toArray())].every((v) => v === 0)).toBe(true);
    expect(a.weight.weightDecay).toBe(true);
    expect(a.bias!.weightDecay).toBe(false);

    const b = new Linear(128, 256, { seed: 42 });
    expect(await b.weight.toArray()).toEqual(w);
    const c = new Linear(128, 256, { seed: 43 });
    expect(await c.weight.toArray()).not.toEqual(w);
    for (const m of [a, b, c]) m.dispose();
  });

  test('truncNormal: timm cut-offs are absolute; explicit ±2σ cut-offs hold and shrink the std', () => {
    const std = 0.02;
    const wide = truncNormalArray(20000, { std, seed: 1 });
    const narrow = truncNormalArray(20000, { std, a: -2 * std, b: 2 * std, seed: 1 });
    const sd = (v: Float32Array) => Math.sqrt(v.reduce((s, e) => s + e * e, 0) / v.length);
    expect(Math.abs(sd(wide) - std)).toBeLessThan(6e-4);
    // Std of N(0,1) truncated to ±2: 0.8796.
    expect(Math.abs(sd(narrow) - 0.8796 * std)).toBeLessThan(6e-4);
    expect(narrow.every((v) => v >= -2 * std && v <= 2 * std)).toBe(true);
    expect(wide.some((v) => Math.abs(v) > 2 * std)).toBe(true);
    expect(() => truncNormalArray(4, { std: 1, a: 50, b: 60, seed: 1 })).toThrow(/truncNormal: the interval \[50, 60\] holds almost none of the mass/);
    expect(() => truncNormalArray(4, { std: 0, seed: 1 })).toThrow(/truncNormal: std must be a positive number, got 0/);
    expect(() => truncNormalArray(4, { a: 1, b: 1, seed: 1 })).toThrow(/truncNormal: needs a < b/);
  });

  test('deriveSeed: distinct for near names and seeds, deterministic', () => {
    const seeds = new Set<number>();
    for (const s of [0, 1, 2, 2 ** 32]) for (const n of ['blocks.1', 'blocks.2', 'blocks.10', 'weight', '']) seeds.add(deriveSeed(s, n));
    expect(seeds.size).toBe(20);
    expect(deriveSeed(7, 'head')).toBe(deriveSeed(7, 'head'));
    expect(() => deriveSeed(-1, 'x')).toThrow(/deriveSeed: seed must be a non-negative integer, got -1/);
  });
});

describe('dropout generator state (checkpoints)', () => {
  test('getState / setState replay the same masks', async () => {
    const generator = new Generator(1234);
    const x = ones([257]);
    dropout(x, 0.5, { generator }).dispose(); // advance the generator once
    const saved = generator.getState();
    expect(saved).toEqual({ seed: 1234, count: 1 });
    const first = await dropout(x, 0.5, { generator }).toArray();
    const second = await dropout(x, 0.5, { generator }).toArray();
    expect(first).not.toEqual(second);
    generator.setState(saved);
    expect(await dropout(x, 0.5, { generator }).toArray()).toEqual(first);
    expect(await dropout(x, 0.5, { generator }).toArray()).toEqual(second);
    expect(generator.getState()).toEqual({ seed: 1234, count: 3 });
    expect(() => generator.setState({ seed: -1, count: 0 })).toThrow(/Generator.setState: seed must be a non-negative integer/);
    expect(() => generator.setState({ seed: 1, count: 0.5 })).toThrow(/Generator.setState: count must be a non-negative integer/);
    expect(() => generator.setState(null as never)).toThrow(/Generator.setState: state must be \{ seed, count \}/);
    x.dispose();
  });
});

describe('layer argument errors', () => {
  test('messages name the layer and the value', () => {
    expect(() => new Linear(0, 3)).toThrow(/Linear: inFeatures must be a positive integer, got 0/);
    expect(() => new Linear(3, 2.5)).toThrow(/Linear: outFeatures must be a positive integer, got 2.5/);
    expect(() => new LayerNorm(4, { eps: 0 })).toThrow(/LayerNorm: eps must be a positive number, got 0/);
    expect(() => new GELU({ approximate: 'fast' as never })).toThrow(/GELU: approximate must be 'none' or 'tanh', got 'fast'/);
    expect(() => new Mlp(4, 8, { activation: 'swish' as never })).toThrow(/Mlp: activation must be one of gelu, gelu_tanh, relu, got 'swish'/);
    expect(() => new Block(8, 2, { mlpRatio: 0.01 })).toThrow(/Block: mlpRatio 0.01 × 8 gives an MLP of width 0/);
    expect(() => new Linear(3, 2, { seed: -4 })).toThrow(/Linear: seed must be a non-negative integer, got -4/);
    const lin = new Linear(3, 2);
    const x = tensor(new Float32Array(8), [2, 4]);
    expect(() => lin.forward(x)).toThrow(/linear: input of shape \[2,4\] and weight of shape \[2,3\] are not compatible/);
    x.dispose();
    lin.dispose();
  });
});

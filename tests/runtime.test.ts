/**
 * Runtime plumbing: shader preprocessing, the buffer pool, tidy/dispose, batched submission and
 * the adapter report.
 */
import { describe, expect, test } from 'vitest';
import { adapterReport, engine, keep, memoryStats, tensor, tidy, zeros, full, arange, randn, liveTensorCount } from '../src/index.js';
import { defineKernel, preprocess } from '../src/runtime/kernel.js';
import { sizeClass } from '../src/runtime/pool.js';
import unarySrc from '../shaders/elementwise_unary.wgsl';
import { useGpu } from './helpers/gpu.js';

useGpu();

describe('shader preprocessing', () => {
  const k = defineKernel('demo', 'const TILE = ${TILE}u;\n#if ${HAS_BIAS}\nlet b = 1;\n#else\nlet b = 0;\n#endif\n');

  test('fills placeholders and resolves #if branches from the defines', () => {
    expect(k.placeholders).toEqual(['TILE', 'HAS_BIAS']);
    const on = preprocess(k, { TILE: 16, HAS_BIAS: true });
    expect(on).toContain('const TILE = 16u;');
    expect(on).toContain('let b = 1;');
    expect(on).not.toContain('let b = 0;');
    expect(preprocess(k, { TILE: 8, HAS_BIAS: false })).toContain('let b = 0;');
  });

  test('a missing define is an error naming the shader file and the placeholder', () => {
    expect(() => preprocess(k, { TILE: 16 })).toThrow(/shaders\/demo\.wgsl needs a value for \$\{HAS_BIAS\}/);
  });

  test('includes paste shared WGSL once at definition (philox.wgsl into dropout and augment)', () => {
    const inc = defineKernel('demo2', 'fn a() {}\n${LIB}\nconst N = ${N}u;', { LIB: 'fn lib() -> u32 { return 1u; }' });
    expect(inc.placeholders).toEqual(['N']);
    expect(preprocess(inc, { N: 3 })).toContain('fn lib() -> u32 { return 1u; }');
    expect(() => defineKernel('demo3', 'fn a() {}', { LIB: 'x' })).toThrow(/shaders\/demo3\.wgsl has no \$\{LIB\} to include/);
  });

  test('the real shader files compile for each variant (loaded from shaders/, not copies)', () => {
    expect(unarySrc).toContain('fn forward_op');
    const unary = defineKernel('unary', unarySrc);
    expect(unary.placeholders).toContain('OP_GELU_ERF');
  });
});

describe('buffer pool', () => {
  test('size classes cover the request with at most 25% waste above 1 KiB', () => {
    expect(sizeClass(1)).toBe(256);
    expect(sizeClass(256)).toBe(256);
    for (const n of [1000, 4097, 100_000, 12_345_678]) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c / n).toBeLessThan(1.26);
    }
  });

  test('released buffers are reused: a loop allocates nothing new after its first pass', async () => {
    const step = () => tidy(() => zeros([64, 33]).add(1).mul(full([33], 2)).exp());
    step().dispose(); // first pass fills the pool
    const before = memoryStats();
    for (let i = 0; i < 20; i++) step().dispose();
    const after = memoryStats();
    expect(after.createdBuffers).toBe(before.createdBuffers);
    expect(after.liveBuffers).toBe(before.liveBuffers);
  });
});

describe('tidy, keep and dispose', () => {
  test('tidy disposes intermediates and keeps what it returns', async () => {
    const start = memoryStats().liveBuffers;
    const startTensors = liveTensorCount();
    const out = tidy(() => {
      const a = tensor([1, 2, 3]);
      const b = a.mul(2).add(1);
      return { b, list: [a.exp()] };
    });
    expect(memoryStats().liveBuffers).toBe(start + 2);
    expect(Array.from(await out.b.toArray())).toEqual([3, 5, 7]);
    out.b.dispose();
    out.list[0].dispose();
    expect(memoryStats().liveBuffers).toBe(start);
    expect(liveTensorCount()).toBe(startTensors);
  });

  test('keep() escapes every scope; nested tidy hands results outward', () => {
    const start = memoryStats().liveBuffers;
    let kept!: ReturnType<typeof tensor>;
    const outer = tidy(() => {
      const inner = tidy(() => {
        kept = keep(tensor([1]));
        tensor([2]);
        return tensor([3]);
      });
      return inner.add(1);
    });
    expect(memoryStats().liveBuffers).toBe(start + 2);
    expect(kept.isDisposed).toBe(false);
    kept.dispose();
    outer.dispose();
    expect(memoryStats().liveBuffers).toBe(start);
  });

  test('tidy rejects async functions', () => {
    expect(() => tidy(async () => tensor([1]))).toThrow(/tidy\(\) needs a synchronous function/);
  });

  test('a disposed tensor cannot be used, and says which tensor it was', async () => {
    const t = tensor([1, 2, 3], [3]);
    t.dispose();
    t.dispose(); // twice is fine
    expect(() => t.exp()).toThrow(/exp: tensor #\d+ \(shape \[3\], f32\) was disposed and cannot be used/);
    await expect(t.toArray()).rejects.toThrow(/toArray: tensor #\d+ .* was disposed/);
  });

  test('reshape views share storage until the last handle goes', async () => {
    const start = memoryStats().liveBuffers;
    const a = tensor([1, 2, 3, 4, 5, 6]);
    const v = a.reshape([2, -1]);
    expect(v.shape).toEqual([2, 3]);
    expect(memoryStats().liveBuffers).toBe(start + 1);
    a.dispose();
    expect(Array.from(await v.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
    v.dispose();
    expect(memoryStats().liveBuffers).toBe(start);
  });

  test('`using` releases a tensor at the end of its block', () => {
    const start = memoryStats().liveBuffers;
    {
      using t = tensor([1, 2]);
      expect(t.isDisposed).toBe(false);
      expect(memoryStats().liveBuffers).toBe(start + 1);
    }
    expect(memoryStats().liveBuffers).toBe(start);
  });
});

describe('submission', () => {
  test('ops are batched: nothing is submitted until a readback', async () => {
    const e = engine();
    const x = tensor([1, 2, 3, 4]);
    const submitsBefore = e.submits;
    const y = tidy(() => x.add(1).mul(2).exp().log().sqrt().neg());
    expect(e.submits).toBe(submitsBefore);
    const v = await y.toArray();
    expect(e.submits).toBe(submitsBefore + 1);
    expect(Array.from(v).map((z) => Math.round(z * 1e5) / 1e5)).toEqual([2, 2.44949, 2.82843, 3.16228].map((z) => -z));
  });

  test('in Node a readback after the same work as before sleeps through most of the wait, with the same result', async () => {
    const e = engine();
    expect(e.waiter).not.toBeNull(); // Node, WGTRAIN_PATIENT_WAIT not off
    const a = randn([96, 96], { seed: 3 });
    const sleepsBefore = e.waiter!.sleeps;
    const results: number[][] = [];
    for (let round = 0; round < 3; round++) {
      // Enough work to take well over the 2 ms the waiter will not sleep under, even on a GPU.
      const y = tidy(() => {
        let t = a;
        for (let i = 0; i < 12; i++) t = t.matmul(a).mul(0.01);
        return t.sum();
      });
      results.push(Array.from(await y.toArray()));
      y.dispose();
    }
    a.dispose();
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(e.waiter!.sleeps - sleepsBefore).toBeGreaterThanOrEqual(1);
  });

  test('creation: full, arange (i32), seeded randn is reproducible', async () => {
    expect(Array.from(await full([2, 2], 1.5).toArray())).toEqual([1.5, 1.5, 1.5, 1.5]);
    const r = arange(5);
    expect(r.dtype).toBe('i32');
    expect(Array.from(await r.toArray())).toEqual([0, 1, 2, 3, 4]);
    const a = Array.from(await randn([1000], { seed: 3 }).toArray());
    const b = Array.from(await randn([1000], { seed: 3 }).toArray());
    const c = Array.from(await randn([1000], { seed: 4 }).toArray());
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(sd - 1)).toBeLessThan(0.1);
  });

  test('bad host data is a clear error', () => {
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/tensor: 3 values do not fill shape \[2,2\] \(4 elements\)/);
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => tensor([1.5], [1], { dtype: 'i32' })).toThrow(/i32 data must be integers/);
    expect(() => tensor(Int32Array.from([1]), [1], { requiresGrad: true })).toThrow(/requiresGrad needs a float tensor; this one is i32/);
  });
});

test('adapterReport names the adapter, its features and limits', () => {
  const r = adapterReport();
  expect(typeof r.vendor).toBe('string');
  expect(r.runtime).toBe('node');
  expect(r.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
  expect(r.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  expect(Array.isArray(r.adapterFeatures)).toBe(true);
  for (const f of r.enabledFeatures) expect(r.adapterFeatures).toContain(f);
});

/**
 * Reliability under bad input (issue 16), one block per defect: NaN propagation through every
 * elementwise op, epilogue and row kernel; tidy() when its function throws; allocations checked
 * against the device's limits at the call (and out-of-memory errors reported against their
 * allocation); integer ranges and dtypes; out-of-range class labels in checked mode.
 * Checkpoints, torn files, IDX bombs and spec sizes: tests/checkpoint-integrity.test.ts,
 * tests/resume-torn.test.ts, tests/fuzz.test.ts, tests/spec-bounds.test.ts.
 */
import { afterEach, describe, expect, test } from 'vitest';
import {
  add, affine, checkedMode, crossEntropy, div, engine, exp, full, gelu, linear, liveTensorCount, log, logSoftmax, memoryStats,
  mul, neg, pow, rand, randn, relu, setCheckedMode, sigmoid, softmax, sqrt, sub, tanh, tensor, tidy, zeros, type Tensor,
} from '../src/index.js';
import { MLP } from '../src/nn/models/mlp.js';
import { BufferPool, STORAGE_USAGE } from '../src/runtime/pool.js';
import { forceRowPath, type RowPath } from '../src/nn/functional/rows.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

afterEach(() => forceRowPath(null));

const read = async (t: Tensor) => Array.from(await t.toArray());

describe('1. NaN in, NaN out', () => {
  // Finite neighbours around the NaN, so a kernel that drops or clamps it shows.
  const xs = [NaN, -2, -0.5, 0, 0.5, 2];

  test('every unary op returns NaN for NaN (pow(NaN, 0) = 1, as PyTorch) and its usual value elsewhere', async () => {
    // Values are checked where a one-line reference exists; gelu's are in tests/elementwise.test.ts.
    const ops: [string, (x: Tensor) => Tensor, ((v: number) => number) | null][] = [
      ['relu', relu, (v) => Math.max(v, 0)],
      ['sigmoid', sigmoid, (v) => 1 / (1 + Math.exp(-v))],
      ['tanh', tanh, Math.tanh],
      ['gelu', (x) => gelu(x), null],
      ['gelu tanh', (x) => gelu(x, { approximate: 'tanh' }), (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))],
      ['exp', exp, Math.exp],
      ['log', (x) => log(x.relu().add(1)), (v) => Math.log(Math.max(v, 0) + 1)],
      ['sqrt', (x) => sqrt(x.relu()), (v) => Math.sqrt(Math.max(v, 0))],
      ['neg', neg, (v) => -v],
      ['pow 2', (x) => pow(x, 2), (v) => v * v],
      ['affine', (x) => affine(x, 3, 1), (v) => 3 * v + 1],
      ['add', (x) => add(x, x), (v) => v + v],
      ['sub', (x) => sub(x, tensor([1], [1])), (v) => v - 1],
      ['mul', (x) => mul(x, x), (v) => v * v],
      ['div', (x) => div(x, tensor([4], [1])), (v) => v / 4],
    ];
    const x = tensor(xs, [xs.length]);
    for (const [name, f, ref] of ops) {
      const y = await read(f(x));
      expect(Number.isNaN(y[0]), `${name}(NaN)`).toBe(true);
      for (let i = 1; i < xs.length; i++) {
        if (ref) expect(y[i], `${name}(${xs[i]})`).toBeCloseTo(ref(xs[i]), 5);
        else expect(Number.isFinite(y[i]), `${name}(${xs[i]})`).toBe(true);
      }
    }
    expect(await read(pow(x, 0))).toEqual(xs.map(() => 1));
  });

  test('log and sqrt outside their domain: log(0) = -inf, log(x < 0) and sqrt(x < 0) = NaN, as PyTorch (WGSL leaves them to the implementation)', async () => {
    const x = tensor([-1, -0, 0, 1e-30, 1, 4, Infinity, NaN], [8]);
    const ln = await read(log(x));
    expect(ln.slice(0, 3)).toEqual([NaN, -Infinity, -Infinity]);
    expect(ln[3]).toBeCloseTo(Math.log(1e-30), 4);
    expect(ln.slice(4)).toEqual([0, Math.fround(Math.log(4)), Infinity, NaN]);
    expect(await read(sqrt(x))).toEqual([NaN, -0, 0, Math.fround(Math.sqrt(1e-30)), 1, 2, Infinity, NaN]);
  });

  test('backward: a NaN input gives a NaN gradient, except relu, which lets dy through (torch threshold_backward)', async () => {
    for (const [name, f, nanGrad] of [
      ['relu', relu, false], ['sigmoid', sigmoid, true], ['tanh', tanh, true], ['exp', exp, true], ['gelu', (t: Tensor) => gelu(t), true],
    ] as const) {
      const x = tensor([NaN, 1], [2], { requiresGrad: true });
      (f as (t: Tensor) => Tensor)(x).backward(tensor([2, 1], [2]));
      const g = await read(x.grad!);
      if (nanGrad) expect(Number.isNaN(g[0]), name).toBe(true);
      else expect(g[0], name).toBe(2);
      expect(Number.isFinite(g[1]), name).toBe(true);
    }
  });

  test('the fused linear epilogue (relu, gelu, gelu tanh) keeps NaN, forward and backward', async () => {
    for (const activation of ['relu', 'gelu', 'gelu_tanh'] as const) {
      const tracked = activation !== 'gelu_tanh'; // its backward differs from gelu's in no NaN path: fewer compiles
      // Row 0 holds a NaN, so every output of row 0 is NaN (NaN * w summed in); row 1 is finite.
      const x = tensor([NaN, 1, -1, 2], [2, 2], { requiresGrad: tracked });
      const w = tensor([1, 0.5, -0.5, 1], [2, 2], { requiresGrad: tracked });
      const y = linear(x, w, null, { activation });
      const out = await read(y);
      expect(out.slice(0, 2).every(Number.isNaN), activation).toBe(true);
      expect(out.slice(2).every(Number.isFinite), activation).toBe(true);
      if (!tracked) continue;
      y.sum().backward();
      const gw = await read(w.grad!);
      expect(gw.some(Number.isNaN), `${activation}: dW sees the NaN row`).toBe(true);
    }
  });

  test('an MLP fed one NaN pixel returns a NaN loss (it used to be finite)', async () => {
    const model = new MLP({ inFeatures: 16, hiddenSizes: [8, 8], numClasses: 3, seed: 1 });
    const pixels = new Float32Array(2 * 16).fill(0.5);
    pixels[5] = NaN;
    const loss = crossEntropy(model.forward(tensor(pixels, [2, 16])), tensor(new Int32Array([0, 2]), [2]));
    expect(Number.isNaN(await loss.item())).toBe(true);
    model.dispose();
  });

  for (const path of ['short', 'long'] as RowPath[]) {
    test(`softmax / logSoftmax: a row holding NaN is NaN throughout, other rows exact (${path} rows)`, async () => {
      forceRowPath(path);
      const x = tensor([1, NaN, 3, 0, 1, 2], [2, 3], { requiresGrad: true });
      for (const f of [softmax, logSoftmax]) {
        const y = await read(f(x));
        expect(y.slice(0, 3).every(Number.isNaN), f.name).toBe(true);
        const s = Math.exp(0) + Math.exp(1) + Math.exp(2);
        const ref = [0, 1, 2].map((v) => (f === softmax ? Math.exp(v) / s : v - Math.log(s)));
        y.slice(3).forEach((v, i) => expect(v).toBeCloseTo(ref[i], 6));
      }
      // Along axis 0 the NaN's column is the NaN row.
      const y0 = await read(softmax(x, 0));
      expect([y0[1], y0[4]].every(Number.isNaN)).toBe(true);
      expect([y0[0], y0[2], y0[3], y0[5]].every(Number.isFinite)).toBe(true);
      // Backward: the NaN row's gradient is NaN (log_softmax used to give -inf or NaN mixes).
      logSoftmax(x).sum().backward();
      const g = await read(x.grad!);
      expect(g.slice(0, 3).every(Number.isNaN)).toBe(true);
      expect(g.slice(3).every(Number.isFinite)).toBe(true);
    });

    test(`crossEntropy: a NaN logit gives a NaN loss and a NaN gradient row, not inf beside finite values (${path} rows)`, async () => {
      forceRowPath(path);
      const x = tensor([1, NaN, 3, 0, 1, 2], [2, 3], { requiresGrad: true });
      const loss = crossEntropy(x, tensor(new Int32Array([0, 1]), [2]), { reduction: 'none', labelSmoothing: 0.1 });
      const l = await read(loss);
      expect(Number.isNaN(l[0])).toBe(true);
      expect(Number.isFinite(l[1])).toBe(true);
      loss.sum().backward();
      const g = await read(x.grad!);
      expect(g.slice(0, 3).every(Number.isNaN)).toBe(true);
      expect(g.slice(3).every(Number.isFinite)).toBe(true);
    });
  }
});

describe('2. tidy() when its function throws', () => {
  test('disposes what the scope made, then rethrows; nested scopes too', () => {
    const before = liveTensorCount();
    const bytesBefore = memoryStats().liveBytes;
    const outer = zeros([4]);
    expect(() => tidy(() => {
      zeros([8]);
      tidy(() => {
        ones3();
        throw new Error('inner failure');
      });
    })).toThrow('inner failure');
    expect(() => tidy(() => {
      const a = zeros([16]).add(1);
      tidy(() => a.mul(2)); // returned to the outer scope, which then throws
      throw new Error('outer failure');
    })).toThrow('outer failure');
    expect(liveTensorCount()).toBe(before + 1);
    outer.dispose();
    expect(liveTensorCount()).toBe(before);
    expect(memoryStats().liveBytes).toBe(bytesBefore);
  });
});

function ones3(): Tensor {
  return full([3], 1);
}

describe('3. allocations are checked at the call', () => {
  test('a tensor over the device limits is refused at the call, naming its shape, size and the limit; stats stay true; the next op works', async () => {
    const statsBefore = memoryStats();
    const limit = engine().storage.maxBytes();
    expect(() => zeros([2 ** 31])).toThrow(/^zeros: a tensor of shape \[2147483648\] \(f32\) needs 8 GiB \(8589934592 bytes\), more than this device allows in one buffer \(maxBufferSize .*maxStorageBufferBindingSize/);
    expect(() => zeros([1e5, 1e5])).toThrow(/zeros: a tensor of shape \[100000,100000\] \(f32\) needs 37\.3 GiB/);
    expect(() => zeros([2 ** 40])).toThrow(/zeros: a tensor of shape \[1099511627776\] \(f32\) needs 4 TiB/);
    expect(() => full([limit / 4 + 1], 2)).toThrow(/^full: a tensor of shape/);
    tensor(new Float32Array(0), [2 ** 30, 0, 2 ** 30]).dispose(); // empty: one element's buffer
    // randn refuses before drawing 1e10 numbers on the host.
    const t0 = performance.now();
    expect(() => randn([1e5, 1e5])).toThrow(/randn: a tensor of shape \[100000,100000\] \(f32\) needs/);
    expect(() => rand([2 ** 31])).toThrow(/rand: a tensor of shape/);
    expect(performance.now() - t0).toBeLessThan(1000);
    // An op whose output would be too big says so (a broadcast of two small operands).
    const side = 2 ** Math.ceil(Math.log2(limit) / 2);
    const a = zeros([side, 1]);
    const b = zeros([1, side]);
    expect(() => a.add(b)).toThrow(new RegExp(`^add: a tensor of shape \\[${side},${side}\\] \\(f32\\) needs .*more than this device allows`));
    a.dispose();
    b.dispose();
    const after = memoryStats();
    expect(after.liveBytes).toBe(statsBefore.liveBytes);
    expect(after.createdBuffers - statsBefore.createdBuffers).toBeLessThanOrEqual(4); // the empty tensor, a, b and the failed output never created
    expect(await read(zeros([3]).add(2))).toEqual([2, 2, 2]);
  });

  test('an out-of-memory allocation is reported against what it was for, its buffer is never pooled, stats stay true', async () => {
    // WebGPU reports OOM asynchronously through error scopes; a stub device plays a full GPU.
    let failNext = false;
    const destroyed: object[] = [];
    const device = {
      limits: { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 30 },
      pushErrorScope() {},
      popErrorScope: () => Promise.resolve(failNext ? { message: 'Out of memory (stub)' } : null),
      createBuffer: ({ size }: { size: number }) => {
        const buf = { size, destroy: () => destroyed.push(buf) };
        return buf;
      },
    } as unknown as GPUDevice;
    const pool = new BufferPool(device, STORAGE_USAGE, 'stub');
    const ok = pool.acquire(1024, 'ok: a tensor of shape [256] (f32)');
    failNext = true;
    const bad = pool.acquire(1 << 20, () => 'linear: a tensor of shape [512,512] (f32)');
    await Promise.resolve();
    await Promise.resolve();
    const e = pool.takeFailure();
    expect(e?.message).toMatch(/^linear: a tensor of shape \[512,512\] \(f32\): the GPU is out of memory: a 1 MiB buffer could not be allocated .*WebGPU: Out of memory \(stub\)/);
    expect(pool.takeFailure()).toBeNull(); // reported once
    pool.release(bad);
    pool.release(ok);
    expect(destroyed).toEqual([bad]);
    expect(pool.stats()).toMatchObject({ liveBuffers: 0, liveBytes: 0, pooledBuffers: 1, pooledBytes: 1024 });
    failNext = false;
    expect(pool.acquire(1 << 20)).not.toBe(bad); // a fresh buffer, not the invalid one
  });

  test('the engine throws a recorded out-of-memory error at its next call, naming the allocation', async () => {
    const t = zeros([4]);
    // As the pool's error-scope callback does when the device could not back a buffer.
    (engine().storage as unknown as { markInvalid(b: GPUBuffer, s: number, w: string, m: string): void })
      .markInvalid(t.buffer(), 256, 'zeros: a tensor of shape [4] (f32)', 'stub');
    expect(() => t.add(1)).toThrow(/^zeros: a tensor of shape \[4\] \(f32\): the GPU is out of memory.*The GPU work recorded since the last submission was discarded/);
    const created = memoryStats().createdBuffers;
    t.dispose(); // destroyed, not pooled
    expect(memoryStats().createdBuffers).toBe(created);
    expect(await read(zeros([2]).add(1))).toEqual([1, 1]);
  });
});

describe('7. integers and dtypes', () => {
  test('out-of-range integers are errors naming the value, not silent wraps', () => {
    expect(() => tensor([3e9], [1], { dtype: 'i32' })).toThrow(/^tensor: 3000000000 at index 0 is out of range for i32 \(-2147483648\.\.2147483647\)/);
    expect(() => tensor([1, -1], [2], { dtype: 'u32' })).toThrow(/^tensor: -1 at index 1 is out of range for u32 \(0\.\.4294967295\)/);
    expect(() => tensor(new Float32Array([0.5]), [1], { dtype: 'i32' })).toThrow(/^tensor: i32 data must be integers, found 0\.5 at index 0/);
    expect(() => full([2], 2 ** 32, { dtype: 'u32' })).toThrow(/^full: 4294967296 \(the fill value\) is out of range for u32/);
    expect(() => full([2], -1, { dtype: 'u32' })).toThrow(/^full: -1 \(the fill value\) is out of range for u32/);
    expect(() => zeros([2], { dtype: 'i32' })).not.toThrow();
  });

  test('the extremes of each integer dtype are kept exactly', async () => {
    expect(await read(tensor([-(2 ** 31), 2 ** 31 - 1], [2], { dtype: 'i32' }))).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    expect(await read(tensor([0, 2 ** 32 - 1], [2], { dtype: 'u32' }))).toEqual([0, 2 ** 32 - 1]);
    expect(await read(full([1], -7, { dtype: 'i32' }))).toEqual([-7]);
  });

  test('unknown dtypes are errors naming the value (with a hint for common spellings)', () => {
    const bad = (d: string) => ({ dtype: d as 'f32' });
    expect(() => tensor([1], [1], bad('f64'))).toThrow(/^tensor: unknown dtype 'f64' \(expected 'f32', 'i32' or 'u32'; there are no 64-bit tensors; use 'f32'\)/);
    expect(() => tensor([1], [1], bad('float32'))).toThrow(/^tensor: unknown dtype 'float32' \(expected 'f32', 'i32' or 'u32'; use 'f32'\)/);
    expect(() => zeros([1], bad('int64'))).toThrow(/^zeros: unknown dtype 'int64'/);
    expect(() => randn([1], bad('i32'))).toThrow(/^randn: random tensors are f32, got dtype 'i32'/);
  });

  test('checked mode (the default): an out-of-range class label is an error naming it, its row and C, at the next readback', async () => {
    expect(checkedMode()).toBe(true);
    for (const path of ['short', 'long'] as RowPath[]) {
      forceRowPath(path);
      const logits = zeros([3, 10]);
      const loss = crossEntropy(logits, tensor(new Int32Array([0, 12, 3]), [3]));
      await expect(loss.item()).rejects.toThrow(/^crossEntropy: label 12 at row 1 is out of range for 10 classes \(class indices must be in 0\.\.9\)/);
      // Reported once; the next readback is clean.
      expect(await crossEntropy(logits, tensor(new Int32Array([0, 1, 3]), [3])).item()).toBeCloseTo(Math.log(10), 5);
      const negative = crossEntropy(logits, tensor(new Int32Array([0, 1, -100]), [3]));
      await expect(read(negative)).rejects.toThrow(/label -100 at row 2 is out of range/);
      const u = crossEntropy(logits, tensor(new Uint32Array([2 ** 32 - 1, 0, 0]), [3]));
      await expect(u.item()).rejects.toThrow(/label -1 at row 0/); // read as i32, as the kernel does
    }
  });

  test('without checked mode the row gives NaN, as before', async () => {
    setCheckedMode(false);
    try {
      const loss = crossEntropy(zeros([2, 4]), tensor(new Int32Array([0, 9]), [2]), { reduction: 'none' });
      const l = await read(loss);
      expect(l[0]).toBeCloseTo(Math.log(4), 5);
      expect(Number.isNaN(l[1])).toBe(true);
    } finally {
      setCheckedMode(true);
    }
    expect(() => setCheckedMode('yes' as unknown as boolean)).toThrow(/setCheckedMode: expected true or false, got yes/);
  });
});

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { useGpu } from './helpers/gpu.js';
import { expectClose, numericGrad, randomArray, weightedSum } from './helpers/check.js';
import { linearRef, matmulRef, type Activation } from './reference/matmul.js';
import { engine, linear, liveTensorCount, matmul, noGrad, tensor, tidy } from '../src/index.js';
import {
  MATMUL_CANDIDATES, matmulCandidates, matmulVariant, setMatmulConfigForTests, setMatmulDispatchLimitForTests, tileConfigId, type TileConfig,
} from '../src/nn/functional/matmul/index.js';

// No tuning runs here, but choices are looked up: keep them away from a real ~/.cache/wgtrain.
process.env.WGTRAIN_CACHE_DIR = mkdtempSync(join(tmpdir(), 'wgtrain-matmul-'));

useGpu();

afterEach(() => {
  setMatmulDispatchLimitForTests(null);
  setMatmulConfigForTests(null);
});

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

/** Random data already rounded to f32, so the GPU and the float64 reference see the same inputs. */
function data(shape: number[], seed: number): Float64Array {
  return Float64Array.from(Float32Array.from(randomArray(size(shape), seed)));
}

/**
 * f32 accumulation of K products of values in [-1, 1]: rounding errors add up like sqrt(K) ulps of
 * the partial sums (observed: at most 7e-6 absolute for K = 129, where outputs reach 13).
 */
const tol = (K: number) => ({ rtol: 1e-4, atol: 4e-6 * Math.max(1, Math.sqrt(K)) });

async function checkForward(aShape: number[], bShape: number[], transA = false, transB = false, seed = 1) {
  const A = data(aShape, seed);
  const B = data(bShape, seed + 100);
  const a = tensor(Float32Array.from(A), aShape);
  const b = tensor(Float32Array.from(B), bShape);
  const y = matmul(a, b, { transposeA: transA, transposeB: transB });
  const ref = matmulRef(A, aShape, B, bShape, transA, transB);
  expect(y.shape).toEqual(ref.shape);
  const K = aShape.length === 1 ? aShape[0] : aShape[aShape.length - (transA ? 2 : 1)];
  expectClose(await y.toArray(), ref.data, { ...tol(K), what: `[${aShape}]${transA ? 'ᵀ' : ''} @ [${bShape}]${transB ? 'ᵀ' : ''}` });
  a.dispose();
  b.dispose();
  y.dispose();
}

// (M, K, N): odd sizes, tile multiples, and sizes one past a tile.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 7, 3], [3, 5, 17], [17, 65, 33], [65, 129, 64], [64, 64, 64], [128, 36, 100],
];

describe('matmul forward', () => {
  test('2-D products of many sizes', async () => {
    for (const [M, K, N] of SHAPES) await checkForward([M, K], [K, N]);
  });

  test('the sizes above cover both tile configs and the vec4 and scalar paths of every operand', () => {
    // The GPU heuristic's two tile configs (software adapters run every size with one direct config).
    const variants = SHAPES.map(([M, K, N]) => matmulVariant(M, N, K, false, false, false));
    expect(new Set(variants.map((v) => v.tileM))).toEqual(new Set([32, 64]));
    for (const key of ['aVec4', 'bVec4', 'cVec4'] as const) {
      expect(new Set(variants.map((v) => v[key]))).toEqual(new Set([true, false]));
    }
  });

  test('transposed operands (TRANS_A, TRANS_B) with 64-wide tiles and partial edge tiles', async () => {
    // Small-tile transposed variants, vec4-aligned and not, run in the gradient tests below.
    const [M, K, N] = [65, 37, 66];
    expect(matmulVariant(M, N, K, true, true, false).tileM).toBe(64);
    await checkForward([K, M], [K, N], true, false, 2);
    await checkForward([M, K], [N, K], false, true, 3);
    await checkForward([K, M], [N, K], true, true, 4);
  });

  test('batched with broadcasting', async () => {
    await checkForward([2, 3, 5, 7], [7, 4]);
    await checkForward([3, 1, 5, 6], [1, 2, 6, 4]);
    await checkForward([5, 6], [3, 6, 4]);
    await checkForward([2, 4, 8], [2, 8, 12]);
  });

  test('1-D operands as in torch.matmul', async () => {
    await checkForward([7], [7]);
    await checkForward([7], [7, 4]);
    await checkForward([5, 7], [7]);
    await checkForward([2, 5, 7], [7]);
    await checkForward([7], [3, 7, 4]);
  });

  test('empty inner dimension gives zeros; empty outer dimensions give empty results', async () => {
    const y = matmul(tensor(new Float32Array(0), [3, 0]), tensor(new Float32Array(0), [0, 4]));
    expect(y.shape).toEqual([3, 4]);
    expect(Array.from(await y.toArray())).toEqual(new Array(12).fill(0));
    const e = matmul(tensor(new Float32Array(0), [0, 3]), tensor(new Float32Array(12), [3, 4]));
    expect(e.shape).toEqual([0, 4]);
    expect((await e.toArray()).length).toBe(0);
  });

  test('batches, row tiles and column tiles split over several dispatches', async () => {
    setMatmulDispatchLimitForTests(1);
    const before = engine().dispatches;
    await checkForward([5, 3, 2], [2, 4]); // 5 batches: 5 dispatches along z
    await checkForward([65, 9], [9, 130], false, false, 7); // e.g. 2 row tiles x 3 column tiles of 64
    const v = matmulVariant(65, 130, 9);
    expect(engine().dispatches - before).toBe(5 + Math.ceil(65 / v.tileM) * Math.ceil(130 / v.tileN));
  });

  test('a product with enough work for many workgroups per dimension', async () => {
    await checkForward([3, 129, 65], [3, 65, 97]);
  });
});

const ACTS: Activation[] = ['none', 'relu', 'gelu', 'gelu_tanh'];

// ---- gradients vs central differences of the float64 reference ----
// Shapes are chosen so that M, K and N are either all odd or all multiples of 4: the forward and
// both backward products then reuse a few compiled variants (SwiftShader compiles slowly) while
// still running every transposed layout with both scalar and vec4 loads. Each check also compares
// the forward output with the reference.

async function checkMatmulGrad(aShape: number[], bShape: number[], transA = false, transB = false, seed = 11) {
  const A = data(aShape, seed);
  const B = data(bShape, seed + 1);
  const a = tensor(Float32Array.from(A), aShape, { requiresGrad: true });
  const b = tensor(Float32Array.from(B), bShape, { requiresGrad: true });
  const y = matmul(a, b, { transposeA: transA, transposeB: transB });
  const what = `[${aShape}]${transA ? 'ᵀ' : ''} @ [${bShape}]${transB ? 'ᵀ' : ''}`;
  const ref = matmulRef(A, aShape, B, bShape, transA, transB);
  expect(y.shape).toEqual(ref.shape);
  expectClose(await y.toArray(), ref.data, { ...tol(16), what });
  const Wt = data([...y.shape], seed + 2);
  const gy = tensor(Float32Array.from(Wt), y.shape);
  y.backward({ grad: gy });
  const [na, nb] = numericGrad(([a64, b64]) => weightedSum(matmulRef(a64, aShape, b64, bShape, transA, transB).data, Wt), [A, B]);
  expect(a.grad!.shape).toEqual(aShape);
  expect(b.grad!.shape).toEqual(bShape);
  expectClose(await a.grad!.toArray(), na, { rtol: 1e-3, atol: 1e-4, what: `dA of ${what}` });
  expectClose(await b.grad!.toArray(), nb, { rtol: 1e-3, atol: 1e-4, what: `dB of ${what}` });
  for (const t of [a, b, y, gy]) t.dispose();
}

describe('matmul backward', () => {
  test('every combination of transposed operands, odd and vec4-aligned sizes', async () => {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        // (M, K, N) = (3, 5, 7) and (4, 8, 12).
        await checkMatmulGrad(tA ? [5, 3] : [3, 5], tB ? [7, 5] : [5, 7], tA, tB);
        await checkMatmulGrad(tA ? [8, 4] : [4, 8], tB ? [12, 8] : [8, 12], tA, tB, 21);
      }
    }
    expect(matmulVariant(3, 7, 5, true, true)).toMatchObject({ aVec4: false, bVec4: false, cVec4: false });
    expect(matmulVariant(4, 12, 8, true, true)).toMatchObject({ aVec4: true, bVec4: true, cVec4: true });
  });

  test('broadcast batch dimensions sum their gradients', async () => {
    await checkMatmulGrad([2, 3, 5, 7], [7, 3]);
    await checkMatmulGrad([3, 1, 5, 7], [1, 2, 7, 3]);
    await checkMatmulGrad([5, 7], [3, 7, 3]);
    await checkMatmulGrad([2, 1, 3, 5], [2, 7, 5], false, true);
    await checkMatmulGrad([3, 5, 3], [5, 7], true, false);
    await checkMatmulGrad([2, 4, 8], [2, 8, 12]);
  });

  test('1-D operands', async () => {
    await checkMatmulGrad([7], [7]);
    await checkMatmulGrad([7], [3, 7, 5]);
    await checkMatmulGrad([2, 5, 7], [7]);
  });

  test('only the operand that requires grad gets one', async () => {
    const A = data([3, 5], 1);
    const B = data([5, 7], 2);
    const G = data([3, 7], 3);
    const a = tensor(Float32Array.from(A), [3, 5]);
    const b = tensor(Float32Array.from(B), [5, 7], { requiresGrad: true });
    const y = matmul(a, b);
    y.backward({ grad: tensor(Float32Array.from(G), [3, 7]) });
    expect(a.grad).toBeNull();
    const [nb] = numericGrad(([b64]) => weightedSum(matmulRef(A, [3, 5], b64, [5, 7]).data, G), [B]);
    expectClose(await b.grad!.toArray(), nb, { rtol: 1e-3, atol: 1e-4, what: 'dB' });
  });
});

async function checkLinearGrad(xShape: number[], outF: number, act: Activation, withBias: boolean, xNeedsGrad = true) {
  const inF = xShape[xShape.length - 1];
  const seed = 31 + outF + (withBias ? 1 : 0);
  const X = data(xShape, seed);
  const Wd = data([outF, inF], seed + 1);
  const Bd = withBias ? data([outF], seed + 2) : null;
  const x = tensor(Float32Array.from(X), xShape, { requiresGrad: xNeedsGrad });
  const w = tensor(Float32Array.from(Wd), [outF, inF], { requiresGrad: true });
  const b = Bd ? tensor(Float32Array.from(Bd), [outF], { requiresGrad: true }) : null;
  const y = linear(x, w, b, { activation: act });
  const what = `linear ${act} bias=${withBias} [${xShape}] -> ${outF}`;
  const ref = linearRef(X, xShape, Wd, [outF, inF], Bd, act);
  expect(y.shape).toEqual(ref.shape);
  expectClose(await y.toArray(), ref.data, { ...tol(inF), what });
  const G = data([...y.shape], seed + 3);
  const gy = tensor(Float32Array.from(G), y.shape);
  y.backward({ grad: gy });
  const inputs = Bd ? [X, Wd, Bd] : [X, Wd];
  const num = numericGrad(([x64, w64, b64]) => weightedSum(linearRef(x64, xShape, w64, [outF, inF], b64 ?? null, act).data, G), inputs);
  const opts = { rtol: 1e-3, atol: 1e-4 };
  if (xNeedsGrad) expectClose(await x.grad!.toArray(), num[0], { ...opts, what: `dx of ${what}` });
  else expect(x.grad).toBeNull();
  expectClose(await w.grad!.toArray(), num[1], { ...opts, what: `dW of ${what}` });
  if (b) {
    expect(b.grad!.shape).toEqual([outF]);
    expectClose(await b.grad!.toArray(), num[2], { ...opts, what: `db of ${what}` });
  }
  for (const t of [x, w, b, y, gy]) t?.dispose();
}

describe('linear', () => {
  for (const act of ACTS) {
    test(`${act}: forward and gradients, with and without bias`, async () => {
      // Odd sizes with a bias (scalar loads), multiples of 4 without one (vec4 loads and stores).
      await checkLinearGrad([2, 3, 5], 7, act, true);
      await checkLinearGrad([6, 8], 4, act, false);
    });
  }

  test('forward without autograd (no saved pre-activation), 1-D input', async () => {
    for (const act of ACTS) {
      const [xShape, outF] = act === 'none' ? [[13], 5] : [[2, 3, 17], 9];
      const inF = xShape[xShape.length - 1];
      const X = data(xShape, 3);
      const W = data([outF, inF], 4);
      const Bv = data([outF], 5).map((v) => 2 * v);
      const x = tensor(Float32Array.from(X), xShape);
      const w = tensor(Float32Array.from(W), [outF, inF]);
      const b = tensor(Float32Array.from(Bv), [outF]);
      const y = linear(x, w, b, { activation: act });
      const ref = linearRef(X, xShape, W, [outF, inF], Bv, act);
      expect(y.shape).toEqual(ref.shape);
      expectClose(await y.toArray(), ref.data, { ...tol(inF), what: `linear ${act} [${xShape}]` });
      for (const t of [x, w, b, y]) t.dispose();
    }
  });

  test('an input that does not require grad (a first layer): weight and bias gradients only', async () => {
    await checkLinearGrad([2, 3, 5], 7, 'gelu', true, false);
    await checkLinearGrad([6, 8], 4, 'relu', false, false);
  });

  test('bias gradient over more rows than one column-sum pass covers', async () => {
    // 600 rows: the column sum takes two passes (256-row chunks, then the partial sums).
    await checkLinearGrad([600, 3], 5, 'none', true);
  });
});

// ---- every tile config the autotuner can pick ----

describe('tile variants', () => {
  // (aShape, bShape, transA, transB). The first two share one compiled variant per config (all
  // scalar loads): 129 and 65 are one past 128 / 64 tiles, 1 x 129 is a single row. The third is
  // non-square with both operands transposed, A read as vec4 and B and C scalar.
  const problems: [number[], number[], boolean, boolean][] = [
    [[129, 65], [65, 17], false, false],
    [[1, 17], [17, 129], false, false],
    [[37, 68], [130, 37], true, true],
  ];
  const byDefault = new Map<number, ArrayLike<number>>();

  // One test per config (each compiles two variants, 1-2 s apiece on SwiftShader).
  test.each(MATMUL_CANDIDATES.map((c) => [tileConfigId(c), c] as const))('%s matches the reference on odd and transposed shapes, bit for bit the same as the default config', async (id, config) => {
    if (!matmulCandidates().some((c) => tileConfigId(c) === id)) {
      // Only on an adapter with smaller limits than SwiftShader's 32 KiB / 256 threads.
      expect(() => setMatmulConfigForTests(config)).toThrow(/cannot run here/);
      return;
    }
    for (const [i, [aShape, bShape, tA, tB]] of problems.entries()) {
      const A = data(aShape, 5);
      const B = data(bShape, 6);
      const a = tensor(Float32Array.from(A), aShape);
      const b = tensor(Float32Array.from(B), bShape);
      const what = `${id} [${aShape}]${tA ? 'ᵀ' : ''} @ [${bShape}]${tB ? 'ᵀ' : ''}`;
      if (!byDefault.has(i)) byDefault.set(i, await matmul(a, b, { transposeA: tA, transposeB: tB }).toArray());
      setMatmulConfigForTests(config);
      const y = await matmul(a, b, { transposeA: tA, transposeB: tB }).toArray();
      setMatmulConfigForTests(null);
      expectClose(y, matmulRef(A, aShape, B, bShape, tA, tB).data, { ...tol(aShape[tA ? 0 : 1]), what });
      // Every config adds the products of an output element in the same order (k = 0 .. K-1).
      expect(Array.from(y), `${what} vs the default config`).toEqual(Array.from(byDefault.get(i)!));
      a.dispose();
      b.dispose();
    }
  });

  test('an 8 x 8-per-thread config keeps every feature: broadcast gradients, bias + gelu epilogue, split dispatches', async () => {
    const big: TileConfig = { tileM: 128, tileN: 128, tileK: 16, threadM: 8, threadN: 8 };
    setMatmulConfigForTests(big);
    // dB sums over the broadcast batch dimension (reduce dims) in the same pass.
    await checkMatmulGrad([2, 1, 3, 5], [2, 7, 5], false, true);
    await checkLinearGrad([2, 3, 5], 7, 'gelu', true);
    setMatmulDispatchLimitForTests(1);
    const before = engine().dispatches;
    await checkForward([129, 9], [9, 131], false, false, 8); // 2 row tiles x 2 column tiles of 128
    expect(engine().dispatches - before).toBe(2 * 2);
  });

  // The prefetch paths have their own edge cases: a prologue load per reduce-dim iteration, the
  // last step with nothing to prefetch, K under one tile (the prologue is the only load), and for
  // '+pf2' the alternating halves. 64x64x16/8x8 (64 threads) loads 4 vec4s of each tile per thread,
  // the most any candidate does; the 1- and 2-load configs run in the per-candidate tests above.
  test.each(['64x64x16/8x8+pf', '64x64x16/8x8+pf2'])('%s keeps every feature: K = 1 and under one tile, reduce dims over several K-steps, bias + gelu epilogue, split dispatches', async (id) => {
    const config = MATMUL_CANDIDATES.find((c) => tileConfigId(c) === id)!;
    const plain: TileConfig = { ...config, prefetch: false, doubleBuffer: false };
    // (aShape, bShape, transA, transB): K = 1, K = 5 < TILE_K, K = 37 (three steps, the last partial).
    // Their compiled variants are those of the per-candidate test above: no new compiles.
    const products: [number[], number[], boolean, boolean][] = [
      [[33, 1], [1, 70], false, false],
      [[70, 5], [5, 33], false, false],
      [[37, 68], [30, 37], true, true],
    ];
    for (const [aShape, bShape, tA, tB] of products) {
      const a = tensor(Float32Array.from(data(aShape, 7)), aShape);
      const b = tensor(Float32Array.from(data(bShape, 8)), bShape);
      setMatmulConfigForTests(plain);
      const want = await matmul(a, b, { transposeA: tA, transposeB: tB }).toArray();
      setMatmulConfigForTests(config);
      const got = await matmul(a, b, { transposeA: tA, transposeB: tB }).toArray();
      expect(Array.from(got), `${id} [${aShape}] @ [${bShape}] vs without prefetch`).toEqual(Array.from(want));
      a.dispose();
      b.dispose();
    }
    setMatmulConfigForTests(config);
    for (const [aShape, bShape, tA, tB] of products) await checkForward(aShape, bShape, tA, tB, 9);
    // dB sums over the broadcast batch dimension (reduce dims), each a product with K = 40.
    await checkMatmulGrad([2, 1, 40, 5], [2, 7, 5], false, true);
    await checkLinearGrad([2, 3, 5], 7, 'gelu', true);
    setMatmulDispatchLimitForTests(1);
    const before = engine().dispatches;
    await checkForward([65, 9], [9, 130], false, false, 8); // 2 row tiles x 3 column tiles of 64
    expect(engine().dispatches - before).toBe(2 * 3);
  });

  test('a config the device cannot run is refused', () => {
    expect(() => setMatmulConfigForTests({ tileM: 256, tileN: 256, tileK: 32, threadM: 8, threadN: 8 })).toThrow(/setMatmulConfigForTests: 256x256x32\/8x8 cannot run here \(.*workgroup memory/);
    // Double-buffered tiles take twice the workgroup memory: 128x128x32 needs 64 KiB.
    expect(() => setMatmulConfigForTests({ tileM: 128, tileN: 128, tileK: 32, threadM: 8, threadN: 8, prefetch: true, doubleBuffer: true })).toThrow(/128x128x32\/8x8\+pf2 cannot run here \(65536 bytes of workgroup memory/);
  });
});

describe('memory', () => {
  test('forward and backward leave no tensors behind', async () => {
    const before = liveTensorCount();
    const x = tensor(Float32Array.from(data([4, 6], 1)), [4, 6], { requiresGrad: true });
    const w = tensor(Float32Array.from(data([5, 6], 2)), [5, 6], { requiresGrad: true });
    const b = tensor(Float32Array.from(data([5], 3)), [5], { requiresGrad: true });
    const m = tensor(Float32Array.from(data([2, 5, 3], 4)), [2, 5, 3], { requiresGrad: true });
    const y = linear(x, w, b, { activation: 'gelu' });
    const z = matmul(y, m);
    z.backward({ grad: tensor(new Float32Array(24).fill(1), [2, 4, 3]) });
    await x.grad!.toArray();
    for (const t of [x, w, b, m, y, z]) t.dispose();
    noGrad(() => tidy(() => {
      linear(tensor(new Float32Array(6), [1, 6], { requiresGrad: true }), tensor(new Float32Array(30), [5, 6]), null, { activation: 'gelu' });
    }));
    // The gradient seed tensor above was not disposed by us: it is the one tensor left.
    expect(liveTensorCount() - before).toBe(1);
  });
});

describe('errors', () => {
  const t = (shape: number[]) => tensor(new Float32Array(size(shape)), shape);

  test('matmul shape, rank and dtype errors name the op and the shapes', () => {
    expect(() => matmul(t([2, 3]), t([4, 5]))).toThrow('matmul: shapes [2,3] and [4,5] are not compatible (3 != 4)');
    expect(() => matmul(t([2, 3]), t([2, 5]), { transposeB: true })).toThrow(/matmul: shapes \[2,3\] and \[2,5\] are not compatible \(3 != 5\) with transposeB/);
    expect(() => matmul(t([2, 3, 4]), t([5, 4, 6]))).toThrow(/matmul: batch dimensions of shapes \[2,3,4\] and \[5,4,6\] cannot be broadcast together \(\[2\] vs \[5\]\)/);
    expect(() => matmul(t([]), t([3]))).toThrow(/matmul: both operands need at least one dimension, got shapes \[\] and \[3\]/);
    expect(() => matmul(tensor(new Int32Array(6), [2, 3]), t([3, 2]))).toThrow(/matmul: expected a f32 tensor, got i32/);
    expect(() => matmul(t([3]), t([3, 2]), { transposeA: true })).toThrow(/matmul: transposeA \/ transposeB need an operand with at least 2 dimensions/);
    const gone = t([2, 2]);
    gone.dispose();
    expect(() => matmul(gone, t([2, 2]))).toThrow(/matmul: tensor #\d+ .* was disposed/);
  });

  test('linear errors: weight, input, bias, activation', () => {
    expect(() => linear(t([4, 3]), t([5, 4]))).toThrow('linear: input of shape [4,3] and weight of shape [5,4] are not compatible (3 != 4 input features)');
    expect(() => linear(t([4, 3]), t([5, 3]), t([3]))).toThrow('linear: bias of shape [3] does not match weight of shape [5,3] (expected [5])');
    expect(() => linear(t([4, 3]), t([3]))).toThrow(/linear: weight must be 2-D \[out_features, in_features\], got shape \[3\]/);
    expect(() => linear(t([4, 3]), t([5, 3]), null, { activation: 'swish' as Activation })).toThrow(/linear: unknown activation 'swish'/);
    expect(() => linear(tensor(new Int32Array(3), [1, 3]), t([5, 3]))).toThrow(/linear: expected a f32 tensor, got i32/);
    expect(() => linear(t([]), t([5, 3]))).toThrow(/linear: input needs at least one dimension/);
  });
});

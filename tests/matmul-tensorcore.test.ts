/**
 * Tensor-core matmul (subgroup matrices, f16 operands, f32 accumulation).
 *
 * Three kinds of tests:
 * - everywhere: the f16 rounding of the reference, the choice of matrix shape and tiles, argument
 *   errors, and (on a device without the feature, e.g. SwiftShader) the error that names it;
 * - everywhere Dawn for Node has its "null" backend: every kernel variant goes through Tint's full
 *   front end (types, builtin signatures, uniformity) and pipeline validation, without running;
 * - on a device with the feature (NVIDIA with Dawn's unsafe-API and f16 toggles): results against a
 *   float64 product of the f16-rounded operands. Skipped, visibly, elsewhere.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomArray } from './helpers/check.js';
import { F16_MAX, matmulF16Ref, roundToF16, worstF16Error, type ProductLayout } from './reference/matmul-f16.js';
import { adapterReport, engine, init, liveTensorCount, shutdown, tensor, tidy, type Tensor } from '../src/index.js';
import {
  canUseTensorCoreMatmul, chooseSubgroupMatrixShape, chooseTensorCoreTiles, planTiles, subgroupMatrixSupport,
  setTensorCoreEmulationForTests, SUBGROUP_MATRIX_FEATURE, TENSOR_CORE_DAWN_FLAGS, TENSOR_CORE_FEATURES, TENSOR_CORE_PRESETS,
  tensorCoreDefines, tensorCoreMatmul, tensorCoreSource, tensorCoreVariant, type MatrixShape, type SubgroupMatrixConfig,
  type SupportTarget, type TensorCoreTiles,
} from '../src/nn/functional/matmul/tensorcore.js';

// The device is made here, before the suites are collected, so that `skipIf` can see what it offers.
// Asking for the tensor-core features and Dawn flags costs nothing where they are not offered.
await init({ optionalFeatures: [...TENSOR_CORE_FEATURES, 'timestamp-query'], dawnFlags: TENSOR_CORE_DAWN_FLAGS });
afterAll(() => shutdown());

const support = subgroupMatrixSupport();
const adapterName = `${adapterReport().vendor} ${adapterReport().description}`.trim();
// The reason up to its first colon: what is missing (the full text is asserted below).
const skipNote = support.config ? '' : ` [skipped: ${support.reason!.split(':')[0]}]`;

const NVIDIA_CONFIGS: SubgroupMatrixConfig[] = [
  { M: 16, N: 8, K: 16, componentType: 'f16', resultComponentType: 'f32' },
  { M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' },
  { M: 16, N: 8, K: 8, componentType: 'f16', resultComponentType: 'f16' },
  { M: 16, N: 16, K: 32, componentType: 'u8', resultComponentType: 'u32' },
];
const H100_LIMITS = { maxComputeWorkgroupStorageSize: 49152, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024 };

function fakeTarget(features: string[], configs: SubgroupMatrixConfig[], limits = H100_LIMITS, adapterFeatures?: string[]): SupportTarget {
  return { features: new Set(features), limits, adapterInfo: { subgroupMatrixConfigs: configs, subgroupMinSize: 32, subgroupMaxSize: 32 }, adapterFeatures };
}

describe('f16 rounding of the reference (round to nearest, ties to even)', () => {
  test('ties go to the even neighbour, in normals and subnormals', () => {
    expect(roundToF16(1)).toBe(1);
    expect(roundToF16(1 + 2 ** -11)).toBe(1); // half an ulp above 1: tie, 1 is even
    expect(roundToF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // 1.5 ulp: tie, 1 + 2 ulp is even
    expect(roundToF16(1 + 2 ** -11 + 2 ** -20)).toBe(1 + 2 ** -10); // just past the tie
    expect(roundToF16(-(1 + 2 ** -11 + 2 ** -20))).toBe(-(1 + 2 ** -10));
    expect(roundToF16(2 ** -24)).toBe(2 ** -24); // smallest subnormal
    expect(roundToF16(2 ** -25)).toBe(0); // tie between 0 and 2^-24
    expect(roundToF16(3 * 2 ** -25)).toBe(2 ** -23);
    expect(roundToF16(2 ** -14)).toBe(2 ** -14); // smallest normal
  });

  test('known encodings, the largest finite value and overflow', () => {
    expect(roundToF16(0.1)).toBe(0.0999755859375); // 0x2E66
    expect(roundToF16(Math.fround(1 / 3))).toBe(0.333251953125); // 0x3555
    expect(roundToF16(2047.5)).toBe(2048);
    expect(roundToF16(F16_MAX)).toBe(F16_MAX);
    expect(roundToF16(65519.99)).toBe(F16_MAX);
    expect(roundToF16(65520)).toBe(Infinity);
    expect(roundToF16(-70000)).toBe(-Infinity);
    expect(Number.isNaN(roundToF16(NaN))).toBe(true);
  });

  test('the rounded value is within half a step of the input, at every scale', () => {
    const xs = randomArray(2000, 7, -1, 1).map((u, i) => u * 2 ** ((i % 40) - 24));
    for (const x of xs) {
      const r = roundToF16(x);
      const a = Math.abs(x);
      const e = a < 2 ** -14 ? -14 : Math.floor(Math.log2(a));
      expect(Math.abs(r - x)).toBeLessThanOrEqual(2 ** (e - 11));
    }
  });
});

describe('choosing the matrix shape and tiles', () => {
  test('prefers 16x16x16 among f16 -> f32 configurations, then 16x8x16, 16x8x8, 8x8x8', () => {
    expect(chooseSubgroupMatrixShape(NVIDIA_CONFIGS)).toEqual({ M: 16, N: 16, K: 16 });
    expect(chooseSubgroupMatrixShape(NVIDIA_CONFIGS.filter((c) => c.N !== 16))).toEqual({ M: 16, N: 8, K: 16 });
    // f16 results do not count: the kernel accumulates in f32.
    expect(chooseSubgroupMatrixShape([NVIDIA_CONFIGS[2], NVIDIA_CONFIGS[3]])).toBeNull();
    expect(chooseSubgroupMatrixShape([{ M: 8, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' }])).toEqual({ M: 8, N: 16, K: 16 });
    expect(chooseSubgroupMatrixShape([{ M: 4, N: 4, K: 4, componentType: 'f16', resultComponentType: 'f32' }])).toBeNull();
  });

  test('an adapter with the features and configurations is supported', () => {
    const s = subgroupMatrixSupport(fakeTarget(TENSOR_CORE_FEATURES, NVIDIA_CONFIGS));
    expect(s.reason).toBeNull();
    expect(s.config).toEqual({ M: 16, N: 16, K: 16 });
    expect(s.subgroupSize).toBe(32);
  });

  test('the reason names missing features and tells offered-but-not-requested apart', () => {
    const none = subgroupMatrixSupport(fakeTarget(['subgroups'], [], H100_LIMITS, ['subgroups']));
    expect(none.config).toBeNull();
    expect(none.reason).toMatch(/lacks 'shader-f16', 'chromium-experimental-subgroup-matrix'/);
    expect(none.reason).toMatch(/adapter does not offer .*allow_unsafe_apis/);
    const notAsked = subgroupMatrixSupport(fakeTarget(['shader-f16', 'subgroups'], NVIDIA_CONFIGS, H100_LIMITS, TENSOR_CORE_FEATURES));
    expect(notAsked.reason).toMatch(/device was created without 'chromium-experimental-subgroup-matrix' \(pass init\(\{ optionalFeatures/);
    const noF32 = subgroupMatrixSupport(fakeTarget(TENSOR_CORE_FEATURES, [NVIDIA_CONFIGS[2]]));
    expect(noF32.reason).toMatch(/no f16 x f16 -> f32 configuration .*16x8x8 f16->f16/);
  });

  test('tiles follow the workgroup memory: double-buffered at 48 KiB, single-buffered at 32 KiB, refused at 8 KiB', () => {
    const shape: MatrixShape = { M: 16, N: 16, K: 16 };
    const big = TENSOR_CORE_PRESETS['128x128-w8'];
    const at48 = planTiles(big, shape, 32, H100_LIMITS);
    expect(typeof at48).toBe('object');
    expect(at48).toMatchObject({ BM: 128, BN: 128, threads: 256, doubleBuffer: true, workgroupBytes: 49152 });
    expect(planTiles(big, shape, 32, { ...H100_LIMITS, maxComputeWorkgroupStorageSize: 32768 })).toMatchObject({ doubleBuffer: false });
    expect(planTiles(big, shape, 32, { ...H100_LIMITS, maxComputeWorkgroupStorageSize: 8192 })).toMatch(/workgroup memory, over the device's 8192/);
    expect(planTiles(big, shape, 64, { ...H100_LIMITS, maxComputeInvocationsPerWorkgroup: 256 })).toMatch(/512 invocations/);
    expect(planTiles(TENSOR_CORE_PRESETS['32x32-w4'], { M: 16, N: 16, K: 32 }, 32, H100_LIMITS)).toMatch(/do not fit/);
    const tooSmall = subgroupMatrixSupport(fakeTarget(TENSOR_CORE_FEATURES, NVIDIA_CONFIGS, { ...H100_LIMITS, maxComputeWorkgroupStorageSize: 4096 }));
    expect(tooSmall.reason).toMatch(/workgroup memory/);
  });

  test('large products get 128x128 blocks, small ones smaller blocks', () => {
    const shape: MatrixShape = { M: 16, N: 16, K: 16 };
    expect(chooseTensorCoreTiles(4096, 4096, 1, shape, 32, H100_LIMITS).tiles.name).toBe('128x128-w8');
    expect(chooseTensorCoreTiles(1024, 1024, 1, shape, 32, H100_LIMITS).BM).toBe(128);
    expect(chooseTensorCoreTiles(256, 256, 1, shape, 32, H100_LIMITS).BM).toBe(32);
    expect(chooseTensorCoreTiles(512, 512, 1, shape, 32, H100_LIMITS).BM).toBe(64);
    expect(chooseTensorCoreTiles(64, 64, 1, shape, 32, H100_LIMITS).tiles.name).toBe('32x32-w4');
  });

  test('variants: vec4 loads follow each operand\'s contiguous dimension, direct stores need N % 4 == 0', () => {
    expect(tensorCoreVariant(64, 64, 64, false, false)).toEqual({ transA: false, transB: false, aVec4: true, bVec4: true, directStore: true });
    expect(tensorCoreVariant(65, 66, 64, true, true)).toEqual({ transA: true, transB: true, aVec4: false, bVec4: true, directStore: false });
    expect(tensorCoreVariant(64, 65, 63, false, false)).toMatchObject({ aVec4: false, bVec4: false, directStore: false });
  });
});

// ---- Tint's front end on Dawn's null backend ----

interface NullDevice {
  device: GPUDevice;
  /** Held so that the Dawn instance is not garbage-collected under its device (that crashes). */
  gpu: GPU;
  adapter: GPUAdapter;
}

/** Dawn's null backend offers every feature and runs Tint's front end, but executes nothing. */
async function nullBackendDevice(): Promise<NullDevice | null> {
  try {
    const { create } = await import('webgpu');
    const gpu = create(['backend=null', 'enable-dawn-features=allow_unsafe_apis']);
    const adapter = await gpu.requestAdapter();
    if (!adapter || !TENSOR_CORE_FEATURES.every((f) => adapter.features.has(f))) return null;
    const device = await adapter.requestDevice({ requiredFeatures: TENSOR_CORE_FEATURES });
    return { device, gpu, adapter };
  } catch {
    return null;
  }
}

const nullDev = await nullBackendDevice();
afterAll(() => nullDev?.device.destroy());

async function compileMessages(device: GPUDevice, code: string): Promise<string[]> {
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  return info.messages.filter((m) => m.type !== 'info').map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
}

const SHAPES: MatrixShape[] = [
  { M: 16, N: 16, K: 16 },
  { M: 16, N: 8, K: 16 },
  { M: 16, N: 8, K: 8 },
  { M: 8, N: 8, K: 8 },
];
const TRANSPOSES = [[false, false], [true, false], [false, true], [true, true]] as const;

describe.skipIf(!nullDev)(`WGSL validation by Tint (Dawn null backend, nothing executed)${nullDev ? '' : ' [skipped: no null backend with the features]'}`, () => {
  test('every matrix shape x preset x transpose x alignment compiles without errors or warnings', async () => {
    const device = nullDev!.device;
    const failures: string[] = [];
    for (const shape of SHAPES) {
      for (const tiles of Object.values(TENSOR_CORE_PRESETS)) {
        const plan = planTiles(tiles, shape, 32, H100_LIMITS);
        if (typeof plan === 'string') {
          failures.push(`${tiles.name} ${shape.M}x${shape.N}x${shape.K}: ${plan}`);
          continue;
        }
        for (const [transA, transB] of TRANSPOSES) {
          for (const aligned of [true, false]) {
            for (const doubleBuffer of [true, false]) {
              const v = { transA, transB, aVec4: aligned, bVec4: aligned, directStore: aligned };
              const messages = await compileMessages(device, tensorCoreSource(tensorCoreDefines(shape, 32, { ...plan, doubleBuffer }, v)));
              if (messages.length) failures.push(`${tiles.name} ${shape.M}x${shape.N}x${shape.K} ${JSON.stringify(v)} db=${doubleBuffer}: ${messages.join(' | ')}`);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  test('pipelines are created for the variants that fit the null device\'s workgroup memory (both buffering modes)', async () => {
    const device = nullDev!.device;
    const plans = ['64x64-w4', '32x32-w4'].map((name) => planTiles(TENSOR_CORE_PRESETS[name], SHAPES[0], 32, device.limits));
    expect(plans.map((p) => (typeof p === 'string' ? p : p.doubleBuffer))).toEqual([false, true]);
    for (const plan of plans) {
      if (typeof plan === 'string') continue;
      for (const [transA, transB] of TRANSPOSES) {
        device.pushErrorScope('validation');
        const module = device.createShaderModule({ code: tensorCoreSource(tensorCoreDefines(SHAPES[0], 32, plan, tensorCoreVariant(64, 64, 64, transA, transB))) });
        await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
        expect(await device.popErrorScope()).toBeNull();
      }
    }
  });

  test('the validation is real: without the diagnostic override the warp-dependent offsets are rejected', async () => {
    const plan = planTiles(TENSOR_CORE_PRESETS['64x64-w4'], SHAPES[0], 32, H100_LIMITS);
    if (typeof plan === 'string') throw new Error(plan);
    const code = tensorCoreSource(tensorCoreDefines(SHAPES[0], 32, plan, tensorCoreVariant(64, 64, 64, false, false)));
    const broken = code.replace('diagnostic(off, chromium.subgroup_matrix_uniformity);', '');
    expect(broken).not.toBe(code);
    expect((await compileMessages(nullDev!.device, broken)).join('\n')).toMatch(/error .*subgroupMatrix(Load|Store)' requires argument \d to be uniform/);
  });
});

// ---- on this device ----

const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

function t(shape: number[]): Tensor {
  return tensor(new Float32Array(size(shape)), shape);
}

describe('argument checks (before any device support check)', () => {
  test('shapes, ranks, batches and dtypes are checked with the op named', () => tidy(() => {
    expect(() => tensorCoreMatmul(t([2, 3]), t([4, 5]))).toThrow('tensorCoreMatmul: shapes [2,3] and [4,5] are not compatible (3 != 4)');
    expect(() => tensorCoreMatmul(t([2, 3]), t([2, 5]), { transposeB: true })).toThrow(/shapes \[2,3\] and \[2,5\] are not compatible \(3 != 5\) with transposeB/);
    expect(() => tensorCoreMatmul(t([2, 3, 4]), t([4, 6]))).toThrow(/tensorCoreMatmul: operands must both be 2-D \[M, K\] @ \[K, N\] or both 3-D/);
    expect(() => tensorCoreMatmul(t([3]), t([3, 2]))).toThrow(/got shapes \[3\] and \[3,2\]/);
    expect(() => tensorCoreMatmul(t([2, 3, 4]), t([5, 4, 6]))).toThrow('tensorCoreMatmul: batch sizes of shapes [2,3,4] and [5,4,6] differ (2 != 5); broadcasting is not supported');
    expect(() => tensorCoreMatmul(tensor([1, 2], [1, 2], { dtype: 'i32' }), t([2, 2]))).toThrow(/tensorCoreMatmul: expected a f32 tensor, got i32/);
  }));
});

describe.skipIf(!!support.config)(`without subgroup matrices (${adapterName})${support.config ? ' [skipped: this device has them]' : ''}`, () => {
  test('subgroupMatrixSupport says why, and tensorCoreMatmul throws that reason naming the missing feature', () => {
    expect(support.config).toBeNull();
    expect(canUseTensorCoreMatmul()).toBe(false);
    expect(support.reason).toContain(`'${SUBGROUP_MATRIX_FEATURE}'`);
    const a = t([4, 4]);
    const b = t([4, 4]);
    const before = liveTensorCount();
    expect(() => tensorCoreMatmul(a, b)).toThrow(/^tensorCoreMatmul: tensor cores \(subgroup matrices\) are not available on this device: the device lacks .*'chromium-experimental-subgroup-matrix'/);
    expect(liveTensorCount()).toBe(before);
    a.dispose();
    b.dispose();
  });
});

/**
 * Bound on |gpu - ref| for f32 accumulation of exact f16 x f16 products: a few f32 roundings of
 * partial sums no larger than Σ|a||b|. 4e-6 · Σ|a||b| is ~30 f32 ulps of that scale, far above what
 * f32 sums lose at these K, and far below what a wrong operand rounding costs (an operand rounded
 * toward zero, or not rounded to f16 at all, moves a product by ~2^-12 of itself: ~1e-4 · Σ|a||b|).
 */
const REL = 4e-6;
const ABS = 1e-7;

function data(n: number, seed: number): Float32Array {
  return Float32Array.from(randomArray(n, seed));
}

async function checkProduct(M: number, K: number, N: number, opts: { transA?: boolean; transB?: boolean; batch?: number; tiles?: TensorCoreTiles; seed?: number } = {}) {
  const { transA = false, transB = false, batch = 1, seed = 1 } = opts;
  const lead = batch > 1 ? [batch] : [];
  const aShape = [...lead, ...(transA ? [K, M] : [M, K])];
  const bShape = [...lead, ...(transB ? [N, K] : [K, N])];
  const A = data(size(aShape), seed);
  const B = data(size(bShape), seed + 1000);
  const a = tensor(A, aShape);
  const b = tensor(B, bShape);
  const y = tensorCoreMatmul(a, b, { transposeA: transA, transposeB: transB, tiles: opts.tiles });
  const layout: ProductLayout = { M, N, K, batch, transA, transB };
  const ref = matmulF16Ref(A, B, layout);
  expect(y.shape).toEqual([...lead, M, N]);
  const got = await y.toArray();
  const w = worstF16Error(got, ref, REL, ABS);
  const what = `[${aShape}]${transA ? 'ᵀ' : ''} @ [${bShape}]${transB ? 'ᵀ' : ''}${opts.tiles ? ` tiles ${opts.tiles.name}` : ''}`;
  expect(w.ratio, `${what}: element ${w.index} is ${w.actual}, expected ${w.expected} (max err/Σ|ab| ${w.maxErrOverAbsSum.toExponential(2)})`).toBeLessThanOrEqual(1);
  a.dispose();
  b.dispose();
  y.dispose();
}

interface ProductSuite {
  /** Tile shapes to try on a ragged and an aligned product (beyond the default choice). */
  tiles: TensorCoreTiles[];
  /** Square sizes. */
  squares: number[];
  /**
   * Every transpose on aligned sizes too, and a product with only one vec4 operand. Each kernel
   * variant costs seconds to compile on SwiftShader, so the emulated run keeps to the variants
   * that cover distinct code (ragged and aligned, each transpose, both buffering modes).
   */
  thorough: boolean;
}

/**
 * The product tests, run twice: with the builtins emulated (here and everywhere) and on real
 * subgroup matrices (where the device has them).
 */
function productTests({ tiles, squares, thorough }: ProductSuite) {
  test.each(squares)('square %i against float64 over f16-rounded operands', async (n) => {
    await checkProduct(n, n, n, { seed: n });
  });

  test.each(TRANSPOSES)(`transposeA=%s transposeB=%s: ragged 37 x 70 x 33${thorough ? ', aligned 64 x 48 x 40' : ''}`, async (transA, transB) => {
    await checkProduct(37, 70, 33, { transA, transB, seed: 3 });
    if (thorough || (transA && transB)) await checkProduct(64, 48, 40, { transA, transB, seed: 4 });
  });

  test('non-square and thin shapes (1, 3, 17 rows; N of 8 and 1; K of 1 and 300)', async () => {
    const shapes = [[1, 7, 3], [3, 17, 5], [17, 1, 130], [200, 72, 8], [37, 300, 260], ...(thorough ? [[130, 300, 1]] : [])];
    for (const [M, K, N] of shapes) {
      await checkProduct(M, K, N, { seed: M + N });
    }
  });

  test('batched [B, M, K] @ [B, K, N], plain and transposed', async () => {
    await checkProduct(33, 41, 70, { batch: 3, seed: 5 });
    await checkProduct(65, 17, 24, { batch: 2, transA: true, transB: true, seed: 6 });
  });

  test.each(tiles.map((t) => [t.name, t] as const))(`tiles %s: ragged 129 x 200 x 131${thorough ? ' and aligned 256 x 64 x 128' : ''}`, async (_name, t) => {
    await checkProduct(129, 200, 131, { tiles: t, seed: 7 });
    if (thorough) await checkProduct(256, 64, 128, { tiles: t, seed: 8 });
  });

  test('operands really are rounded to f16 (and not kept in f32)', async () => {
    // 1 + 2^-11 + 2^-13 rounds up to 1 + 2^-10 in f16; 16 of them summed: 16 + 2^-6 rather than 16 + 2^-7 + 2^-9.
    const v = 1 + 2 ** -11 + 2 ** -13;
    const a = tensor(new Float32Array(16 * 16).fill(v), [16, 16]);
    const b = tensor(new Float32Array(16 * 16).fill(1), [16, 16]);
    const y = tensorCoreMatmul(a, b);
    const got = await y.toArray();
    expect(got[0]).toBe(16 * (1 + 2 ** -10));
    expect(got[255]).toBe(16 * (1 + 2 ** -10));
    a.dispose();
    b.dispose();
    y.dispose();
  });

  test('K = 0 gives zeros; an empty M gives an empty result', async () => {
    const a = t([5, 0]);
    const b = t([0, 8]);
    const y = tensorCoreMatmul(a, b);
    expect(Array.from(await y.toArray())).toEqual(new Array(40).fill(0));
    tidy(() => {
      expect(tensorCoreMatmul(t([0, 4]), t([4, 3])).shape).toEqual([0, 3]);
    });
    for (const x of [a, b, y]) x.dispose();
  });

  test('gradients match the f16-operand products they are defined as, for every transpose', async () => {
    const M = 37;
    const K = 21;
    const N = 19;
    for (const [transA, transB] of TRANSPOSES) {
      const aShape = transA ? [K, M] : [M, K];
      const bShape = transB ? [N, K] : [K, N];
      const A = data(M * K, 11);
      const B = data(K * N, 12);
      const G = data(M * N, 13);
      const a = tensor(A, aShape, { requiresGrad: true });
      const b = tensor(B, bShape, { requiresGrad: true });
      const y = tensorCoreMatmul(a, b, { transposeA: transA, transposeB: transB });
      const g = tensor(G, [M, N]);
      y.backward({ grad: g });
      // d op(A) = g op(B)ᵀ, d op(B) = op(A)ᵀ g; every operand (g included) rounded to f16.
      const dopA = matmulF16Ref(G, B, { M, N: K, K: N, batch: 1, transA: false, transB: !transB });
      const dopB = matmulF16Ref(A, G, { M: K, N, K: M, batch: 1, transA: !transA, transB: false });
      const ga = await a.grad!.toArray();
      const gb = await b.grad!.toArray();
      // Compare in op() layout: read the stored gradients transposed where the operand was.
      const at = (x: ArrayLike<number>, r: number, c: number, rows: number, cols: number, tr: boolean) => (tr ? x[c * rows + r] : x[r * cols + c]);
      const gaOp = Float32Array.from({ length: M * K }, (_, i) => at(ga, Math.floor(i / K), i % K, M, K, transA));
      const gbOp = Float32Array.from({ length: K * N }, (_, i) => at(gb, Math.floor(i / N), i % N, K, N, transB));
      expect(worstF16Error(gaOp, dopA, REL, ABS).ratio, `dA transA=${transA} transB=${transB}`).toBeLessThanOrEqual(1);
      expect(worstF16Error(gbOp, dopB, REL, ABS).ratio, `dB transA=${transA} transB=${transB}`).toBeLessThanOrEqual(1);
      for (const x of [a, b, y, g, a.grad!, b.grad!]) x.dispose();
    }
  });

  test('no tensors left behind, and no WebGPU errors', async () => {
    const before = liveTensorCount();
    const a = tensor(data(70 * 41, 1), [70, 41]);
    const b = tensor(data(41 * 50, 2), [41, 50]);
    const y = tensorCoreMatmul(a, b);
    await y.toArray();
    for (const x of [a, b, y]) x.dispose();
    expect(liveTensorCount()).toBe(before);
    engine().throwUncaptured();
  });
}

describe('emulated subgroup matrix builtins on this device (tiling, staging, edges, stores, host code)', () => {
  // With f32 staging only blocks up to 64 x 64 fit SwiftShader's 32 KiB: the default choice for
  // these sizes is 32 x 32 (double-buffered), and 64 x 64 runs single-buffered.
  beforeAll(() => setTensorCoreEmulationForTests({ M: 16, N: 16, K: 16 }));
  afterAll(() => setTensorCoreEmulationForTests(null));
  productTests({ tiles: [TENSOR_CORE_PRESETS['64x64-w4']], squares: [16, 65], thorough: false });

  test.each([
    [16, 8, 16, true],
    [8, 8, 8, false],
  ])('matrix shape %ix%ix%i (transposed: %s): blocks that are not 16 x 16', async (M, N, K, trans) => {
    setTensorCoreEmulationForTests({ M, N, K });
    try {
      if (trans) await checkProduct(45, 39, 37, { transA: true, transB: true, seed: 20 });
      else await checkProduct(64, 40, 48, { seed: 21 });
    } finally {
      setTensorCoreEmulationForTests({ M: 16, N: 16, K: 16 });
    }
  });
});

describe.skipIf(!support.config)(`tensor-core matmul on ${adapterName}${skipNote}`, () => {
  productTests({ tiles: Object.values(TENSOR_CORE_PRESETS), squares: [16, 64, 65, 129, 256], thorough: true });
});

/**
 * The benchmark itself, shared by the browser page (bench/bench-page.ts) and the Node entry
 * (bench/bench-node.ts): matmul GFLOP/s, dropout GB/s and training steps/s (bench/train-core.ts)
 * for wgtrain, each beside TensorFlow.js's WebGPU backend on the same adapter in the same run.
 *
 * Timing: each case is warmed up (pipelines compiled, buffers pooled), then a batch of `iters`
 * calls is recorded and timed up to the GPU finishing it (`queue.onSubmittedWorkDone()` after the
 * work is submitted), so the time includes the JavaScript that records the work and the GPU that
 * runs it, as a training loop sees them. `iters` is chosen per case so that a batch lasts about
 * `targetMs`; the reported time per call is the median over `repeats` batches, with wgtrain's and
 * tfjs's batches interleaved so that drift (clocks, thermals) hits both alike.
 */
import * as wg from '../src/index.js';
import { defineKernel } from '../src/runtime/kernel.js';
import { grid1d, Params } from '../src/runtime/params.js';
import { callBatch, timeInterleaved, type BatchInfo } from '../src/runtime/timing.js';
import { PatientWaiter } from '../src/runtime/patient-wait.js';
import copySrc from './copy.wgsl';
import type * as TF from '@tensorflow/tfjs-core';
import { benchTrainStep, defaultTrainSpecs, TRAIN_HYPER, type TrainRow, type TrainSpec } from './train-core.js';

type Tf = typeof TF;

export interface BenchOptions {
  /** Square matmul sizes n ([n,n] x [n,n], f32). Default: by adapter (see defaultSizes). */
  matmulSizes?: number[];
  /** Training-shaped products (see defaultMatmulShapes; [] for none). Default: by adapter, when matmulSizes is not empty. */
  matmulShapes?: MatmulProblem[];
  /** Dropout tensor sizes in elements. Default: by adapter. */
  dropoutSizes?: number[];
  /** Dropout rate. */
  p?: number;
  /** Models for the training-step rows ([] for none). Default: by adapter (defaultTrainSpecs). */
  trainSpecs?: TrainSpec[];
  repeats?: number;
  /** Wall time one timed batch aims for. */
  targetMs?: number;
  /** Training rows: warm-up steps, repeats and batch wall time (defaults by adapter). */
  trainWarmup?: number;
  trainRepeats?: number;
  trainTargetMs?: number;
  log?: (line: string) => void;
}

export interface Timing {
  /** Median time per call. */
  ms: number;
  /** Per-call times of each repeat. */
  samples: number[];
  iters: number;
}

/** One product op(A) [M, K] @ op(B) [K, N], as `wg.matmul(a, b, { transposeA, transposeB })`. */
export interface MatmulProblem {
  /** What the shape is, e.g. 'square' or 'ViT fc1 dW = dzᵀ·x'. */
  name: string;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

export interface MatmulRow extends MatmulProblem {
  /** Square rows: the size (M = N = K = n); 0 for the training shapes. */
  n: number;
  flops: number;
  /** The tile config wgtrain ran ('64x64x16/8x8'), whether the autotuner chose it, and its timings. */
  kernel: { id: string; tuned: boolean; tuningMs?: Record<string, number> };
  wgtrain: Timing & { gflops: number };
  tfjs: Timing & { gflops: number };
  /** wgtrain GFLOP/s / tfjs GFLOP/s (> 1: wgtrain is faster). */
  ratio: number;
  /**
   * wgtrain under setFloat32MatmulPrecision('medium') (f16 operands, f32 accumulation): on tensor
   * cores where the device has them, else the f32 kernel rounding operands as it stages them.
   */
  medium: Timing & { gflops: number; path: 'tensor cores' | 'f32 kernel, f16-rounded operands' };
}

export interface DropoutRow {
  elements: number;
  /** wgtrain's launch shape ('wg256x1': 256 threads a workgroup, 1 block of 8 a thread), and whether the autotuner chose it. */
  launch: { id: string; tuned: boolean; tuningMs?: Record<string, number> };
  /** Bytes counted per call for every column: read x + write y, 8 bytes per element. */
  bytes: number;
  wgtrain: Timing & { gbps: number };
  /** tf.dropout(x, p): tfjs-core draws the uniform noise on the CPU and uploads it, then 4 GPU ops. */
  tfDropout: Timing & { gbps: number };
  /** tf.mul(x, mask) with a mask made beforehand: tfjs's GPU-only lower bound for dropout. */
  tfMaskMul: Timing & { gbps: number };
  ratioVsTfDropout: number;
  ratioVsTfMaskMul: number;
  /**
   * The backward: `y.backward({ grad, retainGraph: true })` through autograd on a recorded dropout,
   * i.e. the same fused kernel run on the output gradient (mask regenerated from the key).
   */
  backward: Timing & { gbps: number };
  /** The plain vec4 copy kernel (bench/copy.wgsl), one entry per vec4s-per-thread variant. */
  copies: (Timing & { gbps: number; vec4sPerThread: number })[];
  /** The fastest of `copies`: the bandwidth reference of this run. */
  copy: Timing & { gbps: number; vec4sPerThread: number };
  /** wgtrain forward / backward GB/s as a fraction of `copy`'s (1 = copy speed). */
  forwardVsCopy: number;
  backwardVsCopy: number;
  /** wgtrain backward GB/s / tf mask-mul GB/s (a backward in tfjs is a multiply by the saved mask). */
  backwardRatioVsTfMaskMul: number;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  software: boolean;
}

export interface BenchResults {
  runtime: 'node' | 'browser';
  date: string;
  adapter: AdapterSummary;
  /** What tfjs's backend reports for its own adapter (vendor and architecture only). */
  tfjsAdapter: { vendor?: string; architecture?: string };
  sameAdapter: boolean;
  userAgent: string;
  options: { repeats: number; targetMs: number; p: number; train: { warmup: number; repeats: number; targetMs: number; maxIters: number } };
  checks: string[];
  /** Square products [n,n] x [n,n]. */
  matmul: MatmulRow[];
  /** Non-square and transposed-operand products of ViT training (forward, dx, dW). */
  matmulShapes: MatmulRow[];
  dropout: DropoutRow[];
  /** Training steps/s, one row per model (see train-core.ts). */
  training: TrainRow[];
}

/**
 * Training-shaped products, forward and both gradients of one Linear: on a GPU the ViT-T
 * shapes (12544 tokens = batch 64 x 196 patches, width 192, MLP 576: x·Wᵀ is 12544x192x576, the
 * weight gradient dzᵀ·x is 192x576x12544), on a software adapter the lab's vit-xs at batch 128
 * (2176 tokens, width 32, MLP 128).
 */
export function defaultMatmulShapes(report: wg.AdapterReport): MatmulProblem[] {
  const [T, D, H] = report.software ? [2176, 32, 128] : [12544, 192, 576];
  const p = (name: string, M: number, N: number, K: number, transA: boolean, transB: boolean): MatmulProblem => ({ name, M, N, K, transA, transB });
  return [
    p('fc2 forward y = h·Wᵀ', T, D, H, false, true),
    p('fc2 dx = dy·W', T, H, D, false, false),
    p('fc2 dW = dyᵀ·h', D, H, T, true, false),
  ];
}

/** Sizes that fit the adapter: small on a software rasteriser, large (memory permitting) on a GPU. */
export function defaultSizes(report: wg.AdapterReport): { matmul: number[]; dropout: number[] } {
  if (report.software) return { matmul: [64, 128, 256], dropout: [1 << 18] };
  const maxBinding = Math.min(report.limits.maxStorageBufferBindingSize ?? 0, report.limits.maxBufferSize ?? 0);
  const matmul = [256, 512, 1024, 2048, 4096];
  if (maxBinding >= 8192 * 8192 * 4) matmul.push(8192);
  const dropout = [maxBinding >= (1 << 26) * 4 ? 1 << 26 : 1 << 24];
  return { matmul, dropout };
}

/** A timed batch of one case: when it started, how many calls, and a key naming the case and its size. */
export interface CaseBatch extends BatchInfo {
  key: string;
}

interface Case {
  /** Records one call (and frees its output). */
  run(): void;
  /** Submits what was recorded and waits for the GPU to finish it. */
  sync(batch: CaseBatch): Promise<void>;
}

/** Numbers every timed case, for its wait keys. */
let nextCaseId = 0;

/** The shared harness (src/runtime/timing.ts): two warm-up calls, batches sized for `targetMs`, `repeats` interleaved rounds. */
export async function timeCases(cases: Case[], repeats: number, targetMs: number, maxIters = 200): Promise<Timing[]> {
  const batches = cases.map((c) => {
    const id = nextCaseId++;
    return callBatch(() => c.run(), (b) => c.sync({ ...b, key: `${id}:${b.calls}` }));
  });
  const timings = await timeInterleaved(batches, { repeats, targetMs, maxCalls: maxIters, warmups: 2 });
  return timings.map(({ ms, samples, calls }) => ({ ms, samples: samples.map((x) => x.ms), iters: calls }));
}

/** wgtrain's sync: the engine's own, which waits patiently where Dawn would poll (patient-wait.ts). */
export async function wgSync(): Promise<void> {
  await wg.engine().sync();
}

/**
 * TF.js has no patient wait of its own: in Node its readbacks poll through Dawn on a busy core like
 * any other. The harness gives it the same one wgtrain's engine has, keyed by case and batch size, so
 * that neither engine's time includes Dawn's polling (which on a software adapter takes a core from
 * the work itself).
 */
const tfWaiter = new PatientWaiter();

/**
 * tfjs records dispatches into one open compute pass; end it and submit (the steps its own readback
 * takes before copying, backend_webgpu.ts getBufferData), then wait for its device's queue.
 */
interface TfWebGPUBackend {
  device: GPUDevice;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}
export function tfSync(tf: Tf): (batch: CaseBatch) => Promise<void> {
  return async (batch) => {
    const backend = tf.backend() as unknown as TfWebGPUBackend;
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.submitQueue();
    const done = () => backend.device.queue.onSubmittedWorkDone();
    // Where wgtrain waits patiently (Node, unless turned off), so does TF.js.
    await (wg.engine().waiter ? tfWaiter.wait(batch.key, batch.startedAt, done) : done());
  };
}

/** Fixed pseudo-random f32 data (cheap LCG; the values do not affect the timings). */
function hostData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

async function checkMatmulAgrees(tf: Tf, n: number): Promise<string> {
  const aData = hostData(n * n, 1);
  const bData = hostData(n * n, 2);
  const a = wg.tensor(aData, [n, n]);
  const b = wg.tensor(bData, [n, n]);
  const y = wg.matmul(a, b);
  const ours = await y.toArray();
  [a, b, y].forEach((t) => t.dispose());
  const theirs = tf.tidy(() => tf.matMul(tf.tensor2d(aData, [n, n]), tf.tensor2d(bData, [n, n])));
  const ref = (await theirs.data()) as Float32Array;
  theirs.dispose();
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(ours[i] - ref[i]));
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  const rel = maxDiff / maxRef;
  if (!(rel < 1e-4)) throw new Error(`bench: wgtrain and tfjs matmul disagree at n=${n}: max |diff| / max |y| = ${rel}`);
  return `matmul n=${n}: wgtrain and tfjs agree (max |diff| / max |y| = ${rel.toExponential(2)})`;
}

async function checkDropout(p: number): Promise<string> {
  const n = 1 << 16;
  const x = wg.ones([n]);
  const y = x.dropout(p, { seed: 3, offset: 0 });
  const v = await y.toArray();
  [x, y].forEach((t) => t.dispose());
  let kept = 0;
  for (const e of v) {
    if (e !== 0) {
      kept++;
      if (Math.abs(e - 1 / (1 - p)) > 1e-6) throw new Error(`bench: dropout(ones) gave ${e}, expected 0 or ${1 / (1 - p)}`);
    }
  }
  const frac = kept / n;
  if (Math.abs(frac - (1 - p)) > 0.02) throw new Error(`bench: dropout kept ${frac} of the elements at p=${p}`);
  return `dropout p=${p}: kept fraction ${frac.toFixed(4)} of ${n}, values 0 or 1/(1-p)`;
}

/** Stored layout of an operand: [rows, cols] of op(X), swapped when it is read transposed. */
const stored = (rows: number, cols: number, trans: boolean): [number, number] => (trans ? [cols, rows] : [rows, cols]);

async function benchMatmul(tf: Tf, q: MatmulProblem, repeats: number, targetMs: number, log: (line: string) => void): Promise<MatmulRow> {
  const { M, N, K, transA, transB } = q;
  const aShape = stored(M, K, transA);
  const bShape = stored(K, N, transB);
  const aData = hostData(M * K, 11);
  const bData = hostData(K * N, 12);
  // The autotuner first (a stored choice costs nothing; WGTRAIN_AUTOTUNE=off skips it), so the
  // timed calls run the kernel this adapter measured fastest for this class of product.
  const [tuned] = await wg.autotuneMatmul([{ M, N, K, transA, transB }]);
  if (tuned) log(`autotune ${M}x${N}x${K}${transA ? ' tA' : ''}${transB ? ' tB' : ''}: ${tuned.choice}${tuned.cached ? ' (stored)' : ''}`);
  const choice = wg.matmulChoice(M, N, K, transA, transB);
  const a = wg.tensor(aData, aShape);
  const b = wg.tensor(bData, bShape);
  const ta = tf.tensor2d(aData, aShape);
  const tb = tf.tensor2d(bData, bShape);
  const opts = { transposeA: transA, transposeB: transB };
  const before = wg.getFloat32MatmulPrecision();
  try {
    const [ours, theirs, medium] = await timeCases(
      [
        { run: () => wg.matmul(a, b, opts).dispose(), sync: wgSync },
        { run: () => tf.matMul(ta, tb, transA, transB).dispose(), sync: tfSync(tf) },
        {
          run: () => {
            // The precision is read when a product is recorded, so this times 'medium' alone.
            wg.setFloat32MatmulPrecision('medium');
            wg.matmul(a, b, opts).dispose();
            wg.setFloat32MatmulPrecision(before);
          },
          sync: wgSync,
        },
      ],
      repeats,
      targetMs,
    );
    const flops = 2 * M * N * K;
    const gflops = (t: Timing) => flops / (t.ms * 1e6);
    return {
      ...q,
      n: M === N && N === K && q.name === 'square' ? M : 0,
      flops,
      kernel: { id: choice.id, tuned: choice.tuned, tuningMs: choice.timesMs },
      wgtrain: { ...ours, gflops: gflops(ours) },
      tfjs: { ...theirs, gflops: gflops(theirs) },
      ratio: gflops(ours) / gflops(theirs),
      medium: { ...medium, gflops: gflops(medium), path: wg.canUseTensorCoreMatmul() ? 'tensor cores' : 'f32 kernel, f16-rounded operands' },
    };
  } finally {
    wg.setFloat32MatmulPrecision(before);
    [a, b].forEach((t) => t.dispose());
    [ta, tb].forEach((t) => t.dispose());
  }
}

const COPY = defineKernel('bench-copy', copySrc);
/** Vec4s per thread of the copy variants timed beside dropout; the best one is the reference. */
const COPY_VEC4S_PER_THREAD = [1, 2, 4];

/** Records y = x (n f32, as ceil(n / 4) vec4s) with bench/copy.wgsl. */
function recordCopy(x: wg.Tensor, y: wg.Tensor, vec4sPerThread: number): void {
  const nvec = Math.ceil(x.size / 4);
  wg.engine().dispatch({
    kernel: COPY,
    defines: { VEC4S: vec4sPerThread },
    buffers: [x.buffer('bench copy'), y.buffer('bench copy')],
    uniforms: new Params().u32('nvec', nvec),
    workgroups: grid1d(Math.ceil(nvec / vec4sPerThread)),
  });
}

/** The copy baseline must copy: a kernel that skipped work would look fast. */
async function checkCopy(): Promise<string> {
  const n = (1 << 16) + 4;
  const data = hostData(n, 31);
  const x = wg.tensor(data, [n]);
  try {
    for (const v of COPY_VEC4S_PER_THREAD) {
      const y = wg.zeros([n]);
      recordCopy(x, y, v);
      const out = await y.toArray();
      y.dispose();
      const bad = out.findIndex((e, i) => e !== data[i]);
      if (bad >= 0) throw new Error(`bench: the copy kernel (${v} vec4s per thread) gave ${out[bad]} at ${bad}, expected ${data[bad]}`);
    }
  } finally {
    x.dispose();
  }
  return `copy kernel (${COPY_VEC4S_PER_THREAD.join(', ')} vec4s per thread): copies ${n} elements exactly`;
}

async function benchDropout(tf: Tf, n: number, p: number, repeats: number, targetMs: number, log: (line: string) => void): Promise<DropoutRow> {
  // The launch shape (workgroup size, blocks per thread) the autotuner measures fastest here.
  const [tuned] = await wg.autotuneDropout([n]);
  if (tuned) log(`autotune dropout n=${n}: ${tuned.record.choice}${tuned.cached ? ' (stored)' : ''}`);
  const choice = wg.dropoutChoice(n);
  const data = hostData(n, 21);
  const x = wg.tensor(data, [n]);
  const tx = tf.tensor1d(data);
  const maskData = new Float32Array(n);
  for (let i = 0, s = 7; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    maskData[i] = s / 4294967296 >= p ? 1 / (1 - p) : 0;
  }
  const tmask = tf.tensor1d(maskData);
  // The backward through autograd: one recorded dropout whose graph is kept, so each call runs just
  // the backward (the fused kernel on the gradient) and hands x its gradient, freed at once.
  const xg = wg.tensor(data, [n], { requiresGrad: true });
  const yg = wg.dropout(xg, p, { seed: 6, offset: 0 });
  const grad = wg.tensor(hostData(n, 22), [n]);
  const copyOut = wg.zeros([n]);
  let call = 0;
  try {
    const [ours, tfDrop, tfMul, back, ...copyTimes] = await timeCases(
      [
        // A fresh Philox offset per call, as a training loop would use.
        { run: () => wg.dropout(x, p, { seed: 5, offset: (call++ * n) % 2 ** 31 }).dispose(), sync: wgSync },
        { run: () => tf.tidy(() => tf.dropout(tx, p)).dispose(), sync: tfSync(tf) },
        { run: () => tf.mul(tx, tmask).dispose(), sync: tfSync(tf) },
        {
          run: () => {
            yg.backward({ grad, retainGraph: true });
            xg.zeroGrad();
          },
          sync: wgSync,
        },
        ...COPY_VEC4S_PER_THREAD.map((v) => ({ run: () => recordCopy(x, copyOut, v), sync: wgSync })),
      ],
      repeats,
      targetMs,
    );
    const bytes = 8 * n;
    const gbps = (t: Timing) => bytes / (t.ms * 1e6);
    const copies = copyTimes.map((t, i) => ({ ...t, gbps: gbps(t), vec4sPerThread: COPY_VEC4S_PER_THREAD[i] }));
    const copy = copies.reduce((best, c) => (c.gbps > best.gbps ? c : best));
    return {
      elements: n,
      bytes,
      launch: { id: choice.id, tuned: choice.tuned, tuningMs: choice.timesMs },
      wgtrain: { ...ours, gbps: gbps(ours) },
      tfDropout: { ...tfDrop, gbps: gbps(tfDrop) },
      tfMaskMul: { ...tfMul, gbps: gbps(tfMul) },
      ratioVsTfDropout: gbps(ours) / gbps(tfDrop),
      ratioVsTfMaskMul: gbps(ours) / gbps(tfMul),
      backward: { ...back, gbps: gbps(back) },
      copies,
      copy,
      forwardVsCopy: gbps(ours) / copy.gbps,
      backwardVsCopy: gbps(back) / copy.gbps,
      backwardRatioVsTfMaskMul: gbps(back) / gbps(tfMul),
    };
  } finally {
    [x, xg, yg, grad, copyOut].forEach((t) => t.dispose());
    [tx, tmask].forEach((t) => t.dispose());
  }
}

/**
 * Runs everything. The caller has initialised wgtrain (`init({ gpu })`) and made tfjs's WebGPU
 * backend current (`await tf.setBackend('webgpu')`), both from the same `GPU` object.
 */
export async function runBenchmarks(tf: Tf, runtime: 'node' | 'browser', options: BenchOptions = {}): Promise<BenchResults> {
  const log = options.log ?? (() => {});
  if (tf.getBackend() !== 'webgpu') throw new Error(`bench: tfjs backend is '${tf.getBackend()}', expected 'webgpu'`);
  const report = wg.adapterReport();
  const sizes = defaultSizes(report);
  const matmulSizes = options.matmulSizes ?? sizes.matmul;
  const dropoutSizes = options.dropoutSizes ?? sizes.dropout;
  const p = options.p ?? 0.1;
  const repeats = options.repeats ?? (report.software ? 5 : 7);
  const targetMs = options.targetMs ?? (report.software ? 500 : 100);
  const tfInfo = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo ?? {};
  const adapter: AdapterSummary = {
    vendor: report.vendor,
    architecture: report.architecture,
    device: report.device,
    description: report.description,
    software: report.software,
  };
  const sameAdapter = tfInfo.vendor === report.vendor && tfInfo.architecture === report.architecture;
  log(`adapter: ${describeAdapter(adapter)}; tfjs backend adapter: ${tfInfo.vendor} / ${tfInfo.architecture}${sameAdapter ? ' (same)' : ' (DIFFERENT)'}`);

  const checks: string[] = [];
  if (matmulSizes.length) checks.push(await checkMatmulAgrees(tf, Math.min(...matmulSizes)));
  if (dropoutSizes.length) checks.push(await checkDropout(p), await checkCopy());
  checks.forEach((c) => log(`check: ${c}`));

  const matmul: MatmulRow[] = [];
  for (const n of matmulSizes) {
    const row = await benchMatmul(tf, { name: 'square', M: n, N: n, K: n, transA: false, transB: false }, repeats, targetMs, log);
    log(`matmul n=${n}: wgtrain ${row.wgtrain.gflops.toFixed(2)} GFLOP/s (${row.kernel.id}), tfjs ${row.tfjs.gflops.toFixed(2)} GFLOP/s, medium ${row.medium.gflops.toFixed(2)}`);
    matmul.push(row);
  }
  const matmulShapes: MatmulRow[] = [];
  for (const q of options.matmulShapes ?? (matmulSizes.length ? defaultMatmulShapes(report) : [])) {
    const row = await benchMatmul(tf, q, repeats, targetMs, log);
    log(`matmul ${q.name} ${q.M}x${q.N}x${q.K}: wgtrain ${row.wgtrain.gflops.toFixed(2)} GFLOP/s (${row.kernel.id}), tfjs ${row.tfjs.gflops.toFixed(2)} GFLOP/s`);
    matmulShapes.push(row);
  }
  const dropout: DropoutRow[] = [];
  for (const n of dropoutSizes) {
    const row = await benchDropout(tf, n, p, repeats, targetMs, log);
    log(`dropout n=${n}: wgtrain ${row.wgtrain.gbps.toFixed(2)} GB/s (${row.launch.id}; backward ${row.backward.gbps.toFixed(2)}), tf.dropout ${row.tfDropout.gbps.toFixed(2)}, tf mul-by-mask ${row.tfMaskMul.gbps.toFixed(2)}, copy ${row.copy.gbps.toFixed(2)}`);
    dropout.push(row);
  }
  // A training step takes seconds on SwiftShader: fewer, longer batches there.
  const train = {
    warmup: options.trainWarmup ?? (report.software ? 2 : 10),
    repeats: options.trainRepeats ?? (report.software ? 3 : 7),
    targetMs: options.trainTargetMs ?? (report.software ? 1000 : 300),
    maxIters: 100,
  };
  const training: TrainRow[] = [];
  for (const spec of options.trainSpecs ?? defaultTrainSpecs(report.software)) {
    const row = await benchTrainStep(tf, spec, { ...train, log });
    log(`train ${row.model}: wgtrain ${row.wgtrain.stepsPerSec.toFixed(2)} steps/s, tfjs ${row.tfjs.stepsPerSec.toFixed(2)} steps/s; wgtrain live buffers ${row.wgtrain.liveBuffersBefore} -> ${row.wgtrain.liveBuffersAfter}, tfjs tensors ${row.tfjs.tensorsBefore} -> ${row.tfjs.tensorsAfter}`);
    training.push(row);
  }
  return {
    runtime,
    date: new Date().toISOString(),
    adapter,
    tfjsAdapter: { vendor: tfInfo.vendor, architecture: tfInfo.architecture },
    sameAdapter,
    userAgent: typeof navigator !== 'undefined' && navigator.userAgent ? navigator.userAgent : `node ${typeof process !== 'undefined' ? process.version : ''}`,
    options: { repeats, targetMs, p, train },
    checks,
    matmul,
    matmulShapes,
    dropout,
    training,
  };
}

export function describeAdapter(a: AdapterSummary): string {
  const parts = [a.vendor, a.architecture, a.device, a.description].filter((s) => s);
  return `${parts.join(' / ') || '(adapter gives no names)'}${a.software ? ' [software]' : ''}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const num = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(3));
const ms = (v: number) => (v >= 10 ? v.toFixed(1) : v.toPrecision(3));

/** The printed report: adapter, then one table per op with ours beside tfjs and the ratio. */
export function formatResults(r: BenchResults): string {
  const out: string[] = [];
  out.push(`wgtrain benchmark: ${r.runtime} (${r.userAgent}), ${r.date}`);
  out.push(`adapter: ${describeAdapter(r.adapter)}`);
  out.push(`tfjs webgpu backend adapter: ${r.tfjsAdapter.vendor ?? '?'} / ${r.tfjsAdapter.architecture ?? '?'}${r.sameAdapter ? ' (same adapter)' : ' (DIFFERENT adapter!)'}`);
  out.push(`timing: median over ${r.options.repeats} batches, each ~${r.options.targetMs} ms of back-to-back calls, ended by queue.onSubmittedWorkDone()`);
  for (const c of r.checks) out.push(`check: ${c}`);
  const matmulTable = (rows: MatmulRow[]) =>
    table(
      ['product', 'M x N x K', 'kernel', 'wgtrain GFLOP/s', 'tfjs GFLOP/s', 'ratio', 'medium GFLOP/s', 'wgtrain ms', 'tfjs ms', 'iters'],
      rows.map((m) => [
        m.name === 'square' ? `square n=${m.n}` : m.name,
        `${m.M}x${m.N}x${m.K}${m.transA ? ' tA' : ''}${m.transB ? ' tB' : ''}`,
        `${m.kernel.id}${m.kernel.tuned ? ' (tuned)' : ''}`,
        num(m.wgtrain.gflops), num(m.tfjs.gflops), m.ratio.toFixed(2), num(m.medium.gflops),
        ms(m.wgtrain.ms), ms(m.tfjs.ms), `${m.wgtrain.iters}/${m.tfjs.iters}`,
      ]),
    );
  if (r.matmul.length || r.matmulShapes?.length) {
    const medium = [...r.matmul, ...(r.matmulShapes ?? [])][0]?.medium.path;
    out.push('');
    out.push('matmul f32: GFLOP/s = 2MNK / time per call; ratio = wgtrain / tfjs (> 1: wgtrain faster); tA / tB = operand read transposed');
    out.push(`  kernel = wgtrain's tile config (tuned: chosen by the autotuner on this adapter); medium = setFloat32MatmulPrecision('medium'), ${medium}`);
    out.push(matmulTable([...r.matmul, ...(r.matmulShapes ?? [])]));
  }
  if (r.dropout.length) {
    out.push('');
    out.push(`dropout p=${r.options.p} f32: GB/s = 8 bytes/element (read x + write y) / time per call, same bytes for every column`);
    out.push('  tf.dropout = tfjs-core dropout (uniform noise drawn on the CPU and uploaded, then GPU ops); tf mask-mul = tf.mul(x, premade mask), GPU only');
    out.push(
      table(
        ['elements', 'wgtrain GB/s', 'tf.dropout GB/s', 'ratio', 'tf mask-mul GB/s', 'ratio', 'wgtrain ms', 'tf.dropout ms', 'mask-mul ms'],
        r.dropout.map((d) => [
          String(d.elements),
          num(d.wgtrain.gbps),
          num(d.tfDropout.gbps),
          d.ratioVsTfDropout.toFixed(2),
          num(d.tfMaskMul.gbps),
          d.ratioVsTfMaskMul.toFixed(2),
          ms(d.wgtrain.ms),
          ms(d.tfDropout.ms),
          ms(d.tfMaskMul.ms),
        ]),
      ),
    );
    out.push('');
    out.push('dropout against a plain copy (bench/copy.wgsl, y = x as vec4s; the best of 1, 2, 4 vec4s per thread): the same 8 bytes/element,');
    out.push('  so "% copy" is the share of the bandwidth a kernel that reads x and writes y reaches on this adapter in this run;');
    out.push('  backward = y.backward({ grad }) through autograd (the fused kernel on the gradient, mask regenerated)');
    out.push(
      table(
        ['elements', 'wgtrain launch', 'copy GB/s', 'vec4s', 'fwd GB/s', 'fwd % copy', 'bwd GB/s', 'bwd % copy', 'bwd / mask-mul', 'copy ms', 'fwd ms', 'bwd ms'],
        r.dropout.map((d) => [
          String(d.elements),
          d.launch ? `${d.launch.id}${d.launch.tuned ? ' (tuned)' : ''}` : '?',
          num(d.copy.gbps),
          String(d.copy.vec4sPerThread),
          num(d.wgtrain.gbps),
          (100 * d.forwardVsCopy).toFixed(0),
          num(d.backward.gbps),
          (100 * d.backwardVsCopy).toFixed(0),
          d.backwardRatioVsTfMaskMul.toFixed(2),
          ms(d.copy.ms),
          ms(d.wgtrain.ms),
          ms(d.backward.ms),
        ]),
      ),
    );
  }
  if (r.training.length) {
    const t = r.options.train;
    const h = TRAIN_HYPER;
    out.push('');
    out.push(`training step: forward + cross entropy (label smoothing ${h.labelSmoothing}) + backward + AdamW (lr ${h.lr}, betas ${h.beta1}/${h.beta2}, eps ${h.eps}, weight decay ${h.weightDecay}), dropout only where the model says (wgtrain's kernel, tf.dropout);`);
    out.push('  one synthetic Fashion-MNIST-shaped batch (pixels in [0,1), 10 classes) uploaded before timing; tfjs starts from wgtrain\'s initial weights');
    out.push('  tfjs: tf ops (tf.fused.matMul dense layers, LayerNorm via tf.moments, erf GELU) + tf.variableGrads + tf.train.adam,');
    out.push('  with AdamW\'s decoupled decay as one extra variable update p <- p(1 - lr wd) per decayed weight (tf.train.adam has no weight decay)');
    out.push(`  timing: ${t.warmup} warm-up steps, then median over ${t.repeats} batches of back-to-back steps (~${t.targetMs} ms each), each ended by reading the last step's loss`);
    out.push('  steps/s = 1000 / median ms per step; ratio = wgtrain / tfjs steps/s (> 1: wgtrain faster); GFLOP/step = 3 x forward matmul FLOPs');
    out.push('  CPU ms = median CPU time of the whole process per step (all threads; with a software adapter that includes the emulated GPU), where the runtime tells it');
    out.push(
      table(
        ['model', 'batch', 'params', 'GFLOP/step', 'wgtrain steps/s', 'tfjs steps/s', 'ratio', 'wgtrain ms', 'tfjs ms', 'wgtrain CPU ms', 'tfjs CPU ms', 'iters'],
        r.training.map((row) => [
          row.model,
          String(row.spec.batch),
          String(row.params),
          (row.flopsPerStep / 1e9).toPrecision(3),
          num(row.wgtrain.stepsPerSec),
          num(row.tfjs.stepsPerSec),
          row.ratio.toFixed(2),
          ms(row.wgtrain.ms),
          ms(row.tfjs.ms),
          row.wgtrain.cpuMs === undefined ? '-' : ms(row.wgtrain.cpuMs),
          row.tfjs.cpuMs === undefined ? '-' : ms(row.tfjs.cpuMs),
          `${row.wgtrain.iters}/${row.tfjs.iters}`,
        ]),
      ),
    );
    const losses = (xs: number[]) => xs.map((v) => v.toFixed(4)).join(' ');
    for (const row of r.training) {
      out.push(`  ${row.model}: loss at the initial weights, dropout off: wgtrain ${row.wgtrain.initialLoss.toFixed(6)}, tfjs ${row.tfjs.initialLoss.toFixed(6)} (rel diff ${row.firstLossRelDiff.toExponential(1)})`);
      out.push(`    warm-up losses wgtrain ${losses(row.wgtrain.warmupLosses)} | tfjs ${losses(row.tfjs.warmupLosses)}`);
      out.push(`    across the timed steps: wgtrain live buffers ${row.wgtrain.liveBuffersBefore} -> ${row.wgtrain.liveBuffersAfter}, tfjs tensors ${row.tfjs.tensorsBefore} -> ${row.tfjs.tensorsAfter}`);
    }
  }
  return out.join('\n');
}

/** bench/results/<runtime>-<date>.json, with a file-name-safe timestamp. */
export function resultFileName(r: BenchResults): string {
  return `${r.runtime}-${r.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`;
}

/** "64,128" -> [64, 128]; sizes may be written as 2^18 too; "none" -> []. Undefined or empty: undefined. */
export function parseSizes(text: string | null | undefined, what: string): number[] | undefined {
  if (!text) return undefined;
  if (text.trim() === 'none') return [];
  return text.split(',').map((s) => {
    const t = s.trim();
    const m = /^2\^(\d+)$/.exec(t);
    const v = m ? 2 ** Number(m[1]) : Number(t);
    if (!Number.isInteger(v) || v <= 0) throw new Error(`bench: ${what} sizes must be positive integers (or 2^k), got '${t}'`);
    return v;
  });
}

/**
 * Row-wise kernels (softmax, log_softmax, layer_norm, cross_entropy) on ViT-like shapes: wgtrain's
 * short-row path (one thread per row) beside its long-row path (one workgroup per row) and beside
 * TensorFlow.js's WebGPU backend, all in one process, batches interleaved, median of repeats.
 * Then a sweep over row lengths (short vs long path only) that sets rows.ts's SHORT_ROW_MAX_LEN.
 *
 *   node scripts/build-node.mjs bench/rows-bench.ts && node dist-node/rows-bench.mjs
 *
 * Environment: ROWS_BENCH_REPEATS (default 5), ROWS_BENCH_MS (target ms per batch, default 250),
 * ROWS_BENCH_SWEEP=none skips the length sweep, ROWS_BENCH_MAIN=none skips the ViT shapes.
 */
import { existsSync } from 'node:fs';

const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(swiftshader)) {
  process.env.VK_ICD_FILENAMES = swiftshader;
}
process.env.XDG_RUNTIME_DIR ??= '/tmp';

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const gpu: GPU = create([]);
Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: `node ${process.version}` }, configurable: true, writable: true });

const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
const wg = await import('../src/index.js');
const rows = await import('../src/nn/functional/rows.js');

type Tensor = InstanceType<typeof wg.Tensor>;
type TfTensor = import('@tensorflow/tfjs-core').Tensor;

const REPEATS = Number(process.env.ROWS_BENCH_REPEATS ?? 5);
const TARGET_MS = Number(process.env.ROWS_BENCH_MS ?? 250);

interface Case {
  name: string;
  run(): void;
  sync(batch: CaseBatch): Promise<void>;
}

// The same syncs as the main benchmark: submit what was recorded, wait for the GPU.
const { wgSync, tfSync: tfSyncFor, timeCases } = await import('./bench-core.js');
type CaseBatch = import('./bench-core.js').CaseBatch;
const tfSync = tfSyncFor(tf);

function hostData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2147483648 - 1) * 3;
  }
  return out;
}

/** A wgtrain case run on one forced path: `op` records one call (forward, or forward + backward). */
function wgCase(name: string, path: 'short' | 'long', op: () => void): Case {
  return {
    name: `${name} wgtrain ${path === 'short' ? 'new' : 'old'}`,
    run: () => {
      rows.forceRowPath(path);
      op();
      rows.forceRowPath(null);
    },
    sync: wgSync,
  };
}

function tfCase(name: string, op: () => void): Case {
  return { name: `${name} tfjs`, run: () => tf.tidy(op), sync: tfSync };
}

/** Forward only, or forward + backward with upstream gradient dy, through wgtrain's autograd. */
function wgFwdBwd(leaves: Tensor[], f: () => Tensor, dy: Tensor | null): () => void {
  return () => {
    wg.tidy(() => {
      const y = f();
      if (dy) y.backward({ grad: dy });
      return undefined;
    });
    for (const l of leaves) l.zeroGrad();
  };
}

interface Row {
  op: string;
  shape: string;
  old: number;
  neu: number;
  tfjs?: number;
}

const table: Row[] = [];

async function compare(op: string, shape: number[], cases: { old: () => void; neu: () => void; tfjs?: () => void }): Promise<void> {
  const list: Case[] = [wgCase(op, 'long', cases.old), wgCase(op, 'short', cases.neu)];
  if (cases.tfjs) list.push(tfCase(op, cases.tfjs));
  const t = (await timeCases(list, REPEATS, TARGET_MS)).map((x) => x.ms);
  const row: Row = { op, shape: `[${shape}]`, old: t[0], neu: t[1], tfjs: cases.tfjs ? t[2] : undefined };
  table.push(row);
  const tfPart = row.tfjs !== undefined ? `, tfjs ${row.tfjs.toFixed(2)} ms (tfjs/new ${(row.tfjs / row.neu).toFixed(2)}x)` : '';
  console.error(`  ${op} [${shape}]: old ${row.old.toFixed(2)} ms, new ${row.neu.toFixed(2)} ms (old/new ${(row.old / row.neu).toFixed(2)}x)${tfPart}`);
}

async function softmaxCases(shape: number[], withTf: boolean): Promise<void> {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = hostData(n, 1);
  const dyData = hostData(n, 2);
  const x = wg.tensor(data, shape, { requiresGrad: true });
  const dy = wg.tensor(dyData, shape);
  const tx = tf.tensor(data, shape);
  const tdy = tf.tensor(dyData, shape);
  for (const log of [false, true]) {
    const f = () => (log ? wg.logSoftmax(x) : wg.softmax(x));
    const tff = (v: TfTensor) => (log ? tf.logSoftmax(v) : tf.softmax(v));
    const name = log ? 'logSoftmax' : 'softmax';
    const gradF = tf.grad(tff);
    await compare(`${name} fwd`, shape, { old: wgFwdBwd([x], f, null), neu: wgFwdBwd([x], f, null), tfjs: withTf ? () => { tff(tx); } : undefined });
    await compare(`${name} fwd+bwd`, shape, { old: wgFwdBwd([x], f, dy), neu: wgFwdBwd([x], f, dy), tfjs: withTf ? () => { gradF(tx, tdy); } : undefined });
  }
  [x, dy].forEach((t) => t.dispose());
  [tx, tdy].forEach((t) => t.dispose());
}

async function layerNormCases(shape: number[], withTf: boolean): Promise<void> {
  const d = shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  const data = hostData(n, 3);
  const dyData = hostData(n, 4);
  const wData = hostData(d, 5);
  const bData = hostData(d, 6);
  const x = wg.tensor(data, shape, { requiresGrad: true });
  const w = wg.tensor(wData, [d], { requiresGrad: true });
  const b = wg.tensor(bData, [d], { requiresGrad: true });
  const dy = wg.tensor(dyData, shape);
  const tx = tf.tensor(data, shape);
  const tw = tf.tensor(wData, [d]);
  const tb = tf.tensor(bData, [d]);
  const tdy = tf.tensor(dyData, shape);
  const eps = tf.scalar(1e-5);
  // As bench/train-core.ts writes LayerNorm in tfjs.
  const tfLn = (v: TfTensor, vw: TfTensor, vb: TfTensor) => {
    const { mean, variance } = tf.moments(v, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(v, mean), tf.rsqrt(tf.add(variance, eps))), vw), vb);
  };
  const gradLn = tf.grads((v: TfTensor, vw: TfTensor, vb: TfTensor) => tfLn(v, vw, vb));
  const f = () => wg.layerNorm(x, w, b);
  await compare('layerNorm fwd', shape, { old: wgFwdBwd([x, w, b], f, null), neu: wgFwdBwd([x, w, b], f, null), tfjs: withTf ? () => { tfLn(tx, tw, tb); } : undefined });
  await compare('layerNorm fwd+bwd', shape, { old: wgFwdBwd([x, w, b], f, dy), neu: wgFwdBwd([x, w, b], f, dy), tfjs: withTf ? () => { gradLn([tx, tw, tb], tdy); } : undefined });
  [x, w, b, dy].forEach((t) => t.dispose());
  [tx, tw, tb, tdy, eps].forEach((t) => t.dispose());
}

async function crossEntropyCases(n: number, c: number, withTf: boolean): Promise<void> {
  const data = hostData(n * c, 7);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % c);
  const x = wg.tensor(data, [n, c], { requiresGrad: true });
  const y = wg.tensor(labels);
  const tx = tf.tensor(data, [n, c]);
  const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), c), 'float32'));
  const tfLoss = (v: TfTensor) => tf.losses.softmaxCrossEntropy(onehot, v, undefined, 0.1);
  const gradLoss = tf.grad(tfLoss);
  const f = () => wg.crossEntropy(x, y, { labelSmoothing: 0.1 });
  const fwdBwd = () => {
    wg.tidy(() => {
      f().backward();
      return undefined;
    });
    x.zeroGrad();
  };
  await compare('crossEntropy fwd', [n, c], { old: wgFwdBwd([x], f, null), neu: wgFwdBwd([x], f, null), tfjs: withTf ? () => { tfLoss(tx); } : undefined });
  await compare('crossEntropy fwd+bwd', [n, c], { old: fwdBwd, neu: fwdBwd, tfjs: withTf ? () => { gradLoss(tx); } : undefined });
  [x, y].forEach((t) => t.dispose());
  [tx, onehot].forEach((t) => t.dispose());
}

function printTable(title: string, list: Row[]): void {
  console.log(`\n${title}`);
  console.log('op                      shape         old ms    new ms  old/new   tfjs ms  tfjs/new');
  for (const r of list) {
    const tfCols = r.tfjs !== undefined ? `${r.tfjs.toFixed(2).padStart(9)} ${(r.tfjs / r.neu).toFixed(2).padStart(8)}` : '';
    console.log(`${r.op.padEnd(22)} ${r.shape.padEnd(13)} ${r.old.toFixed(2).padStart(8)} ${r.neu.toFixed(2).padStart(9)} ${(r.old / r.neu).toFixed(2).padStart(8)} ${tfCols}`);
  }
}

let exitCode = 0;
try {
  await wg.init({ gpu });
  if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs could not initialise its 'webgpu' backend");
  await tf.ready();
  const report = wg.adapterReport();
  console.log(`adapter: ${report.vendor} / ${report.architecture} / ${report.description}${report.software ? " [software]" : ""}`);
  if (process.env.ROWS_BENCH_MAIN !== 'none') {
    await softmaxCases([8704, 17], true);
    await layerNormCases([4352, 64], true);
    await layerNormCases([2176, 32], true);
    await crossEntropyCases(128, 10, true);
    printTable('ViT shapes (old = one workgroup per row, new = one thread per row), ms per call, median', [...table]);
  }
  if (process.env.ROWS_BENCH_SWEEP !== 'none') {
    table.length = 0;
    for (const len of [64, 128, 256, 512, 1024]) {
      const r = Math.max(64, Math.round(2 ** 17 / len));
      await softmaxCases([r, len], false);
      await layerNormCases([r, len], false);
    }
    for (const c of [100, 1000]) await crossEntropyCases(128, c, false);
    printTable('length sweep (rows = 2^17 / length): short path (new) vs long path (old)', table.filter((t) => !t.op.startsWith('logSoftmax')));
  }
} catch (e) {
  console.error(`rows-bench failed: ${(e as Error).stack ?? e}`);
  exitCode = 1;
} finally {
  const tfDevice = tf.getBackend() === 'webgpu' ? (tf.backend() as unknown as { device?: GPUDevice }).device : undefined;
  tf.engine().reset();
  tfDevice?.destroy();
  wg.shutdown();
}
process.exitCode = exitCode;

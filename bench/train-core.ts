/**
 * Training-step benchmark: steps per second for the MLP and a small ViT on Fashion-MNIST-shaped
 * batches, wgtrain beside TensorFlow.js's WebGPU backend training the same architecture, from the
 * same initial weights, on the same batch, on the same adapter, in the same run. Used by
 * bench-core.ts (tables and JSON there).
 *
 * One step, both engines: forward, cross entropy with label smoothing 0.1 (mean over the batch),
 * backward, AdamW update (lr 1e-3, betas 0.9 / 0.999, eps 1e-8, decoupled weight decay 0.05 on
 * the parameters wgtrain decays: Linear / patch-projection weights; not biases, norms, cls token or
 * position embedding). Stochastic depth is off; dropout is off except in MLP specs that ask for it
 * (`mlp-cpu`, `mlp:dropout=0.1`): then each hidden layer's ReLU is followed by dropout with rate p
 * in both engines (wgtrain's fused Philox kernel; tfjs's `tf.dropout`, whose mask is drawn on the
 * CPU and uploaded), a fresh mask per step.
 *
 * - wgtrain: the model classes of src/nn (MLP, ViT), `crossEntropy`, `AdamW`, written as
 *   Trainer.trainStep writes a step (tidy around forward + loss + backward; fused AdamW kernel).
 * - tfjs (tfjs-core has no layers): the same graph in tf ops, differentiated by tf.variableGrads:
 *   dense layers as tf.fused.matMul with bias (and ReLU / none), weights stored [in, out] as
 *   tf.layers.dense stores them; LayerNorm through tf.moments; exact GELU as 0.5·x·(1 + erf(x/√2));
 *   attention with batched tf.matMul and tf.softmax; tf.losses.softmaxCrossEntropy with
 *   labelSmoothing 0.1. tf.train.adam has no weight decay, so AdamW's decoupled decay is one extra
 *   variable update per decayed weight, p ← p·(1 − lr·wd), before the Adam update (PyTorch's
 *   order; the gradient is taken first, at the old p, in both).
 *
 * tfjs-core registers no gradients by itself: the entry that loads tfjs imports
 * '@tensorflow/tfjs-core/dist/register_all_gradients.js' (as the @tensorflow/tfjs package does);
 * benchTrainStep checks that it did.
 *
 * tfjs's variables start as copies of wgtrain's initial parameters (rank-2 weights transposed), so
 * both compute the same function: their losses at the initial weights with dropout off must agree,
 * and the warm-up losses must stay finite and go down (both train on the one fixed batch).
 *
 * Timing: `warmup` steps each (pipelines compiled, buffers pooled; every loss read back for the
 * checks), then `repeats` timed batches per engine, alternating. A batch is `iters` steps back to
 * back, ended by awaiting the last step's loss (`toArray()` / `data()`): the sync a training loop
 * that logs its loss pays. `iters` is sized from one more such step so a batch lasts about
 * `targetMs` (the shared harness, src/runtime/timing.ts). Reported: the median time per step, steps/s = 1000 / that, and wgtrain / tfjs.
 */
import * as wg from '../src/index.js';
import { median, timeInterleaved, type BatchInfo } from '../src/runtime/timing.js';
import { PatientWaiter } from '../src/runtime/patient-wait.js';
import type * as TF from '@tensorflow/tfjs-core';

type Tf = typeof TF;

export interface MlpTrainSpec {
  kind: 'mlp';
  batch: number;
  inFeatures: number;
  hidden: number[];
  numClasses: number;
  /** Dropout rate after every hidden activation (0: none). */
  dropout: number;
}

export interface VitTrainSpec {
  kind: 'vit';
  batch: number;
  imageSize: number;
  patchSize: number;
  dim: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  numClasses: number;
}

export type TrainSpec = MlpTrainSpec | VitTrainSpec;

/** AdamW settings shared by both engines. */
export const TRAIN_HYPER = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, labelSmoothing: 0.1 } as const;

export interface TrainTiming {
  /** Median time per step. */
  ms: number;
  /** Per-step times of each repeat. */
  samples: number[];
  /**
   * Median CPU time per step of the whole process (every thread: JavaScript, Dawn, and on a
   * software adapter the emulated GPU too), where the runtime can tell (Node); a machine shared
   * with other jobs disturbs it less than wall time.
   */
  cpuMs?: number;
  /** Steps per timed batch. */
  iters: number;
  stepsPerSec: number;
  /** Loss of every warm-up step, the first being the first step from the initial weights. */
  warmupLosses: number[];
  /** Loss at the initial weights with dropout off (the same-model check). */
  initialLoss: number;
}

export interface TrainRow {
  /** "MLP 784-256-256-10" / "ViT d64 x2 h4". */
  model: string;
  spec: TrainSpec;
  /** Scalar parameters (the same in both engines; checked). */
  params: number;
  /** Matmul FLOPs of one step, 3 x forward (forward, grad wrt inputs, grad wrt weights). */
  flopsPerStep: number;
  wgtrain: TrainTiming & { liveBuffersBefore: number; liveBuffersAfter: number };
  tfjs: TrainTiming & { tensorsBefore: number; tensorsAfter: number };
  /** wgtrain steps/s / tfjs steps/s (> 1: wgtrain is faster). */
  ratio: number;
  /** |initial loss wgtrain − initial loss tfjs| / |initial loss tfjs| (dropout off, before any update). */
  firstLossRelDiff: number;
}

export interface TrainBenchOptions {
  warmup: number;
  repeats: number;
  targetMs: number;
  maxIters: number;
  log: (line: string) => void;
}

export const MLP_SPEC: MlpTrainSpec = { kind: 'mlp', batch: 128, inFeatures: 784, hidden: [256, 256], numClasses: 10, dropout: 0 };

/**
 * The CPU lab presets' kind of model (src/lab/experiment/presets/cpu-*.json: two hidden layers,
 * AdamW, dropout after each hidden layer) at the size of the step-cost issue: 784-32-32-10, batch
 * 256, dropout 0.1. bench/torch_train_step.py knows the same name.
 */
export const PRESET_MLPS: Record<string, MlpTrainSpec> = {
  'mlp-cpu': { ...MLP_SPEC, batch: 256, hidden: [32, 32], dropout: 0.1 },
};

/** The ViT of this benchmark at a given depth (28x28x1 images, patch 7: 16 tokens + cls). */
export function vitSpec(depth: number, overrides: Partial<VitTrainSpec> = {}): VitTrainSpec {
  return { kind: 'vit', batch: 128, imageSize: 28, patchSize: 7, dim: 64, depth, heads: 4, mlpRatio: 2, numClasses: 10, ...overrides };
}

/**
 * Models by adapter. On a GPU: the MLP and the ViT at depths 2 and 4, batch 128. On a software
 * rasteriser (SwiftShader: seconds per step, mostly a fixed cost per dispatch and per workgroup)
 * the MLP at batch 128 and the depth-2 ViT at batch 32, so that the whole bench stays within a few
 * minutes; the model is the same, only the ViT's batch is smaller.
 */
/**
 * The lab presets' models (src/lab/experiment/presets/*.json, MLP ratio 4 as ViT's default) at the
 * presets' batch of 128: `vit-xs` trains in regime-finder, early-dropout, analysis and ablations,
 * `vit-m` in regime-finder and late-dropout. bench/torch_train_step.py knows the same names.
 */
export const PRESET_VITS: Record<string, VitTrainSpec> = {
  'vit-xs': vitSpec(4, { dim: 32, heads: 2, mlpRatio: 4 }),
  'vit-m': vitSpec(4, { dim: 128, heads: 4, mlpRatio: 4 }),
};

export function defaultTrainSpecs(software: boolean): TrainSpec[] {
  return software
    ? [MLP_SPEC, vitSpec(2, { batch: 32 })]
    : [MLP_SPEC, vitSpec(2), vitSpec(4), PRESET_VITS['vit-xs'], PRESET_VITS['vit-m']];
}

/**
 * "mlp,vit" -> specs. `vit` (and the presets' `vit-xs`, `vit-m`) take options after colons: `vit:depth=4:dim=128:heads=8:batch=64`
 * (also mlpRatio, patch); `mlp` (and `mlp-cpu`) take `batch`, `width` (both hidden layers) and
 * `dropout` (the rate): `mlp:batch=256:width=32:dropout=0.1`. "none" (or "") -> no training rows.
 * Undefined -> undefined.
 */
export function parseTrainSpecs(text: string | null | undefined): TrainSpec[] | undefined {
  if (text == null) return undefined;
  const t = text.trim();
  if (t === '' || t === 'none') return [];
  return t.split(',').map((item) => {
    const [kind, ...opts] = item.trim().split(':');
    const kv: Record<string, number> = {};
    for (const o of opts) {
      const m = /^(\w+)=(\d+(?:\.\d+)?)$/.exec(o);
      if (!m) throw new Error(`bench: training option '${o}' in '${item}' is not key=number`);
      kv[m[1]] = Number(m[2]);
    }
    const int = (key: string, v: number) => {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`bench: training option ${key} must be a positive integer, got ${v}`);
      return v;
    };
    if (kind === 'mlp' || Object.hasOwn(PRESET_MLPS, kind)) {
      const known = ['batch', 'width', 'dropout'];
      for (const k of Object.keys(kv)) if (!known.includes(k)) throw new Error(`bench: unknown mlp option '${k}' (known: ${known.join(', ')})`);
      const d = kind === 'mlp' ? MLP_SPEC : PRESET_MLPS[kind];
      const dropout = kv.dropout ?? d.dropout;
      if (!(dropout >= 0 && dropout < 1)) throw new Error(`bench: mlp option dropout must be in [0, 1), got ${dropout}`);
      const hidden = kv.width === undefined ? d.hidden : d.hidden.map(() => int('width', kv.width));
      return { ...d, batch: int('batch', kv.batch ?? d.batch), hidden, dropout };
    }
    if (kind === 'vit' || Object.hasOwn(PRESET_VITS, kind)) {
      const known = ['depth', 'dim', 'heads', 'batch', 'mlpRatio', 'patch'];
      for (const k of Object.keys(kv)) if (!known.includes(k)) throw new Error(`bench: unknown vit option '${k}' (known: ${known.join(', ')})`);
      const d = kind === 'vit' ? vitSpec(2) : PRESET_VITS[kind];
      const spec = vitSpec(int('depth', kv.depth ?? d.depth), {
        dim: int('dim', kv.dim ?? d.dim),
        heads: int('heads', kv.heads ?? d.heads),
        batch: int('batch', kv.batch ?? d.batch),
        patchSize: int('patch', kv.patch ?? d.patchSize),
        mlpRatio: kv.mlpRatio ?? d.mlpRatio,
      });
      if (spec.dim % spec.heads !== 0) throw new Error(`bench: vit dim ${spec.dim} is not divisible by heads ${spec.heads}`);
      if (spec.imageSize % spec.patchSize !== 0) throw new Error(`bench: vit patch ${spec.patchSize} does not divide ${spec.imageSize}`);
      return spec;
    }
    throw new Error(`bench: unknown training model '${kind}' (expected mlp, vit, ${[...Object.keys(PRESET_MLPS), ...Object.keys(PRESET_VITS)].join(', ')})`);
  });
}

export function describeSpec(s: TrainSpec): string {
  if (s.kind === 'mlp') return `MLP ${[s.inFeatures, ...s.hidden, s.numClasses].join('-')}${s.dropout ? `, dropout ${s.dropout}` : ''}`;
  return `ViT d${s.dim} x${s.depth} h${s.heads} r${s.mlpRatio} p${s.patchSize}`;
}

const vitHidden = (s: VitTrainSpec) => Math.floor(s.mlpRatio * s.dim);
const vitPatches = (s: VitTrainSpec) => (s.imageSize / s.patchSize) ** 2;

/** Matmul FLOPs of one training step (3 x the forward's; elementwise work not counted). */
export function stepFlops(s: TrainSpec): number {
  const B = s.batch;
  let fwd: number;
  if (s.kind === 'mlp') {
    const widths = [s.inFeatures, ...s.hidden, s.numClasses];
    fwd = 0;
    for (let i = 0; i + 1 < widths.length; i++) fwd += 2 * B * widths[i] * widths[i + 1];
  } else {
    const P = vitPatches(s);
    const T = P + 1;
    const D = s.dim;
    const perBlock = 2 * B * T * (D * 3 * D + D * D + 2 * D * vitHidden(s)) + 2 * 2 * B * T * T * D;
    fwd = 2 * B * P * s.patchSize * s.patchSize * D + s.depth * perBlock + 2 * B * D * s.numClasses;
  }
  return 3 * fwd;
}

/** Fixed pseudo-random data of Fashion-MNIST's shape: pixels in [0, 1), labels 0..C-1. */
function syntheticBatch(s: TrainSpec): { pixels: Float32Array; labels: Int32Array; inFeatures: number } {
  const inFeatures = s.kind === 'mlp' ? s.inFeatures : s.imageSize * s.imageSize;
  const pixels = new Float32Array(s.batch * inFeatures);
  const labels = new Int32Array(s.batch);
  let st = 0x2545f491;
  const next = () => {
    st = (Math.imul(st, 1664525) + 1013904223) >>> 0;
    return st / 4294967296;
  };
  for (let i = 0; i < pixels.length; i++) pixels[i] = next();
  for (let i = 0; i < labels.length; i++) labels[i] = Math.floor(next() * s.numClasses);
  return { pixels, labels, inFeatures };
}

// ---------------------------------------------------------------------------------------------
// wgtrain side

/** One engine's model, optimizer and batch; L is its scalar tensor type. */
interface Trainee<L extends { dispose(): void } = { dispose(): void }> {
  /** Records one training step; returns its loss (a scalar the caller disposes). */
  step(): L;
  /** The loss at the current weights with dropout off, no update (the same-model check). */
  evalLoss(): Promise<number>;
  /**
   * The loss's value (a readback: the sync). `batch` (a timed batch's start and size) lets an engine
   * without a patient wait of its own get the harness's (bench-core.ts, tfSync).
   */
  read(loss: L, batch?: BatchInfo): Promise<number>;
  dispose(): void;
}

function buildOurs(s: TrainSpec, pixels: Float32Array, labels: Int32Array): { trainee: Trainee<wg.Tensor>; model: wg.Classifier } {
  const model: wg.Classifier = s.kind === 'mlp'
    ? new wg.MLP({ inFeatures: s.inFeatures, hiddenSizes: s.hidden, numClasses: s.numClasses, activation: 'relu', dropRate: s.dropout, seed: 1 })
    : new wg.ViT({ imageSize: s.imageSize, patchSize: s.patchSize, numClasses: s.numClasses, dim: s.dim, depth: s.depth, numHeads: s.heads, mlpRatio: s.mlpRatio, seed: 1 });
  model.train();
  const opt = new wg.AdamW(model.namedParameters(), {
    lr: TRAIN_HYPER.lr,
    betas: [TRAIN_HYPER.beta1, TRAIN_HYPER.beta2],
    eps: TRAIN_HYPER.eps,
    weightDecay: TRAIN_HYPER.weightDecay,
  });
  const x = s.kind === 'mlp' ? wg.tensor(pixels, [s.batch, s.inFeatures]) : wg.tensor(pixels, [s.batch, 1, s.imageSize, s.imageSize]);
  const y = wg.tensor(labels, [s.batch]);
  const trainee: Trainee<wg.Tensor> = {
    step() {
      // As Trainer.trainStep: tidy around forward + loss + backward, then the fused update.
      const loss = wg.tidy(() => {
        opt.zeroGrad();
        const l = wg.crossEntropy(model.forward(x), y, { labelSmoothing: TRAIN_HYPER.labelSmoothing });
        l.backward();
        return l.detach();
      });
      opt.step();
      opt.zeroGrad();
      wg.flush(); // as Trainer.trainStep: the GPU starts on this step while the next is recorded
      return loss;
    },
    async read(loss) {
      return loss.item(); // the engine waits patiently by itself
    },
    async evalLoss() {
      model.eval();
      try {
        const l = wg.noGrad(() => wg.tidy(() => wg.crossEntropy(model.forward(x), y, { labelSmoothing: TRAIN_HYPER.labelSmoothing })));
        try {
          return await l.item();
        } finally {
          l.dispose();
        }
      } finally {
        model.train();
      }
    },
    dispose() {
      opt.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    },
  };
  return { trainee, model };
}

// ---------------------------------------------------------------------------------------------
// tfjs side

let tfVariableRun = 0;

function buildTfjs(tf: Tf, s: TrainSpec, initial: Map<string, { shape: number[]; data: Float32Array; decay: boolean }>, pixels: Float32Array, labels: Int32Array): { trainee: Trainee<TF.Scalar>; params: number } {
  const run = tfVariableRun++;
  const vars = new Map<string, TF.Variable>();
  const decayed: TF.Variable[] = [];
  for (const [name, p] of initial) {
    // rank-2 weights: wgtrain's Linear stores [out, in], tf.layers.dense's kernel is [in, out].
    const v = tf.tidy(() => {
      const t = tf.tensor(p.data, p.shape);
      return tf.variable(p.shape.length === 2 ? tf.transpose(t) : t, true, `wgbench${run}/${name}`);
    });
    vars.set(name, v);
    if (p.decay) decayed.push(v);
  }
  const used = new Set<string>();
  const P = (name: string): TF.Variable => {
    used.add(name);
    const v = vars.get(name);
    if (!v) throw new Error(`bench: tfjs model wants parameter '${name}', which wgtrain's model does not have`);
    return v;
  };
  // Constants made once (kept outside any tidy), so no step uploads them again.
  const constants = new Map<number, TF.Scalar>();
  const c = (v: number): TF.Scalar => {
    let t = constants.get(v);
    if (!t) constants.set(v, (t = tf.keep(tf.scalar(v)))); // first made inside a step's tidy
    return t;
  };
  const decayFactor = c(1 - TRAIN_HYPER.lr * TRAIN_HYPER.weightDecay);

  const dense = (x: TF.Tensor2D, prefix: string, activation: 'linear' | 'relu' = 'linear'): TF.Tensor2D =>
    tf.fused.matMul({ a: x, b: P(`${prefix}.weight`) as TF.Tensor2D, bias: P(`${prefix}.bias`), activation }) as TF.Tensor2D;
  const layerNorm = (x: TF.Tensor, prefix: string, eps = 1e-6): TF.Tensor => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, c(eps)))), P(`${prefix}.weight`)), P(`${prefix}.bias`));
  };
  const gelu = (x: TF.Tensor): TF.Tensor => tf.mul(tf.mul(x, c(0.5)), tf.add(c(1), tf.erf(tf.mul(x, c(Math.SQRT1_2)))));

  const x = tf.tensor2d(pixels, [s.batch, pixels.length / s.batch]);
  const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), s.numClasses), 'float32'));

  let logitsOf: (training: boolean) => TF.Tensor2D;
  if (s.kind === 'mlp') {
    logitsOf = (training) => {
      let h = x;
      for (let i = 0; i < s.hidden.length; i++) {
        h = dense(h, `layers.${i}`, 'relu');
        if (training && s.dropout > 0) h = tf.dropout(h, s.dropout) as TF.Tensor2D;
      }
      return dense(h, 'head');
    };
  } else {
    const B = s.batch;
    const D = s.dim;
    const H = s.heads;
    const hd = D / H;
    const g = s.imageSize / s.patchSize;
    const T = g * g + 1;
    const scale = c(1 / Math.sqrt(hd));
    logitsOf = () => {
      // One channel: [B, 784] -> [B, gy, py, gx, px] -> [B, gy, gx, py, px]: patches row-major, pixels
      // (row, column) inside: wgtrain's PatchEmbed order (channel, row, column) with one channel.
      const patches = tf.reshape(tf.transpose(tf.reshape(x, [B, g, s.patchSize, g, s.patchSize]), [0, 1, 3, 2, 4]), [B * g * g, s.patchSize * s.patchSize]);
      const tokens = tf.reshape(dense(patches as TF.Tensor2D, 'patch_embed.proj'), [B, g * g, D]);
      const cls = tf.tile(P('cls_token'), [B, 1, 1]);
      let h = tf.add(tf.concat([cls, tokens], 1), P('pos_embed')); // [B, T, D]
      for (let b = 0; b < s.depth; b++) {
        const pre = `blocks.${b}`;
        const n1 = tf.reshape(layerNorm(h, `${pre}.norm1`), [B * T, D]) as TF.Tensor2D;
        const qkv = tf.transpose(tf.reshape(dense(n1, `${pre}.attn.qkv`), [B, T, 3, H, hd]), [2, 0, 3, 1, 4]); // [3, B, H, T, hd]
        const [q, k, v] = tf.split(qkv, 3, 0).map((t) => tf.reshape(t, [B * H, T, hd]) as TF.Tensor3D);
        const attn = tf.softmax(tf.matMul(tf.mul(q, scale), k, false, true)); // [B·H, T, T]
        const heads = tf.reshape(tf.transpose(tf.reshape(tf.matMul(attn, v), [B, H, T, hd]), [0, 2, 1, 3]), [B * T, D]) as TF.Tensor2D;
        h = tf.add(h, tf.reshape(dense(heads, `${pre}.attn.proj`), [B, T, D]));
        const n2 = tf.reshape(layerNorm(h, `${pre}.norm2`), [B * T, D]) as TF.Tensor2D;
        const mlp = dense(gelu(dense(n2, `${pre}.mlp.fc1`)) as TF.Tensor2D, `${pre}.mlp.fc2`);
        h = tf.add(h, tf.reshape(mlp, [B, T, D]));
      }
      // LayerNorm is per token: normalise only the cls token, as wgtrain's ViT does.
      const clsOut = layerNorm(tf.reshape(tf.slice(h, [0, 0, 0], [B, 1, D]), [B, D]), 'norm') as TF.Tensor2D;
      return dense(clsOut, 'head');
    };
  }

  const varList = [...vars.values()];
  const opt = tf.train.adam(TRAIN_HYPER.lr, TRAIN_HYPER.beta1, TRAIN_HYPER.beta2, TRAIN_HYPER.eps);
  const lossOf = (training = true): TF.Scalar => tf.losses.softmaxCrossEntropy(onehot, logitsOf(training), undefined, TRAIN_HYPER.labelSmoothing) as TF.Scalar;
  let checkedUse = false;

  // TF.js has no patient wait of its own (see bench-core.ts, tfSync): this model's batches share one.
  const tfWaiter = new PatientWaiter();
  const trainee: Trainee<TF.Scalar> = {
    step() {
      return tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => lossOf(), varList);
        if (!checkedUse) {
          // Every wgtrain parameter must take part in the tfjs graph, else the architectures differ.
          const unused = [...vars.keys()].filter((n) => !used.has(n));
          if (unused.length) throw new Error(`bench: the tfjs ${describeSpec(s)} does not use wgtrain's parameters ${unused.join(', ')}`);
          checkedUse = true;
        }
        for (const name of Object.keys(grads)) if (!grads[name]) throw new Error(`bench: tfjs gives no gradient for ${name}`);
        // AdamW's decoupled decay (tf.train.adam has none): p <- p (1 - lr wd), then the Adam update.
        for (const v of decayed) v.assign(tf.mul(v, decayFactor));
        opt.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
        return value;
      });
    },
    async read(loss, batch) {
      const value = () => loss.data();
      // Where wgtrain's engine waits patiently (Node, unless turned off), TF.js gets the same wait.
      const data = batch && wg.engine().waiter ? await tfWaiter.wait(`${batch.calls}`, batch.startedAt, value) : await value();
      return data[0];
    },
    async evalLoss() {
      const l = tf.tidy(() => lossOf(false));
      try {
        return (await l.data())[0];
      } finally {
        l.dispose();
      }
    },
    dispose() {
      opt.dispose();
      for (const v of vars.values()) v.dispose();
      for (const t of constants.values()) t.dispose();
      x.dispose();
      onehot.dispose();
    },
  };
  return { trainee, params: varList.reduce((n, v) => n + v.size, 0) };
}

// ---------------------------------------------------------------------------------------------
// timing

/** The process's CPU time in ms (all threads), or null outside Node. */
function cpuTimeMs(): number | null {
  if (typeof process === 'undefined' || typeof process.cpuUsage !== 'function') return null;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** `iters` steps back to back, ended by reading the last loss; wall and CPU ms per step. */
async function timedBatch<L extends { dispose(): void }>(t: Trainee<L>, iters: number): Promise<{ ms: number; cpuMs: number | null }> {
  const t0 = performance.now();
  const c0 = cpuTimeMs();
  let last: L | null = null;
  for (let i = 0; i < iters; i++) {
    last?.dispose(); // a step's loss is only a handle; disposing it before the GPU ran is safe
    last = t.step();
  }
  await t.read(last!, { startedAt: t0, calls: iters });
  const ms = (performance.now() - t0) / iters;
  const c1 = cpuTimeMs();
  last!.dispose();
  return { ms, cpuMs: c0 === null || c1 === null ? null : (c1 - c0) / iters };
}

/** Warm-up steps, each read back (losses for the checks); returns the losses and the last step's time. */
async function warmUp<L extends { dispose(): void }>(t: Trainee<L>, steps: number): Promise<{ losses: number[]; lastMs: number }> {
  const losses: number[] = [];
  let lastMs = 0;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const loss = t.step();
    losses.push(await t.read(loss));
    lastMs = performance.now() - t0;
    loss.dispose();
  }
  return { losses, lastMs };
}

function checkWarmup(engineName: string, model: string, losses: number[]): void {
  if (!losses.every(Number.isFinite)) throw new Error(`bench: ${engineName} ${model} warm-up losses are not all finite: ${losses.join(', ')}`);
  if (losses.length >= 2 && !(losses[losses.length - 1] < losses[0])) {
    throw new Error(`bench: ${engineName} ${model} loss did not go down over the warm-up on a fixed batch: ${losses.join(', ')}`);
  }
}

/** One training row: both engines, same model, same batch, same initial weights. */
export async function benchTrainStep(tf: Tf, s: TrainSpec, o: TrainBenchOptions): Promise<TrainRow> {
  const name = describeSpec(s);
  if (!tf.getGradient('BatchMatMul') || !tf.getGradient('Erf')) {
    throw new Error("bench: tfjs-core has no gradients registered; import '@tensorflow/tfjs-core/dist/register_all_gradients.js' where tfjs is loaded");
  }
  const { pixels, labels } = syntheticBatch(s);
  const ours = buildOurs(s, pixels, labels);
  let theirs: { trainee: Trainee<TF.Scalar>; params: number } | null = null;
  try {
    const initial = new Map<string, { shape: number[]; data: Float32Array; decay: boolean }>();
    for (const [pname, p] of ours.model.namedParameters()) {
      initial.set(pname, { shape: [...p.shape], data: (await p.toArray()) as Float32Array, decay: p.weightDecay });
    }
    theirs = buildTfjs(tf, s, initial, pixels, labels);
    const params = ours.model.numParameters();
    if (theirs.params !== params) throw new Error(`bench: ${name}: tfjs model has ${theirs.params} parameters, wgtrain's ${params}`);

    // Same model: the losses at the initial weights agree (dropout off: the two engines' masks differ).
    const initialOurs = await ours.trainee.evalLoss();
    const initialTf = await theirs.trainee.evalLoss();
    const firstLossRelDiff = Math.abs(initialOurs - initialTf) / Math.abs(initialTf);
    if (!(firstLossRelDiff < 1e-3)) {
      throw new Error(`bench: ${name}: losses at the initial weights differ (wgtrain ${initialOurs}, tfjs ${initialTf}): not the same model`);
    }
    const warmOurs = await warmUp(ours.trainee, o.warmup);
    const warmTf = await warmUp(theirs.trainee, o.warmup);
    checkWarmup('wgtrain', name, warmOurs.losses);
    checkWarmup('tfjs', name, warmTf.losses);
    o.log(`train ${name}: initial loss wgtrain ${initialOurs.toFixed(6)}, tfjs ${initialTf.toFixed(6)}; warm-up step ${warmOurs.lastMs.toFixed(1)} / ${warmTf.lastMs.toFixed(1)} ms`);

    const liveBuffersBefore = wg.memoryStats().liveBuffers;
    const tensorsBefore = tf.memory().numTensors;
    // The shared harness (src/runtime/timing.ts), warmed up above: one step sizes the batches, then interleaved rounds.
    const tfTrainee = theirs.trainee;
    const [timedOurs, timedTf] = await timeInterleaved([(n: number) => timedBatch(ours.trainee, n), (n: number) => timedBatch(tfTrainee, n)], {
      repeats: o.repeats,
      targetMs: o.targetMs,
      maxCalls: o.maxIters,
      warmups: 0,
    });
    const liveBuffersAfter = wg.memoryStats().liveBuffers;
    const tensorsAfter = tf.memory().numTensors;
    if (liveBuffersAfter !== liveBuffersBefore) throw new Error(`bench: ${name}: wgtrain's training step leaks: ${liveBuffersBefore} live buffers before the timed steps, ${liveBuffersAfter} after`);
    if (tensorsAfter !== tensorsBefore) throw new Error(`bench: ${name}: tfjs's training step leaks: ${tensorsBefore} tensors before the timed steps, ${tensorsAfter} after`);

    const msOurs = timedOurs.ms;
    const msTf = timedTf.ms;
    const cpuMs = (t: typeof timedOurs) => {
      const cpu = t.samples.flatMap((x) => (x.cpuMs === null ? [] : [x.cpuMs]));
      return cpu.length ? median(cpu) : undefined;
    };
    return {
      model: name,
      spec: s,
      params,
      flopsPerStep: stepFlops(s),
      wgtrain: { ms: msOurs, samples: timedOurs.samples.map((x) => x.ms), cpuMs: cpuMs(timedOurs), iters: timedOurs.calls, stepsPerSec: 1000 / msOurs, warmupLosses: warmOurs.losses, initialLoss: initialOurs, liveBuffersBefore, liveBuffersAfter },
      tfjs: { ms: msTf, samples: timedTf.samples.map((x) => x.ms), cpuMs: cpuMs(timedTf), iters: timedTf.calls, stepsPerSec: 1000 / msTf, warmupLosses: warmTf.losses, initialLoss: initialTf, tensorsBefore, tensorsAfter },
      ratio: msTf / msOurs,
      firstLossRelDiff,
    };
  } finally {
    ours.trainee.dispose();
    theirs?.trainee.dispose();
  }
}

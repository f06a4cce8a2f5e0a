/**
 * PyTorch golden tests for the nn layers and whole models: the same weights (stored in
 * tests/golden/nn_*.json by make_golden_nn.py) are loaded into our modules with loadStateDict, and
 * outputs, losses and the gradients of every parameter are compared with PyTorch's (float64 on the
 * same float32 values, rounded to float32). Dropout is off (p = 0).
 *
 * Tolerances: |ours - torch| <= atol + rtol * |torch| with rtol 1e-4, atol 1e-5 everywhere, as the
 * op goldens, for single layers and for the logits, loss and every gradient of the whole models
 * (about 30 chained f32 ops): a wrong patch order, a missing scale or eps, or a transposed weight
 * changes results by 1e-1, f32 rounding by 1e-6.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { crossEntropy, tensor, type Tensor } from '../src/index.js';
import {
  LayerNorm, Linear, MLP, MLPMixer, MultiHeadSelfAttention, ViT,
  type Classifier, type MLPMixerOptions, type MLPOptions, type Module, type ViTOptions,
} from '../src/nn/index.js';
import { expectClose } from './helpers/check.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

const RTOL = 1e-4;
const ATOL = 1e-5;

interface Golden { shape: number[]; data: number[] }
interface Case {
  name: string;
  x: Golden;
  params: Record<string, Golden>;
  grads: Record<string, Golden>;
}
interface LayerCase extends Case {
  layer: 'linear' | 'linear_gelu' | 'layer_norm' | 'attention';
  in_features: number; out_features: number; bias: boolean; dim: number; eps: number; heads: number;
  w: Golden; out: Golden; grad_x: Golden;
}
interface ModelCase extends Case {
  config: Record<string, unknown> & { model: 'vit' | 'mixer' | 'mlp' };
  labels: Golden; logits: Golden; loss: Golden;
}

function load<C>(file: string): C[] {
  return (JSON.parse(readFileSync(new URL(`./golden/${file}`, import.meta.url), 'utf8')) as { cases: C[] }).cases;
}

const state = (params: Record<string, Golden>) =>
  Object.fromEntries(Object.entries(params).map(([k, g]) => [k, { shape: g.shape, data: Float32Array.from(g.data) }]));

async function expectTensor(t: Tensor | null, g: Golden, what: string, rtol: number, atol: number): Promise<void> {
  expect(t, `${what}: missing`).not.toBeNull();
  if (g.shape.length === 0) expect(t!.size).toBe(1);
  else expect([...t!.shape], `${what}: shape`).toEqual(g.shape);
  expectClose(await t!.toArray(), g.data, { rtol, atol, what });
}

async function expectGrads(m: Module, c: Case, rtol: number, atol: number): Promise<void> {
  const named = m.namedParameters();
  expect(named.map(([n]) => n).sort()).toEqual(Object.keys(c.grads).sort());
  for (const [name, p] of named) await expectTensor(p.grad, c.grads[name], `${c.name}: grad ${name}`, rtol, atol);
}

function buildLayer(c: LayerCase): Module {
  switch (c.layer) {
    case 'linear': return new Linear(c.in_features, c.out_features, { bias: c.bias });
    case 'linear_gelu': return new Linear(c.in_features, c.out_features, { activation: 'gelu' });
    case 'layer_norm': return new LayerNorm(c.dim, { eps: c.eps });
    case 'attention': return new MultiHeadSelfAttention(c.dim, c.heads);
  }
}

describe('golden nn layers', () => {
  for (const c of load<LayerCase>('nn_layers.json')) {
    test(c.name, async () => {
      const m = buildLayer(c);
      m.loadStateDict(state(c.params));
      const x = tensor(Float32Array.from(c.x.data), c.x.shape, { requiresGrad: true });
      const out = m.forward(x);
      await expectTensor(out, c.out, `${c.name}: out`, RTOL, ATOL);
      const w = tensor(Float32Array.from(c.w.data), c.w.shape);
      out.backward({ grad: w });
      await expectTensor(x.grad, c.grad_x, `${c.name}: grad x`, RTOL, ATOL);
      await expectGrads(m, c, RTOL, ATOL);
      for (const t of [x, out, w]) t.dispose();
      m.dispose();
    });
  }
});

function buildModel(cfg: ModelCase['config']): Classifier {
  // The stored config uses our option names; the extra `model` field is ignored by the constructors.
  switch (cfg.model) {
    case 'vit': return new ViT(cfg as unknown as ViTOptions);
    case 'mixer': return new MLPMixer(cfg as unknown as MLPMixerOptions);
    case 'mlp': return new MLP(cfg as unknown as MLPOptions);
  }
}

describe('golden nn models (same weights in PyTorch and here)', () => {
  for (const c of load<ModelCase>('nn_models.json')) {
    test(c.name, async () => {
      const model = buildModel(c.config);
      model.loadStateDict(state(c.params)); // also proves the parameter names and shapes agree with PyTorch's
      const x = tensor(Float32Array.from(c.x.data), c.x.shape);
      const y = tensor(Int32Array.from(c.labels.data), c.labels.shape, { dtype: 'i32' });
      const logits = model.forward(x);
      await expectTensor(logits, c.logits, `${c.name}: logits`, RTOL, ATOL);
      const loss = crossEntropy(logits, y);
      await expectTensor(loss, c.loss, `${c.name}: loss`, RTOL, ATOL);
      loss.backward();
      await expectGrads(model, c, RTOL, ATOL);
      for (const t of [x, y, logits, loss]) t.dispose();
      model.dispose();
    });
  }
});

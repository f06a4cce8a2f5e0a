/**
 * PyTorch golden tests: our ops against outputs and gradients that PyTorch computed (in float64) on
 * the same float32 inputs. The JSON files are produced by tests/golden/make_golden.py (see
 * tests/golden/README.md); PyTorch itself is not needed here.
 *
 * For tensor-valued ops the loss is sum(out * w) with the stored `w`; we seed backward with
 * { grad: w }, which gives exactly that loss's gradients without routing through mul/sum.
 *
 * Tolerances: |ours - torch| <= atol + rtol * |torch| with rtol 1e-4, atol 1e-5 everywhere (the
 * references are float32-rounded float64 results, so that is f32 arithmetic error only).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { crossEntropy, gelu, layerNorm, linear, logSoftmax, matmul, softmax, tensor, type Tensor } from '../src/index.js';
import { expectClose } from './helpers/check.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

const RTOL = 1e-4;
const ATOL = 1e-5;

interface Golden { shape: number[]; data: number[] }
interface GoldenFile<C> { torch: string; cases: (C & { name: string })[] }

function load<C>(file: string): GoldenFile<C> {
  return JSON.parse(readFileSync(new URL(`./golden/${file}`, import.meta.url), 'utf8')) as GoldenFile<C>;
}

/** Every tensor a test makes, disposed at its end so one case's leak cannot hide behind another's. */
let live: Tensor[] = [];
function own<T extends Tensor>(t: T): T {
  live.push(t);
  return t;
}
function disposeAll(): void {
  for (const t of live) if (!t.isDisposed) t.dispose();
  live = [];
}

/** An f32 leaf (requiresGrad) holding exactly the float32 values PyTorch used. */
function leaf(g: Golden, requiresGrad = true): Tensor {
  return own(tensor(Float32Array.from(g.data), g.shape, { requiresGrad }));
}
const constant = (g: Golden) => leaf(g, false);
const int32 = (g: Golden) => own(tensor(Int32Array.from(g.data), g.shape, { dtype: 'i32' }));

/** Host-side transpose of a 2-D golden (for linear(), whose weight is [out, in]). */
function transposed(g: Golden): Golden {
  const [r, c] = g.shape;
  const data = new Array<number>(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) data[j * r + i] = g.data[i * c + j];
  return { shape: [c, r], data };
}

async function expectTensor(actual: Tensor | null, expected: Golden, what: string): Promise<void> {
  expect(actual, `${what}: missing`).not.toBeNull();
  const t = actual!;
  if (expected.shape.length === 0) expect(t.size, `${what}: size of a scalar`).toBe(1);
  else expect([...t.shape], `${what}: shape`).toEqual(expected.shape);
  expectClose(await t.toArray(), expected.data, { rtol: RTOL, atol: ATOL, what });
}

/** Seeds backward with w, i.e. differentiates sum(out * w). */
function backwardWeighted(out: Tensor, w: Golden): void {
  out.backward({ grad: constant(w) });
}

// ---------------------------------------------------------------- matmul

interface MatmulCase { a: Golden; b: Golden; w: Golden; out: Golden; grad_a: Golden; grad_b: Golden }
const matmulGolden = load<MatmulCase>('matmul.json');

describe('golden: matmul', () => {
  for (const c of matmulGolden.cases) {
    test(`matmul ${c.name}`, async () => {
      try {
        const a = leaf(c.a);
        const b = leaf(c.b);
        const out = own(matmul(a, b));
        backwardWeighted(out, c.w);
        await expectTensor(out, c.out, `${c.name} out`);
        await expectTensor(a.grad, c.grad_a, `${c.name} grad a`);
        await expectTensor(b.grad, c.grad_b, `${c.name} grad b`);
      } finally {
        disposeAll();
      }
    });

    // linear(x, weight[out, in]) = x @ weightᵀ: the same golden with b transposed on the host.
    if (c.b.shape.length === 2) {
      test(`linear ${c.name} (weight = bᵀ)`, async () => {
        try {
          const x = leaf(c.a);
          const weight = leaf(transposed(c.b));
          const out = own(linear(x, weight, null));
          backwardWeighted(out, c.w);
          await expectTensor(out, c.out, `${c.name} linear out`);
          await expectTensor(x.grad, c.grad_a, `${c.name} linear grad x`);
          await expectTensor(weight.grad, transposed(c.grad_b), `${c.name} linear grad weight`);
        } finally {
          disposeAll();
        }
      });
    }
  }
});

// ---------------------------------------------------------------- layer_norm

interface LayerNormCase {
  eps: number; x: Golden; weight: Golden; bias: Golden; w: Golden;
  out: Golden; grad_x: Golden; grad_weight: Golden; grad_bias: Golden;
}
const layerNormGolden = load<LayerNormCase>('layer_norm.json');

describe('golden: layerNorm', () => {
  for (const c of layerNormGolden.cases) {
    test(c.name, async () => {
      try {
        const x = leaf(c.x);
        const weight = leaf(c.weight);
        const bias = leaf(c.bias);
        const out = own(layerNorm(x, weight, bias, c.eps));
        backwardWeighted(out, c.w);
        await expectTensor(out, c.out, `${c.name} out`);
        await expectTensor(x.grad, c.grad_x, `${c.name} grad x`);
        await expectTensor(weight.grad, c.grad_weight, `${c.name} grad weight`);
        await expectTensor(bias.grad, c.grad_bias, `${c.name} grad bias`);
      } finally {
        disposeAll();
      }
    });
  }
});

// ---------------------------------------------------------------- softmax / logSoftmax

interface SoftmaxCase {
  axis: number; x: Golden; w: Golden;
  softmax: { out: Golden; grad_x: Golden };
  log_softmax: { out: Golden; grad_x: Golden };
}
const softmaxGolden = load<SoftmaxCase>('softmax.json');

describe('golden: softmax / logSoftmax', () => {
  for (const c of softmaxGolden.cases) {
    for (const [op, fn] of [['softmax', softmax], ['log_softmax', logSoftmax]] as const) {
      test(`${op} ${c.name}`, async () => {
        try {
          const x = leaf(c.x);
          const out = own(fn(x, c.axis));
          backwardWeighted(out, c.w);
          await expectTensor(out, c[op].out, `${op} ${c.name} out`);
          await expectTensor(x.grad, c[op].grad_x, `${op} ${c.name} grad x`);
        } finally {
          disposeAll();
        }
      });
    }
  }
});

// ---------------------------------------------------------------- crossEntropy

interface CrossEntropyCase {
  label_smoothing: number; reduction: 'mean' | 'sum' | 'none';
  logits: Golden; labels: Golden; w?: Golden; loss: Golden; grad_logits: Golden;
}
const crossEntropyGolden = load<CrossEntropyCase>('cross_entropy.json');

describe('golden: crossEntropy', () => {
  for (const c of crossEntropyGolden.cases) {
    test(c.name, async () => {
      try {
        const logits = leaf(c.logits);
        const loss = own(crossEntropy(logits, int32(c.labels), { labelSmoothing: c.label_smoothing, reduction: c.reduction }));
        if (c.reduction === 'none') backwardWeighted(loss, c.w!);
        else loss.backward();
        await expectTensor(loss, c.loss, `${c.name} loss`);
        await expectTensor(logits.grad, c.grad_logits, `${c.name} grad logits`);
      } finally {
        disposeAll();
      }
    });
  }
});

// ---------------------------------------------------------------- gelu

interface GeluCase { approximate: 'none' | 'tanh'; x: Golden; w: Golden; out: Golden; grad_x: Golden }
const geluGolden = load<GeluCase>('gelu.json');

describe('golden: gelu', () => {
  for (const c of geluGolden.cases) {
    test(c.name, async () => {
      try {
        const x = leaf(c.x);
        const out = own(gelu(x, { approximate: c.approximate }));
        backwardWeighted(out, c.w);
        await expectTensor(out, c.out, `${c.name} out`);
        await expectTensor(x.grad, c.grad_x, `${c.name} grad x`);
      } finally {
        disposeAll();
      }
    });
  }
});

// ---------------------------------------------------------------- two-layer MLP

interface MlpCase {
  label_smoothing: number; x: Golden; labels: Golden; w1: Golden; b1: Golden; w2: Golden; b2: Golden;
  loss: Golden; grad_w1: Golden; grad_b1: Golden; grad_w2: Golden; grad_b2: Golden;
}
const mlpGolden = load<MlpCase>('mlp.json');

describe('golden: two-layer MLP loss', () => {
  const c = mlpGolden.cases[0];

  test('matmul + add + relu form', async () => {
    try {
      const x = constant(c.x);
      const [w1, b1, w2, b2] = [leaf(c.w1), leaf(c.b1), leaf(c.w2), leaf(c.b2)];
      const h = own(own(own(x.matmul(w1)).add(b1)).relu());
      const logits = own(own(h.matmul(w2)).add(b2));
      const loss = own(crossEntropy(logits, int32(c.labels), { labelSmoothing: c.label_smoothing }));
      loss.backward();
      await expectTensor(loss, c.loss, 'mlp loss');
      await expectTensor(w1.grad, c.grad_w1, 'mlp grad w1');
      await expectTensor(b1.grad, c.grad_b1, 'mlp grad b1');
      await expectTensor(w2.grad, c.grad_w2, 'mlp grad w2');
      await expectTensor(b2.grad, c.grad_b2, 'mlp grad b2');
    } finally {
      disposeAll();
    }
  });

  test('linear form (weights [out, in], fused relu)', async () => {
    try {
      const x = constant(c.x);
      const [w1, b1, w2, b2] = [leaf(transposed(c.w1)), leaf(c.b1), leaf(transposed(c.w2)), leaf(c.b2)];
      const h = own(linear(x, w1, b1, { activation: 'relu' }));
      const logits = own(linear(h, w2, b2));
      const loss = own(crossEntropy(logits, int32(c.labels), { labelSmoothing: c.label_smoothing }));
      loss.backward();
      await expectTensor(loss, c.loss, 'mlp (linear) loss');
      await expectTensor(w1.grad, transposed(c.grad_w1), 'mlp (linear) grad w1');
      await expectTensor(b1.grad, c.grad_b1, 'mlp (linear) grad b1');
      await expectTensor(w2.grad, transposed(c.grad_w2), 'mlp (linear) grad w2');
      await expectTensor(b2.grad, c.grad_b2, 'mlp (linear) grad b2');
    } finally {
      disposeAll();
    }
  });
});

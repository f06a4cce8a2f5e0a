/**
 * No GPU leaks: 200 forward/backward iterations of a small MLP (matmul, bias, gelu, dropout,
 * layer norm, cross entropy) leave the live-buffer count where it started, and the pool stops
 * creating buffers after the first iteration.
 */
import { expect, test } from 'vitest';
import { crossEntropy, layerNorm, linear, liveTensorCount, memoryStats, ones, randn, tensor, tidy, zeros } from '../src/index.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

test('200 training iterations do not leak buffers or tensors', async () => {
  const w1 = randn([24, 16], { seed: 1, std: 0.2, requiresGrad: true });
  const b1 = zeros([24], { requiresGrad: true });
  const g = ones([24], { requiresGrad: true });
  const beta = zeros([24], { requiresGrad: true });
  const w2 = randn([5, 24], { seed: 2, std: 0.2, requiresGrad: true });
  const x = randn([8, 16], { seed: 3 });
  const labels = tensor(Int32Array.from([0, 1, 2, 3, 4, 0, 1, 2]), [8], { dtype: 'i32' });
  const params = [w1, b1, g, beta, w2];

  const iteration = (i: number) =>
    tidy(() => {
      for (const p of params) p.zeroGrad();
      const h = linear(x, w1, b1, { activation: 'gelu' }).dropout(0.1, { seed: 5, offset: i });
      const logits = linear(layerNorm(h, g, beta, 1e-5), w2).softmax(-1).log();
      const loss = crossEntropy(logits, labels, { labelSmoothing: 0.1 });
      loss.backward();
      return loss;
    });

  // Warm up: the first iteration fills the pool; grads of the previous step are dropped each time.
  iteration(0).dispose();
  const before = memoryStats();
  const tensorsBefore = liveTensorCount();
  let last = 0;
  for (let i = 1; i <= 200; i++) {
    const loss = iteration(i);
    if (i % 50 === 0) last = await loss.item();
    loss.dispose();
  }
  const after = memoryStats();
  expect(Number.isFinite(last)).toBe(true);
  expect(after.liveBuffers).toBe(before.liveBuffers);
  expect(after.liveBytes).toBe(before.liveBytes);
  expect(liveTensorCount()).toBe(tensorsBefore);
  expect(after.createdBuffers).toBe(before.createdBuffers);
});

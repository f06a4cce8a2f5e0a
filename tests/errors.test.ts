/**
 * Bad input gets an error that names the problem, never a WebGPU validation dump or a silent NaN.
 * (Each op's own test file covers its errors in more detail; this file is the checklist. Issue 16's
 * cases, one block per defect: tests/reliability.test.ts (NaN, tidy, allocations, integers, dtypes,
 * labels), tests/checkpoint-integrity.test.ts, tests/resume-torn.test.ts, tests/spec-bounds.test.ts,
 * tests/fuzz.test.ts.)
 */
import { expect, test } from 'vitest';
import { crossEntropy, dropout, matmul, tensor, zeros } from '../src/index.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

test('shape mismatch names both shapes', () => {
  const a = zeros([2, 3]);
  const b = zeros([4, 5]);
  expect(() => matmul(a, b)).toThrow(/matmul: .*\[2,3\].*\[4,5\]/);
  expect(() => a.add(b)).toThrow(/add: shapes \[2,3\] and \[4,5\] cannot be broadcast together/);
});

test('wrong dtype names the expected and actual dtypes', () => {
  const labels = tensor(Int32Array.from([0, 1]), [2], { dtype: 'i32' });
  expect(() => labels.matmul(zeros([2, 2]))).toThrow(/matmul: .*f32.*i32/);
  expect(() => crossEntropy(zeros([2, 3]), zeros([2]))).toThrow(/crossEntropy: labels must be i32 or u32 class indices, got f32/);
});

test('dropout rate outside [0, 1) is rejected with the rate in the message', () => {
  const x = zeros([4]);
  for (const p of [1, 1.5, -0.1, Number.NaN]) {
    expect(() => dropout(x, p)).toThrow(new RegExp(`dropout: p must be in \\[0, 1\\), got ${p}`));
  }
});

test('an unknown dtype, an out-of-range integer, a tensor over the device limits: each names the value', () => {
  expect(() => tensor([1], [1], { dtype: 'float32' as 'f32' })).toThrow(/tensor: unknown dtype 'float32' .*use 'f32'/);
  expect(() => tensor([3e9], [1], { dtype: 'i32' })).toThrow(/tensor: 3000000000 at index 0 is out of range for i32/);
  expect(() => zeros([2 ** 40])).toThrow(/zeros: a tensor of shape \[1099511627776\] \(f32\) needs 4 TiB .*more than this device allows in one buffer/);
});

test('using a disposed tensor names it', () => {
  const t = zeros([3]);
  t.dispose();
  expect(() => t.matmul(zeros([3, 1]))).toThrow(/matmul: tensor #\d+ \(shape \[3\], f32\) was disposed/);
});

test('backward twice through a freed graph says what to do', () => {
  const x = tensor([1, 2], [2], { requiresGrad: true });
  const loss = x.mul(x).sum();
  loss.backward();
  expect(() => loss.backward()).toThrow(/already been freed.*retainGraph/);
});

/// <reference types="@webgpu/types" preserve="true" />
/// <reference lib="esnext.disposable" preserve="true" />
/**
 * wgtrain: a WebGPU training engine. `await init()`, then build tensors and differentiate.
 *
 *   const w = randn([784, 256], { requiresGrad: true, seed: 1 });
 *   const loss = x.matmul(w).relu().dropout(0.1, { seed: 7 }).logSoftmax(-1).mean();
 *   loss.backward();
 *   const g = await w.grad!.toArray();
 *
 * The package root holds the whole public API, in the groups of src/api/ (also importable on
 * their own: `wgtrain/nn`, `wgtrain/optim`, `wgtrain/lab`).
 */
export * from './api/core.js';
export * from './api/nn.js';
export * from './api/optim.js';
export * from './api/lab.js';

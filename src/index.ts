/**
 * wgtrain: a WebGPU training engine. `await init()`, then build tensors and differentiate.
 *
 *   const w = randn([784, 256], { requiresGrad: true, seed: 1 });
 *   const loss = x.matmul(w).relu().dropout(0.1, { seed: 7 }).logSoftmax(-1).mean();
 *   loss.backward();
 *   const g = await w.grad!.toArray();
 */
export { init, shutdown, flush, memoryStats, adapterReport, isInitialized, engine, setCheckedMode, checkedMode } from './runtime/engine.js';
export type { InitOptions, AdapterReport } from './runtime/device.js';
export { WebGPUUnavailableError } from './runtime/device.js';
export type { MemoryStats } from './runtime/pool.js';
export { Tensor, liveTensorCount, type DType, type Shape } from './runtime/tensor.js';
export { tidy, keep } from './runtime/scope.js';
export { noGrad, isGradEnabled, type BackwardOptions } from './runtime/autograd.js';
export { Generator, defaultGenerator, DEFAULT_SEED, type GeneratorState } from './runtime/generator.js';
export * from './nn/functional/index.js';
export * from './nn/index.js';
export * from './lab/index.js';

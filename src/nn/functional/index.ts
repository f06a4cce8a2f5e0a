/** The functional ops, PyTorch-style names; Tensor methods delegate here. */
export * from './creation.js';
export * from './elementwise.js';
export * from './matmul/index.js';
export * from './dropout.js';
export * from './reduce.js';
export * from './softmax.js';
export * from './loss.js';
export * from './norm.js';
export * from './shape.js';
export { autotune, configureAutotune, autotuneEnabled, type AutotuneConfig, type TuneResult } from '../../runtime/autotune.js';

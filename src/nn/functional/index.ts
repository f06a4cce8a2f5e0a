/** The functional ops, PyTorch-style names; importing this installs Tensor's op methods (methods.ts). */
import './methods.js';
export * from './creation.js';
export * from './elementwise.js';
export * from './matmul/index.js';
export * from './dropout.js';
export * from './reduce.js';
export * from './softmax.js';
export * from './loss.js';
export * from './norm.js';
export * from './shape.js';
export { backward } from './backward.js';
export { autotune, configureAutotune, autotuneEnabled, type AutotuneConfig, type TuneResult } from '../../runtime/autotune.js';

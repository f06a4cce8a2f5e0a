/// <reference types="@webgpu/types" preserve="true" />
/// <reference lib="esnext.disposable" preserve="true" />
/**
 * wgtrain's core, what `torch` and `torch.nn.functional` hold in PyTorch: the device, tensors and
 * their creation, every differentiable op, autograd, memory scopes, and the speed / precision
 * switches. The package root (`wgtrain`) exports all of it, and the groups of `wgtrain/nn`,
 * `wgtrain/optim` and `wgtrain/lab` as well.
 *
 * @module wgtrain
 */

// Curated (src/api/*.ts): names a user calls and the types they write or read; test switches and
// kernel internals stay in their modules. Names come through the barrels (nn/functional/index.js,
// nn/index.js, lab/index.js) where there is one, so moving a file inside src/ seldom changes these
// lists; a name that disappears fails tsc here.

// Device and engine
export {
  init,
  shutdown,
  isInitialized,
  adapterReport,
  flush,
  memoryStats,
  engine,
  setCheckedMode,
  checkedMode,
  type Engine,
} from '../runtime/engine.js';
export { WebGPUUnavailableError, type InitOptions, type AdapterReport } from '../runtime/device.js';
export type { MemoryStats } from '../runtime/pool.js';

// Tensors
export { Tensor, liveTensorCount, type DType, type Shape } from '../runtime/tensor.js';
export { tidy, keep, type Disposable } from '../runtime/scope.js';
export type { Timer, TuneRecord } from '../runtime/autotune.js';
export { noGrad, isGradEnabled, type BackwardOptions } from '../runtime/autograd.js';

// Random streams (torch.Generator): dropout masks, randn / rand and layer init draw from one
export { Generator, defaultGenerator, DEFAULT_SEED, type GeneratorState } from '../runtime/generator.js';

export {
  // creation
  tensor,
  zeros,
  ones,
  full,
  arange,
  zerosLike,
  onesLike,
  randn,
  rand,
  Rng,
  type CreateOptions,
  type RandomOptions,
  // element-wise
  add,
  sub,
  mul,
  div,
  neg,
  exp,
  log,
  sqrt,
  pow,
  relu,
  gelu,
  tanh,
  sigmoid,
  affine,
  where,
  maskedFill,
  type GeluOptions,
  // matmul and linear
  matmul,
  linear,
  type Activation,
  type LinearOptions,
  type MatmulOptions,
  // dropout
  dropout,
  type DropoutOptions,
  // reductions
  sum,
  mean,
  max,
  argmax,
  sumSquares,
  dot,
  sumToShape,
  // softmax, losses, normalisation
  softmax,
  logSoftmax,
  crossEntropy,
  type CrossEntropyOptions,
  layerNorm,
  // shapes
  reshape,
  flatten,
  squeeze,
  unsqueeze,
  expand,
  transpose,
  permute,
  slice,
  concat,
  indexSelect,
  // speed and precision
  autotune,
  configureAutotune,
  autotuneEnabled,
  type AutotuneConfig,
  type TuneResult,
  autotuneMatmul,
  matmulChoice,
  type AutotuneMatmulOptions,
  type MatmulChoice,
  type MatmulProblem,
  type MatmulTuneResult,
  type MatmulVariant,
  type TileConfig,
  autotuneDropout,
  dropoutChoice,
  type DropoutLaunch,
  setFloat32MatmulPrecision,
  getFloat32MatmulPrecision,
  type Float32MatmulPrecision,
  tensorCoreMatmul,
  canUseTensorCoreMatmul,
  subgroupMatrixSupport,
  type SubgroupMatrixSupport,
  type TensorCoreMatmulOptions,
} from '../nn/functional/index.js';

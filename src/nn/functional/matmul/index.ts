/**
 * Matrix multiplication, by concern:
 *
 *   configs.ts     tile configs of matmul.wgsl, which a device can run, the fixed heuristic
 *   precision.ts   setFloat32MatmulPrecision ('highest' / 'medium')
 *   tuning.ts      the variant a product runs with, and matmul's entry to the autotuner
 *   launch.ts      recording matmul.wgsl's dispatches (product, activation gradient, column sum)
 *   ops.ts         the public ops matmul and linear, with their backward rules
 *   tensorcore.ts  the tensor-core kernel (matmul_subgroup_matrix.wgsl) and tensorCoreMatmul
 *
 * Both shaders and the tile loads they share (tile_load.wgsl) live beside them. This file is the
 * folder's public surface, re-exported by the functional index.
 */
export {
  MATMUL_CANDIDATES, MATMUL_LIMITS, matmulCandidates, matmulVariant, tileConfigId, tileConfigProblem, tileConfigSharedBytes,
  type MatmulVariant, type TileConfig,
} from './configs.js';
export { getFloat32MatmulPrecision, setFloat32MatmulPrecision, type Float32MatmulPrecision } from './precision.js';
export {
  autotuneMatmul, clearSeenMatmulClassesForTests, matmulChoice, matmulProblemClass, seenMatmulClasses, setMatmulConfigForTests,
  type AutotuneMatmulOptions, type MatmulChoice, type MatmulProblem, type MatmulTuneResult,
} from './tuning.js';
export { setMatmulDispatchLimitForTests } from './launch.js';
export { linear, matmul, type Activation, type LinearOptions, type MatmulOptions } from './ops.js';
export { tensorCoreMatmul, canUseTensorCoreMatmul, subgroupMatrixSupport, type SubgroupMatrixSupport, type TensorCoreMatmulOptions } from './tensorcore.js';

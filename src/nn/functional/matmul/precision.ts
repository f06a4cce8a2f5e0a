/**
 * Matmul precision, PyTorch's torch.set_float32_matmul_precision: every matmul and linear, forward
 * and backward, reads it when it records its kernel.
 */

/**
 * torch.set_float32_matmul_precision's names. 'highest': f32 products and sums. 'medium': each
 * operand element rounded to f16 (nearest, ties to even; beyond +-65504 to inf as an IEEE
 * conversion would), products and sums in f32: the numerics of f16 tensor cores, computed by the f32
 * kernel on any adapter. (A tensor-core kernel can take over 'medium' on adapters that have one.)
 */
export type Float32MatmulPrecision = 'highest' | 'medium';

let matmulPrecision: Float32MatmulPrecision = 'highest';

/**
 * Sets the precision of every f32 matmul and linear, forward and backward, from the next kernel
 * recorded on (a backward pass uses the setting in force when it runs). Parameters, gradients and
 * optimizer state stay f32: 'medium' is mixed precision with f16 matmul inputs and f32 master
 * weights and accumulation.
 */
export function setFloat32MatmulPrecision(precision: Float32MatmulPrecision): void {
  if (precision !== 'highest' && precision !== 'medium') {
    throw new Error(`setFloat32MatmulPrecision: unknown precision '${String(precision)}' (expected 'highest' or 'medium')`);
  }
  matmulPrecision = precision;
}

export function getFloat32MatmulPrecision(): Float32MatmulPrecision {
  return matmulPrecision;
}

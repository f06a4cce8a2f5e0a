/** Matrix multiplication (shaders/matmul.wgsl): batched, transposed operands, fused bias + activation. */
import { Tensor } from '../../runtime/tensor.js';

export type Activation = 'none' | 'relu' | 'gelu' | 'gelu_tanh';
export interface LinearOptions { activation?: Activation }

export function matmul(a: Tensor, b: Tensor): Tensor { throw new Error('matmul: not implemented yet'); }
/** x @ weightᵀ + bias, weight [out, in] as in PyTorch, with an optional fused activation. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, options: LinearOptions = {}): Tensor { throw new Error('linear: not implemented yet'); }

/** cross_entropy on logits with integer labels and label smoothing (shaders/cross_entropy.wgsl). */
import { Tensor } from '../../runtime/tensor.js';

export interface CrossEntropyOptions {
  labelSmoothing?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

export function crossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}): Tensor { throw new Error('crossEntropy: not implemented yet'); }

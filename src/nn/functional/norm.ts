/** layer_norm over the last dimension (shaders/layer_norm.wgsl). */
import { Tensor } from '../../runtime/tensor.js';

export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor { throw new Error('layerNorm: not implemented yet'); }

/** softmax / log_softmax along an axis (shaders/softmax.wgsl), numerically stable. */
import { Tensor } from '../../runtime/tensor.js';

export function softmax(x: Tensor, axis = -1): Tensor { throw new Error('softmax: not implemented yet'); }
export function logSoftmax(x: Tensor, axis = -1): Tensor { throw new Error('logSoftmax: not implemented yet'); }

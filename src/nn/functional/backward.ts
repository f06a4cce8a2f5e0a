/**
 * `backward(t)`: the gradients of `t` (a scalar loss, or any tensor given `{ grad }`) into every
 * leaf's `.grad`, PyTorch's `torch.autograd.backward`; the method `t.backward()` calls it. The
 * runtime's autograd walks the graph; this gives it the two ops it needs (a seed of ones, the sum
 * of two gradients), which the runtime cannot import: the ops import it.
 */
import { runBackward, type BackwardOps, type BackwardOptions } from '../../runtime/autograd.js';
import { Tensor } from '../../runtime/tensor.js';
import { full } from './creation.js';
import { add } from './elementwise.js';

const OPS: BackwardOps = { ones: (shape) => full(shape, 1), add: (a, b) => add(a, b) };

export function backward(t: Tensor, options: BackwardOptions | Tensor = {}): void {
  runBackward(t, options instanceof Tensor ? { grad: options } : options, OPS);
}

/**
 * Tensor's op methods, the PyTorch-style spelling of the functional ops (`x.matmul(w).relu()`,
 * `loss.backward()`), installed onto Tensor.prototype from here: TensorFlow.js's chained-ops
 * pattern. runtime/tensor.ts cannot import the ops (they import it; that made a 15-file import
 * circle), so the op layer adds the methods, and the `declare module` block below merges their
 * types into the class.
 *
 * Imported for its effect by src/nn/functional/index.ts, so every entry point that reaches the ops
 * through it (src/index.ts, src/nn/index.ts, src/lab/index.ts and what imports them) has the
 * methods. Library modules that import single op files call the functions (`backward(loss)`), not
 * the methods.
 */
import type { BackwardOptions } from '../../runtime/autograd.js';
import { Tensor } from '../../runtime/tensor.js';
import { backward } from './backward.js';
import { add, div, exp, gelu, log, maskedFill, mul, neg, pow, relu, sigmoid, sqrt, sub, tanh, type GeluOptions } from './elementwise.js';
import { matmul, type MatmulOptions } from './matmul/index.js';
import { dropout, type DropoutOptions } from './dropout.js';
import { argmax, max, mean, sum } from './reduce.js';
import { logSoftmax, softmax } from './softmax.js';
import { permute, reshape, slice, transpose } from './shape.js';

declare module '../../runtime/tensor.js' {
  interface Tensor {
    add(b: Tensor | number): Tensor;
    sub(b: Tensor | number): Tensor;
    mul(b: Tensor | number): Tensor;
    div(b: Tensor | number): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    pow(exponent: number): Tensor;
    relu(): Tensor;
    gelu(options?: GeluOptions): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    maskedFill(mask: Tensor, value: number): Tensor;
    matmul(b: Tensor, options?: MatmulOptions): Tensor;
    dropout(p: number, options?: DropoutOptions): Tensor;
    sum(axes?: number | number[], keepdim?: boolean): Tensor;
    mean(axes?: number | number[], keepdim?: boolean): Tensor;
    max(axes?: number | number[], keepdim?: boolean): Tensor;
    argmax(axis: number, keepdim?: boolean): Tensor;
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
    reshape(shape: number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    permute(dims: number[]): Tensor;
    slice(axis: number, start: number, end?: number): Tensor;
    /** Gradients of this tensor (a scalar loss, or any tensor given `{ grad }`) into every leaf's `.grad`. */
    backward(options?: BackwardOptions | Tensor): void;
  }
}

const methods: { [K in keyof Tensor]?: (this: Tensor, ...args: never[]) => unknown } = {
  add(this: Tensor, b: Tensor | number) { return add(this, b); },
  sub(this: Tensor, b: Tensor | number) { return sub(this, b); },
  mul(this: Tensor, b: Tensor | number) { return mul(this, b); },
  div(this: Tensor, b: Tensor | number) { return div(this, b); },
  neg(this: Tensor) { return neg(this); },
  exp(this: Tensor) { return exp(this); },
  log(this: Tensor) { return log(this); },
  sqrt(this: Tensor) { return sqrt(this); },
  pow(this: Tensor, exponent: number) { return pow(this, exponent); },
  relu(this: Tensor) { return relu(this); },
  gelu(this: Tensor, options?: GeluOptions) { return gelu(this, options); },
  tanh(this: Tensor) { return tanh(this); },
  sigmoid(this: Tensor) { return sigmoid(this); },
  maskedFill(this: Tensor, mask: Tensor, value: number) { return maskedFill(this, mask, value); },
  matmul(this: Tensor, b: Tensor, options?: MatmulOptions) { return matmul(this, b, options); },
  dropout(this: Tensor, p: number, options?: DropoutOptions) { return dropout(this, p, options); },
  sum(this: Tensor, axes?: number | number[], keepdim = false) { return sum(this, axes, keepdim); },
  mean(this: Tensor, axes?: number | number[], keepdim = false) { return mean(this, axes, keepdim); },
  max(this: Tensor, axes?: number | number[], keepdim = false) { return max(this, axes, keepdim); },
  argmax(this: Tensor, axis: number, keepdim = false) { return argmax(this, axis, keepdim); },
  softmax(this: Tensor, axis = -1) { return softmax(this, axis); },
  logSoftmax(this: Tensor, axis = -1) { return logSoftmax(this, axis); },
  reshape(this: Tensor, shape: number[]) { return reshape(this, shape); },
  transpose(this: Tensor, dim0 = -2, dim1 = -1) { return transpose(this, dim0, dim1); },
  permute(this: Tensor, dims: number[]) { return permute(this, dims); },
  slice(this: Tensor, axis: number, start: number, end?: number) { return slice(this, axis, start, end); },
  backward(this: Tensor, options?: BackwardOptions | Tensor) { backward(this, options); },
};

// Non-enumerable, as class methods are.
for (const [name, value] of Object.entries(methods)) {
  Object.defineProperty(Tensor.prototype, name, { value, writable: true, configurable: true, enumerable: false });
}

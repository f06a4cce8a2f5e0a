/** Reductions (shaders/reduce.wgsl): sum, mean, max, argmax over any axis set; sumSquares, dot. */
import { Tensor, type Shape } from '../../runtime/tensor.js';

const todo = (name: string) => new Error(`${name}: not implemented yet`);

export function sum(x: Tensor, axes?: number | number[], keepdim = false): Tensor { throw todo('sum'); }
export function mean(x: Tensor, axes?: number | number[], keepdim = false): Tensor { throw todo('mean'); }
export function max(x: Tensor, axes?: number | number[], keepdim = false): Tensor { throw todo('max'); }
export function argmax(x: Tensor, axis: number, keepdim = false): Tensor { throw todo('argmax'); }
/** Sums `g` over the dimensions that broadcasting expanded, giving a tensor of `shape`. Returns a new handle even when no reduction is needed. */
export function sumToShape(g: Tensor, shape: Shape): Tensor { throw todo('sumToShape'); }
/** Σ x² over all elements, as a one-element tensor. */
export function sumSquares(x: Tensor): Tensor { throw todo('sumSquares'); }
/** Σ a·b over all elements of two same-size tensors, as a one-element tensor. */
export function dot(a: Tensor, b: Tensor): Tensor { throw todo('dot'); }

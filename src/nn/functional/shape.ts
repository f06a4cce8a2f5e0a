/** Shape ops: reshape (a view), transpose/permute, slice, concat, indexSelect (shaders/copy.wgsl, gather.wgsl). */
import { record } from '../../runtime/autograd.js';
import { shapeSize, Tensor } from '../../runtime/tensor.js';

/** A view with a new shape (one dimension may be -1); shares storage, no copy. */
export function reshape(x: Tensor, shape: number[]): Tensor {
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) throw new Error(`reshape: only one dimension can be -1, got [${shape}]`);
  let resolved = shape;
  if (unknown === 1) {
    const known = shapeSize(shape.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) throw new Error(`reshape: cannot reshape [${x.shape}] (${x.size} elements) into [${shape}]`);
    resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  const out = x.view(resolved);
  return record('reshape', [x], out, (g) => [g.view(x.shape)]);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor { throw new Error('transpose: not implemented yet'); }
export function permute(x: Tensor, dims: number[]): Tensor { throw new Error('permute: not implemented yet'); }
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor { throw new Error('slice: not implemented yet'); }
export function concat(tensors: Tensor[], axis = 0): Tensor { throw new Error('concat: not implemented yet'); }
/** Rows of `x` along `axis` picked by an i32/u32 index tensor (batching from a dataset on the GPU). */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor { throw new Error('indexSelect: not implemented yet'); }

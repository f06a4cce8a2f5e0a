/**
 * Shape ops. reshape, flatten, squeeze and unsqueeze are views (shared storage, no GPU work);
 * transpose, permute, slice, concat and expand are copies through one strided-copy kernel
 * (shaders/shape_copy.wgsl); indexSelect has its own gather kernel (shaders/shape_gather.wgsl).
 *
 * Tensors are always contiguous, so every non-view op writes a fresh contiguous output. All of them
 * move raw 32-bit words and so work for f32, i32 and u32 alike (labels can be sliced and gathered).
 */
import copySrc from '../../../shaders/shape_copy.wgsl';
import gatherSrc from '../../../shaders/shape_gather.wgsl';
import { engine } from '../../runtime/engine.js';
import { defineKernel } from '../../runtime/kernel.js';
import { record } from '../../runtime/autograd.js';
import { BYTES_PER_ELEMENT, shapeSize, Tensor, type Shape } from '../../runtime/tensor.js';
import { assertDtype, assertLive, contiguousStrides, normAxis } from './util.js';
import { grid1d, MAX_RANK, Params } from '../../runtime/params.js';
import { zeros } from './creation.js';
import { sumToShape } from './reduce.js';

const COPY = defineKernel('copy', copySrc);
const GATHER = defineKernel('gather', gatherSrc);

// ---- the strided copy ----

/** One strided copy: `shape` is the index space; offsets and strides are in elements. */
interface CopyRegion {
  shape: Shape;
  srcStrides: readonly number[];
  dstStrides: readonly number[];
  srcOffset?: number;
  dstOffset?: number;
}

/**
 * Drops size-1 dimensions and merges neighbours that are contiguous on both sides, so that, e.g.,
 * a row slice or an axis-0 concat becomes one flat run and a transpose of [B, M, N] keeps rank 3.
 */
function coalesce(r: CopyRegion): { shape: number[]; src: number[]; dst: number[] } {
  const shape: number[] = [];
  const src: number[] = [];
  const dst: number[] = [];
  r.shape.forEach((d, k) => {
    if (d === 1) return;
    const last = shape.length - 1;
    if (last >= 0 && src[last] === r.srcStrides[k] * d && dst[last] === r.dstStrides[k] * d) {
      shape[last] *= d;
      src[last] = r.srcStrides[k];
      dst[last] = r.dstStrides[k];
    } else {
      shape.push(d);
      src.push(r.srcStrides[k]);
      dst.push(r.dstStrides[k]);
    }
  });
  return { shape, src, dst };
}

/** Copies `region` of `from` into `into` (a tensor the caller just created). */
function stridedCopy(op: string, from: Tensor, into: Tensor, region: CopyRegion): void {
  const n = shapeSize(region.shape);
  if (n === 0) return;
  const srcOffset = region.srcOffset ?? 0;
  const dstOffset = region.dstOffset ?? 0;
  const c = coalesce(region);
  const flat = c.shape.length === 0 || (c.shape.length === 1 && c.src[0] === 1 && c.dst[0] === 1);
  if (flat) {
    // One contiguous run on both sides: a plain buffer copy, no shader.
    engine().copy(from.buffer(op), srcOffset * BYTES_PER_ELEMENT, into.buffer(op), dstOffset * BYTES_PER_ELEMENT, n * BYTES_PER_ELEMENT);
    return;
  }
  if (c.shape.length > MAX_RANK) {
    throw new Error(`${op}: tensors of rank over ${MAX_RANK} are not supported (shape [${from.shape}] needs a ${c.shape.length}-dimensional copy)`);
  }
  engine().dispatch({
    kernel: COPY,
    buffers: [from.buffer(op), into.buffer(op)],
    uniforms: new Params().u32('n', n).u32('rank', c.shape.length).u32('in_offset', srcOffset).u32('out_offset', dstOffset)
      .dims('shape', c.shape).dims('in_strides', c.src, 0).dims('out_strides', c.dst, 0),
    workgroups: grid1d(n),
  });
}

/** A fresh contiguous tensor of `shape` read from `x` through `srcStrides` (and `srcOffset`). */
function gatherStrided(op: string, x: Tensor, shape: Shape, srcStrides: readonly number[], srcOffset = 0): Tensor {
  const out = Tensor.empty(shape, x.dtype);
  try {
    stridedCopy(op, x, out, { shape, srcStrides, dstStrides: contiguousStrides(shape), srcOffset });
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}

function assertTensor(op: string, x: unknown, what = 'the input'): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${op}: ${what} must be a Tensor, got ${x === null ? 'null' : typeof x}`);
}

/** Ops that take an axis have nothing to work on in a 0-d tensor (normAxis lets axis 0 through). */
function assertHasAxes(op: string, x: Tensor): void {
  if (x.rank === 0) throw new Error(`${op}: needs a tensor with at least one dimension, got a scalar (shape [])`);
}

// ---- views ----

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

/** Merges dimensions startDim..endDim (inclusive, negative allowed) into one; a view. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis('flatten', startDim, x.rank);
  const e = normAxis('flatten', endDim, x.rank);
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim} for a tensor of rank ${x.rank}`);
  return reshape(x, [...x.shape.slice(0, s), shapeSize(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** Inserts a dimension of size 1 at `axis` (in -(rank+1)..rank); a view. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis('unsqueeze', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Removes the size-1 dimension `axis`, or every size-1 dimension when no axis is given; a view. */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis('squeeze', axis, x.rank);
  if (x.shape[a] !== 1) throw new Error(`squeeze: dimension ${axis} of shape [${x.shape}] has size ${x.shape[a]}, not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

// ---- copies ----

/**
 * Reorders the dimensions: output dimension i is input dimension dims[i] (negative entries count
 * from the end). Backward: the inverse permutation of the gradient.
 */
export function permute(x: Tensor, dims: number[]): Tensor {
  assertTensor('permute', x);
  assertLive('permute', x);
  const rank = x.rank;
  const bad = () => new Error(`permute: dims [${dims}] are not a permutation of 0..${rank - 1} (tensor of rank ${rank}, shape [${x.shape}])`);
  if (!Array.isArray(dims) || dims.length !== rank) throw bad();
  const perm = dims.map((d) => (Number.isInteger(d) && d < 0 ? d + rank : d));
  if (perm.some((d) => !Number.isInteger(d) || d < 0 || d >= rank) || new Set(perm).size !== rank) throw bad();
  const strides = contiguousStrides(x.shape);
  const out = gatherStrided('permute', x, perm.map((d) => x.shape[d]), perm.map((d) => strides[d]));
  const inverse = new Array<number>(rank);
  perm.forEach((d, i) => (inverse[d] = i));
  return record('permute', [x], out, (g) => [permute(g, inverse)]);
}

/** Swaps two dimensions (default: the last two, as for a matrix transpose). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  assertTensor('transpose', x);
  assertHasAxes('transpose', x);
  const a = normAxis('transpose', dim0, x.rank);
  const b = normAxis('transpose', dim1, x.rank);
  const perm = [...x.shape.keys()];
  [perm[a], perm[b]] = [perm[b], perm[a]];
  return permute(x, perm);
}

/**
 * Elements start..end-1 along `axis` (end defaults to the dimension's size). Negative start or end
 * count from the end, as in Python. Unlike Python, nothing is clamped: after that adjustment
 * 0 <= start <= end <= size must hold, else an Error names the axis, start, end and the size
 * (a silently shortened slice hides off-by-one bugs). start == end gives an empty tensor.
 * Backward: the gradient written into its slab of a zero tensor of the input's shape.
 */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  assertTensor('slice', x);
  assertLive('slice', x);
  assertHasAxes('slice', x);
  const a = normAxis('slice', axis, x.rank);
  const size = x.shape[a];
  if (!Number.isInteger(start) || (end !== undefined && !Number.isInteger(end))) {
    throw new Error(`slice: start and end must be integers, got start ${start}, end ${end}`);
  }
  const s = start < 0 ? start + size : start;
  const e = end === undefined ? size : end < 0 ? end + size : end;
  if (s < 0 || e > size || s > e) {
    throw new Error(`slice: [${start}, ${end ?? size}) is out of range for axis ${axis} of size ${size} (shape [${x.shape}]); need 0 <= start <= end <= ${size} after counting negatives from the end`);
  }
  const shape = [...x.shape];
  shape[a] = e - s;
  const strides = contiguousStrides(x.shape);
  const out = gatherStrided('slice', x, shape, strides, s * strides[a]);
  const xShape = x.shape;
  return record('slice', [x], out, (g) => {
    const dx = zeros(xShape);
    stridedCopy('slice backward', g, dx, { shape: g.shape, srcStrides: contiguousStrides(g.shape), dstStrides: strides, dstOffset: s * strides[a] });
    return [dx];
  });
}

/**
 * Joins tensors along `axis` (negative allowed). All must have the same rank and dtype, and the
 * same size in every other dimension. Backward: each input's grad is its slice of the output grad.
 */
export function concat(tensors: Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new Error('concat: needs a non-empty array of tensors');
  tensors.forEach((t, i) => assertTensor('concat', t, `element ${i}`));
  assertLive('concat', ...tensors);
  const first = tensors[0];
  assertHasAxes('concat', first);
  const a = normAxis('concat', axis, first.rank);
  const shapes = () => tensors.map((t) => `[${t.shape}]`).join(', ');
  for (const t of tensors) {
    if (t.dtype !== first.dtype) {
      throw new Error(`concat: all tensors must have the same dtype, got ${tensors.map((u) => u.dtype).join(', ')} (shapes ${shapes()})`);
    }
    if (t.rank !== first.rank || t.shape.some((d, k) => k !== a && d !== first.shape[k])) {
      throw new Error(`concat: shapes ${shapes()} do not match outside axis ${axis}: [${t.shape}] differs from [${first.shape}]`);
    }
  }
  const shape = [...first.shape];
  shape[a] = tensors.reduce((acc, t) => acc + t.shape[a], 0);
  const out = Tensor.empty(shape, first.dtype);
  const outStrides = contiguousStrides(shape);
  const starts: number[] = [];
  let at = 0;
  for (const t of tensors) {
    starts.push(at);
    stridedCopy('concat', t, out, { shape: t.shape, srcStrides: contiguousStrides(t.shape), dstStrides: outStrides, dstOffset: at * outStrides[a] });
    at += t.shape[a];
  }
  const wanted = tensors.map((t) => t.requiresGrad);
  const inShapes = tensors.map((t) => t.shape);
  return record('concat', tensors, out, (g) =>
    inShapes.map((s, i) => (wanted[i] ? gatherStrided('concat backward', g, s, outStrides, starts[i] * outStrides[a]) : null)),
  );
}

/**
 * Broadcasts x to `shape` (NumPy rules: x's dimensions align with the trailing ones of `shape`;
 * a size-1 dimension may grow; -1 keeps x's size). Unlike PyTorch's expand this copies: tensors
 * here are contiguous. Backward: the gradient summed over the broadcast dimensions.
 */
export function expand(x: Tensor, shape: number[]): Tensor {
  assertTensor('expand', x);
  assertLive('expand', x);
  if (!Array.isArray(shape)) throw new Error(`expand: the target shape must be an array, got ${JSON.stringify(shape)}`);
  const lead = shape.length - x.rank;
  if (lead < 0) throw new Error(`expand: cannot expand shape [${x.shape}] to [${shape}], which has fewer dimensions`);
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  const xStrides = contiguousStrides(x.shape);
  const srcStrides = target.map((d, i) => {
    const own = i < lead ? 1 : x.shape[i - lead];
    if (!Number.isInteger(d) || d < 0 || (own !== d && own !== 1)) {
      throw new Error(`expand: cannot expand shape [${x.shape}] to [${shape}] (dimension ${i}: ${own} -> ${shape[i]})`);
    }
    return i < lead || own !== d ? 0 : xStrides[i - lead];
  });
  const out = gatherStrided('expand', x, target, srcStrides);
  const xShape = x.shape;
  return record('expand', [x], out, (g) => [sumToShape(g, xShape)]);
}

// ---- gather ----

function runGather(x: Tensor, a: number, index: Tensor): Tensor {
  const shape = [...x.shape];
  shape[a] = index.size;
  const out = Tensor.empty(shape, x.dtype);
  const inner = shapeSize(x.shape.slice(a + 1));
  engine().dispatch({
    kernel: GATHER,
    defines: { BACKWARD: false },
    buffers: [x.buffer('indexSelect'), index.buffer('indexSelect'), out.buffer('indexSelect')],
    uniforms: new Params().u32('n', out.size).u32('len', index.size).u32('dim', x.shape[a]).u32('inner', inner),
    workgroups: grid1d(out.size),
  });
  return out;
}

function runScatterAdd(g: Tensor, xShape: Shape, a: number, index: Tensor): Tensor {
  const dx = Tensor.empty(xShape, 'f32');
  engine().dispatch({
    kernel: GATHER,
    defines: { BACKWARD: true },
    buffers: [g.buffer('indexSelect backward'), index.buffer('indexSelect backward'), dx.buffer('indexSelect backward')],
    uniforms: new Params().u32('n', dx.size).u32('len', index.size).u32('dim', xShape[a]).u32('inner', shapeSize(xShape.slice(a + 1))),
    workgroups: grid1d(dx.size),
  });
  return dx;
}

/**
 * Entries of `x` along `axis` picked by `index`, a 1-D i32 or u32 tensor: the output has x's shape
 * with dimension `axis` replaced by index.size, and out[..., j, ...] = x[..., index[j], ...].
 * Made for drawing a training batch from a dataset that lives on the GPU (x [60000, 784], index
 * [128], axis 0): one thread per output element, no readback.
 *
 * Indices are not checked (that would need a readback): an index outside 0..size-1, negative ones
 * included, selects zeros (0.0 or 0), and no memory outside x is ever read.
 *
 * Backward w.r.t. x (index gets none): a deterministic scatter-add without atomics; each element of
 * dx sums the grad entries whose index points at it, looping over the whole index, so it costs
 * O(x.size * index.size). Fine for the rare case of a differentiable x (an embedding table of
 * modest size); it is not meant for the dataset-batching case, where x needs no grad.
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  assertTensor('indexSelect', x);
  assertTensor('indexSelect', index, 'the index');
  assertLive('indexSelect', x, index);
  assertHasAxes('indexSelect', x);
  const a = normAxis('indexSelect', axis, x.rank);
  if (index.rank !== 1) throw new Error(`indexSelect: the index must be 1-D, got shape [${index.shape}]`);
  assertDtype('indexSelect (index)', index, 'i32', 'u32');
  const out = runGather(x, a, index);
  const xShape = x.shape;
  return record('indexSelect', [x], out, (g, [idx]) => [runScatterAdd(g, xShape, a, idx)], [index]);
}

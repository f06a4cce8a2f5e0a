/**
 * Reductions (shaders/reduce.wgsl): sum, mean, max, argmax over any axis set; sumSquares, dot;
 * sumToShape, which undoes broadcasting in backward rules.
 *
 * Every reduction is planned the same way: the input is split into kept and reduced dimensions
 * (size-1 dims dropped, contiguous neighbours merged), then one of two kernels runs:
 *  - reduce_wg, one 64-thread workgroup per output (or per chunk of one), when the reduced elements are contiguous and
 *    many (rows of a matrix, a whole vector);
 *  - reduce_thread, one thread per output, when the reduced range is short or the kept dims are the
 *    contiguous ones (sum over the batch dim: neighbouring threads read neighbouring addresses).
 * When there are few outputs and a long reduced range, the range is cut into chunks; pass 1 writes
 * one partial per (output, chunk) and pass 2 reduces those, again with the same planner. The plan
 * depends only on the shapes, and no atomics are used, so results are identical from run to run.
 *
 * Gradients: sum broadcasts g back (`expand`), mean too, scaled by 1/count. max sends g to the
 * elements equal to the maximum, split evenly among ties (PyTorch's amax rule), so the gradient of
 * max([1, 3, 3]) is [0, 0.5, 0.5]. argmax returns i32 indices and has no gradient.
 */
import reduceSrc from '../../../shaders/reduce.wgsl';
import { engine } from '../../runtime/engine.js';
import { defineKernel, type Defines } from '../../runtime/kernel.js';
import { record } from '../../runtime/autograd.js';
import { checkShape, shapeSize, Tensor, type Shape } from '../../runtime/tensor.js';
import { assertDtype, assertFloat, assertLive, contiguousStrides, normAxes } from './util.js';
import { grid1d, Params } from '../../runtime/params.js';
import { full } from './creation.js';
import { mul } from './elementwise.js';

const REDUCE = defineKernel('reduce', reduceSrc);

/** Threads per workgroup of the element-parallel kernels (reduce_thread, expand). */
const ELEMENT_WG = 256;
/**
 * Threads per reduce_wg workgroup. Small on purpose: the tree needs log2(WG) barriers, and enough
 * jobs come from chunking long ranges. (On SwiftShader, where tests run, 256 threads per workgroup
 * cost about 10x more than 64 for the same reduction.)
 */
const TREE_WG = 64;
/** reduce_wg is used from this many contiguous reduced elements per output. */
const WG_MIN_REDUCED = 64;
/** Chunked reduce_wg: elements per workgroup aimed at, and total workgroups aimed at. */
const WG_CHUNK_TARGET = 2048;
const WG_JOBS_TARGET = 2048;
/** reduce_thread: a single serial pass up to this many elements per output. */
const THREAD_MAX_SERIAL = 256;
/** Chunked reduce_thread: at least this many elements per thread, and total threads aimed at. */
const THREAD_MIN_CHUNK = 128;
const THREAD_JOBS_TARGET = 16384;

// ---- planning ----

/** The input seen as kept (out*) and reduced (red*) dimensions, with the input's strides. */
interface Dims {
  outShape: number[];
  outStrides: number[];
  redShape: number[];
  redStrides: number[];
}

/** Drops size-1 dims and merges each dim into the previous one of its group when they are contiguous. */
function splitDims(shape: Shape, strides: readonly number[], reduced: readonly boolean[]): Dims {
  const dims: Dims = { outShape: [], outStrides: [], redShape: [], redStrides: [] };
  let lastGroup: 'out' | 'red' | null = null;
  shape.forEach((d, k) => {
    if (d === 1) return;
    const group = reduced[k] ? 'red' : 'out';
    const sh = group === 'red' ? dims.redShape : dims.outShape;
    const st = group === 'red' ? dims.redStrides : dims.outStrides;
    const last = sh.length - 1;
    if (lastGroup === group && st[last] === d * strides[k]) {
      sh[last] *= d;
      st[last] = strides[k];
    } else {
      sh.push(d);
      st.push(strides[k]);
    }
    lastGroup = group;
  });
  return dims;
}

type Load = 'plain' | 'square' | 'product' | 'count_eq' | 'idx_in';

interface Job {
  op: string;
  kind: 'sum' | 'max';
  load: Load;
  /** Also write the reduced index of each result (argmax). */
  writeIdx: boolean;
  x: Tensor;
  aux: Tensor | null;
  dims: Dims;
  /** Multiplies the final sums (mean: 1 / count). */
  scale: number;
}

const NO_DEFINES = {
  WG: ELEMENT_WG, EXPAND: false, MAX_GRAD: false, OP_MAX: false, HAS_AUX: false, AUX_T: 'f32', OUT_BINDING: 2, IDX_BINDING: 3,
  WRITE_IDX: false, LOAD_SQUARE: false, LOAD_PRODUCT: false, LOAD_COUNT_EQ: false, LOAD_IDX_IN: false,
} satisfies Defines;

function reduceDefines(job: Job): Defines {
  const hasAux = job.aux !== null;
  return {
    ...NO_DEFINES,
    OP_MAX: job.kind === 'max',
    HAS_AUX: hasAux,
    AUX_T: job.load === 'idx_in' ? 'u32' : 'f32',
    OUT_BINDING: hasAux ? 3 : 2,
    IDX_BINDING: hasAux ? 4 : 3,
    WRITE_IDX: job.writeIdx,
    LOAD_SQUARE: job.load === 'square',
    LOAD_PRODUCT: job.load === 'product',
    LOAD_COUNT_EQ: job.load === 'count_eq',
    LOAD_IDX_IN: job.load === 'idx_in',
  };
}

function packParams(outCount: number, redCount: number, dims: Dims, chunkLen: number, chunks: number, scale: number): Params {
  return new Params()
    .u32('out_count', outCount).u32('red_count', redCount).u32('out_rank', dims.outShape.length).u32('red_rank', dims.redShape.length)
    .u32('chunk_len', chunkLen).u32('chunks', chunks).f32('scale', scale).pad()
    .dims('out_shape', dims.outShape).dims('out_strides', dims.outStrides, 0).dims('red_shape', dims.redShape).dims('red_strides', dims.redStrides, 0);
}

/** Workgroup grid for `jobs` workgroups (reduce_wg), spilling into y past 65535. */
function jobGrid(jobs: number): [number, number, number] {
  return grid1d(jobs, 1);
}

/**
 * Runs a reduction into a fresh tensor of `outShape` (whose size is the number of kept elements):
 * one pass, or chunk partials reduced again by the same planner. The reduced range must not be empty.
 */
function runReduce(job: Job, outShape: Shape): { values: Tensor; indices: Tensor | null } {
  const { dims } = job;
  const outCount = shapeSize(dims.outShape);
  const redCount = shapeSize(dims.redShape);
  const innerReduced = dims.redShape.length > 0 && dims.redStrides[dims.redStrides.length - 1] === 1;
  const useWg = innerReduced && redCount >= WG_MIN_REDUCED;
  let chunkLen: number;
  if (useWg) {
    const want = Math.min(Math.ceil(redCount / WG_CHUNK_TARGET), Math.ceil(WG_JOBS_TARGET / outCount));
    chunkLen = Math.ceil(Math.ceil(redCount / Math.max(want, 1)) / TREE_WG) * TREE_WG;
  } else {
    const want = redCount <= THREAD_MAX_SERIAL ? 1 : Math.min(Math.ceil(redCount / THREAD_MIN_CHUNK), Math.ceil(THREAD_JOBS_TARGET / outCount));
    chunkLen = Math.ceil(redCount / Math.max(want, 1));
  }
  const chunks = Math.ceil(redCount / chunkLen);
  const final = chunks === 1;
  // Partials: reduce_wg writes job o * chunks + c, reduce_thread writes c * outCount + o.
  const partialShape = useWg ? [outCount, chunks] : [chunks, outCount];
  const uniforms = packParams(outCount, redCount, dims, chunkLen, chunks, final ? job.scale : 1);
  const values = Tensor.empty(final ? outShape : partialShape);
  const indices = job.writeIdx ? Tensor.empty(values.shape, 'i32') : null;
  const buffers = [job.x.buffer(job.op)];
  if (job.aux) buffers.push(job.aux.buffer(job.op));
  buffers.push(values.buffer(job.op));
  if (indices) buffers.push(indices.buffer(job.op));
  const jobs = outCount * chunks;
  engine().dispatch({
    kernel: REDUCE,
    entry: useWg ? 'reduce_wg' : 'reduce_thread',
    defines: { ...reduceDefines(job), WG: useWg ? TREE_WG : ELEMENT_WG },
    buffers,
    uniforms,
    workgroups: useWg ? jobGrid(jobs) : grid1d(jobs, ELEMENT_WG),
  });
  if (final) return { values, indices };
  try {
    const next = splitDims(partialShape, contiguousStrides(partialShape), useWg ? [false, true] : [true, false]);
    return runReduce({
      ...job,
      // Squares, products and tie counts are plain sums from here on; argmax carries its indices.
      load: indices ? 'idx_in' : 'plain',
      x: values,
      aux: indices,
      dims: next,
    }, outShape);
  } finally {
    values.dispose();
    indices?.dispose();
  }
}

/** What reducing `shape` over `axes` looks like: which dims go, how many elements each output sums. */
interface Plan {
  reduced: boolean[];
  count: number;
  /** The result's shape (with or without the kept size-1 dims). */
  outShape: number[];
  dims: Dims;
}

function plan(op: string, x: Tensor, axes: number | number[] | undefined, keepdim: boolean): Plan {
  if (!(axes === undefined || typeof axes === 'number' || Array.isArray(axes))) {
    throw new Error(`${op}: axes must be a number, an array of numbers or undefined, got ${typeof axes}`);
  }
  let list: number[];
  if (x.rank === 0) {
    // A 0-d tensor has no dims to reduce; like PyTorch, axis 0 and -1 are accepted for it.
    for (const a of Array.isArray(axes) ? axes : axes === undefined ? [] : [axes]) {
      if (a !== 0 && a !== -1) throw new Error(`${op}: axis ${a} is out of range for a tensor of rank 0`);
    }
    list = [];
  } else {
    list = normAxes(op, axes, x.rank);
  }
  const reduced = x.shape.map((_, k) => list.includes(k));
  const count = shapeSize(x.shape.filter((_, k) => reduced[k]));
  const outShape = keepdim ? x.shape.map((d, k) => (reduced[k] ? 1 : d)) : x.shape.filter((_, k) => !reduced[k]);
  return { reduced, count, outShape, dims: splitDims(x.shape, contiguousStrides(x.shape), reduced) };
}

/** The reduction `kind` of x per `p` into a tensor of p.outShape (handles empty inputs and outputs). */
function reduceTo(op: string, p: Plan, x: Tensor, kind: 'sum' | 'max', load: Load, aux: Tensor | null, scale: number, writeIdx = false) {
  if (shapeSize(p.outShape) === 0) {
    return { values: Tensor.empty(p.outShape), indices: writeIdx ? Tensor.empty(p.outShape, 'i32') : null };
  }
  if (p.count === 0) {
    if (kind === 'max') throw new Error(`${op}: cannot reduce over zero elements (shape [${x.shape}])`);
    // An empty sum is 0; an empty mean is 0 * (1 / 0) = NaN, as in PyTorch.
    return { values: full(p.outShape, scale === Infinity ? NaN : 0), indices: null };
  }
  return runReduce({ op, kind, load, writeIdx, x, aux, dims: p.dims, scale }, p.outShape);
}

// ---- expand: the broadcast back to the input's shape ----

/**
 * out (of `shape`) = g broadcast along the `reduced` dims, times `scale`. `g` holds the kept dims in
 * order (any keepdim form). With `maxGrad`, out = g / ties where x equals the max, else 0.
 */
function expand(g: Tensor, shape: Shape, reduced: readonly boolean[], scale: number, maxGrad?: { x: Tensor; m: Tensor; ties: Tensor }): Tensor {
  const gStrides = contiguousStrides(shape.map((d, k) => (reduced[k] ? 1 : d))).map((s, k) => (reduced[k] ? 0 : s));
  // Merge neighbouring dims that index g alike (both broadcast, or both contiguous).
  const mShape: number[] = [];
  const mStrides: number[] = [];
  shape.forEach((d, k) => {
    if (d === 1) return;
    const last = mShape.length - 1;
    if (last >= 0 && mStrides[last] === d * gStrides[k]) {
      mShape[last] *= d;
      mStrides[last] = gStrides[k];
    } else {
      mShape.push(d);
      mStrides.push(gStrides[k]);
    }
  });
  const uniforms = packParams(shapeSize(shape), 1, { outShape: mShape, outStrides: mStrides, redShape: [], redStrides: [] }, 1, 1, scale);
  const out = Tensor.empty(shape);
  const buffers = [g.buffer('expand'), out.buffer('expand')];
  if (maxGrad) buffers.push(maxGrad.x.buffer('max'), maxGrad.m.buffer('max'), maxGrad.ties.buffer('max'));
  engine().dispatch({
    kernel: REDUCE,
    entry: 'expand',
    defines: { ...NO_DEFINES, EXPAND: true, MAX_GRAD: !!maxGrad },
    buffers,
    uniforms,
    workgroups: grid1d(out.size, ELEMENT_WG),
  });
  return out;
}

// ---- the ops ----

function sumOrMean(op: 'sum' | 'mean', x: Tensor, axes: number | number[] | undefined, keepdim: boolean): Tensor {
  assertLive(op, x);
  assertFloat(op, x);
  const p = plan(op, x, axes, keepdim);
  const scale = op === 'mean' ? 1 / p.count : 1;
  const { values } = reduceTo(op, p, x, 'sum', 'plain', null, scale);
  return record(op, [x], values, (g) => [expand(g, x.shape, p.reduced, scale)]);
}

/**
 * Sum over `axes` (all when omitted; negative axes count from the end). An empty list reduces
 * nothing (NumPy's rule; PyTorch's legacy `dim=[]` sums everything).
 */
export function sum(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  return sumOrMean('sum', x, axes, keepdim);
}

/** Mean over `axes` (all when omitted). The mean of zero elements is NaN. */
export function mean(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  return sumOrMean('mean', x, axes, keepdim);
}

/**
 * Maximum over `axes` (all when omitted), like PyTorch's amax: NaN propagates, and the gradient is
 * split evenly among the elements that equal the maximum.
 */
export function max(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  assertLive('max', x);
  assertFloat('max', x);
  const p = plan('max', x, axes, keepdim);
  const { values } = reduceTo('max', p, x, 'max', 'plain', null, 1);
  return record('max', [x], values, (g, [xs, ys]) => {
    const { values: ties } = reduceTo('max', p, xs, 'sum', 'count_eq', ys, 1);
    try {
      return [expand(g, xs.shape, p.reduced, 1, { x: xs, m: ys, ties })];
    } finally {
      ties.dispose();
    }
  }, [x, values]);
}

/**
 * Index of the maximum along `axis` as an i32 tensor; the first one on ties, NaN counting as the
 * largest (as in PyTorch). Not differentiable.
 */
export function argmax(x: Tensor, axis: number, keepdim = false): Tensor {
  assertLive('argmax', x);
  assertFloat('argmax', x);
  if (typeof axis !== 'number') throw new Error(`argmax: axis must be a number, got ${axis === undefined ? 'undefined' : typeof axis}`);
  const p = plan('argmax', x, axis, keepdim);
  const { values, indices } = reduceTo('argmax', p, x, 'max', 'plain', null, 1, true);
  values.dispose();
  return indices!;
}

/** Sums `g` over the dimensions that broadcasting expanded, giving a tensor of `shape`. Returns a new handle even when no reduction is needed. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  assertLive('sumToShape', g);
  assertFloat('sumToShape', g);
  checkShape(shape, 'sumToShape: shape');
  const lead = g.rank - shape.length;
  if (lead < 0 || shape.some((d, i) => d !== 1 && d !== g.shape[lead + i])) {
    throw new Error(`sumToShape: a tensor of shape [${g.shape}] is not a broadcast of shape [${shape}]`);
  }
  const reduced = g.shape.map((d, k) => d !== 1 && (k < lead || shape[k - lead] === 1));
  if (!reduced.includes(true)) {
    const v = g.view(shape);
    return record('sumToShape', [g], v, (gg) => [gg.view(g.shape)]);
  }
  const p: Plan = {
    reduced,
    count: shapeSize(g.shape.filter((_, k) => reduced[k])),
    outShape: [...shape],
    dims: splitDims(g.shape, contiguousStrides(g.shape), reduced),
  };
  const { values } = reduceTo('sumToShape', p, g, 'sum', 'plain', null, 1);
  return record('sumToShape', [g], values, (gg) => [expand(gg, g.shape, reduced, 1)]);
}

/** The whole of x as one reduced dimension: outputs a 0-d tensor. */
function wholePlan(x: Tensor): Plan {
  return { reduced: [true], count: x.size, outShape: [], dims: splitDims([x.size], [1], [true]) };
}

/** Σ x² over all elements, as a one-element tensor. */
export function sumSquares(x: Tensor): Tensor {
  assertLive('sumSquares', x);
  assertFloat('sumSquares', x);
  const { values } = reduceTo('sumSquares', wholePlan(x), x, 'sum', 'square', null, 1);
  return record('sumSquares', [x], values, (g, [xs]) => [mul(mul(xs, g), 2)], [x]);
}

/** Σ a·b over all elements of two same-size tensors, as a one-element tensor. */
export function dot(a: Tensor, b: Tensor): Tensor {
  assertLive('dot', a, b);
  assertDtype('dot', a, 'f32');
  assertDtype('dot', b, 'f32');
  if (a.size !== b.size) {
    throw new Error(`dot: the tensors have different sizes: [${a.shape}] (${a.size} elements) and [${b.shape}] (${b.size} elements)`);
  }
  const { values } = reduceTo('dot', wholePlan(a), a, 'sum', 'product', b, 1);
  return record('dot', [a, b], values, (g, [as, bs]) => {
    const bv = bs.view(as.shape);
    const av = as.view(bs.shape);
    return [mul(bv, g), mul(av, g)];
  }, [a, b]);
}

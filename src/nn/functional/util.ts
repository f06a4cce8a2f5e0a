/**
 * Small helpers shared by the op modules: argument checks with clear messages and broadcasting.
 * Kernel plumbing (uniform packing, dispatch grids, MAX_RANK) is the runtime's: runtime/params.ts.
 */
import { Tensor, type DType, type Shape } from '../../runtime/tensor.js';

export function assertLive(op: string, ...ts: Tensor[]): void {
  for (const t of ts) t.buffer(op);
}

export function assertDtype(op: string, t: Tensor, ...allowed: DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new Error(`${op}: expected a ${allowed.join(' or ')} tensor, got ${t.dtype} (shape [${t.shape}])`);
  }
}

export function assertFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) assertDtype(op, t, 'f32');
}

/** Normalises a possibly negative axis; error names the op and the shape. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= Math.max(rank, 1)) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return a;
}

/** Sorted, de-duplicated, non-negative axes; undefined means all axes. */
export function normAxes(op: string, axes: number | number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(op, a, rank));
  const set = [...new Set(list)].sort((a, b) => a - b);
  if (set.length !== list.length) throw new Error(`${op}: repeated axis in ${JSON.stringify(axes)}`);
  return set;
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** NumPy broadcasting of two shapes; throws naming both shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes [${a}] and [${b}] cannot be broadcast together (dimension ${i} of the result: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` seen through the broadcast result `out`: 0 where the input is broadcast. */
export function broadcastStrides(shape: Shape, out: Shape): number[] {
  const strides = contiguousStrides(shape);
  const r = out.length - shape.length;
  return out.map((d, i) => (i < r || shape[i - r] === 1 ? 0 : strides[i - r]));
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export { Tensor };

/**
 * softmax / log_softmax along an axis (shaders/softmax.wgsl), numerically stable.
 *
 * The tensor is viewed as [outer, len, inner] around the axis, so any axis (negative allowed) is
 * handled in place by strided addressing. Short rows take one thread each, long rows one workgroup
 * each (src/nn/functional/rows.ts).
 */
import softmaxSrc from '../../../shaders/softmax.wgsl';
import { engine } from '../../runtime/engine.js';
import { defineKernel } from '../../runtime/kernel.js';
import { record } from '../../runtime/autograd.js';
import { Tensor, type Shape } from '../../runtime/tensor.js';
import { assertFloat, assertLive, normAxis } from './util.js';
import { Params } from '../../runtime/params.js';
import { rowLaunch } from './rows.js';

const SOFTMAX = defineKernel('softmax', softmaxSrc);

interface RowLayout {
  rows: number;
  len: number;
  inner: number;
}

function rowLayout(shape: Shape, axis: number): RowLayout {
  if (shape.length === 0) return { rows: 1, len: 1, inner: 1 };
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return { rows: outer * inner, len: shape[axis], inner };
}

function runSoftmax(log: boolean, backward: boolean, inputs: Tensor[], layout: RowLayout, op: string): Tensor {
  const out = Tensor.empty(inputs[0].shape, 'f32', op);
  if (out.size === 0) return out;
  const launch = rowLaunch(layout.rows, layout.len);
  engine().dispatch({
    kernel: SOFTMAX,
    defines: { SHORT: launch.short, WG: launch.wg, LOG: log, BACKWARD: backward },
    buffers: [...inputs.map((t) => t.buffer(op)), out.buffer(op)],
    uniforms: new Params().u32('rows', layout.rows).u32('len', layout.len).u32('inner', layout.inner).pad(),
    workgroups: launch.workgroups,
  });
  return out;
}

function softmaxOp(op: 'softmax' | 'logSoftmax', x: Tensor, axis: number): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${op}: expected a Tensor, got ${typeof x}`);
  assertLive(op, x);
  assertFloat(op, x);
  // A scalar is one row of length 1; like PyTorch, axis 0 or -1 address it.
  const layout = rowLayout(x.shape, normAxis(op, axis, Math.max(x.rank, 1)));
  const log = op === 'logSoftmax';
  const y = runSoftmax(log, false, [x], layout, op);
  // Both backward rules need only the output, so x itself is not kept alive by the graph.
  return record(op, [x], y, (g, [ySaved]) => [runSoftmax(log, true, [ySaved, g], layout, `${op} backward`)], [y]);
}

/** exp(x - max) / Σ exp(x - max) along `axis`. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxOp('softmax', x, axis);
}

/** x - max - log Σ exp(x - max) along `axis`: the log of softmax without its underflow. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxOp('logSoftmax', x, axis);
}

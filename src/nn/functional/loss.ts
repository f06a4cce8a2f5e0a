/**
 * cross_entropy on logits with integer labels and label smoothing (shaders/loss.wgsl).
 *
 * Forward and backward are fused kernels: the forward pass never materialises log_softmax, and the
 * backward pass recomputes softmax from the per-row (max, log-sum) it saved.
 */
import crossEntropySrc from '../../../shaders/loss.wgsl';
import { checkedMode, engine } from '../../runtime/engine.js';
import { defineKernel } from '../../runtime/kernel.js';
import { record } from '../../runtime/autograd.js';
import { Tensor } from '../../runtime/tensor.js';
import { assertFloat, assertLive } from './util.js';
import { grid1d, Params } from '../../runtime/params.js';
import { rowLaunch } from './rows.js';

const CROSS_ENTROPY = defineKernel('cross_entropy', crossEntropySrc);

export interface CrossEntropyOptions {
  /** ε in [0, 1]: the target puts 1 - ε on the label and ε/C on every class (default 0). */
  labelSmoothing?: number;
  /** 'mean' (default) over rows, 'sum', or 'none' for the per-row losses, shape [N]. */
  reduction?: 'mean' | 'sum' | 'none';
}

const REDUCTIONS = ['mean', 'sum', 'none'] as const;
type Reduction = (typeof REDUCTIONS)[number];

interface Stage {
  FORWARD?: boolean;
  REDUCE?: boolean;
  BACKWARD?: boolean;
}

/**
 * `wg` and `short` shape the FORWARD stage's launch (rows.ts); the other stages have fixed sizes
 * and ignore them.
 */
function dispatchStage(stage: Stage, wg: number, short: boolean, reductionNone: boolean, uniforms: Params, buffers: GPUBuffer[], workgroups: [number, number, number], checkLabels = false): void {
  engine().dispatch({
    kernel: CROSS_ENTROPY,
    defines: { FORWARD: false, REDUCE: false, BACKWARD: false, ...stage, WG: wg, SHORT: short, REDUCTION_NONE: reductionNone, CHECK_LABELS: checkLabels },
    buffers,
    uniforms,
    workgroups,
  });
}

function checkArguments(logits: Tensor, labels: Tensor, options: CrossEntropyOptions): { smoothing: number; reduction: Reduction } {
  const op = 'crossEntropy';
  if (!(logits instanceof Tensor) || !(labels instanceof Tensor)) throw new Error(`${op}: logits and labels must be Tensors`);
  assertLive(op, logits, labels);
  assertFloat(op, logits);
  if (logits.rank !== 2) throw new Error(`${op}: logits must be 2-D [N, C], got shape [${logits.shape}]`);
  if (labels.dtype === 'f32') throw new Error(`${op}: labels must be i32 or u32 class indices, got f32`);
  const [n, c] = logits.shape;
  if (labels.rank !== 1 || labels.shape[0] !== n) {
    throw new Error(`${op}: labels must have shape [${n}] to match logits of shape [${logits.shape}], got labels of shape [${labels.shape}]`);
  }
  if (c === 0) throw new Error(`${op}: logits have no classes (shape [${logits.shape}])`);
  const smoothing = options.labelSmoothing ?? 0;
  if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing <= 1)) {
    throw new Error(`${op}: labelSmoothing must be a number in [0, 1], got ${smoothing}`);
  }
  const reduction = options.reduction ?? 'mean';
  if (!REDUCTIONS.includes(reduction)) {
    throw new Error(`${op}: unknown reduction '${reduction}' (expected 'mean', 'sum' or 'none')`);
  }
  return { smoothing, reduction };
}

/**
 * PyTorch's cross_entropy: logits [N, C] (f32), labels [N] of i32 or u32 class indices.
 * Returns a scalar (shape []) for 'mean' and 'sum', the per-row losses [N] for 'none'.
 *
 * Labels live on the GPU, so they are checked there: in checked mode (the default, see
 * setCheckedMode) a label outside [0, C) is an error naming the label, its row and C, thrown at the
 * next readback (as PyTorch's CUDA kernels report a device-side assert). Either way that row's loss
 * is NaN (and so a 'mean' or 'sum' NaN), and its gradient row NaN. A row of logits holding a NaN
 * has a NaN loss and gradient row. There is no ignore_index; PyTorch's -100 is out of range here
 * like any other negative label.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const { smoothing, reduction } = checkArguments(logits, labels, options);
  const op = 'crossEntropy';
  const [n, c] = logits.shape;
  // Scale of the reduction: the gradient of 'mean' is g / N per row. N = 0 gives NaN, as PyTorch.
  const scale = reduction === 'mean' ? (n > 0 ? 1 / n : NaN) : 1;
  const uniforms = new Params().u32('rows', n).u32('classes', c).f32('smoothing', smoothing).f32('scale', scale);

  const rowLoss = Tensor.empty([n], 'f32', op);
  const stats = Tensor.empty([n, 2], 'f32', op);
  const launch = rowLaunch(n, c);
  const checked = checkedMode();
  const forwardBuffers = [logits.buffer(op), labels.buffer(op), rowLoss.buffer(op), stats.buffer(op)];
  if (checked) forwardBuffers.push(engine().checkBuffer());
  dispatchStage({ FORWARD: true }, launch.wg, launch.short, false, uniforms, forwardBuffers, launch.workgroups, checked);

  let out = rowLoss;
  if (reduction !== 'none') {
    out = Tensor.empty([]);
    dispatchStage({ REDUCE: true }, 1, false, false, uniforms, [rowLoss.buffer(op), out.buffer(op)], [1, 1, 1]);
    rowLoss.dispose();
  }

  const result = record(op, [logits, labels], out, (g, [savedLogits, savedLabels, savedStats]) => {
    const dlogits = Tensor.empty(savedLogits.shape, 'f32', op);
    dispatchStage({ BACKWARD: true }, 1, false, reduction === 'none', uniforms,
      [savedLogits.buffer(op), savedLabels.buffer(op), savedStats.buffer(op), g.buffer(op), dlogits.buffer(op)],
      grid1d(dlogits.size));
    return [dlogits, null];
  }, [logits, labels, stats]);
  stats.dispose(); // the graph holds its own handle when it needs one
  return result;
}

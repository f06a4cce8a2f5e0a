/**
 * Dropout and DropPath (stochastic depth) as modules whose rate `p` can change every step (the
 * schedules of paper.md set it per optimizer step). Both are identity in eval mode and at p = 0,
 * and both draw their masks on the GPU from the module's `generator` (set on a whole model with
 * `setGenerator`; null: `defaultGenerator`), so seeding that generator makes a run reproducible.
 */
import { dropout } from '../functional/dropout.js';
import { mul } from '../functional/elementwise.js';
import { ones } from '../functional/creation.js';
import { tidy } from '../../runtime/scope.js';
import { defaultGenerator } from '../../runtime/generator.js';
import type { Tensor } from '../../runtime/tensor.js';
import { Module } from '../module.js';
import { checkRate } from './checks.js';

/** Inverted dropout on every element: zeroed with probability p, kept ones scaled by 1/(1−p). */
export class Dropout extends Module {
  private _p = 0;
  constructor(p = 0) {
    super();
    this.p = p;
  }
  /** The current rate, in [0, 1). */
  get p(): number {
    return this._p;
  }
  set p(v: number) {
    this._p = checkRate('Dropout', 'p', v);
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this._p, { training: this.training, generator: this.generator ?? defaultGenerator });
  }
}

/**
 * Stochastic depth on a residual branch, per sample: sample b of the batch (dimension 0) is zeroed
 * as a whole with probability p, a kept sample is scaled by 1/(1−p) (timm's drop_path with
 * scale_by_keep). The keep mask is dropout of a ones tensor of shape [B, 1, ..., 1], drawn on the
 * GPU, then broadcast-multiplied into x; its gradient is the same mask times the output gradient.
 */
export class DropPath extends Module {
  private _p = 0;
  constructor(p = 0) {
    super();
    this.p = p;
  }
  get p(): number {
    return this._p;
  }
  set p(v: number) {
    this._p = checkRate('DropPath', 'p', v);
  }
  forward(x: Tensor): Tensor {
    if (!this.training || this._p === 0) return dropout(x, 0); // identity view, gradient passes through
    if (x.rank < 1) throw new Error(`DropPath: needs a batch dimension, got a scalar (shape [${x.shape}])`);
    const p = this._p;
    return tidy(() => {
      const maskShape = [x.shape[0], ...new Array<number>(x.rank - 1).fill(1)];
      const keep = dropout(ones(maskShape), p, { generator: this.generator ?? defaultGenerator }); // 0 or 1/(1−p) per sample; not differentiated
      return mul(x, keep);
    });
  }
}

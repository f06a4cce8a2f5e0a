/**
 * What the trainer needs from a model: logits for a batch of images, and the two drop rates the
 * schedules of paper.md drive every step. One rate reaches every dropout site of the model (all
 * `Dropout` submodules, found by walking the module tree, so no site can be forgotten); the
 * stochastic-depth rate p gives block ℓ of L the rate p·ℓ/(L−1).
 *
 * The paper never combines the two in one run, and a config that does is almost surely a mistake,
 * so turning one on while the other is non-zero is an error.
 */
import type { Tensor } from '../../runtime/tensor.js';
import { Module } from '../module.js';
import { Dropout } from '../layers/dropout.js';
import { checkRate } from '../layers/checks.js';

export abstract class Classifier extends Module {
  abstract readonly numClasses: number;
  private _dropRate = 0;
  private _dropPathRate = 0;

  /** images -> logits [B, numClasses]. */
  abstract override forward(x: Tensor): Tensor;

  /** The rate every dropout site uses now. */
  get dropRate(): number {
    return this._dropRate;
  }
  /** The stochastic-depth rate p (the deepest block's rate). */
  get dropPathRate(): number {
    return this._dropPathRate;
  }

  /** Sets the rate of every dropout site (the schedules call this once per optimizer step). */
  setDropRate(p: number): void {
    const where = `${this.constructor.name}.setDropRate`;
    checkRate(where, 'p', p);
    if (p > 0 && this._dropPathRate > 0) {
      throw new Error(`${where}: dropout (p = ${p}) and stochastic depth (rate ${this._dropPathRate}) are not combined in one run; set the drop-path rate to 0 first`);
    }
    for (const [, m] of this.namedModules()) if (m instanceof Dropout) m.p = p;
    this._dropRate = p;
  }

  /** Sets the stochastic-depth rate p: block ℓ of L gets p·ℓ/(L−1). */
  setDropPathRate(p: number): void {
    const where = `${this.constructor.name}.setDropPathRate`;
    checkRate(where, 'p', p);
    if (p > 0 && this._dropRate > 0) {
      throw new Error(`${where}: stochastic depth (p = ${p}) and dropout (rate ${this._dropRate}) are not combined in one run; set the dropout rate to 0 first`);
    }
    this.applyDropPathRate(p, where);
    this._dropPathRate = p;
  }

  /** Distributes p over the residual blocks (models without any reject p > 0). */
  protected abstract applyDropPathRate(p: number, where: string): void;
}

/**
 * MLP classifier on flattened images: Linear + activation (fused in one kernel) and dropout for
 * each hidden width, then a Linear head (no dropout before the head).
 */
import { reshape } from '../functional/shape.js';
import { tidy } from '../../runtime/scope.js';
import type { Tensor } from '../../runtime/tensor.js';
import { deriveSeed, checkSeed } from '../init.js';
import { formatShape } from '../../runtime/format.js';
import { checkPositiveInt, checkRate } from '../layers/checks.js';
import { ModuleList } from '../layers/container.js';
import { Dropout } from '../layers/dropout.js';
import { Linear } from '../layers/linear.js';
import { checkActivation, type MlpActivation } from '../layers/mlp.js';
import { Classifier } from './classifier.js';

export interface MLPOptions {
  /** Input features (C·H·W of the images). */
  inFeatures: number;
  /** Widths of the hidden layers, e.g. [256, 256] (may be empty: a linear classifier). */
  hiddenSizes: readonly number[];
  numClasses: number;
  /** 'relu' (default), 'gelu' (exact erf) or 'gelu_tanh'. */
  activation?: MlpActivation;
  /** Initial dropout rate (default 0). */
  dropRate?: number;
  /** Init seed (default 0): same seed, same weights. */
  seed?: number;
}

export class MLP extends Classifier {
  readonly inFeatures: number;
  readonly numClasses: number;
  readonly hiddenSizes: readonly number[];
  /** Hidden layers, named layers.0, layers.1, ... */
  readonly layers: ModuleList<Linear>;
  /** The one dropout site type of this model: after every hidden activation (fresh mask each). */
  readonly drop: Dropout;
  readonly head: Linear;

  constructor(options: MLPOptions) {
    super();
    const where = 'MLP';
    this.inFeatures = checkPositiveInt(where, 'inFeatures', options.inFeatures);
    this.numClasses = checkPositiveInt(where, 'numClasses', options.numClasses);
    if (!Array.isArray(options.hiddenSizes)) throw new Error(`${where}: hiddenSizes must be an array of widths, got ${String(options.hiddenSizes)}`);
    this.hiddenSizes = options.hiddenSizes.map((w, i) => checkPositiveInt(where, `hiddenSizes[${i}]`, w));
    const activation = checkActivation(where, options.activation ?? 'relu');
    const seed = options.seed ?? 0;
    checkSeed(where, seed);
    const widths = [this.inFeatures, ...this.hiddenSizes];
    this.layers = this.registerModule('layers', new ModuleList(this.hiddenSizes.map((w, i) =>
      new Linear(widths[i], w, { activation, seed: deriveSeed(seed, `layers.${i}`) }))));
    this.drop = this.registerModule('drop', new Dropout(0));
    this.head = this.registerModule('head', new Linear(widths[widths.length - 1], this.numClasses, { seed: deriveSeed(seed, 'head') }));
    this.setDropRate(checkRate(where, 'dropRate', options.dropRate ?? 0));
  }

  /** Images [B, ...] with C·H·W = inFeatures values per sample -> logits [B, numClasses]. */
  forward(x: Tensor): Tensor {
    if (x.rank < 1 || x.dtype !== 'f32' || x.size !== x.shape[0] * this.inFeatures) {
      throw new Error(`MLP: expected f32 input [B, ${this.inFeatures}] (or images with ${this.inFeatures} values each), got ${formatShape(x.shape)} ${x.dtype}`);
    }
    return tidy(() => {
      let h = reshape(x, [x.shape[0], this.inFeatures]);
      for (const layer of this.layers.items) h = this.drop.forward(layer.forward(h));
      return this.head.forward(h);
    });
  }

  protected applyDropPathRate(p: number, where: string): void {
    if (p > 0) throw new Error(`${where}: the MLP has no residual blocks for stochastic depth (p = ${p})`);
  }
}

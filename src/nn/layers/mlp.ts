/**
 * The transformer / Mixer MLP (timm's `Mlp`): fc1, GELU, dropout, fc2, dropout. The activation runs
 * in fc1's matmul kernel (linear's fused epilogue), which is the same function as a separate GELU.
 */
import { tidy } from '../../runtime/scope.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { Activation } from '../functional/matmul/index.js';
import { Module } from '../module.js';
import { deriveSeed, resolveSeed, type InitSeedOptions } from '../init.js';
import { checkPositiveInt, checkRate } from './checks.js';
import { Dropout } from './dropout.js';
import { Linear } from './linear.js';

export type MlpActivation = Exclude<Activation, 'none'>;
const MLP_ACTIVATIONS: readonly MlpActivation[] = ['gelu', 'gelu_tanh', 'relu'];

export interface MlpOptions extends InitSeedOptions {
  /** Output width (default: inFeatures). */
  outFeatures?: number;
  /** 'gelu' (default, exact erf), 'gelu_tanh' or 'relu'. */
  activation?: MlpActivation;
  /** Initial rate of both dropout sites (default 0). */
  dropRate?: number;
}

export function checkActivation(where: string, a: unknown): MlpActivation {
  if (!MLP_ACTIVATIONS.includes(a as MlpActivation)) {
    throw new Error(`${where}: activation must be one of ${MLP_ACTIVATIONS.join(', ')}, got '${String(a)}'`);
  }
  return a as MlpActivation;
}

export class Mlp extends Module {
  readonly fc1: Linear;
  readonly drop1: Dropout;
  readonly fc2: Linear;
  readonly drop2: Dropout;

  constructor(inFeatures: number, hiddenFeatures: number, options: MlpOptions = {}) {
    super();
    const where = 'Mlp';
    checkPositiveInt(where, 'inFeatures', inFeatures);
    checkPositiveInt(where, 'hiddenFeatures', hiddenFeatures);
    const outFeatures = checkPositiveInt(where, 'outFeatures', options.outFeatures ?? inFeatures);
    const activation = checkActivation(where, options.activation ?? 'gelu');
    const p = checkRate(where, 'dropRate', options.dropRate ?? 0);
    const seed = resolveSeed(where, options.seed, options.generator);
    this.fc1 = this.registerModule('fc1', new Linear(inFeatures, hiddenFeatures, { activation, seed: deriveSeed(seed, 'fc1') }));
    this.drop1 = this.registerModule('drop1', new Dropout(p));
    this.fc2 = this.registerModule('fc2', new Linear(hiddenFeatures, outFeatures, { seed: deriveSeed(seed, 'fc2') }));
    this.drop2 = this.registerModule('drop2', new Dropout(p));
  }

  /** x [..., in] -> [..., out]. */
  forward(x: Tensor): Tensor {
    return tidy(() => this.drop2.forward(this.fc2.forward(this.drop1.forward(this.fc1.forward(x)))));
  }
}

/**
 * Linear: y = x Wᵀ + b with W [out, in] (PyTorch's nn.Linear), through the fused `linear` kernel,
 * optionally with the following activation fused into the same kernel (Mlp's fc1 + GELU).
 */
import { linear, type Activation } from '../functional/matmul/index.js';
import type { Tensor } from '../../runtime/tensor.js';
import { Module, type Parameter } from '../module.js';
import { deriveSeed, resolveSeed, truncNormal, TRUNC_NORMAL_STD, zerosInit, type InitSeedOptions } from '../init.js';
import { checkPositiveInt } from './checks.js';

export interface LinearLayerOptions extends InitSeedOptions {
  /** Add a learned bias (default true). */
  bias?: boolean;
  /** Activation applied in the same kernel: 'none' (default), 'relu', 'gelu' (exact erf), 'gelu_tanh'. */
  activation?: Activation;
  /** Init seed; the weight's stream is deriveSeed(seed, 'weight'). Default: the next draw of `generator`. */
  seed?: number;
  /** Std of the trunc-normal weight init (default 0.02, timm). */
  initStd?: number;
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly activation: Activation;
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, options: LinearLayerOptions = {}) {
    super();
    this.inFeatures = checkPositiveInt('Linear', 'inFeatures', inFeatures);
    this.outFeatures = checkPositiveInt('Linear', 'outFeatures', outFeatures);
    this.activation = options.activation ?? 'none';
    const seed = resolveSeed('Linear', options.seed, options.generator);
    const std = options.initStd ?? TRUNC_NORMAL_STD;
    this.weight = this.registerParameter('weight', truncNormal([outFeatures, inFeatures], { std, seed: deriveSeed(seed, 'weight') }));
    this.bias = options.bias === false ? null : this.registerParameter('bias', zerosInit([outFeatures]));
  }

  /** x [..., in] -> [..., out]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias, { activation: this.activation });
  }
}

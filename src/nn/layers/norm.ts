/** LayerNorm over the last dimension with a learned scale and shift (PyTorch's nn.LayerNorm(dim)). */
import { layerNorm } from '../functional/norm.js';
import type { Tensor } from '../../runtime/tensor.js';
import { Module, type Parameter } from '../module.js';
import { onesInit, zerosInit } from '../init.js';
import { checkPositiveInt } from './checks.js';

/**
 * The default eps is 1e-6, what timm's ViT and Mixer use (partial(nn.LayerNorm, eps=1e-6)), not
 * torch.nn.LayerNorm's 1e-5: every model here uses 1e-6, as the paper's recipe does.
 */
export const VIT_LAYER_NORM_EPS = 1e-6;

export interface LayerNormOptions {
  /** Added to the variance (default 1e-6). */
  eps?: number;
}

export class LayerNorm extends Module {
  readonly dim: number;
  readonly eps: number;
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(dim: number, options: LayerNormOptions = {}) {
    super();
    this.dim = checkPositiveInt('LayerNorm', 'dim', dim);
    const eps = options.eps ?? VIT_LAYER_NORM_EPS;
    if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) throw new Error(`LayerNorm: eps must be a positive number, got ${String(eps)}`);
    this.eps = eps;
    this.weight = this.registerParameter('weight', onesInit([dim]));
    this.bias = this.registerParameter('bias', zerosInit([dim]));
  }

  /** Normalises x [..., dim] over its last dimension. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** GELU as a module (the Mlp fuses it into fc1's kernel instead; this is for everything else). */
import { gelu } from '../functional/elementwise.js';
import type { Tensor } from '../../runtime/tensor.js';
import { Module } from '../module.js';

export interface GeluModuleOptions {
  /** 'none' (default): the exact erf form, as torch.nn.GELU(); 'tanh': the approximation. */
  approximate?: 'none' | 'tanh';
}

export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  constructor(options: GeluModuleOptions = {}) {
    super();
    const approximate = options.approximate ?? 'none';
    if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`GELU: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
    this.approximate = approximate;
  }
  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
}

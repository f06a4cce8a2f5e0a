/**
 * The pre-LN transformer block of ViT (timm's `Block`, without layer scale):
 *   x = x + dropPath(attn(norm1(x)));  x = x + dropPath(mlp(norm2(x))).
 */
import { add } from '../functional/elementwise.js';
import { tidy } from '../../runtime/scope.js';
import type { Tensor } from '../../runtime/tensor.js';
import { Module } from '../module.js';
import { deriveSeed, resolveSeed, type InitSeedOptions } from '../init.js';
import { checkPositiveInt, checkRate } from './checks.js';
import { MultiHeadSelfAttention } from './attention.js';
import { DropPath } from './dropout.js';
import { Mlp, type MlpActivation } from './mlp.js';
import { LayerNorm } from './norm.js';

export interface BlockOptions extends InitSeedOptions {
  /** MLP hidden width = round(mlpRatio · dim) (default 4). */
  mlpRatio?: number;
  qkvBias?: boolean;
  /** LayerNorm eps (default 1e-6). */
  eps?: number;
  activation?: MlpActivation;
  /** Initial rate of the four dropout sites (default 0). */
  dropRate?: number;
  /** Initial stochastic-depth rate of both residual branches (default 0). */
  dropPathRate?: number;
}

/** Hidden width of an MLP with the given ratio; an error rather than a silent 0. */
export function hiddenWidth(where: string, field: string, ratio: number, dim: number): number {
  if (typeof ratio !== 'number' || !(ratio > 0) || !Number.isFinite(ratio)) throw new Error(`${where}: ${field} must be a positive number, got ${String(ratio)}`);
  const hidden = Math.floor(ratio * dim); // int(ratio * dim), as timm
  if (hidden < 1) throw new Error(`${where}: ${field} ${ratio} × ${dim} gives an MLP of width 0`);
  return hidden;
}

export class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadSelfAttention;
  readonly dropPath1: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly dropPath2: DropPath;

  constructor(dim: number, numHeads: number, options: BlockOptions = {}) {
    super();
    const where = 'Block';
    checkPositiveInt(where, 'dim', dim);
    const hidden = hiddenWidth(where, 'mlpRatio', options.mlpRatio ?? 4, dim);
    const dropRate = checkRate(where, 'dropRate', options.dropRate ?? 0);
    const dropPathRate = checkRate(where, 'dropPathRate', options.dropPathRate ?? 0);
    const eps = options.eps;
    const seed = resolveSeed(where, options.seed, options.generator);
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, { eps }));
    this.attn = this.registerModule('attn', new MultiHeadSelfAttention(dim, numHeads, { qkvBias: options.qkvBias, dropRate, seed: deriveSeed(seed, 'attn') }));
    this.dropPath1 = this.registerModule('drop_path1', new DropPath(dropPathRate));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim, { eps }));
    this.mlp = this.registerModule('mlp', new Mlp(dim, hidden, { activation: options.activation, dropRate, seed: deriveSeed(seed, 'mlp') }));
    this.dropPath2 = this.registerModule('drop_path2', new DropPath(dropPathRate));
  }

  /** Stochastic-depth rate of both residual branches. */
  get dropPathRate(): number {
    return this.dropPath1.p;
  }
  set dropPathRate(p: number) {
    this.dropPath1.p = p;
    this.dropPath2.p = p;
  }

  /** x [B, T, dim] -> [B, T, dim]. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = add(x, this.dropPath1.forward(this.attn.forward(this.norm1.forward(x))));
      return add(h, this.dropPath2.forward(this.mlp.forward(this.norm2.forward(h))));
    });
  }
}

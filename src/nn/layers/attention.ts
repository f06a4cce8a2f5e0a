/**
 * Multi-head self-attention as in timm's ViT `Attention`: one qkv projection (with bias), scaled
 * dot-product attention per head, dropout on the attention probabilities, output projection, and
 * dropout after it.
 */
import { affine } from '../functional/elementwise.js';
import { matmul } from '../functional/matmul/index.js';
import { softmax } from '../functional/softmax.js';
import { permute, reshape, slice } from '../functional/shape.js';
import { tidy } from '../../runtime/scope.js';
import type { Tensor } from '../../runtime/tensor.js';
import { Module } from '../module.js';
import { deriveSeed, resolveSeed, type InitSeedOptions } from '../init.js';
import { formatShape } from '../../runtime/format.js';
import { checkPositiveInt, checkRate } from './checks.js';
import { Dropout } from './dropout.js';
import { Linear } from './linear.js';

export interface AttentionOptions extends InitSeedOptions {
  /** Bias on the qkv projection (default true, as the paper's ViT). */
  qkvBias?: boolean;
  /** Initial rate of both dropout sites (default 0). */
  dropRate?: number;
}

export class MultiHeadSelfAttention extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  /** 1/√headDim, applied to q before q·kᵀ (as timm). */
  readonly scale: number;
  readonly qkv: Linear;
  readonly attnDrop: Dropout;
  readonly proj: Linear;
  readonly projDrop: Dropout;

  constructor(dim: number, numHeads: number, options: AttentionOptions = {}) {
    super();
    const where = 'MultiHeadSelfAttention';
    this.dim = checkPositiveInt(where, 'dim', dim);
    this.numHeads = checkPositiveInt(where, 'numHeads', numHeads);
    if (dim % numHeads !== 0) throw new Error(`${where}: dim ${dim} is not divisible by numHeads ${numHeads}`);
    const p = checkRate(where, 'dropRate', options.dropRate ?? 0);
    this.headDim = dim / numHeads;
    this.scale = 1 / Math.sqrt(this.headDim);
    const seed = resolveSeed(where, options.seed, options.generator);
    this.qkv = this.registerModule('qkv', new Linear(dim, 3 * dim, { bias: options.qkvBias ?? true, seed: deriveSeed(seed, 'qkv') }));
    this.attnDrop = this.registerModule('attn_drop', new Dropout(p));
    this.proj = this.registerModule('proj', new Linear(dim, dim, { seed: deriveSeed(seed, 'proj') }));
    this.projDrop = this.registerModule('proj_drop', new Dropout(p));
  }

  /** x [B, T, dim] -> [B, T, dim]. */
  forward(x: Tensor): Tensor {
    const { dim, numHeads: H, headDim: D } = this;
    if (x.rank !== 3 || x.shape[2] !== dim) {
      throw new Error(`MultiHeadSelfAttention: expected input [B, T, ${dim}], got ${formatShape(x.shape)}`);
    }
    const [B, T] = x.shape;
    return tidy(() => {
      // [B, T, 3·dim] -> [B, T, 3, H, D] -> [3, B, H, T, D]: one strided copy, after which q, k and
      // v are contiguous slabs (their slices are plain buffer copies).
      const qkv = permute(reshape(this.qkv.forward(x), [B, T, 3, H, D]), [2, 0, 3, 1, 4]);
      const part = (i: number) => reshape(slice(qkv, 0, i, i + 1), [B, H, T, D]);
      const q = affine(part(0), this.scale);
      const k = part(1);
      const v = part(2);
      const attn = this.attnDrop.forward(softmax(matmul(q, k, { transposeB: true }), -1)); // [B, H, T, T]
      const heads = matmul(attn, v); // [B, H, T, D]
      const merged = reshape(permute(heads, [0, 2, 1, 3]), [B, T, dim]);
      return this.projDrop.forward(this.proj.forward(merged));
    });
  }
}

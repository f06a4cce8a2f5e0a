/**
 * Vision Transformer (timm's VisionTransformer with a cls token, class-token pooling, no layer
 * scale, no pre-logits): patch embedding, cls token, learned position embedding, dropout, pre-LN
 * blocks, final LayerNorm, and a Linear head on the cls token.
 *
 * Dropout sites (paper.md), all at one rate set by `setDropRate`: after cls + position embedding;
 * on the attention probabilities and after the attention projection; after GELU and after fc2 in
 * every MLP. None before the head. Stochastic depth (`setDropPathRate(p)`): block ℓ of L drops its
 * two residual branches per sample with rate p·ℓ/(L−1).
 *
 * Init (timm): trunc-normal std 0.02 (cut-offs ±2 absolute, see init.ts) for every Linear weight,
 * the patch projection, the position embedding and the cls token; zeros for biases; ones / zeros
 * for LayerNorm. The position embedding and cls token are excluded from weight decay.
 * Parameter names follow timm (cls_token, pos_embed, patch_embed.proj, blocks.ℓ.attn.qkv, ...), so
 * a timm state dict maps over with patch_embed.proj.weight reshaped from [dim, C, p, p].
 */
import { add } from '../functional/elementwise.js';
import { concat, expand, reshape, slice } from '../functional/shape.js';
import { tidy } from '../../runtime/scope.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { Parameter } from '../module.js';
import { Sequential } from '../module.js';
import { checkSeed, deriveSeed, truncNormal } from '../init.js';
import { stochasticDepthRate } from '../schedules.js';
import { checkPositiveInt, checkRate } from '../layers/checks.js';
import { Block } from '../layers/block.js';
import { Dropout } from '../layers/dropout.js';
import { Linear } from '../layers/linear.js';
import type { MlpActivation } from '../layers/mlp.js';
import { LayerNorm } from '../layers/norm.js';
import { PatchEmbed } from '../layers/patch_embed.js';
import { Classifier } from './classifier.js';

export interface ViTOptions {
  /** Image height and width (one number for square images). */
  imageSize: number | readonly [number, number];
  patchSize: number;
  /** Image channels (default 1). */
  inChannels?: number;
  numClasses: number;
  /** Embedding width. */
  dim: number;
  /** Number of blocks. */
  depth: number;
  numHeads: number;
  /** MLP hidden width = floor(mlpRatio · dim) (default 4). */
  mlpRatio?: number;
  /** Bias on the qkv projection (default true). */
  qkvBias?: boolean;
  /** LayerNorm eps (default 1e-6). */
  eps?: number;
  /** MLP activation (default 'gelu', exact erf). */
  activation?: MlpActivation;
  /** Initial dropout rate (default 0). */
  dropRate?: number;
  /** Initial stochastic-depth rate (default 0). */
  dropPathRate?: number;
  /** Init seed (default 0): same seed, same weights. */
  seed?: number;
}

export class ViT extends Classifier {
  readonly numClasses: number;
  readonly dim: number;
  readonly depth: number;
  readonly numTokens: number;
  readonly cls_token: Parameter;
  readonly pos_embed: Parameter;
  readonly patchEmbed: PatchEmbed;
  readonly posDrop: Dropout;
  readonly blocks: Sequential;
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(options: ViTOptions) {
    super();
    const where = 'ViT';
    this.numClasses = checkPositiveInt(where, 'numClasses', options.numClasses);
    this.dim = checkPositiveInt(where, 'dim', options.dim);
    this.depth = checkPositiveInt(where, 'depth', options.depth);
    const seed = options.seed ?? 0;
    checkSeed(where, seed);
    const dim = this.dim;
    const embed = new PatchEmbed({ imageSize: options.imageSize, patchSize: options.patchSize, inChannels: options.inChannels, dim, seed: deriveSeed(seed, 'patch_embed') });
    this.numTokens = embed.numPatches + 1;
    const noDecay = { weightDecay: false };
    this.cls_token = this.registerParameter('cls_token', truncNormal([1, 1, dim], { seed: deriveSeed(seed, 'cls_token') }), noDecay);
    this.pos_embed = this.registerParameter('pos_embed', truncNormal([1, this.numTokens, dim], { seed: deriveSeed(seed, 'pos_embed') }), noDecay);
    this.patchEmbed = this.registerModule('patch_embed', embed);
    this.posDrop = this.registerModule('pos_drop', new Dropout(0));
    const blockOptions = { mlpRatio: options.mlpRatio, qkvBias: options.qkvBias, eps: options.eps, activation: options.activation };
    this.blocks = this.registerModule('blocks', new Sequential(Array.from({ length: this.depth }, (_, i) =>
      new Block(dim, options.numHeads, { ...blockOptions, seed: deriveSeed(seed, `blocks.${i}`) }))));
    this.norm = this.registerModule('norm', new LayerNorm(dim, { eps: options.eps }));
    this.head = this.registerModule('head', new Linear(dim, this.numClasses, { seed: deriveSeed(seed, 'head') }));
    this.setDropRate(checkRate(where, 'dropRate', options.dropRate ?? 0));
    this.setDropPathRate(checkRate(where, 'dropPathRate', options.dropPathRate ?? 0));
  }

  /** The blocks, in order. */
  get blockList(): Block[] {
    return this.blocks.layers as Block[];
  }

  /** Images [B, C, H, W] (or [B, C·H·W]) -> logits [B, numClasses]. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const tokens = this.patchEmbed.forward(x); // [B, T, dim]
      const B = tokens.shape[0];
      const cls = expand(this.cls_token, [B, 1, this.dim]);
      let h = this.posDrop.forward(add(concat([cls, tokens], 1), this.pos_embed));
      h = this.blocks.forward(h);
      // LayerNorm is per token, so normalising only the cls token equals timm's norm-then-pick.
      const clsOut = reshape(slice(h, 1, 0, 1), [B, this.dim]);
      return this.head.forward(this.norm.forward(clsOut));
    });
  }

  protected applyDropPathRate(p: number): void {
    this.blockList.forEach((b, i) => (b.dropPathRate = stochasticDepthRate(p, i, this.depth)));
  }
}

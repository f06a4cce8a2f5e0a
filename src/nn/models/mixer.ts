/**
 * MLP-Mixer (timm's MlpMixer): patch embedding ("stem"), blocks of token mixing and channel
 * mixing, final LayerNorm, mean over tokens, Linear head.
 *
 * A block, pre-LN (timm's MixerBlock):
 *   x = x + dropPath( mlp_tokens(norm1(x)ᵀ)ᵀ )     token mixing: an Mlp over the token axis of [B, dim, T]
 *   x = x + dropPath( mlp_channels(norm2(x)) )     channel mixing: an Mlp over dim
 * with timm's widths: token MLP T -> floor(tokenMlpRatio·dim) -> T, channel MLP dim ->
 * floor(channelMlpRatio·dim) -> dim (ratios 0.5 and 4 by default).
 *
 * Dropout sites (paper.md), all at one rate: in both MLPs after the activation and after fc2.
 * Nothing after the patch embedding and nothing before the head. Stochastic depth as in ViT.
 *
 * Init: trunc-normal std 0.02 for all Linear weights (the "init as timm" for every model),
 * zeros for biases, ones / zeros for LayerNorm. timm's own Mixer init differs (xavier-uniform
 * weights, tiny normal biases in the MLPs); we use one init for all models so that a comparison
 * across architectures does not also compare initialisations.
 */
import { add } from '../functional/elementwise.js';
import { mean } from '../functional/reduce.js';
import { transpose } from '../functional/shape.js';
import { tidy } from '../../runtime/scope.js';
import type { Tensor } from '../../runtime/tensor.js';
import { Module, Sequential } from '../module.js';
import { checkSeed, deriveSeed, resolveSeed, type InitSeedOptions } from '../init.js';
import { stochasticDepthRate } from '../schedules.js';
import { checkPositiveInt, checkRate } from '../layers/checks.js';
import { hiddenWidth } from '../layers/block.js';
import { DropPath } from '../layers/dropout.js';
import { Linear } from '../layers/linear.js';
import { Mlp, type MlpActivation } from '../layers/mlp.js';
import { LayerNorm } from '../layers/norm.js';
import { PatchEmbed } from '../layers/patch_embed.js';
import { Classifier } from './classifier.js';

export interface MixerBlockOptions extends InitSeedOptions {
  tokenMlpRatio?: number;
  channelMlpRatio?: number;
  eps?: number;
  activation?: MlpActivation;
  dropRate?: number;
  dropPathRate?: number;
}

export class MixerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly mlpTokens: Mlp;
  readonly dropPath1: DropPath;
  readonly norm2: LayerNorm;
  readonly mlpChannels: Mlp;
  readonly dropPath2: DropPath;

  constructor(dim: number, numTokens: number, options: MixerBlockOptions = {}) {
    super();
    const where = 'MixerBlock';
    checkPositiveInt(where, 'dim', dim);
    checkPositiveInt(where, 'numTokens', numTokens);
    const tokensHidden = hiddenWidth(where, 'tokenMlpRatio', options.tokenMlpRatio ?? 0.5, dim);
    const channelsHidden = hiddenWidth(where, 'channelMlpRatio', options.channelMlpRatio ?? 4, dim);
    const dropRate = checkRate(where, 'dropRate', options.dropRate ?? 0);
    const dropPathRate = checkRate(where, 'dropPathRate', options.dropPathRate ?? 0);
    const { eps, activation } = options;
    const seed = resolveSeed(where, options.seed, options.generator);
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, { eps }));
    this.mlpTokens = this.registerModule('mlp_tokens', new Mlp(numTokens, tokensHidden, { activation, dropRate, seed: deriveSeed(seed, 'mlp_tokens') }));
    this.dropPath1 = this.registerModule('drop_path1', new DropPath(dropPathRate));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim, { eps }));
    this.mlpChannels = this.registerModule('mlp_channels', new Mlp(dim, channelsHidden, { activation, dropRate, seed: deriveSeed(seed, 'mlp_channels') }));
    this.dropPath2 = this.registerModule('drop_path2', new DropPath(dropPathRate));
  }

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
      const mixedTokens = transpose(this.mlpTokens.forward(transpose(this.norm1.forward(x), 1, 2)), 1, 2);
      const h = add(x, this.dropPath1.forward(mixedTokens));
      return add(h, this.dropPath2.forward(this.mlpChannels.forward(this.norm2.forward(h))));
    });
  }
}

export interface MLPMixerOptions {
  imageSize: number | readonly [number, number];
  patchSize: number;
  /** Image channels (default 1). */
  inChannels?: number;
  numClasses: number;
  dim: number;
  depth: number;
  /** Token-mixing MLP width = floor(tokenMlpRatio · dim) (default 0.5, timm). */
  tokenMlpRatio?: number;
  /** Channel-mixing MLP width = floor(channelMlpRatio · dim) (default 4). */
  channelMlpRatio?: number;
  /** LayerNorm eps (default 1e-6). */
  eps?: number;
  activation?: MlpActivation;
  dropRate?: number;
  dropPathRate?: number;
  /** Init seed (default 0). */
  seed?: number;
}

export class MLPMixer extends Classifier {
  readonly numClasses: number;
  readonly dim: number;
  readonly depth: number;
  readonly numTokens: number;
  readonly stem: PatchEmbed;
  readonly blocks: Sequential;
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(options: MLPMixerOptions) {
    super();
    const where = 'MLPMixer';
    this.numClasses = checkPositiveInt(where, 'numClasses', options.numClasses);
    this.dim = checkPositiveInt(where, 'dim', options.dim);
    this.depth = checkPositiveInt(where, 'depth', options.depth);
    const seed = options.seed ?? 0;
    checkSeed(where, seed);
    const dim = this.dim;
    this.stem = this.registerModule('stem', new PatchEmbed({ imageSize: options.imageSize, patchSize: options.patchSize, inChannels: options.inChannels, dim, seed: deriveSeed(seed, 'stem') }));
    this.numTokens = this.stem.numPatches;
    const blockOptions = { tokenMlpRatio: options.tokenMlpRatio, channelMlpRatio: options.channelMlpRatio, eps: options.eps, activation: options.activation };
    this.blocks = this.registerModule('blocks', new Sequential(Array.from({ length: this.depth }, (_, i) =>
      new MixerBlock(dim, this.numTokens, { ...blockOptions, seed: deriveSeed(seed, `blocks.${i}`) }))));
    this.norm = this.registerModule('norm', new LayerNorm(dim, { eps: options.eps }));
    this.head = this.registerModule('head', new Linear(dim, this.numClasses, { seed: deriveSeed(seed, 'head') }));
    this.setDropRate(checkRate(where, 'dropRate', options.dropRate ?? 0));
    this.setDropPathRate(checkRate(where, 'dropPathRate', options.dropPathRate ?? 0));
  }

  get blockList(): MixerBlock[] {
    return this.blocks.layers as MixerBlock[];
  }

  /** Images [B, C, H, W] (or [B, C·H·W]) -> logits [B, numClasses]. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.blocks.forward(this.stem.forward(x));
      return this.head.forward(mean(this.norm.forward(h), 1));
    });
  }

  protected applyDropPathRate(p: number): void {
    this.blockList.forEach((b, i) => (b.dropPathRate = stochasticDepthRate(p, i, this.depth)));
  }
}

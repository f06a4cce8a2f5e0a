/**
 * Patch embedding: cut [B, C, H, W] images into non-overlapping p×p patches and project each with a
 * Linear. This is timm's PatchEmbed (a Conv2d with kernel = stride = p) written as a matmul: the
 * patch vector is ordered (channel, row in patch, column in patch), so `proj.weight` [dim, C·p·p] is
 * exactly a Conv2d weight [dim, C, p, p] reshaped, and patches are taken row-major over the grid.
 */
import { permute, reshape } from '../functional/shape.js';
import { tidy } from '../../runtime/scope.js';
import type { Tensor } from '../../runtime/tensor.js';
import { Module } from '../module.js';
import { deriveSeed, resolveSeed, type InitSeedOptions } from '../init.js';
import { formatShape } from '../../runtime/format.js';
import { checkPositiveInt } from './checks.js';
import { Linear } from './linear.js';

/** Image geometry of a patch model: [height, width] and the patch grid. */
export interface PatchGrid {
  height: number;
  width: number;
  channels: number;
  patchSize: number;
  rows: number;
  cols: number;
  numPatches: number;
  patchFeatures: number;
}

export function patchGrid(where: string, imageSize: number | readonly [number, number], patchSize: number, channels: number): PatchGrid {
  const [height, width] = typeof imageSize === 'number' ? [imageSize, imageSize] : imageSize ?? [];
  for (const [field, v] of [['imageSize (height)', height], ['imageSize (width)', width], ['patchSize', patchSize], ['inChannels', channels]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${where}: ${field} must be a positive integer, got ${String(v)}`);
  }
  if (height % patchSize !== 0 || width % patchSize !== 0) {
    throw new Error(`${where}: image ${height}x${width} is not divisible into ${patchSize}x${patchSize} patches`);
  }
  const rows = height / patchSize;
  const cols = width / patchSize;
  return { height, width, channels, patchSize, rows, cols, numPatches: rows * cols, patchFeatures: channels * patchSize * patchSize };
}

/**
 * The batch size of an image batch: [B, C, H, W], [B, C·H·W], or [B, H, W] when C = 1 (the
 * dataset layout is channel-major C × H × W per sample, so all three hold the same data).
 */
export function imageBatch(where: string, x: Tensor, g: Pick<PatchGrid, 'channels' | 'height' | 'width'>): number {
  const { channels: C, height: H, width: W } = g;
  const s = x.shape;
  const ok =
    (s.length === 4 && s[1] === C && s[2] === H && s[3] === W) ||
    (s.length === 2 && s[1] === C * H * W) ||
    (s.length === 3 && C === 1 && s[1] === H && s[2] === W);
  if (!ok || x.dtype !== 'f32') {
    throw new Error(`${where}: expected f32 images of shape [B, ${C}, ${H}, ${W}] (or [B, ${C * H * W}]), got ${formatShape(s)} ${x.dtype}`);
  }
  return s[0];
}

export interface PatchEmbedOptions extends InitSeedOptions {
  imageSize: number | readonly [number, number];
  patchSize: number;
  /** Image channels (default 1). */
  inChannels?: number;
  dim: number;
}

export class PatchEmbed extends Module {
  readonly grid: PatchGrid;
  readonly dim: number;
  readonly proj: Linear;

  constructor(options: PatchEmbedOptions) {
    super();
    const where = 'PatchEmbed';
    this.grid = patchGrid(where, options.imageSize, options.patchSize, options.inChannels ?? 1);
    this.dim = checkPositiveInt(where, 'dim', options.dim);
    const seed = resolveSeed(where, options.seed, options.generator);
    this.proj = this.registerModule('proj', new Linear(this.grid.patchFeatures, this.dim, { seed: deriveSeed(seed, 'proj') }));
  }

  get numPatches(): number {
    return this.grid.numPatches;
  }

  /** Images [B, C, H, W] (or [B, C·H·W]) -> patch tokens [B, numPatches, dim]. */
  forward(x: Tensor): Tensor {
    const g = this.grid;
    const B = imageBatch(this.constructor.name, x, g);
    return tidy(() => {
      const blocks = reshape(x, [B, g.channels, g.rows, g.patchSize, g.cols, g.patchSize]);
      const patches = reshape(permute(blocks, [0, 2, 4, 1, 3, 5]), [B, g.numPatches, g.patchFeatures]);
      return this.proj.forward(patches);
    });
  }
}

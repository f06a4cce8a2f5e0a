/**
 * From a spec to the objects of one run: the cell's data on the GPU (uploaded once per cell and
 * reused by every arm and seed), the model, AdamW, and the Trainer with the arm's schedule.
 *
 * Pairing (what makes arms comparable seed by seed): for a given cell and seed, every arm gets
 * - the same initial weights: the model's init seed is the run seed;
 * - the same data order and augmentation: the trainer's data seed is the run seed;
 * - the same dropout-mask stream (the trainer derives it from the seed), so where two arms drop
 *   at the same rate they draw the same masks.
 * Only the regulariser schedule differs between arms.
 */
import { AdamW } from '../../nn/optim.js';
import type { Classifier } from '../../nn/models/classifier.js';
import type { ImageClassificationDataset, ImageSplit } from '../data/dataset.js';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD, loadFashionMnist } from '../data/fashion-mnist.js';
import { GpuDataset } from '../data/gpu-dataset.js';
import { makeSyntheticImages } from '../data/synthetic.js';
import { Trainer, type StepMetrics } from '../trainer.js';
import { modelKind } from './models.js';
import { imageSizeOf, testCountOf, trainCountOf, type ResolvedCell } from './spec.js';
import type { ArmSpec, DataSpec, ExperimentSpec, ModelSpec } from './types.js';

/** Loads Fashion-MNIST with at most these many images per split (Node: from disk; a page: fetched). */
export type FashionMnistSource = (limit: { train: number; test: number }) => Promise<ImageClassificationDataset>;

export const nodeFashionMnist: FashionMnistSource = (limit) => loadFashionMnist({ limit });

/** A cell's data on the GPU, standardised. */
export interface CellData {
  train: GpuDataset;
  test: GpuDataset;
  numClasses: number;
  channels: number;
  imageSize: number;
  normalize: { mean: number; std: number };
}

function prefix(split: ImageSplit, n: number): ImageSplit {
  const count = Math.min(n, split.count);
  const per = split.channels * split.height * split.width;
  return { ...split, count, images: split.images.subarray(0, count * per), labels: split.labels.subarray(0, count) };
}

/** Mean and standard deviation of a split's pixels (synthetic data has no published constants). */
function pixelStats(split: ImageSplit): { mean: number; std: number } {
  let sum = 0;
  let sq = 0;
  for (const v of split.images) {
    sum += v;
    sq += v * v;
  }
  const n = split.images.length;
  const mean = sum / n;
  const std = Math.sqrt(Math.max(sq / n - mean * mean, 1e-12));
  return { mean, std };
}

/**
 * The GPU copies of each cell's data, made on first use and kept until dispose(): every arm and
 * seed of a cell trains on the same uploaded tensors. Fashion-MNIST is read from its files once
 * (as many images as the largest cell needs) and each cell takes a prefix.
 */
export class DataCache {
  private readonly gpu = new Map<string, CellData>();
  private fashion: Promise<ImageClassificationDataset> | null = null;

  constructor(
    private readonly cells: readonly ResolvedCell[],
    private readonly source: FashionMnistSource = nodeFashionMnist,
  ) {}

  private fashionMnist(): Promise<ImageClassificationDataset> {
    if (!this.fashion) {
      const fm = this.cells.filter((c) => c.data.kind === 'fashion-mnist');
      const train = Math.max(...fm.map((c) => trainCountOf(c.data)));
      const test = Math.max(...fm.map((c) => testCountOf(c.data)));
      this.fashion = this.source({ train, test });
    }
    return this.fashion;
  }

  async get(cell: ResolvedCell): Promise<CellData> {
    const key = dataKey(cell.data);
    const hit = this.gpu.get(key);
    if (hit) return hit;
    const d = cell.data;
    let host: { train: ImageSplit; test: ImageSplit; numClasses: number };
    let normalize: { mean: number; std: number };
    if (d.kind === 'fashion-mnist') {
      const all = await this.fashionMnist();
      const train = prefix(all.train, trainCountOf(d));
      const test = prefix(all.test, testCountOf(d));
      if (train.count < trainCountOf(d)) throw new Error(`cell '${cell.name}': Fashion-MNIST gave ${train.count} training images, the spec asks for ${trainCountOf(d)}`);
      host = { train, test, numClasses: all.numClasses };
      normalize = { mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD };
    } else {
      const side = imageSizeOf(d);
      const set = makeSyntheticImages({ seed: d.seed ?? 0, trainSize: trainCountOf(d), testSize: testCountOf(d), height: side, width: side });
      host = { train: set.train, test: set.test, numClasses: set.numClasses };
      normalize = pixelStats(set.train);
    }
    const train = GpuDataset.upload(host.train, { name: `${cell.name} train`, normalize, numClasses: host.numClasses });
    let test: GpuDataset;
    try {
      test = GpuDataset.upload(host.test, { name: `${cell.name} test`, normalize, numClasses: host.numClasses });
    } catch (e) {
      train.dispose();
      throw e;
    }
    const data: CellData = { train, test, numClasses: host.numClasses, channels: host.train.channels, imageSize: host.train.height, normalize };
    this.gpu.set(key, data);
    return data;
  }

  dispose(): void {
    for (const d of this.gpu.values()) {
      d.train.dispose();
      d.test.dispose();
    }
    this.gpu.clear();
    this.fashion = null;
  }
}

/** Two cells with equal data specs share one upload. */
function dataKey(d: DataSpec): string {
  return JSON.stringify([d.kind, trainCountOf(d), testCountOf(d), d.seed ?? 0, imageSizeOf(d)]);
}

/** The model of a cell, initialised from `seed` (same seed, same weights, whatever the arm). */
export function buildModel(model: ModelSpec, data: Pick<CellData, 'numClasses' | 'channels' | 'imageSize'>, seed: number): Classifier {
  return modelKind(model).build(model, data, seed);
}

/** The arm's drop schedule in the trainer's terms (rate 0 for mode 'none'). */
export function armSchedule(arm: ArmSpec) {
  return { mode: arm.mode, p: arm.mode === 'none' ? 0 : (arm.p ?? 0), shape: arm.shape, cutoffEpochs: arm.cutoffEpochs };
}

export interface BuiltRun {
  model: Classifier;
  optimizer: AdamW;
  trainer: Trainer;
  /** Releases the trainer's sampler, the optimizer state and the model (not the cached data). */
  dispose(): void;
}

export interface BuildRunOptions {
  onMetrics?: (metrics: StepMetrics[]) => void;
  /** Steps between loss readbacks (default 25). */
  metricsEvery?: number;
}

/** Model, AdamW and Trainer for one (cell, arm, seed), on the cell's cached data. */
export function buildRun(spec: ExperimentSpec, cell: ResolvedCell, arm: ArmSpec, seed: number, data: CellData, options: BuildRunOptions = {}): BuiltRun {
  const model = buildModel(cell.model, data, seed);
  let optimizer: AdamW | null = null;
  try {
    // Decay groups from Parameter.weightDecay: weights decay; biases, norms, cls token, position embedding do not.
    const lr = arm.lr ?? spec.lr;
    optimizer = new AdamW(model.namedParameters(), { lr, weightDecay: spec.weightDecay });
    const schedule = armSchedule(arm);
    const trainer = new Trainer({
      model,
      optimizer,
      train: data.train,
      batchSize: spec.batchSize,
      epochs: spec.epochs,
      seed,
      lr: { lr, warmupEpochs: spec.warmupEpochs, minLr: spec.minLr ?? 0 },
      dropout: arm.regularizer === 'dropout' ? schedule : undefined,
      dropPath: arm.regularizer === 'stochastic-depth' ? schedule : undefined,
      labelSmoothing: spec.labelSmoothing,
      augment: spec.augment && (spec.augment.shift || spec.augment.flip) ? { shift: spec.augment.shift, flip: spec.augment.flip } : undefined,
      onMetrics: options.onMetrics,
      metricsEvery: options.metricsEvery,
    });
    const opt = optimizer;
    return {
      model,
      optimizer: opt,
      trainer,
      dispose() {
        trainer.dispose();
        opt.dispose();
        model.dispose();
      },
    };
  } catch (e) {
    optimizer?.dispose();
    model.dispose();
    throw e;
  }
}

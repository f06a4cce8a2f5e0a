/**
 * A data split that lives on the GPU, and the batch iterators over it.
 *
 * `GpuDataset.upload(split)` copies images [n, C, H, W] f32 and labels [n] i32 to the device once
 * (optionally standardised, (x - mean) / std, on the host while streaming in 4 MiB chunks, so no
 * second full-size copy exists on either side). Full Fashion-MNIST train is 60000 × 784 × 4 B =
 * 188 MB (a 192 MiB pooled buffer): fine for a GPU, but it must fit the device's
 * maxStorageBufferBindingSize, which upload checks.
 *
 * Training batches (`dataset.batches({ batchSize, seed })`, a BatchSampler): an epoch's order is a
 * permutation of 0..n-1 fixed by (seed, epoch) (sampler.ts), computed on the host and uploaded once
 * per epoch as an i32 tensor into one reused buffer; the labels are gathered into that order once per
 * epoch too, so a step's labels are one contiguous copy. Without augmentation a step copies its B
 * images' rows with buffer-to-buffer copies recorded in order with the kernels
 * (`GpuDataset.imageRows`: one copy per run of consecutive indices, the bytes an indexSelect would
 * gather, without a kernel: on a software adapter the gather kernel's per-element index arithmetic
 * cost a sixth of a small MLP's step). With augmentation each step slices its B indices out of the
 * order for the fused gather + augmentation kernel. Per step the CPU sends only copy commands and
 * uniform blocks; the only allocations are the batch tensors (the caller disposes them) and, with
 * augmentation, a B-element index slice returned to the pool within the step, so memory stays flat.
 *
 * Eval batches (`dataset.evalBatches(batchSize)`): the split in order, last partial batch kept,
 * as contiguous slices (plain buffer copies).
 */
import { engine } from '../../runtime/engine.js';
import { sizeClass } from '../../runtime/pool.js';
import { keep } from '../../runtime/scope.js';
import { Tensor } from '../../runtime/tensor.js';
import { describeValue } from '../../runtime/format.js';
import { indexSelect, slice } from '../../nn/functional/shape.js';
import { augmentImages, isIdentityAugment, resolveAugment, type AugmentOptions, type ResolvedAugment } from './augment.js';
import type { ImageSplit } from './dataset.js';
import { batchesPerEpoch, checkBatchSize, checkPosition, epochPermutation, type DataPosition } from './sampler.js';
import { checkSeedWord } from '../../runtime/generator.js';

/** Values per upload chunk (4 MiB of f32). */
const UPLOAD_CHUNK = 1 << 20;

export interface GpuDatasetOptions {
  /** Used in error messages. Default 'dataset'. */
  name?: string;
  /** Standardise at upload: (x - mean) / std. Default: upload the values as they are. */
  normalize?: { mean: number; std: number };
  /** When given, labels are checked to lie in 0..numClasses-1. */
  numClasses?: number;
}

/** A batch: images [B, C, H, W] f32 and labels [B] i32, owned by the caller. */
export interface Batch {
  images: Tensor;
  labels: Tensor;
}

export interface TrainBatch extends Batch {
  /** The position this batch was drawn at. */
  epoch: number;
  step: number;
  /** epoch · stepsPerEpoch + step: the counter that keys augmentation. */
  globalStep: number;
}

export interface EvalBatch extends Batch {
  /** Index of the first sample of the batch in the split. */
  start: number;
  /** Samples in the batch (the last one may be short). */
  count: number;
}

export interface BatchSamplerOptions {
  batchSize: number;
  /** Seed of the data order (and of augmentation unless augment.seed is given). */
  seed: number;
  /** Drop the last partial batch of each epoch. Default true (training). */
  dropLast?: boolean;
  /** Shuffle each epoch. Default true; false walks the split in order every epoch. */
  shuffle?: boolean;
  /** GPU augmentation; off unless given. `fill` defaults to the dataset's black value. */
  augment?: AugmentOptions & { seed?: number };
  /** Start here instead of at { epoch: 0, step: 0 } (resume). */
  position?: DataPosition;
}

/** Everything that fixes a sampler's order, plus where it is: what a checkpoint stores. */
export interface SamplerState extends DataPosition {
  seed: number;
  batchSize: number;
  count: number;
  dropLast: boolean;
  shuffle: boolean;
  /** null when augmentation is off. */
  augment: (ResolvedAugment & { seed: number }) | null;
}

function typeName(v: unknown): string {
  return v !== null && typeof v === 'object' ? v.constructor?.name ?? 'object' : describeValue(v);
}

function checkDim(op: string, field: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${op}: ${field} must be a positive integer, got ${describeValue(v)}`);
}

export class GpuDataset {
  readonly name: string;
  /** [count, channels, height, width] f32. */
  readonly images: Tensor;
  /** [count] i32. */
  readonly labels: Tensor;
  readonly count: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** The stored value of a black (0) pixel: 0, or -mean / std when normalised. Augmentation pads with it. */
  readonly fill: number;

  private constructor(name: string, images: Tensor, labels: Tensor, fill: number) {
    this.name = name;
    // Kept: a tidy() around a training step must never dispose the data set.
    this.images = keep(images);
    this.labels = keep(labels);
    [this.count, this.channels, this.height, this.width] = images.shape;
    this.fill = fill;
  }

  /** Copies a split (the lab's ImageSplit: images in [0, 1], labels i32) to the GPU once. */
  static upload(split: ImageSplit, options: GpuDatasetOptions = {}): GpuDataset {
    const name = options.name ?? 'dataset';
    const op = `GpuDataset.upload (${name})`;
    if (split === null || typeof split !== 'object') throw new Error(`${op}: expected an image split, got ${describeValue(split)}`);
    const { images, labels, count, channels, height, width } = split;
    checkDim(op, 'count', count);
    checkDim(op, 'channels', channels);
    checkDim(op, 'height', height);
    checkDim(op, 'width', width);
    if (!(images instanceof Float32Array)) throw new Error(`${op}: images must be a Float32Array, got ${typeName(images)}`);
    if (!(labels instanceof Int32Array)) throw new Error(`${op}: labels must be an Int32Array, got ${typeName(labels)}`);
    const per = channels * height * width;
    if (images.length !== count * per) {
      throw new Error(`${op}: images hold ${images.length} values, expected count × C × H × W = ${count} × ${channels} × ${height} × ${width} = ${count * per}`);
    }
    if (labels.length !== count) throw new Error(`${op}: ${labels.length} labels for ${count} images`);
    checkLabels(op, labels, options.numClasses);
    const norm = options.normalize;
    if (norm !== undefined) {
      if (norm === null || typeof norm !== 'object' || !Number.isFinite(norm.mean) || !Number.isFinite(norm.std) || !(norm.std > 0)) {
        throw new Error(`${op}: normalize needs a finite mean and a positive std, got ${JSON.stringify(norm)}`);
      }
    }
    checkFits(op, images.length * 4);

    const imageTensor = Tensor.empty([count, channels, height, width], 'f32');
    const labelTensor = Tensor.empty([count], 'i32');
    try {
      const buf = imageTensor.buffer(op);
      const e = engine();
      const scratch = norm ? new Float32Array(Math.min(UPLOAD_CHUNK, images.length)) : null;
      for (let at = 0; at < images.length; at += UPLOAD_CHUNK) {
        const end = Math.min(at + UPLOAD_CHUNK, images.length);
        let chunk = images.subarray(at, end);
        if (norm && scratch) {
          const out = scratch.subarray(0, end - at);
          const inv = 1 / norm.std;
          for (let i = 0; i < out.length; i++) out[i] = (chunk[i] - norm.mean) * inv;
          chunk = out;
        }
        e.write(buf, chunk, at * 4);
      }
      e.write(labelTensor.buffer(op), labels);
    } catch (err) {
      imageTensor.dispose();
      labelTensor.dispose();
      throw err;
    }
    const fill = norm ? Math.fround(-norm.mean / norm.std) : 0;
    return new GpuDataset(name, imageTensor, labelTensor, fill);
  }

  /**
   * Wraps tensors already on the GPU: images [n, C, H, W] f32 and labels [n] i32. Takes ownership:
   * they are marked kept (no tidy() disposes them) and dispose() disposes them. Labels are not
   * range-checked (that would need a readback).
   */
  static fromTensors(images: Tensor, labels: Tensor, options: { name?: string; fill?: number } = {}): GpuDataset {
    const name = options.name ?? 'dataset';
    const op = `GpuDataset.fromTensors (${name})`;
    if (!(images instanceof Tensor)) throw new Error(`${op}: images must be a Tensor, got ${describeValue(images)}`);
    if (!(labels instanceof Tensor)) throw new Error(`${op}: labels must be a Tensor, got ${describeValue(labels)}`);
    images.buffer(op);
    labels.buffer(op);
    if (images.rank !== 4) throw new Error(`${op}: images must have shape [n, C, H, W], got [${images.shape}]`);
    if (images.dtype !== 'f32') throw new Error(`${op}: images must be f32, got ${images.dtype}`);
    if (labels.rank !== 1) throw new Error(`${op}: labels must have shape [n], got [${labels.shape}]`);
    if (labels.dtype !== 'i32') throw new Error(`${op}: labels must be i32, got ${labels.dtype}`);
    if (labels.shape[0] !== images.shape[0]) throw new Error(`${op}: ${labels.shape[0]} labels for ${images.shape[0]} images`);
    images.shape.forEach((d, k) => checkDim(op, ['count', 'channels', 'height', 'width'][k], d));
    const fill = options.fill ?? 0;
    if (!Number.isFinite(fill)) throw new Error(`${op}: fill must be a finite number, got ${describeValue(fill)}`);
    return new GpuDataset(name, images, labels, fill);
  }

  /** Values per sample: C · H · W. */
  get sampleSize(): number {
    return this.channels * this.height * this.width;
  }

  /** Bytes the split occupies on the GPU (images + labels, before pool rounding). */
  get byteSize(): number {
    return (this.count * this.sampleSize + this.count) * 4;
  }

  get isDisposed(): boolean {
    return this.images.isDisposed;
  }

  /** Rows `indices` (a 1-D i32/u32 tensor on the GPU) of images and labels. */
  gather(indices: Tensor): Batch {
    const images = indexSelect(this.images, 0, indices);
    const labels = indexSelect(this.labels, 0, indices);
    return { images, labels };
  }

  /**
   * Images `order[start..end-1]` as [end - start, C, H, W], copied buffer to buffer (one copy per
   * run of consecutive indices) in order with the recorded kernels: the images `gather` gives for
   * the same indices, bit for bit, without a kernel. Indices are checked on the host.
   */
  imageRows(order: ArrayLike<number>, start: number, end: number): Tensor {
    const op = `${this.name}.imageRows`;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > order.length || start > end) {
      throw new Error(`${op}: [${start}, ${end}) is not a range of the ${order.length} indices`);
    }
    for (let j = start; j < end; j++) {
      const r = order[j];
      if (!Number.isInteger(r) || r < 0 || r >= this.count) throw new Error(`${op}: index ${r} at position ${j} is outside 0..${this.count - 1}`);
    }
    const images = Tensor.empty([end - start, this.channels, this.height, this.width], 'f32');
    copyRuns(this.images.buffer(op), images.buffer(op), this.sampleSize * 4, order, start, end);
    return images;
  }

  /** Samples start..end-1 in order (contiguous copies, no gather). */
  range(start: number, end: number): Batch {
    const images = slice(this.images, 0, start, end);
    const labels = slice(this.labels, 0, start, end);
    return { images, labels };
  }

  /** Eval batches per pass with this batch size (last partial one kept). */
  evalBatchCount(batchSize: number): number {
    checkEvalBatchSize(`${this.name}.evalBatches`, batchSize);
    return batchesPerEpoch(this.count, batchSize, false);
  }

  /**
   * The whole split in order, in batches of `batchSize`, the last partial batch kept. A batch size
   * over the split's size gives one batch of everything. The caller disposes each batch.
   */
  evalBatches(batchSize: number): Generator<EvalBatch> {
    checkEvalBatchSize(`${this.name}.evalBatches`, batchSize); // now, not at the first next()
    return this.evalGenerator(batchSize);
  }

  private *evalGenerator(batchSize: number): Generator<EvalBatch> {
    for (let start = 0; start < this.count; start += batchSize) {
      const end = Math.min(start + batchSize, this.count);
      yield { ...this.range(start, end), start, count: end - start };
    }
  }

  /** A shuffled (by default) training-batch sampler over this split. */
  batches(options: BatchSamplerOptions): BatchSampler {
    return new BatchSampler(this, options);
  }

  /** Releases the GPU copies. */
  dispose(): void {
    this.images.dispose();
    this.labels.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** dst row j - start = src row order[j], for j in start..end-1, merging runs of consecutive rows. */
function copyRuns(src: GPUBuffer, dst: GPUBuffer, rowBytes: number, order: ArrayLike<number>, start: number, end: number): void {
  const e = engine();
  let j = start;
  while (j < end) {
    let len = 1;
    while (j + len < end && order[j + len] === order[j] + len) len++;
    e.copy(src, order[j] * rowBytes, dst, (j - start) * rowBytes, len * rowBytes);
    j += len;
  }
}

function checkEvalBatchSize(op: string, batchSize: unknown): asserts batchSize is number {
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize <= 0) {
    throw new Error(`${op}: batch size must be a positive integer, got ${describeValue(batchSize)}`);
  }
}

function checkLabels(op: string, labels: Int32Array, numClasses: number | undefined): void {
  if (numClasses !== undefined) checkDim(op, 'numClasses', numClasses);
  const hi = numClasses ?? Infinity;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y < 0 || y >= hi) {
      throw new Error(`${op}: label ${y} at index ${i} is outside ${numClasses === undefined ? '0 and up' : `0..${numClasses - 1}`}`);
    }
  }
}

/** The buffer (rounded to its pool size class) must be bindable as one storage binding. */
function checkFits(op: string, bytes: number): void {
  const limits = engine().device.limits;
  const pooled = sizeClass(bytes);
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (pooled > limit) {
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    throw new Error(`${op}: the images need a ${mb(pooled)} GPU buffer, over this device's limit of ${mb(limit)} per storage buffer; load fewer samples (e.g. { limit })`);
  }
}

/**
 * Training batches in an order fixed by (seed, epoch). `next()` hands out step `position.step` of
 * epoch `position.epoch` and advances; after an epoch's last step the position is step 0 of the
 * next epoch. `state()` / `restore()` (or `seek()`) carry the position through a checkpoint.
 */
export class BatchSampler {
  readonly dataset: GpuDataset;
  readonly batchSize: number;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly shuffle: boolean;
  readonly stepsPerEpoch: number;
  /** Resolved augmentation (null when off or when the options change nothing). */
  readonly augment: (ResolvedAugment & { seed: number }) | null;
  private epoch = 0;
  private step = 0;
  /** The host copy of the order of `orderEpoch`, and its GPU twin (one buffer, rewritten per epoch). */
  private order: Int32Array | null = null;
  private orderEpoch = -1;
  private orderTensor: Tensor | null = null;
  /** Whether orderTensor holds the order of `orderEpoch` (and orderedLabels the labels in it). */
  private orderUploaded = false;
  private orderedLabels: Tensor | null = null;

  constructor(dataset: GpuDataset, options: BatchSamplerOptions) {
    const op = `${dataset.name}.batches`;
    if (options === null || typeof options !== 'object') throw new Error(`${op}: options { batchSize, seed } are required`);
    dataset.images.buffer(op);
    checkBatchSize(op, options.batchSize, dataset.count);
    checkSeedWord(op, 'seed', options.seed);
    const dropLast = options.dropLast ?? true;
    const shuffle = options.shuffle ?? true;
    if (typeof dropLast !== 'boolean') throw new Error(`${op}: dropLast must be true or false, got ${describeValue(options.dropLast)}`);
    if (typeof shuffle !== 'boolean') throw new Error(`${op}: shuffle must be true or false, got ${describeValue(options.shuffle)}`);
    this.dataset = dataset;
    this.batchSize = options.batchSize;
    this.seed = options.seed;
    this.dropLast = dropLast;
    this.shuffle = shuffle;
    this.stepsPerEpoch = batchesPerEpoch(dataset.count, this.batchSize, dropLast);
    if (options.augment !== undefined) {
      if (options.augment === null || typeof options.augment !== 'object') {
        throw new Error(`${op}: augment must be an object like { shift: 2, flip: true }, got ${describeValue(options.augment)}`);
      }
      const { shift, flip, fill = dataset.fill } = options.augment;
      const a = resolveAugment(op, { shift, flip, fill });
      const seed = options.augment.seed ?? options.seed;
      checkSeedWord(op, 'augment.seed', seed);
      this.augment = isIdentityAugment(a) ? null : { ...a, seed };
    } else {
      this.augment = null;
    }
    if (options.position !== undefined) this.seek(options.position);
  }

  /** The next batch's position. */
  get position(): DataPosition {
    return { epoch: this.epoch, step: this.step };
  }

  /** Steps handed out since epoch 0 step 0: epoch · stepsPerEpoch + step. */
  get globalStep(): number {
    return this.epoch * this.stepsPerEpoch + this.step;
  }

  /** Moves to a position (the next batch is that one). */
  seek(position: DataPosition): void {
    checkPosition(`${this.dataset.name}.batches seek`, position, this.stepsPerEpoch);
    this.epoch = position.epoch;
    this.step = position.step;
  }

  /** Position and everything that fixes the order, for a checkpoint (plain JSON). */
  state(): SamplerState {
    return {
      epoch: this.epoch,
      step: this.step,
      seed: this.seed,
      batchSize: this.batchSize,
      count: this.dataset.count,
      dropLast: this.dropLast,
      shuffle: this.shuffle,
      augment: this.augment ? { ...this.augment } : null,
    };
  }

  /**
   * Resumes from a `state()`: the position is taken, and the settings that fix the order must match
   * this sampler's (else the resumed run would silently see other data).
   */
  restore(state: SamplerState): void {
    const op = `${this.dataset.name}.batches restore`;
    if (state === null || typeof state !== 'object') throw new Error(`${op}: expected a sampler state, got ${describeValue(state)}`);
    const mine = this.state();
    for (const key of ['seed', 'batchSize', 'count', 'dropLast', 'shuffle'] as const) {
      if (state[key] !== mine[key]) {
        throw new Error(`${op}: the saved data order has ${key} ${describeValue(state[key])}, this sampler has ${describeValue(mine[key])}`);
      }
    }
    const sa = state.augment ?? null;
    const ma = mine.augment;
    const sameAugment = sa === null || ma === null ? sa === ma
      : sa.shift === ma.shift && sa.flipProbability === ma.flipProbability && sa.fill === ma.fill && sa.seed === ma.seed;
    if (!sameAugment) {
      throw new Error(`${op}: the saved augmentation ${JSON.stringify(state.augment ?? null)} differs from this sampler's ${JSON.stringify(mine.augment)}`);
    }
    this.seek({ epoch: state.epoch, step: state.step });
  }

  /** The dataset indices of step `step` of epoch `epoch`, on the host (for checks and logging). */
  indices(epoch: number, step: number): Int32Array {
    checkPosition(`${this.dataset.name}.batches indices`, { epoch, step }, this.stepsPerEpoch);
    const order = epoch === this.orderEpoch && this.order ? this.order : this.orderOf(epoch);
    const start = step * this.batchSize;
    return order.slice(start, Math.min(start + this.batchSize, this.dataset.count));
  }

  /** The next training batch; the caller disposes images and labels. */
  next(): TrainBatch {
    const { epoch, step } = this;
    const globalStep = this.globalStep;
    const start = step * this.batchSize;
    const end = Math.min(start + this.batchSize, this.dataset.count);
    const a = this.augment;
    // First (its once-per-epoch upload submits the work recorded before it), then this step's copies.
    const gpuOrder = this.orderOnGpu(epoch);
    let images: Tensor;
    if (a) {
      const index = slice(gpuOrder.order, 0, start, end);
      try {
        images = augmentImages(this.dataset.images, { shift: a.shift, flip: a.flipProbability, fill: a.fill, seed: a.seed, step: globalStep, index });
      } finally {
        index.dispose();
      }
    } else {
      images = this.dataset.imageRows(this.orderOnHost(epoch), start, end);
    }
    const labels = Tensor.empty([end - start], 'i32');
    engine().copy(gpuOrder.labels.buffer('batches'), start * 4, labels.buffer('batches'), 0, (end - start) * 4);
    const batch: Batch = { images, labels };
    this.step++;
    if (this.step === this.stepsPerEpoch) {
      this.step = 0;
      this.epoch++;
    }
    return { ...batch, epoch, step, globalStep };
  }

  /** The batches left in the current epoch (all of them from step 0), ending at the epoch boundary. */
  *epochBatches(): Generator<TrainBatch> {
    const epoch = this.epoch;
    while (this.epoch === epoch) yield this.next();
  }

  /** Releases the order buffer (the dataset stays). */
  dispose(): void {
    this.orderTensor?.dispose();
    this.orderTensor = null;
    this.orderedLabels?.dispose();
    this.orderedLabels = null;
    this.order = null;
    this.orderEpoch = -1;
    this.orderUploaded = false;
  }

  private orderOf(epoch: number): Int32Array {
    if (!this.shuffle) {
      const order = new Int32Array(this.dataset.count);
      for (let i = 0; i < order.length; i++) order[i] = i;
      return order;
    }
    return epochPermutation(this.dataset.count, this.seed, epoch);
  }

  /** The epoch's order on the host, computed once per epoch. */
  private orderOnHost(epoch: number): Int32Array {
    if (this.orderEpoch !== epoch || !this.order) {
      this.order = this.orderOf(epoch);
      this.orderEpoch = epoch;
      this.orderUploaded = false;
    }
    return this.order;
  }

  /**
   * The epoch's order on the GPU and the labels in that order, made once per epoch: the order is
   * uploaded into a reused buffer, the labels gathered by it (a step's labels are then one copy).
   */
  private orderOnGpu(epoch: number): { order: Tensor; labels: Tensor } {
    const order = this.orderOnHost(epoch);
    if (!this.orderTensor || this.orderTensor.isDisposed) {
      this.orderTensor = keep(Tensor.empty([this.dataset.count], 'i32'));
      this.orderUploaded = false;
    }
    if (!this.orderUploaded || !this.orderedLabels) {
      this.orderTensor.assign(order);
      this.orderedLabels?.dispose();
      this.orderedLabels = keep(indexSelect(this.dataset.labels, 0, this.orderTensor));
      this.orderUploaded = true;
    }
    return { order: this.orderTensor, labels: this.orderedLabels };
  }
}

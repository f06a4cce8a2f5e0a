/**
 * The in-memory format every image-classification data source of the lab produces (Fashion-MNIST
 * from IDX files, the seeded synthetic set), so trainers and analyses never care where data came from.
 *
 * Images are a Float32Array in [0, 1], sample-major, each sample C × H × W (channel-major, C = 1
 * for the grayscale sets here): pixel (c, y, x) of sample i is at ((i·C + c)·H + y)·W + x. Byte
 * images are divided by 255 once at load time; any mean/std standardisation is the model's business
 * (FASHION_MNIST_MEAN / _STD are given for that). Labels are an Int32Array of class indices
 * 0 .. numClasses−1, which is what the i32 cross-entropy kernels take.
 */

export interface ImageSplit {
  /** count × channels × height × width values in [0, 1]. */
  readonly images: Float32Array;
  /** count class indices in [0, numClasses). */
  readonly labels: Int32Array;
  readonly count: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

export interface ImageClassificationDataset {
  /** 'fashion-mnist', 'synthetic', ... */
  readonly name: string;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly train: ImageSplit;
  readonly test: ImageSplit;
}

/** Values per sample: channels × height × width. */
export function sampleSize(split: Pick<ImageSplit, 'channels' | 'height' | 'width'>): number {
  return split.channels * split.height * split.width;
}

/** How many samples of each class a split holds. */
export function classCounts(labels: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

/** Bytes 0..255 to floats in [0, 1]. */
export function bytesToUnitFloats(bytes: Uint8Array, count = bytes.length): Float32Array {
  const out = new Float32Array(count);
  const scale = 1 / 255;
  for (let i = 0; i < count; i++) out[i] = bytes[i] * scale;
  return out;
}

/**
 * Checks a split's internal consistency (array lengths, label range) and throws an Error naming
 * `what` and the problem. Loaders call it before handing a split out.
 */
export function checkSplit(what: string, split: ImageSplit, numClasses: number): void {
  const { count, channels, height, width } = split;
  for (const [field, v] of Object.entries({ count, channels, height, width })) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${what}: ${field} must be a non-negative integer, got ${v}`);
  }
  const per = channels * height * width;
  if (split.images.length !== count * per) {
    throw new Error(`${what}: images hold ${split.images.length} values, expected count × C × H × W = ${count} × ${channels} × ${height} × ${width} = ${count * per}`);
  }
  if (split.labels.length !== count) throw new Error(`${what}: ${split.labels.length} labels for ${count} images`);
  for (let i = 0; i < count; i++) {
    const y = split.labels[i];
    if (y < 0 || y >= numClasses) throw new Error(`${what}: label ${y} at index ${i} is outside 0..${numClasses - 1}`);
  }
}

/**
 * Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): 60000 train + 10000 test grayscale 28×28 images of
 * 10 clothing classes, in four IDX files.
 *
 * Node: `loadFashionMnist({ dir?, limit? })` reads the files from `dir`, else the directory in the
 * environment variable WGTRAIN_FASHION_MNIST_DIR, else /usr/share/datasets/fashion-mnist (where
 * Debian's `dataset-fashion-mnist` package installs them). Each file may be gzip-compressed
 * (the `.gz` name, tried first) or not (the name without `.gz`).
 * Browser: `fashionMnistFromBytes(...)` takes the four files' bytes (e.g. from fetch), .gz or raw;
 * `fetchFashionMnist(baseUrl)` fetches them.
 *
 * Output: an ImageClassificationDataset (see dataset.ts): images f32 in [0, 1] (byte / 255), labels i32.
 */
import { bytesToUnitFloats, checkSplit, type ImageClassificationDataset, type ImageSplit } from './dataset.js';
import { decodeIdx, loadIdxFile, type IdxArray } from './idx.js';
import { envVar } from '../../runtime/env.js';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export const FASHION_MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;

/**
 * Each file's decompressed size in the real data set (IDX header + data): the most the readers
 * accept, so a corrupted header or a gzip bomb dropped in place of a file stops at once.
 */
export const FASHION_MNIST_MAX_BYTES = {
  trainImages: 16 + 60000 * 28 * 28,
  trainLabels: 8 + 60000,
  testImages: 16 + 10000 * 28 * 28,
  testLabels: 8 + 10000,
} as const;

export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_DIR_ENV = 'WGTRAIN_FASHION_MNIST_DIR';

/**
 * Per-pixel mean and standard deviation of the training images in [0, 1] units, for models that
 * standardise their input (checked against the real files in tests/idx.test.ts).
 */
export const FASHION_MNIST_MEAN = 0.286;
export const FASHION_MNIST_STD = 0.353;

export interface FashionMnistOptions {
  /** Directory with the four files. Default: $WGTRAIN_FASHION_MNIST_DIR, else DEFAULT_FASHION_MNIST_DIR. */
  dir?: string;
  /**
   * Keep only the first samples of each split: a number applies to both splits, or give them
   * separately. The files are already in random order, so a prefix is a fair sample.
   */
  limit?: number | { train?: number; test?: number };
}

export type FashionMnistBytes = Record<keyof typeof FASHION_MNIST_FILES, Uint8Array | ArrayBuffer>;

/** The directory the Node loader reads: option, then environment variable, then the Debian path. */
export function fashionMnistDir(dir?: string): string {
  if (dir !== undefined) return dir;
  const env = envVar(FASHION_MNIST_DIR_ENV);
  return env && env.length > 0 ? env : DEFAULT_FASHION_MNIST_DIR;
}

/** Node: loads Fashion-MNIST from disk (see the module comment for where it looks). */
export async function loadFashionMnist(options: FashionMnistOptions = {}): Promise<ImageClassificationDataset> {
  const limits = resolveLimits(options.limit);
  const dir = fashionMnistDir(options.dir);
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  if (!existsSync(dir)) {
    throw new Error(
      `loadFashionMnist: directory ${dir} does not exist (give { dir }, set ${FASHION_MNIST_DIR_ENV}, ` +
        `or on Debian: apt-get install dataset-fashion-mnist)`,
    );
  }
  const find = (file: string): string => {
    const candidates = [join(dir, file), join(dir, file.replace(/\.gz$/, ''))];
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new Error(`loadFashionMnist: ${file} not found in ${dir} (looked for ${candidates.join(' and ')})`);
    return found;
  };
  const f = FASHION_MNIST_FILES;
  const max = FASHION_MNIST_MAX_BYTES;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    loadIdxFile(find(f.trainImages), 'images', { maxBytes: max.trainImages }),
    loadIdxFile(find(f.trainLabels), 'labels', { maxBytes: max.trainLabels }),
    loadIdxFile(find(f.testImages), 'images', { maxBytes: max.testImages }),
    loadIdxFile(find(f.testLabels), 'labels', { maxBytes: max.testLabels }),
  ]);
  return assemble(trainImages, trainLabels, testImages, testLabels, limits);
}

/** Browser or Node: Fashion-MNIST from the four files' bytes (.gz or raw). */
export async function fashionMnistFromBytes(
  files: FashionMnistBytes,
  options: Pick<FashionMnistOptions, 'limit'> = {},
): Promise<ImageClassificationDataset> {
  const limits = resolveLimits(options.limit);
  const f = FASHION_MNIST_FILES;
  const max = FASHION_MNIST_MAX_BYTES;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    decodeIdx(files.trainImages, f.trainImages, 'images', { maxBytes: max.trainImages }),
    decodeIdx(files.trainLabels, f.trainLabels, 'labels', { maxBytes: max.trainLabels }),
    decodeIdx(files.testImages, f.testImages, 'images', { maxBytes: max.testImages }),
    decodeIdx(files.testLabels, f.testLabels, 'labels', { maxBytes: max.testLabels }),
  ]);
  return assemble(trainImages, trainLabels, testImages, testLabels, limits);
}

/** Browser: fetches the four .gz files from `baseUrl` (a directory URL) and decodes them. */
export async function fetchFashionMnist(baseUrl: string, options: Pick<FashionMnistOptions, 'limit'> = {}): Promise<ImageClassificationDataset> {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  const get = async (file: string) => {
    const url = base + file;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`fetchFashionMnist: ${url}: HTTP ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  const f = FASHION_MNIST_FILES;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    get(f.trainImages),
    get(f.trainLabels),
    get(f.testImages),
    get(f.testLabels),
  ]);
  return fashionMnistFromBytes({ trainImages, trainLabels, testImages, testLabels }, options);
}

interface Limits {
  train: number;
  test: number;
}

function resolveLimits(limit: FashionMnistOptions['limit']): Limits {
  const check = (field: string, v: number | undefined): number => {
    if (v === undefined) return Infinity;
    if (!Number.isInteger(v) || v <= 0) throw new Error(`Fashion-MNIST: ${field} must be a positive integer, got ${v}`);
    return v;
  };
  if (limit === undefined || typeof limit === 'number') {
    const l = check('limit', limit);
    return { train: l, test: l };
  }
  return { train: check('limit.train', limit.train), test: check('limit.test', limit.test) };
}

/** Pairs images with labels, checks the pair, and converts the first `limit` samples. */
function split(images: IdxArray, labels: IdxArray, splitName: string, limit: number): ImageSplit {
  const [n, height, width] = images.dims;
  const nLabels = labels.dims[0];
  if (n !== nLabels) {
    throw new Error(`Fashion-MNIST ${splitName} split: ${images.name} has ${n} images but ${labels.name} has ${nLabels} labels`);
  }
  const count = Math.min(n, limit);
  const per = height * width;
  const labelArray = new Int32Array(count);
  const numClasses = FASHION_MNIST_CLASSES.length;
  for (let i = 0; i < count; i++) {
    const y = labels.data[i];
    if (y >= numClasses) throw new Error(`${labels.name}: label ${y} at index ${i} is outside 0..${numClasses - 1}`);
    labelArray[i] = y;
  }
  const out: ImageSplit = { images: bytesToUnitFloats(images.data, count * per), labels: labelArray, count, channels: 1, height, width };
  checkSplit(`Fashion-MNIST ${splitName} split`, out, numClasses);
  return out;
}

function assemble(trainImages: IdxArray, trainLabels: IdxArray, testImages: IdxArray, testLabels: IdxArray, limits: Limits): ImageClassificationDataset {
  const train = split(trainImages, trainLabels, 'train', limits.train);
  const test = split(testImages, testLabels, 'test', limits.test);
  if (train.height !== test.height || train.width !== test.width) {
    throw new Error(
      `Fashion-MNIST: ${trainImages.name} has ${train.height}×${train.width} images but ${testImages.name} has ${test.height}×${test.width}`,
    );
  }
  return { name: 'fashion-mnist', numClasses: FASHION_MNIST_CLASSES.length, classNames: FASHION_MNIST_CLASSES, train, test };
}

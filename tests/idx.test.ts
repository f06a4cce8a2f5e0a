// IDX reading (src/lab/data/idx.ts) and the Fashion-MNIST loader (src/lab/data/fashion-mnist.ts):
// small hand-built fixtures in a temp dir for every error path, then the real files from Debian's
// dataset-fashion-mnist package.
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { classCounts } from '../src/lab/data/dataset.js';
import {
  DEFAULT_FASHION_MNIST_DIR,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR_ENV,
  FASHION_MNIST_FILES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  fashionMnistDir,
  fashionMnistFromBytes,
  loadFashionMnist,
} from '../src/lab/data/fashion-mnist.js';
import { decodeIdx, gunzipBytes, isGzip, loadIdxFile, parseIdx } from '../src/lab/data/idx.js';

/** An IDX file: magic 0x0000 08 <ndims>, big-endian dims, then the bytes. */
function idxBytes(dims: number[], data: ArrayLike<number>, typeCode = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = typeCode;
  out[3] = dims.length;
  dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

const imagesIdx = (n: number, rows: number, cols: number, seed = 1) =>
  idxBytes([n, rows, cols], Array.from({ length: n * rows * cols }, (_, i) => (i * 37 + seed * 11) % 256));
const labelsIdx = (labels: number[]) => idxBytes([labels.length], labels);

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wgtrain-idx-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Writes a Fashion-MNIST-shaped directory; each entry raw or gzipped, or left out with null. */
function writeFashionDir(
  name: string,
  files: Partial<Record<keyof typeof FASHION_MNIST_FILES, Uint8Array | null>>,
  gzip = true,
): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const defaults = {
    trainImages: imagesIdx(6, 3, 2),
    trainLabels: labelsIdx([0, 1, 2, 9, 4, 5]),
    testImages: imagesIdx(4, 3, 2, 2),
    testLabels: labelsIdx([3, 3, 7, 8]),
  };
  for (const key of Object.keys(FASHION_MNIST_FILES) as Array<keyof typeof FASHION_MNIST_FILES>) {
    const bytes = key in files ? files[key] : defaults[key];
    if (bytes === null || bytes === undefined) continue;
    const fileName = gzip ? FASHION_MNIST_FILES[key] : FASHION_MNIST_FILES[key].replace(/\.gz$/, '');
    writeFileSync(join(dir, fileName), gzip ? gzipSync(bytes) : bytes);
  }
  return dir;
}

describe('parseIdx', () => {
  test('images and labels: dims big-endian, data row-major, a view without copy', () => {
    const bytes = idxBytes([2, 3, 4], Array.from({ length: 24 }, (_, i) => i * 10));
    const a = parseIdx(bytes, 'x');
    expect(a.magic).toBe(0x803);
    expect(a.dims).toEqual([2, 3, 4]);
    expect(Array.from(a.data)).toEqual(Array.from({ length: 24 }, (_, i) => i * 10));
    expect(a.data.buffer).toBe(bytes.buffer);
    // a dimension above 255 exercises the big-endian read
    const big = parseIdx(idxBytes([300], new Array(300).fill(7)), 'y', 'labels');
    expect(big.magic).toBe(0x801);
    expect(big.dims).toEqual([300]);
    // an ArrayBuffer is accepted too
    expect(parseIdx(labelsIdx([1, 2]).buffer as ArrayBuffer, 'z').dims).toEqual([2]);
  });

  test('truncated data, truncated header, too short for a magic number', () => {
    const full = imagesIdx(3, 2, 4);
    expect(() => parseIdx(full.subarray(0, full.length - 4), 'a.idx')).toThrow(
      /^a\.idx: truncated IDX file: the header declares 3 × 2 × 4 = 24 bytes of data, only 20 follow the 16-byte header$/,
    );
    expect(() => parseIdx(full.subarray(0, 10), 'b.idx')).toThrow(/b\.idx: truncated IDX header: 3 dimensions need 16 header bytes, the file has 10/);
    expect(() => parseIdx(full.subarray(0, 3), 'c.idx')).toThrow(/c\.idx: truncated IDX file: 3 bytes, shorter than the 4-byte magic number/);
  });

  test('extra bytes after the declared data are reported as corruption', () => {
    const full = labelsIdx([1, 2, 3]);
    const longer = new Uint8Array(full.length + 2);
    longer.set(full);
    expect(() => parseIdx(longer, 'l.idx')).toThrow(/l\.idx: corrupted IDX file: the header declares 3 = 3 bytes of data, but 5 follow the 8-byte header \(2 extra\)/);
  });

  test('wrong or bad magic numbers, unsupported element types', () => {
    expect(() => parseIdx(labelsIdx([1]), 'labels.idx', 'images')).toThrow(
      /labels\.idx: wrong magic number 0x00000801, expected 0x00000803 \(u8 images \[n, rows, cols\]\)/,
    );
    expect(() => parseIdx(imagesIdx(1, 1, 1), 'images.idx', 'labels')).toThrow(/wrong magic number 0x00000803, expected 0x00000801 \(u8 labels \[n\]\)/);
    const notIdx = new TextEncoder().encode('PK\x03\x04 not an idx file');
    expect(() => parseIdx(notIdx, 'zip.idx')).toThrow(/zip\.idx: bad magic number 0x504b0304: not an IDX file/);
    expect(() => parseIdx(idxBytes([], []), 'zero-dims.idx')).toThrow(/bad magic number 0x00000800/);
    expect(() => parseIdx(idxBytes([2], [0, 0, 0, 0, 0, 0, 0, 0], 0x0d), 'f32.idx')).toThrow(
      /f32\.idx: unsupported IDX element type 0x0d \(only 0x08, unsigned byte, is read\)/,
    );
  });

  test('gzip bytes are refused with a hint (decodeIdx decompresses)', () => {
    const gz = gzipSync(labelsIdx([1, 2]));
    expect(isGzip(gz)).toBe(true);
    expect(isGzip(labelsIdx([1]))).toBe(false);
    expect(() => parseIdx(gz, 'l.gz')).toThrow(/l\.gz: data is gzip-compressed; decompress it first/);
  });
});

describe('decodeIdx (browser path, DecompressionStream)', () => {
  test('raw and gzipped bytes decode to the same array', async () => {
    const raw = imagesIdx(5, 4, 3);
    const a = await decodeIdx(raw, 'raw', 'images');
    const b = await decodeIdx(gzipSync(raw), 'gz', 'images');
    expect(b.dims).toEqual([5, 4, 3]);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });

  test('bad and truncated gzip data name the source', async () => {
    const gz = gzipSync(imagesIdx(5, 4, 3));
    await expect(decodeIdx(gz.subarray(0, gz.length - 6), 'cut.gz')).rejects.toThrow(/^cut\.gz: bad gzip data \(.+\)$/);
    const garbage = new Uint8Array([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff, 0x00, 0x12]);
    await expect(decodeIdx(garbage, 'garbage.gz')).rejects.toThrow(/garbage\.gz: bad gzip data/);
    await expect(gunzipBytes(new Uint8Array([1, 2, 3]), 'nogzip')).rejects.toThrow(/nogzip: bad gzip data \(incorrect header check\)/);
  });

  test('a gzip of a truncated IDX file is still caught by the IDX checks', async () => {
    const raw = imagesIdx(5, 4, 3);
    await expect(decodeIdx(gzipSync(raw.subarray(0, raw.length - 1)), 'short.gz')).rejects.toThrow(
      /short\.gz: truncated IDX file: the header declares 5 × 4 × 3 = 60 bytes of data, only 59 follow/,
    );
  });
});

describe('loadIdxFile (Node)', () => {
  test('reads .gz and raw files alike (decided by content)', async () => {
    const raw = labelsIdx([4, 5, 6]);
    writeFileSync(join(tmp, 'l.idx'), raw);
    writeFileSync(join(tmp, 'l.idx.gz'), gzipSync(raw));
    const a = await loadIdxFile(join(tmp, 'l.idx'), 'labels');
    const b = await loadIdxFile(join(tmp, 'l.idx.gz'), 'labels');
    expect(Array.from(a.data)).toEqual([4, 5, 6]);
    expect(Array.from(b.data)).toEqual([4, 5, 6]);
    expect(b.name).toBe(join(tmp, 'l.idx.gz'));
  });

  test('errors name the path: truncated gzip, bad gzip, wrong magic, missing file', async () => {
    const gz = gzipSync(imagesIdx(8, 5, 5));
    const cut = join(tmp, 'cut-images.gz');
    writeFileSync(cut, gz.subarray(0, gz.length >> 1));
    await expect(loadIdxFile(cut)).rejects.toThrow(new RegExp(`^${escape(cut)}: bad gzip data \\(unexpected end of file\\)$`));
    const bad = join(tmp, 'bad.gz');
    writeFileSync(bad, new Uint8Array([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef]));
    await expect(loadIdxFile(bad)).rejects.toThrow(new RegExp(`${escape(bad)}: bad gzip data`));
    const labels = join(tmp, 'labels-as-images.gz');
    writeFileSync(labels, gzipSync(labelsIdx([1, 2])));
    await expect(loadIdxFile(labels, 'images')).rejects.toThrow(new RegExp(`${escape(labels)}: wrong magic number 0x00000801, expected 0x00000803`));
    await expect(loadIdxFile(join(tmp, 'nope.gz'))).rejects.toThrow(/nope\.gz: cannot read IDX file \(ENOENT/);
  });
});

describe('loadFashionMnist on fixture directories', () => {
  test('shapes, normalisation to [0, 1], labels, class names, limit', async () => {
    const dir = writeFashionDir('ok', {});
    const ds = await loadFashionMnist({ dir });
    expect(ds.name).toBe('fashion-mnist');
    expect(ds.numClasses).toBe(10);
    expect(ds.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(ds.classNames[9]).toBe('Ankle boot');
    const { train, test: testSplit } = ds;
    expect([train.count, train.channels, train.height, train.width]).toEqual([6, 1, 3, 2]);
    expect([testSplit.count, testSplit.height, testSplit.width]).toEqual([4, 3, 2]);
    expect(Array.from(train.labels)).toEqual([0, 1, 2, 9, 4, 5]);
    expect(train.labels).toBeInstanceOf(Int32Array);
    expect(train.images).toBeInstanceOf(Float32Array);
    const bytes = parseIdx(imagesIdx(6, 3, 2), 'ref').data;
    for (let i = 0; i < bytes.length; i++) expect(train.images[i]).toBeCloseTo(bytes[i] / 255, 7);
    const limited = await loadFashionMnist({ dir, limit: 2 });
    expect(limited.train.count).toBe(2);
    expect(limited.train.images.length).toBe(2 * 6);
    expect(Array.from(limited.train.labels)).toEqual([0, 1]);
    expect(limited.test.count).toBe(2);
    const separate = await loadFashionMnist({ dir, limit: { train: 5 } });
    expect([separate.train.count, separate.test.count]).toEqual([5, 4]);
    await expect(loadFashionMnist({ dir, limit: 0 })).rejects.toThrow(/Fashion-MNIST: limit must be a positive integer, got 0/);
    await expect(loadFashionMnist({ dir, limit: { test: 1.5 } })).rejects.toThrow(/limit\.test must be a positive integer, got 1\.5/);
  });

  test('uncompressed files (names without .gz) are found too', async () => {
    const dir = writeFashionDir('raw', {}, false);
    const ds = await loadFashionMnist({ dir });
    expect(ds.train.count).toBe(6);
  });

  test(`the ${FASHION_MNIST_DIR_ENV} environment variable overrides the default directory; the option overrides both`, async () => {
    const dir = writeFashionDir('env', { trainLabels: labelsIdx([7, 7, 7, 7, 7, 7]) });
    const saved = process.env[FASHION_MNIST_DIR_ENV];
    try {
      process.env[FASHION_MNIST_DIR_ENV] = dir;
      expect(fashionMnistDir()).toBe(dir);
      expect(fashionMnistDir('/elsewhere')).toBe('/elsewhere');
      expect(Array.from((await loadFashionMnist()).train.labels)).toEqual([7, 7, 7, 7, 7, 7]);
      delete process.env[FASHION_MNIST_DIR_ENV];
      expect(fashionMnistDir()).toBe(DEFAULT_FASHION_MNIST_DIR);
    } finally {
      if (saved === undefined) delete process.env[FASHION_MNIST_DIR_ENV];
      else process.env[FASHION_MNIST_DIR_ENV] = saved;
    }
  });

  test('image/label count mismatch names both files', async () => {
    const dir = writeFashionDir('mismatch', { trainLabels: labelsIdx([1, 2, 3, 4, 5]) });
    await expect(loadFashionMnist({ dir })).rejects.toThrow(
      /Fashion-MNIST train split: .*train-images-idx3-ubyte\.gz has 6 images but .*train-labels-idx1-ubyte\.gz has 5 labels/,
    );
  });

  test('train/test image sizes that disagree, labels out of range', async () => {
    const dir = writeFashionDir('sizes', { testImages: imagesIdx(4, 2, 3) });
    await expect(loadFashionMnist({ dir })).rejects.toThrow(/Fashion-MNIST: .*train-images-idx3-ubyte\.gz has 3×2 images but .*t10k-images-idx3-ubyte\.gz has 2×3/);
    const dir2 = writeFashionDir('range', { testLabels: labelsIdx([3, 10, 7, 8]) });
    await expect(loadFashionMnist({ dir: dir2 })).rejects.toThrow(/t10k-labels-idx1-ubyte\.gz: label 10 at index 1 is outside 0\.\.9/);
  });

  test('corrupt files inside the directory: truncated, bad gzip, wrong magic', async () => {
    const cut = gzipSync(imagesIdx(6, 3, 2));
    const dirCut = writeFashionDir('cut', {});
    writeFileSync(join(dirCut, FASHION_MNIST_FILES.trainImages), cut.subarray(0, cut.length - 10));
    await expect(loadFashionMnist({ dir: dirCut })).rejects.toThrow(/train-images-idx3-ubyte\.gz: bad gzip data \(unexpected end of file\)/);
    const dirTrunc = writeFashionDir('trunc', { testImages: imagesIdx(4, 3, 2).subarray(0, 30) });
    await expect(loadFashionMnist({ dir: dirTrunc })).rejects.toThrow(/t10k-images-idx3-ubyte\.gz: truncated IDX file: the header declares 4 × 3 × 2 = 24 bytes of data, only 14 follow/);
    const dirSwap = writeFashionDir('swap', { trainLabels: imagesIdx(6, 1, 1) });
    await expect(loadFashionMnist({ dir: dirSwap })).rejects.toThrow(/train-labels-idx1-ubyte\.gz: wrong magic number 0x00000803, expected 0x00000801/);
  });

  test('missing files and directories say where they looked', async () => {
    const dir = writeFashionDir('missing', { testLabels: null });
    await expect(loadFashionMnist({ dir })).rejects.toThrow(/loadFashionMnist: t10k-labels-idx1-ubyte\.gz not found in .*missing \(looked for/);
    await expect(loadFashionMnist({ dir: join(tmp, 'no-such-dir') })).rejects.toThrow(
      /loadFashionMnist: directory .*no-such-dir does not exist \(give \{ dir \}, set WGTRAIN_FASHION_MNIST_DIR, or on Debian: apt-get install dataset-fashion-mnist\)/,
    );
  });

  test('fashionMnistFromBytes (browser path) takes a mix of .gz and raw bytes', async () => {
    const ds = await fashionMnistFromBytes({
      trainImages: gzipSync(imagesIdx(6, 3, 2)),
      trainLabels: labelsIdx([0, 1, 2, 3, 4, 5]),
      testImages: imagesIdx(1, 3, 2),
      testLabels: gzipSync(labelsIdx([9])),
    });
    expect(ds.train.count).toBe(6);
    expect(Array.from(ds.test.labels)).toEqual([9]);
  });
});

// ---------------------------------------------------------------------------------------------
// The real data set. Debian's dataset-fashion-mnist package installs it (CI installs it); the test
// is skipped, loudly, only when the files are absent.
// ---------------------------------------------------------------------------------------------
const realDir = fashionMnistDir();
const haveReal = existsSync(join(realDir, FASHION_MNIST_FILES.trainImages));
if (!haveReal) {
  console.warn(
    `tests/idx.test.ts: SKIPPING the real Fashion-MNIST checks: ${join(realDir, FASHION_MNIST_FILES.trainImages)} not found ` +
      `(apt-get install dataset-fashion-mnist, or set ${FASHION_MNIST_DIR_ENV})`,
  );
}

describe.skipIf(!haveReal)('real Fashion-MNIST files', () => {
  test('60000 train / 10000 test, 28×28, labels 0..9 balanced, pixels in [0, 1], known statistics', async () => {
    const ds = await loadFashionMnist();
    const { train, test: testSplit } = ds;
    expect([train.count, train.channels, train.height, train.width]).toEqual([60000, 1, 28, 28]);
    expect([testSplit.count, testSplit.height, testSplit.width]).toEqual([10000, 28, 28]);
    expect(train.images.length).toBe(60000 * 784);
    expect(classCounts(train.labels, 10)).toEqual(new Array(10).fill(6000));
    expect(classCounts(testSplit.labels, 10)).toEqual(new Array(10).fill(1000));
    // the first training image is an ankle boot
    expect(train.labels[0]).toBe(9);
    let lo = Infinity;
    let hi = -Infinity;
    let sum = 0;
    let sum2 = 0;
    const im = train.images;
    for (let i = 0; i < im.length; i++) {
      const v = im[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      sum += v;
      sum2 += v * v;
    }
    expect(lo).toBe(0);
    expect(hi).toBe(1);
    const mean = sum / train.images.length;
    const std = Math.sqrt(sum2 / train.images.length - mean * mean);
    expect(Math.abs(mean - FASHION_MNIST_MEAN)).toBeLessThan(1e-3);
    expect(Math.abs(std - FASHION_MNIST_STD)).toBeLessThan(1e-3);
  });

  test('the browser path (DecompressionStream) decodes the real files like the Node path', async () => {
    const path = join(realDir, FASHION_MNIST_FILES.testLabels);
    const viaNode = await loadIdxFile(path, 'labels');
    const viaWeb = await decodeIdx(readFileSync(path), 'labels.gz', 'labels');
    expect(viaWeb.dims).toEqual([10000]);
    expect(Buffer.from(viaWeb.data).equals(Buffer.from(viaNode.data))).toBe(true);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

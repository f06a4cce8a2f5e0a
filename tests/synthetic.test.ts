// The seeded synthetic image-classification set (src/lab/data/synthetic.ts): determinism, shapes,
// class balance, and "learnable but not trivial" measured with a nearest-class-mean classifier.
import { describe, expect, test } from 'vitest';
import { classCounts, type ImageClassificationDataset } from '../src/lab/data/dataset.js';
import { makeSyntheticImages, SeededRng } from '../src/lab/data/synthetic.js';

const small = { trainSize: 250, testSize: 73 };

function sameArrays(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Test accuracy of the nearest class mean (a linear classifier) fitted on the train split. */
function nearestMeanAccuracy(ds: ImageClassificationDataset): number {
  const { train, test: testSplit, numClasses: K } = ds;
  const D = train.channels * train.height * train.width;
  const means = new Float64Array(K * D);
  const counts = classCounts(train.labels, K);
  for (let i = 0; i < train.count; i++) {
    const y = train.labels[i];
    for (let j = 0; j < D; j++) means[y * D + j] += train.images[i * D + j] / counts[y];
  }
  let correct = 0;
  for (let i = 0; i < testSplit.count; i++) {
    let best = -1;
    let bestDist = Infinity;
    for (let k = 0; k < K; k++) {
      let d = 0;
      for (let j = 0; j < D; j++) {
        const e = testSplit.images[i * D + j] - means[k * D + j];
        d += e * e;
      }
      if (d < bestDist) {
        bestDist = d;
        best = k;
      }
    }
    if (best === testSplit.labels[i]) correct++;
  }
  return correct / testSplit.count;
}

describe('makeSyntheticImages', () => {
  test('same seed, same data; another seed, other data', () => {
    const a = makeSyntheticImages({ seed: 5, ...small });
    const b = makeSyntheticImages({ seed: 5, ...small });
    const c = makeSyntheticImages({ seed: 6, ...small });
    expect(sameArrays(a.train.images, b.train.images)).toBe(true);
    expect(sameArrays(a.train.labels, b.train.labels)).toBe(true);
    expect(sameArrays(a.test.images, b.test.images)).toBe(true);
    expect(sameArrays(a.train.images, c.train.images)).toBe(false);
    expect(sameArrays(a.train.labels, c.train.labels)).toBe(false);
    // seeds above 2^32 are distinct from their low 32 bits
    const d = makeSyntheticImages({ seed: 5 + 2 ** 32, ...small });
    expect(sameArrays(a.train.images, d.train.images)).toBe(false);
  });

  test('train and test are different samples, and the test split does not depend on the train size', () => {
    const a = makeSyntheticImages({ seed: 3, trainSize: 100, testSize: 100 });
    expect(sameArrays(a.train.images, a.test.images)).toBe(false);
    const b = makeSyntheticImages({ seed: 3, trainSize: 37, testSize: 100 });
    expect(sameArrays(a.test.images, b.test.images)).toBe(true);
  });

  test('shapes, dtypes, pixel range and the dataset format of the Fashion-MNIST loader', () => {
    const ds = makeSyntheticImages({ seed: 1, numClasses: 4, trainSize: 30, testSize: 9, height: 9, width: 13 });
    expect(ds.name).toBe('synthetic');
    expect(ds.numClasses).toBe(4);
    expect(ds.classNames).toEqual(['class 0', 'class 1', 'class 2', 'class 3']);
    expect([ds.train.count, ds.train.channels, ds.train.height, ds.train.width]).toEqual([30, 1, 9, 13]);
    expect(ds.train.images).toBeInstanceOf(Float32Array);
    expect(ds.train.labels).toBeInstanceOf(Int32Array);
    expect(ds.train.images.length).toBe(30 * 9 * 13);
    expect(ds.test.images.length).toBe(9 * 9 * 13);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of ds.train.images) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThan(0.5); // not a blank image set
    // defaults: 28×28, 10 classes
    const d = makeSyntheticImages({ seed: 1, trainSize: 10, testSize: 10 });
    expect([d.train.height, d.train.width, d.numClasses]).toEqual([28, 28, 10]);
  });

  test('balanced labels: every class ⌊n/K⌋ or ⌈n/K⌉ times, in shuffled order', () => {
    const ds = makeSyntheticImages({ seed: 9, numClasses: 10, trainSize: 1000, testSize: 73 });
    expect(classCounts(ds.train.labels, 10)).toEqual(new Array(10).fill(100));
    const testCounts = classCounts(ds.test.labels, 10);
    expect(testCounts.reduce((a, b) => a + b, 0)).toBe(73);
    for (const c of testCounts) expect([7, 8]).toContain(c);
    // shuffled: not the round-robin 0, 1, 2, ... order it was built from
    const firstTwenty = Array.from(ds.train.labels.subarray(0, 20));
    expect(firstTwenty).not.toEqual(Array.from({ length: 20 }, (_, i) => i % 10));
  });

  test('learnable but not trivial: a linear (nearest-class-mean) classifier is well above chance and well below 100%', () => {
    const ds = makeSyntheticImages({ seed: 11, trainSize: 2000, testSize: 500 });
    const acc = nearestMeanAccuracy(ds);
    expect(acc).toBeGreaterThan(0.2); // chance is 0.1
    expect(acc).toBeLessThan(0.8);
    // with neither noise nor shifts nor contrast jitter the same classifier is perfect: the difficulty comes from those
    const easy = makeSyntheticImages({ seed: 11, trainSize: 200, testSize: 200, noise: 0, maxShift: 0, contrastJitter: 0 });
    expect(nearestMeanAccuracy(easy)).toBe(1);
  });

  test('bad options name the field', () => {
    const bad = (o: object) => () => makeSyntheticImages({ seed: 1, ...o } as never);
    expect(bad({ seed: -1 })).toThrow(/makeSyntheticImages: seed must be a non-negative safe integer, got -1/);
    expect(bad({ seed: 1.5 })).toThrow(/seed must be a non-negative safe integer, got 1\.5/);
    expect(bad({ numClasses: 1 })).toThrow(/numClasses must be an integer >= 2, got 1/);
    expect(bad({ trainSize: -3 })).toThrow(/trainSize must be an integer >= 0, got -3/);
    expect(bad({ height: 0 })).toThrow(/height must be an integer >= 1, got 0/);
    expect(bad({ grid: 1 })).toThrow(/grid must be an integer >= 2, got 1/);
    expect(bad({ noise: -0.1 })).toThrow(/noise must be in \[0, Infinity\], got -0\.1/);
    expect(bad({ shared: 1 })).toThrow(/shared must be in \[0, 1\), got 1/);
    expect(bad({ contrastJitter: 1 })).toThrow(/contrastJitter must be in \[0, 1\), got 1/);
    expect(() => makeSyntheticImages(undefined as never)).toThrow(/makeSyntheticImages: options must be an object with a seed/);
  });
});

describe('SeededRng', () => {
  test('deterministic per (seed, stream); uniform and normal moments are sane', () => {
    const a = new SeededRng(42, 0);
    const b = new SeededRng(42, 0);
    const c = new SeededRng(42, 1);
    const xa = Array.from({ length: 8 }, () => a.nextU32());
    expect(xa).toEqual(Array.from({ length: 8 }, () => b.nextU32()));
    expect(xa).not.toEqual(Array.from({ length: 8 }, () => c.nextU32()));
    const r = new SeededRng(7);
    const n = 20000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      if (!(u >= 0 && u < 1)) outside++;
      su += u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(outside).toBe(0);
    // 5-sigma bounds: mean of U[0,1) has sd 0.289/sqrt(n); the normal's mean sd 1/sqrt(n), its variance's sd sqrt(2/n)
    expect(Math.abs(su / n - 0.5)).toBeLessThan((5 * 0.289) / Math.sqrt(n));
    expect(Math.abs(sn / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(sn2 / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 7000; i++) counts[r.int(7)]++;
    for (const k of counts) expect(Math.abs(k - 1000)).toBeLessThan(5 * Math.sqrt(1000));
  });
});

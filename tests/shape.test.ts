/**
 * Shape ops against CPU references. Forward results are copies, so they must match exactly
 * (bit for bit, NaN payloads and -0 included); gradients are compared with central finite
 * differences of a float64 reference under a weighted-sum loss.
 */
import { describe, expect, test } from 'vitest';
import {
  concat,
  expand,
  flatten,
  indexSelect,
  memoryStats,
  permute,
  reshape,
  slice,
  squeeze,
  tensor,
  Tensor,
  tidy,
  transpose,
  unsqueeze,
  type Shape,
} from '../src/index.js';
import { Rng } from '../src/nn/functional/creation.js';
import { useGpu } from './helpers/gpu.js';
import { expectClose, f32, numericGrad, randomArray, randomInts, weightedSum } from './helpers/check.js';

useGpu();

// ---- CPU references (plain index arithmetic, independent of the kernels' stride tricks) ----

const size = (s: Shape) => s.reduce((a, b) => a * b, 1);

function unravel(i: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

function ravel(idx: readonly number[], shape: Shape): number {
  let i = 0;
  for (let k = 0; k < shape.length; k++) i = i * shape[k] + idx[k];
  return i;
}

/** Builds an output of `shape` whose element at multi-index idx is x[source(idx)]. */
function refMap(x: ArrayLike<number>, xShape: Shape, shape: Shape, source: (idx: number[]) => number[] | null): number[] {
  const out = new Array<number>(size(shape));
  for (let i = 0; i < out.length; i++) {
    const src = source(unravel(i, shape));
    out[i] = src === null ? 0 : x[ravel(src, xShape)];
  }
  return out;
}

function refPermute(x: ArrayLike<number>, shape: Shape, perm: number[]): number[] {
  const p = perm.map((d) => (d < 0 ? d + shape.length : d));
  const outShape = p.map((d) => shape[d]);
  return refMap(x, shape, outShape, (idx) => {
    const src = new Array<number>(shape.length);
    p.forEach((d, i) => (src[d] = idx[i]));
    return src;
  });
}

function refSlice(x: ArrayLike<number>, shape: Shape, axis: number, start: number, end: number): number[] {
  const outShape = [...shape];
  outShape[axis] = end - start;
  return refMap(x, shape, outShape, (idx) => idx.map((v, k) => (k === axis ? v + start : v)));
}

function refConcat(xs: ArrayLike<number>[], shapes: Shape[], axis: number): number[] {
  const outShape = [...shapes[0]];
  outShape[axis] = shapes.reduce((a, s) => a + s[axis], 0);
  const out = new Array<number>(size(outShape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, outShape);
    let t = 0;
    let at = idx[axis];
    while (at >= shapes[t][axis]) at -= shapes[t++][axis];
    out[i] = xs[t][ravel(idx.map((v, k) => (k === axis ? at : v)), shapes[t])];
  }
  return out;
}

function refIndexSelect(x: ArrayLike<number>, shape: Shape, axis: number, index: ArrayLike<number>): number[] {
  const outShape = [...shape];
  outShape[axis] = index.length;
  return refMap(x, shape, outShape, (idx) => {
    const r = index[idx[axis]];
    return r < 0 || r >= shape[axis] ? null : idx.map((v, k) => (k === axis ? r : v));
  });
}

function refExpand(x: ArrayLike<number>, shape: Shape, target: Shape): number[] {
  const lead = target.length - shape.length;
  return refMap(x, shape, target, (idx) => shape.map((d, k) => (d === 1 ? 0 : idx[k + lead])));
}

// ---- helpers ----

const f32Data = (shape: Shape, seed: number) => f32(randomArray(size(shape), seed, -2, 2));
/** i32 data that uses the sign bit, so a conversion anywhere would show. */
const i32Data = (shape: Shape, seed: number) => Int32Array.from(randomInts(size(shape), seed, 2000), (v) => v - 1000);

function randomPerm(n: number, rng: Rng): number[] {
  const p = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

async function expectExact(t: Tensor, shape: Shape, expected: number[]): Promise<void> {
  expect(t.shape).toEqual(shape);
  expect(Array.from(await t.toArray())).toEqual(expected);
}

/**
 * Gradient check: inputs of `shapes` (requiring grad), loss Σ w·op(inputs) with random w, the GPU
 * gradient against central differences of the float64 reference `ref`.
 */
async function checkGrad(shapes: Shape[], op: (xs: Tensor[]) => Tensor, ref: (xs: Float64Array[]) => number[], seed: number): Promise<void> {
  const xs64 = shapes.map((s, i) => randomArray(size(s), seed + i));
  const xs = xs64.map((d, i) => tensor(f32(d), shapes[i], { requiresGrad: true }));
  const y = op(xs);
  const w = randomArray(y.size, seed + 100);
  const wt = tensor(f32(w), y.shape);
  y.backward({ grad: wt });
  const expected = numericGrad((inputs) => weightedSum(ref(inputs), w), xs64);
  for (let i = 0; i < xs.length; i++) {
    expect(xs[i].grad, `grad of input ${i}`).not.toBeNull();
    expectClose(await xs[i].grad!.toArray(), expected[i], { rtol: 1e-4, atol: 1e-5, what: `grad of input ${i} [${shapes[i]}]` });
  }
  for (const t of [...xs, y, wt]) t.dispose();
}

// ---- reshape and other views ----

describe('views', () => {
  test('reshape shares storage, resolves -1 and survives disposal of the source', async () => {
    const data = f32Data([3, 17, 5], 1);
    const x = tensor(data, [3, 17, 5]);
    const before = memoryStats().liveBuffers;
    const v = reshape(x, [-1, 5]);
    const f = flatten(x);
    const u = unsqueeze(x, -1);
    const sq = squeeze(u);
    expect(memoryStats().liveBuffers).toBe(before);
    expect(v.shape).toEqual([51, 5]);
    expect(f.shape).toEqual([255]);
    expect(u.shape).toEqual([3, 17, 5, 1]);
    expect(sq.shape).toEqual([3, 17, 5]);
    expect(flatten(x, 1).shape).toEqual([3, 85]);
    expect(unsqueeze(x, 0).shape).toEqual([1, 3, 17, 5]);
    expect(squeeze(u, 3).shape).toEqual([3, 17, 5]);
    x.dispose();
    expect(Array.from(await v.toArray())).toEqual(Array.from(data));
    for (const t of [v, f, u, sq]) t.dispose();
  });

  test('reshape backward gives the grad back in the input shape', async () => {
    await checkGrad([[3, 4]], ([x]) => reshape(x, [2, -1, 3]), ([x]) => Array.from(x), 11);
  });

  test('view errors name the op and the shapes', () => {
    const x = tensor(f32Data([2, 3], 2), [2, 3]);
    expect(() => reshape(x, [-1, -1])).toThrow(/reshape: only one dimension can be -1, got \[-1,-1\]/);
    expect(() => reshape(x, [4, -1])).toThrow(/reshape: cannot reshape \[2,3\] \(6 elements\) into \[4,-1\]/);
    expect(() => reshape(x, [5])).toThrow(/reshape: cannot view shape \[2,3\] \(6 elements\) as \[5\]/);
    expect(() => squeeze(x, 1)).toThrow(/squeeze: dimension 1 of shape \[2,3\] has size 3, not 1/);
    expect(() => unsqueeze(x, 4)).toThrow(/unsqueeze: axis 4 is out of range for a tensor of rank 3/);
    expect(() => flatten(x, 1, 0)).toThrow(/flatten: startDim 1 comes after endDim 0/);
    x.dispose();
  });
});

// ---- permute / transpose ----

describe('permute and transpose', () => {
  const cases: Shape[] = [[17], [3, 17], [1, 65, 3], [129, 3], [3, 5, 1, 17], [2, 3, 1, 5, 4], [3, 1, 17, 2, 3]];

  test('permute matches the reference for ranks 1..5 and odd sizes', async () => {
    const rng = new Rng(5);
    for (const [c, shape] of cases.entries()) {
      const data = f32Data(shape, 10 + c);
      const perms = [randomPerm(shape.length, rng), randomPerm(shape.length, rng)];
      for (const perm of perms) {
        const x = tensor(data, shape);
        const y = permute(x, perm);
        await expectExact(y, perm.map((d) => shape[d]), refPermute(data, shape, perm));
        x.dispose();
        y.dispose();
      }
    }
  });

  test('negative dims, transpose defaults and i32 tensors', async () => {
    const shape = [3, 17, 65];
    const data = f32Data(shape, 3);
    const x = tensor(data, shape);
    await expectExact(permute(x, [-1, 0, -2]), [65, 3, 17], refPermute(data, shape, [2, 0, 1]));
    await expectExact(transpose(x), [3, 65, 17], refPermute(data, shape, [0, 2, 1]));
    await expectExact(x.transpose(0, -1), [65, 17, 3], refPermute(data, shape, [2, 1, 0]));
    await expectExact(transpose(x, 1, 1), shape, Array.from(data));
    const ints = i32Data([129, 17], 4);
    const xi = tensor(ints, [129, 17]);
    const yi = transpose(xi);
    expect(yi.dtype).toBe('i32');
    await expectExact(yi, [17, 129], refPermute(ints, [129, 17], [1, 0]));
    const one = tensor(f32Data([65], 6), [65]);
    await expectExact(permute(one, [0]), [65], Array.from(await one.toArray()));
  });

  test('permute gradient is the inverse permutation', async () => {
    await checkGrad([[2, 3, 1, 5, 4]], ([x]) => permute(x, [3, 0, 4, 2, 1]), ([x]) => refPermute(x, [2, 3, 1, 5, 4], [3, 0, 4, 2, 1]), 21);
    await checkGrad([[3, 17]], ([x]) => transpose(x), ([x]) => refPermute(x, [3, 17], [1, 0]), 22);
  });

  test('errors', () => {
    const x = tensor(f32Data([2, 3, 4], 7), [2, 3, 4]);
    expect(() => permute(x, [0, 1])).toThrow(/permute: dims \[0,1\] are not a permutation of 0..2 \(tensor of rank 3, shape \[2,3,4\]\)/);
    expect(() => permute(x, [0, 1, 1])).toThrow(/permute: dims \[0,1,1\] are not a permutation of 0..2/);
    expect(() => permute(x, [0, 1, 3])).toThrow(/permute: dims \[0,1,3\] are not a permutation/);
    expect(() => permute(x, [0, -1, 2])).toThrow(/permute: dims \[0,-1,2\] are not a permutation/);
    expect(() => transpose(x, 0, 3)).toThrow(/transpose: axis 3 is out of range for a tensor of rank 3/);
    expect(() => transpose(x, -4)).toThrow(/transpose: axis -4 is out of range for a tensor of rank 3/);
    x.dispose();
    expect(() => permute(x, [0, 1, 2])).toThrow(/permute: tensor #\d+ \(shape \[2,3,4\], f32\) was disposed/);
  });
});

// ---- slice ----

describe('slice', () => {
  test('matches the reference on every axis, with negative indices and empty slices', async () => {
    const shape = [5, 17, 3, 65];
    const data = f32Data(shape, 30);
    const x = tensor(data, shape);
    const cases: [number, number, number | undefined, number, number][] = [
      // axis, start, end, resolved start, resolved end
      [0, 1, 4, 1, 4],
      [0, 2, undefined, 2, 5],
      [1, 3, 16, 3, 16],
      [-1, 0, 1, 0, 1],
      [-1, -64, -1, 1, 64],
      [2, -1, undefined, 2, 3],
      [3, 7, 7, 7, 7],
      [-2, 0, 3, 0, 3],
    ];
    for (const [axis, start, end, s, e] of cases) {
      const a = axis < 0 ? axis + shape.length : axis;
      const y = slice(x, axis, start, end);
      const want = [...shape];
      want[a] = e - s;
      await expectExact(y, want, refSlice(data, shape, a, s, e));
      y.dispose();
    }
    const ints = i32Data([129, 3], 31);
    const xi = tensor(ints, [129, 3]);
    await expectExact(slice(xi, 0, 64, 129), [65, 3], refSlice(ints, [129, 3], 0, 64, 129));
    await expectExact(xi.slice(1, 1, 2), [129, 1], refSlice(ints, [129, 3], 1, 1, 2));
  });

  test('gradient puts the grad into its slab of zeros', async () => {
    await checkGrad([[5, 17, 3]], ([x]) => slice(x, 1, 3, -2), ([x]) => refSlice(x, [5, 17, 3], 1, 3, 15), 40);
    await checkGrad([[17, 3]], ([x]) => slice(x, 0, 16), ([x]) => refSlice(x, [17, 3], 0, 16, 17), 41);
    // A composite: two slices of one input add their grads.
    await checkGrad([[65]], ([x]) => concat([slice(x, 0, 0, 40), slice(x, 0, 20)]), ([x]) => [...refSlice(x, [65], 0, 0, 40), ...refSlice(x, [65], 0, 20, 65)], 42);
  });

  test('errors name axis, start, end and size', () => {
    const x = tensor(f32Data([4, 3], 8), [4, 3]);
    expect(() => slice(x, 1, 0, 4)).toThrow(/slice: \[0, 4\) is out of range for axis 1 of size 3 \(shape \[4,3\]\)/);
    expect(() => slice(x, 0, -5)).toThrow(/slice: \[-5, 4\) is out of range for axis 0 of size 4/);
    expect(() => slice(x, -1, 2, 1)).toThrow(/slice: \[2, 1\) is out of range for axis -1 of size 3/);
    expect(() => slice(x, 2, 0)).toThrow(/slice: axis 2 is out of range for a tensor of rank 2/);
    expect(() => slice(x, 0, 0.5)).toThrow(/slice: start and end must be integers/);
    const scalar = tensor([1], []);
    expect(() => slice(scalar, 0, 0)).toThrow(/slice: needs a tensor with at least one dimension/);
    x.dispose();
    scalar.dispose();
  });
});

// ---- concat ----

describe('concat', () => {
  test('matches the reference along every axis, for f32 and i32', async () => {
    const base = [3, 17, 5];
    for (const axis of [0, 1, 2, -1]) {
      const a = axis < 0 ? axis + 3 : axis;
      const shapes = [1, 65, 2].map((n) => base.map((d, k) => (k === a ? n : d)));
      const data = shapes.map((s, i) => f32Data(s, 50 + i));
      const xs = data.map((d, i) => tensor(d, shapes[i]));
      const y = concat(xs, axis);
      const want = [...base];
      want[a] = 68;
      await expectExact(y, want, refConcat(data, shapes, a));
      for (const t of [...xs, y]) t.dispose();
    }
    const ints = [i32Data([129], 55), i32Data([0], 56), i32Data([3], 57)];
    const xi = ints.map((d) => tensor(d, [d.length], { dtype: 'i32' }));
    const yi = concat(xi);
    expect(yi.dtype).toBe('i32');
    await expectExact(yi, [132], [...ints[0], ...ints[2]]);
  });

  test('gradient of each input is its slice of the grad; inputs without grad get none', async () => {
    const shapes: Shape[] = [[3, 2, 5], [3, 17, 5], [3, 1, 5]];
    await checkGrad(shapes, (xs) => concat(xs, -2), (xs) => refConcat(xs, shapes, 1), 60);
    const frozen = tensor(f32Data([2, 3], 61), [2, 3]);
    const live = tensor(f32Data([1, 3], 62), [1, 3], { requiresGrad: true });
    const y = concat([frozen, live]);
    y.backward({ grad: tensor(f32([1, 2, 3, 4, 5, 6, 7, 8, 9]), [3, 3]) });
    expect(frozen.grad).toBeNull();
    expect(Array.from(await live.grad!.toArray())).toEqual([7, 8, 9]);
  });

  test('errors name the offending shapes', () => {
    const a = tensor(f32Data([2, 3], 9), [2, 3]);
    const b = tensor(f32Data([2, 4], 9), [2, 4]);
    const c = tensor(f32Data([2, 3, 1], 9), [2, 3, 1]);
    const i = tensor(new Int32Array(6), [2, 3]);
    expect(() => concat([a, b])).toThrow(/concat: shapes \[2,3\], \[2,4\] do not match outside axis 0: \[2,4\] differs from \[2,3\]/);
    expect(() => concat([a, c], 1)).toThrow(/concat: shapes \[2,3\], \[2,3,1\] do not match outside axis 1/);
    expect(() => concat([a, i])).toThrow(/concat: all tensors must have the same dtype, got f32, i32 \(shapes \[2,3\], \[2,3\]\)/);
    expect(() => concat([a, b], 2)).toThrow(/concat: axis 2 is out of range for a tensor of rank 2/);
    expect(() => concat([])).toThrow(/concat: needs a non-empty array of tensors/);
    expect(() => concat([a, null as unknown as Tensor])).toThrow(/concat: element 1 must be a Tensor, got null/);
    for (const t of [a, b, c, i]) t.dispose();
  });
});

// ---- indexSelect ----

describe('indexSelect', () => {
  test('axis 0 batch gather from a GPU-resident dataset, i32 and u32 indices', async () => {
    const shape = [129, 65];
    const data = f32Data(shape, 70);
    const x = tensor(data, shape);
    const idx = randomInts(128, 71, 129); // with repeats
    const y = indexSelect(x, 0, tensor(idx, [128]));
    await expectExact(y, [128, 65], refIndexSelect(data, shape, 0, idx));
    const uidx = Uint32Array.from([128, 0, 5, 5]);
    await expectExact(indexSelect(x, 0, tensor(uidx, [4])), [4, 65], refIndexSelect(data, shape, 0, uidx));
    const labels = i32Data([129], 72);
    const yl = indexSelect(tensor(labels, [129]), 0, tensor(idx, [128]));
    expect(yl.dtype).toBe('i32');
    await expectExact(yl, [128], refIndexSelect(labels, [129], 0, idx));
  });

  test('inner and last axes, rank 1..4, empty index', async () => {
    const shapes: [Shape, number][] = [[[17], 0], [[3, 17], 1], [[3, 65, 5], 1], [[3, 5, 2, 17], -1], [[1, 3, 17], -2]];
    for (const [c, [shape, axis]] of shapes.entries()) {
      const a = axis < 0 ? axis + shape.length : axis;
      const data = f32Data(shape, 80 + c);
      const idx = randomInts(7, 90 + c, shape[a]);
      const y = indexSelect(tensor(data, shape), axis, tensor(idx, [7]));
      await expectExact(y, shape.map((d, k) => (k === a ? 7 : d)), refIndexSelect(data, shape, a, idx));
    }
    const empty = indexSelect(tensor(f32Data([3, 4], 1), [3, 4]), 1, tensor(new Int32Array(0), [0]));
    expect(empty.shape).toEqual([3, 0]);
    expect((await empty.toArray()).length).toBe(0);
  });

  test('out-of-range indices (negative, too large) select zeros without reading outside x', async () => {
    const shape = [4, 3];
    const data = f32Data(shape, 95);
    const idx = Int32Array.from([3, -1, 4, 0, 2147483647, -2147483648]);
    const y = indexSelect(tensor(data, shape), 0, tensor(idx, [6]));
    await expectExact(y, [6, 3], refIndexSelect(data, shape, 0, idx));
    expect(Array.from((await y.toArray()).slice(3, 6))).toEqual([0, 0, 0]);
    // Along an inner axis, index == size would land on the next row's data if it were let through.
    const inner = Int32Array.from([3, 1, -1, 2]);
    const yi = indexSelect(tensor(data, shape), 1, tensor(inner, [4]));
    await expectExact(yi, [4, 4], refIndexSelect(data, shape, 1, inner));
  });

  test('gradient is a scatter-add over repeated indices', async () => {
    const idx = Int32Array.from([2, 0, 2, 2, 16, 5, 0]);
    await checkGrad([[17, 3]], ([x]) => indexSelect(x, 0, tensor(idx, [7])), ([x]) => refIndexSelect(x, [17, 3], 0, idx), 100);
    const idx2 = Int32Array.from([4, 1, 1, -1, 9]); // out-of-range entries get no gradient
    await checkGrad([[3, 5, 2]], ([x]) => indexSelect(x, 1, tensor(idx2, [5])), ([x]) => refIndexSelect(x, [3, 5, 2], 1, idx2), 101);
  });

  test('errors', () => {
    const x = tensor(f32Data([4, 3], 10), [4, 3]);
    expect(() => indexSelect(x, 0, tensor(new Int32Array(4), [2, 2]))).toThrow(/indexSelect: the index must be 1-D, got shape \[2,2\]/);
    expect(() => indexSelect(x, 0, tensor([0, 1]))).toThrow(/indexSelect \(index\): expected a i32 or u32 tensor, got f32 \(shape \[2\]\)/);
    expect(() => indexSelect(x, 2, tensor(new Int32Array(2), [2]))).toThrow(/indexSelect: axis 2 is out of range for a tensor of rank 2/);
    expect(() => indexSelect(x, 0, [0, 1] as unknown as Tensor)).toThrow(/indexSelect: the index must be a Tensor, got object/);
    x.dispose();
  });
});

// ---- expand ----

describe('expand', () => {
  test('broadcasts size-1 and leading dimensions (stride 0), -1 keeps a size', async () => {
    const data = f32Data([3, 1], 110);
    const x = tensor(data, [3, 1]);
    await expectExact(expand(x, [2, 3, 17]), [2, 3, 17], refExpand(data, [3, 1], [2, 3, 17]));
    await expectExact(expand(x, [-1, 65]), [3, 65], refExpand(data, [3, 1], [3, 65]));
    const ints = i32Data([1, 5, 1], 111);
    await expectExact(expand(tensor(ints, [1, 5, 1]), [3, 5, 2]), [3, 5, 2], refExpand(ints, [1, 5, 1], [3, 5, 2]));
    expect(() => expand(x, [3, 2, 4].slice(1))).toThrow(/expand: cannot expand shape \[3,1\] to \[2,4\] \(dimension 0: 3 -> 2\)/);
    expect(() => expand(x, [1])).toThrow(/expand: cannot expand shape \[3,1\] to \[1\], which has fewer dimensions/);
    expect(() => expand(x, [-1, 3, 1])).toThrow(/expand: cannot expand shape \[3,1\] to \[-1,3,1\] \(dimension 0: 1 -> -1\)/);
  });

  test('gradient sums over the broadcast dimensions', async () => {
    await checkGrad([[3, 1]], ([x]) => expand(x, [2, 3, 5]), ([x]) => refExpand(x, [3, 1], [2, 3, 5]), 120);
    await checkGrad([[1, 17]], ([x]) => expand(x, [3, -1]), ([x]) => refExpand(x, [1, 17], [3, 17]), 121);
  });
});

// ---- raw words and memory ----

test('copies move raw bits: NaN payloads, -0, infinities and denormals survive every path', async () => {
  const bits = Uint32Array.from([0x7fc00001, 0xffc12345, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x3f800000, 0x7f812345, 0x807fffff]);
  const x = tensor(new Float32Array(bits.buffer), [3, 3]);
  const read = async (t: Tensor) => Array.from(new Uint32Array((await t.toArray()).buffer));
  const b = Array.from(bits);
  expect(await read(transpose(x))).toEqual(refPermute(b, [3, 3], [1, 0]));
  expect(await read(slice(x, 1, 1))).toEqual(refSlice(b, [3, 3], 1, 1, 3));
  expect(await read(slice(x, 0, 1))).toEqual(refSlice(b, [3, 3], 0, 1, 3));
  expect(await read(concat([x, x], 1))).toEqual(refConcat([b, b], [[3, 3], [3, 3]], 1));
  expect(await read(indexSelect(x, 1, tensor(Int32Array.from([2, 0]), [2])))).toEqual(refIndexSelect(b, [3, 3], 1, [2, 0]));
});

test('no GPU buffers leak through forward and backward', async () => {
  const x = tensor(f32Data([5, 17, 3], 130), [5, 17, 3], { requiresGrad: true });
  const idx = tensor(Int32Array.from([1, 4, 4, 0]), [4]);
  const run = () =>
    tidy(() => {
      const parts = [transpose(x, 0, 2), permute(x, [2, 1, 0])];
      const y = concat([...parts, slice(permute(x, [2, 1, 0]), 2, 1, 3)], 2);
      const z = indexSelect(y, 2, idx);
      const s = reshape(z, [-1]);
      s.backward({ grad: tensor(new Float32Array(s.size).fill(1), [s.size]) });
    });
  run(); // warms the pool
  x.zeroGrad();
  const before = memoryStats().liveBuffers;
  run();
  x.zeroGrad();
  expect(memoryStats().liveBuffers).toBe(before);
  await x.toArray();
});

test('rank 9 works when the copy coalesces to rank <= 8 and fails clearly when it cannot', async () => {
  const shape = [2, 2, 2, 2, 2, 2, 2, 2, 2];
  const data = f32Data(shape, 140);
  const x = tensor(data, shape);
  await expectExact(slice(x, 0, 1), [1, 2, 2, 2, 2, 2, 2, 2, 2], Array.from(data.slice(256)));
  const swapLast = [0, 1, 2, 3, 4, 5, 6, 8, 7];
  await expectExact(permute(x, swapLast), shape, refPermute(data, shape, swapLast));
  expect(() => permute(x, [8, 7, 6, 5, 4, 3, 2, 1, 0])).toThrow(/permute: tensors of rank over 8 are not supported \(shape \[2,2,2,2,2,2,2,2,2\] needs a 9-dimensional copy\)/);
});

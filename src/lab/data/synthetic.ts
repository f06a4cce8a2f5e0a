/**
 * A seeded synthetic image-classification set, needing no files: for smoke runs, tests and
 * machines without Fashion-MNIST. Same output format as the Fashion-MNIST loader (dataset.ts).
 *
 * How it is made (all from `seed`):
 * - one smooth random field shared by every class and one per class: values on a coarse
 *   `grid` × `grid` lattice, bilinearly upsampled to H × W, scaled to [0, 1], and faded towards
 *   the border by a soft round window (so shifted images have a dark background, like MNIST);
 * - class template k = shared·S + (1 − shared)·U_k: the shared part makes the classes overlap;
 * - a sample of class k = clamp01(contrast · shift(template_k) + noise · N(0, 1)), with an integer
 *   shift in [−maxShift, maxShift]² (zero fill), contrast ~ U[1 − contrastJitter, 1 + contrastJitter].
 *
 * Labels are balanced: split of n samples holds ⌊n/K⌋ or ⌈n/K⌉ of each class, in shuffled order.
 * The templates, the train split and the test split come from separate streams, so changing the
 * train size does not change the test set. With the defaults a linear classifier lands well above
 * chance but far from 100% (checked in tests/synthetic.test.ts).
 */
import { checkSplit, type ImageClassificationDataset, type ImageSplit } from './dataset.js';

export interface SyntheticImagesOptions {
  /** Any safe integer >= 0; the whole data set is a function of it and the options. */
  seed: number;
  /** K, default 10. */
  numClasses?: number;
  /** Default 6000. */
  trainSize?: number;
  /** Default 1000. */
  testSize?: number;
  /** Default 28. */
  height?: number;
  /** Default 28. */
  width?: number;
  /** Standard deviation of the per-pixel Gaussian noise, default 0.3. */
  noise?: number;
  /** Largest shift in pixels, each axis, default 3. */
  maxShift?: number;
  /** Relative contrast jitter, default 0.3 (contrast in [0.7, 1.3]). */
  contrastJitter?: number;
  /** Weight of the template component shared by all classes, in [0, 1), default 0.6. */
  shared?: number;
  /** Coarse lattice size of the smooth fields (smaller = smoother), default 5, at least 2. */
  grid?: number;
}

const DEFAULTS = {
  numClasses: 10,
  trainSize: 6000,
  testSize: 1000,
  height: 28,
  width: 28,
  noise: 0.3,
  maxShift: 3,
  contrastJitter: 0.3,
  shared: 0.6,
  grid: 5,
};

/** Builds the data set (synchronously; 6000 + 1000 28×28 samples take well under a second). */
export function makeSyntheticImages(options: SyntheticImagesOptions): ImageClassificationDataset {
  const o = resolveOptions(options);
  const H = o.height;
  const W = o.width;

  const templateRng = new SeededRng(o.seed, 0);
  const window = roundWindow(H, W);
  const sharedField = smoothField(templateRng, o.grid, H, W, window);
  const templates: Float32Array[] = [];
  for (let k = 0; k < o.numClasses; k++) {
    const own = smoothField(templateRng, o.grid, H, W, window);
    const t = new Float32Array(H * W);
    for (let i = 0; i < t.length; i++) t[i] = o.shared * sharedField[i] + (1 - o.shared) * own[i];
    templates.push(t);
  }

  const train = makeSplit(new SeededRng(o.seed, 1), o.trainSize, templates, o);
  const test = makeSplit(new SeededRng(o.seed, 2), o.testSize, templates, o);
  const classNames = Array.from({ length: o.numClasses }, (_, k) => `class ${k}`);
  checkSplit('synthetic train split', train, o.numClasses);
  checkSplit('synthetic test split', test, o.numClasses);
  return { name: 'synthetic', numClasses: o.numClasses, classNames, train, test };
}

type Resolved = typeof DEFAULTS & { seed: number };

function resolveOptions(options: SyntheticImagesOptions): Resolved {
  const where = 'makeSyntheticImages';
  if (options === null || typeof options !== 'object') throw new Error(`${where}: options must be an object with a seed`);
  const o = { ...DEFAULTS, ...stripUndefined(options) } as Resolved;
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new Error(`${where}: seed must be a non-negative safe integer, got ${o.seed}`);
  const int = (field: keyof typeof DEFAULTS, min: number) => {
    const v = o[field];
    if (!Number.isInteger(v) || v < min) throw new Error(`${where}: ${field} must be an integer >= ${min}, got ${v}`);
  };
  int('numClasses', 2);
  int('trainSize', 0);
  int('testSize', 0);
  int('height', 1);
  int('width', 1);
  int('maxShift', 0);
  int('grid', 2);
  const real = (field: keyof typeof DEFAULTS, lo: number, hi: number, hiOpen: boolean) => {
    const v = o[field];
    if (typeof v !== 'number' || !(v >= lo && (hiOpen ? v < hi : v <= hi))) {
      throw new Error(`${where}: ${field} must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${v}`);
    }
  };
  real('noise', 0, Infinity, false);
  real('contrastJitter', 0, 1, true);
  real('shared', 0, 1, true);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function makeSplit(rng: SeededRng, n: number, templates: Float32Array[], o: Resolved): ImageSplit {
  const K = templates.length;
  const H = o.height;
  const W = o.width;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % K;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = labels[i];
    labels[i] = labels[j];
    labels[j] = tmp;
  }
  const images = new Float32Array(n * H * W);
  for (let s = 0; s < n; s++) {
    const template = templates[labels[s]];
    const dy = rng.int(2 * o.maxShift + 1) - o.maxShift;
    const dx = rng.int(2 * o.maxShift + 1) - o.maxShift;
    const contrast = 1 + o.contrastJitter * (2 * rng.uniform() - 1);
    const base = s * H * W;
    for (let y = 0; y < H; y++) {
      const sy = y - dy;
      for (let x = 0; x < W; x++) {
        const sx = x - dx;
        const v = sy >= 0 && sy < H && sx >= 0 && sx < W ? contrast * template[sy * W + sx] : 0;
        const noisy = v + o.noise * rng.normal();
        images[base + y * W + x] = noisy < 0 ? 0 : noisy > 1 ? 1 : noisy;
      }
    }
  }
  return { images, labels, count: n, channels: 1, height: H, width: W };
}

/** Soft round window: 1 in the middle, falling smoothly towards 0 at the border. */
function roundWindow(H: number, W: number): Float32Array {
  const out = new Float32Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const ry = H === 1 ? 0 : (2 * y) / (H - 1) - 1;
      const rx = W === 1 ? 0 : (2 * x) / (W - 1) - 1;
      const r2 = rx * rx + ry * ry;
      out[y * W + x] = Math.exp(-2 * r2 * r2);
    }
  }
  return out;
}

/** Uniform values on a grid × grid lattice, bilinearly upsampled to H × W, scaled to [0, 1], windowed. */
function smoothField(rng: SeededRng, grid: number, H: number, W: number, window: Float32Array): Float32Array {
  const lattice = new Float64Array(grid * grid);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.uniform();
  const out = new Float32Array(H * W);
  let lo = Infinity;
  let hi = -Infinity;
  for (let y = 0; y < H; y++) {
    const gy = H === 1 ? 0 : (y / (H - 1)) * (grid - 1);
    const y0 = Math.min(Math.floor(gy), grid - 2);
    const fy = gy - y0;
    for (let x = 0; x < W; x++) {
      const gx = W === 1 ? 0 : (x / (W - 1)) * (grid - 1);
      const x0 = Math.min(Math.floor(gx), grid - 2);
      const fx = gx - x0;
      const a = lattice[y0 * grid + x0];
      const b = lattice[y0 * grid + x0 + 1];
      const c = lattice[(y0 + 1) * grid + x0];
      const d = lattice[(y0 + 1) * grid + x0 + 1];
      const v = (1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d);
      out[y * W + x] = v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const span = hi - lo || 1;
  for (let i = 0; i < out.length; i++) out[i] = ((out[i] - lo) / span) * window[i];
  return out;
}

/**
 * xoshiro128** (Blackman & Vigna), seeded by splitmix32 from (seed, stream): small, fast, good
 * enough statistically for data generation, and identical on every JS engine (32-bit integer math).
 */
export class SeededRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(seed: number, stream = 0) {
    // Mix both 32-bit halves of the seed and the stream id into the splitmix32 state.
    let x = (Math.floor(seed / 2 ** 32) ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    x = (splitmixStep(x) ^ (seed >>> 0)) >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      return splitmixStep(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextU32() / 2 ** 32;
  }

  /** Uniform integer in [0, n), n <= 2^32 (multiply-shift; bias below 2^-32·n, irrelevant here). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller, both outputs used). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** splitmix32 output function (Steele, Lea, Flood) on a 32-bit state. */
function splitmixStep(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Creating tensors: from host data (one upload), constant fills and arange on the GPU, and seeded
 * random initialisation.
 */
import fillSrc from '../../../shaders/creation.wgsl';
import { engine } from '../../runtime/engine.js';
import { defineKernel } from '../../runtime/kernel.js';
import { resolveGenerator, type Generator } from '../../runtime/generator.js';
import { checkDtype, checkIntegerValue, checkShape, shapeSize, Tensor, type DType, type Shape } from '../../runtime/tensor.js';
import { grid1d, Params } from '../../runtime/params.js';

const FILL = defineKernel('fill', fillSrc);

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

type HostData = ArrayLike<number> | ArrayLike<number>[];

function flatten(data: unknown, out: number[], shape: number[], depth: number): void {
  if (typeof data === 'number') {
    if (depth !== shape.length) throw new Error('tensor: ragged nested array');
    out.push(data);
    return;
  }
  if (!Array.isArray(data) && !ArrayBuffer.isView(data)) throw new Error(`tensor: expected numbers or arrays, got ${typeof data}`);
  const arr = data as ArrayLike<unknown>;
  if (shape.length === depth) shape.push(arr.length);
  else if (shape[depth] !== arr.length) throw new Error(`tensor: ragged nested array (length ${arr.length} where ${shape[depth]} was expected at depth ${depth})`);
  for (let i = 0; i < arr.length; i++) flatten(arr[i], out, shape, depth + 1);
}

function inferDtype(data: unknown): DType {
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Uint32Array || data instanceof Uint8Array) return 'u32';
  return 'f32';
}

/**
 * A tensor from host data: a typed array or (nested) number array; `shape` defaults to the data's
 * own (flat arrays become 1-D). dtype defaults from the array type (Int32Array: i32, Uint32Array /
 * Uint8Array: u32, else f32).
 */
export function tensor(data: HostData | ArrayBufferView, shape?: Shape, options: CreateOptions = {}): Tensor {
  const dtype = options.dtype ?? inferDtype(data);
  checkDtype('tensor', dtype);
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (ArrayBuffer.isView(data)) {
    flat = data as unknown as ArrayLike<number>;
    inferred = [flat.length];
  } else {
    const out: number[] = [];
    inferred = [];
    flatten(data, out, inferred, 0);
    flat = out;
  }
  const finalShape = shape ?? inferred;
  checkShape(finalShape);
  if (shapeSize(finalShape) !== flat.length) {
    throw new Error(`tensor: ${flat.length} values do not fill shape [${finalShape}] (${shapeSize(finalShape)} elements)`);
  }
  // Integer data is checked before the conversion, which would wrap out-of-range values silently
  // (3e9 as i32 is -1294967296). Arrays of the target type hold only valid values already.
  const exact = dtype === 'f32' || (dtype === 'i32' ? flat instanceof Int32Array : flat instanceof Uint32Array || flat instanceof Uint8Array || flat instanceof Uint16Array);
  if (!exact) {
    for (let i = 0; i < flat.length; i++) checkIntegerValue('tensor', dtype, flat[i], `at index ${i}`);
  }
  const host =
    dtype === 'f32' ? (flat instanceof Float32Array ? flat : Float32Array.from(flat))
    : dtype === 'i32' ? (flat instanceof Int32Array ? flat : Int32Array.from(flat))
    : flat instanceof Uint32Array ? flat : Uint32Array.from(flat);
  const t = Tensor.empty(finalShape, dtype, 'tensor');
  if (host.length > 0) engine().write(t.buffer('tensor'), host);
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

function fillBits(op: string, shape: Shape, bits: number, dtype: DType, arange = false): Tensor {
  const t = Tensor.empty(shape, dtype, op);
  engine().dispatch({
    kernel: FILL,
    defines: { ARANGE: arange },
    buffers: [t.buffer('fill')],
    uniforms: new Params().u32('n', t.size).u32('bits', bits).pad(2),
    workgroups: grid1d(t.size),
  });
  return t;
}

const f32Bits = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0];

/** A tensor filled with `value` on the GPU (no upload). */
export function full(shape: Shape, value: number, options: CreateOptions = {}): Tensor {
  return fill('full', shape, value, options);
}

/** full() under the name of the function the user called (for the errors). */
function fill(op: string, shape: Shape, value: number, options: CreateOptions): Tensor {
  checkShape(shape, `${op}: shape`);
  const dtype = options.dtype ?? 'f32';
  checkDtype(op, dtype);
  if (typeof value !== 'number') throw new Error(`${op}: the fill value must be a number, got ${typeof value}`);
  if (dtype !== 'f32') checkIntegerValue(op, dtype, value, '(the fill value)');
  const t = fillBits(op, shape, dtype === 'f32' ? f32Bits(value) : value >>> 0, dtype);
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

export const zeros = (shape: Shape, options: CreateOptions = {}) => fill('zeros', shape, 0, options);
export const ones = (shape: Shape, options: CreateOptions = {}) => fill('ones', shape, 1, options);
export const zerosLike = (t: Tensor) => full(t.shape, 0, { dtype: t.dtype });
export const onesLike = (t: Tensor) => full(t.shape, 1, { dtype: t.dtype });

/** 0, 1, ..., n-1 as i32 (index lists for gather, labels in tests). */
export function arange(n: number): Tensor {
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 31) throw new Error(`arange: n must be an integer in 0..2^31 (the values are i32), got ${n}`);
  return fillBits('arange', [n], 0, 'i32', true);
}

// ---- seeded host-side random numbers (initialisation only; dropout draws on the GPU) ----

/** xoshiro128** seeded through splitmix32: fast, good quality, reproducible across platforms. */
export class Rng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ((s[3] << 11) | (s[3] >>> 21)) >>> 0;
    return result;
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

export interface RandomOptions extends CreateOptions {
  /** Seed of the values' own stream: same seed, same values. */
  seed?: number;
  /** Without a seed: the generator whose next draw seeds the stream (default: `defaultGenerator`). */
  generator?: Generator;
  mean?: number;
  std?: number;
}

function seededHost(op: string, shape: Shape, options: RandomOptions, draw: (r: Rng) => number): Tensor {
  checkShape(shape, `${op}: shape`);
  if (options.dtype !== undefined && options.dtype !== 'f32') {
    checkDtype(op, options.dtype);
    throw new Error(`${op}: random tensors are f32, got dtype '${options.dtype}'`);
  }
  // The device's limit first: the host array would be drawn (and could exhaust memory) for nothing.
  engine().storage.checkFits(shapeSize(shape) * 4, () => `${op}: a tensor of shape [${shape}] (f32)`);
  if (options.seed !== undefined && options.generator !== undefined) throw new Error(`${op}: give a seed or a generator, not both`);
  const rng = new Rng(options.seed ?? resolveGenerator(op, options.generator).nextHostSeed());
  const data = new Float32Array(shapeSize(shape));
  for (let i = 0; i < data.length; i++) data[i] = draw(rng);
  return tensor(data, shape, { requiresGrad: options.requiresGrad });
}

/**
 * Normal samples (mean 0, std 1 unless given); same seed (or same generator state), same values on
 * every platform.
 */
export function randn(shape: Shape, options: RandomOptions = {}): Tensor {
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  return seededHost('randn', shape, options, (r) => mean + std * r.normal());
}

/** Uniform samples in [0, 1). */
export function rand(shape: Shape, options: RandomOptions = {}): Tensor {
  return seededHost('rand', shape, options, (r) => r.uniform());
}

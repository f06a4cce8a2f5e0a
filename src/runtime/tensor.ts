/**
 * Tensor: a shape, a dtype and contiguous row-major storage in a pooled GPU buffer.
 *
 * Several tensors may share one Storage (reshape views, tensors saved by autograd); the buffer
 * returns to the pool when the last one is disposed. Ops live in src/nn/functional/; their
 * PyTorch-style methods (`x.add(y)`, `loss.backward()`) are installed onto this class by the op
 * layer (src/nn/functional/methods.ts), so this module does not import the ops that import it.
 */
import { engine } from './engine.js';
import { track, type Disposable } from './scope.js';
import type { BufferPool } from './pool.js';
import { isGradEnabled, Node } from './autograd.js';

export type DType = 'f32' | 'i32' | 'u32';
export type TypedArrayFor<D extends DType> = D extends 'f32' ? Float32Array : D extends 'i32' ? Int32Array : Uint32Array;
export type Shape = readonly number[];

export const BYTES_PER_ELEMENT = 4;

export class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    /** Bytes in use (the pooled buffer may be larger). */
    readonly bytes: number,
    /** The pool (hence the device) the buffer came from. */
    readonly pool: BufferPool,
  ) {}
  release(): void {
    if (--this.refs === 0) this.pool.release(this.buffer);
  }
}

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(shape: Shape, what = 'shape'): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${what} must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
}

export const DTYPES: readonly DType[] = ['f32', 'i32', 'u32'];

/** Names users coming from PyTorch / NumPy / TF.js may try, and what to use instead. */
const DTYPE_HINTS: Record<string, string> = {
  float32: "use 'f32'", float: "use 'f32'", int32: "use 'i32'", int: "use 'i32'", uint32: "use 'u32'",
  f64: "there are no 64-bit tensors; use 'f32'", float64: "there are no 64-bit tensors; use 'f32'", double: "there are no 64-bit tensors; use 'f32'",
  f16: "tensors are stored as f32 (setFloat32MatmulPrecision('medium') gives f16 matmul operands)", float16: "tensors are stored as f32 (setFloat32MatmulPrecision('medium') gives f16 matmul operands)",
  i64: "there are no 64-bit tensors; use 'i32'", int64: "there are no 64-bit tensors; use 'i32'", bool: "use 'u32' (0 or 1)",
};

/** Throws naming the value when `dtype` is not one of the engine's dtypes ('f32', 'i32', 'u32'). */
export function checkDtype(op: string, dtype: unknown): asserts dtype is DType {
  if ((DTYPES as readonly unknown[]).includes(dtype)) return;
  const hint = typeof dtype === 'string' ? DTYPE_HINTS[dtype.toLowerCase()] : undefined;
  throw new Error(`${op}: unknown dtype ${typeof dtype === 'string' ? `'${dtype}'` : String(dtype)} (expected 'f32', 'i32' or 'u32'${hint ? `; ${hint}` : ''})`);
}

const INT_RANGE = { i32: [-(2 ** 31), 2 ** 31 - 1], u32: [0, 2 ** 32 - 1] } as const;

/**
 * Throws unless `value` is an integer that `dtype` ('i32' or 'u32') holds exactly: typed-array
 * conversion would wrap it silently (3e9 as i32 is -1294967296). `at` says where it was found.
 */
export function checkIntegerValue(op: string, dtype: 'i32' | 'u32', value: number, at = ''): void {
  const [lo, hi] = INT_RANGE[dtype];
  if (Number.isInteger(value) && value >= lo && value <= hi) return;
  const where = at ? ` ${at}` : '';
  if (!Number.isInteger(value)) throw new Error(`${op}: ${dtype} data must be integers, found ${value}${where}`);
  throw new Error(`${op}: ${value}${where} is out of range for ${dtype} (${lo}..${hi})`);
}

let nextId = 1;
let liveTensors = 0;

/** Number of tensor handles not yet disposed (for leak tests). */
export function liveTensorCount(): number {
  return liveTensors;
}

export class Tensor implements Disposable {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly size: number;
  /** Accumulated gradient of a leaf that requires grad (null until the first backward). */
  grad: Tensor | null = null;
  kept = false;
  private _storage: Storage | null;
  private _requiresGrad = false;
  private _gradFn: Node | null = null;

  /** Use `tensor()`, `zeros()`, `empty()`... rather than the constructor. */
  constructor(storage: Storage, shape: Shape, dtype: DType) {
    this._storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shapeSize(shape);
    liveTensors++;
    track(this);
  }

  /**
   * A new tensor with fresh (uninitialised) storage; kernels write it. `op` names the caller in the
   * errors (a shape over the device's buffer limits is refused here, naming the shape and the limit).
   */
  static empty(shape: Shape, dtype: DType = 'f32', op?: string): Tensor {
    checkShape(shape);
    checkDtype(op ?? 'Tensor.empty', dtype);
    const bytes = Math.max(shapeSize(shape), 1) * BYTES_PER_ELEMENT;
    const pool = engine().storage;
    const what = () => `${op ? `${op}: ` : ''}a tensor of shape [${shape}] (${dtype})`;
    return new Tensor(new Storage(pool.acquire(bytes, what), bytes, pool), shape, dtype);
  }

  get rank(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this._storage === null;
  }
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }
  set requiresGrad(v: boolean) {
    if (v && this.dtype !== 'f32') throw new Error(`requiresGrad needs a float tensor; this one is ${this.dtype} (shape [${this.shape}])`);
    if (!v && this._gradFn) throw new Error('requiresGrad cannot be turned off on a tensor computed from others; use .detach()');
    this._requiresGrad = v;
  }
  /** The autograd node that produced this tensor (null for leaves). */
  get gradFn(): Node | null {
    return this._gradFn;
  }
  get isLeaf(): boolean {
    return this._gradFn === null;
  }

  /** The GPU buffer; throws a clear error if the tensor was disposed. `op` names the caller. */
  buffer(op = 'this operation'): GPUBuffer {
    if (!this._storage) {
      throw new Error(`${op}: tensor #${this.id} (shape [${this.shape}], ${this.dtype}) was disposed and cannot be used`);
    }
    if (this._storage.pool !== engine().storage) {
      throw new Error(`${op}: tensor #${this.id} (shape [${this.shape}]) belongs to a device that was shut down or lost; recreate it after init()`);
    }
    return this._storage.buffer;
  }

  /** @internal autograd: marks this tensor as the output of `node`. */
  setGradFn(node: Node): void {
    if (this._gradFn) this._gradFn.release();
    node.refs++;
    this._gradFn = node;
    this._requiresGrad = true;
  }

  /** @internal A second handle on the same storage and shape, not tracked by tidy scopes. */
  retain(): Tensor {
    const s = this._storage;
    if (!s) this.buffer('autograd');
    s!.refs++;
    const t = new Tensor(s!, this.shape, this.dtype);
    t.kept = true;
    return t;
  }

  /** @internal A handle on the same storage with another shape (same element count). */
  view(shape: Shape): Tensor {
    checkShape(shape);
    if (shapeSize(shape) !== this.size) {
      throw new Error(`reshape: cannot view shape [${this.shape}] (${this.size} elements) as [${shape}] (${shapeSize(shape)} elements)`);
    }
    const s = this._storage;
    if (!s) this.buffer('reshape');
    s!.refs++;
    return new Tensor(s!, shape, this.dtype);
  }

  /** @internal autograd: adds `g` into `.grad` with `add` (takes ownership of `g`). */
  accumulateGrad(g: Tensor, add: (a: Tensor, b: Tensor) => Tensor): void {
    if (this.isDisposed) {
      g.dispose();
      return;
    }
    g.kept = true;
    if (!this.grad) {
      this.grad = g;
    } else {
      const sum = add(this.grad, g);
      sum.kept = true;
      this.grad.dispose();
      g.dispose();
      this.grad = sum;
    }
  }

  /** Releases the GPU buffer (when no view or saved copy still uses it). Safe to call twice. */
  dispose(): void {
    if (!this._storage) return;
    this._storage.release();
    this._storage = null;
    liveTensors--;
    if (this._gradFn) {
      this._gradFn.release();
      this._gradFn = null;
    }
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Reads the data back (the only await in the runtime). */
  async toArray(): Promise<TypedArrayFor<this['dtype']>> {
    const buf = this.buffer('toArray');
    const bytes = await engine().read(buf, this.size * BYTES_PER_ELEMENT);
    const Ctor = this.dtype === 'f32' ? Float32Array : this.dtype === 'i32' ? Int32Array : Uint32Array;
    return new Ctor(bytes) as TypedArrayFor<this['dtype']>;
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a tensor with one element, got shape [${this.shape}]`);
    return (await this.toArray())[0];
  }

  /**
   * Overwrites this tensor's data in place (no graph): from host data of the same size, or from a
   * tensor of the same shape and dtype (a GPU copy ordered with the recorded work). Used to load
   * checkpoints and by optimizers; not allowed on tensors that are part of a live graph.
   */
  assign(src: Tensor | Float32Array | Int32Array | Uint32Array): this {
    const dst = this.buffer('assign');
    if (this._gradFn) throw new Error(`assign: tensor #${this.id} is the output of '${this._gradFn.op}' in a graph; assign to a leaf or a detached tensor`);
    if (src instanceof Tensor) {
      if (src.dtype !== this.dtype || src.shape.join() !== this.shape.join()) {
        throw new Error(`assign: source [${src.shape}] ${src.dtype} does not match destination [${this.shape}] ${this.dtype}`);
      }
      engine().copy(src.buffer('assign'), 0, dst, 0, this.size * BYTES_PER_ELEMENT);
    } else {
      if (src.length !== this.size) throw new Error(`assign: ${src.length} values for a tensor of shape [${this.shape}] (${this.size} elements)`);
      const want = this.dtype === 'f32' ? Float32Array : this.dtype === 'i32' ? Int32Array : Uint32Array;
      if (!(src instanceof want)) throw new Error(`assign: ${src.constructor.name} data for a ${this.dtype} tensor`);
      engine().write(dst, src);
    }
    return this;
  }

  /** @internal Shares this tensor's storage with a new handle (Parameter adopts a tensor this way). */
  shareStorage(): Storage {
    const s = this._storage;
    if (!s) this.buffer('shareStorage');
    s!.refs++;
    return s!;
  }

  /** A tensor on the same storage that is cut out of the graph. */
  detach(): Tensor {
    return this.view(this.shape);
  }

  /** Drops `.grad` (PyTorch's set_to_none behaviour). */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  toString(): string {
    return `Tensor(#${this.id}, [${this.shape}], ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''}${this.isDisposed ? ', disposed' : ''})`;
  }
}

/** Whether a new op output should get a graph node (used by ops that skip work otherwise). */
export function needsGrad(...inputs: Tensor[]): boolean {
  return isGradEnabled() && inputs.some((t) => t.requiresGrad);
}

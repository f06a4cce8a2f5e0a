/**
 * The engine: one device, its buffer pools and pipeline cache, and command submission.
 *
 * Submission model. Ops record dispatches into one open compute pass of one command encoder; nothing
 * is submitted until a readback (`toArray()`), an upload that must be ordered after pending work, a
 * full uniform ring, or an explicit `flush()` (the trainer flushes after every step, so the GPU
 * runs a step while the next is recorded). WebGPU orders dispatches within a pass, so a buffer
 * released by one op and reused by the next in the same pass is safe.
 *
 * Waiting. A readback (and `sync()`) waits for the work submitted since the previous one; in Node it
 * first sleeps through most of the time the same work took before (patient-wait.ts), because
 * Dawn's Node binding would otherwise poll for it on a busy core.
 *
 * Uniforms. Each dispatch's small parameter block (sizes, strides, scalars) goes into a 256-byte
 * slot of a CPU-side staging array; at flush the whole array is written with one
 * `queue.writeBuffer` just before `queue.submit`. Queue operations run in order, so the single
 * uniform buffer can be rewritten for the next batch once this one is submitted.
 *
 * Checked mode (on unless `setCheckedMode(false)` or WGTRAIN_CHECKS=off). Some kernels validate
 * data only the GPU sees, such as class labels: they record the first violation in a small
 * check buffer (`checkBuffer()`), and the next readback copies it back with the data and throws
 * an error naming the op, the value and where it was found, much as PyTorch's CUDA kernels report
 * device-side asserts at the next synchronisation. Without checked mode such a value gives NaN.
 *
 * Allocation failures: see pool.ts. A buffer the device could not allocate (out of memory) is
 * reported at the engine's next call with what it was for.
 */
import { acquireDevice, type AdapterReport, type DeviceContext, type InitOptions } from './device.js';
import { BufferPool, READBACK_USAGE, STORAGE_USAGE, type MemoryStats } from './pool.js';
import { PipelineCache, type Defines, type Kernel } from './kernel.js';
import { envVar, isNode } from './env.js';
import { checkParamsLayout, Params } from './params.js';
import { PatientWaiter } from './patient-wait.js';
import { now } from './timing.js';

const UNIFORM_SLOT = 256;
/** The check buffer: [code, a, b, c] u32 words of the first violation (code 0: none). */
const CHECK_WORDS = 4;
const CHECK_BYTES = CHECK_WORDS * 4;
/** Codes kernels write into the check buffer (the WGSL side uses the same numbers). */
export const CHECK_CODES = { crossEntropyLabel: 1 } as const;

let checkedDefault = (() => {
  const env = envVar('WGTRAIN_CHECKS');
  return !(env && /^(0|off|false|no)$/i.test(env));
})();

/** Turns the device-side data checks on or off (default on; see the module comment). */
export function setCheckedMode(on: boolean): void {
  if (typeof on !== 'boolean') throw new Error(`setCheckedMode: expected true or false, got ${String(on)}`);
  checkedDefault = on;
}

/** Whether kernels check the data they read (class labels) and readbacks report violations. */
export function checkedMode(): boolean {
  return checkedDefault;
}

/** The error a check buffer's words describe. */
function checkError(words: Uint32Array): Error {
  const [code, a, b, c] = words;
  if (code === CHECK_CODES.crossEntropyLabel) {
    const label = b | 0;
    return new Error(
      `crossEntropy: label ${label} at row ${a} is out of range for ${c} classes (class indices must be in 0..${c - 1}). ` +
        'Found on the GPU by checked mode and reported at this readback; setCheckedMode(false) skips the check (the row\'s loss is then NaN).',
    );
  }
  return new Error(`wgtrain internal: unknown device-side check code ${code}`);
}
const UNIFORM_SLOTS = 1024;
const UNIFORM_USAGE = 0x40 /* UNIFORM */ | 0x08; /* COPY_DST */

/** A 32-bit hash of `values` (FNV-1a style over 32-bit words). */
function hash(...values: number[]): number {
  let h = 2166136261;
  for (const v of values) h = Math.imul(h ^ v, 16777619) >>> 0;
  return h;
}

/** The work submitted since the last readback: when it started, and what it was (see PatientWaiter). */
interface WorkWindow {
  since: number;
  dispatches: number;
  signature: number;
}

export interface Dispatch {
  kernel: Kernel;
  defines?: Defines;
  entry?: string;
  /** Bound in order at @binding(1), @binding(2), ... of @group(0); @binding(0) is the uniform block. */
  buffers: GPUBuffer[];
  /**
   * At most 256 bytes laid out as the shader's `struct Params`; omit if the shader has none. A
   * `Params` (what ops pass) is checked against the struct on the pipeline's first dispatch.
   */
  uniforms?: Params | ArrayBuffer | ArrayBufferView;
  workgroups: [number, number?, number?];
}

export class Engine {
  readonly device: GPUDevice;
  readonly storage: BufferPool;
  readonly pipelines: PipelineCache;
  private readbackPool: BufferPool;
  private uniformBuffer: GPUBuffer;
  private uniformStaging = new Uint8Array(UNIFORM_SLOT * UNIFORM_SLOTS);
  private uniformSlots = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingDispatches = 0;
  private checks: GPUBuffer;
  /** A dispatch since the last readback bound the check buffer. */
  private checksPending = false;
  /** Signature of what was recorded since the last submit: a sum of each dispatch's hash (pipeline, workgroup counts). */
  private recordedSignature = 0;
  /** What was submitted since the last readback took it over (null: nothing). */
  private window: WorkWindow | null = null;
  /**
   * Sleeps through most of a readback's wait instead of letting Dawn's Node binding poll on a busy
   * core (patient-wait.ts); null in browsers or with WGTRAIN_PATIENT_WAIT=off.
   */
  readonly waiter: PatientWaiter | null = isNode && !/^(0|off|false|no)$/i.test(envVar('WGTRAIN_PATIENT_WAIT') ?? '') ? new PatientWaiter() : null;
  /** Counters for tests and benchmarks: how often we actually submit. */
  submits = 0;
  dispatches = 0;

  constructor(readonly ctx: DeviceContext) {
    this.device = ctx.device;
    this.storage = new BufferPool(this.device, STORAGE_USAGE, 'wgtrain');
    this.readbackPool = new BufferPool(this.device, READBACK_USAGE, 'wgtrain-readback', false);
    this.pipelines = new PipelineCache(this.device);
    this.uniformBuffer = this.device.createBuffer({ size: UNIFORM_SLOT * UNIFORM_SLOTS, usage: UNIFORM_USAGE, label: 'wgtrain-uniforms' });
    // Zero-initialised, as every WebGPU buffer.
    this.checks = this.device.createBuffer({ size: CHECK_BYTES, usage: STORAGE_USAGE, label: 'wgtrain-checks' });
  }

  /**
   * The check buffer, for a kernel that validates its data (bind it as `array<atomic<u32>, 4>`);
   * the next readback reports what it recorded.
   */
  checkBuffer(): GPUBuffer {
    this.checksPending = true;
    return this.checks;
  }

  get report(): AdapterReport {
    return this.ctx.report;
  }

  hasFeature(f: GPUFeatureName): boolean {
    return this.device.features.has(f);
  }

  /**
   * Throws if the device is gone, or if an allocation failed (out of memory) since the last call;
   * called by every entry point so loss never turns into a hang.
   */
  checkAlive(): void {
    if (this.ctx.lost) throw this.ctx.lost;
    const failed = this.storage.takeFailure() ?? this.readbackPool.takeFailure();
    if (failed) {
      // The recorded batch may use the invalid buffer, and WebGPU would refuse all of it at submit
      // with validation errors about this one: it is dropped, and the message says so.
      const dropped = this.pendingDispatches > 0 || this.encoder !== null;
      this.pass = null;
      this.encoder = null;
      this.uniformSlots = 0;
      this.pendingDispatches = 0;
      this.ctx.uncaptured = null;
      if (dropped) failed.message += ' The GPU work recorded since the last submission was discarded (tensors it was computing hold undefined values).';
      throw failed;
    }
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'wgtrain-batch' });
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  private ensureEncoderOutsidePass(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'wgtrain-batch' });
    return this.encoder;
  }

  dispatch(d: Dispatch): void {
    this.checkAlive();
    const [x, y = 1, z = 1] = d.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxDim = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxDim || y > maxDim || z > maxDim) {
      throw new Error(`wgtrain internal: ${d.kernel.name} needs ${x}x${y}x${z} workgroups, over the limit of ${maxDim} per dimension`);
    }
    if (d.uniforms && this.uniformSlots === UNIFORM_SLOTS) this.flush();
    const cached = this.pipelines.entry(d.kernel, d.defines ?? {}, d.entry);
    const pipeline = cached.pipeline;
    if (d.uniforms instanceof Params && !cached.paramsChecked) {
      checkParamsLayout(cached.label, d.uniforms.layout(), cached.params);
      cached.paramsChecked = true;
    }
    const entries: GPUBindGroupEntry[] = [];
    if (d.uniforms) {
      const bytes = d.uniforms instanceof Params
        ? d.uniforms.view16()
        : ArrayBuffer.isView(d.uniforms)
        ? new Uint8Array(d.uniforms.buffer, d.uniforms.byteOffset, d.uniforms.byteLength)
        : new Uint8Array(d.uniforms);
      if (bytes.byteLength > UNIFORM_SLOT) throw new Error(`wgtrain internal: ${d.kernel.name} uniforms exceed ${UNIFORM_SLOT} bytes`);
      const offset = this.uniformSlots * UNIFORM_SLOT;
      this.uniformStaging.set(bytes, offset);
      this.uniformStaging.fill(0, offset + bytes.byteLength, offset + UNIFORM_SLOT);
      this.uniformSlots++;
      entries.push({ binding: 0, resource: { buffer: this.uniformBuffer, offset, size: UNIFORM_SLOT } });
    }
    d.buffers.forEach((buffer, i) => entries.push({ binding: i + 1, resource: { buffer } }));
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.ensurePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    // A sum, not a chain: the same dispatches in another order (an epoch's label gather landing
    // earlier or later in a window of steps) are the same work.
    this.recordedSignature = (this.recordedSignature + hash(cached.index, x, y, z)) >>> 0;
    this.pendingDispatches++;
    this.dispatches++;
  }

  /** Submits everything recorded so far. Cheap when nothing is pending. */
  flush(): void {
    this.checkAlive();
    if (!this.encoder) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (this.uniformSlots > 0) {
      this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformStaging, 0, this.uniformSlots * UNIFORM_SLOT);
      this.uniformSlots = 0;
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.window ??= { since: now(), dispatches: 0, signature: 0 };
    this.window.dispatches += this.pendingDispatches;
    this.window.signature = (this.window.signature + this.recordedSignature) >>> 0;
    this.recordedSignature = 0;
    this.encoder = null;
    this.pendingDispatches = 0;
    this.submits++;
  }

  /**
   * Awaits `settle()` (a promise that resolves when the GPU has done the work submitted so far),
   * patiently where that helps (see `waiter`). The caller has just flushed.
   */
  private async awaitSubmitted<T>(settle: () => Promise<T>): Promise<T> {
    const w = this.window;
    this.window = null;
    if (!w || !this.waiter) return settle();
    return this.waiter.wait(`${w.dispatches}:${w.signature}`, w.since, settle);
  }

  /** Submits everything recorded and waits until the GPU has finished it (benchmarks, the autotuner). */
  async sync(): Promise<void> {
    this.flush();
    await this.awaitSubmitted(() => this.device.queue.onSubmittedWorkDone());
    this.checkAlive();
  }

  /** Copies host data into a GPU buffer, ordered after every op recorded so far. */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    // queue.writeBuffer runs before any command buffer submitted later, so pending work that still
    // reads this (pooled, reused) buffer must be submitted first.
    if (this.encoder) this.flush();
    this.checkAlive();
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Records a buffer-to-buffer copy in order with the dispatches. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkAlive();
    if (bytes === 0) return;
    // Not part of the work signature: a batch's row copies vary with the shuffle, its work does not.
    this.ensureEncoderOutsidePass().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Reads `bytes` from `src` after all recorded work; the only await in the runtime. */
  async read(src: GPUBuffer, bytes: number, srcOffset = 0): Promise<ArrayBuffer> {
    this.checkAlive();
    const padded = Math.ceil(Math.max(bytes, 4) / 4) * 4;
    // The check buffer rides along with the data (one map for both) when a checking kernel ran.
    const withChecks = this.checksPending;
    const total = padded + (withChecks ? CHECK_BYTES : 0);
    const staging = this.readbackPool.acquire(total, 'a readback buffer');
    const encoder = this.ensureEncoderOutsidePass();
    encoder.copyBufferToBuffer(src, srcOffset, staging, 0, padded);
    if (withChecks) encoder.copyBufferToBuffer(this.checks, 0, staging, padded, CHECK_BYTES);
    this.checksPending = false;
    this.flush();
    try {
      await this.awaitSubmitted(() => staging.mapAsync(0x0001 /* GPUMapMode.READ */, 0, total));
    } catch (e) {
      this.checkAlive();
      throw new Error(`Reading a tensor back from the GPU failed: ${(e as Error).message}`);
    }
    const mapped = staging.getMappedRange(0, total);
    const out = mapped.slice(0, bytes);
    const words = withChecks ? new Uint32Array(mapped.slice(padded, total)) : null;
    staging.unmap();
    this.readbackPool.release(staging);
    this.checkAlive();
    this.throwUncaptured();
    if (words && words[0] !== 0) {
      this.write(this.checks, new Uint32Array(CHECK_WORDS)); // reported once
      throw checkError(words);
    }
    return out;
  }

  /** Surfaces a WebGPU validation error that escaped our own checks (there should be none). */
  throwUncaptured(): void {
    const e = this.ctx.uncaptured;
    if (e) {
      this.ctx.uncaptured = null;
      throw e;
    }
  }

  memoryStats(): MemoryStats {
    return this.storage.stats();
  }

  destroy(): void {
    this.ctx.shuttingDown = true;
    this.pass = null;
    this.encoder = null;
    this.storage.trim();
    this.readbackPool.trim();
    this.checks.destroy();
    this.device.destroy();
  }
}

let current: Engine | null = null;
let initializing: Promise<Engine> | null = null;

/**
 * Acquires the device (browser: navigator.gpu; Node: the `webgpu` package; or `init({ gpu })`).
 * Calling it again returns the same engine until `shutdown()`.
 */
export async function init(options: InitOptions = {}): Promise<AdapterReport> {
  if (current && !current.ctx.lost) return current.report;
  initializing ??= acquireDevice(options).then((ctx) => (current = new Engine(ctx)));
  try {
    return (await initializing).report;
  } finally {
    initializing = null;
  }
}

export function engine(): Engine {
  if (!current) throw new Error('wgtrain is not initialised: call `await init()` first.');
  return current;
}

/** True once init() has succeeded and shutdown() has not been called. */
export function isInitialized(): boolean {
  return current !== null;
}

/** The adapter in use: vendor, architecture, features, limits. */
export function adapterReport(): AdapterReport {
  return engine().report;
}

export function memoryStats(): MemoryStats {
  return engine().memoryStats();
}

/** Submits all recorded GPU work now (normally a readback does this). */
export function flush(): void {
  engine().flush();
}

/**
 * Destroys the device. In Node, Dawn keeps the process alive until this is called, so CLIs and test
 * files end with it.
 */
export function shutdown(): void {
  if (!current) return;
  const e = current;
  current = null;
  if (!e.ctx.lost) e.destroy();
}

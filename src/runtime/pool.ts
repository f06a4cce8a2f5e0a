/**
 * A size-class pool of GPU storage buffers. Creating and destroying GPU buffers every op is slow
 * and fragments memory; training allocates the same sizes every step, so released buffers go back
 * to a free list keyed by size class and the next request of that class reuses one.
 *
 * Size classes: 256 B granularity, then four classes per power of two (at most 25% waste).
 *
 * Limits and failures. A request is checked against the device's limits before any buffer is
 * created, and the error names what was being allocated (an invalid buffer would otherwise only
 * fail later, in an unrelated op, as a WebGPU validation error). Creation runs inside an
 * out-of-memory error scope; WebGPU reports such errors asynchronously, so a failed allocation is
 * remembered with what it was for and thrown by the engine at its next call (`takeFailure`), and
 * the invalid buffer is destroyed instead of pooled when released, so the statistics stay true.
 */

export const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */
export const READBACK_USAGE = 0x01 /* MAP_READ */ | 0x08; /* COPY_DST */

export function sizeClass(bytes: number): number {
  const min = 256;
  if (bytes <= min) return min;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(min, pow / 4);
  return Math.ceil(bytes / step) * step;
}

export interface MemoryStats {
  /** GPU buffers currently held by live tensors (and by autograd's saved tensors). */
  liveBuffers: number;
  liveBytes: number;
  /** Released buffers kept for reuse. */
  pooledBuffers: number;
  pooledBytes: number;
  /** Buffers created since init (a loop that keeps creating them is not reusing the pool). */
  createdBuffers: number;
}

/** Bytes for messages: "512 B", "1.5 KiB", "8 GiB", "3.6 TiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : Number(v.toPrecision(3))} ${units[u]}`;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private live = new Set<GPUBuffer>();
  /** Buffers whose creation failed (out of memory): destroyed, never pooled, when released. */
  private invalid = new Set<GPUBuffer>();
  private failure: Error | null = null;
  private liveBytes = 0;
  private pooledBytes = 0;
  private pooledCount = 0;
  private created = 0;

  /**
   * `bindable`: the buffers are bound to shaders, so maxStorageBufferBindingSize applies as well as
   * maxBufferSize.
   */
  constructor(
    private device: GPUDevice,
    private usage: number,
    private label: string,
    private bindable = true,
  ) {}

  /** Throws, naming `what`, its size and the limit, unless a buffer of `bytes` fits the device. */
  checkFits(bytes: number, what: string | (() => string)): void {
    const limit = this.maxBytes();
    if (bytes <= limit) return;
    const name = typeof what === 'string' ? what : what();
    const l = this.device.limits;
    const which = this.bindable
      ? `maxBufferSize ${formatBytes(l.maxBufferSize)}, maxStorageBufferBindingSize ${formatBytes(l.maxStorageBufferBindingSize)}`
      : `maxBufferSize ${formatBytes(limit)}`;
    throw new Error(`${name} needs ${formatBytes(bytes)} (${bytes} bytes), more than this device allows in one buffer (${which}); use smaller tensors (e.g. a smaller batch or layer)`);
  }

  /** The largest buffer this pool may create on its device. */
  maxBytes(): number {
    const l = this.device.limits;
    return this.bindable ? Math.min(l.maxBufferSize, l.maxStorageBufferBindingSize) : l.maxBufferSize;
  }

  /**
   * A buffer of at least `bytes`. `what` says what it is for ("zeros: a tensor of shape [..] (f32)"),
   * for the errors: over the device's limits (thrown here, before anything is created), or out of
   * memory (thrown by the engine at its next call, see the module comment).
   */
  acquire(bytes: number, what: string | (() => string) = 'a GPU buffer'): GPUBuffer {
    this.checkFits(bytes, what);
    const limit = this.maxBytes();
    // A size class above the limit (a limit that is not a class boundary): the exact size instead,
    // rounded up to the 4 bytes a storage binding needs.
    const cls = sizeClass(bytes);
    const size = cls <= limit ? cls : Math.ceil(bytes / 4) * 4;
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.pooledBytes -= size;
      this.pooledCount--;
    } else {
      buf = this.create(size, what);
    }
    this.live.add(buf);
    this.liveBytes += size;
    return buf;
  }

  private create(size: number, what: string | (() => string)): GPUBuffer {
    const device = this.device;
    const scoped = typeof device.pushErrorScope === 'function';
    if (scoped) device.pushErrorScope('out-of-memory');
    const buf = device.createBuffer({ size, usage: this.usage, label: `${this.label}:${size}` });
    this.created++;
    if (scoped) {
      device.popErrorScope().then(
        (error) => {
          if (error) this.markInvalid(buf, size, what, error.message);
        },
        () => {}, // the device was lost: the engine reports that itself
      );
    }
    return buf;
  }

  /** Records an allocation that the device could not back (out of memory). */
  private markInvalid(buf: GPUBuffer, size: number, what: string | (() => string), message: string): void {
    this.invalid.add(buf);
    // The first failure is the one to report: later ones are usually its consequences.
    this.failure ??= new Error(
      `${typeof what === 'string' ? what : what()}: the GPU is out of memory: a ${formatBytes(size)} buffer could not be allocated ` +
        `(${formatBytes(this.liveBytes)} in use by live tensors, ${formatBytes(this.pooledBytes)} pooled${message ? `; WebGPU: ${message}` : ''}). ` +
        'Free tensors (dispose, tidy), trim the pool, or use smaller tensors.',
    );
    if (!this.live.has(buf)) this.dropInvalid(buf);
  }

  /** The out-of-memory error waiting to be reported (cleared by reading it), or null. */
  takeFailure(): Error | null {
    const e = this.failure;
    this.failure = null;
    return e;
  }

  private dropInvalid(buf: GPUBuffer): void {
    this.invalid.delete(buf);
    // It may already be in the free list (released before the error arrived).
    const list = this.free.get(buf.size);
    const at = list?.indexOf(buf) ?? -1;
    if (at >= 0) {
      list!.splice(at, 1);
      this.pooledBytes -= buf.size;
      this.pooledCount--;
    }
    buf.destroy();
  }

  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) throw new Error('wgtrain internal: buffer released twice');
    this.liveBytes -= buf.size;
    if (this.invalid.has(buf)) {
      this.dropInvalid(buf);
      return;
    }
    let list = this.free.get(buf.size);
    if (!list) this.free.set(buf.size, (list = []));
    list.push(buf);
    this.pooledBytes += buf.size;
    this.pooledCount++;
  }

  /** Destroys every pooled (not live) buffer, e.g. between experiments of very different sizes. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
    this.pooledCount = 0;
  }

  stats(): MemoryStats {
    return {
      liveBuffers: this.live.size,
      liveBytes: this.liveBytes,
      pooledBuffers: this.pooledCount,
      pooledBytes: this.pooledBytes,
      createdBuffers: this.created,
    };
  }
}

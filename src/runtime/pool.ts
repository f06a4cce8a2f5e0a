/**
 * A size-class pool of GPU storage buffers. Creating and destroying GPU buffers every op is slow
 * and fragments memory; training allocates the same sizes every step, so released buffers go back
 * to a free list keyed by size class and the next request of that class reuses one.
 *
 * Size classes: 256 B granularity, then four classes per power of two (at most 25% waste).
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

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private live = new Set<GPUBuffer>();
  private liveBytes = 0;
  private pooledBytes = 0;
  private pooledCount = 0;
  private created = 0;

  constructor(
    private device: GPUDevice,
    private usage: number,
    private label: string,
  ) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.pooledBytes -= size;
      this.pooledCount--;
    } else {
      buf = this.device.createBuffer({ size, usage: this.usage, label: `${this.label}:${size}` });
      this.created++;
    }
    this.live.add(buf);
    this.liveBytes += size;
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) throw new Error('wgtrain internal: buffer released twice');
    this.liveBytes -= buf.size;
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

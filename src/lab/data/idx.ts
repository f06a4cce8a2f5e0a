/**
 * IDX files, the MNIST / Fashion-MNIST container (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"):
 *
 *   bytes 0-1  0x00 0x00
 *   byte  2    element type (0x08 = unsigned byte; the only one these data sets use and the only one read here)
 *   byte  3    number of dimensions d
 *   then d big-endian u32 sizes, then the elements, row-major.
 *
 * So images are magic 0x00000803, u8 [n, rows, cols], and labels 0x00000801, u8 [n]. The files are
 * usually distributed gzip-compressed (.gz).
 *
 * `parseIdx` works on raw (decompressed) bytes and runs anywhere. `decodeIdx` also takes .gz bytes
 * and gunzips them with the web-standard DecompressionStream (browsers, Node >= 18). `loadIdxFile`
 * is the Node path (fs + zlib); node modules are imported lazily inside it so that this module can
 * be bundled for the browser.
 *
 * Every error names the file (or the name the caller gave the bytes) and the problem.
 *
 * Bounded decompression. A few bytes of gzip can expand to gigabytes (a "gzip bomb"), so gzip data
 * is inflated as a stream: once the IDX header has come out, the size it declares caps the rest,
 * and decompression stops as soon as the output passes that size (or `maxBytes`, which also bounds
 * what a header may declare). Nothing larger than the declared file is ever held in memory.
 */

export const IDX_UBYTE = 0x08;
export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxArray {
  /** The file name or label the bytes were given under (used in error messages). */
  readonly name: string;
  readonly magic: number;
  /** Sizes, outermost first: [n, rows, cols] for images, [n] for labels. */
  readonly dims: readonly number[];
  /** The elements, row-major (a view into the input bytes, not a copy). */
  readonly data: Uint8Array;
}

/** What a caller expects the file to hold: checked against the magic number. */
export type IdxKind = 'images' | 'labels';

const EXPECTED_MAGIC: Record<IdxKind, { magic: number; what: string }> = {
  images: { magic: IDX_IMAGES_MAGIC, what: 'u8 images [n, rows, cols]' },
  labels: { magic: IDX_LABELS_MAGIC, what: 'u8 labels [n]' },
};

const hex32 = (v: number) => '0x' + (v >>> 0).toString(16).padStart(8, '0');

/**
 * The default bound on an IDX file's decompressed size: 2 GiB, over 40 times Fashion-MNIST's
 * largest file (47 MB) and the most a single typed array is sure to hold in every browser.
 */
export const IDX_MAX_BYTES = 2 ** 31 - 1;

export interface IdxReadOptions {
  /** The largest decompressed file accepted, in bytes (default IDX_MAX_BYTES). */
  maxBytes?: number;
}

function maxBytesOf(op: string, options: IdxReadOptions): number {
  const m = options.maxBytes ?? IDX_MAX_BYTES;
  if (!Number.isSafeInteger(m) || m < 4) throw new Error(`${op}: maxBytes must be an integer of at least 4, got ${m}`);
  return m;
}

/**
 * Collects decompressed chunks of an IDX file, with the cap of the module comment. `push` returns
 * false once the output is known to be invalid (not IDX: the caller stops and lets parseIdx name
 * the problem) and throws once it passes its declared size or maxBytes.
 */
class CappedIdxOutput {
  private chunks: Uint8Array[] = [];
  private total = 0;
  /** The size the header declares (header included); -1 until the header is complete. */
  private declared = -1;

  constructor(
    private readonly name: string,
    private readonly maxBytes: number,
  ) {}

  push(chunk: Uint8Array): boolean {
    this.chunks.push(chunk);
    this.total += chunk.length;
    // Memory grows only with data that came out, never with what a header claims.
    if (this.total > (this.declared >= 0 ? this.declared : this.maxBytes)) this.tooLong();
    if (this.declared >= 0) return true;
    const head = this.bytes();
    if (head.length >= 4 && (head[0] !== 0 || head[1] !== 0 || head[3] === 0)) return false; // not IDX
    if (head.length < 4 || head.length < 4 + 4 * head[3]) return true;
    const ndims = head[3];
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const dims = Array.from({ length: ndims }, (_, k) => view.getUint32(4 + 4 * k, false));
    const count = dims.reduce((a, b) => a * b, 1);
    this.declared = 4 + 4 * ndims + count;
    if (this.declared > this.maxBytes) {
      throw new Error(`${this.name}: the IDX header declares ${dims.join(' × ')} = ${count} bytes of data, more than the ${this.maxBytes}-byte limit (maxBytes); a corrupted header?`);
    }
    if (this.total > this.declared) this.tooLong();
    return true;
  }

  private tooLong(): never {
    const what = this.declared >= 0 ? `the ${this.declared} bytes its IDX header declares` : `the ${this.maxBytes}-byte limit (maxBytes)`;
    throw new Error(`${this.name}: the gzip data decompresses to more than ${what}; stopped there (a corrupted file or a decompression bomb)`);
  }

  /** What came out so far, in one array (shorter than declared when the data ended early: parseIdx says so). */
  bytes(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0];
    const all = new Uint8Array(this.total);
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.chunks = [all];
    return all;
  }
}

function asBytes(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
}

/** gzip streams start with the two bytes 0x1f 0x8b (RFC 1952). */
export function isGzip(bytes: Uint8Array | ArrayBuffer): boolean {
  const b = asBytes(bytes);
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/**
 * Parses decompressed IDX bytes. With `expected`, the magic number must be exactly that of u8
 * images (0x00000803) or u8 labels (0x00000801). The data must be exactly as long as the header
 * declares: shorter is a truncated file, longer a corrupted one (or wrong sizes in the header).
 */
export function parseIdx(input: Uint8Array | ArrayBuffer, name: string, expected?: IdxKind): IdxArray {
  const bytes = asBytes(input);
  if (isGzip(bytes)) {
    throw new Error(`${name}: data is gzip-compressed; decompress it first (decodeIdx and loadIdxFile do)`);
  }
  if (bytes.length < 4) {
    throw new Error(`${name}: truncated IDX file: ${bytes.length} bytes, shorter than the 4-byte magic number`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const typeCode = bytes[2];
  const ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || ndims === 0) {
    throw new Error(`${name}: bad magic number ${hex32(magic)}: not an IDX file (expected 0x000008dd, dd = number of dimensions)`);
  }
  if (expected !== undefined && magic !== EXPECTED_MAGIC[expected].magic) {
    const e = EXPECTED_MAGIC[expected];
    throw new Error(`${name}: wrong magic number ${hex32(magic)}, expected ${hex32(e.magic)} (${e.what})`);
  }
  if (typeCode !== IDX_UBYTE) {
    throw new Error(`${name}: unsupported IDX element type 0x${typeCode.toString(16).padStart(2, '0')} (only 0x08, unsigned byte, is read)`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new Error(`${name}: truncated IDX header: ${ndims} dimensions need ${headerBytes} header bytes, the file has ${bytes.length}`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let k = 0; k < ndims; k++) {
    const d = view.getUint32(4 + 4 * k, false);
    dims.push(d);
    count *= d;
  }
  const available = bytes.length - headerBytes;
  const declared = `${dims.join(' × ')} = ${count} bytes of data`;
  if (available < count) {
    throw new Error(`${name}: truncated IDX file: the header declares ${declared}, only ${available} follow the ${headerBytes}-byte header`);
  }
  if (available > count) {
    throw new Error(`${name}: corrupted IDX file: the header declares ${declared}, but ${available} follow the ${headerBytes}-byte header (${available - count} extra)`);
  }
  return { name, magic, dims, data: bytes.subarray(headerBytes) };
}

/**
 * Decompresses gzip bytes with the web-standard DecompressionStream (browser and Node >= 18).
 * Bad or truncated gzip data becomes an Error naming `name`.
 */
export async function gunzipBytes(input: Uint8Array | ArrayBuffer, name: string): Promise<Uint8Array> {
  const bytes = asBytes(input);
  if (typeof DecompressionStream === 'undefined') {
    throw new Error(`${name}: gzip data, but this runtime has no DecompressionStream; give the decompressed file instead`);
  }
  try {
    // A copy with its own ArrayBuffer (Blob wants ArrayBuffer-backed views; a Node Buffer's
    // .slice() would still be a view into its pool).
    const stream = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`${name}: bad gzip data (${errorText(e)})`);
  }
}

/**
 * gzip bytes of an IDX file, decompressed with DecompressionStream (browser and Node >= 18) and
 * the cap of the module comment.
 */
async function gunzipIdxStream(bytes: Uint8Array, name: string, maxBytes: number): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') {
    throw new Error(`${name}: gzip data, but this runtime has no DecompressionStream; give the decompressed file instead`);
  }
  const out = new CappedIdxOutput(name, maxBytes);
  const reader = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        throw new Error(`${name}: bad gzip data (${errorText(e)})`);
      }
      if (r.done || !out.push(r.value)) break;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return out.bytes();
}

/** Node: the same with zlib's streaming gunzip (its messages, e.g. "unexpected end of file"). */
async function gunzipIdxNode(bytes: Uint8Array, name: string, maxBytes: number): Promise<Uint8Array> {
  const { createGunzip } = await import('node:zlib');
  const out = new CappedIdxOutput(name, maxBytes);
  await new Promise<void>((resolve, reject) => {
    const gunzip = createGunzip();
    const stop = (e?: Error) => {
      gunzip.removeAllListeners('data');
      gunzip.destroy();
      if (e) reject(e);
      else resolve();
    };
    gunzip.on('data', (chunk: Uint8Array) => {
      try {
        if (!out.push(chunk)) stop();
      } catch (e) {
        stop(e as Error);
      }
    });
    gunzip.on('end', () => resolve());
    gunzip.on('error', (e) => reject(new Error(`${name}: bad gzip data (${errorText(e)})`)));
    gunzip.end(bytes);
  });
  return out.bytes();
}

/**
 * Raw or gzip-compressed IDX bytes (gzip recognised by its 0x1f8b signature) to an IdxArray.
 * Browser-compatible: give it the bytes of a fetch() or a File. Decompression is bounded (see the
 * module comment).
 */
export async function decodeIdx(input: Uint8Array | ArrayBuffer, name: string, expected?: IdxKind, options: IdxReadOptions = {}): Promise<IdxArray> {
  const bytes = asBytes(input);
  const maxBytes = maxBytesOf(name, options);
  const raw = isGzip(bytes) ? await gunzipIdxStream(bytes, name, maxBytes) : bytes;
  return parseIdx(raw, name, expected);
}

/**
 * Node: reads an IDX file, .gz or raw (decided by the content, not the name), with fs and zlib's
 * streaming gunzip, bounded as decodeIdx. Errors name the path.
 */
export async function loadIdxFile(path: string, expected?: IdxKind, options: IdxReadOptions = {}): Promise<IdxArray> {
  const { readFileSync, statSync } = await import('node:fs');
  const maxBytes = maxBytesOf(path, options);
  let file: Uint8Array;
  try {
    // Neither a raw nor a gzip file can be longer than what it may decompress to (plus gzip's own
    // framing, 18 bytes, and a little for incompressible blocks).
    const size = statSync(path).size;
    if (size > maxBytes + 1024 + maxBytes / 100) throw new Error(`the file is ${size} bytes, more than the ${maxBytes}-byte limit (maxBytes)`);
    file = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read IDX file (${errorText(e)})`);
  }
  const raw = isGzip(file) ? await gunzipIdxNode(file, path, maxBytes) : file;
  return parseIdx(raw, path, expected);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

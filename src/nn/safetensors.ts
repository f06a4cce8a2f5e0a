/**
 * safetensors (https://github.com/huggingface/safetensors), the checkpoint format of the Hugging
 * Face ecosystem, read and written in plain TypeScript (browser and Node; no dependency: the npm
 * name `safetensors` is a one-version placeholder and there is no official JS package).
 *
 * Layout:
 *   8 bytes    N, little-endian u64
 *   N bytes    UTF-8 JSON header: { "__metadata__"?: { string: string },
 *                                   name: { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ... }
 *              padded with spaces so that the data starts at a multiple of 8
 *   the rest   the data buffer; offsets are relative to its start, tensors are little-endian and
 *              row-major, and together cover the buffer exactly (no overlap, no hole).
 *
 * The writer follows the reference implementation byte for byte: tensors ordered by dtype
 * (widest alignment first, in the reference's dtype order) then by name, `__metadata__` first in
 * the header, header padded with spaces. So every tensor starts aligned to its element size.
 * The reader validates everything and names the tensor and the problem in its errors.
 *
 * Element types: F32 Float32Array, F64 Float64Array, I32 Int32Array, U32 Uint32Array,
 * I16 Int16Array, U16 Uint16Array, I8 Int8Array, U8 Uint8Array, I64 BigInt64Array,
 * U64 BigUint64Array; F16 and BF16 as their raw bits in a Uint16Array; BOOL (one byte, 0 or 1) and
 * the FP8 types F8_E5M2 / F8_E4M3 as raw bytes in a Uint8Array.
 */
import { formatShape } from '../runtime/format.js';

/** The reference's dtype order, increasing alignment (the writer sorts by it, descending). */
export const SAFETENSORS_DTYPES = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
] as const;
export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

export type SafetensorsArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  /** Row-major sizes; [] is a scalar (one element). */
  shape: number[];
  data: SafetensorsArray;
}

export interface SafetensorsContents {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

type ArrayCtor = { new (buffer: ArrayBuffer): SafetensorsArray; readonly BYTES_PER_ELEMENT: number; readonly name: string };

const ARRAY_OF: Record<SafetensorsDType, ArrayCtor> = {
  BOOL: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
  F8_E5M2: Uint8Array,
  F8_E4M3: Uint8Array,
  I16: Int16Array,
  U16: Uint16Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I32: Int32Array,
  U32: Uint32Array,
  F32: Float32Array,
  F64: Float64Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
};

/** The engine's dtypes (src/runtime/tensor.ts) in safetensors terms. */
export const SAFETENSORS_DTYPE_OF = { f32: 'F32', i32: 'I32', u32: 'U32' } as const satisfies Record<string, SafetensorsDType>;

/** The reference refuses headers above 100 MB; so do we (a corrupt length would otherwise allocate it). */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

export function bytesPerElement(dtype: SafetensorsDType): number {
  return ARRAY_OF[dtype].BYTES_PER_ELEMENT;
}

function isDType(v: unknown): v is SafetensorsDType {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(ARRAY_OF, v);
}

function fail(message: string): never {
  throw new Error(`safetensors: ${message}`);
}

/** Typed arrays are host-endian; the format is little-endian. Every current browser/Node host is. */
function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) fail('big-endian hosts are not supported');
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Compares names by UTF-8 bytes (the reference compares Rust Strings), not UTF-16 code units. */
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const enc = new TextEncoder();
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/** Serialises named tensors (and optional string metadata) to the bytes of a .safetensors file. */
export function serializeSafetensors(tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): Uint8Array {
  assertLittleEndianHost();
  if (tensors === null || typeof tensors !== 'object') fail(`tensors must be an object of named tensors, got ${String(tensors)}`);
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) checkTensorToWrite(name, t);
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object') fail(`metadata must be an object of strings, got ${String(metadata)}`);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail(`metadata value of '${k}' must be a string, got ${typeof v}`);
    }
  }

  const rank = (d: SafetensorsDType) => SAFETENSORS_DTYPES.indexOf(d);
  entries.sort(([na, a], [nb, b]) => rank(b.dtype) - rank(a.dtype) || compareUtf8(na, nb));

  // Built by hand rather than JSON.stringify(object): JS objects move integer-like keys ("0", "1")
  // to the front, and the header's order must be the data order.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const meta = Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${meta.join(',')}}`);
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

function checkTensorToWrite(name: string, t: SafetensorsTensor): void {
  if (name === '') fail('tensor names must not be empty');
  if (name === METADATA_KEY) fail(`'${METADATA_KEY}' is reserved for metadata, not a tensor name`);
  if (t === null || typeof t !== 'object') fail(`tensor '${name}' must be { dtype, shape, data }, got ${String(t)}`);
  if (!isDType(t.dtype)) fail(`tensor '${name}': unknown dtype '${String(t.dtype)}' (known: ${SAFETENSORS_DTYPES.join(', ')})`);
  checkShape(name, t.shape);
  const ctor = ARRAY_OF[t.dtype];
  if (!(t.data instanceof ctor)) {
    const got = t.data === null || typeof t.data !== 'object' ? String(t.data) : (t.data as object).constructor.name;
    fail(`tensor '${name}': dtype ${t.dtype} needs its data in a ${ctor.name}, got ${got}`);
  }
  const n = elementCount(t.shape);
  if (t.data.length !== n) fail(`tensor '${name}': shape ${formatShape(t.shape)} has ${n} elements, data has ${t.data.length}`);
  if (t.dtype === 'BOOL') {
    const bytes = t.data as Uint8Array;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] > 1) fail(`tensor '${name}': BOOL data must be 0 or 1, got ${bytes[i]} at index ${i}`);
    }
  }
}

function checkShape(name: string, shape: unknown): asserts shape is number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/**
 * Parses the bytes of a .safetensors file. Tensor data is copied into fresh, aligned typed arrays
 * (the file's buffer may be misaligned for them). Throws on: a file shorter than the length
 * field, a header length beyond the file, a header that is not UTF-8 JSON (object), bad
 * metadata, unknown dtypes, bad shapes, offsets out of range or not matching dtype × shape,
 * overlapping tensors, and bytes of the buffer that belong to no tensor.
 */
export function parseSafetensors(input: Uint8Array | ArrayBuffer): SafetensorsContents {
  assertLittleEndianHost();
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  const after = bytes.length - 8;
  if (n64 > BigInt(after)) fail(`header length ${n64} exceeds the file (${after} bytes after the 8-byte length field)`);
  const headerLength = Number(n64);
  if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} is above the ${MAX_HEADER_BYTES}-byte limit`);
  if (headerLength < 2) fail(`header length ${headerLength} is too small for a JSON object`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(`header must start with '{', got ${JSON.stringify(text.slice(0, 16))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header must be a JSON object');

  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }> = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (info === null || typeof info !== 'object' || Array.isArray(info)) fail(`${METADATA_KEY} must be an object of strings`);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${METADATA_KEY} must map strings to strings; '${k}' is ${v === null ? 'null' : typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    if (info === null || typeof info !== 'object' || Array.isArray(info)) fail(`tensor '${name}': entry must be an object with dtype, shape, data_offsets`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (!isDType(dtype)) fail(`tensor '${name}': unknown dtype ${JSON.stringify(dtype)} (known: ${SAFETENSORS_DTYPES.join(', ')})`);
    checkShape(name, shape);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${name}': data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`tensor '${name}': data_offsets [${begin}, ${end}] end before they begin`);
    const needed = elementCount(shape) * bytesPerElement(dtype);
    if (end - begin !== needed) {
      fail(`tensor '${name}': data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dtype} ${formatShape(shape)} needs ${needed}`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }

  const dataStart = 8 + headerLength;
  const bufferLength = bytes.length - dataStart;
  for (const e of entries) {
    if (e.end > bufferLength) fail(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] reach beyond the ${bufferLength}-byte data buffer (truncated file?)`);
  }
  // The tensors must tile the buffer: sorted by position, each starts where the previous ended.
  const byPosition = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: (typeof entries)[number] | undefined;
  for (const e of byPosition) {
    if (e.begin < covered && previous) {
      fail(`tensors '${previous.name}' [${previous.begin}, ${previous.end}] and '${e.name}' [${e.begin}, ${e.end}] overlap`);
    }
    if (e.begin > covered) {
      fail(`bytes [${covered}, ${e.begin}) of the data buffer belong to no tensor (before '${e.name}')`);
    }
    covered = e.end;
    previous = e;
  }
  if (covered !== bufferLength) fail(`the data buffer has ${bufferLength - covered} bytes after the last tensor (${bufferLength} in all, ${covered} used)`);

  const tensors: Record<string, SafetensorsTensor> = {};
  for (const e of entries) {
    // A copy into a fresh ArrayBuffer: aligned for any element size. (Not bytes.slice(): on a Node
    // Buffer that is a view into a shared pool.)
    const raw = new Uint8Array(e.end - e.begin);
    raw.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data: new ARRAY_OF[e.dtype](raw.buffer) };
  }
  return { tensors, metadata };
}

// ---------------------------------------------------------------------------------------------
// Node file helpers (node modules imported lazily, so this module still bundles for the browser)
// ---------------------------------------------------------------------------------------------

/** Node: reads and parses a .safetensors file; errors name the path. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsContents> {
  const { readFileSync } = await import('node:fs');
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`safetensors: cannot read ${path} (${e instanceof Error ? e.message : String(e)})`);
  }
  try {
    return parseSafetensors(bytes);
  } catch (e) {
    throw new Error(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Node: serialises and writes a .safetensors file. */
export async function writeSafetensorsFile(path: string, tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): Promise<void> {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, serializeSafetensors(tensors, metadata));
}

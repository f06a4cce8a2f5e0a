// safetensors reader/writer (src/nn/safetensors.ts). python3-safetensors is not packaged in Debian
// bookworm, so instead of a file written by Python here, the byte-exact outputs of the reference
// implementation are used: the expected bytes asserted by huggingface/safetensors' own Python test
// suite (bindings/python/tests/test_simple.py, Apache-2.0), which come from the Rust serializer
// behind `safetensors.numpy.save` / `safetensors.torch.save_file`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  bytesPerElement,
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  writeSafetensorsFile,
  type SafetensorsTensor,
} from '../src/nn/safetensors.js';

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const zeros = (n: number) => new Uint8Array(n);
const u64le = (n: number | bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};
/** A file with the given header text (not padded unless asked) and data bytes. */
const fileWith = (header: string, data: Uint8Array) => {
  const h = new TextEncoder().encode(header);
  return cat(u64le(h.length), h, data);
};

describe('byte-exact agreement with the reference implementation', () => {
  test('one I32 tensor: header padded with spaces to a multiple of 8', () => {
    const data = new Int32Array(4);
    const want = cat(latin1('@\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}    '), zeros(16));
    expect(serializeSafetensors({ test: { dtype: 'I32', shape: [2, 2], data } })).toEqual(want);
    data[3] = 1; // data[1, 1] = 1
    const want2 = cat(
      latin1('@\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}    '),
      latin1('\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00'),
    );
    expect(serializeSafetensors({ test: { dtype: 'I32', shape: [2, 2], data } })).toEqual(want2);
  });

  test('tensors sorted by dtype alignment then name, whatever the insertion order', () => {
    const t1: SafetensorsTensor = { dtype: 'I32', shape: [2, 2], data: new Int32Array(4) };
    const t2: SafetensorsTensor = { dtype: 'F16', shape: [2, 2], data: new Uint16Array(4) };
    const want = cat(
      latin1(
        '\x80\x00\x00\x00\x00\x00\x00\x00{"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]},"test2":{"dtype":"F16","shape":[2,2],"data_offsets":[16,24]}}      ',
      ),
      zeros(24),
    );
    expect(serializeSafetensors({ test1: t1, test2: t2 })).toEqual(want);
    expect(serializeSafetensors({ test2: t2, test1: t1 })).toEqual(want);
  });

  test('metadata comes first in the header', () => {
    const want = cat(
      latin1('`\x00\x00\x00\x00\x00\x00\x00{"__metadata__":{"framework":"pt"},"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}} '),
      zeros(16),
    );
    expect(serializeSafetensors({ test1: { dtype: 'I32', shape: [2, 2], data: new Int32Array(4) } }, { framework: 'pt' })).toEqual(want);
  });

  test('reads the reference test vectors, including an old unpadded header', () => {
    const old = cat(latin1('<\x00\x00\x00\x00\x00\x00\x00{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}'), zeros(16));
    const a = parseSafetensors(old);
    expect(Object.keys(a.tensors)).toEqual(['test']);
    expect(a.tensors.test.dtype).toBe('I32');
    expect(a.tensors.test.shape).toEqual([2, 2]);
    expect(a.tensors.test.data).toEqual(new Int32Array(4));
    expect(a.metadata).toEqual({});
    const withMeta = cat(
      latin1('f\x00\x00\x00\x00\x00\x00\x00{"__metadata__":{"framework":"pt"},"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}       '),
      zeros(16),
    );
    const b = parseSafetensors(withMeta);
    expect(b.metadata).toEqual({ framework: 'pt' });
    expect(Object.keys(b.tensors)).toEqual(['test1']);
  });

  test('a hand-built file with known values in every common dtype', () => {
    // F32 [1.5, -2], I32 [-1], U8 [7, 255, 0]: little-endian bytes written out by hand.
    const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[],"data_offsets":[8,12]},"c":{"dtype":"U8","shape":[1,3],"data_offsets":[12,15]}}';
    const data = Uint8Array.from([0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xff, 7, 255, 0]);
    const { tensors } = parseSafetensors(fileWith(header, data));
    expect(tensors.a.data).toEqual(Float32Array.from([1.5, -2]));
    expect(tensors.b.shape).toEqual([]);
    expect(tensors.b.data).toEqual(Int32Array.from([-1]));
    expect(tensors.c.data).toEqual(Uint8Array.from([7, 255, 0]));
  });
});

describe('round trip', () => {
  const all: Record<string, SafetensorsTensor> = {
    'f32 specials': { dtype: 'F32', shape: [2, 3], data: Float32Array.from([0, -0, 1.5, NaN, Infinity, -3.25e-38]) },
    f64: { dtype: 'F64', shape: [3], data: Float64Array.from([Math.PI, -1e300, 5e-324]) },
    i32: { dtype: 'I32', shape: [1, 2, 2], data: Int32Array.from([-2147483648, 2147483647, -1, 0]) },
    u32: { dtype: 'U32', shape: [2], data: Uint32Array.from([4294967295, 1]) },
    i16: { dtype: 'I16', shape: [3], data: Int16Array.from([-32768, 32767, 5]) },
    u16: { dtype: 'U16', shape: [1], data: Uint16Array.from([65535]) },
    f16: { dtype: 'F16', shape: [2], data: Uint16Array.from([0x3c00, 0xfc00]) }, // 1.0, -inf as half bits
    bf16: { dtype: 'BF16', shape: [1], data: Uint16Array.from([0x3f80]) },
    i8: { dtype: 'I8', shape: [3], data: Int8Array.from([-128, 127, 3]) },
    u8: { dtype: 'U8', shape: [5], data: Uint8Array.from([0, 1, 2, 254, 255]) },
    bool: { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) },
    f8: { dtype: 'F8_E4M3', shape: [2], data: Uint8Array.from([0x38, 0xb8]) },
    i64: { dtype: 'I64', shape: [2], data: BigInt64Array.from([-(2n ** 63n), 2n ** 62n + 1n]) },
    u64: { dtype: 'U64', shape: [1], data: BigUint64Array.from([2n ** 64n - 1n]) },
    scalar: { dtype: 'F32', shape: [], data: Float32Array.from([42]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    'ünïcödé name': { dtype: 'U8', shape: [1], data: Uint8Array.from([9]) },
    '10': { dtype: 'U8', shape: [1], data: Uint8Array.from([10]) },
    '2': { dtype: 'U8', shape: [1], data: Uint8Array.from([2]) },
  };

  /** Compares element bits, so NaN and −0 count. */
  const sameBits = (a: SafetensorsTensor, b: SafetensorsTensor) =>
    a.dtype === b.dtype &&
    JSON.stringify(a.shape) === JSON.stringify(b.shape) &&
    Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength));

  test('every dtype, scalars, empty tensors, odd names and metadata survive bit for bit', () => {
    const metadata = { format: 'wgtrain', step: '1200', 'clé': 'välue "quoted"\n' };
    const bytes = serializeSafetensors(all, metadata);
    const back = parseSafetensors(bytes);
    expect(back.metadata).toEqual(metadata);
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(all).sort());
    for (const [name, t] of Object.entries(all)) {
      expect(sameBits(back.tensors[name], t), name).toBe(true);
      expect(back.tensors[name].data.constructor).toBe(t.data.constructor);
    }
  });

  test('layout: data starts at a multiple of 8, every tensor aligned to its element size, buffer fully used', () => {
    const bytes = serializeSafetensors(all);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(headerText.trimEnd().length).toBeGreaterThan(n - 8); // padding is spaces, fewer than 8
    const header = JSON.parse(headerText) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    let total = 0;
    for (const [name, info] of Object.entries(header)) {
      expect(info.data_offsets[0] % bytesPerElement(info.dtype as never), name).toBe(0);
      total += info.data_offsets[1] - info.data_offsets[0];
    }
    expect(8 + n + total).toBe(bytes.length);
    // the header lists tensors in data order: widest dtypes first, then names by UTF-8 bytes ('10' < '2')
    const order = [...headerText.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    expect(order.slice(0, 3)).toEqual(['u64', 'i64', 'f64']);
    expect(order.indexOf('10')).toBeLessThan(order.indexOf('2'));
    const begins = order.map((name) => header[name].data_offsets[0]);
    expect([...begins].sort((a, b) => a - b)).toEqual(begins);
  });

  test('input views with a byte offset are written from the right bytes', () => {
    const backing = Float32Array.from([9, 9, 1, 2, 3, 9]);
    const view = backing.subarray(2, 5);
    const back = parseSafetensors(serializeSafetensors({ v: { dtype: 'F32', shape: [3], data: view } }));
    expect(back.tensors.v.data).toEqual(Float32Array.from([1, 2, 3]));
  });

  test('misaligned input bytes and pooled Node Buffers are read correctly', () => {
    const bytes = serializeSafetensors({ w: { dtype: 'F64', shape: [2], data: Float64Array.from([1.25, -7]) } });
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(parseSafetensors(shifted.subarray(3)).tensors.w.data).toEqual(Float64Array.from([1.25, -7]));
    const pooled = Buffer.from(bytes); // small Buffers live at an offset inside a shared pool
    expect(parseSafetensors(pooled).tensors.w.data).toEqual(Float64Array.from([1.25, -7]));
    expect(parseSafetensors(bytes.buffer as ArrayBuffer).tensors.w.data).toEqual(Float64Array.from([1.25, -7]));
  });

  test('an empty file (no tensors) round-trips', () => {
    const bytes = serializeSafetensors({});
    expect(bytes.length).toBe(16); // '{}' padded to 8
    expect(parseSafetensors(bytes)).toEqual({ tensors: {}, metadata: {} });
  });
});

describe('reading corrupted files', () => {
  const good = () => serializeSafetensors({ a: { dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) } });

  test('too short, header length beyond the file, absurd header length', () => {
    expect(() => parseSafetensors(new Uint8Array(5))).toThrow(/^safetensors: file is 5 bytes, shorter than the 8-byte header length$/);
    const g = good();
    expect(() => parseSafetensors(g.subarray(0, 20))).toThrow(/safetensors: header length 64 exceeds the file \(12 bytes after the 8-byte length field\)/);
    expect(() => parseSafetensors(cat(u64le(2n ** 63n), zeros(8)))).toThrow(/header length 9223372036854775808 exceeds the file/);
    expect(() => parseSafetensors(cat(u64le(0), zeros(8)))).toThrow(/header length 0 is too small for a JSON object/);
  });

  test('header that is not UTF-8, not an object, not JSON', () => {
    expect(() => parseSafetensors(cat(u64le(4), Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])))).toThrow(/safetensors: header is not valid UTF-8/);
    expect(() => parseSafetensors(fileWith('[1, 2]  ', zeros(0)))).toThrow(/header must start with '\{', got "\[1, 2\]  "/);
    expect(() => parseSafetensors(fileWith('{"a":{"dtype":"F32",', zeros(0)))).toThrow(/safetensors: header is not valid JSON \(/);
  });

  test('truncated file: tensor data beyond the buffer', () => {
    const g = good();
    expect(() => parseSafetensors(g.subarray(0, g.length - 4))).toThrow(
      /safetensors: tensor 'a': data_offsets \[0, 16\] reach beyond the 12-byte data buffer \(truncated file\?\)/,
    );
  });

  test('bad metadata', () => {
    expect(() => parseSafetensors(fileWith('{"__metadata__":{"step":3}}', zeros(0)))).toThrow(/__metadata__ must map strings to strings; 'step' is number/);
    expect(() => parseSafetensors(fileWith('{"__metadata__":["x"]}', zeros(0)))).toThrow(/__metadata__ must be an object of strings/);
  });

  test('unknown dtype, bad shape, bad offsets', () => {
    const one = (info: string, data = zeros(4)) => () => parseSafetensors(fileWith(`{"t":${info}}`, data));
    expect(one('{"dtype":"F4","shape":[1],"data_offsets":[0,4]}')).toThrow(/tensor 't': unknown dtype "F4" \(known: BOOL, U8, I8/);
    expect(one('{"dtype":"float32","shape":[1],"data_offsets":[0,4]}')).toThrow(/unknown dtype "float32"/);
    expect(one('{"shape":[1],"data_offsets":[0,4]}')).toThrow(/tensor 't': unknown dtype undefined/);
    expect(one('{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}')).toThrow(/tensor 't': shape must be an array of non-negative integers, got \[-1\]/);
    expect(one('{"dtype":"F32","shape":[0.5],"data_offsets":[0,4]}')).toThrow(/shape must be an array of non-negative integers, got \[0.5\]/);
    expect(one('{"dtype":"F32","shape":[1],"data_offsets":[0]}')).toThrow(/tensor 't': data_offsets must be \[begin, end\] with non-negative integers, got \[0\]/);
    expect(one('{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}')).toThrow(/data_offsets must be \[begin, end\] with non-negative integers, got \[-4,0\]/);
    expect(one('{"dtype":"F32","shape":[1],"data_offsets":[4,0]}')).toThrow(/tensor 't': data_offsets \[4, 0\] end before they begin/);
    expect(one('{"dtype":"F32","shape":[2],"data_offsets":[0,4]}')).toThrow(/tensor 't': data_offsets \[0, 4\] span 4 bytes, but F32 \[2\] needs 8/);
    expect(one('{"dtype":"F64","shape":[1],"data_offsets":[0,4]}')).toThrow(/span 4 bytes, but F64 \[1\] needs 8/);
    expect(one('[]')).toThrow(/tensor 't': entry must be an object with dtype, shape, data_offsets/);
  });

  test('overlapping tensors, holes, unused trailing bytes', () => {
    const two = (a: [number, number], b: [number, number], dataBytes: number) => () =>
      parseSafetensors(
        fileWith(
          `{"x":{"dtype":"F32","shape":[2],"data_offsets":[${a}]},"y":{"dtype":"F32","shape":[2],"data_offsets":[${b}]}}`,
          zeros(dataBytes),
        ),
      );
    expect(two([0, 8], [4, 12], 12)).toThrow(/safetensors: tensors 'x' \[0, 8\] and 'y' \[4, 12\] overlap/);
    expect(two([0, 8], [0, 8], 8)).toThrow(/tensors 'x' \[0, 8\] and 'y' \[0, 8\] overlap/);
    expect(two([0, 8], [12, 20], 20)).toThrow(/bytes \[8, 12\) of the data buffer belong to no tensor \(before 'y'\)/);
    expect(two([4, 12], [12, 20], 20)).toThrow(/bytes \[0, 4\) of the data buffer belong to no tensor \(before 'x'\)/);
    expect(two([0, 8], [8, 16], 19)).toThrow(/the data buffer has 3 bytes after the last tensor \(19 in all, 16 used\)/);
    expect(two([0, 8], [8, 16], 16)).not.toThrow();
  });
});

describe('writing bad input', () => {
  const write = (t: unknown, meta?: unknown) => () => serializeSafetensors(t as never, meta as never);
  test('dtype/array mismatches, shapes, names, metadata', () => {
    expect(write({ w: { dtype: 'F32', shape: [2], data: Float64Array.from([1, 2]) } })).toThrow(
      /safetensors: tensor 'w': dtype F32 needs its data in a Float32Array, got Float64Array/,
    );
    expect(write({ w: { dtype: 'F16', shape: [1], data: Float32Array.from([1]) } })).toThrow(/dtype F16 needs its data in a Uint16Array, got Float32Array/);
    expect(write({ w: { dtype: 'F32', shape: [1], data: [1] } })).toThrow(/needs its data in a Float32Array, got Array/);
    expect(write({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/tensor 'w': shape \[3\] has 3 elements, data has 2/);
    expect(write({ w: { dtype: 'F32', shape: [2, -1], data: new Float32Array(2) } })).toThrow(/tensor 'w': shape must be an array of non-negative integers, got \[2,-1\]/);
    expect(write({ w: { dtype: 'Q4', shape: [1], data: new Uint8Array(1) } })).toThrow(/tensor 'w': unknown dtype 'Q4'/);
    expect(write({ w: { dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 2]) } })).toThrow(/tensor 'w': BOOL data must be 0 or 1, got 2 at index 1/);
    expect(write({ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } })).toThrow(/'__metadata__' is reserved for metadata/);
    expect(write({ '': { dtype: 'U8', shape: [1], data: new Uint8Array(1) } })).toThrow(/tensor names must not be empty/);
    expect(write({}, { step: 3 })).toThrow(/safetensors: metadata value of 'step' must be a string, got number/);
    expect(write(null)).toThrow(/tensors must be an object of named tensors/);
  });
});

describe('Node file helpers', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wgtrain-st-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('write then read a file; errors name the path', async () => {
    const path = join(dir, 'ckpt.safetensors');
    await writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [2], data: Float32Array.from([0.5, 0.25]) } }, { epoch: '3' });
    const back = await readSafetensorsFile(path);
    expect(back.metadata).toEqual({ epoch: '3' });
    expect(back.tensors.w.data).toEqual(Float32Array.from([0.5, 0.25]));
    const broken = join(dir, 'broken.safetensors');
    writeFileSync(broken, new Uint8Array(3));
    await expect(readSafetensorsFile(broken)).rejects.toThrow(/broken\.safetensors: safetensors: file is 3 bytes, shorter than the 8-byte header length/);
    await expect(readSafetensorsFile(join(dir, 'missing.safetensors'))).rejects.toThrow(/safetensors: cannot read .*missing\.safetensors \(ENOENT/);
  });
});

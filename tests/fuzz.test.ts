/**
 * Seeded fuzzing of the two readers of untrusted bytes (issue 16): the IDX reader (raw and gzip,
 * in memory and from files) and the checkpoint loader. Each case truncates, flips a bit or writes a
 * random header value; the outcome must be a clear error naming the input, or a correct read, never
 * a hang, a crash or (for checkpoints) a partial load. Plus gzip bombs against the decompression cap.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { Rng } from '../src/nn/functional/creation.js';
import { decodeIdx, loadIdxFile, parseIdx, type IdxArray } from '../src/lab/data/idx.js';
import { parseSafetensors, serializeSafetensors } from '../src/nn/safetensors.js';
import { loadCheckpoint, saveCheckpoint } from '../src/lab/checkpoint.js';
import { useGpu } from './helpers/gpu.js';
import { makeTrainer, snapshot } from './helpers/checkpoint.js';

useGpu();

const TMP = mkdtempSync(join(tmpdir(), 'wgtrain-fuzz-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** Values a header field is likely to get wrong. */
const INTERESTING = [0, 1, 2, 3, 7, 8, 255, 256, 0x7fffffff, 0x80000000, 0xffffffff, 60000, 28];

interface Mutation {
  kind: 'truncate' | 'flip' | 'header';
  describe: string;
  bytes: Uint8Array;
}

/** One seeded mutation of `bytes`; header values go into the first `headerBytes` bytes. */
function mutate(r: Rng, bytes: Uint8Array, headerBytes: number): Mutation {
  const out = new Uint8Array(bytes);
  const pick = r.nextU32() % 3;
  if (pick === 0) {
    const n = r.nextU32() % bytes.length;
    return { kind: 'truncate', describe: `truncated to ${n}`, bytes: out.subarray(0, n) };
  }
  if (pick === 1) {
    const at = r.nextU32() % bytes.length;
    const bit = r.nextU32() % 8;
    out[at] ^= 1 << bit;
    return { kind: 'flip', describe: `bit ${bit} of byte ${at}`, bytes: out };
  }
  const at = (r.nextU32() % Math.max(1, headerBytes - 3)) & ~3;
  const value = r.uniform() < 0.5 ? INTERESTING[r.nextU32() % INTERESTING.length] : r.nextU32();
  new DataView(out.buffer).setUint32(at, value >>> 0, r.uniform() < 0.5);
  return { kind: 'header', describe: `u32 ${value} at byte ${at}`, bytes: out };
}

/** Rejects if `p` takes longer than `ms` (a hang). */
function inTime<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`hang: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

/** An images IDX file: 5 images of 4×3, bytes i·37 mod 256. */
const RAW = (() => {
  const out = new Uint8Array(16 + 60);
  out.set([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0, 3]);
  for (let i = 0; i < 60; i++) out[16 + i] = (i * 37) % 256;
  return out;
})();

/** What a correct read of decompressed bytes `raw` is (null: parseIdx refuses them, so must the reader). */
function expectedIdx(raw: Uint8Array | null): IdxArray | null {
  if (!raw) return null;
  try {
    return parseIdx(raw, 'ref');
  } catch {
    return null;
  }
}

function gunzipOrNull(bytes: Uint8Array): Uint8Array | null {
  try {
    return gunzipSync(bytes);
  } catch {
    return null;
  }
}

describe('IDX reader', () => {
  test('300 seeded mutations of raw and gzip bytes: a clear error naming the input, or the right array', async () => {
    const r = new Rng(2024);
    const gz = gzipSync(RAW);
    const outcomes = { errors: 0, reads: 0 };
    for (let i = 0; i < 300; i++) {
      const gzip = i % 2 === 1;
      const m = mutate(r, gzip ? gz : RAW, gzip ? 10 : 16);
      // For gzip, a third of the cases mutate the raw file and compress it (header values reach the IDX checks).
      const input = gzip && i % 3 === 0 ? gzipSync(mutate(r, RAW, 16).bytes) : m.bytes;
      const name = `case${i}.idx`;
      const reference = expectedIdx(gzip ? gunzipOrNull(input) : input);
      let got: IdxArray | null = null;
      try {
        got = await inTime(decodeIdx(input, name), 5000, `${name} ${m.describe}`);
      } catch (e) {
        expect(e, m.describe).toBeInstanceOf(Error);
        expect((e as Error).message.startsWith(`${name}: `), `${m.describe}: ${(e as Error).message}`).toBe(true);
        expect((e as Error).message).not.toMatch(/hang/);
        outcomes.errors++;
      }
      if (got) {
        // A correct read: exactly what the (decompressed) bytes say, and the data fill the dims.
        expect(reference, m.describe).not.toBeNull();
        expect(got.dims).toEqual(reference!.dims);
        expect(Array.from(got.data)).toEqual(Array.from(reference!.data));
        expect(got.data.length).toBe(got.dims.reduce((a, b) => a * b, 1));
        outcomes.reads++;
      } else {
        // Where zlib and parseIdx accept the bytes, so must decodeIdx (no false alarms).
        if (reference && !gzip) expect.unreachable(`${m.describe}: refused bytes parseIdx reads`);
      }
    }
    expect(outcomes.errors).toBeGreaterThan(100);
    expect(outcomes.reads).toBeGreaterThan(10);
  });

  test('60 mutated files through loadIdxFile (the Node zlib path) behave the same', async () => {
    const r = new Rng(77);
    const gz = gzipSync(RAW);
    for (let i = 0; i < 60; i++) {
      const m = mutate(r, i % 2 ? gz : RAW, i % 2 ? 10 : 16);
      const file = join(TMP, `f${i}.gz`);
      writeFileSync(file, m.bytes);
      const viaBytes = await decodeIdx(m.bytes, file).then((a) => a.dims, (e: Error) => e.message);
      const viaFile = await inTime(loadIdxFile(file), 5000, file).then((a) => a.dims, (e: Error) => e.message);
      if (typeof viaBytes === 'string') {
        expect(typeof viaFile, m.describe).toBe('string');
        expect((viaFile as string).startsWith(`${file}: `), `${m.describe}: ${viaFile}`).toBe(true);
      } else {
        expect(viaFile, m.describe).toEqual(viaBytes);
      }
    }
  });

  test('gzip bombs stop at the declared size: 8 bytes declared, 64 MiB of zeros behind them', async () => {
    const bomb = await new Promise<Uint8Array>((resolve) => {
      const gz = createGzip({ level: 9 });
      const parts: Buffer[] = [];
      gz.on('data', (b: Buffer) => parts.push(b));
      gz.on('end', () => resolve(new Uint8Array(Buffer.concat(parts))));
      gz.write(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 8]));
      const zeros = Buffer.alloc(1 << 20);
      for (let i = 0; i < 64; i++) gz.write(zeros);
      gz.end();
    });
    expect(bomb.length).toBeLessThan(100_000);
    const file = join(TMP, 'bomb.gz');
    writeFileSync(file, bomb);
    for (const read of [() => decodeIdx(bomb, 'bomb.gz', 'labels'), () => loadIdxFile(file, 'labels')]) {
      const t0 = performance.now();
      await expect(read()).rejects.toThrow(/bomb\.gz: the gzip data decompresses to more than the 16 bytes its IDX header declares; stopped there/);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
    // A header that declares more than maxBytes is refused as soon as it is read.
    const big = gzipSync(Uint8Array.from([0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 1, 0, 0, 0, 1, 0]));
    await expect(decodeIdx(big, 'big.gz', 'images', { maxBytes: 1 << 20 })).rejects.toThrow(/big\.gz: the IDX header declares 60000 × 256 × 256 = 3932160000 bytes of data, more than the 1048576-byte limit \(maxBytes\)/);
  });
});

describe('checkpoint loader', () => {
  test('300 seeded mutations, with and without a checksum: a clear error and an untouched trainer, or a correct load', async () => {
    const a = makeTrainer();
    await a.trainer.run(3);
    const withCrc = await saveCheckpoint(a.trainer);
    a.dispose();
    const { tensors, metadata } = parseSafetensors(withCrc);
    const withoutCrc = serializeSafetensors(tensors, { wgtrain: metadata.wgtrain });
    const headerOf = (b: Uint8Array) => 8 + Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));

    const b = makeTrainer(42);
    const pristine = await snapshot(b.trainer);
    const r = new Rng(99);
    const outcomes = { errors: 0, loads: 0 };
    for (let i = 0; i < 300; i++) {
      const source = i % 2 ? withoutCrc : withCrc;
      const m = mutate(r, source, Math.min(headerOf(source), 64));
      const name = `fz${i}.ckpt`;
      let loaded = false;
      try {
        loadCheckpoint(b.trainer, m.bytes, name);
        loaded = true;
      } catch (e) {
        expect(e, m.describe).toBeInstanceOf(Error);
        expect((e as Error).message, m.describe).toContain(name);
        outcomes.errors++;
      }
      if (!loaded) {
        // Every 10th error: nothing of the trainer changed (each check reads back every tensor).
        if (outcomes.errors % 10 === 0) expect(await snapshot(b.trainer), m.describe).toEqual(pristine);
        continue;
      }
      // A correct load: the weights are exactly the file's.
      outcomes.loads++;
      const file = parseSafetensors(m.bytes).tensors;
      for (const [n, p] of b.model.namedParameters()) {
        expect(Array.from(await p.toArray()), `${m.describe}: ${n}`).toEqual(Array.from(file[`model.${n}`].data as Float32Array));
      }
      // Back to the pristine state for the next case: a fresh trainer.
      b.dispose();
      Object.assign(b, makeTrainer(42));
    }
    expect(await snapshot(b.trainer)).toEqual(pristine); // the live tensor count included: nothing leaked
    // With a checksum nothing mutated loads; without one, some flips land in the data and load as written.
    expect(outcomes.errors).toBeGreaterThan(150);
    b.dispose();
  });
});

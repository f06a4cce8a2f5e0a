/**
 * Checkpoints load all or nothing (issue 16, defect 4): every way a checkpoint can fail to fit is
 * an error raised before anything is written, so the trainer keeps its weights, optimizer state,
 * step, data position and dropout stream, and no tensor leaks. The CRC-32 in the metadata catches
 * a flipped bit anywhere; NaN or inf values (a run that diverged) are refused; `force` loads both
 * anyway; checkpoints without a checksum (written before it existed) still load and resume exactly.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { crc32, crc32Hex } from '../src/nn/crc32.js';
import { parseSafetensors, serializeSafetensors, type SafetensorsTensor } from '../src/nn/safetensors.js';
import type { StepMetrics } from '../src/lab/trainer.js';
import { CheckpointIntegrityError, loadCheckpoint, saveCheckpoint } from '../src/lab/checkpoint.js';
import { useGpu } from './helpers/gpu.js';
import { makeTrainer, snapshot } from './helpers/checkpoint.js';

useGpu();

/** The checkpoint's parts, to rewrite one and serialise it again (without a checksum, as an old file). */
function edit(bytes: Uint8Array, change: (meta: any, tensors: Record<string, SafetensorsTensor>) => void): Uint8Array {
  const { tensors, metadata } = parseSafetensors(bytes);
  const meta = JSON.parse(metadata.wgtrain);
  change(meta, tensors);
  return serializeSafetensors(tensors, { wgtrain: JSON.stringify(meta) });
}

async function checkpointAfter(steps: number): Promise<Uint8Array> {
  const a = makeTrainer();
  await a.trainer.run(steps);
  const bytes = await saveCheckpoint(a.trainer);
  a.dispose();
  return bytes;
}

describe('all or nothing', () => {
  test('every mismatch is refused before anything is written; the trainer is unchanged and trains on', async () => {
    const bytes = await checkpointAfter(3);
    const b = makeTrainer(99);
    await b.trainer.run(1);
    const before = await snapshot(b.trainer);
    const totalSteps = b.trainer.totalSteps;
    const cases: [string, Uint8Array, RegExp][] = [
      ['a missing optimizer tensor', edit(bytes, (_, t) => delete t['optim.layers.0.weight.exp_avg']), /ckpt does not match this run: AdamW\.loadStateDict: missing layers\.0\.weight\.exp_avg/],
      ['a negative optimizer step', edit(bytes, (m) => (m.optimizer.step = -1)), /step must be a non-negative integer, got -1/],
      ['a bad lr', edit(bytes, (m) => (m.optimizer.lr = -0.5)), /lr must be a finite number >= 0, got -0\.5/],
      ['a non-numeric lr', edit(bytes, (m) => (m.optimizer.lr = 'x')), /lr must be a finite number >= 0, got x/],
      ['bad betas', edit(bytes, (m) => (m.optimizer.hyperparameters.beta1 = 1.5)), /beta/],
      ['an out-of-range trainer step', edit(bytes, (m) => (m.trainer.step = totalSteps + 1)), new RegExp(`trainer step ${totalSteps + 1} is outside this run's 0\\.\\.${totalSteps}`)],
      ['a sampler mismatch', edit(bytes, (m) => (m.trainer.sampler.seed += 1)), /the saved data order has seed 12, this sampler has 11/],
      ['a sampler position past the epoch', edit(bytes, (m) => (m.trainer.sampler.step = 1000)), /step 1000 is outside/],
      ['no trainer entry', edit(bytes, (m) => delete m.trainer), /ckpt does not match this run: the trainer state is nothing/],
      ['no optimizer entry', edit(bytes, (m) => delete m.optimizer), /the optimizer state is nothing/],
      ['a dropout state { seed: "x" }', edit(bytes, (m) => (m.trainer.dropout = { seed: 'x', count: 0 })), /dropout state: Generator.setState: seed must be a non-negative integer below 2\^53, got "x"/],
      ['a wider model', edit(bytes, (_, t) => (t['model.layers.0.weight'] = { dtype: 'F32', shape: [9, 16], data: new Float32Array(144) })), /layers\.0\.weight: expected shape \[8,16\], got \[9,16\]/],
    ];
    for (const [what, file, message] of cases) {
      expect(() => loadCheckpoint(b.trainer, file, 'ckpt'), what).toThrow(message);
      expect(await snapshot(b.trainer), what).toEqual(before);
    }
    // Nothing leaked, nothing half-applied: the trainer takes its next step as if nothing happened.
    await b.trainer.run(3);
    expect(b.trainer.step).toBe(3);
    b.dispose();
  });

  test('the error kinds: a damaged file is a CheckpointIntegrityError naming the file, a mismatch a plain error', async () => {
    const bytes = await checkpointAfter(2);
    const b = makeTrainer();
    const before = await snapshot(b.trainer);
    for (const [file, message] of [
      [new Uint8Array(0), /^runs\/x\.ckpt: safetensors: file is 0 bytes, shorter than the 8-byte header length \(0 bytes; a damaged or truncated file\)/],
      [bytes.subarray(0, bytes.length - 100), /^runs\/x\.ckpt: safetensors: .*beyond the .*data buffer \(truncated file\?\)/],
      [bytes.subarray(0, 50), /^runs\/x\.ckpt: safetensors: header length \d+ exceeds the file/],
      [serializeSafetensors({}, { other: '1' }), /^runs\/x\.ckpt: not a wgtrain checkpoint/],
    ] as [Uint8Array, RegExp][]) {
      let error: unknown;
      try {
        loadCheckpoint(b.trainer, file, 'runs/x.ckpt');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CheckpointIntegrityError);
      expect((error as Error).message).toMatch(message);
    }
    let mismatch: unknown;
    try {
      loadCheckpoint(b.trainer, edit(bytes, (m) => (m.trainer.step = -3)), 'runs/x.ckpt');
    } catch (e) {
      mismatch = e;
    }
    expect(mismatch).toBeInstanceOf(Error);
    expect(mismatch).not.toBeInstanceOf(CheckpointIntegrityError);
    expect(await snapshot(b.trainer)).toEqual(before);
    b.dispose();
  });
});

describe('checksum and non-finite values', () => {
  test('the checksum is the CRC-32 of the file with its digits zeroed (zlib agrees); it only adds metadata', async () => {
    expect(crc32Hex(crc32(new TextEncoder().encode('123456789')))).toBe('cbf43926'); // the standard check value
    const bytes = await checkpointAfter(2);
    const { metadata } = parseSafetensors(bytes);
    expect(metadata['wgtrain.crc32']).toMatch(/^[0-9a-f]{8}$/);
    const text = new TextDecoder().decode(bytes.subarray(0, 4096));
    const at = text.indexOf(`"wgtrain.crc32":"${metadata['wgtrain.crc32']}"`) + '"wgtrain.crc32":"'.length;
    const zeroed = new Uint8Array(bytes);
    zeroed.set(new TextEncoder().encode('00000000'), at);
    expect(crc32Hex(zlibCrc32(zeroed))).toBe(metadata['wgtrain.crc32']);
    expect(crc32Hex(crc32(zeroed))).toBe(metadata['wgtrain.crc32']);
    // Without the checksum the same tensors and state are written.
    const plain = edit(bytes, () => {});
    const a = parseSafetensors(plain);
    const b = parseSafetensors(bytes);
    expect(a.tensors).toEqual(b.tensors);
    expect(a.metadata.wgtrain).toBe(b.metadata.wgtrain);
  });

  test('a flipped bit anywhere is detected; force loads it anyway', async () => {
    const bytes = await checkpointAfter(2);
    const b = makeTrainer();
    const before = await snapshot(b.trainer);
    const last = bytes.length - 1; // in the last tensor's data
    for (const [at, bit] of [[last, 0], [last - 4 * 7, 6], [40, 1]] as const) {
      const flipped = new Uint8Array(bytes);
      flipped[at] ^= 1 << bit;
      expect(() => loadCheckpoint(b.trainer, flipped, 'ckpt'), `byte ${at}`).toThrow(CheckpointIntegrityError);
      expect(await snapshot(b.trainer)).toEqual(before);
    }
    const flipped = new Uint8Array(bytes);
    flipped[last] ^= 1;
    expect(() => loadCheckpoint(b.trainer, flipped, 'ckpt')).toThrow(/^ckpt: checksum mismatch \(the file says [0-9a-f]{8}, its bytes give [0-9a-f]{8}\): it was damaged after it was written; pass \{ force: true \} to load it anyway/);
    loadCheckpoint(b.trainer, flipped, { name: 'ckpt', force: true });
    expect(b.trainer.step).toBe(2);
    b.dispose();
  });

  test('NaN or inf written by a diverged run is refused, naming the tensor; force loads it', async () => {
    const a = makeTrainer();
    await a.trainer.run(2);
    const [, w] = a.model.namedParameters()[0];
    const values = await w.toArray();
    values[5] = NaN;
    values[9] = Infinity;
    w.assign(values);
    const bytes = await saveCheckpoint(a.trainer);
    a.dispose();
    const b = makeTrainer();
    const before = await snapshot(b.trainer);
    expect(() => loadCheckpoint(b.trainer, bytes, 'ckpt')).toThrow(/^ckpt: tensor model\.layers\.0\.weight holds 2 non-finite values \(the first, NaN, at index 5\): written by a run that had diverged, or damaged; pass \{ force: true \}/);
    expect(await snapshot(b.trainer)).toEqual(before);
    loadCheckpoint(b.trainer, bytes, { force: true });
    const loaded = await b.model.namedParameters()[0][1].toArray();
    expect(Number.isNaN(loaded[5]) && loaded[9] === Infinity).toBe(true);
    b.dispose();
  });

  test('a checkpoint without a checksum (written before it existed) loads and resumes exactly', async () => {
    const whole: StepMetrics[] = [];
    const w = makeTrainer(7, whole);
    await w.trainer.run(10);
    w.dispose();
    const bytes = await checkpointAfter(4);
    const old = edit(bytes, () => {});
    expect(parseSafetensors(old).metadata['wgtrain.crc32']).toBeUndefined();
    const resumed: StepMetrics[] = [];
    const r = makeTrainer(123, resumed);
    loadCheckpoint(r.trainer, old);
    await r.trainer.run(10);
    expect(resumed.map((m) => m.loss)).toEqual(whole.slice(4).map((m) => m.loss));
    r.dispose();
  });
});

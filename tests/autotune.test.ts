/**
 * The autotuner (src/runtime/autotune.ts) and its use by matmul: picks the fastest candidate,
 * persists per adapter, survives bad cache files, and a real tuning run on SwiftShader.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import { useGpu } from './helpers/gpu.js';
import { expectClose, randomArray } from './helpers/check.js';
import { matmulRef } from './reference/matmul.js';
import { adapterReport, matmul, tensor } from '../src/index.js';
import {
  Autotuner, autotune, autotuneEnabled, bucketPow2, configureAutotune, fileStore, memoryStore, resetAutotunerForTests,
  adapterFingerprint, type Candidate, type Timer,
} from '../src/runtime/autotune.js';
import {
  autotuneMatmul, clearSeenMatmulClassesForTests, matmulCandidates, matmulChoice, matmulProblemClass, matmulVariant,
  MATMUL_CANDIDATES, MATMUL_LIMITS, seenMatmulClasses, setMatmulConfigForTests, tileConfigId, tileConfigProblem,
} from '../src/nn/functional/matmul/index.js';

// Never the real home directory: every cache in this file lives under a fresh temporary directory.
const CACHE_DIR = mkdtempSync(join(tmpdir(), 'wgtrain-autotune-'));
process.env.WGTRAIN_CACHE_DIR = CACHE_DIR;
const CACHE_FILE = join(CACHE_DIR, 'autotune-v1.json');

useGpu();

afterEach(() => {
  vi.restoreAllMocks();
  delete process.env.WGTRAIN_AUTOTUNE;
  configureAutotune({ enabled: undefined, cacheDir: undefined, persist: undefined });
});
afterAll(() => {
  setMatmulConfigForTests(null);
  rmSync(CACHE_DIR, { recursive: true, force: true });
});

const candidates = (...ids: string[]): Candidate[] => ids.map((id) => ({ id, run: () => {} }));

/** A timer that returns fixed times and counts its calls. */
function fakeTimer(times: Record<string, number>): Timer & { calls: number } {
  const t = async (cs: readonly Candidate[]) => {
    t.calls++;
    return Object.fromEntries(cs.map((c) => [c.id, times[c.id]]));
  };
  t.calls = 0;
  return t;
}

const noTiming: Timer = async () => {
  throw new Error('this test expected the cached choice, not a timing run');
};

describe('Autotuner (pure logic, fake timer)', () => {
  test('picks the candidate with the smallest time and records every time', async () => {
    const timer = fakeTimer({ a: 3, b: 1.5, c: 2, d: Infinity });
    const tuner = new Autotuner({ fingerprint: 'gpu-A', timer });
    const r = await tuner.tune('op', 'class1', candidates('a', 'b', 'c', 'd'));
    expect(r.cached).toBe(false);
    expect(r.record.choice).toBe('b');
    expect(r.record.timesMs).toEqual({ a: 3, b: 1.5, c: 2, d: Infinity });
    expect(tuner.lookup('op', 'class1')?.choice).toBe('b');
    // Ties go to the earlier candidate; a second tune of the class does not time again.
    const tie = await new Autotuner({ fingerprint: 'gpu-A', timer: fakeTimer({ x: 1, y: 1 }) }).tune('op', 'c2', candidates('x', 'y'));
    expect(tie.record.choice).toBe('x');
    expect((await tuner.tune('op', 'class1', candidates('a', 'b'))).cached).toBe(true);
    expect(timer.calls).toBe(1);
  });

  test('every candidate failing is an error; a stored choice that is no longer a candidate is re-timed', async () => {
    const tuner = new Autotuner({ fingerprint: 'gpu-A', timer: fakeTimer({ a: Infinity }) });
    await expect(tuner.tune('op', 'k', candidates('a'))).rejects.toThrow(/autotune: every candidate of op failed for k/);
    const t2 = fakeTimer({ a: 2, b: 1, c: 5 });
    const tuner2 = new Autotuner({ fingerprint: 'gpu-A', timer: t2 });
    await tuner2.tune('op', 'k', candidates('a', 'b'));
    const again = await tuner2.tune('op', 'k', candidates('a', 'c'));
    expect([again.cached, again.record.choice, t2.calls]).toEqual([false, 'a', 2]);
  });

  test('a second instance reads the stored choice without timing; other adapters do not share it', async () => {
    const dir = mkdtempSync(join(CACHE_DIR, 'logic-'));
    const first = new Autotuner({ fingerprint: 'gpu-A', store: fileStore(dir), timer: fakeTimer({ a: 2, b: 1 }) });
    await first.tune('matmul', 'M64', candidates('a', 'b'), { M: 64 });
    const text = JSON.parse(readFileSync(join(dir, 'autotune-v1.json'), 'utf8'));
    expect(text.version).toBe(1);
    expect(text.adapters['gpu-A']['matmul|M64']).toMatchObject({ choice: 'b', timesMs: { a: 2, b: 1 }, problem: { M: 64 } });

    const second = new Autotuner({ fingerprint: 'gpu-A', store: fileStore(dir), timer: noTiming });
    const r = await second.tune('matmul', 'M64', candidates('a', 'b'));
    expect([r.cached, r.record.choice, second.timings]).toEqual([true, 'b', 0]);

    const otherTimer = fakeTimer({ a: 1, b: 2 });
    const other = new Autotuner({ fingerprint: 'gpu-B', store: fileStore(dir), timer: otherTimer });
    expect(other.lookup('matmul', 'M64')).toBeUndefined();
    expect((await other.tune('matmul', 'M64', candidates('a', 'b'))).record.choice).toBe('a');
    expect(otherTimer.calls).toBe(1);
    // Both adapters' entries are kept (saving merges with what the file holds).
    const both = JSON.parse(readFileSync(join(dir, 'autotune-v1.json'), 'utf8'));
    expect(Object.keys(both.adapters).sort()).toEqual(['gpu-A', 'gpu-B']);
    // Failed candidates survive the JSON round trip as Infinity.
    await new Autotuner({ fingerprint: 'gpu-C', store: fileStore(dir), timer: fakeTimer({ a: Infinity, b: 1 }) }).tune('matmul', 'M64', candidates('a', 'b'));
    expect(new Autotuner({ fingerprint: 'gpu-C', store: fileStore(dir) }).lookup('matmul', 'M64')?.timesMs.a).toBe(Infinity);
  });

  test('a corrupt or foreign-version cache is ignored with one warning, and replaced by the next save', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (const [i, bad] of ['{"version": 1, "adapters": {', '{"version": 99, "adapters": {}}', '[1, 2]'].entries()) {
      const dir = mkdtempSync(join(CACHE_DIR, 'bad-'));
      writeFileSync(join(dir, 'autotune-v1.json'), bad);
      const tuner = new Autotuner({ fingerprint: 'gpu-A', store: fileStore(dir), timer: fakeTimer({ a: 1 }) });
      expect(tuner.lookup('op', 'k')).toBeUndefined();
      expect((await tuner.tune('op', 'k', candidates('a'))).record.choice).toBe('a');
      expect(warn).toHaveBeenCalledTimes(i + 1);
      expect(String(warn.mock.calls[i][0])).toMatch(/wgtrain autotune: ignoring the cache at .*autotune-v1\.json \((not valid JSON|not a version 1 autotune cache)\)/);
      expect(new Autotuner({ fingerprint: 'gpu-A', store: fileStore(dir) }).lookup('op', 'k')?.choice).toBe('a');
    }
    // Memory store: same behaviour, nothing on disk.
    const m = memoryStore('not json');
    expect(new Autotuner({ fingerprint: 'x', store: m }).lookup('op', 'k')).toBeUndefined();
  });

  test('fingerprints and problem classes', () => {
    const report = { vendor: 'v', architecture: 'a', device: 'd', description: 'desc', limits: { maxComputeWorkgroupStorageSize: 32768, other: 1 } };
    expect(adapterFingerprint(report, ['maxComputeWorkgroupStorageSize'])).toBe('v|a|d|desc|maxComputeWorkgroupStorageSize=32768');
    expect(adapterFingerprint(report, ['maxComputeWorkgroupStorageSize'])).not.toBe(adapterFingerprint({ ...report, limits: { maxComputeWorkgroupStorageSize: 16384 } }, ['maxComputeWorkgroupStorageSize']));
    expect([1, 16, 17, 100, 128, 129, 4352, 1e6].map((n) => bucketPow2(n))).toEqual([16, 16, 32, 128, 128, 256, 8192, 8192]);
    expect(matmulProblemClass(100, 128, 120)).toBe(matmulProblemClass(128, 100, 104));
    expect(matmulProblemClass(4352, 192, 64, false, true)).toBe('M8192xN256xK64|tA-|tB+|v4:1,1,1');
    expect(matmulProblemClass(64, 64, 64, true)).not.toBe(matmulProblemClass(64, 64, 64));
    expect(matmulProblemClass(64, 63, 64)).not.toBe(matmulProblemClass(64, 64, 64)); // vec4 stores differ
  });

  test('candidates are filtered by the device limits', () => {
    const big = { maxComputeWorkgroupStorageSize: 65536, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupSizeY: 1024 };
    expect(matmulCandidates(big).map(tileConfigId)).toEqual(MATMUL_CANDIDATES.map(tileConfigId));
    const small = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 128, maxComputeWorkgroupSizeX: 128, maxComputeWorkgroupSizeY: 128 };
    const ids = matmulCandidates(small).map(tileConfigId);
    // 256-thread and over-16-KiB configs drop out; 32x32 (64 threads) and 64x64 with 8x8 (64 threads)
    // stay, the latter also with prefetch and with its double-buffered tiles (exactly 16 KiB), and so
    // do the direct configs (no workgroup memory, at most 64 threads).
    expect(ids).toEqual(['32x32x16/4x4', '64x64x16/8x8', '64x64x16/8x8+pf', '64x64x16/8x8+pf2',
      '32x32/4x4+direct', '16x32/8x8+direct', '16x32/8x8+direct+rows', '32x16/8x8+direct', '32x32/8x8+direct', '64x32/8x8+direct']);
    expect(tileConfigProblem({ tileM: 128, tileN: 128, tileK: 32, threadM: 8, threadN: 8 }, small)).toMatch(/32768 bytes of workgroup memory, over 16384/);
    expect(tileConfigProblem({ tileM: 64, tileN: 64, tileK: 16, threadM: 4, threadN: 4 }, small)).toMatch(/256 threads, over 128/);
    expect(tileConfigProblem({ tileM: 64, tileN: 64, tileK: 16, threadM: 2, threadN: 4 }, big)).toMatch(/4 or 8/);
    // Double buffering doubles the workgroup memory, and needs prefetch; prefetch holds at most 4 vec4s
    // of a tile per thread in registers (64x64x32 with 8x8 per thread would need 8).
    expect(tileConfigProblem({ tileM: 128, tileN: 128, tileK: 16, threadM: 8, threadN: 8, prefetch: true, doubleBuffer: true }, small)).toMatch(/32768 bytes of workgroup memory, over 16384/);
    expect(tileConfigProblem({ tileM: 64, tileN: 64, tileK: 16, threadM: 8, threadN: 8, doubleBuffer: true }, big)).toMatch(/with prefetch only/);
    expect(tileConfigProblem({ tileM: 64, tileN: 64, tileK: 32, threadM: 8, threadN: 8, prefetch: true }, big)).toMatch(/prefetch of 8 vec4s of a tile per thread, over 4/);
    expect(MATMUL_LIMITS).toContain('maxComputeWorkgroupStorageSize');
  });
});

describe('matmul autotuning on the real adapter', () => {
  const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
  const data = (shape: number[], seed: number) => Float64Array.from(Float32Array.from(randomArray(size(shape), seed)));

  test('tunes a small class, uses and stores the choice; a fresh tuner reads it back without timing', async () => {
    resetAutotunerForTests();
    const [M, N, K] = [64, 64, 16];
    expect(matmulChoice(M, N, K)).toMatchObject({ tuned: false, id: tileConfigId(matmulVariant(M, N, K)) });
    const [r] = await autotuneMatmul([{ M, N, K }]);
    expect(r.cached).toBe(false);
    // Every candidate that fits a 64 x 64 x 16 problem was timed, and the fastest chosen.
    const timed = Object.keys(r.timesMs);
    expect(timed.sort()).toEqual(['16x32/8x8+direct', '16x32/8x8+direct+rows', '32x16/8x8+direct', '32x32/4x4+direct', '32x32/8x8+direct', '32x32x16/4x4',
      '64x32/8x8+direct', '64x64x16/4x4', '64x64x16/8x8', '64x64x16/8x8+pf', '64x64x16/8x8+pf2', '64x64x8/4x4']);
    expect(Object.values(r.timesMs).every((t) => Number.isFinite(t) && t > 0)).toBe(true);
    expect(r.timesMs[r.choice]).toBe(Math.min(...Object.values(r.timesMs)));
    const choice = matmulChoice(M, N, K);
    expect(choice).toMatchObject({ tuned: true, id: r.choice, problemClass: r.problemClass });
    expect(choice.config).toMatchObject({ ...r.config, aVec4: true, bVec4: true, cVec4: true });
    // The stored file has it under this adapter's fingerprint.
    expect(existsSync(CACHE_FILE)).toBe(true);
    const file = JSON.parse(readFileSync(CACHE_FILE, 'utf8'));
    const fp = adapterFingerprint(adapterReport(), MATMUL_LIMITS);
    expect(file.adapters[fp][`matmul|${r.problemClass}`].choice).toBe(r.choice);
    // Products of the class (another size in the same buckets) run with it, correctly.
    const A = data([60, 12], 1);
    const B = data([12, 52], 2);
    expect(matmulChoice(60, 52, 12).id).toBe(r.choice);
    const y = matmul(tensor(Float32Array.from(A), [60, 12]), tensor(Float32Array.from(B), [12, 52]));
    expectClose(await y.toArray(), matmulRef(A, [60, 12], B, [12, 52]).data, { rtol: 1e-4, atol: 2e-5, what: 'tuned matmul' });
    // A new process (here: a fresh shared tuner) finds the choice in the file; nothing is timed.
    resetAutotunerForTests();
    const [again] = await autotuneMatmul([{ M, N, K }], { timer: noTiming });
    expect([again.cached, again.choice]).toEqual([true, r.choice]);
    expect(matmulChoice(M, N, K).tuned).toBe(true);
  });

  test('autotune() tunes the classes matmul has seen and not tuned', async () => {
    clearSeenMatmulClassesForTests();
    const y = matmul(tensor(new Float32Array(5 * 7), [5, 7]), tensor(new Float32Array(7 * 3), [7, 3]));
    await y.toArray();
    const cls = matmulProblemClass(5, 3, 7);
    expect([...seenMatmulClasses().keys()]).toEqual([cls]);
    expect(matmulChoice(5, 3, 7).tuned).toBe(false);
    const results = await autotune();
    expect(results.map((r) => r.key)).toEqual([`matmul|${cls}`]);
    // Nothing bigger than the problem's padded size is timed: only tiles up to 32 x 32 (and K-steps up
    // to 8: the direct configs' 4) fit 5 x 3 x 7.
    const timed = Object.keys(results[0].record.timesMs);
    expect(timed).toEqual(['32x32/4x4+direct', '16x32/8x8+direct', '16x32/8x8+direct+rows', '32x16/8x8+direct', '32x32/8x8+direct']);
    expect(timed).toContain(results[0].record.choice);
    expect(matmulChoice(5, 3, 7)).toMatchObject({ tuned: true, id: results[0].record.choice });
  });

  test('WGTRAIN_AUTOTUNE=off (or configureAutotune) turns tuning and stored choices off', async () => {
    expect(autotuneEnabled()).toBe(true);
    process.env.WGTRAIN_AUTOTUNE = 'off';
    expect(autotuneEnabled()).toBe(false);
    expect(await autotuneMatmul([{ M: 64, N: 64, K: 16 }], { timer: noTiming })).toEqual([]);
    expect(await autotune()).toEqual([]);
    // The class tuned above now runs with the heuristic.
    expect(matmulChoice(64, 64, 16)).toMatchObject({ tuned: false, id: tileConfigId(matmulVariant(64, 64, 16)) });
    delete process.env.WGTRAIN_AUTOTUNE;
    configureAutotune({ enabled: false });
    expect(matmulChoice(64, 64, 16).tuned).toBe(false);
    configureAutotune({ enabled: true });
    expect(matmulChoice(64, 64, 16).tuned).toBe(true);
  });
});

/** The timing harness (src/runtime/timing.ts) shared by the autotuner and the benchmarks. */
import { describe, expect, test } from 'vitest';
import { callsFor, median, timeInterleaved, type Batch } from '../src/runtime/timing.js';

describe('median', () => {
  test('odd count: the middle value; even: the mean of the two middle values; input left unsorted', () => {
    const xs = [5, 1, 4];
    expect(median(xs)).toBe(4);
    expect(xs).toEqual([5, 1, 4]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('timeInterleaved', () => {
  /** A case whose batches take `ms` per call, logging (name, calls) for every batch. */
  const fake = (name: string, ms: number, log: string[], failAt = -1): Batch => {
    let batches = 0;
    return async (calls) => {
      log.push(`${name}${calls}`);
      if (batches++ === failAt) throw new Error(`${name} failed`);
      return { ms };
    };
  };

  test('warm-ups, one calibration call, then rounds with every case once per round', async () => {
    const log: string[] = [];
    const t = await timeInterleaved([fake('a', 2, log), fake('b', 5, log)], { repeats: 3, targetMs: 20, maxCalls: 8, warmups: 2 });
    expect(log).toEqual(['a1', 'a1', 'a1', 'b1', 'b1', 'b1', 'a8', 'b4', 'a8', 'b4', 'a8', 'b4']);
    expect(t.map((x) => [x.ms, x.calls, x.samples.length])).toEqual([[2, 8, 3], [5, 4, 3]]);
  });

  test('a failing case propagates, or with tolerateErrors is dropped (ms Infinity) while the others go on', async () => {
    await expect(timeInterleaved([fake('a', 1, [], 3)], { repeats: 3, targetMs: 4, maxCalls: 8 })).rejects.toThrow('a failed');
    const log: string[] = [];
    const t = await timeInterleaved([fake('a', 1, log, 3), fake('b', 1, log)], { repeats: 3, targetMs: 4, maxCalls: 8, tolerateErrors: true });
    expect(log).toEqual(['a1', 'a1', 'b1', 'b1', 'a4', 'b4', 'a4', 'b4', 'b4']);
    expect(t[0].ms).toBe(Infinity);
    expect((t[0].error as Error).message).toBe('a failed');
    expect(t[1].ms).toBe(1);
  });

  test('batch size: about targetMs, at least one call, at most maxCalls', () => {
    expect(callsFor(3, 20, 64)).toBe(7);
    expect(callsFor(100, 20, 64)).toBe(1);
    expect(callsFor(0, 20, 64)).toBe(64);
  });
});

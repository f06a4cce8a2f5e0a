/**
 * PatientWaiter (src/runtime/patient-wait.ts): sleeping through most of a GPU wait instead of letting
 * Dawn's Node binding poll on a busy core. Timer-based: the waits are tens of ms, the checks leave
 * the scheduler a wide margin.
 */
import { describe, expect, test } from 'vitest';
import { PatientWaiter } from '../src/runtime/patient-wait.js';
import { now } from '../src/runtime/timing.js';

const after = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A settle() that resolves `ms` after `start`, and records when it was called. */
function gpuDoneAt(start: number, ms: number) {
  const calls: number[] = [];
  const settle = async () => {
    calls.push(now());
    await after(Math.max(0, start + ms - now()));
    return 'done';
  };
  return { settle, calls };
}

describe('PatientWaiter', () => {
  test('an unknown key does not sleep, and its duration is remembered', async () => {
    const w = new PatientWaiter();
    const start = now();
    const { settle, calls } = gpuDoneAt(start, 60);
    expect(await w.wait('k', start, settle)).toBe('done');
    expect(calls[0] - start).toBeLessThan(20); // awaited at once
    expect(w.sleeps).toBe(0);
    expect(w.predicted('k')).toBeGreaterThanOrEqual(55);
  });

  test('a known key sleeps until the given fraction of the last duration, then awaits', async () => {
    const w = new PatientWaiter({ fraction: 0.5 });
    let start = now();
    await w.wait('k', start, gpuDoneAt(start, 100).settle);
    start = now();
    const second = gpuDoneAt(start, 100);
    await w.wait('k', start, second.settle);
    expect(w.sleeps).toBe(1);
    // Slept to about half of ~100 ms before awaiting; the result still came at ~100 ms.
    expect(second.calls[0] - start).toBeGreaterThanOrEqual(45);
    expect(second.calls[0] - start).toBeLessThan(95);
    expect(w.predicted('k')).toBeGreaterThanOrEqual(95);
  });

  test('time already spent since the work started is not slept again', async () => {
    const w = new PatientWaiter({ fraction: 0.5 });
    let start = now();
    await w.wait('k', start, gpuDoneAt(start, 100).settle);
    start = now();
    await after(70); // recording took longer than the sleep would have
    await w.wait('k', start, gpuDoneAt(start, 100).settle);
    expect(w.sleeps).toBe(0);
  });

  test('oversleeping corrects itself: work that got faster shortens the next sleep', async () => {
    const w = new PatientWaiter({ fraction: 0.8 });
    let start = now();
    await w.wait('k', start, gpuDoneAt(start, 100).settle);
    // The same key now finishes at once: each wait observes about the sleep, 0.8 of the last.
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      start = now();
      await w.wait('k', start, gpuDoneAt(start, 0).settle);
      seen.push(w.predicted('k')!);
    }
    expect(seen[0]).toBeLessThan(95);
    expect(seen[2]).toBeLessThan(seen[0]);
  });

  test('keys are separate; the oldest is forgotten past maxKeys', async () => {
    const w = new PatientWaiter({ maxKeys: 2 });
    for (const k of ['a', 'b', 'c']) {
      const start = now();
      await w.wait(k, start, gpuDoneAt(start, 5).settle);
    }
    expect(w.predicted('a')).toBeUndefined();
    expect(w.predicted('b')).toBeDefined();
    expect(w.predicted('c')).toBeDefined();
  });

  test('a failed wait propagates its error and records nothing', async () => {
    const w = new PatientWaiter();
    await expect(w.wait('k', now(), async () => { throw new Error('device lost'); })).rejects.toThrow('device lost');
    expect(w.predicted('k')).toBeUndefined();
  });

  test('a fraction outside (0, 1) is refused', () => {
    expect(() => new PatientWaiter({ fraction: 1 })).toThrow(/fraction must be in \(0, 1\), got 1/);
    expect(() => new PatientWaiter({ fraction: 0 })).toThrow(/fraction/);
  });
});

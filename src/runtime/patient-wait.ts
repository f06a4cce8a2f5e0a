/**
 * Waiting for the GPU without burning a CPU core.
 *
 * Dawn's Node binding (the `webgpu` package) settles GPU promises (`mapAsync`,
 * `onSubmittedWorkDone`) by polling: while one is pending it re-arms `setImmediate`, so the event
 * loop never blocks and the main thread runs flat out until the GPU is done. On a GPU machine that
 * wastes a core. On a software adapter, where the "GPU" is SwiftShader's threads on the same CPU,
 * it takes a core away from the very work being waited for: on 2 cores the lab's MLP step
 * (784-32-32-10, batch 256, a readback every 25 steps) took 27 ms spinning and 19 ms sleeping.
 *
 * So a wait first sleeps (`setTimeout`: the event loop blocks in the OS, no CPU) until shortly
 * before the work is predicted to finish, and only then awaits the promise, whose polling covers
 * the rest. The prediction is the last observed duration of a wait with the same key: the caller
 * keys a wait by what it waits for (the engine: a signature of the dispatches submitted since the
 * last readback), and in a training loop every readback follows the same work. An unknown key
 * does not sleep. Sleeping to a fraction of the prediction self-corrects: a wait that overslept
 * observes the shorter duration, and the next sleeps less. Only timing changes, never results.
 *
 * Browsers do not poll like this (the GPU process settles the promise), so the engine uses it in
 * Node only; `WGTRAIN_PATIENT_WAIT=off` turns it off.
 */
import { now } from './timing.js';

export interface PatientWaitOptions {
  /** Sleep until this fraction of the predicted duration (default 0.8). */
  fraction?: number;
  /** Do not sleep for less than this many ms (timer granularity; default 2). */
  minSleepMs?: number;
  /** Keys remembered, oldest forgotten first (default 64). */
  maxKeys?: number;
}

export class PatientWaiter {
  private readonly durations = new Map<string, number>();
  private readonly fraction: number;
  private readonly minSleepMs: number;
  private readonly maxKeys: number;
  /** Total ms slept and waits that slept, for benchmarks and tests. */
  sleptMs = 0;
  sleeps = 0;

  constructor(options: PatientWaitOptions = {}) {
    this.fraction = options.fraction ?? 0.8;
    this.minSleepMs = options.minSleepMs ?? 2;
    this.maxKeys = options.maxKeys ?? 64;
    if (!(this.fraction > 0 && this.fraction < 1)) throw new Error(`PatientWaiter: fraction must be in (0, 1), got ${this.fraction}`);
  }

  /** The last observed duration for `key`, ms (undefined: never seen). */
  predicted(key: string): number | undefined {
    return this.durations.get(key);
  }

  /**
   * Awaits `settle()` for work that started at `startedAt` (a `now()` time), after sleeping until
   * `fraction` of the duration last observed for `key`; then records how long it took this time.
   */
  async wait<T>(key: string, startedAt: number, settle: () => Promise<T>): Promise<T> {
    const last = this.durations.get(key);
    if (last !== undefined) {
      const sleep = startedAt + this.fraction * last - now();
      if (sleep >= this.minSleepMs) {
        this.sleeps++;
        this.sleptMs += sleep;
        await new Promise((resolve) => setTimeout(resolve, sleep));
      }
    }
    const value = await settle();
    this.record(key, now() - startedAt);
    return value;
  }

  private record(key: string, ms: number): void {
    this.durations.delete(key); // re-inserted last: the Map's order is the age order
    this.durations.set(key, ms);
    if (this.durations.size > this.maxKeys) this.durations.delete(this.durations.keys().next().value as string);
  }
}

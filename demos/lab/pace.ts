/**
 * Steps per second and the time left, from the runner's progress events (RunnerProgress) as the
 * lab's worker forwards them.
 *
 * Every kind of event carries the experiment's `stepsDone`, and steps trained between two events
 * count whatever the later event is: the worker thins 'step' events to a few per second, so the
 * steps before a 'measure' or 'finish' event are often reported by that event only (counting
 * 'step' events alone lost them, which made the ETA ten times too long with the metrics on).
 * 'plan', 'skip' and 'start' only move the mark: after a resume they report runs finished, or
 * steps trained, before this session.
 *
 * The clock starts at the first trained step, not at Run: the first step includes compiling the
 * kernels, which says nothing about the steps to come. Paused time does not count.
 */
import type { RunnerProgress } from '../../src/lab/experiment/runner.js';

type Progress = Pick<RunnerProgress, 'kind' | 'stepsDone' | 'stepsTotal'>;

export class Pace {
  /** Steps trained since the clock started. */
  private trained = 0;
  /** The experiment's stepsDone at the last event. */
  private mark = 0;
  private activeMs = 0;
  /** When the current running stretch started counting (null: paused or clock not started). */
  private since: number | null = null;
  private running = false;
  private stepsTotal = 0;
  private stepsDone = 0;

  /** A new experiment. */
  reset(): void {
    Object.assign(this, { trained: 0, mark: 0, activeMs: 0, since: null, running: false, stepsTotal: 0, stepsDone: 0 });
  }

  /** Training runs (true) or is paused / over (false). */
  setRunning(on: boolean, now: number): void {
    if (!on && this.since !== null) {
      this.activeMs += now - this.since;
      this.since = null;
    }
    this.running = on;
  }

  onProgress(p: Progress, now: number): void {
    const trains = p.kind === 'step' || p.kind === 'measure' || p.kind === 'finish';
    if (trains && this.running) {
      if (this.since === null) {
        // The first step of this stretch starts the clock; it is not counted itself.
        this.since = now;
      } else {
        this.trained += Math.max(0, p.stepsDone - this.mark);
      }
    }
    this.mark = p.stepsDone;
    this.stepsDone = p.stepsDone;
    this.stepsTotal = p.stepsTotal;
  }

  /** Milliseconds of counted training time. */
  elapsedMs(now: number): number {
    return this.activeMs + (this.since !== null ? now - this.since : 0);
  }

  /** Steps per second so far (NaN until there is something to divide). */
  rate(now: number): number {
    const ms = this.elapsedMs(now);
    return this.trained > 0 && ms > 0 ? this.trained / (ms / 1000) : NaN;
  }

  /** Seconds left at the rate so far (NaN while unknown). */
  etaSeconds(now: number): number {
    const r = this.rate(now);
    return r > 0 ? Math.max(0, this.stepsTotal - this.stepsDone) / r : NaN;
  }
}

/** "42 s", "4 min 22 s", "1 h 5 min". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

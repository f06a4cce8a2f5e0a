/**
 * The experiment runner: every cell × arm × seed of a spec, trained with paired seeds (build.ts),
 * measured on the spec's metric schedule (analysis.ts), written down as it goes, and resumable.
 *
 *   const { results } = await runExperiment(spec, { outDir: 'reports/analysis', onProgress });
 *
 * Order: seed-major (seed 0 of every cell and arm, then seed 1, ...), so a run stopped halfway
 * still has balanced, paired results.
 *
 * Files under outDir (runFiles() gives the names):
 *   spec.json                      the spec; a different spec in an existing folder is an error
 *   results.jsonl                  one RunResult per finished run, appended and flushed to disk
 *   runs/<run>.metrics.jsonl       the run's MetricPoints, appended as they are measured
 *   runs/<run>.curve.jsonl         its training-loss points, appended before each checkpoint
 *   runs/<run>.ckpt                its checkpoint (checkpoint.ts format), replaced atomically
 *                                  every `checkpointEvery` steps and at epoch ends (isCheckpointStep); removed
 *                                  once the run's result is written
 *
 * Resume. Re-running the same spec into the same folder skips the runs in results.jsonl and
 * continues the unfinished one from its checkpoint: weights, optimizer moments, data position and
 * dropout stream are restored exactly (checkpoint.ts), and the two streams are cut back to the
 * points before the checkpoint's step, which are then measured again, identically. So a killed
 * process loses at most the steps since the run's last checkpoint, and the final results equal an
 * uninterrupted run's bit for bit. A stop through `signal` writes a checkpoint first and loses nothing.
 */
import { autotune } from '../../runtime/autotune.js';
import { adapterReport } from '../../runtime/engine.js';
import type { Tensor } from '../../runtime/tensor.js';
import { flattenParams, measure as analysisMeasure, type MeasureOptions } from '../analysis.js';
import { CheckpointIntegrityError, loadCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { parseSafetensors } from '../../nn/safetensors.js';
import type { GpuDataset } from '../data/gpu-dataset.js';
import type { StepMetrics, Trainer } from '../trainer.js';
import { buildRun, DataCache, nodeFashionMnist, type FashionMnistSource } from './build.js';
import { metricSteps, quickSpec, resolveCells, totalStepsOf, validateSpec, type ResolvedCell } from './spec.js';
import { nodeStore, type RunStore } from './store.js';
import { isCheckpointStep, runCostOf } from './cost.js';
import { shareOfAll, type Shard } from './shard.js';
import { runKey, type ArmSpec, type ExperimentSpec, type MetricPoint, type RunResult } from './types.js';

export type MeasureFn = (trainer: Trainer, train: GpuDataset, options: MeasureOptions) => Promise<MetricPoint>;

/** What the runner reports as it goes (for progress bars and logs). */
export interface RunnerProgress {
  /** plan: once at the start; skip: a run already in results.jsonl; start / step / measure / finish: the run in progress. */
  kind: 'plan' | 'skip' | 'start' | 'step' | 'measure' | 'finish';
  runsTotal: number;
  /** Finished runs, skipped ones included. */
  runsDone: number;
  /** Optimizer steps of all runs together, and those done (finished and skipped runs count in full). */
  stepsTotal: number;
  stepsDone: number;
  /** The run concerned (absent for 'plan'). */
  key?: string;
  step?: number;
  totalSteps?: number;
  /** 'start' of a resumed run: the checkpoint's step. */
  resumedFrom?: number;
  /** 'finish': the run's result. */
  result?: RunResult;
  /** 'measure': the point measured. */
  metric?: MetricPoint;
}

export interface RunExperimentOptions {
  /** The output folder (with the default Node store). */
  outDir: string;
  /** Run quickSpec(spec) instead of the spec (see spec.ts). */
  quick?: boolean;
  /** Called synchronously; an exception thrown here stops the experiment (the run resumes from its last checkpoint). */
  onProgress?: (p: RunnerProgress) => void;
  /** Stops after the current step: a checkpoint is written, then runExperiment rejects with an AbortError. */
  signal?: AbortSignal;
  /** Where files go (default: nodeStore(outDir)). */
  store?: RunStore;
  /** Fashion-MNIST loader (default: from disk, loadFashionMnist). */
  fashionMnist?: FashionMnistSource;
  /** Steps between checkpoints (besides epoch ends of epochs at least a quarter that long: isCheckpointStep). Default 200. */
  checkpointEvery?: number;
  /** The metric measurement (default analysis.measure); for tests. */
  measure?: MeasureFn;
  /**
   * Run only this share of the plan (shard.ts): `--part`, `--shard` and `--jobs` workers, each cut
   * from what the previous one left. Runs of other shares in results.jsonl are left alone.
   */
  shards?: readonly Shard[];
  /**
   * After the first step of each trained run, tune the matmul products seen so far that have no
   * stored choice (`autotune()`, src/runtime/autotune.ts). Every tile config gives bit-identical
   * results, so this changes speed only, never a number in the results. Default false.
   */
  autotune?: boolean;
}

export interface ExperimentOutcome {
  /** The spec that ran (after --quick, if given). */
  spec: ExperimentSpec;
  /** Every run's result, in plan order (runs finished earlier included). */
  results: RunResult[];
  /** Runs trained by this call (not skipped). */
  trained: number;
}

/** One planned run. */
export interface PlannedRun {
  key: string;
  cell: ResolvedCell;
  arm: ArmSpec;
  seed: number;
  totalSteps: number;
}

/** Seed-major order: for each seed, every cell, every arm. */
export function planRuns(spec: ExperimentSpec): PlannedRun[] {
  const cells = resolveCells(spec);
  const runs: PlannedRun[] = [];
  for (const seed of spec.seeds) {
    for (const cell of cells) {
      for (const arm of spec.arms) {
        runs.push({ key: runKey({ cell: cell.name, arm: arm.name, seed }), cell, arm, seed, totalSteps: totalStepsOf(spec, cell) });
      }
    }
  }
  return runs;
}

/** The file names of a run (relative to the output folder). */
export function runFiles(key: string): { metrics: string; curve: string; checkpoint: string } {
  const base = `runs/${key.split('/').join('__')}`;
  return { metrics: `${base}.metrics.jsonl`, curve: `${base}.curve.jsonl`, checkpoint: `${base}.ckpt` };
}

export const RESULTS_FILE = 'results.jsonl';
export const SPEC_FILE = 'spec.json';

/** A short adapter description for the results ("nvidia hopper (NVIDIA H100 ...), node"). */
export function adapterName(): string {
  const r = adapterReport();
  const what = [r.vendor, r.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  const desc = r.description || r.device;
  return `${what}${desc ? ` (${desc})` : ''}, ${r.runtime}${r.software ? ', software' : ''}`;
}

export class AbortError extends Error {
  constructor(message = 'the experiment was stopped') {
    super(message);
    this.name = 'AbortError';
  }
}

/** Key order fixed, so two equal specs serialise the same. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** The first path where two JSON values differ, or null; `labels` name where a and b come from. */
export function firstDifference(a: unknown, b: unknown, path = '', labels: readonly [string, string] = ['there', 'here']): string | null {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const sub = Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], sub, labels);
      if (d) return d;
    }
  }
  return `${path || '(top level)'}: ${JSON.stringify(a) ?? 'absent'} ${labels[0]}, ${JSON.stringify(b) ?? 'absent'} ${labels[1]}`;
}

/**
 * The JSON objects of a stream file, one per line. Lines are appended whole and flushed in order,
 * so a kill can tear only the last one: a last line without its newline, or one that is not a
 * JSON object (cut mid-write, even if a newline follows), is dropped, since it belongs to the run
 * or point in progress, and reported as `torn` (its line number). A bad line before the last is
 * damage no kill explains: an error naming the file and the line. `file` names it in messages.
 */
export function parseLines<T>(text: string | null, file: string): { items: T[]; torn: number | null } {
  if (!text) return { items: [], torn: null };
  const lines = text.split('\n');
  const unterminated = lines.pop() ?? '';
  let last = lines.length - 1;
  while (last >= 0 && !lines[last].trim()) last--;
  const items: T[] = [];
  for (let i = 0; i <= last; i++) {
    if (!lines[i].trim()) continue;
    let value: unknown;
    let problem = '';
    try {
      value = JSON.parse(lines[i]);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) problem = `a JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not an object`;
    } catch (e) {
      problem = (e as Error).message;
    }
    if (!problem) {
      items.push(value as T);
    } else if (i === last && !unterminated.trim()) {
      return { items, torn: i + 1 };
    } else {
      throw new Error(`${file}: line ${i + 1} is not a complete JSON object (${problem}); only a last line can be torn by a kill, so the file was damaged otherwise. Remove or repair that line and re-run.`);
    }
  }
  return { items, torn: unterminated.trim() ? lines.length + 1 : null };
}

/** Says that a torn last line was dropped (the run it belonged to is measured or trained again). */
function reportTorn(file: string, line: number): void {
  console.warn(`${file}: line ${line} was torn (cut off mid-write, as by a kill) and is dropped; it belonged to the run in progress, which is done again from its last checkpoint (or its start).`);
}

const toLines = (items: readonly unknown[]) => items.map((x) => JSON.stringify(x) + '\n').join('');

/** Reads a run's stream and cuts it to the points before `step` (rewriting the file if anything goes). */
async function readStreamBefore<T extends { step: number }>(store: RunStore, path: string, step: number): Promise<T[]> {
  const file = `${store.root}/${path}`;
  const { items, torn } = parseLines<T>(await store.readText(path), file);
  if (torn !== null) reportTorn(file, torn);
  const kept = items.filter((p) => p.step < step);
  if (kept.length !== items.length || torn !== null) await store.write(path, toLines(kept));
  return kept;
}

/** The experiment's folder: spec.json checked or written, results.jsonl read (a torn last line repaired). */
async function openOutput(store: RunStore, spec: ExperimentSpec): Promise<RunResult[]> {
  const mine = canonical(spec);
  // The description is prose: editing it does not make earlier runs incomparable.
  const withoutDescription = (s: unknown) => ({ ...(s as Record<string, unknown>), description: undefined });
  const existing = await store.readText(SPEC_FILE);
  if (existing !== null) {
    let theirs: unknown;
    try {
      theirs = canonical(JSON.parse(existing));
    } catch {
      throw new Error(`${store.root}/${SPEC_FILE} is not valid JSON; remove the folder or choose another output folder`);
    }
    const diff = firstDifference(canonical(withoutDescription(theirs)), canonical(withoutDescription(mine)));
    if (diff) {
      throw new Error(
        `${store.root} already holds results of a different experiment spec (${diff}). ` +
          'Resuming would mix incomparable runs: choose another output folder (--out) or remove this one.',
      );
    }
  } else {
    await store.write(SPEC_FILE, JSON.stringify(mine, null, 2) + '\n');
  }
  const file = `${store.root}/${RESULTS_FILE}`;
  const { items, torn } = parseLines<RunResult>(await store.readText(RESULTS_FILE), file);
  if (torn !== null) {
    reportTorn(file, torn);
    await store.write(RESULTS_FILE, toLines(items));
  }
  return items;
}

/**
 * Runs (or resumes) an experiment; see the module comment. Resolves with every run's result;
 * rejects with AbortError when `signal` stops it (after a checkpoint), or with the error of a run.
 */
export async function runExperiment(input: ExperimentSpec, options: RunExperimentOptions): Promise<ExperimentOutcome> {
  const spec = options.quick ? quickSpec(input) : validateSpec(structuredClone(input));
  const store = options.store ?? (await nodeStore(options.outDir));
  const checkpointEvery = options.checkpointEvery ?? 200;
  if (!Number.isInteger(checkpointEvery) || checkpointEvery <= 0) throw new Error(`runExperiment: checkpointEvery must be a positive integer, got ${checkpointEvery}`);
  const measure = options.measure ?? analysisMeasure;
  const previous = await openOutput(store, spec);
  const plan = shareOfAll(planRuns(spec), runCostOf(spec), options.shards ?? []);
  const byKey = new Map<string, RunResult>();
  const planned = new Set(plan.map((r) => r.key));
  for (const r of previous) if (planned.has(runKey(r))) byKey.set(runKey(r), r);

  const stepsTotal = plan.reduce((n, r) => n + r.totalSteps, 0);
  let stepsDone = 0;
  let runsDone = 0;
  const report = (p: Omit<RunnerProgress, 'runsTotal' | 'runsDone' | 'stepsTotal' | 'stepsDone'>) =>
    options.onProgress?.({ ...p, runsTotal: plan.length, runsDone, stepsTotal, stepsDone });
  report({ kind: 'plan' });

  const cache = new DataCache(plan.map((r) => r.cell), options.fashionMnist ?? nodeFashionMnist);
  let trained = 0;
  try {
    for (const run of plan) {
      if (byKey.has(run.key)) {
        // Finished earlier: its checkpoint (if a crash left one between result and removal) is stale.
        await store.remove(runFiles(run.key).checkpoint);
        stepsDone += run.totalSteps;
        runsDone++;
        report({ kind: 'skip', key: run.key, totalSteps: run.totalSteps });
        continue;
      }
      if (options.signal?.aborted) throw new AbortError();
      const stepsBefore = stepsDone;
      const result = await trainOne(spec, run, {
        store,
        cache,
        measure,
        checkpointEvery,
        autotune: !!options.autotune,
        signal: options.signal,
        onProgress: (p) => {
          stepsDone = stepsBefore + (p.step ?? 0);
          report(p);
        },
      });
      await store.append(RESULTS_FILE, JSON.stringify(result) + '\n');
      await store.remove(runFiles(run.key).checkpoint);
      byKey.set(run.key, result);
      stepsDone = stepsBefore + run.totalSteps;
      runsDone++;
      trained++;
      report({ kind: 'finish', key: run.key, step: run.totalSteps, totalSteps: run.totalSteps, result });
    }
  } finally {
    cache.dispose();
  }
  return { spec, results: plan.map((r) => byKey.get(r.key)!), trained };
}

interface TrainOneContext {
  store: RunStore;
  cache: DataCache;
  measure: MeasureFn;
  checkpointEvery: number;
  autotune: boolean;
  signal?: AbortSignal;
  onProgress: (p: Omit<RunnerProgress, 'runsTotal' | 'runsDone' | 'stepsTotal' | 'stepsDone'>) => void;
}

/** Notes stored in each checkpoint besides the trainer's state. */
interface CheckpointNotes {
  key: string;
  /** Wall time spent on this run before the checkpoint, across processes. */
  elapsedSeconds: string;
}

/** Trains one run (from its checkpoint if there is one) and evaluates it. */
async function trainOne(spec: ExperimentSpec, run: PlannedRun, ctx: TrainOneContext): Promise<RunResult> {
  const { store } = ctx;
  const files = runFiles(run.key);
  const data = await ctx.cache.get(run.cell);
  const T = run.totalSteps;
  const curveEvery = spec.curveEvery ?? Math.max(1, Math.round(T / 100));
  const pendingCurve: { step: number; loss: number }[] = [];
  const onMetrics = (ms: StepMetrics[]) => {
    for (const m of ms) if (m.step % curveEvery === 0 || m.step === T - 1) pendingCurve.push({ step: m.step, loss: m.loss });
  };
  const built = buildRun(spec, run.cell, run.arm, run.seed, data, { onMetrics });
  const { trainer, model } = built;
  let theta0: Tensor | null = null;
  try {
    if (trainer.totalSteps !== T) throw new Error(`${run.key}: the trainer has ${trainer.totalSteps} steps, the plan ${T} (a bug)`);
    // θ₀ from the freshly initialised model (the same whether or not we resume: init is seeded).
    theta0 = spec.metrics ? flattenParams(model.parameters()) : null;

    let elapsedBefore = 0;
    const bytes = await store.readBytes(files.checkpoint);
    if (bytes && (await loadOrSetAside(store, trainer, bytes, files.checkpoint, run.key))) {
      const notes = checkpointNotes(bytes);
      if (notes && notes.key !== run.key) throw new Error(`${store.root}/${files.checkpoint} belongs to run ${notes.key}, not ${run.key}`);
      elapsedBefore = Number(notes?.elapsedSeconds ?? 0) || 0;
    }
    const startStep = trainer.step;
    const metrics = await readStreamBefore<MetricPoint>(store, files.metrics, startStep);
    const curve = await readStreamBefore<{ step: number; loss: number }>(store, files.curve, startStep);
    const started = performance.now();
    const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
    ctx.onProgress({ kind: 'start', key: run.key, step: startStep, totalSteps: T, ...(startStep > 0 ? { resumedFrom: startStep } : {}) });

    const toMeasure = new Set(metricSteps(spec.metrics, T));
    const metricsEvery = 25;
    let sinceFlush = 0;
    const flushCurve = async () => {
      await trainer.flushMetrics();
      if (pendingCurve.length) {
        const lines = pendingCurve.splice(0);
        curve.push(...lines);
        await store.append(files.curve, toLines(lines));
      }
    };
    const checkpoint = async () => {
      await flushCurve();
      const notes: CheckpointNotes = { key: run.key, elapsedSeconds: String(elapsed()) };
      await store.write(files.checkpoint, await saveCheckpoint(trainer, { ...notes }));
    };

    let tuned = false;
    while (!trainer.done) {
      const t = trainer.step;
      if (toMeasure.has(t) && theta0) {
        const point = await ctx.measure(trainer, data.train, {
          theta0,
          numBatches: spec.metrics?.numBatches ?? 16,
          directions: spec.metrics?.directions ?? true,
          // The run seed, not the arm: paired arms are measured on the same batches.
          seed: run.seed,
          labelSmoothing: spec.labelSmoothing,
          // Dropout on vs off at the same weights: on the no-dropout baseline only (its own points are "off"; not the LR-check arms).
          ...(spec.metrics?.dropoutDiagnostic && run.arm.mode === 'none' && (run.arm.lr ?? spec.lr) === spec.lr ? { dropoutDiagnostic: spec.metrics.dropoutDiagnostic } : {}),
        });
        metrics.push(point);
        await store.append(files.metrics, JSON.stringify(point) + '\n');
        ctx.onProgress({ kind: 'measure', key: run.key, step: t, totalSteps: T, metric: point });
      }
      trainer.trainStep();
      if (ctx.autotune && !tuned) {
        tuned = true;
        await autotune();
      }
      if (++sinceFlush >= metricsEvery) {
        await trainer.flushMetrics();
        sinceFlush = 0;
      }
      const s = trainer.step;
      ctx.onProgress({ kind: 'step', key: run.key, step: s, totalSteps: T });
      const due = isCheckpointStep(s, trainer.stepsPerEpoch, ctx.checkpointEvery);
      if (due) await checkpoint();
      if (ctx.signal?.aborted) {
        if (!due) await checkpoint();
        throw new AbortError(`stopped at step ${s} of ${run.key} (checkpoint written; re-run the same command to resume)`);
      }
    }
    await flushCurve();

    const trainEval = await trainer.evaluate(data.train);
    const testEval = await trainer.evaluate(data.test);
    return {
      experiment: spec.name,
      cell: run.cell.name,
      arm: run.arm.name,
      seed: run.seed,
      finalTrainLoss: trainEval.loss,
      testLoss: testEval.loss,
      testAccuracy: testEval.accuracy,
      steps: T,
      trainCurve: curve,
      metrics,
      seconds: elapsed(),
      adapter: adapterName(),
    };
  } finally {
    theta0?.dispose();
    built.dispose();
  }
}

/**
 * Loads a run's checkpoint into its fresh trainer. A damaged one (torn, empty, failing its
 * checksum: CheckpointIntegrityError) is set aside as `<run>.damaged.ckpt` and the run restarts
 * from its first step (the trainer is untouched: loading is all or nothing); returns false then.
 * A sound checkpoint that does not fit the run is an error, as before.
 */
async function loadOrSetAside(store: RunStore, trainer: Trainer, bytes: Uint8Array, path: string, key: string): Promise<boolean> {
  try {
    loadCheckpoint(trainer, bytes, `${store.root}/${path}`);
    return true;
  } catch (e) {
    if (!(e instanceof CheckpointIntegrityError)) throw e;
    const aside = path.replace(/\.ckpt$/, '.damaged.ckpt');
    await store.write(aside, bytes);
    await store.remove(path);
    console.warn(`${e.message}\n  Set aside as ${store.root}/${aside}; ${key} restarts from its first step.`);
    return false;
  }
}

/** The notes a checkpoint carries (null for a checkpoint without them). */
function checkpointNotes(bytes: Uint8Array): CheckpointNotes | null {
  const meta = JSON.parse(parseSafetensors(bytes).metadata.wgtrain ?? 'null') as { notes?: CheckpointNotes } | null;
  return meta?.notes ?? null;
}

/**
 * `--jobs N`: the runs of an experiment in N worker processes on one machine, each with its own
 * WebGPU device (a tiny model leaves a GPU mostly idle; several processes fill it), then one
 * merged results.jsonl and report.
 *
 * Worker j of N runs share j/N of the plan (shard.ts: contiguous, cost-balanced, deterministic)
 * into its own folder, <out>/jobs/j-of-N, a complete output folder of its own: it resumes there
 * like any run, and concurrent processes never write the same file. Before the workers start, a
 * new worker folder receives the spec and the results already in <out> that fall in its share, so
 * runs finished earlier (serially, or by an earlier --jobs) are not trained again. At the end
 * <out> and the worker folders are merged (merge.ts) into <out>/results.jsonl, in plan order: the
 * same file as a serial run's, up to wall times.
 *
 * Workers talk to the parent over IPC only: progress events up; 'stop' down (stop after a
 * checkpoint). They ignore terminal signals, which the parent handles once for all of them, and stop
 * the same way when the parent goes away.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runCostOf } from './cost.js';
import { mergeFolders, parseResults, specDifference, type MergedResults } from './merge.js';
import { canonical, planRuns, RESULTS_FILE, SPEC_FILE, type RunnerProgress } from './runner.js';
import { shareOf, shareOfAll, type Shard } from './shard.js';
import { nodeStore } from './store.js';
import { runKey, type ExperimentSpec } from './types.js';

/** Messages between the parent and a worker. */
export type WorkerMessage = { type: 'progress'; progress: RunnerProgress };
export type ParentMessage = { type: 'stop' };

export interface JobsOptions {
  /** The spec that runs (after --quick). */
  spec: ExperimentSpec;
  outDir: string;
  jobs: number;
  /** `--part` / `--shard` shares the workers split among them. */
  shards: readonly Shard[];
  /** The CLI module to fork. */
  entry: string;
  /** A worker's arguments: its folder and its share of the shares. */
  workerArgs: (dir: string, worker: Shard) => string[];
  onProgress: (p: RunnerProgress) => void;
  log: (line: string) => void;
  signal: AbortSignal;
}

export interface JobsOutcome {
  merged: MergedResults;
  /** Workers that stopped on request (exit 130). */
  stopped: number;
  /** Workers that failed, with their exit status. */
  failed: { worker: number; code: number | null; signal: NodeJS.Signals | null }[];
  workerDirs: string[];
}

export const workerDir = (outDir: string, w: Shard) => join(outDir, 'jobs', `${w.index}-of-${w.count}`);

const exists = (p: string) => stat(p).then(() => true, () => false);

/** Writes `outDir`'s spec.json (or checks it against `spec`), as the runner does on start. */
async function openOutDir(spec: ExperimentSpec, outDir: string): Promise<void> {
  const store = await nodeStore(outDir);
  const mine = { dir: '(this spec)', specJson: canonical(spec) };
  const text = await store.readText(SPEC_FILE);
  if (text === null) {
    await store.write(SPEC_FILE, JSON.stringify(canonical(spec), null, 2) + '\n');
    return;
  }
  const diff = specDifference({ dir: outDir, specJson: JSON.parse(text) }, mine);
  if (diff) throw new Error(`${outDir} already holds results of a different experiment spec (${diff}); choose another output folder (--out) or remove this one`);
}

/** Gives a new worker folder the spec and the finished runs of its share found in `outDir`. */
async function seedWorkerDir(outDir: string, dir: string, keys: ReadonlySet<string>): Promise<void> {
  if (await exists(join(dir, RESULTS_FILE))) return; // the worker's own folder: it resumes there
  const store = await nodeStore(dir);
  await store.write(SPEC_FILE, await readFile(join(outDir, SPEC_FILE), 'utf8'));
  const text = await readFile(join(outDir, RESULTS_FILE), 'utf8').catch(() => '');
  const mine = parseResults(text, join(outDir, RESULTS_FILE)).filter((r) => keys.has(runKey(r)));
  if (mine.length) await store.write(RESULTS_FILE, mine.map((r) => JSON.stringify(r) + '\n').join(''));
}

export async function runJobs(o: JobsOptions): Promise<JobsOutcome> {
  if (!Number.isSafeInteger(o.jobs) || o.jobs < 1) throw new Error(`--jobs must be a positive integer, got ${o.jobs}`);
  await mkdir(o.outDir, { recursive: true });
  await openOutDir(o.spec, o.outDir);
  const cost = runCostOf(o.spec);
  const mine = shareOfAll(planRuns(o.spec), cost, o.shards);
  const workers = Array.from({ length: o.jobs }, (_, i) => {
    const share: Shard = { index: i + 1, count: o.jobs };
    const runs = shareOf(mine, cost, share);
    return { share, runs, dir: workerDir(o.outDir, share), runsDone: 0, stepsDone: 0 };
  });
  for (const w of workers) if (w.runs.length) await seedWorkerDir(o.outDir, w.dir, new Set(w.runs.map((r) => r.key)));

  const runsTotal = mine.length;
  const stepsTotal = mine.reduce((n, r) => n + r.totalSteps, 0);
  const totals = () => ({
    runsTotal,
    stepsTotal,
    runsDone: workers.reduce((n, w) => n + w.runsDone, 0),
    stepsDone: workers.reduce((n, w) => n + w.stepsDone, 0),
  });
  o.onProgress({ kind: 'plan', ...totals() });

  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const c of children) if (c.connected) c.send({ type: 'stop' } satisfies ParentMessage);
  };
  o.signal.addEventListener('abort', stopAll, { once: true });
  const exits = await Promise.all(
    workers.map(async (w) => {
      if (!w.runs.length) return { code: 0, signal: null };
      const child = fork(o.entry, o.workerArgs(w.dir, w.share), { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
      children.push(child);
      const label = `[worker ${w.share.index}/${w.share.count}]`;
      const forward = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) if (line.trim()) o.log(`${label} ${line}`);
      };
      child.stdout!.on('data', forward);
      child.stderr!.on('data', forward);
      child.on('message', (m: WorkerMessage) => {
        if (m?.type !== 'progress') return;
        const p = m.progress;
        w.runsDone = p.runsDone;
        w.stepsDone = p.stepsDone;
        if (p.kind === 'plan') return;
        o.onProgress({ ...p, ...totals(), ...(p.key ? { key: `${w.share.index}/${w.share.count} ${p.key}` } : {}) });
      });
      if (o.signal.aborted) child.once('spawn', () => child.send({ type: 'stop' } satisfies ParentMessage));
      return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    }),
  );
  o.signal.removeEventListener('abort', stopAll);
  const failed = exits.flatMap((e, i) => (e.code === 0 || e.code === 130 ? [] : [{ worker: i + 1, ...e }]));
  const workerDirs = workers.filter((w) => w.runs.length && !failed.some((f) => f.worker === w.share.index)).map((w) => w.dir);
  // Failed workers' folders are merged too, when they got as far as writing one: their finished runs count.
  for (const f of failed) {
    const dir = workers[f.worker - 1].dir;
    if (await exists(join(dir, SPEC_FILE))) workerDirs.push(dir);
  }
  const merged = await mergeFolders([o.outDir, ...workerDirs], o.outDir);
  return { merged, stopped: exits.filter((e) => e.code === 130).length, failed, workerDirs };
}

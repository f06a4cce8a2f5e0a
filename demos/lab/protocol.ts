/**
 * Messages between the lab page (main.ts: form, charts, table) and its training worker
 * (worker.ts: the engine and the experiment runner). Training runs in a dedicated worker so that
 * the page stays responsive however long the GPU work takes; everything crossing is plain data.
 */
import type { AdapterReport } from '../../src/runtime/device.js';
import type { RunnerProgress } from '../../src/lab/experiment/runner.js';
import type { ExperimentSpec, MetricPoint, RunResult } from '../../src/lab/experiment/types.js';

export type FashionFileKey = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';

export interface RunOptions {
  /** Evaluate test accuracy at each metric step (costs one pass over the test split each time). */
  testCurve: boolean;
}

export type ToWorker =
  | { type: 'init' }
  /** One or more of the four IDX files, as the user named them (the bytes are transferred). */
  | { type: 'fashion-files'; files: { key: FashionFileKey; name: string; bytes: ArrayBuffer }[] }
  /** Fetch the four files from a URL directory (the dev server's /datasets/fashion-mnist/). */
  | { type: 'fashion-url'; url: string }
  /** `previous`: runs of this spec finished earlier (kept across a reload); they are not trained again. */
  | { type: 'run'; spec: ExperimentSpec; options: RunOptions; previous?: RunResult[] }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' };

/** The identity of one run of the experiment (cell × arm × seed). */
export interface RunId {
  key: string;
  cell: string;
  arm: string;
  seed: number;
}

export type FromWorker =
  | { type: 'ready'; adapter: AdapterReport }
  | { type: 'unavailable'; message: string }
  | { type: 'fashion-file'; key: FashionFileKey; name: string; ok: true; summary: string }
  | { type: 'fashion-file'; key: FashionFileKey; name: string; ok: false; message: string }
  | { type: 'fashion-ready'; train: number; test: number; source: string }
  | { type: 'fashion-error'; message: string }
  /** Runner progress; 'step' events are thinned to a few per second. */
  | { type: 'progress'; progress: Omit<RunnerProgress, 'result' | 'metric'> }
  | { type: 'curve'; run: RunId; points: { step: number; loss: number }[] }
  | { type: 'metric'; run: RunId; point: MetricPoint }
  | { type: 'test-eval'; run: RunId; step: number; accuracy: number; loss: number }
  | { type: 'run-finished'; run: RunId; result: RunResult }
  | { type: 'paused'; step?: number }
  | { type: 'done'; spec: ExperimentSpec; results: RunResult[]; stopped: boolean }
  | { type: 'error'; message: string };

/** "cell/arm/seedN" (types.ts runKey) back to its parts. */
export function parseRunKey(key: string): RunId {
  const m = /^(.*)\/([^/]+)\/seed(\d+)$/.exec(key);
  if (!m) throw new Error(`lab: unexpected run key '${key}'`);
  return { key, cell: m[1], arm: m[2], seed: Number(m[3]) };
}

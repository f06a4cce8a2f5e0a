/**
 * The lab's training worker: the engine (WebGPU works in dedicated workers) and the experiment
 * runner of the headless command (src/lab/experiment/runner.ts), unchanged, writing into an
 * in-memory store. The page gets the runner's progress, its metric points, the training-loss
 * points it appends to each run's curve stream, and each finished run, as messages.
 *
 * Pause = the runner's own stop (its AbortSignal: it writes a checkpoint after the current step);
 * resume = runExperiment again on the same store, which skips the finished runs and continues the
 * interrupted one from that checkpoint, bit for bit. Stop = the same abort, then the finished runs.
 *
 * Optional extra: test accuracy at every metric step, measured inside the runner's `measure` hook
 * on a second copy of the cell's data (the runner does not lend out its own). Evaluation runs in
 * eval mode without touching the run's optimizer, data order or dropout stream, so the training
 * losses are the same with it on or off.
 */
import { init, WebGPUUnavailableError } from '../../src/index.js';
import { measure as analysisMeasure } from '../../src/lab/analysis.js';
import type { ImageClassificationDataset } from '../../src/lab/data/dataset.js';
import { decodeIdx, type IdxArray } from '../../src/lab/data/idx.js';
import { fashionMnistFromBytes, fetchFashionMnist } from '../../src/lab/data/fashion-mnist.js';
import { adapterReport } from '../../src/runtime/engine.js';
import { DataCache, type FashionMnistSource } from '../../src/lab/experiment/build.js';
import { RESULTS_FILE, runExperiment, type MeasureFn, type RunnerProgress } from '../../src/lab/experiment/runner.js';
import { resolveCells, totalStepsOf } from '../../src/lab/experiment/spec.js';
import type { ExperimentSpec, RunResult } from '../../src/lab/experiment/types.js';
import { memoryStore, type MemoryStore } from './memory-store.js';
import { parseRunKey, type FashionFileKey, type FromWorker, type RunId, type RunOptions, type ToWorker } from './protocol.js';

interface WorkerScope {
  postMessage(message: FromWorker): void;
  addEventListener(type: 'message', handler: (e: MessageEvent<ToWorker>) => void): void;
  addEventListener(type: 'unhandledrejection', handler: (e: PromiseRejectionEvent) => void): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker) => scope.postMessage(m);
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

// ---- Fashion-MNIST ----

const IDX_KIND: Record<FashionFileKey, 'images' | 'labels'> = {
  trainImages: 'images',
  trainLabels: 'labels',
  testImages: 'images',
  testLabels: 'labels',
};
/** Each file's decompressed IDX bytes, once its own checks passed (header, sizes). */
const fashionRaw: Partial<Record<FashionFileKey, Uint8Array>> = {};
let fashion: ImageClassificationDataset | null = null;

/**
 * The decoded array as raw IDX bytes (header and data, no gzip): assembling the data set from
 * these only parses the header again, so each dropped file is decompressed once, here.
 */
function rawIdx(idx: IdxArray): Uint8Array {
  const header = 4 + 4 * idx.dims.length;
  const out = new Uint8Array(header + idx.data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, idx.magic, false);
  idx.dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  out.set(idx.data, header);
  return out;
}

async function addFashionFiles(files: { key: FashionFileKey; name: string; bytes: ArrayBuffer }[]): Promise<void> {
  for (const f of files) {
    try {
      // The loader's own checks (gzip, magic number, sizes), file by file, so a bad file is named at once.
      const idx = await decodeIdx(f.bytes, f.name, IDX_KIND[f.key]);
      fashionRaw[f.key] = rawIdx(idx);
      post({ type: 'fashion-file', key: f.key, name: f.name, ok: true, summary: idx.dims.join(' × ') });
    } catch (e) {
      delete fashionRaw[f.key];
      post({ type: 'fashion-file', key: f.key, name: f.name, ok: false, message: messageOf(e) });
    }
  }
  const { trainImages, trainLabels, testImages, testLabels } = fashionRaw;
  if (!trainImages || !trainLabels || !testImages || !testLabels) return;
  try {
    fashion = await fashionMnistFromBytes({ trainImages, trainLabels, testImages, testLabels });
    post({ type: 'fashion-ready', train: fashion.train.count, test: fashion.test.count, source: 'your files' });
  } catch (e) {
    fashion = null;
    post({ type: 'fashion-error', message: messageOf(e) });
  }
}

async function fetchFashion(url: string): Promise<void> {
  try {
    fashion = await fetchFashionMnist(url);
    post({ type: 'fashion-ready', train: fashion.train.count, test: fashion.test.count, source: `the dev server (${url})` });
  } catch (e) {
    post({ type: 'fashion-error', message: messageOf(e) });
  }
}

const fashionSource: FashionMnistSource = async () => {
  if (!fashion) {
    throw new Error('Fashion-MNIST is not loaded: choose its four .gz files on the page (or switch the dataset to synthetic)');
  }
  return fashion;
};

// ---- the experiment ----

interface Experiment {
  spec: ExperimentSpec;
  options: RunOptions;
  store: MemoryStore;
  controller: AbortController | null;
  /** What the current abort is for. */
  abortFor: 'pause' | 'stop' | null;
  current: RunId | null;
  lastStepPost: number;
}

let experiment: Experiment | null = null;

function readResults(store: MemoryStore): Promise<RunResult[]> {
  return store.readText(RESULTS_FILE).then((text) =>
    (text ?? '')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as RunResult),
  );
}

function onProgress(x: Experiment, p: RunnerProgress): void {
  if (p.key && (p.kind === 'start' || x.current?.key !== p.key)) x.current = parseRunKey(p.key);
  const { result, metric, ...rest } = p;
  if (p.kind === 'measure' && metric && x.current) post({ type: 'metric', run: x.current, point: metric });
  if (p.kind === 'finish' && result && x.current) post({ type: 'run-finished', run: x.current, result });
  if (p.kind === 'step') {
    // Every step would flood the page; a few per second is live enough (the last step always goes).
    const now = performance.now();
    if (now - x.lastStepPost < 100 && p.step !== p.totalSteps) return;
    x.lastStepPost = now;
  }
  post({ type: 'progress', progress: rest });
}

function onAppend(x: () => Experiment | null, path: string, text: string): void {
  const e = x();
  if (!e?.current || !path.endsWith('.curve.jsonl')) return;
  const points = text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { step: number; loss: number });
  if (points.length) post({ type: 'curve', run: e.current, points });
}

async function start(x: Experiment): Promise<void> {
  const controller = new AbortController();
  x.controller = controller;
  x.abortFor = null;
  const cells = resolveCells(x.spec);
  const evalCache = x.options.testCurve && x.spec.metrics ? new DataCache(cells, fashionSource) : null;
  const measure: MeasureFn = async (trainer, train, options) => {
    const point = await analysisMeasure(trainer, train, options);
    const run = x.current;
    const cell = run && cells.find((c) => c.name === run.cell);
    if (evalCache && run && cell) {
      const data = await evalCache.get(cell);
      const ev = await trainer.evaluate(data.test);
      post({ type: 'test-eval', run, step: point.step, accuracy: ev.accuracy, loss: ev.loss });
    }
    return point;
  };
  // The runner appends a run's training-loss points at its checkpoints: about 40 per run keep the
  // loss chart live. In memory a checkpoint is cheap (and a pause writes one of its own anyway).
  const maxSteps = Math.max(...cells.map((c) => totalStepsOf(x.spec, c)));
  const checkpointEvery = Math.max(1, Math.min(200, Math.round(maxSteps / 40)));
  try {
    const outcome = await runExperiment(x.spec, {
      outDir: x.store.root,
      store: x.store,
      signal: controller.signal,
      onProgress: (p) => onProgress(x, p),
      fashionMnist: fashionSource,
      checkpointEvery,
      measure,
    });
    experiment = null;
    post({ type: 'done', spec: outcome.spec, results: outcome.results, stopped: false });
  } catch (e) {
    if ((e as Error)?.name === 'AbortError' && x.abortFor === 'pause') {
      post({ type: 'paused' });
    } else if ((e as Error)?.name === 'AbortError' && x.abortFor === 'stop') {
      experiment = null;
      post({ type: 'done', spec: x.spec, results: await readResults(x.store), stopped: true });
    } else {
      experiment = null;
      post({ type: 'error', message: messageOf(e) });
    }
  } finally {
    x.controller = null;
    evalCache?.dispose();
  }
}

// ---- messages ----

let engine: Promise<boolean> | null = null;

function startEngine(): Promise<boolean> {
  engine ??= init().then(
    () => {
      post({ type: 'ready', adapter: adapterReport() });
      return true;
    },
    (e: unknown) => {
      post(e instanceof WebGPUUnavailableError ? { type: 'unavailable', message: e.message } : { type: 'error', message: `Starting WebGPU failed: ${messageOf(e)}` });
      return false;
    },
  );
  return engine;
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init':
      await startEngine();
      return;
    case 'fashion-files':
      return addFashionFiles(m.files);
    case 'fashion-url':
      return fetchFashion(m.url);
    case 'run': {
      if (experiment) throw new Error('an experiment is already running or paused: stop it first');
      if (!(await startEngine())) return;
      const x: Experiment = {
        spec: m.spec,
        options: m.options,
        store: memoryStore(`browser:${m.spec.name}`, (path, text) => onAppend(() => experiment, path, text)),
        controller: null,
        abortFor: null,
        current: null,
        lastStepPost: 0,
      };
      experiment = x;
      // Runs finished before a reload: the runner skips the runs already in results.jsonl.
      if (m.previous?.length) await x.store.write(RESULTS_FILE, m.previous.map((r) => JSON.stringify(r) + '\n').join(''));
      return start(x);
    }
    case 'pause':
      if (experiment?.controller) {
        experiment.abortFor = 'pause';
        experiment.controller.abort();
      }
      return;
    case 'resume':
      if (experiment && !experiment.controller) return start(experiment);
      return;
    case 'stop': {
      const x = experiment;
      if (!x) return;
      if (x.controller) {
        x.abortFor = 'stop';
        x.controller.abort();
      } else {
        // Paused: nothing runs, the finished runs are in the store.
        experiment = null;
        post({ type: 'done', spec: x.spec, results: await readResults(x.store), stopped: true });
      }
      return;
    }
  }
}

scope.addEventListener('message', (e) => {
  handle(e.data).catch((err: unknown) => post({ type: 'error', message: messageOf(err) }));
});
scope.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  post({ type: 'error', message: messageOf(e.reason) });
});

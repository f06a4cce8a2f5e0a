/**
 * The kernel benchmark page: bench/bench-core.ts's runBenchmarks (the code behind `npm run bench`)
 * with sizes from the form, its results as charts (GFLOP/s and GB/s, wgtrain beside TensorFlow.js
 * WebGPU) and tables, exportable as JSON and each chart as PNG / SVG.
 *
 * Progress shows the cases done and the time left (progress.ts); Cancel stops after the case in
 * progress (runBenchmarks has no stop of its own, so the page's log callback throws at the next
 * finished case, where nothing is half-made).
 *
 * Query parameters: matmul=64,128  dropout=2^18  repeats=3  train=none|mlp|mlp,vit  shapes=none  run=1 (start at once).
 * window.__benchDemo exposes the outcome for the end-to-end tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import { adapterReport, init, WebGPUUnavailableError, type AdapterReport } from '../../src/index.js';
import { defaultMatmulShapes, defaultSizes, describeAdapter, parseSizes, runBenchmarks, type BenchResults } from '../../bench/bench-core.js';
import { defaultTrainSpecs, parseTrainSpecs } from '../../bench/train-core.js';
import { Chart } from '../common/chart.js';
import { downloadText } from '../common/download.js';
import { setAdapterBadge, showWebGpuHelp, webGpuMissing } from '../common/webgpu.js';
import { duration } from '../lab/pace.js';
import { BenchProgress } from './progress.js';

export type BenchDemoState =
  | { state: 'starting' | 'unavailable' | 'ready' | 'running' | 'cancelled' | 'error'; error?: string; progress?: { finished: number; total: number; etaSeconds: number } }
  | { state: 'done'; results: BenchResults };

declare global {
  interface Window {
    __benchDemo?: BenchDemoState;
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  webgpu: $('webgpu-status'),
  matmul: $<HTMLInputElement>('matmul-sizes'),
  dropout: $<HTMLInputElement>('dropout-sizes'),
  repeats: $<HTMLInputElement>('repeats'),
  train: $<HTMLInputElement>('train-rows'),
  run: $<HTMLButtonElement>('bench-run'),
  cancel: $<HTMLButtonElement>('bench-cancel'),
  progress: $<HTMLProgressElement>('bench-progress'),
  exportJson: $<HTMLButtonElement>('bench-export'),
  status: $('bench-status'),
  error: $('bench-error'),
  log: $('bench-log'),
  charts: $('bench-charts'),
  results: $('bench-results'),
};
const query = new URLSearchParams(location.search);
let last: BenchResults | null = null;
let report: AdapterReport | null = null;
let progress: BenchProgress | null = null;
let cancelRequested = false;

/** Thrown by the log callback at a case boundary after Cancel. */
class Cancelled extends Error {}

function setState(s: BenchDemoState): void {
  window.__benchDemo = s;
  document.body.dataset.benchState = s.state;
}
setState({ state: 'starting' });

function log(line: string): void {
  ui.log.textContent += `${line}\n`;
  const now = performance.now();
  const finished = progress?.onLine(line, now) ?? false;
  const short = line.length > 120 ? `${line.slice(0, 120)}…` : line;
  if (progress) {
    const eta = progress.etaSeconds(now);
    ui.progress.max = Math.max(1, progress.total);
    ui.progress.value = progress.finished;
    ui.status.textContent = `${progress.finished} of ${progress.total} cases done${Number.isFinite(eta) ? ` · about ${duration(eta)} left` : ''} · ${short}`;
    setState({ state: 'running', progress: { finished: progress.finished, total: progress.total, etaSeconds: eta } });
  } else {
    ui.status.textContent = short;
  }
  if (cancelRequested && (finished || line.startsWith('check:'))) throw new Cancelled('cancelled');
}

// ---- charts ----

const ENGINE_COLOURS: Record<string, string> = { wgtrain: '#1f63b8', 'tfjs webgpu': '#d62728', 'tf.dropout': '#d62728', 'tf mask-mul': '#ff9f4a' };
/** Each chart's legend lists only the engines it shows. */
const colour = (engines: string[]) => ({ field: 'engine', type: 'nominal', title: null, scale: { domain: engines, range: engines.map((e) => ENGINE_COLOURS[e]) }, sort: engines });
const offset = (engines: string[]) => ({ field: 'engine', sort: engines });
const PAIR = ['wgtrain', 'tfjs webgpu'];
const DROPOUT_VARIANTS = ['wgtrain', 'tf.dropout', 'tf mask-mul'];
const fileName = () => `wgtrain-bench-${last?.runtime ?? 'browser'}`;

function makeCharts() {
  return {
  matmul: Chart.create(ui.charts, {
    id: 'matmul-gflops',
    title: 'matmul f32, [n,n] × [n,n]',
    filePrefix: fileName,
    emptyText: 'GFLOP/s per size, after a run',
    spec: {
      mark: { type: 'line', point: { size: 40, filled: true }, strokeWidth: 2 },
      encoding: {
        x: { field: 'n', type: 'ordinal', title: 'n', axis: { labelAngle: 0 } },
        y: { field: 'value', type: 'quantitative', title: 'GFLOP/s' },
        color: colour(PAIR),
        tooltip: [{ field: 'engine' }, { field: 'n' }, { field: 'value', title: 'GFLOP/s', format: '.3~g' }],
      },
    },
  }),
  dropout: Chart.create(ui.charts, {
    id: 'dropout-gbps',
    title: 'dropout f32 (p = 0.1)',
    filePrefix: fileName,
    emptyText: 'GB/s per size, after a run',
    spec: {
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'size', type: 'nominal', title: 'elements', sort: null, axis: { labelAngle: 0 } },
        xOffset: offset(DROPOUT_VARIANTS),
        y: { field: 'value', type: 'quantitative', title: 'GB/s (8 bytes per element)' },
        color: colour(DROPOUT_VARIANTS),
      },
    },
  }),
  training: Chart.create(ui.charts, {
    id: 'training-steps',
    title: 'training steps (forward + backward + AdamW)',
    filePrefix: fileName,
    emptyText: 'steps/s per model, when training rows are on',
    spec: {
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'model', type: 'nominal', title: null, sort: null, axis: { labelAngle: 0, labelLimit: 140 } },
        xOffset: offset(PAIR),
        y: { field: 'value', type: 'quantitative', title: 'steps/s' },
        color: colour(PAIR),
      },
    },
  }),
  };
}
let charts: { [K in keyof ReturnType<typeof makeCharts>]: Chart };

// ---- tables ----

const num = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(3));
const ratio = (v: number) => `${v.toFixed(2)}×`;

function table(caption: string, head: string[], rows: string[][]): HTMLElement {
  const t = document.createElement('table');
  const thead = t.createTHead().insertRow();
  head.forEach((h, i) => {
    const th = document.createElement('th');
    th.textContent = h;
    if (i > 0) th.className = 'num';
    thead.append(th);
  });
  const body = t.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    r.forEach((c, i) => {
      const td = tr.insertCell();
      td.textContent = c;
      if (i > 0) td.className = 'num';
    });
  }
  const wrap = document.createElement('div');
  const h = document.createElement('h3');
  h.textContent = caption;
  const box = document.createElement('div');
  box.className = 'table-wrap';
  box.append(t);
  wrap.append(h, box);
  return wrap;
}

async function show(r: BenchResults): Promise<void> {
  await charts.matmul.replace(r.matmul.flatMap((m) => [{ engine: 'wgtrain', n: m.n, value: m.wgtrain.gflops }, { engine: 'tfjs webgpu', n: m.n, value: m.tfjs.gflops }]));
  await charts.dropout.replace(
    r.dropout.flatMap((d) => [
      { engine: 'wgtrain', size: d.elements.toLocaleString('en'), value: d.wgtrain.gbps },
      { engine: 'tf.dropout', size: d.elements.toLocaleString('en'), value: d.tfDropout.gbps },
      { engine: 'tf mask-mul', size: d.elements.toLocaleString('en'), value: d.tfMaskMul.gbps },
    ]),
  );
  const training = r.training ?? [];
  await charts.training.replace(training.flatMap((t) => [{ engine: 'wgtrain', model: t.model, value: t.wgtrain.stepsPerSec }, { engine: 'tfjs webgpu', model: t.model, value: t.tfjs.stepsPerSec }]));
  const parts: HTMLElement[] = [];
  const facts = document.createElement('p');
  facts.className = 'small';
  facts.textContent = `Adapter: ${describeAdapter(r.adapter)}; TensorFlow.js's backend reports ${r.tfjsAdapter.vendor ?? '?'} / ${r.tfjsAdapter.architecture ?? '?'}${r.sameAdapter ? ' (the same adapter)' : ' (a different adapter!)'}. Median of ${r.options.repeats} batches of about ${r.options.targetMs} ms each. Ratio = wgtrain / TensorFlow.js (above 1: wgtrain is faster).`;
  parts.push(facts);
  if (r.checks.length) {
    const checks = document.createElement('p');
    checks.className = 'small muted';
    checks.textContent = `Correctness checks before timing: ${r.checks.join('; ')}`;
    parts.push(checks);
  }
  const products = [...r.matmul, ...(r.matmulShapes ?? [])];
  if (products.length) {
    parts.push(table(
      `matmul (GFLOP/s = 2MNK / time per call; kernel = wgtrain's tile config, "tuned" when the autotuner chose it here; medium = f16 operands, ${products[0].medium.path})`,
      ['product', 'M×N×K', 'kernel', 'wgtrain GFLOP/s', 'tfjs GFLOP/s', 'ratio', 'medium GFLOP/s'],
      products.map((m) => [
        m.name === 'square' ? `square n=${m.n}` : m.name,
        `${m.M}×${m.N}×${m.K}${m.transA ? ' Aᵀ' : ''}${m.transB ? ' Bᵀ' : ''}`,
        `${m.kernel.id}${m.kernel.tuned ? ' (tuned)' : ''}`,
        num(m.wgtrain.gflops), num(m.tfjs.gflops), ratio(m.ratio), num(m.medium.gflops),
      ]),
    ));
  }
  if (r.dropout.length) {
    parts.push(
      table(
        'dropout (GB/s = 8 bytes per element / time per call)',
        ['elements', 'wgtrain GB/s', 'tf.dropout GB/s', 'ratio', 'tf mask-mul GB/s', 'ratio', 'backward GB/s', 'copy GB/s', 'fwd / bwd % of copy'],
        r.dropout.map((d) => [
          d.elements.toLocaleString('en'), num(d.wgtrain.gbps), num(d.tfDropout.gbps), ratio(d.ratioVsTfDropout), num(d.tfMaskMul.gbps), ratio(d.ratioVsTfMaskMul),
          num(d.backward.gbps), num(d.copy.gbps), `${(100 * d.forwardVsCopy).toFixed(0)}% / ${(100 * d.backwardVsCopy).toFixed(0)}%`,
        ]),
      ),
    );
  }
  if (training.length) {
    parts.push(table('training steps', ['model', 'batch', 'params', 'wgtrain steps/s', 'tfjs steps/s', 'ratio'], training.map((t) => [t.model, String(t.spec.batch), t.params.toLocaleString('en'), num(t.wgtrain.stepsPerSec), num(t.tfjs.stepsPerSec), ratio(t.ratio)])));
  }
  ui.results.replaceChildren(...parts);
}

// ---- running ----

let tfReady: Promise<void> | null = null;

async function runBench(): Promise<void> {
  ui.run.disabled = true;
  ui.cancel.disabled = false;
  cancelRequested = false;
  ui.exportJson.disabled = true;
  ui.error.textContent = '';
  ui.log.textContent = '';
  setState({ state: 'running' });
  try {
    const options = {
      matmulSizes: parseSizes(ui.matmul.value, 'matmul'),
      dropoutSizes: parseSizes(ui.dropout.value, 'dropout'),
      repeats: ui.repeats.value ? Number(ui.repeats.value) : undefined,
      trainSpecs: ui.train.checked ? parseTrainSpecs(query.get('train')) : [],
      // shapes=none skips the training-shaped products (the square sizes still run).
      matmulShapes: query.get('shapes') === 'none' ? [] : undefined,
    };
    if (options.repeats !== undefined && !(Number.isInteger(options.repeats) && options.repeats > 0)) throw new Error(`repeats must be a positive integer, got ${ui.repeats.value}`);
    const sizes = defaultSizes(report!);
    const matmulCount = (options.matmulSizes ?? sizes.matmul).length;
    progress = new BenchProgress(
      {
        matmul: matmulCount,
        shape: options.matmulShapes?.length ?? (matmulCount ? defaultMatmulShapes(report!).length : 0),
        dropout: (options.dropoutSizes ?? sizes.dropout).length,
        train: (options.trainSpecs ?? defaultTrainSpecs(report!.software)).length,
      },
      performance.now(),
    );
    ui.progress.max = Math.max(1, progress.total);
    ui.progress.value = 0;
    log('starting TensorFlow.js WebGPU…');
    tfReady ??= (async () => {
      if (!(await tf.setBackend('webgpu'))) throw new Error("TensorFlow.js could not start its 'webgpu' backend");
      await tf.ready();
    })();
    await tfReady;
    const results = await runBenchmarks(tf, 'browser', { ...options, log });
    last = results;
    await show(results);
    ui.progress.value = ui.progress.max;
    ui.status.textContent = `Done: ${progress.total} cases in ${duration(progress.elapsedSeconds(performance.now()))} (${new Date(results.date).toLocaleTimeString()}).`;
    setState({ state: 'done', results });
    ui.exportJson.disabled = false;
  } catch (e) {
    if (e instanceof Cancelled) {
      ui.status.textContent = `Cancelled after ${progress?.finished ?? 0} of ${progress?.total ?? 0} cases (the results of a cancelled run are not shown).`;
      setState({ state: 'cancelled' });
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    console.error(`[bench] ${message}`);
    ui.error.textContent = `The benchmark failed: ${message}`;
    ui.status.textContent = '';
    setState({ state: 'error', error: message });
  } finally {
    ui.run.disabled = false;
    ui.cancel.disabled = true;
    progress = null;
  }
}

ui.run.addEventListener('click', () => void runBench());
ui.cancel.addEventListener('click', () => {
  cancelRequested = true;
  ui.cancel.disabled = true;
  ui.status.textContent = 'Cancelling after the case in progress…';
});
ui.exportJson.addEventListener('click', () => {
  if (last) downloadText(`wgtrain-bench-${last.runtime}-${last.date.replace(/[:.]/g, '-')}.json`, JSON.stringify(last, null, 2));
});

function sizesText(xs: number[]): string {
  return xs.map((x) => (x >= 1 << 12 && Number.isInteger(Math.log2(x)) ? `2^${Math.log2(x)}` : String(x))).join(', ');
}

async function start(): Promise<void> {
  const pending = makeCharts();
  charts = { matmul: await pending.matmul, dropout: await pending.dropout, training: await pending.training };
  const missing = webGpuMissing();
  if (missing) {
    showWebGpuHelp(ui.webgpu, missing, 'The benchmark');
    setAdapterBadge('no WebGPU');
    setState({ state: 'unavailable' });
    return;
  }
  try {
    // One GPU object for both engines: tfjs's backend asks navigator.gpu for its own adapter.
    await init({ gpu: navigator.gpu });
    report = adapterReport();
  } catch (e) {
    showWebGpuHelp(ui.webgpu, e instanceof WebGPUUnavailableError ? e.message : `Starting WebGPU failed: ${(e as Error).message}`, 'The benchmark');
    setAdapterBadge('no WebGPU');
    setState({ state: 'unavailable' });
    return;
  }
  const adapter = report;
  setAdapterBadge(`${[adapter.vendor, adapter.architecture].filter(Boolean).join(' / ') || adapter.description || 'WebGPU'}${adapter.software ? ' (software)' : ''}`);
  if (adapter.software) {
    ui.webgpu.className = 'notice warn';
    ui.webgpu.textContent = 'Software WebGPU adapter (CPU): the sizes are small and the numbers say little about a GPU.';
  }
  const sizes = defaultSizes(adapter);
  ui.matmul.value = query.get('matmul') ?? sizesText(sizes.matmul);
  ui.dropout.value = query.get('dropout') ?? sizesText(sizes.dropout);
  ui.repeats.value = query.get('repeats') ?? '';
  ui.repeats.placeholder = adapter.software ? '5' : '7';
  const train = query.get('train');
  ui.train.checked = train !== null ? train !== 'none' && train !== '' : !adapter.software;
  ui.train.title = `models: ${defaultTrainSpecs(adapter.software).map((s) => s.kind).join(', ')}`;
  ui.run.disabled = false;
  setState({ state: 'ready' });
  if (query.get('run') === '1') await runBench();
}

void start();

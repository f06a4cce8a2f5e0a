/**
 * The early-dropout lab page: a preset or an edited spec, validated with the runner's own
 * validateSpec; training in a worker (worker.ts) through the headless command's runner; live
 * charts (charts.ts); pause / resume / stop; the results table of the headless report's analysis
 * (results.ts); export of the results (JSON) and of each chart (PNG / SVG).
 *
 * window.__lab exposes the page's state for the end-to-end tests (tests/e2e/lab.test.ts).
 */
import type { AdapterReport } from '../../src/runtime/device.js';
import { quickSpec, resolveCells, SpecError, totalStepsOf, validateSpec } from '../../src/lab/experiment/spec.js';
import type { ExperimentSpec, RunResult } from '../../src/lab/experiment/types.js';
import { downloadText } from '../shared/download.js';
import { setAdapterBadge, showWebGpuHelp, webGpuMissing } from '../shared/webgpu.js';
import { LabCharts } from './charts.js';
import { FashionLoader } from './fashion.js';
import { SpecForm, type Draft } from './form.js';
import { PRESET_ENTRIES, presetEntry } from './presets.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { renderResults } from './results.js';

export type LabState = 'starting' | 'unavailable' | 'ready' | 'running' | 'pausing' | 'paused' | 'stopping' | 'done' | 'stopped' | 'error';

export interface LabHook {
  state: LabState;
  adapter?: AdapterReport;
  error?: string;
  /** Points received per chart. */
  charts(): Record<string, number>;
  results(): RunResult[];
  /** Steps done / total of the experiment in progress. */
  progress: { stepsDone: number; stepsTotal: number; runsDone: number; runsTotal: number };
}

declare global {
  interface Window {
    __lab?: LabHook;
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const ui = {
  webgpu: $('webgpu-status'),
  preset: $<HTMLSelectElement>('preset'),
  presetDescription: $('preset-description'),
  quick: $<HTMLInputElement>('quick'),
  testCurve: $<HTMLInputElement>('test-curve'),
  summary: $('plan-summary'),
  problems: $('spec-problems'),
  run: $<HTMLButtonElement>('run'),
  pause: $<HTMLButtonElement>('pause'),
  resume: $<HTMLButtonElement>('resume'),
  stop: $<HTMLButtonElement>('stop'),
  progress: $<HTMLProgressElement>('progress'),
  status: $('run-status'),
  runError: $('run-error'),
  form: $('spec-form'),
  json: $<HTMLTextAreaElement>('spec-json'),
  applyJson: $<HTMLButtonElement>('apply-json'),
  jsonError: $('json-error'),
  charts: $('charts'),
  results: $('results'),
  exportJson: $<HTMLButtonElement>('export-json'),
};

// ---- state ----

let state: LabState = 'starting';
let adapter: AdapterReport | undefined;
let engineReady = false;
/** The validated spec as it would run (after --quick), or null while the draft is invalid. */
let effective: ExperimentSpec | null = null;
/** The experiment being run or last run, and its results so far. */
let running: { spec: ExperimentSpec; results: RunResult[]; complete: boolean } | null = null;
let charts: LabCharts | null = null;
/** Whether the person has chosen a preset or edited a field (then the page stops choosing for them). */
let touched = new URLSearchParams(location.search).has('preset');
let chartsFor = '';
const progress = { stepsDone: 0, stepsTotal: 0, runsDone: 0, runsTotal: 0 };
/** Steps trained in this session and the time spent running them (for the ETA). */
const pace = { trainedSteps: 0, activeMs: 0, since: 0, lastStepsDone: 0, current: '' };

const hook: LabHook = {
  state,
  charts: () => charts?.counts() ?? {},
  results: () => running?.results ?? [],
  progress,
};
window.__lab = hook;

function setState(s: LabState, error?: string): void {
  if (state === 'running' && s !== 'running') pace.activeMs += performance.now() - pace.since;
  if (s === 'running' && state !== 'running') pace.since = performance.now();
  state = s;
  hook.state = s;
  if (error !== undefined) hook.error = error;
  document.body.dataset.labState = s;
  const busy = s === 'running' || s === 'pausing' || s === 'paused' || s === 'stopping';
  ui.run.disabled = busy || !engineReady || effective === null;
  ui.pause.disabled = s !== 'running';
  ui.resume.disabled = s !== 'paused';
  ui.stop.disabled = !(s === 'running' || s === 'paused');
  ui.preset.disabled = busy;
  ui.exportJson.disabled = !running || running.results.length === 0 || busy;
}

// ---- the worker ----

const worker = webGpuMissing() === null ? new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'wgtrain-lab' }) : null;
const post = (m: ToWorker, transfer: Transferable[] = []) => worker?.postMessage(m, transfer);

const fashion = new FashionLoader(post, {
  status: $('fashion-status'),
  list: $('fashion-list'),
  errors: $('fashion-error'),
  input: $<HTMLInputElement>('fashion-files'),
  drop: $('fashion-drop'),
  server: $<HTMLButtonElement>('fashion-server'),
});

function fail(message: string): void {
  console.error(`[lab] ${message}`);
  ui.runError.textContent = message;
  setState('error', message);
}

worker?.addEventListener('error', (e) => fail(`The training worker failed: ${e.message || 'it could not be loaded'}`));
worker?.addEventListener('message', (e: MessageEvent<FromWorker>) => onWorkerMessage(e.data));

function onWorkerMessage(m: FromWorker): void {
  if (fashion.handle(m)) return;
  switch (m.type) {
    case 'ready':
      adapter = m.adapter;
      hook.adapter = m.adapter;
      engineReady = true;
      setAdapterBadge(`${[m.adapter.vendor, m.adapter.architecture].filter(Boolean).join(' / ') || m.adapter.description || 'WebGPU'}${m.adapter.software ? ' (software)' : ''}`);
      if (m.adapter.software) {
        ui.webgpu.className = 'notice warn';
        ui.webgpu.textContent = 'This is a software WebGPU adapter (CPU): training is slow here. The demo-tiny preset or the quick variant finish in reasonable time.';
        if (!touched) {
          ui.preset.value = 'demo-tiny';
          loadPreset('demo-tiny');
        }
      }
      setState('ready');
      break;
    case 'unavailable':
      showWebGpuHelp(ui.webgpu, m.message, 'The lab');
      setAdapterBadge('no WebGPU');
      setState('unavailable');
      break;
    case 'progress':
      onProgress(m.progress);
      break;
    case 'curve':
      charts?.onCurve(m.run, m.points);
      break;
    case 'metric':
      charts?.onMetric(m.run, m.point);
      break;
    case 'test-eval':
      charts?.onTestEval(m.run, m.step, m.accuracy);
      break;
    case 'run-finished':
      charts?.onFinished(m.run, m.result);
      if (running) {
        running.results.push(m.result);
        renderResults(ui.results, running.spec, running.results);
      }
      break;
    case 'paused':
      setState('paused');
      showStatus();
      break;
    case 'done':
      if (running) {
        running.results = m.results;
        running.complete = !m.stopped;
        renderResults(ui.results, running.spec, running.results);
      }
      void charts?.flush();
      setState(m.stopped ? 'stopped' : 'done');
      showStatus();
      break;
    case 'error':
      fail(m.message);
      break;
  }
}

// ---- progress ----

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function onProgress(p: Extract<FromWorker, { type: 'progress' }>['progress']): void {
  if (p.kind === 'step') pace.trainedSteps += Math.max(0, p.stepsDone - pace.lastStepsDone);
  pace.lastStepsDone = p.stepsDone;
  Object.assign(progress, { stepsDone: p.stepsDone, stepsTotal: p.stepsTotal, runsDone: p.runsDone, runsTotal: p.runsTotal });
  if (p.key && p.kind !== 'skip') pace.current = p.key;
  if (p.kind === 'start' && p.resumedFrom) pace.current = `${p.key} (resumed at step ${p.resumedFrom})`;
  showStatus(p.step, p.totalSteps);
}

function showStatus(step?: number, totalSteps?: number): void {
  const { stepsDone, stepsTotal, runsDone, runsTotal } = progress;
  ui.progress.max = Math.max(1, stepsTotal);
  ui.progress.value = stepsDone;
  const active = pace.activeMs + (state === 'running' ? performance.now() - pace.since : 0);
  const rate = pace.trainedSteps / (active / 1000);
  const eta = rate > 0 ? (stepsTotal - stepsDone) / rate : NaN;
  const head =
    state === 'done'
      ? `Done: ${runsTotal} runs in ${duration(active / 1000)}.`
      : state === 'stopped'
        ? `Stopped after ${runsDone} of ${runsTotal} runs; the table shows the finished ones.`
        : state === 'paused'
          ? `Paused after step ${stepsDone} of ${stepsTotal} (a checkpoint was kept; Resume continues exactly there).`
          : `Run ${Math.min(runsDone + 1, runsTotal)} of ${runsTotal}${pace.current ? ` · ${pace.current}` : ''}${step !== undefined && totalSteps ? ` · step ${step} / ${totalSteps}` : ''}.`;
  const tail = state === 'running' && rate > 0 ? ` ${stepsDone} / ${stepsTotal} steps · ${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)} steps/s · about ${duration(eta)} left.` : '';
  ui.status.textContent = head + tail;
}

// ---- the spec ----

const form = new SpecForm(ui.form, () => {
  touched = true;
  onDraftChange(true);
});

function onDraftChange(fromForm: boolean): void {
  const draft = form.value;
  if (fromForm && document.activeElement !== ui.json) ui.json.value = JSON.stringify(draft, null, 2);
  let problems: string[] = [];
  try {
    const spec = validateSpec(structuredClone(draft));
    effective = ui.quick.checked ? quickSpec(spec) : spec;
  } catch (e) {
    effective = null;
    problems = e instanceof SpecError ? e.problems : [(e as Error).message];
  }
  form.markProblems(problems);
  ui.problems.replaceChildren();
  if (problems.length) {
    const title = document.createElement('p');
    title.style.margin = '0 0 .3rem';
    title.textContent = 'The settings need fixing before a run:';
    const ul = document.createElement('ul');
    for (const p of problems) {
      const li = document.createElement('li');
      li.textContent = p;
      ul.append(li);
    }
    ui.problems.append(title, ul);
  }
  ui.summary.textContent = effective ? planSummary(effective) : '';
  setState(state);
}

function planSummary(spec: ExperimentSpec): string {
  const cells = resolveCells(spec);
  const runs = cells.length * spec.arms.length * spec.seeds.length;
  const steps = cells.reduce((s, c) => s + totalStepsOf(spec, c), 0) * spec.arms.length * spec.seeds.length;
  const data = [...new Set(cells.map((c) => (c.data.kind === 'fashion-mnist' ? 'Fashion-MNIST' : 'synthetic')))].join(' + ');
  const parts = [
    `${runs} run${runs === 1 ? '' : 's'}`,
    `${cells.length > 1 ? `${cells.length} cells × ` : ''}${spec.arms.length} mode${spec.arms.length === 1 ? '' : 's'} × ${spec.seeds.length} seed${spec.seeds.length === 1 ? '' : 's'}`,
    `${steps.toLocaleString('en')} optimizer steps in all`,
    data,
  ];
  return `${ui.quick.checked ? 'Quick variant: ' : ''}${parts.join(' · ')}.`;
}

function loadPreset(name: string): void {
  const entry = presetEntry(name) ?? PRESET_ENTRIES[0];
  const draft = entry.spec() as Draft;
  ui.presetDescription.textContent = typeof draft.description === 'string' ? draft.description : '';
  form.set(draft);
  ui.json.value = JSON.stringify(draft, null, 2);
  ui.jsonError.textContent = '';
  onDraftChange(false);
  void showCharts();
}

/** Empty charts for the spec about to run (or the one shown), so the layout is there from the start. */
async function showCharts(): Promise<void> {
  const spec = effective;
  if (!spec || state === 'running' || state === 'paused') return;
  const key = JSON.stringify([spec.name, spec.arms.map((a) => a.name), spec.cells?.length ?? 0, !!spec.metrics, spec.metrics?.directions]);
  if (key === chartsFor && charts) return;
  chartsFor = key;
  charts?.dispose();
  charts = null;
  charts = await LabCharts.create(ui.charts, spec);
}

for (const entry of PRESET_ENTRIES) {
  const o = document.createElement('option');
  o.value = entry.name;
  o.textContent = entry.label;
  ui.preset.append(o);
}
ui.preset.addEventListener('change', () => {
  touched = true;
  loadPreset(ui.preset.value);
});
ui.quick.addEventListener('change', () => onDraftChange(false));
ui.applyJson.addEventListener('click', () => {
  try {
    const draft = JSON.parse(ui.json.value) as unknown;
    if (draft === null || typeof draft !== 'object' || Array.isArray(draft)) throw new Error('the spec must be a JSON object');
    ui.jsonError.textContent = '';
    touched = true;
    form.set(draft as Draft);
    onDraftChange(false);
  } catch (e) {
    ui.jsonError.textContent = `Not applied: ${(e as Error).message}`;
  }
});

// ---- run controls ----

async function run(): Promise<void> {
  const spec = effective;
  if (!spec || !engineReady) return;
  ui.runError.textContent = '';
  hook.error = undefined;
  const needsFashion = resolveCells(spec).some((c) => c.data.kind === 'fashion-mnist');
  if (needsFashion && !fashion.loaded) {
    const ok = fashion.serverUrl ? await fashion.loadFromServer() : await fashion.whenSettled();
    if (!ok) {
      ui.runError.textContent = 'This experiment uses Fashion-MNIST: load its four files in the Dataset panel first (or switch the dataset to synthetic).';
      document.getElementById('dataset-card')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
      return;
    }
  }
  chartsFor = '';
  await showCharts();
  running = { spec, results: [], complete: false };
  renderResults(ui.results, spec, []);
  Object.assign(progress, { stepsDone: 0, stepsTotal: 0, runsDone: 0, runsTotal: 0 });
  Object.assign(pace, { trainedSteps: 0, activeMs: 0, lastStepsDone: 0, current: '' });
  setState('running');
  ui.status.textContent = 'Starting (compiling kernels)…';
  post({ type: 'run', spec, options: { testCurve: ui.testCurve.checked } });
}

ui.run.addEventListener('click', () => void run());
ui.pause.addEventListener('click', () => {
  setState('pausing');
  ui.status.textContent = 'Pausing after the current step…';
  post({ type: 'pause' });
});
ui.resume.addEventListener('click', () => {
  setState('running');
  post({ type: 'resume' });
});
ui.stop.addEventListener('click', () => {
  setState('stopping');
  ui.status.textContent = 'Stopping…';
  post({ type: 'stop' });
});

ui.exportJson.addEventListener('click', () => {
  if (!running) return;
  const file = {
    format: 'wgtrain-lab-results',
    version: 1,
    exportedAt: new Date().toISOString(),
    adapter: adapter ?? null,
    complete: running.complete,
    spec: running.spec,
    /** One RunResult per finished run: the lines of the headless runner's results.jsonl. */
    results: running.results,
  };
  downloadText(`${running.spec.name}-results.json`, JSON.stringify(file, null, 2));
});

// ---- start ----

// On a phone the settings start folded: the preset, the run controls and the charts come first.
if (window.matchMedia('(max-width: 700px)').matches) (document.getElementById('settings') as HTMLDetailsElement).open = false;

const missing = webGpuMissing();
const initialPreset = new URLSearchParams(location.search).get('preset');
if (initialPreset && presetEntry(initialPreset)) ui.preset.value = initialPreset;
loadPreset(ui.preset.value || 'demo');
if (missing) {
  showWebGpuHelp(ui.webgpu, missing, 'The lab');
  setAdapterBadge('no WebGPU');
  setState('unavailable');
} else {
  ui.status.textContent = 'Starting WebGPU in the training worker…';
  post({ type: 'init' });
  worker?.addEventListener('message', function ready(e: MessageEvent<FromWorker>) {
    if (e.data.type === 'ready') {
      ui.status.textContent = 'Ready.';
      worker.removeEventListener('message', ready);
    }
  });
}

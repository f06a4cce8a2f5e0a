/**
 * The early-dropout lab page: a preset or an edited spec, validated with the runner's own
 * validateSpec; training in a worker (worker.ts) through the headless command's runner; charts
 * that compare modes at a glance (charts.ts); pause / resume / stop with steps/s and the time
 * left (pace.ts); the results of the headless report's analysis with the paper's claims beside
 * the evidence (results.ts, claims.ts); exports (results JSON, the headless report as HTML or
 * markdown + SVG, each chart as titled PNG / SVG). The setup lives in the URL (share.ts); the
 * settings and finished runs survive a reload (persist.ts).
 *
 * window.__lab exposes the page's state for the end-to-end tests (tests/e2e/lab*.test.ts).
 */
import type { AdapterReport } from '../../src/runtime/device.js';
import { describeData, describeModel, type ExperimentAnalysis } from '../../src/lab/experiment/report.js';
import { quickSpec, resolveCells, SpecError, totalStepsOf, validateSpec } from '../../src/lab/experiment/spec.js';
import { runKey, type ExperimentSpec, type RunResult } from '../../src/lab/experiment/types.js';
import type { ChartCaption } from '../common/chart.js';
import { downloadBytes, downloadText } from '../common/download.js';
import { setAdapterBadge, showWebGpuHelp, webGpuMissing } from '../common/webgpu.js';
import { DEFAULT_VIEW, LabCharts, type ViewOptions } from './charts.js';
import { FashionLoader } from './fashion.js';
import { SpecForm, type Draft } from './form.js';
import { duration, Pace } from './pace.js';
import { loadExperiment, loadSettings, saveExperiment, saveSettings, storageProblem, type SavedExperiment } from './persist.js';
import { PRESET_ENTRIES, presetEntry } from './presets.js';
import { parseRunKey, type FromWorker, type ToWorker } from './protocol.js';
import { renderLabReport, reportHtml, reportZip } from './report-file.js';
import { renderResults, type ResultsPhase } from './results.js';
import { decodeSetup, encodeSetup, type Setup } from './share.js';

export type LabState = 'starting' | 'unavailable' | 'ready' | 'running' | 'pausing' | 'paused' | 'stopping' | 'done' | 'stopped' | 'error';

export interface LabHook {
  state: LabState;
  adapter?: AdapterReport;
  error?: string;
  /** Points received per chart. */
  charts(): Record<string, number>;
  results(): RunResult[];
  /** Steps done / total of the experiment in progress, and the page's estimate of what is left. */
  progress: { stepsDone: number; stepsTotal: number; runsDone: number; runsTotal: number; stepsPerSecond: number; etaSeconds: number };
  /** performance.now() when Run was pressed and when the experiment ended. */
  timing: { startedAt: number; finishedAt: number };
  /** The analysis behind the results table (the report's analyzeExperiment), once there are runs. */
  analysis?: ExperimentAnalysis;
  /** Finished runs restored from the browser's storage at load. */
  restored: number;
  /** Resolves once the page has applied its URL, stored settings and stored runs. */
  loaded: Promise<void>;
}

declare global {
  interface Window {
    __lab?: LabHook;
  }
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const ui = {
  webgpu: $('webgpu-status'),
  notice: $('page-notice'),
  preset: $<HTMLSelectElement>('preset'),
  presetDescription: $('preset-description'),
  quick: $<HTMLInputElement>('quick'),
  testCurve: $<HTMLInputElement>('test-curve'),
  summary: $('plan-summary'),
  problems: $('spec-problems'),
  run: $<HTMLButtonElement>('run'),
  continue: $<HTMLButtonElement>('continue'),
  pause: $<HTMLButtonElement>('pause'),
  resume: $<HTMLButtonElement>('resume'),
  stop: $<HTMLButtonElement>('stop'),
  copyLink: $<HTMLButtonElement>('copy-link'),
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
  reportHtml: $<HTMLButtonElement>('report-html'),
  reportZip: $<HTMLButtonElement>('report-zip'),
  spread: $<HTMLSelectElement>('opt-spread'),
  seeds: $<HTMLInputElement>('opt-seeds'),
  xAxis: $<HTMLSelectElement>('opt-x'),
  smooth: $<HTMLInputElement>('opt-smooth'),
  smoothValue: $('opt-smooth-value'),
};

// ---- state ----

let state: LabState = 'starting';
let adapter: AdapterReport | undefined;
let engineReady = false;
/** The validated spec as it would run (after --quick), or null while the draft is invalid. */
let effective: ExperimentSpec | null = null;
/** Problems of the draft, in a person's words. */
let problems: string[] = [];

/** The experiment being run or last run (or restored), and its results so far. */
interface Experiment {
  setup: Setup;
  spec: ExperimentSpec;
  results: RunResult[];
  testEvals: Record<string, { step: number; accuracy: number }[]>;
  phase: ResultsPhase;
}
let experiment: Experiment | null = null;
let charts: LabCharts | null = null;
let chartsFor = '';
/** Whether the person has chosen a preset or edited a field (then the page stops choosing for them). */
let touched = new URLSearchParams(location.search).has('preset');
const progress = { stepsDone: 0, stepsTotal: 0, runsDone: 0, runsTotal: 0, stepsPerSecond: NaN, etaSeconds: NaN };
/** Rate and time left of the experiment in progress. */
let pace: Pace | null = null;
let current = '';
/** Wall time of the experiment, paused time excluded (for "Done in ..."). */
const clock = { activeMs: 0, since: 0 };
const timing = { startedAt: NaN, finishedAt: NaN };
let resolveLoaded!: () => void;

const hook: LabHook = {
  state,
  charts: () => charts?.counts() ?? {},
  results: () => experiment?.results ?? [],
  progress,
  timing,
  restored: 0,
  loaded: new Promise((r) => (resolveLoaded = r)),
};
window.__lab = hook;

const isBusy = (s: LabState) => s === 'running' || s === 'pausing' || s === 'paused' || s === 'stopping';

function setState(s: LabState, error?: string): void {
  const now = performance.now();
  if (state === 'running' && s !== 'running') clock.activeMs += now - clock.since;
  if (s === 'running' && state !== 'running') clock.since = now;
  pace?.setRunning(s === 'running', now);
  state = s;
  hook.state = s;
  if (error !== undefined) hook.error = error;
  document.body.dataset.labState = s;
  const busy = isBusy(s);
  ui.run.disabled = busy || !engineReady || effective === null;
  const left = continuable();
  ui.continue.hidden = left === 0;
  ui.continue.disabled = ui.run.disabled;
  ui.continue.textContent = `Continue (${left} run${left === 1 ? '' : 's'} left)`;
  ui.pause.disabled = s !== 'running';
  ui.resume.disabled = s !== 'paused';
  ui.stop.disabled = !(s === 'running' || s === 'paused');
  ui.preset.disabled = busy;
  const hasResults = !!experiment && experiment.results.length > 0 && !busy;
  ui.exportJson.disabled = !hasResults;
  ui.reportHtml.disabled = !hasResults;
  ui.reportZip.disabled = !hasResults;
}

/**
 * Runs left of a stopped or restored experiment whose spec is the one the form would run now
 * (0 otherwise): Continue trains those, Run starts over.
 */
function continuable(): number {
  if (!experiment || experiment.phase === 'done' || isBusy(state) || !effective) return 0;
  if (JSON.stringify(experiment.spec) !== JSON.stringify(effective)) return 0;
  const expected = resolveCells(effective).length * effective.arms.length * effective.seeds.length;
  return Math.max(0, expected - experiment.results.length);
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
  timing.finishedAt = performance.now();
  setState('error', message);
  showStatus();
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
      showStatus();
      break;
    case 'unavailable':
      showWebGpuHelp(ui.webgpu, m.message, 'The lab');
      setAdapterBadge('no WebGPU');
      setState('unavailable');
      showStatus();
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
      if (experiment) (experiment.testEvals[m.run.key] ??= []).push({ step: m.step, accuracy: m.accuracy });
      break;
    case 'run-finished':
      charts?.onFinished(m.run, m.result);
      if (experiment) {
        experiment.results.push(m.result);
        showResults();
        void keepExperiment();
      }
      break;
    case 'paused':
      setState('paused');
      showStatus();
      break;
    case 'done':
      timing.finishedAt = performance.now();
      if (experiment) {
        experiment.results = m.results;
        experiment.phase = m.stopped ? 'stopped' : 'done';
        showResults();
        void keepExperiment();
      }
      void charts?.flush();
      setState(m.stopped ? 'stopped' : 'done');
      showStatus();
      break;
    case 'error':
      if (experiment && experiment.phase === 'running') experiment.phase = 'stopped';
      fail(m.message);
      break;
  }
}

// ---- progress ----

function onProgress(p: Extract<FromWorker, { type: 'progress' }>['progress']): void {
  pace?.onProgress(p, performance.now());
  Object.assign(progress, { stepsDone: p.stepsDone, stepsTotal: p.stepsTotal, runsDone: p.runsDone, runsTotal: p.runsTotal });
  if (p.key && p.kind !== 'skip') current = p.key;
  if (p.kind === 'start' && p.resumedFrom) current = `${p.key} (resumed at step ${p.resumedFrom})`;
  showStatus(p.step, p.totalSteps);
}

function showStatus(step?: number, totalSteps?: number): void {
  const { stepsDone, stepsTotal, runsDone, runsTotal } = progress;
  const now = performance.now();
  ui.progress.max = Math.max(1, stepsTotal);
  ui.progress.value = stepsDone;
  progress.stepsPerSecond = pace?.rate(now) ?? NaN;
  progress.etaSeconds = state === 'running' && pace ? pace.etaSeconds(now) : NaN;
  const wallSeconds = (clock.activeMs + (state === 'running' ? now - clock.since : 0)) / 1000;
  const fix = problems.length ? `Fix the settings before running: ${problems.length} problem${problems.length === 1 ? '' : 's'}, marked at ${problems.length === 1 ? 'its field' : 'their fields'}.` : '';
  let text: string;
  switch (state) {
    case 'starting':
      text = 'Starting WebGPU in the training worker…';
      break;
    case 'unavailable':
      text = 'WebGPU is not available: see the notice above.';
      break;
    case 'ready':
      text = fix || (hook.restored ? `Ready. ${restoredLine()}` : 'Ready.');
      break;
    case 'done':
      text = `Done: ${runsTotal} runs in ${duration(wallSeconds)}.${fix ? ` ${fix}` : ''}`;
      break;
    case 'stopped':
      text = `Stopped after ${runsDone} of ${runsTotal} runs; the results show the finished ones${continuable() ? ' (Continue trains the rest)' : ''}.${fix ? ` ${fix}` : ''}`;
      break;
    case 'paused':
      text = `Paused after step ${stepsDone} of ${stepsTotal} (a checkpoint was kept; Resume continues exactly there).`;
      break;
    case 'pausing':
      text = 'Pausing after the current step…';
      break;
    case 'stopping':
      text = 'Stopping…';
      break;
    case 'error':
      text = `Stopped by an error (below).${fix ? ` ${fix}` : ''}`;
      break;
    case 'running': {
      const rate = progress.stepsPerSecond;
      const head = `Run ${Math.min(runsDone + 1, runsTotal)} of ${runsTotal}${current ? ` · ${current}` : ''}${step !== undefined && totalSteps ? ` · step ${step} / ${totalSteps}` : ''}.`;
      const tail = rate > 0 ? ` ${stepsDone} / ${stepsTotal} steps · ${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)} steps/s · about ${duration(progress.etaSeconds)} left.` : '';
      text = head + tail;
      break;
    }
  }
  ui.status.textContent = text;
}

function restoredLine(): string {
  if (!experiment) return '';
  const left = continuable();
  return `Restored ${experiment.results.length} finished run${experiment.results.length === 1 ? '' : 's'} of ${experiment.spec.name} from this browser${left ? `; Continue trains the ${left} left, Run starts over` : ''}.`;
}

// ---- the spec ----

const form = new SpecForm(ui.form, () => {
  touched = true;
  onDraftChange(true);
});

function currentSetup(): Setup {
  return { draft: form.value, quick: ui.quick.checked, testCurve: ui.testCurve.checked };
}

function onDraftChange(fromForm: boolean): void {
  const draft = form.value;
  if (fromForm && document.activeElement !== ui.json) ui.json.value = JSON.stringify(draft, null, 2);
  let raw: string[] = [];
  try {
    const spec = validateSpec(structuredClone(draft));
    effective = ui.quick.checked ? quickSpec(spec) : spec;
  } catch (e) {
    effective = null;
    raw = e instanceof SpecError ? e.problems : [(e as Error).message];
  }
  problems = form.markProblems(raw);
  ui.problems.replaceChildren();
  if (problems.length) {
    const title = document.createElement('p');
    title.style.margin = '0 0 .3rem';
    title.textContent = 'The settings need fixing before a run (each problem is also shown at its field):';
    const ul = document.createElement('ul');
    for (const p of problems) {
      const li = document.createElement('li');
      li.textContent = p;
      ul.append(li);
    }
    ui.problems.append(title, ul);
  }
  ui.summary.textContent = effective ? planSummary(effective) : '';
  // The URL holds the setup, so the address bar is always a link that reproduces it.
  const setup = currentSetup();
  history.replaceState(null, '', `${location.pathname}${location.search}#${encodeSetup(setup)}`);
  void saveSettings(setup);
  setState(state);
  showStatus();
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

function applySetup(setup: Setup): void {
  ui.quick.checked = setup.quick;
  ui.testCurve.checked = setup.testCurve;
  const draft = setup.draft;
  ui.presetDescription.textContent = typeof draft.description === 'string' ? draft.description : '';
  // A draft that is no preset (a link, a JSON edit) shows as "custom" rather than as the last preset chosen.
  const preset = PRESET_ENTRIES.find((p) => p.name === draft.name);
  ui.preset.value = preset ? preset.name : CUSTOM;
  form.set(draft);
  ui.json.value = JSON.stringify(draft, null, 2);
  ui.jsonError.textContent = '';
  onDraftChange(false);
}

function loadPreset(name: string): void {
  const entry = presetEntry(name) ?? PRESET_ENTRIES[0];
  applySetup({ draft: entry.spec() as Draft, quick: ui.quick.checked, testCurve: ui.testCurve.checked });
  void showCharts();
}

// ---- charts ----

function viewFromControls(): ViewOptions {
  return {
    spread: ui.spread.value as ViewOptions['spread'],
    seeds: ui.seeds.checked,
    x: ui.xAxis.value as ViewOptions['x'],
    smoothing: Number(ui.smooth.value),
    log: charts?.options.log ?? new Set(DEFAULT_VIEW.log),
  };
}

/** Title and settings printed on exported charts. */
function caption(spec: ExperimentSpec, quick: boolean): (title: string) => ChartCaption {
  return (title) => {
    const x = experiment?.spec === spec ? experiment : null;
    const arms = spec.arms.map((a) => `${a.name} (${a.mode}${a.mode !== 'none' ? ` p=${a.p ?? 0}` : ''}${a.cutoffEpochs !== undefined ? `, cutoff ${a.cutoffEpochs} ep` : ''})`).join(', ');
    const runs = x ? `${x.results.length} of ${resolveCells(spec).length * spec.arms.length * spec.seeds.length} runs finished` : 'no runs yet';
    return {
      title,
      lines: [
        `${spec.name}${quick ? ' (quick variant)' : ''}: ${describeModel(spec.model)}; ${describeData(spec.data)}${spec.cells?.length ? `; cells ${spec.cells.map((c) => c.name).join(', ')}` : ''}`,
        `${spec.epochs} epochs, batch ${spec.batchSize}, lr ${spec.lr}, weight decay ${spec.weightDecay}, warmup ${spec.warmupEpochs}, label smoothing ${spec.labelSmoothing}; seeds ${spec.seeds.join(', ')}`,
        `modes: ${arms}`,
        `${runs} · ${experiment?.results[0]?.adapter ?? adapter?.description ?? 'WebGPU'} · wgtrain lab, ${new Date().toISOString().slice(0, 10)}`,
      ],
    };
  };
}

/** Empty charts for the spec about to run (or the one shown), so the layout is there from the start. */
async function showCharts(spec = effective, force = false): Promise<void> {
  // Charts of an experiment with runs stay until the next Run.
  if (!spec || (!force && (isBusy(state) || (experiment && experiment.results.length > 0)))) return;
  const key = JSON.stringify(spec);
  if (key === chartsFor && charts && !force) return;
  chartsFor = key;
  const view = viewFromControls();
  charts?.dispose();
  charts = null;
  charts = await LabCharts.create(ui.charts, spec, view, caption(spec, ui.quick.checked));
}

function onViewChange(): void {
  ui.smoothValue.textContent = ui.smooth.value;
  void charts?.setOptions(viewFromControls());
}
ui.spread.addEventListener('change', onViewChange);
ui.seeds.addEventListener('change', onViewChange);
ui.xAxis.addEventListener('change', onViewChange);
ui.smooth.addEventListener('input', onViewChange);

// ---- results ----


function showResults(): void {
  if (!experiment) return;
  const a = renderResults(ui.results, experiment.spec, experiment.results, experiment.phase);
  hook.analysis = a;
  charts?.setAnalysis(a);
  setState(state);
}

function keepExperiment(): Promise<unknown> {
  if (!experiment) return Promise.resolve();
  const x: SavedExperiment = {
    version: 1,
    setup: experiment.setup,
    spec: experiment.spec,
    results: experiment.results,
    testEvals: experiment.testEvals,
    phase: experiment.phase === 'running' ? 'running' : experiment.phase,
    adapter,
    savedAt: new Date().toISOString(),
  };
  return saveExperiment(x);
}

// ---- run controls ----

async function run(continuing: boolean): Promise<void> {
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
  // Continue keeps the finished runs (the runner skips them); Run starts afresh.
  const previous = continuing && continuable() > 0 && experiment ? experiment.results : [];
  const testEvals = previous.length && experiment ? experiment.testEvals : {};
  experiment = { setup: structuredClone(currentSetup()), spec, results: [...previous], testEvals, phase: 'running' };
  await showCharts(spec, true);
  for (const r of previous) charts?.replay(parseRunKey(runKey(r)), r, testEvals[runKey(r)]);
  showResults();
  void keepExperiment();
  Object.assign(progress, { stepsDone: 0, stepsTotal: 0, runsDone: 0, runsTotal: 0, stepsPerSecond: NaN, etaSeconds: NaN });
  pace = new Pace(spec, { testCurve: ui.testCurve.checked });
  current = '';
  clock.activeMs = 0;
  timing.startedAt = performance.now();
  timing.finishedAt = NaN;
  hook.restored = 0;
  setState('running');
  ui.status.textContent = 'Starting (compiling kernels)…';
  post({ type: 'run', spec, options: { testCurve: ui.testCurve.checked }, previous });
}

ui.run.addEventListener('click', () => void run(false));
ui.continue.addEventListener('click', () => void run(true));
ui.pause.addEventListener('click', () => {
  setState('pausing');
  showStatus();
  post({ type: 'pause' });
});
ui.resume.addEventListener('click', () => {
  setState('running');
  ui.status.textContent = `Resuming at step ${progress.stepsDone} of ${progress.stepsTotal} from the checkpoint…`;
  post({ type: 'resume' });
});
ui.stop.addEventListener('click', () => {
  setState('stopping');
  showStatus();
  post({ type: 'stop' });
});

// Leaving a running page loses the run in progress (finished runs are kept): ask first.
window.addEventListener('beforeunload', (e) => {
  if (!isBusy(state)) return;
  e.preventDefault();
  e.returnValue = '';
});

// ---- exports ----

function reportInput() {
  const x = experiment!;
  return { spec: x.spec, results: x.results, adapter: x.results[0]?.adapter ?? 'unknown adapter', quick: x.setup.quick };
}

ui.exportJson.addEventListener('click', () => {
  if (!experiment) return;
  const file = {
    format: 'wgtrain-lab-results',
    version: 1,
    exportedAt: new Date().toISOString(),
    adapter: adapter ?? null,
    complete: experiment.phase === 'done',
    spec: experiment.spec,
    /** One RunResult per finished run: the lines of the headless runner's results.jsonl. */
    results: experiment.results,
  };
  downloadText(`${experiment.spec.name}-results.json`, JSON.stringify(file, null, 2));
});

ui.reportHtml.addEventListener('click', async () => {
  if (!experiment) return;
  const input = reportInput();
  const rendered = await renderLabReport(input);
  downloadText(`${input.spec.name}-report.html`, reportHtml(`Experiment report: ${input.spec.name}`, rendered), 'text/html');
});

ui.reportZip.addEventListener('click', async () => {
  if (!experiment) return;
  const input = reportInput();
  const rendered = await renderLabReport(input);
  downloadBytes(`${input.spec.name}-report.zip`, reportZip(input.spec.name, rendered), 'application/zip');
});

ui.copyLink.addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(location.href);
    ui.copyLink.textContent = 'Link copied';
  } catch {
    // No clipboard permission: the address bar has the same link.
    ui.copyLink.textContent = 'Copy it from the address bar';
  }
  setTimeout(() => (ui.copyLink.textContent = 'Copy link to this setup'), 2500);
});

// ---- the spec controls ----

/** The preset list's entry for a spec that is none of the presets. */
const CUSTOM = '';
{
  const o = document.createElement('option');
  o.value = CUSTOM;
  o.textContent = 'custom spec (from a link or edited)';
  o.disabled = true;
  ui.preset.append(o);
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
ui.quick.addEventListener('change', () => {
  onDraftChange(false);
  void showCharts();
});
ui.testCurve.addEventListener('change', () => onDraftChange(false));
ui.applyJson.addEventListener('click', () => {
  try {
    const draft = JSON.parse(ui.json.value) as unknown;
    if (draft === null || typeof draft !== 'object' || Array.isArray(draft)) throw new Error('the spec must be a JSON object');
    ui.jsonError.textContent = '';
    touched = true;
    form.set(draft as Draft);
    onDraftChange(false);
    void showCharts();
  } catch (e) {
    ui.jsonError.textContent = `Not applied: ${(e as Error).message}`;
  }
});

// ---- start ----

/** The setup to show: the link's, else the one kept in this browser, else a preset. */
async function initialSetup(): Promise<Setup | null> {
  const fromLink = decodeSetup(location.hash);
  if (fromLink && 'error' in fromLink) {
    ui.notice.textContent = fromLink.error;
  } else if (fromLink) {
    touched = true;
    return fromLink;
  }
  const query = new URLSearchParams(location.search).get('preset');
  if (query && presetEntry(query)) return null;
  const kept = await loadSettings();
  if (kept) touched = true;
  return kept ?? null;
}

/** The last experiment kept in this browser: its charts, results and what is left of it. */
async function restoreExperiment(): Promise<void> {
  const saved = await loadExperiment();
  if (!saved || saved.version !== 1 || saved.results.length === 0) return;
  experiment = {
    setup: saved.setup,
    spec: saved.spec,
    results: saved.results,
    testEvals: saved.testEvals ?? {},
    // A page that went away mid-run left its finished runs; the rest were not trained.
    phase: saved.phase === 'running' ? 'stopped' : saved.phase,
  };
  hook.restored = saved.results.length;
  await showCharts(saved.spec, true);
  for (const r of saved.results) charts?.replay(parseRunKey(runKey(r)), r, experiment.testEvals[runKey(r)]);
  showResults();
  await charts?.flush();
}

async function start(): Promise<void> {
  // On a phone the settings start folded: the preset, the run controls and the charts come first.
  if (window.matchMedia('(max-width: 700px)').matches) (document.getElementById('settings') as HTMLDetailsElement).open = false;
  const setup = await initialSetup();
  if (setup) applySetup(setup);
  else {
    const preset = new URLSearchParams(location.search).get('preset');
    if (preset && presetEntry(preset)) ui.preset.value = preset;
    loadPreset(ui.preset.value || 'demo');
  }
  await restoreExperiment();
  if (!experiment) await showCharts();
  const problem = storageProblem();
  if (problem) ui.notice.textContent = `This browser does not let the page keep anything (IndexedDB: ${problem}): export your results before closing the tab.`;
  const missing = webGpuMissing();
  if (missing) {
    showWebGpuHelp(ui.webgpu, missing, 'The lab');
    setAdapterBadge('no WebGPU');
    setState('unavailable');
  } else {
    post({ type: 'init' });
  }
  setState(state);
  showStatus();
  resolveLoaded();
}

void start();

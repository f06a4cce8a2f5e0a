/**
 * `npm run lab -- --plan`: what an experiment will cost and what it can detect, before any
 * training. Assembles the spec's cost (cost.ts), its shares (parts of a preset, `--shard`,
 * `--jobs` workers; shard.ts), timings measured on this adapter when given (timing.ts) and the
 * power table (power.ts), and formats them as text. Pure: no device, no I/O.
 */
import { cellCosts, GPU_ASSUMPTION, runCostOf, runGpuSeconds, runMetricSteq, runSteq, type CellCost } from './cost.js';
import { planRuns, type PlannedRun } from './runner.js';
import { formatShard, shareOf, shareOfAll, type Shard } from './shard.js';
import { powerTable, type PilotSds, type PowerRow } from './power.js';
import type { CellTiming } from './timing.js';
import type { ExperimentSpec } from './types.js';
import { modelKind } from './models.js';

export interface PlanOptions {
  /** The runner's checkpoint interval (checkpoint writes are counted with it). Default 200. */
  checkpointEvery?: number;
  /** Parts the preset is split into (`--part K` of these); 1 = not split. */
  parts?: number;
  /** The share this invocation would run (`--part`, `--shard`), cut in that order. */
  shards?: readonly Shard[];
  /** Worker processes (`--jobs`); their shares are shown. */
  jobs?: number;
  pilot?: PilotSds | null;
  /** ms per vit-xs step at batch 128 for the GPU estimate (default GPU_ASSUMPTION.msPerStep). */
  msPerStep?: number;
  /** Timings on the current adapter, by cell, and the adapter's name. */
  timings?: Map<string, CellTiming> | null;
  adapter?: string;
}

/** One share of the plan. */
export interface SharePlan {
  label: string;
  runs: PlannedRun[];
  steps: number;
  steq: number;
  gpuSeconds: number;
  hereSeconds?: number;
  /** Seeds with every run in this share, and seeds with only some. */
  wholeSeeds: number[];
  partSeeds: number[];
}

export interface ExperimentPlan {
  spec: ExperimentSpec;
  runs: PlannedRun[];
  cells: { cost: CellCost; runs: number; timing?: CellTiming }[];
  steps: number;
  metricSteq: number;
  evalSteq: number;
  totalSteq: number;
  checkpoints: number;
  msPerStep: number;
  gpuSeconds: number;
  hereSeconds?: number;
  /** The preset's parts (empty when it is not split). */
  parts: SharePlan[];
  /** The share this invocation would run (when --part or --shard is given). */
  share?: SharePlan;
  /** The `--jobs` workers' shares of that. */
  workers: SharePlan[];
  power: PowerRow[];
  adapter?: string;
}

/** Estimated seconds of one run on this adapter, from its cost and timing (the diagnostic's gradients at the step time). */
function runSecondsHere(cost: CellCost, arm: PlannedRun['arm'], t: CellTiming): number {
  return (
    cost.steps * t.secondsPerStep +
    cost.metricPoints * t.secondsPerMetricPoint +
    (runMetricSteq(cost, arm) - cost.metricSteq) * t.secondsPerStep +
    (cost.trainImages + cost.testImages) * t.secondsPerEvalImage +
    cost.checkpoints * t.secondsPerCheckpoint
  );
}

export function makePlan(spec: ExperimentSpec, options: PlanOptions = {}): ExperimentPlan {
  const msPerStep = options.msPerStep ?? GPU_ASSUMPTION.msPerStep;
  const costs = cellCosts(spec, options.checkpointEvery ?? 200, msPerStep);
  const timings = options.timings ?? null;
  const runs = planRuns(spec);
  // Shares are cut by the default assumption's cost (as the runner cuts them), whatever msPerStep says.
  const cutCost = runCostOf(spec);
  const summarize = (label: string, share: PlannedRun[]): SharePlan => {
    const seeds = new Map<number, number>();
    for (const r of share) seeds.set(r.seed, (seeds.get(r.seed) ?? 0) + 1);
    const perSeed = runs.length / spec.seeds.length;
    const plan: SharePlan = {
      label,
      runs: share,
      steps: share.reduce((n, r) => n + r.totalSteps, 0),
      steq: share.reduce((n, r) => n + runSteq(costs.get(r.cell.name)!, r.arm), 0),
      gpuSeconds: share.reduce((n, r) => n + runGpuSeconds(costs.get(r.cell.name)!, r.arm), 0),
      wholeSeeds: [...seeds].filter(([, k]) => k === perSeed).map(([s]) => s),
      partSeeds: [...seeds].filter(([, k]) => k < perSeed).map(([s]) => s),
    };
    if (timings) plan.hereSeconds = share.reduce((n, r) => n + runSecondsHere(costs.get(r.cell.name)!, r.arm, timings.get(r.cell.name)!), 0);
    return plan;
  };
  const all = summarize('all runs', runs);
  const parts = options.parts ?? 1;
  const shards = options.shards ?? [];
  const mine = shards.length ? shareOfAll(runs, cutCost, shards) : runs;
  const jobs = options.jobs ?? 1;
  const cells = [...costs.values()].map((cost) => ({
    cost,
    runs: runs.filter((r) => r.cell.name === cost.cell).length,
    ...(timings?.get(cost.cell) ? { timing: timings.get(cost.cell)! } : {}),
  }));
  return {
    spec,
    runs,
    cells,
    steps: all.steps,
    metricSteq: runs.reduce((n, r) => n + runMetricSteq(costs.get(r.cell.name)!, r.arm), 0),
    evalSteq: cells.reduce((n, c) => n + c.runs * c.cost.evalSteq, 0),
    totalSteq: all.steq,
    checkpoints: cells.reduce((n, c) => n + c.runs * c.cost.checkpoints, 0),
    msPerStep,
    gpuSeconds: all.gpuSeconds,
    ...(all.hereSeconds !== undefined ? { hereSeconds: all.hereSeconds } : {}),
    parts: parts > 1 ? Array.from({ length: parts }, (_, i) => summarize(`part ${i + 1}/${parts}`, shareOf(runs, cutCost, { index: i + 1, count: parts }))) : [],
    ...(shards.length ? { share: summarize(`this share (${shards.map((s) => formatShard(s)).join(' then ')})`, mine) } : {}),
    workers: jobs > 1 ? Array.from({ length: jobs }, (_, i) => summarize(`worker ${i + 1}/${jobs}`, shareOf(mine, cutCost, { index: i + 1, count: jobs }))) : [],
    power: powerTable(spec, options.pilot),
    ...(options.adapter ? { adapter: options.adapter } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  if (d) return `${d}d${String(h).padStart(2, '0')}h`;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : s < 10 ? `${s.toFixed(1)}s` : `${sec}s`;
}

const int = (x: number) => Math.round(x).toLocaleString('en-US');
const seconds = (s: number) => (s < 1 ? `${(s * 1000).toPrecision(3)} ms` : `${s.toPrecision(3)} s`);

/** "100-104, 107" */
function seedList(seeds: readonly number[]): string {
  const s = [...seeds].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(j > i ? `${s[i]}-${s[j]}` : `${s[i]}`);
    i = j + 1;
  }
  return out.join(', ');
}

function shareLine(p: SharePlan, plan: ExperimentPlan, window: number): string {
  const first = p.runs.length ? plan.runs.indexOf(p.runs[0]) + 1 : 0;
  const last = p.runs.length ? plan.runs.indexOf(p.runs[p.runs.length - 1]) + 1 : 0;
  const which = p.runs.length ? `runs ${first}-${last} (${p.runs.length})` : 'no runs';
  const seeds = [p.wholeSeeds.length ? `seeds ${seedList(p.wholeSeeds)}` : '', p.partSeeds.length ? `part of seed${p.partSeeds.length > 1 ? 's' : ''} ${seedList(p.partSeeds)}` : '']
    .filter(Boolean)
    .join(', ');
  const fits = p.gpuSeconds <= window ? 'fits' : 'does NOT fit';
  const here = p.hereSeconds !== undefined ? `; here ${formatDuration(p.hereSeconds)}` : '';
  return `  ${p.label}: ${which}${seeds ? `, ${seeds}` : ''}: ${int(p.steps)} steps, GPU ${formatDuration(p.gpuSeconds)} (${fits} ${window / 60} minutes)${here}`;
}

const fieldName = { testAccuracy: 'test accuracy', finalTrainLoss: 'final train loss' } as const;
const fmtField = (field: PowerRow['field'], x: number) => (!Number.isFinite(x) ? 'n/a' : field === 'testAccuracy' ? `${(100 * x).toFixed(2)} pp` : `${x.toFixed(4)} nats`);

/** The plan as text (what `--plan` prints). */
export function formatPlan(plan: ExperimentPlan, options: { name?: string } = {}): string {
  const { spec } = plan;
  const L: string[] = [];
  const window = GPU_ASSUMPTION.windowSeconds;
  const nCells = plan.cells.length;
  L.push(`Plan: ${options.name ?? spec.name}: ${spec.arms.length} arm${spec.arms.length > 1 ? 's' : ''} x ${nCells} cell${nCells > 1 ? 's' : ''} x ${spec.seeds.length} seed${spec.seeds.length > 1 ? 's' : ''} = ${plan.runs.length} runs (nothing is trained or written)`);
  L.push('');
  L.push('Cost (step-equivalents: training steps of the run\'s own model and batch; a metric point = |G| + n_train/batch gradients; evaluation = a forward pass, 1/3 step, per batch of the training and test sets):');
  for (const { cost: c, runs } of plan.cells) {
    L.push(`  cell ${c.cell}: ${modelKind(c.model).brief(c.model)} (${(c.macsPerImage / 1e6).toPrecision(3)} M multiply-adds per image), ${c.trainImages} train / ${c.testImages} test images, batch ${c.batchSize}; ${runs} runs`);
    const diagnostic = c.diagnosticPointSteq ? ` (no-dropout arms: +${c.diagnosticPointSteq} per point for the dropout diagnostic)` : '';
    L.push(`    per run: ${int(c.steps)} steps, ${c.metricPoints} metric points x ${c.metricPointSteq.toFixed(1)} = ${int(c.metricSteq)}${diagnostic}, evaluation ${c.evalSteq.toFixed(1)}, ${c.checkpoints} checkpoint writes: ${int(c.totalSteq)} step-equivalents`);
  }
  L.push(`  all runs: ${int(plan.steps)} optimizer steps + ${int(plan.metricSteq)} for metrics + ${int(plan.evalSteq)} for evaluation = ${int(plan.totalSteq)} step-equivalents; ${int(plan.checkpoints)} checkpoint writes`);
  L.push('');

  if (plan.cells.some((c) => c.timing)) {
    L.push(`On this adapter${plan.adapter ? ` (${plan.adapter})` : ''}, measured:`);
    for (const { cost, timing: t } of plan.cells) {
      if (!t) continue;
      const metric = cost.metricPoints ? `, metric point ${seconds(t.secondsPerMetricPoint)} (${t.metricTimed ? 'timed' : 'extrapolated from the step time: too slow to time here'})` : '';
      const shared = t.timedOn !== cost.cell ? ` (timed on cell ${t.timedOn}, same model)` : '';
      L.push(`  cell ${cost.cell}: ${seconds(t.secondsPerStep)} per step (${t.stepsTimed} after a warm-up step)${shared}, ${seconds(t.secondsPerEvalImage)} per evaluated image, ${seconds(t.secondsPerCheckpoint)} per checkpoint${metric}`);
    }
    L.push(`  all runs: ${formatDuration(plan.hereSeconds ?? NaN)} (start-up and first-use pipeline compilation not included)`);
    L.push('');
  }

  const assumed = plan.msPerStep === GPU_ASSUMPTION.msPerStep ? 'the assumed' : 'a given';
  L.push(`On an H200-class GPU (${assumed} ${plan.msPerStep} ms per vit-xs step at batch 128, until a GPU run measures it; other models scaled by multiply-adds per step, never below it; checkpoint writes and start-up not included):`);
  for (const { cost: c } of plan.cells) {
    L.push(`  cell ${c.cell}: x${c.gpuFactor.toFixed(2)} -> ${(c.gpuFactor * plan.msPerStep).toPrecision(3)} ms per step, ${formatDuration(c.gpuSeconds)} per run, besides ${c.checkpoints} checkpoint writes of ${(c.checkpointBytes / 1e6).toPrecision(2)} MB`);
  }
  const fitsAll = plan.gpuSeconds <= window;
  L.push(`  all runs: ${formatDuration(plan.gpuSeconds)}${fitsAll ? ` (fits an ${window / 60}-minute window)` : ` (over an ${window / 60}-minute window${plan.parts.length ? `: run the ${plan.parts.length} parts below, --part 1 to --part ${plan.parts.length}, one per window, into the same folder` : ''})`}`);
  for (const p of plan.parts) L.push(shareLine(p, plan, window));
  if (plan.share) L.push(shareLine(plan.share, plan, window));
  for (const w of plan.workers) L.push(shareLine(w, plan, window));
  L.push('');

  L.push(`Minimum detectable effect (MDE) per comparison: paired t-test over ${spec.seeds.length} seeds, two-sided alpha ${spec.alpha ?? 0.05} per comparison, power 0.8:`);
  if (plan.power.length === 0) L.push('  (no comparison: the spec has no no-dropout baseline arm)');
  const sources = new Map<string, string>();
  const sourceTag = (source: string) => {
    if (!sources.has(source)) sources.set(source, `[${sources.size + 1}]`);
    return sources.get(source)!;
  };
  const paperSources = new Map<string, string>();
  for (const r of plan.power) {
    const margin = r.margin !== undefined ? `; margin ${fmtField(r.field, r.margin)}` : '';
    let paper = '';
    if (r.field === 'testAccuracy' && r.paperEffect) {
      paperSources.set(fmtField(r.field, r.paperEffect.testAccuracy), r.paperEffect.source);
      const effect = fmtField(r.field, r.paperEffect.testAccuracy);
      if (!Number.isFinite(r.sd.sd)) paper = `; paper's effect ${effect}: detectability unknown (no SD)`;
      else {
        const need = r.seedsForPaperEffect == null ? 'over 1000 seeds needed' : `${r.seedsForPaperEffect} seeds needed`;
        paper = `; paper's effect ${effect}: ${r.mde <= r.paperEffect.testAccuracy ? 'detectable' : 'NOT detectable at this seed count'} (${need})`;
      }
    }
    L.push(`  ${r.cell}: ${r.arm} vs ${r.comparator} (${r.role}), ${fieldName[r.field]}: SD ${fmtField(r.field, r.sd.sd)} ${sourceTag(r.sd.source)}, MDE ${fmtField(r.field, r.mde)}${margin}${paper}`);
  }
  if (sources.size) {
    L.push('  SD of the paired differences:');
    for (const [source, tag] of sources) L.push(`    ${tag} ${source}`);
  }
  if (paperSources.size) {
    L.push("  The paper's effects:");
    for (const [value, source] of paperSources) L.push(`    ${value}: ${source}`);
  }
  return L.join('\n') + '\n';
}

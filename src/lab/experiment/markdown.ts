/**
 * The words of the report: the findings of findings.ts as report.md sections (header, what ran,
 * results per cell, premise and baseline checks, the claims with their tests, method), and the
 * one-line claim summaries the lab page shows. Everything is described from the spec that ran and
 * the results, never from a preset's prose. Browser-safe.
 */
import type { ArmSpec } from './types.js';
import type { CellAnalysis, Claim, Comparison, ExperimentAnalysis, LrOutcome, Measure, WindowMeasure } from './findings.js';
import { SPAN_OF } from './findings.js';
import type { PlannedFigure } from './figures.js';
import { describeData, describeModel, formatBounds, formatDelta, formatInterval, formatLevel, formatMargin, formatNumber, formatP, isAccuracy, meanStd } from './format.js';
import { meanConfidenceInterval } from './stats.js';
import { metricSteps, resolveCells, stepsPerEpochOf, totalStepsOf, trainCountOf } from './spec.js';

export interface ReportOptions {
  /** The GPU adapter that produced the runs (printed in the header). */
  adapter: string;
  /** The reduced `--quick` variant of the preset. */
  quick?: boolean;
  /** Date printed in the header (default: today, YYYY-MM-DD). */
  date?: string;
}

export const MEASURE_LABEL: Record<Measure, string> = {
  finalTrainLoss: 'final training loss',
  testAccuracy: 'test accuracy',
  gdv: 'GDV',
  gde: 'GDE',
  bias2: 'bias²',
  variance: 'variance',
  gdvDropoutOn: 'GDV, dropout on',
  gdeDropoutOn: 'GDE, dropout on',
  gradNorm: 'gradient norm',
  distance: 'model distance',
};

const SPAN_LABEL = { final: 'after the last step', 'early-window': 'early window', 'whole-run': 'whole run (time average)' } as const;

function table(header: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

/** A spec number as written (epochs, rates): at most 4 significant digits, no float noise. */
function num(x: number): string {
  return String(+x.toPrecision(4));
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

function isQuick(a: ExperimentAnalysis, options: ReportOptions): boolean {
  return !!options.quick || a.spec.name.endsWith('-quick');
}

// ---------------------------------------------------------------------------------------------
// Comparisons in words
// ---------------------------------------------------------------------------------------------

/** "early-linear − none", "none: dropout on (p = 0.1) − off", with twins: "standard (= early-constant) − none". */
export function comparisonLabel(c: Comparison): string {
  if (c.kind === 'dropout-on-vs-off') return `${c.arm}: dropout on${c.diagnosticRate !== undefined ? ` (p = ${c.diagnosticRate})` : ''} − off`;
  const twins = c.sameAs.length ? ` (= ${c.sameAs.join(', ')}: identical values in every seed)` : '';
  return `${c.arm}${twins} − ${c.comparator}`;
}

const VERDICT_WORDS: Record<Comparison['verdict']['verdict'], string> = {
  reproduced: '**reproduced**',
  contradicted: '**contradicted**',
  'no effect beyond the margin': '**no effect beyond the margin**',
  inconclusive: 'inconclusive',
  'not measurable': 'not measurable',
};

function verdictCell(c: Comparison): string {
  if (c.role === 'reference') return `reference, not judged (raw: ${c.verdict.verdict})`;
  const small = c.verdict.smallerThanMargin ? ' (smaller than the margin)' : '';
  return `${VERDICT_WORDS[c.verdict.verdict]}${small}`;
}

function unsignedDelta(m: Measure, x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return isAccuracy(m) ? `${(100 * x).toFixed(2)} pp` : formatNumber(x, 3);
}

/** One sentence per comparison (markdown), as the lab page lists them. */
export function comparisonSentence(c: Comparison, alpha: number): string {
  const label = comparisonLabel(c);
  if (c.verdict.verdict === 'not measurable') return `Cell ${c.cell}, ${label}, ${MEASURE_LABEL[c.measure]}: not measurable — ${c.verdict.reason}.`;
  const t = c.test;
  const word = c.expected === 'decrease' ? 'lower' : 'higher';
  const ps = c.role === 'judged' ? `p = ${formatP(t.pDifference)}, Holm ${formatP(c.pAdjusted)}` : `p = ${formatP(t.pDifference)}`;
  const numbers = `Δ ${MEASURE_LABEL[c.measure]} ${formatDelta(c.measure, t.mean)} ${formatInterval(c.measure, t)} (${plural(t.n, 'paired seed')}; ${t.improved}/${t.n} ${word}; ${ps})`;
  const why = c.verdict.verdict === 'inconclusive' ? ` — ${c.verdict.reason}` : '';
  return `Cell ${c.cell}, ${label}: ${numbers}: ${verdictCell(c)}${why}.`;
}

/** The claim's outcome in a few words (used after the claim's statement). */
export function claimSummary(c: Claim): string {
  const judged = c.comparisons.filter((x) => x.role === 'judged');
  switch (c.status) {
    case 'not tested':
      return `not tested by this experiment (${c.notTested ?? 'nothing to compare'})`;
    case 'not measurable':
      return `not measurable here: ${judged[0]?.verdict.reason ?? 'no measurement in the window'}`;
    case 'mixed': {
      const count = (v: string) => judged.filter((x) => x.verdict.verdict === v).length;
      const parts = (['reproduced', 'contradicted', 'no effect beyond the margin', 'inconclusive', 'not measurable'] as const)
        .filter((v) => count(v) > 0)
        .map((v) => `${count(v)} ${v}`);
      return `mixed — of ${judged.length} judged comparisons: ${parts.join(', ')}`;
    }
    default: {
      const n = judged.length;
      return n === 1 ? c.status : `${c.status} in ${n === 2 ? 'both' : `all ${n}`} judged comparisons`;
    }
  }
}

function premiseNote(a: ExperimentAnalysis, cell: string): string {
  const p = a.premises.find((x) => x.cell === cell);
  if (!p) return '';
  if (p.status === 'holds') return `premise holds: the regime test on these seeds finds the cell ${p.needed}`;
  if (p.status === 'not checked') return 'premise not checked here (no standard arm)';
  return `premise NOT established: the regime test on these seeds says ${p.regime!.regime}, the claim is about ${p.needed} models`;
}

/** The sentences behind a claim (markdown): one per comparison, plus premise notes. */
export function claimLines(c: Claim, a: ExperimentAnalysis): string[] {
  const lines = c.comparisons.map((x) => comparisonSentence(x, a.alpha));
  if (c.id === 'early-underfitting' || c.id === 'late-overfitting') {
    for (const cell of new Set(c.comparisons.map((x) => x.cell))) {
      const note = premiseNote(a, cell);
      if (note) lines.push(`Cell ${cell}: ${note}.`);
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

function headerSection(a: ExperimentAnalysis, options: ReportOptions): string[] {
  const spec = a.spec;
  const quick = isQuick(a, options);
  const date = options.date ?? new Date().toISOString().slice(0, 10);
  const cellCount = Math.max(1, spec.cells?.length || a.cells.length);
  const adapters = [...new Set(a.runs.map((r) => r.adapter))].filter((x) => x && x !== options.adapter);
  const out = [`# Experiment report: ${spec.name}`, ''];
  if (quick) {
    // Never a preset's prose above a shrunk run: its sizes, |G| and schedule are not what ran.
    const preset = spec.name.replace(/-quick$/, '');
    out.push(`The \`--quick\` variant of preset \`${preset}\`: its cells, arms, modes, rates and shapes, shrunk to run in minutes on a software adapter. "What ran" below gives the sizes that actually ran. A smoke test of the pipeline, not evidence about the paper.`, '');
  } else if (spec.description) {
    out.push(spec.description, '');
  }
  const runsLine = `${a.runs.length} of ${a.expectedRuns} expected (${plural(cellCount, 'cell')} × ${plural(spec.arms.length, 'arm')} × ${plural(spec.seeds.length, 'seed')})`;
  const rows = [
    ['Date', date],
    ['Adapter', options.adapter + (adapters.length ? ` (runs also report: ${adapters.join(', ')})` : '')],
    ['Variant', quick ? 'quick (reduced sizes, for a software adapter)' : 'full preset'],
    ['Runs', runsLine],
  ];
  const totalSeconds = a.runs.reduce((s, r) => s + (r.seconds || 0), 0);
  if (totalSeconds > 0) rows.push(['Training time', `${formatNumber(totalSeconds / 60, 3)} min summed over runs`]);
  out.push(table(['', ''], rows), '');
  if (a.missingRuns.length > 0) {
    const shown = a.missingRuns.slice(0, 20).join(', ');
    out.push(`**Incomplete:** ${plural(a.missingRuns.length, 'run')} missing (${shown}${a.missingRuns.length > 20 ? ', …' : ''}). Comparisons use the seeds present in both arms.`, '');
  }
  if (a.ignoredOtherExperiments > 0) out.push(`${a.ignoredOtherExperiments} result line(s) of other experiments were ignored.`, '');
  if (a.duplicatesDropped > 0) out.push(`${a.duplicatesDropped} duplicate result line(s) were dropped (the last line of a run wins).`, '');
  return out;
}

function describeArm(a: ArmSpec, specLr: number): string[] {
  const cutoff = (a.mode === 'early' || a.mode === 'late') && a.cutoffEpochs !== undefined ? num(a.cutoffEpochs) : '—';
  return [
    a.name,
    a.mode === 'none' ? '—' : a.regularizer,
    a.mode,
    a.mode === 'none' ? '—' : String(a.p ?? 0),
    a.mode === 'early' ? (a.shape ?? 'constant') : a.mode === 'none' ? '—' : 'constant',
    cutoff,
    num(a.lr ?? specLr),
  ];
}

function listSteps(steps: number[]): string {
  return steps.length <= 14 ? steps.join(', ') : `${steps.slice(0, 8).join(', ')}, …, ${steps.slice(-3).join(', ')}`;
}

/** What ran, from the spec object alone (sizes, steps, |G|, schedule). */
function setupSection(a: ExperimentAnalysis): string[] {
  const s = a.spec;
  const cells = resolveCells(s);
  const aug = s.augment && (s.augment.shift || s.augment.flip) ? [s.augment.shift ? `random shift ±${s.augment.shift} px` : '', s.augment.flip ? 'horizontal flip' : ''].filter(Boolean).join(', ') : 'none';
  const stepsOf = cells.map((c) => `${totalStepsOf(s, c)} steps (${stepsPerEpochOf(s, c)} per epoch${cells.length > 1 ? `, cell ${c.name}` : ''})`);
  const lines = ['## What ran', ''];
  if (!s.cells?.length) {
    lines.push(`- Model: ${describeModel(s.model)}`, `- Data: ${describeData(s.data)}`);
  } else {
    lines.push(`- Cells (model and data per cell): see the table below`);
  }
  lines.push(
    `- Training: ${s.epochs} epochs = ${stepsOf.join('; ')}, batch ${s.batchSize}, AdamW lr ${s.lr}${s.minLr !== undefined ? ` (cosine to ${s.minLr})` : ''}, weight decay ${s.weightDecay}, warmup ${num(s.warmupEpochs)} epoch${s.warmupEpochs === 1 ? '' : 's'}, label smoothing ${s.labelSmoothing}, augmentation: ${aug}`,
    `- Seeds: ${s.seeds.join(', ')} (paired: a seed gives the same initial weights and data order in every arm)${s.selection?.seeds?.length ? `; the seeds that selected the cells (${s.selection.seeds.join(', ')}) are not among them (Method, Selection)` : ''}`,
  );
  if (s.metrics) {
    const m = s.metrics;
    const per = cells.map((c) => {
      const steps = metricSteps(m, totalStepsOf(s, c));
      return `${plural(steps.length, 'point')} per run at steps ${listSteps(steps)}${cells.length > 1 ? ` (cell ${c.name})` : ''}`;
    });
    const g = m.numBatches ?? 16;
    const directions =
      m.directions === false
        ? 'gradient norm and distance only'
        : `GDV/GDE over |G| = ${g} disjoint mini-batches of ${s.batchSize} (${g * s.batchSize} of ${cells.map((c) => trainCountOf(c.data)).join(' / ')} training images) against ĝ over the whole training set`;
    lines.push(`- Analysis metrics: ${per.join('; ')}; ${directions}`);
    if (m.dropoutDiagnostic) lines.push(`- Dropout on/off diagnostic: at every point of the no-dropout arm, GDV and GDE of the same weights also with dropout on at p = ${m.dropoutDiagnostic.p} (same batches, same ĝ)`);
  }
  lines.push('', '### Arms', '', table(['arm', 'regulariser', 'mode', 'p', 'shape', 'cutoff (epochs)', 'peak lr'], s.arms.map((x) => describeArm(x, s.lr))), '');
  if (s.cells && s.cells.length > 0) {
    lines.push('### Cells', '', table(['cell', 'model', 'data'], a.cells.map((c) => [c.name, describeModel(c.model), describeData(c.data)])), '');
  }
  return lines;
}

const WINDOW_COLUMNS: WindowMeasure[] = ['gdv', 'gde', 'bias2', 'variance', 'gradNorm', 'distance'];

function cellSection(a: ExperimentAnalysis, cell: CellAnalysis, figures: PlannedFigure[]): string[] {
  const out: string[] = [];
  const level = formatLevel(1 - a.alpha);
  if (a.cells.length > 1 || a.spec.cells?.length) out.push(`### Cell ${cell.name}`, '', `${describeModel(cell.model)}; ${describeData(cell.data)}.`, '');
  const base = cell.baseline ?? 'none';
  const rows = cell.arms.map((x) => {
    const v = x.vsBaseline;
    const isBase = x.arm.name === cell.baseline;
    const delta = (m: 'finalTrainLoss' | 'testAccuracy') => {
      const c = v?.[m];
      if (isBase) return 'baseline';
      if (!c) return '—';
      if (c.n === 0) return 'no paired seeds';
      return `${formatDelta(m, c.mean)} ${formatBounds(m, c)}`;
    };
    return [
      x.arm.name,
      String(x.runs.length),
      meanStd('finalTrainLoss', x.finalTrainLoss),
      meanStd('testAccuracy', x.testAccuracy),
      delta('finalTrainLoss'),
      delta('testAccuracy'),
      isBase || !v ? '—' : `${v.finalTrainLoss.improved}/${v.finalTrainLoss.n}`,
      isBase || !v ? '—' : `${v.testAccuracy.improved}/${v.testAccuracy.n}`,
    ];
  });
  out.push(
    table(['arm', 'seeds', 'final train loss (mean ± std)', 'test acc (mean ± std)', `Δ train loss vs ${base} (mean [${level} CI])`, `Δ test acc vs ${base} (mean [${level} CI])`, 'seeds with lower loss', 'seeds with higher acc'], rows),
    '',
  );
  if (!cell.baseline) out.push('This experiment has no no-dropout arm, so there are no paired differences.', '');
  const measured = WINDOW_COLUMNS.filter((k) => cell.arms.some((x) => x.window[k]));
  if (measured.length > 0) {
    const spans = [...new Set(measured.map((k) => SPAN_OF[k]))];
    const spanText = spans.map((sp) => (sp === 'early-window' ? `GDV, GDE, bias², variance: the mean over the early window (${cell.window?.source ?? 'none'})` : 'gradient norm and distance: the time average over the whole run')).join('; ');
    const identity = measured.includes('bias2') ? ' bias² = 2·GDE − variance = ‖mean u − ĝ/‖ĝ‖‖², so bias² + variance = 2·GDE.' : '';
    out.push(`Analysis metrics per arm, mean ± std over seeds of each run's summary (${spanText}).${identity}`, '');
    const mrows = cell.arms
      .filter((x) => x.runs.length > 0)
      .map((x) => [
        x.arm.name,
        ...measured.map((k) => {
          const m = x.window[k];
          if (!m) return '—';
          const ci = meanConfidenceInterval([...m.values()]);
          return ci.n < 2 ? formatNumber(ci.mean, 4) : `${formatNumber(ci.mean, 4)} ± ${formatNumber(ci.std, 2)}`;
        }),
      ]);
    out.push(table(['arm', ...measured.map((k) => MEASURE_LABEL[k])], mrows), '');
  }
  for (const f of figures) out.push(`![${f.alt}](${f.file})`, '');
  return out;
}

function regimeRow(c: CellAnalysis): string[] {
  const r = c.regime!;
  return [
    c.name,
    `${formatDelta('testAccuracy', r.dTestAcc.mean)} ${formatBounds('testAccuracy', r.dTestAcc)}`,
    formatP(r.dTestAcc.pDifference),
    `${formatDelta('finalTrainLoss', r.dTrainLoss.mean)} ${formatBounds('finalTrainLoss', r.dTrainLoss)}`,
    formatP(r.dTrainLoss.pDifference),
    `${r.dTestAcc.improved}/${r.dTestAcc.n}`,
    r.regime,
  ];
}

const REGIME_HEADER = (level: string) => ['cell', `Δ test acc, standard − none (${level} CI)`, 'p', `Δ final train loss, standard − none (${level} CI)`, 'p', 'seeds where standard has higher acc', 'regime'];

const LR_WORDS: Record<LrOutcome, string> = {
  'baseline within margin': 'baseline within the margin (or better)',
  'baseline mistuned': 'this lr is better beyond the margin',
  unclear: 'unclear',
};

/** Premise (regime) and baseline learning-rate checks: shown before the claims, not findings. */
function checksSection(a: ExperimentAnalysis, regimeFig: PlannedFigure | undefined): string[] {
  const out: string[] = [];
  const level = formatLevel(1 - a.alpha);
  const regimeCells = a.cells.filter((c) => c.regime);
  if (a.intent) {
    out.push('## Premise check', '');
    out.push(
      `The claims of this experiment are about ${a.intent} models. "Standard dropout hurts underfitting models" is the paper's regime test, so it is the premise here, not a finding: standard − none on this experiment's own seeds, unadjusted ${level} CIs and raw p-values. Underfitting: standard dropout lowers test accuracy and raises the final training loss (both CIs exclude 0); overfitting: it raises test accuracy.`,
      '',
    );
    if (regimeCells.length) out.push(table(REGIME_HEADER(level), regimeCells.map(regimeRow)), '');
    for (const p of a.premises) {
      const words = p.status === 'holds' ? `holds (${p.needed})` : p.status === 'not checked' ? 'not checked (no standard arm)' : `NOT established: the regime test says ${p.regime!.regime} — ${p.regime!.reason}`;
      out.push(`- Cell ${p.cell}: premise ${words}.`);
    }
    if (a.premises.length) out.push('');
  } else if (regimeCells.length) {
    out.push('## Regime test per cell', '');
    out.push(`This experiment locates regimes; it does not judge a claim. Standard − none, unadjusted ${level} CIs and raw p-values.`, '');
    out.push(table(REGIME_HEADER(level), regimeCells.map(regimeRow)), '');
    if (regimeFig) out.push(`![${regimeFig.alt}](${regimeFig.file})`, '');
  }
  if (a.lrChecks.length) {
    out.push('## Baseline learning-rate check', '');
    out.push(
      `The no-dropout arm at other peak learning rates, paired with the baseline (lr ${a.spec.lr}). A row says "baseline within the margin" when the one-sided ${formatLevel(1 - a.alpha)} bound of the other lr's advantage is below the margin, and "better beyond the margin" when its one-sided lower bound exceeds the margin. So an effect of dropout is not an artefact of a mistuned baseline.`,
      '',
    );
    const rows: string[][] = [];
    for (const c of a.lrChecks) {
      for (const x of c.arms) {
        rows.push([
          c.cell,
          `${x.arm} (lr ${x.lr})`,
          `${formatDelta('finalTrainLoss', x.finalTrainLoss.test.mean)} ${formatBounds('finalTrainLoss', x.finalTrainLoss.test)}`,
          LR_WORDS[x.finalTrainLoss.outcome],
          `${formatDelta('testAccuracy', x.testAccuracy.test.mean)} ${formatBounds('testAccuracy', x.testAccuracy.test)}`,
          LR_WORDS[x.testAccuracy.outcome],
        ]);
      }
    }
    out.push(table(['cell', 'arm', `Δ final train loss vs baseline (${level} CI)`, 'loss check', `Δ test acc vs baseline (${level} CI)`, 'accuracy check'], rows), '');
    for (const c of a.lrChecks) out.push(`- Cell ${c.cell}: baseline lr ${c.baselineLr} ${c.status === 'ok' ? 'is within the margin of every other lr tried (or better)' : c.status === 'mistuned' ? '**is beaten beyond the margin by another lr**: effects against this baseline may be artefacts of its learning rate' : 'cannot be shown to be within the margin of the other lrs tried (too few seeds or too much spread)'}.`);
    out.push('');
  } else if (a.intent) {
    out.push(
      `Baseline learning rate: this experiment has no LR-check arms${a.spec.selection?.preset ? `; the baseline lr is checked in preset \`${a.spec.selection.preset}\`` : ''}.`,
      '',
    );
  }
  return out;
}

function comparisonRow(c: Comparison, withCell: boolean, withMargin: boolean): string[] {
  const t = c.test;
  const word = c.expected === 'decrease' ? 'lower' : 'higher';
  const measure = `${MEASURE_LABEL[c.measure]} (${SPAN_LABEL[c.span]})`;
  const row = [
    ...(withCell ? [c.cell] : []),
    comparisonLabel(c),
    measure,
    c.verdict.verdict === 'not measurable' ? '—' : `${formatDelta(c.measure, t.mean)} ${formatBounds(c.measure, t)}`,
    c.verdict.verdict === 'not measurable' ? '—' : `${t.improved}/${t.n} ${word}`,
    formatP(t.pDifference),
    c.role === 'judged' ? formatP(c.pAdjusted) : '—',
  ];
  if (withMargin) {
    row.push(c.margin ? formatMargin(c.measure, c.margin.value) : '—');
    row.push(t.equivalence ? `${formatP(t.equivalence.p)} / ${c.role === 'judged' ? formatP(c.pEquivalenceAdjusted) : '—'}` : '—');
  }
  row.push(c.verdict.verdict === 'not measurable' ? '—' : `${unsignedDelta(c.measure, c.mde)}`, verdictCell(c));
  return row;
}

function claimsSection(a: ExperimentAnalysis): string[] {
  const level = formatLevel(1 - a.alpha);
  const out = ['## What reproduced', ''];
  out.push(
    `Each claim of the paper (docs/paper.md), judged only from this experiment's numbers by the rules of the Method section. Per comparison (arm − comparator, paired by seed): **reproduced** when the difference test rejects after Holm's correction with the mean on the paper's side (unadjusted, that is the ${level} CI lying entirely on that side); **contradicted** when it rejects on the other side; **no effect beyond the margin** when it does not reject and the equivalence test (TOST) shows the difference lies inside the pre-registered margin; **inconclusive** otherwise. A null result is a result. Holm family: ${plural(a.family.size, 'judged comparison')}${a.family.equivalenceSize ? ` (${a.family.equivalenceSize} with an equivalence test)` : ''}.`,
    '',
  );
  const multiCell = a.cells.length > 1;
  a.claims.forEach((c, i) => {
    out.push(`${i + 1}. *${c.statement}* — ${claimSummary(c)}.`);
    if (c.comparisons.length === 0) return;
    out.push('');
    const withMargin = c.comparisons.some((x) => x.margin);
    const header = [
      ...(multiCell ? ['cell'] : []),
      'comparison',
      'measure',
      `Δ mean [${level} CI]`,
      'seeds',
      'p',
      'p (Holm)',
      ...(withMargin ? ['margin', 'TOST p / Holm'] : []),
      'MDE',
      'verdict',
    ];
    const rows = c.comparisons.map((x) => comparisonRow(x, multiCell, withMargin));
    out.push(table(header, rows).split('\n').map((l) => `   ${l}`).join('\n'));
    const notes: string[] = [];
    // Not-measurable reasons, unless the claim's summary already gives the (one) reason.
    if (c.status !== 'not measurable') for (const x of c.comparisons) if (x.verdict.verdict === 'not measurable') notes.push(`${comparisonLabel(x)}: ${x.verdict.reason}.`);
    if (c.id === 'early-underfitting' || c.id === 'late-overfitting') {
      for (const cell of new Set(c.comparisons.map((x) => x.cell))) {
        const note = premiseNote(a, cell);
        if (note) notes.push(`Cell ${cell}: ${note}.`);
      }
    }
    if (c.id === 'late-overfitting' && c.comparisons.some((x) => x.role === 'reference')) notes.push('Late against no dropout is shown for reference: in a cell found overfitting, beating no dropout is nearly implied by the premise; the paper compares with standard dropout.');
    if (notes.length) out.push('', ...[...new Set(notes)].map((n) => `   ${n}`));
    out.push('');
  });
  out.push('');
  return out;
}

function selectionLine(a: ExperimentAnalysis): string {
  const sel = a.spec.selection;
  if (!sel) return '- Selection: the spec does not say how its cells were chosen.';
  const by = sel.preset ? ` Selected by preset \`${sel.preset}\`${sel.seeds?.length ? ` on seeds ${sel.seeds.join(', ')}` : ''}; those seeds are not reused here.` : '';
  return `- Selection: ${sel.note}${by}`;
}

function methodSection(a: ExperimentAnalysis): string[] {
  const level = formatLevel(1 - a.alpha);
  const s = a.spec;
  const margins = s.margins
    ? [
        `  - final training loss: ${formatMargin('finalTrainLoss', s.margins.finalTrainLoss.value)} nats — ${s.margins.finalTrainLoss.reason}`,
        `  - test accuracy: ${formatMargin('testAccuracy', s.margins.testAccuracy.value)} — ${s.margins.testAccuracy.reason}`,
      ]
    : ['  - none were set for this experiment, so no null can be stated: a non-significant difference is inconclusive.'];
  return [
    '## Method',
    '',
    '- Final training loss: plain cross entropy in eval mode over the whole training set after the last step; test accuracy over the whole test split.',
    `- Paired differences: for each seed, arm minus comparator in the same cell (same initial weights and data order); seeds missing from either arm are left out. The ${level} CI of the mean difference is mean ± t(1 − α/2, n − 1)·s/√n (α = ${a.alpha}).`,
    `- Difference test: two-sided paired t-test (H0: mean difference 0). Equivalence test: TOST (two one-sided t-tests of H0: difference ≤ −margin and ≥ +margin, each at α = ${a.alpha}; equivalently the ${formatLevel(1 - 2 * a.alpha)} CI inside ±margin), only for measures with a pre-registered margin.`,
    '- Pre-registered equivalence margins (fixed in the preset before any run):',
    ...margins,
    `- Multiplicity: Holm's step-down correction over the judged comparisons of this report (${a.family.size}: every comparison in the claims' tables not marked "reference"; premise, baseline and reference comparisons are not findings and are not in the family). The difference p-values form one family and the equivalence p-values another; the verdict uses the adjusted p-values. Tables give raw and adjusted p.`,
    '- Verdict, in this order: reproduced / contradicted if the adjusted difference p < α (by the side of the mean; flagged when the effect is also inside the margin by TOST); else no effect beyond the margin if the adjusted TOST p < α; else inconclusive. Fewer than 2 paired seeds, or a diverged run, is inconclusive.',
    `- MDE: the true mean difference the difference test detects with 80% power at the run's number of paired seeds and the observed SD of the differences, (t(1 − a/2, n − 1) + t(0.8, n − 1))·s/√n, at level a = α/k for judged comparisons (k = ${a.family.size}, Holm's first step, a conservative figure) and a = α otherwise.`,
    '- Which comparisons are judged: early arms against no dropout (final training loss and test accuracy); late arms against standard dropout of the same regulariser (test accuracy; against no dropout shown for reference); dropout arms (standard, early) against no dropout on GDV and GDE over the early window and on gradient norm (lower) and model distance (higher) over the whole run; and, where measured, GDV and GDE of the no-dropout run\'s own weights with dropout on against off.',
    '- Early window: metric points with 0 < step < the smallest early-dropout cutoff (else the dense-logging span, else the first sixth of training); a run contributes the mean of its points there. Step 0 is left out: every arm starts from the same weights, so it measures nothing about dropout; a window with no other point is "not measurable". Whole run: the time average of the run\'s points (trapezoids over steps).',
    '- Arms whose values equal another arm\'s in every seed (e.g. standard and constant early dropout before the cutoff) are the same measurement: they are one comparison, not two.',
    '- GDV is the mean over pairs of 1 − cos of the |G| mini-batch gradients (the paper\'s definition, unbiased); with the unit directions u_i, their mean ū and the unit whole-set gradient ĝ: variance = 1 − ‖ū‖², bias² = ‖ū − ĝ‖², and 2·GDE = bias² + variance exactly; the measurement batches of one point are disjoint.',
    '- Premise check: the regime test (standard − none) on this experiment\'s own seeds, unadjusted: underfitting when the CI of Δ test accuracy lies below 0 and that of Δ final training loss above 0; overfitting when the CI of Δ test accuracy lies above 0; unclear otherwise. Seeds that selected a cell in another experiment are never reused to confirm it (the spec validation refuses them).',
    selectionLine(a),
    '- Nothing was tuned to make a claim pass; null and inverted results are reported as they are. The paper, its definitions and its numbers: docs/paper.md.',
    '',
  ];
}

/** The whole report.md text, given the planned figures. */
export function reportMarkdown(a: ExperimentAnalysis, options: ReportOptions, figures: Map<string, PlannedFigure[]>, regimeFig: PlannedFigure | undefined): string {
  const lines = [...headerSection(a, options), ...setupSection(a), '## Results', ''];
  for (const cell of a.cells) lines.push(...cellSection(a, cell, figures.get(cell.name) ?? []));
  if (a.cells.length === 0) lines.push('No finished runs yet.', '');
  lines.push(...checksSection(a, regimeFig), ...claimsSection(a), ...methodSection(a));
  return `${lines.join('\n').trimEnd()}\n`;
}

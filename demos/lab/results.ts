/**
 * The results on the lab page: the headless report's analysis (analyzeExperiment in
 * src/lab/experiment/report.ts: mean ± std over seeds, paired differences to the no-dropout mode
 * with 95% confidence intervals, seeds that improved, the regime test, the claim verdicts) laid out
 * as HTML tables that fit their box: intervals go under their estimate, and on a phone each row
 * becomes a card of label / value lines (style.css, table.stack). Only the layout is here; every
 * number comes from the report module.
 */
import { analyzeExperiment, type ArmAnalysis, type CellAnalysis, type ExperimentAnalysis, type Measure } from '../../src/lab/experiment/report.js';
import { formatBounds, formatDelta, formatLevel, formatP, meanStd } from '../../src/lab/experiment/format.js';
import { meanConfidenceInterval, type PairedComparison } from '../../src/lab/experiment/stats.js';
import type { ExperimentSpec, RunResult } from '../../src/lab/experiment/types.js';
import { h } from '../common/dom.js';
import { claimsList, paperSide } from './claims.js';

/** Where the experiment stands, for the sentence above the tables. */
export type ResultsPhase = 'running' | 'stopped' | 'done';

/** The paired difference, with its confidence interval on a line of its own. */
function delta(m: Measure, c: PairedComparison | undefined): (Node | string)[] {
  if (!c) return ['—'];
  if (c.n === 0) return ['no paired seeds'];
  return [formatDelta(m, c.mean), ' ', h('span', { class: 'ci' }, formatBounds(m, c))];
}

/** A table whose cells carry their column's label (the phone layout prints it beside the value). */
function stackTable(className: string, head: string[], rows: { attrs?: Record<string, string>; cells: (Node | string)[][] }[]): HTMLElement {
  const table = h('table', { class: `${className} stack` }, h('thead', {}, h('tr', {}, ...head.map((t, i) => h('th', i === 0 ? {} : { class: 'num' }, t)))));
  const body = h('tbody');
  for (const r of rows) {
    body.append(h('tr', r.attrs ?? {}, ...r.cells.map((content, i) => h('td', { ...(i === 0 ? { class: 'name' } : { class: 'num' }), 'data-label': head[i] }, ...content))));
  }
  table.append(body);
  return h('div', { class: 'table-wrap' }, table);
}

function armRow(cell: CellAnalysis, x: ArmAnalysis): { attrs: Record<string, string>; cells: (Node | string)[][] } {
  const isBase = x.arm.name === cell.baseline;
  const v = x.vsBaseline;
  return {
    attrs: { 'data-arm': x.arm.name },
    cells: [
      [x.arm.name],
      [String(x.runs.length)],
      [meanStd('finalTrainLoss', x.finalTrainLoss)],
      [meanStd('testAccuracy', x.testAccuracy)],
      isBase ? ['baseline'] : delta('finalTrainLoss', v?.finalTrainLoss),
      isBase ? ['baseline'] : delta('testAccuracy', v?.testAccuracy),
      [isBase || !v ? '—' : `${v.finalTrainLoss.improved}/${v.finalTrainLoss.n}`],
      [isBase || !v ? '—' : `${v.testAccuracy.improved}/${v.testAccuracy.n}`],
    ],
  };
}

const WINDOW_LABELS = { gdv: 'GDV', gde: 'GDE', bias2: 'bias²', variance: 'variance', gdvDropoutOn: 'GDV, dropout on', gdeDropoutOn: 'GDE, dropout on', gradNorm: 'gradient norm', distance: 'distance' } as const;

function cellBlock(a: ExperimentAnalysis, cell: CellAnalysis): HTMLElement {
  const block = h('div', { 'data-cell': cell.name });
  if (a.cells.length > 1 || a.spec.cells?.length) block.append(h('h3', {}, `Cell ${cell.name}`));
  const base = cell.baseline ?? 'none';
  const level = formatLevel(1 - a.alpha);
  const head = ['mode', 'seeds', 'final train loss (mean ± std)', 'test accuracy (mean ± std)', `Δ train loss vs ${base} [${level} CI]`, `Δ test acc vs ${base} [${level} CI]`, 'seeds with lower loss', 'seeds with higher acc'];
  block.append(
    stackTable(
      'results',
      head,
      cell.arms.map((x) => armRow(cell, x)),
    ),
  );
  if (!cell.baseline) block.append(h('p', { class: 'small muted' }, 'No mode is “none”, so there are no paired differences.'));
  const premise = a.premises.find((p) => p.cell === cell.name);
  if (premise) block.append(premiseBlock(premise, base));
  else if (cell.regime) {
    const r = cell.regime;
    block.append(h('p', { class: 'small' }, h('strong', {}, 'Regime test '), `(${r.arm} − ${base}): `, h('strong', {}, r.regime), ` — ${r.reason}.`));
  }
  const lr = a.lrChecks.find((c) => c.cell === cell.name);
  if (lr) block.append(lrBlock(lr));
  const keys = (Object.keys(WINDOW_LABELS) as (keyof typeof WINDOW_LABELS)[]).filter((k) => cell.arms.some((x) => x.window[k]));
  if (cell.window && keys.length > 0) {
    block.append(h('p', { class: 'small muted' }, `Analysis metrics per run, then mean ± std over seeds: GDV, GDE, bias², variance over the early window (${cell.window.source}); gradient norm and distance averaged over the whole run.`));
    const rows = cell.arms
      .filter((x) => x.runs.length > 0)
      .map((x) => ({
        cells: [
          [x.arm.name],
          ...keys.map((k) => {
            const vals = [...(x.window[k]?.values() ?? [])];
            return [vals.length ? meanStd(k, meanConfidenceInterval(vals)) : '—'];
          }),
        ],
      }));
    block.append(stackTable('window', ['mode', ...keys.map((k) => WINDOW_LABELS[k])], rows));
  }
  return block;
}

/** The regime premise of the cell, checked on this experiment's own seeds, beside the paper's numbers. */
function premiseBlock(p: ExperimentAnalysis['premises'][number], base: string): HTMLElement {
  const words = { holds: 'holds', 'not established': 'NOT established', 'not checked': 'not checked (no standard arm)' }[p.status];
  const box = h('div', { class: 'premise small', 'data-premise': p.status });
  const line = h('p', { style: 'margin:.4rem 0 .2rem' }, h('strong', {}, 'Premise check '), `(a check, not a finding): the claims here are about ${p.needed} models; on these seeds the premise `, h('strong', {}, words));
  if (p.regime) {
    const r = p.regime;
    line.append(
      ` — regime test ${r.arm} − ${base}: Δ test acc ${formatDelta('testAccuracy', r.dTestAcc.mean)} ${formatBounds('testAccuracy', r.dTestAcc)} (p = ${formatP(r.dTestAcc.pDifference)}), Δ train loss ${formatDelta('finalTrainLoss', r.dTrainLoss.mean)} ${formatBounds('finalTrainLoss', r.dTrainLoss)} (p = ${formatP(r.dTrainLoss.pDifference)}): ${r.regime}, ${r.reason}.`,
    );
  } else line.append('.');
  box.append(line, paperSide('premise'));
  return box;
}

/** The baseline learning-rate check: is the no-dropout arm's LR within the margin of the best one tried. */
function lrBlock(c: ExperimentAnalysis['lrChecks'][number]): HTMLElement {
  const words = { ok: 'the baseline learning rate is within the margin of the others tried', mistuned: 'the baseline looks MISTUNED: another learning rate does better beyond the margin', unclear: 'unclear with these seeds' }[c.status];
  const arms = c.arms.map((x) => `lr ${x.lr}: Δ train loss ${formatDelta('finalTrainLoss', x.finalTrainLoss.test.mean)} (${x.finalTrainLoss.outcome}), Δ test acc ${formatDelta('testAccuracy', x.testAccuracy.test.mean)} (${x.testAccuracy.outcome})`);
  return h('p', { class: 'small', 'data-lr-check': c.status }, h('strong', {}, 'Baseline LR check '), `(baseline lr ${c.baselineLr}): ${words}${arms.length ? ` — ${arms.join('; ')}` : ''}.`);
}

function claimsBlock(a: ExperimentAnalysis): HTMLElement {
  return h(
    'div',
    {},
    h('h3', {}, 'What this run says about the paper’s claims'),
    h(
      'p',
      { class: 'small muted' },
      `Judged only from these numbers with the headless report’s rules, fixed in advance (npm run lab, docs/paper.md): reproduced when the ${formatLevel(1 - a.alpha)} CI of the mean paired difference lies on the paper’s side of 0, contradicted when it lies on the other side, no effect beyond the margin when the equivalence test (TOST) against the pre-registered margin passes, inconclusive otherwise; p-values are Holm-adjusted over the ${a.family.size} judged comparison${a.family.size === 1 ? '' : 's'}. Beside each claim: what the paper reports.`,
    ),
    claimsList(a),
  );
}

/** The sentence above the tables: how many runs finished, and what became of the others. */
function progressLine(a: ExperimentAnalysis, phase: ResultsPhase): string {
  const missing = a.missingRuns.length;
  const head = `${a.runs.length} of ${a.expectedRuns} runs finished`;
  if (!missing) return `${head}.`;
  const compared = 'comparisons use the seeds present in both modes';
  if (phase === 'stopped') return `${head}; the experiment was stopped, so ${missing} run${missing === 1 ? ' was' : 's were'} not trained (${compared}).`;
  return `${head}; ${missing} still to come (${compared}).`;
}

/** Replaces `target`'s content with the results so far; returns the analysis. */
export function renderResults(target: HTMLElement, spec: ExperimentSpec, results: readonly RunResult[], phase: ResultsPhase): ExperimentAnalysis {
  const a = analyzeExperiment(spec, results);
  const parts: Node[] = [h('p', { class: 'small muted', id: 'results-progress' }, progressLine(a, phase))];
  for (const cell of a.cells) parts.push(cellBlock(a, cell));
  if (a.cells.length === 0) parts.push(h('p', {}, 'No finished runs yet.'));
  else parts.push(claimsBlock(a));
  target.replaceChildren(...parts);
  return a;
}

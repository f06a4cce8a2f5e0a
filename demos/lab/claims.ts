/**
 * The paper's claims beside the evidence: for each claim the lab judges, the paper's reported
 * effect (paper.ts) and this run's verdict with its interval and tests (the report's findings:
 * src/lab/experiment/findings.ts through report.ts), as a box under the chart that shows the
 * evidence, and as the list in the results. Only the layout is here: every verdict and number
 * comes from the findings, written with the report's own formatters (format.ts).
 */
import type { ClaimReport, Comparison, ExperimentAnalysis, Measure } from '../../src/lab/experiment/report.js';
import { comparisonLabel, MEASURE_LABEL } from '../../src/lab/experiment/markdown.js';
import { formatBounds, formatDelta, formatLevel, formatMargin, formatNumber, formatP, isAccuracy } from '../../src/lab/experiment/format.js';
import { h } from '../common/dom.js';
import { PAPER, REPORTED, reportedRowText } from './paper.js';

/** Which chart carries the evidence of which claim, and the measures of it that chart shows. */
export const CLAIM_CHARTS: { claim: string; chart: string; measures?: Measure[] }[] = [
  { claim: 'early-underfitting', chart: 'diff-loss', measures: ['finalTrainLoss'] },
  { claim: 'early-underfitting', chart: 'diff-acc', measures: ['testAccuracy'] },
  { claim: 'late-overfitting', chart: 'diff-acc' },
  { claim: 'gdv-early', chart: 'gdv' },
  { claim: 'gde-early', chart: 'gde' },
  { claim: 'dropout-same-weights', chart: 'gdv', measures: ['gdvDropoutOn'] },
  { claim: 'dropout-same-weights', chart: 'gde', measures: ['gdeDropoutOn'] },
  { claim: 'grad-norm', chart: 'grad-norm' },
  { claim: 'distance', chart: 'distance' },
];

const cssClass = (verdict: string) => `verdict ${verdict.replace(/\s+/g, '-')}`;

/** The p-values, margin and MDE of a comparison, as the report's tables give them. */
function tests(c: Comparison): string {
  const t = c.test;
  const parts = [c.role === 'judged' ? `p = ${formatP(t.pDifference)} (Holm ${formatP(c.pAdjusted)})` : `p = ${formatP(t.pDifference)}`];
  if (c.margin) parts.push(`margin ${formatMargin(c.measure, c.margin.value)}${t.equivalence ? `, TOST p = ${formatP(c.role === 'judged' ? c.pEquivalenceAdjusted : t.equivalence.p)}` : ''}`);
  if (Number.isFinite(c.mde)) parts.push(`MDE ${isAccuracy(c.measure) ? `${(100 * c.mde).toFixed(2)} pp` : formatNumber(c.mde, 3)}`);
  return parts.join(', ');
}

/** "early − none, final training loss: Δ −0.012 [−0.020, −0.004] 95% CI, 5 seeds; p = … — reproduced". */
function comparisonItem(c: Comparison, multiCell: boolean): HTMLElement {
  const verdict = c.verdict.verdict;
  const li = h('li', { 'data-verdict': verdict, 'data-role': c.role, 'data-measure': c.measure });
  li.append(`${multiCell ? `${c.cell}: ` : ''}${comparisonLabel(c)}, ${MEASURE_LABEL[c.measure]}: `);
  if (verdict === 'not measurable') {
    li.append(h('span', { class: cssClass(verdict) }, 'not measurable'), ` — ${c.verdict.reason}`);
    return li;
  }
  const t = c.test;
  const bounds = formatBounds(c.measure, t);
  li.append(
    `Δ ${formatDelta(c.measure, t.mean)} ${bounds}${bounds.startsWith('[') ? ` ${formatLevel(t.level)} CI` : ''}, ${t.n} paired seed${t.n === 1 ? '' : 's'}; ${tests(c)} — `,
    c.role === 'judged' ? h('span', { class: cssClass(verdict) }, verdict) : h('span', { class: 'muted' }, `reference, not judged (${verdict})`),
  );
  if (verdict === 'inconclusive' && c.role === 'judged') li.append(h('span', { class: 'small muted' }, ` (${c.verdict.reason})`));
  return li;
}

/** The paper's side: the reported effect with its numbers and where they are. */
export function paperSide(id: string): HTMLElement {
  const r = REPORTED[id];
  const link = () => h('a', { href: PAPER.url, target: '_blank', rel: 'noopener' }, PAPER.short);
  const box = h('div', { class: 'claim-paper' });
  if (!r) {
    box.append(h('strong', {}, 'Paper: '), 'see ', link(), '.');
    return box;
  }
  box.append(h('strong', {}, 'Paper: '), r.summary);
  if (r.rows.length) box.append(' ', h('span', { class: 'reported' }, `${r.rows.map((row) => `${reportedRowText(row)}, ${row.comparison}`).join('; ')}.`));
  box.append(' ', h('span', { class: 'small muted' }, '(', link(), `; ${r.source})`));
  return box;
}

/** This run's side: the claim's status and the comparisons behind it (only those of `measures` when given). */
function runSide(c: ClaimReport, measures: Measure[] | undefined, multiCell: boolean): HTMLElement {
  const comparisons = c.comparisons.filter((x) => !measures || measures.includes(x.measure));
  const box = h('div', { class: 'claim-run' }, h('strong', {}, 'This run: '), h('span', { class: cssClass(c.status) }, c.summary));
  if (comparisons.length) box.append(h('ul', {}, ...comparisons.map((x) => comparisonItem(x, multiCell))));
  return box;
}

/** The claim boxes under a chart: every claim whose evidence the chart shows. */
export function claimBoxes(a: ExperimentAnalysis, chart: string): HTMLElement[] {
  const multiCell = a.cells.length > 1;
  return CLAIM_CHARTS.filter((m) => m.chart === chart).flatMap((m) => {
    const c = a.claims.find((x) => x.id === m.claim);
    if (!c || c.status === 'not tested') return [];
    if (m.measures && !c.comparisons.some((x) => m.measures!.includes(x.measure))) return [];
    return [h('div', { class: 'claim-box', 'data-claim': c.id }, h('p', { class: 'claim-statement' }, c.statement), paperSide(c.id), runSide(c, m.measures, multiCell))];
  });
}

const CHART_LABELS: Record<string, string> = {
  'diff-loss': 'Δ final training loss chart',
  'diff-acc': 'Δ test accuracy chart',
  gdv: 'GDV chart',
  gde: 'GDE chart',
  'grad-norm': 'gradient norm chart',
  distance: 'model distance chart',
};

/** The claims list of the results section: statement, verdict, the paper, this run, and links to the charts. */
export function claimsList(a: ExperimentAnalysis): HTMLElement {
  const multiCell = a.cells.length > 1;
  const list = h('ol', { class: 'claims' });
  for (const c of a.claims) {
    const li = h('li', { 'data-claim': c.id, 'data-status': c.status }, h('em', {}, c.statement), ' — ', h('span', { class: cssClass(c.status) }, c.summary), '.');
    if (c.status !== 'not tested') {
      const charts = [...new Set(CLAIM_CHARTS.filter((m) => m.claim === c.id).map((m) => m.chart))];
      li.append(paperSide(c.id), runSide(c, undefined, multiCell));
      if (charts.length) li.append(h('p', { class: 'small evidence' }, 'Evidence: ', ...charts.flatMap((id, i) => [...(i ? [', '] : []), h('a', { href: `#chart-${id}` }, CHART_LABELS[id] ?? id)])));
    }
    list.append(li);
  }
  return list;
}

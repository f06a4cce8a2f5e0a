/**
 * The results on the lab page: the headless report's analysis (analyzeExperiment in
 * src/lab/experiment/report.ts: mean ± std over seeds, paired differences to the no-dropout mode
 * with 95% confidence intervals, seeds that improved, the regime test, the claim verdicts) laid out
 * as HTML tables. Only the layout is here; every number comes from the report module.
 */
import { analyzeExperiment, formatDelta, formatNumber, formatValue, type ArmAnalysis, type CellAnalysis, type ExperimentAnalysis, type Measure } from '../../src/lab/experiment/report.js';
import type { MeanInterval, PairedComparison } from '../../src/lab/experiment/stats.js';
import type { ExperimentSpec, RunResult } from '../../src/lab/experiment/types.js';

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

/** mean ± std (accuracy in %), as in the report's tables. */
function meanStd(m: Measure, ci: MeanInterval): string {
  if (ci.n === 0) return '—';
  if (ci.n < 2) return `${formatValue(m, ci.mean)} (1 seed)`;
  const std = m === 'testAccuracy' ? (100 * ci.std).toFixed(2) : formatNumber(ci.std, 3);
  return `${formatValue(m, ci.mean)} ± ${std}`;
}

/** The paired difference with its 95% CI ("−0.012 [−0.020, −0.004]"). */
function delta(m: Measure, c: PairedComparison | undefined): string {
  if (!c) return '—';
  if (c.n === 0) return 'no paired seeds';
  const d = formatDelta(m, c.mean);
  if (c.n < 2) return `${d} (1 seed, no CI)`;
  if (!Number.isFinite(c.lo) || !Number.isFinite(c.hi)) return `${d} (no CI)`;
  const bound = (x: number) => (m === 'testAccuracy' ? `${x > 0 ? '+' : ''}${(100 * x).toFixed(2)}` : `${x > 0 ? '+' : ''}${formatNumber(x, 3)}`);
  return `${d} [${bound(c.lo)}, ${bound(c.hi)}]`;
}

/** Markdown emphasis of the report's sentences (**bold**, *italic*) as elements; everything else is text. */
function richText(md: string): Node[] {
  const out: Node[] = [];
  const re = /\*\*(.+?)\*\*|\*(.+?)\*/g;
  let at = 0;
  for (let m = re.exec(md); m; m = re.exec(md)) {
    if (m.index > at) out.push(document.createTextNode(md.slice(at, m.index)));
    out.push(m[1] !== undefined ? h('strong', {}, m[1]) : h('em', {}, m[2]));
    at = m.index + m[0].length;
  }
  if (at < md.length) out.push(document.createTextNode(md.slice(at)));
  return out;
}

function armRow(cell: CellAnalysis, x: ArmAnalysis): HTMLTableRowElement {
  const isBase = x.arm.name === cell.baseline;
  const v = x.vsBaseline;
  const td = (text: string, num = true) => h('td', num ? { class: 'num' } : {}, text);
  const row = h(
    'tr',
    { 'data-arm': x.arm.name },
    td(x.arm.name, false),
    td(String(x.runs.length)),
    td(meanStd('finalTrainLoss', x.finalTrainLoss)),
    td(meanStd('testAccuracy', x.testAccuracy)),
    td(isBase ? 'baseline' : delta('finalTrainLoss', v?.finalTrainLoss)),
    td(isBase ? 'baseline' : delta('testAccuracy', v?.testAccuracy)),
    td(isBase || !v ? '—' : `${v.finalTrainLoss.improved}/${v.finalTrainLoss.n}`),
    td(isBase || !v ? '—' : `${v.testAccuracy.improved}/${v.testAccuracy.n}`),
  );
  return row;
}

const WINDOW_LABELS = { gdv: 'GDV', gde: 'GDE', bias2: 'bias²', variance: 'variance', gradNorm: 'gradient norm', distance: 'distance' } as const;

function cellBlock(a: ExperimentAnalysis, cell: CellAnalysis): HTMLElement {
  const block = h('div', { 'data-cell': cell.name });
  if (a.cells.length > 1 || a.spec.cells?.length) block.append(h('h3', {}, `Cell ${cell.name}`));
  const base = cell.baseline ?? 'none';
  const head = ['mode', 'seeds', 'final train loss (mean ± std)', 'test accuracy (mean ± std)', `Δ train loss vs ${base} [95% CI]`, `Δ test acc vs ${base} [95% CI]`, 'seeds with lower loss', 'seeds with higher acc'];
  const table = h('table', { class: 'results' }, h('thead', {}, h('tr', {}, ...head.map((t, i) => h('th', i === 0 ? {} : { class: 'num' }, t)))));
  const body = h('tbody');
  for (const x of cell.arms) body.append(armRow(cell, x));
  table.append(body);
  block.append(h('div', { class: 'table-wrap' }, table));
  if (!cell.baseline) block.append(h('p', { class: 'small muted' }, 'No mode is “none”, so there are no paired differences.'));
  if (cell.regime) {
    const r = cell.regime;
    block.append(h('p', { class: 'small' }, h('strong', {}, 'Regime test '), `(${r.arm} − ${base}): `, h('strong', {}, r.regime), ` — ${r.reason}.`));
  }
  const keys = (Object.keys(WINDOW_LABELS) as (keyof typeof WINDOW_LABELS)[]).filter((k) => cell.arms.some((x) => x.window[k]));
  if (cell.window && keys.length > 0) {
    block.append(h('p', { class: 'small muted' }, `Analysis metrics over the early window (${cell.window.source}), mean ± std over seeds:`));
    const t = h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'mode'), ...keys.map((k) => h('th', { class: 'num' }, WINDOW_LABELS[k])))));
    const tb = h('tbody');
    for (const x of cell.arms.filter((x) => x.runs.length > 0)) {
      tb.append(
        h(
          'tr',
          {},
          h('td', {}, x.arm.name),
          ...keys.map((k) => {
            const vals = [...(x.window[k]?.values() ?? [])];
            if (vals.length === 0) return h('td', { class: 'num' }, '—');
            const mean = vals.reduce((s, v) => s + v, 0) / vals.length;
            const std = vals.length > 1 ? Math.sqrt(vals.reduce((s, v) => s + (v - mean) ** 2, 0) / (vals.length - 1)) : NaN;
            return h('td', { class: 'num' }, vals.length > 1 ? `${formatNumber(mean, 4)} ± ${formatNumber(std, 2)}` : formatNumber(mean, 4));
          }),
        ),
      );
    }
    t.append(tb);
    block.append(h('div', { class: 'table-wrap' }, t));
  }
  return block;
}

function claimsBlock(a: ExperimentAnalysis): HTMLElement {
  const list = h('ol', { class: 'claims' });
  for (const c of a.claims) {
    const li = h('li', { 'data-claim': c.id }, h('em', {}, c.statement), ' — ', h('span', { class: `verdict ${c.status.replace(/\s+/g, '-')}` }, c.summary), '.');
    if (c.lines.length) {
      const ul = h('ul');
      for (const l of c.lines) ul.append(h('li', {}, ...richText(l)));
      li.append(ul);
    }
    list.append(li);
  }
  return h(
    'div',
    {},
    h('h3', {}, 'What this run says about the paper’s claims'),
    h('p', { class: 'small muted' }, 'Judged only from these numbers with the headless report’s fixed rules: reproduced when the 95% CI of the mean paired difference lies on the predicted side of 0, contradicted when it lies on the other side, inconclusive when it contains 0 (or with fewer than 2 seeds).'),
    list,
  );
}

/** Replaces `target`'s content with the results so far; returns the analysis. */
export function renderResults(target: HTMLElement, spec: ExperimentSpec, results: readonly RunResult[]): ExperimentAnalysis {
  const a = analyzeExperiment(spec, results);
  const parts: Node[] = [];
  const missing = a.missingRuns.length;
  parts.push(h('p', { class: 'small muted' }, `${a.runs.length} of ${a.expectedRuns} runs finished${missing ? `; ${missing} still to come (comparisons use the seeds present in both modes)` : ''}.`));
  for (const cell of a.cells) parts.push(cellBlock(a, cell));
  if (a.cells.length === 0) parts.push(h('p', {}, 'No finished runs yet.'));
  else parts.push(claimsBlock(a));
  target.replaceChildren(...parts);
  return a;
}

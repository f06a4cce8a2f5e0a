/**
 * The report's figures, drawn with Vega-Lite (specs) and Vega (headless SVG rendering), in the
 * manner of the paper's figures: one line per arm over optimizer steps, every seed as a faint
 * line or a ±1 std band around the mean, and per-arm point estimates with 95% intervals.
 *
 * Each function below returns a Vega-Lite spec built from plain rows; `renderSvg` turns a spec into
 * an SVG string with `renderer: 'none'` (no canvas needed, so it runs in Node and in the browser).
 * Vega is imported lazily: loading the report module stays cheap until a figure is drawn.
 */
import type { TopLevelSpec } from 'vega-lite';

/** Fixed arm → colour mapping, shared by every figure of an experiment so an arm keeps its colour. */
export interface ArmPalette {
  domain: string[];
  range: string[];
}

// Colour-blind-friendly categorical colours (Tableau 10 without its grey, which marks 'none').
const ARM_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];
const BASELINE_COLOUR = '#3b3b3b';

/** Colours for the arms in spec order; the baseline (no dropout) is dark grey as in the paper. */
export function armPalette(arms: readonly string[], baseline?: string): ArmPalette {
  let next = 0;
  const range = arms.map((a) => (a === baseline ? BASELINE_COLOUR : ARM_COLOURS[next++ % ARM_COLOURS.length]));
  return { domain: [...arms], range };
}

/** A vertical marker, e.g. the cutoff step of early / late arms. */
export interface StepMarker {
  step: number;
  label: string;
}

const WIDTH = 560;
const HEIGHT = 300;

const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  background: 'white',
  padding: 8,
  view: { stroke: '#888', strokeWidth: 0.5 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6', tickColor: '#888', domainColor: '#888' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', symbolStrokeWidth: 2.5, symbolOpacity: 1, labelLimit: 220 },
  title: { fontSize: 14, fontWeight: 'bold', anchor: 'start', subtitleFontSize: 11, subtitleColor: '#555' },
} as const;

function colourScale(p: ArmPalette) {
  return { domain: p.domain, range: p.range };
}

function markerLayers(markers: readonly StepMarker[]) {
  if (markers.length === 0) return [];
  const values = markers.map((m) => ({ step: m.step, label: m.label }));
  return [
    {
      data: { values },
      mark: { type: 'rule', strokeDash: [4, 4], color: '#777', strokeWidth: 1 },
      encoding: { x: { field: 'step', type: 'quantitative' } },
    },
    {
      data: { values },
      mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3, fontSize: 10, color: '#555' },
      encoding: { x: { field: 'step', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
    },
  ];
}

/** A y scale that goes logarithmic when positive values span more than ~1.5 decades. */
function yScaleFor(values: readonly number[]): { type: 'linear' | 'log'; zero: boolean } {
  const finite = values.filter(Number.isFinite);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  if (finite.length > 0 && min > 0 && max / min > 30) return { type: 'log', zero: false };
  return { type: 'linear', zero: false };
}

export interface CurveRow {
  arm: string;
  seed: number;
  step: number;
  value: number;
}

export interface CurveFigure {
  title: string;
  subtitle?: string;
  yTitle: string;
  rows: CurveRow[];
  palette: ArmPalette;
  markers?: StepMarker[];
  /** 'seeds': every seed as a faint line under the mean (training loss); 'band': mean ± 1 std. */
  spread: 'seeds' | 'band';
}

interface CurveStat {
  arm: string;
  step: number;
  mean: number;
  lo: number;
  hi: number;
}

/**
 * Mean and ±1 sample std over seeds per (arm, step), computed here rather than by Vega-Lite's
 * errorband, so a single seed simply has no band (instead of an undefined one).
 */
function curveStats(rows: readonly CurveRow[]): { means: CurveStat[]; bands: CurveStat[] } {
  const groups = new Map<string, { arm: string; step: number; values: number[] }>();
  for (const r of rows) {
    const key = `${r.arm}\u0000${r.step}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { arm: r.arm, step: r.step, values: [] }));
    g.values.push(r.value);
  }
  const means: CurveStat[] = [];
  const bands: CurveStat[] = [];
  for (const g of groups.values()) {
    const n = g.values.length;
    const mean = g.values.reduce((a, b) => a + b, 0) / n;
    const std = n > 1 ? Math.sqrt(g.values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : NaN;
    means.push({ arm: g.arm, step: g.step, mean, lo: mean - std, hi: mean + std });
    if (n > 1) bands.push({ arm: g.arm, step: g.step, mean, lo: mean - std, hi: mean + std });
  }
  const byStep = (a: CurveStat, b: CurveStat) => a.step - b.step;
  return { means: means.sort(byStep), bands: bands.sort(byStep) };
}

/** Mean over seeds per arm and step, with the seed-to-seed spread (faint lines or a ±1 std band). */
export function curveSpec(fig: CurveFigure): TopLevelSpec {
  const rows = fig.rows.filter((r) => Number.isFinite(r.value));
  const { means, bands } = curveStats(rows);
  // One colour encoding for every layer; the legend is drawn as solid strokes whatever layer it merges from.
  const legend = { symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 };
  const color = { field: 'arm', type: 'nominal', title: 'arm', scale: colourScale(fig.palette), sort: fig.palette.domain, legend };
  const x = { field: 'step', type: 'quantitative', title: 'optimizer step' };
  // Log scale only for per-seed lines (training loss over decades); a mean − std band can reach 0.
  const scale = fig.spread === 'seeds' ? yScaleFor(rows.map((r) => r.value)) : { type: 'linear', zero: false };
  const steps = new Set(rows.map((r) => r.step)).size;
  const spread =
    fig.spread === 'seeds'
      ? {
          data: { values: rows },
          mark: { type: 'line', strokeWidth: 0.8, opacity: 0.25 },
          encoding: { x, y: { field: 'value', type: 'quantitative', title: fig.yTitle, scale }, color, detail: { field: 'seed', type: 'nominal' } },
        }
      : {
          data: { values: bands },
          mark: { type: 'area', opacity: 0.16 },
          encoding: { x, y: { field: 'lo', type: 'quantitative', title: fig.yTitle, scale }, y2: { field: 'hi' }, color },
        };
  const layers: unknown[] = [];
  if (fig.spread === 'seeds' || bands.length > 0) layers.push(spread);
  layers.push(
    {
      data: { values: means },
      mark: { type: 'line', strokeWidth: 2.2, point: steps <= 40 ? { size: 18, filled: true } : false },
      encoding: { x, y: { field: 'mean', type: 'quantitative', title: fig.yTitle, scale }, color },
    },
    ...markerLayers(fig.markers ?? []),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: fig.subtitle ? { text: fig.title, subtitle: fig.subtitle } : fig.title,
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
    layer: layers,
  } as TopLevelSpec;
}

/** A point estimate with its 95% interval, for one arm (or cell) and one quantity. */
export interface IntervalRow {
  /** Row label on the y axis (arm or cell). */
  label: string;
  /** Panel, e.g. 'final training loss'. */
  panel: string;
  mean: number;
  lo: number;
  hi: number;
  /** Colour key (arm name, or regime). */
  colour: string;
}

export interface PointRow {
  label: string;
  panel: string;
  value: number;
  colour: string;
}

export interface IntervalFigure {
  title: string;
  subtitle?: string;
  /** Panels left to right, each with its x-axis title. */
  panels: { name: string; xTitle: string; zeroLine?: boolean }[];
  /** Order of the rows (top to bottom). */
  labels: string[];
  yTitle: string;
  intervals: IntervalRow[];
  /** Per-seed values drawn as faint dots behind the estimate. */
  points: PointRow[];
  palette: ArmPalette;
  colourTitle: string;
  /** Show a colour legend (not needed when the colour repeats the row label). */
  legend: boolean;
}

/** Per-row mean (filled dot) with its 95% CI (bar) and per-seed values (open dots); one panel per quantity. */
export function intervalSpec(fig: IntervalFigure): TopLevelSpec {
  const height = Math.max(60, 30 * fig.labels.length);
  const panelWidth = fig.panels.length > 1 ? 300 : WIDTH;
  const panels = fig.panels.map((panel, i) => {
    const intervals = fig.intervals.filter((r) => r.panel === panel.name && Number.isFinite(r.mean));
    const withCi = intervals.filter((r) => Number.isFinite(r.lo) && Number.isFinite(r.hi));
    const points = fig.points.filter((r) => r.panel === panel.name && Number.isFinite(r.value));
    // The row title once, on the left panel.
    const y = { field: 'label', type: 'nominal', title: i === 0 ? fig.yTitle : null, sort: fig.labels, scale: { domain: fig.labels } };
    // Every layer carries the same colour encoding (a null legend on one layer would drop the merged legend).
    const color = { field: 'colour', type: 'nominal', title: fig.colourTitle, scale: colourScale(fig.palette), sort: fig.palette.domain, ...(fig.legend ? {} : { legend: null }) };
    const layer: unknown[] = [];
    if (panel.zeroLine) {
      layer.push({ data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: '#555', strokeDash: [4, 3] }, encoding: { x: { field: 'zero', type: 'quantitative' } } });
    }
    // Layers without data are left out: an empty layer gives Vega an infinite (undefined) extent.
    if (points.length > 0) {
      layer.push({
        data: { values: points },
        mark: { type: 'point', size: 36, opacity: 0.55, strokeWidth: 1 },
        encoding: { x: { field: 'value', type: 'quantitative', title: panel.xTitle, scale: { zero: false } }, y, color },
      });
    }
    if (withCi.length > 0) {
      layer.push({
        data: { values: withCi },
        mark: { type: 'rule', strokeWidth: 2.5 },
        encoding: { x: { field: 'lo', type: 'quantitative', title: panel.xTitle }, x2: { field: 'hi' }, y, color },
      });
    }
    if (intervals.length > 0) {
      layer.push({
        data: { values: intervals },
        mark: { type: 'point', filled: true, size: 90, opacity: 1 },
        encoding: { x: { field: 'mean', type: 'quantitative', title: panel.xTitle }, y, color },
      });
    } else {
      layer.push({ data: { values: [{}] }, mark: { type: 'text', text: 'no finite values', color: '#555' } });
    }
    return { width: panelWidth, height, layer };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: fig.subtitle ? { text: fig.title, subtitle: fig.subtitle } : fig.title,
    config: CONFIG,
    hconcat: panels,
    resolve: { scale: { x: 'independent' } },
  } as TopLevelSpec;
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

type VegaModule = typeof import('vega');
type VegaLiteModule = typeof import('vega-lite');
let modules: Promise<[VegaModule, VegaLiteModule]> | undefined;

function loadVega(): Promise<[VegaModule, VegaLiteModule]> {
  modules ??= Promise.all([import('vega'), import('vega-lite')]);
  return modules;
}

/**
 * Renders a Vega-Lite spec to a standalone SVG string. Compiler and runtime warnings (e.g. a
 * dropped encoding) go into `warnings` when given, else to console.warn, never silently away.
 */
export async function renderSvg(spec: TopLevelSpec, warnings?: string[]): Promise<string> {
  const [vega, vegaLite] = await loadVega();
  const sink = (...args: readonly unknown[]) => {
    const message = args.map(String).join(' ');
    if (warnings) warnings.push(message);
    else console.warn(`plots: ${message}`);
  };
  let level = 2;
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error: (...a: readonly unknown[]) => (sink(...a), logger),
    warn: (...a: readonly unknown[]) => (sink(...a), logger),
    info: () => logger,
    debug: () => logger,
  };
  const compiled = vegaLite.compile(spec, { logger: logger as never }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Warn });
  view.logger(logger as never);
  try {
    vega.resetSVGDefIds(); // clip-path ids from 1 in every file: the same input gives the same bytes
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

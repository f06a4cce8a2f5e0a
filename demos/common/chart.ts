/**
 * A chart card for the demo pages: a Vega-Lite spec (the library the headless report's figures use,
 * src/lab/experiment/plots.ts) rendered by Vega into a canvas that follows its container's width,
 * with PNG / SVG export buttons.
 *
 * Data lives in named datasets (Vega-Lite `data: { name }`): 'rows' for simple charts fed with
 * add() / replace(), any names for layered charts fed with setData(). Updates are queued and drawn
 * at most every `flushMs`, so a training run that reports every step does not re-render the chart
 * every step. setSpec() swaps the spec (log scale, axis field, ...) and keeps the data.
 *
 * Exports are drawn again, off screen, at a fixed width with a title and the settings that produced
 * the chart (`caption`), so a PNG or SVG taken out of the page still says what it shows.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { downloadDataUrl, downloadText } from './download.js';

export interface ChartCaption {
  title: string;
  /** Lines under the title: the experiment, model, data, training settings, date. */
  lines: string[];
}

export interface ChartOptions {
  /** File-name-safe id, used in export names and as data-chart on the card. */
  id: string;
  title: string;
  /** Vega-Lite spec body (mark/encoding or layer, ...) reading named datasets ('rows' by default). */
  spec: Record<string, unknown>;
  /** Shown over the chart while it has no data. */
  emptyText?: string;
  height?: number;
  /** Prefix of exported file names (e.g. the experiment's name), read at export time. */
  filePrefix?: () => string;
  /** Title and settings printed on exported files (default: the chart's title alone). */
  caption?: () => ChartCaption;
  /** Extra controls for the card's header (e.g. a log-scale toggle). */
  controls?: HTMLElement[];
}

/**
 * Axis labels in plain decimals: d3's `r` keeps the significant digits the tick step needs and
 * never switches to exponent notation (`~g` wrote "1.2e+2" for step 120 and "1e+1" for 10 %);
 * `,` groups thousands and `~` trims trailing zeros.
 */
export const AXIS_NUMBER_FORMAT = ',~r';

const CONFIG = {
  font: 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif',
  background: 'white',
  view: { stroke: '#9aa5b1', strokeWidth: 0.5 },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', gridColor: '#eceff2', tickColor: '#9aa5b1', domainColor: '#9aa5b1', labelOverlap: true },
  axisQuantitative: { format: AXIS_NUMBER_FORMAT },
  // Solid legend symbols, whichever layer (a faint band, faint seed lines) the legend is merged from.
  legend: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', orient: 'bottom', direction: 'horizontal', columns: 3, symbolStrokeWidth: 2.5, symbolOpacity: 1, labelLimit: 110 },
  title: { fontSize: 14, fontWeight: 'bold', anchor: 'start', subtitleFontSize: 11, subtitleColor: '#444', subtitlePadding: 4, offset: 10 },
} as const;

/** Width of exported figures (the on-page chart follows its card). */
const EXPORT_WIDTH = 640;

let nextId = 0;

export class Chart {
  readonly card: HTMLElement;
  readonly id: string;
  private readonly viewEl: HTMLElement;
  private readonly emptyEl: HTMLElement;
  private view: vega.View | null = null;
  private body: Record<string, unknown>;
  private readonly datasets = new Map<string, unknown[]>();
  private readonly dirty = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private drawing: Promise<void> = Promise.resolve();
  /** Rows received through add() / replace() (what the lab's test hook counts). */
  private received = 0;

  private constructor(
    parent: HTMLElement,
    private readonly options: ChartOptions,
    private readonly flushMs: number,
  ) {
    this.id = options.id;
    this.body = options.spec;
    const card = document.createElement('section');
    card.className = 'chart-card';
    card.dataset.chart = options.id;
    card.dataset.points = '0';
    card.id = `chart-${options.id}`;
    const header = document.createElement('header');
    const h = document.createElement('h3');
    h.textContent = options.title;
    const tools = document.createElement('div');
    tools.className = 'exports';
    const png = button('PNG', `Download “${options.title}” as PNG (with title and settings)`, () => void this.exportPng());
    const svg = button('SVG', `Download “${options.title}” as SVG (with title and settings)`, () => void this.exportSvg());
    png.dataset.export = 'png';
    svg.dataset.export = 'svg';
    tools.append(...(options.controls ?? []), png, svg);
    header.append(h, tools);
    this.viewEl = document.createElement('div');
    this.viewEl.className = 'chart-view';
    this.viewEl.setAttribute('role', 'img');
    this.viewEl.setAttribute('aria-label', options.title);
    this.viewEl.id = `chart-view-${options.id}-${nextId++}`;
    this.emptyEl = document.createElement('div');
    this.emptyEl.className = 'chart-empty';
    this.emptyEl.textContent = options.emptyText ?? 'waiting for data…';
    card.append(header, this.viewEl, this.emptyEl);
    parent.append(card);
    this.card = card;
  }

  /** Builds the card in `parent` and renders the (empty) chart. */
  static async create(parent: HTMLElement, options: ChartOptions, flushMs = 250): Promise<Chart> {
    const chart = new Chart(parent, options, flushMs);
    await chart.render();
    return chart;
  }

  private fullSpec(forExport: boolean): TopLevelSpec {
    const caption = forExport ? (this.options.caption?.() ?? { title: this.options.title, lines: [] }) : null;
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: forExport ? EXPORT_WIDTH : 'container',
      height: this.options.height ?? 210,
      autosize: forExport ? { type: 'pad' } : { type: 'fit-x', contains: 'padding' },
      config: CONFIG,
      ...(caption ? { title: { text: caption.title, subtitle: caption.lines } } : {}),
      data: { name: 'rows' },
      ...this.body,
    } as TopLevelSpec;
  }

  private fill(view: vega.View): void {
    for (const [name, rows] of this.datasets) {
      // A dataset the spec does not read would make Vega throw: skip those.
      try {
        view.data(name, rows.map((r) => ({ ...(r as object) })));
      } catch {
        /* not in this spec */
      }
    }
  }

  private async render(): Promise<void> {
    this.view?.finalize();
    const compiled = compile(this.fullSpec(false)).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: 'canvas', container: this.viewEl, hover: true, logLevel: vega.Error });
    this.view = view;
    this.fill(view);
    this.dirty.clear();
    await view.runAsync();
  }

  /** Rows received through add() / replace(). */
  get points(): number {
    return this.received;
  }

  private setEmpty(): void {
    this.emptyEl.hidden = [...this.datasets.values()].some((rows) => rows.length > 0);
  }

  private schedule(): void {
    this.setEmpty();
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.flushMs);
  }

  /** Appends rows to the 'rows' dataset; they are drawn within `flushMs`. */
  add(rows: readonly unknown[]): void {
    if (rows.length === 0) return;
    const all = this.datasets.get('rows') ?? [];
    all.push(...rows);
    this.datasets.set('rows', all);
    this.received += rows.length;
    this.card.dataset.points = String(this.received);
    this.dirty.add('rows');
    this.schedule();
  }

  /** Replaces every row of the 'rows' dataset and draws at once (static charts, e.g. benchmark results). */
  async replace(rows: readonly unknown[]): Promise<void> {
    this.datasets.set('rows', [...rows]);
    this.received = rows.length;
    this.card.dataset.points = String(this.received);
    this.dirty.add('rows');
    this.setEmpty();
    await this.flush();
  }

  /** Replaces a named dataset; drawn within `flushMs`. */
  setData(name: string, rows: readonly unknown[]): void {
    this.datasets.set(name, [...rows]);
    this.dirty.add(name);
    this.schedule();
  }

  /** A new spec body (same datasets), drawn at once. */
  async setSpec(body: Record<string, unknown>): Promise<void> {
    this.body = body;
    this.drawing = this.drawing.then(() => this.render());
    return this.drawing;
  }

  /** Draws pending changes now. */
  flush(): Promise<void> {
    this.drawing = this.drawing.then(async () => {
      if (!this.view || this.dirty.size === 0) return;
      for (const name of this.dirty) {
        try {
          this.view.data(name, (this.datasets.get(name) ?? []).map((r) => ({ ...(r as object) })));
        } catch {
          /* not in this spec */
        }
      }
      this.dirty.clear();
      await this.view.runAsync();
    });
    return this.drawing;
  }

  setEmptyText(text: string): void {
    this.emptyEl.textContent = text;
  }

  /** An off-screen view of the chart at export width, with its caption. */
  private async exportView(renderer: 'none' | 'canvas'): Promise<vega.View> {
    await this.flush();
    const view = new vega.View(vega.parse(compile(this.fullSpec(true)).spec), { renderer, logLevel: vega.Error });
    this.fill(view);
    await view.runAsync();
    return view;
  }

  /** The exported PNG as a data URL (titled, with the settings). */
  async png(scale = 2): Promise<string> {
    const view = await this.exportView('canvas');
    try {
      return await view.toImageURL('png', scale);
    } finally {
      view.finalize();
    }
  }

  /** The exported SVG (titled, with the settings). */
  async svg(): Promise<string> {
    const view = await this.exportView('none');
    try {
      return await view.toSVG();
    } finally {
      view.finalize();
    }
  }

  private fileName(ext: string): string {
    const prefix = this.options.filePrefix?.() ?? 'wgtrain';
    return `${prefix}-${this.id}.${ext}`;
  }

  async exportPng(): Promise<void> {
    downloadDataUrl(this.fileName('png'), await this.png());
  }

  async exportSvg(): Promise<void> {
    downloadText(this.fileName('svg'), await this.svg(), 'image/svg+xml');
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.view?.finalize();
    this.view = null;
    this.card.remove();
  }
}

function button(label: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'secondary small';
  b.textContent = label;
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

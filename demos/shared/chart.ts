/**
 * A chart card for the demo pages: a Vega-Lite spec (the library the headless report's figures use,
 * src/lab/experiment/plots.ts) rendered by Vega into a canvas that follows its container's width,
 * with rows streamed in as they arrive and PNG / SVG export buttons.
 *
 * Rows go to the named dataset 'rows'. They are queued and inserted at most every `flushMs`, so a
 * training run that reports every step does not re-render the chart every step.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { downloadDataUrl, downloadText } from './download.js';

export interface ChartOptions {
  /** File-name-safe id, used in export names and as data-chart on the card. */
  id: string;
  title: string;
  /** Vega-Lite spec body (mark/encoding or layer, ...) that reads `data: { name: 'rows' }`. */
  spec: Record<string, unknown>;
  /** Shown over the chart while it has no rows. */
  emptyText?: string;
  height?: number;
  /** Prefix of exported file names (e.g. the experiment's name), read at export time. */
  filePrefix?: () => string;
}

const CONFIG = {
  font: 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif',
  background: 'white',
  view: { stroke: '#9aa5b1', strokeWidth: 0.5 },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', gridColor: '#eceff2', tickColor: '#9aa5b1', domainColor: '#9aa5b1', labelOverlap: true },
  // Short numbers on value axes (0.001, 2.3); category axes keep their labels as they are.
  axisQuantitative: { format: '~g' },
  legend: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal', orient: 'bottom', direction: 'horizontal', columns: 3, symbolStrokeWidth: 2.5, labelLimit: 110 },
} as const;

let nextId = 0;

export class Chart {
  readonly card: HTMLElement;
  readonly id: string;
  private readonly viewEl: HTMLElement;
  private readonly emptyEl: HTMLElement;
  private view: vega.View | null = null;
  private queue: unknown[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private count = 0;

  private constructor(
    parent: HTMLElement,
    private readonly options: ChartOptions,
    private readonly flushMs: number,
  ) {
    this.id = options.id;
    const card = document.createElement('section');
    card.className = 'chart-card';
    card.dataset.chart = options.id;
    card.dataset.points = '0';
    const header = document.createElement('header');
    const h = document.createElement('h3');
    h.textContent = options.title;
    const exports = document.createElement('div');
    exports.className = 'exports';
    const png = button('PNG', `Download “${options.title}” as PNG`, () => void this.exportPng());
    const svg = button('SVG', `Download “${options.title}” as SVG`, () => void this.exportSvg());
    png.dataset.export = 'png';
    svg.dataset.export = 'svg';
    exports.append(png, svg);
    header.append(h, exports);
    this.viewEl = document.createElement('div');
    this.viewEl.className = 'chart-view';
    this.viewEl.setAttribute('role', 'img');
    this.viewEl.setAttribute('aria-label', options.title);
    this.viewEl.id = `chart-${options.id}-${nextId++}`;
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

  private async render(): Promise<void> {
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: 'container',
      height: this.options.height ?? 210,
      autosize: { type: 'fit-x', contains: 'padding' },
      config: CONFIG,
      data: { name: 'rows' },
      ...this.options.spec,
    } as TopLevelSpec;
    const compiled = compile(spec).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: 'canvas', container: this.viewEl, hover: true, logLevel: vega.Error });
    this.view = view;
    await view.runAsync();
  }

  /** Points received so far. */
  get points(): number {
    return this.count + this.queue.length;
  }

  /** Queues rows; they are drawn within `flushMs`. */
  add(rows: readonly unknown[]): void {
    if (rows.length === 0) return;
    this.queue.push(...rows);
    this.card.dataset.points = String(this.points);
    this.emptyEl.hidden = true;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.flushMs);
  }

  /** Replaces every row (static charts, e.g. benchmark results). */
  async replace(rows: readonly unknown[]): Promise<void> {
    this.queue = [];
    this.count = rows.length;
    this.card.dataset.points = String(this.count);
    this.emptyEl.hidden = rows.length > 0;
    if (!this.view) return;
    this.view.data('rows', rows.map((r) => ({ ...(r as object) })));
    await this.view.runAsync();
  }

  /** Draws the queued rows now. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (!this.view || this.queue.length === 0) return;
      const rows = this.queue;
      this.queue = [];
      this.count += rows.length;
      this.view.insert('rows', rows);
      await this.view.runAsync();
    });
    return this.flushing;
  }

  setEmptyText(text: string): void {
    this.emptyEl.textContent = text;
  }

  async png(scale = 2): Promise<string> {
    await this.flush();
    return this.view!.toImageURL('png', scale);
  }

  async svg(): Promise<string> {
    await this.flush();
    return this.view!.toSVG();
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

/**
 * The settings form of the lab: every field of an experiment spec (src/lab/experiment/types.ts)
 * that a person would change — model and size, dataset, epochs, batch size, learning rate,
 * regulariser, rate, mode, shape, cutoff, seeds, metric schedule — plus a JSON editor for the
 * whole spec (cells included). The form edits a draft (plain JSON); the page validates it with
 * the runner's own validateSpec and marks the fields its problems name.
 */

/** The draft: a spec as JSON, possibly invalid while being edited. */
export type Draft = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

import { h } from '../common/dom.js';
import { MODEL_KIND_NAMES, MODEL_KINDS, type ModelKindName } from '../../src/lab/experiment/models.js';

type Getter = () => unknown;
type Setter = (v: unknown) => void;

/** Sets a key, or removes it for undefined (so an optional field left empty is absent, as in JSON presets). */
function put(obj: Draft, key: string, v: unknown): void {
  if (v === undefined) delete obj[key];
  else obj[key] = v;
}

/** "" → undefined, else Number(text) (NaN stays NaN so that validation names the field). */
function parseNumber(text: string): number | undefined {
  const t = text.trim();
  return t === '' ? undefined : Number(t);
}

/** "256, 256" → [256, 256]; an entry that is not a number stays as text so validation names it. */
function parseList(text: string): unknown[] {
  return text
    .split(/[\s,]+/)
    .filter((s) => s !== '')
    .map((s) => (Number.isFinite(Number(s)) ? Number(s) : s));
}

export class SpecForm {
  private draft: Draft = {};
  private readonly fieldsEl: HTMLElement;
  /** A person's name for every field path shown ("Mode 2 “early” · rate p" for arms[1].p). */
  private readonly labels = new Map<string, string>();
  /** The section being built, the first part of its fields' names. */
  private section = '';

  constructor(
    private readonly root: HTMLElement,
    private readonly onChange: (draft: Draft) => void,
  ) {
    this.fieldsEl = h('div');
    root.replaceChildren(this.fieldsEl);
  }

  /** Shows a new draft (a preset, or JSON applied by the user). */
  set(draft: Draft): void {
    this.draft = draft;
    this.render();
  }

  get value(): Draft {
    return this.draft;
  }

  private changed(): void {
    this.onChange(this.draft);
  }

  /** The field a problem path belongs to: the longest shown field path that is the path or contains it. */
  private fieldOf(path: string): string | undefined {
    let best: string | undefined;
    for (const f of this.labels.keys()) {
      if ((path === f || path.startsWith(`${f}.`) || path.startsWith(`${f}[`)) && (!best || f.length > best.length)) best = f;
    }
    return best;
  }

  /**
   * A validation problem ("arms[1].p: rate must be in [0, 1), got 1.5") in a person's words:
   * the field's name as the form shows it ("Mode 2 “early” · rate p: ..."); paths of fields the
   * form does not show (cells, margins: JSON only) are spelled out ("cell 1 · model · dim").
   */
  describe(problem: string): { path: string; field?: string; text: string; message: string } {
    const at = problem.indexOf(': ');
    if (at < 0) return { path: '', text: problem, message: problem };
    const path = problem.slice(0, at);
    const message = problem.slice(at + 2);
    const field = this.fieldOf(path);
    const label = field === path ? this.labels.get(path)! : field ? `${this.labels.get(field)} · ${spellPath(path.slice(field.length))}` : spellPath(path);
    return { path, field, text: `${label}: ${message}`, message };
  }

  /**
   * Marks the inputs that validation problems name (red border, aria-invalid) and writes each
   * problem under its field; returns the problems in a person's words for the summary.
   */
  markProblems(problems: readonly string[]): string[] {
    for (const old of Array.from(this.root.querySelectorAll('.field-problem'))) old.remove();
    const described = problems.map((p) => this.describe(p));
    const byField = new Map<string, string[]>();
    for (const d of described) if (d.field) byField.set(d.field, [...(byField.get(d.field) ?? []), d.field === d.path ? d.message : `${spellPath(d.path.slice(d.field.length))}: ${d.message}`]);
    for (const input of Array.from(this.root.querySelectorAll<HTMLElement>('[data-field]'))) {
      const messages = byField.get(input.dataset.field!);
      if (!messages) {
        input.removeAttribute('aria-invalid');
        input.removeAttribute('aria-describedby');
        continue;
      }
      input.setAttribute('aria-invalid', 'true');
      const id = `problem-${input.dataset.field!.replace(/[^a-zA-Z0-9]+/g, '-')}`;
      input.setAttribute('aria-describedby', id);
      const note = h('span', { class: 'field-problem', id, 'data-problem-for': input.dataset.field! }, messages.join('; '));
      // Under the input, inside its label (or its table cell).
      (input.closest('label, td') ?? input.parentElement!).append(note);
    }
    return described.map((d) => d.text);
  }

  // ---- field builders ----

  private register(path: string, label: string): void {
    this.labels.set(path, this.section ? `${this.section} · ${label}` : label);
  }

  private input(label: string, path: string, get: Getter, set: Setter, kind: 'number' | 'text' | 'list', opts: { step?: string; min?: string; hint?: string } = {}): HTMLElement {
    const v = get();
    this.register(path, label);
    const input = h('input', { type: kind === 'number' ? 'number' : 'text', 'data-field': path, 'aria-label': label });
    if (kind === 'number') {
      input.step = opts.step ?? 'any';
      if (opts.min !== undefined) input.min = opts.min;
      input.inputMode = 'decimal';
    }
    input.value = v === undefined ? '' : Array.isArray(v) ? v.join(', ') : String(v);
    input.addEventListener('input', () => {
      set(kind === 'number' ? parseNumber(input.value) : kind === 'list' ? parseList(input.value) : input.value.trim() || undefined);
      this.changed();
    });
    const wrap = h('label', { class: 'field' }, h('span', {}, label), input);
    if (opts.hint) wrap.title = opts.hint;
    return wrap;
  }

  private select(label: string, path: string, options: [string, string][], get: Getter, set: (v: string) => void, rerender = false): HTMLElement {
    this.register(path, label);
    const sel = h('select', { 'data-field': path, 'aria-label': label });
    for (const [value, text] of options) sel.append(h('option', { value }, text));
    sel.value = String(get() ?? '');
    sel.addEventListener('change', () => {
      set(sel.value);
      if (rerender) this.render();
      this.changed();
    });
    return h('label', { class: 'field' }, h('span', {}, label), sel);
  }

  private checkbox(label: string, path: string, get: () => boolean, set: (v: boolean) => void, rerender = false): HTMLElement {
    this.register(path, label);
    const box = h('input', { type: 'checkbox', 'data-field': path, 'aria-label': label });
    box.checked = get();
    box.addEventListener('change', () => {
      set(box.checked);
      if (rerender) this.render();
      this.changed();
    });
    return h('label', { class: 'field inline' }, box, h('span', {}, label));
  }

  private num(label: string, obj: () => Draft, key: string, path: string, opts: { step?: string; min?: string; hint?: string } = {}): HTMLElement {
    return this.input(label, path, () => obj()[key], (v) => put(obj(), key, v), 'number', opts);
  }

  // ---- sections ----

  private render(): void {
    this.labels.clear();
    const d = this.draft;
    const sections = h('div', { class: 'grid' });
    sections.append(this.modelSection(d), this.dataSection(d), this.trainingSection(d), this.metricsSection(d));
    const cells = Array.isArray(d.cells) && d.cells.length > 0 ? this.cellsNote(d.cells) : null;
    this.fieldsEl.replaceChildren(sections, this.armsSection(d), ...(cells ? [cells] : []));
  }

  private modelSection(d: Draft): HTMLElement {
    this.section = 'Model';
    d.model ??= structuredClone(MODEL_KINDS.mlp.formDefaults);
    const m = () => this.draft.model as Draft;
    const fields = h('div', { class: 'fields' });
    fields.append(
      this.select(
        'kind',
        'model.kind',
        MODEL_KIND_NAMES.map((k) => [k, MODEL_KINDS[k].label]),
        () => m().kind,
        (v) => {
          if (v !== m().kind) this.draft.model = structuredClone(MODEL_KINDS[v as ModelKindName].formDefaults);
        },
        true,
      ),
    );
    const kind = MODEL_KINDS[m().kind as ModelKindName];
    for (const f of kind?.formFields ?? []) {
      const path = `model.${f.key}`;
      if (f.type === 'select') fields.append(this.select(f.label, path, f.options ?? [], () => m()[f.key] ?? f.fallback, (v) => put(m(), f.key, v)));
      else if (f.type === 'list') fields.append(this.input(f.label, path, () => m()[f.key], (v) => put(m(), f.key, v), 'list', { hint: f.hint }));
      else fields.append(this.num(f.label, m, f.key, path, { step: f.step, min: f.min, hint: f.hint }));
    }
    return h('fieldset', {}, h('legend', {}, 'Model'), fields);
  }

  private dataSection(d: Draft): HTMLElement {
    this.section = 'Data';
    d.data ??= { kind: 'synthetic' };
    const data = () => this.draft.data as Draft;
    const fields = h('div', { class: 'fields' });
    fields.append(
      this.select(
        'dataset',
        'data.kind',
        [
          ['synthetic', 'synthetic'],
          ['fashion-mnist', 'Fashion-MNIST'],
        ],
        () => data().kind,
        (v) => {
          data().kind = v;
          // Generator settings mean nothing for Fashion-MNIST (and validation rejects them).
          if (v === 'fashion-mnist') {
            delete data().seed;
            delete data().imageSize;
          }
        },
        true,
      ),
      this.num('train images', data, 'trainSize', 'data.trainSize', { step: '1', min: '1', hint: 'empty: all (Fashion-MNIST 60000, synthetic 6000)' }),
      this.num('test images', data, 'testSize', 'data.testSize', { step: '1', min: '1', hint: 'empty: all (Fashion-MNIST 10000, synthetic 1000)' }),
    );
    if (data().kind === 'synthetic') {
      fields.append(this.num('image side', data, 'imageSize', 'data.imageSize', { step: '1', min: '2' }), this.num('data seed', data, 'seed', 'data.seed', { step: '1', min: '0' }));
    }
    return h('fieldset', {}, h('legend', {}, 'Data'), fields);
  }

  private trainingSection(d: Draft): HTMLElement {
    this.section = 'Training';
    const top = () => this.draft;
    const fields = h('div', { class: 'fields' });
    fields.append(
      this.num('epochs', top, 'epochs', 'epochs', { step: '1', min: '1' }),
      this.num('batch size', top, 'batchSize', 'batchSize', { step: '1', min: '1' }),
      this.num('learning rate', top, 'lr', 'lr', { min: '0' }),
      this.num('min LR (cosine floor)', top, 'minLr', 'minLr', { min: '0' }),
      this.num('weight decay', top, 'weightDecay', 'weightDecay', { min: '0' }),
      this.num('warmup epochs', top, 'warmupEpochs', 'warmupEpochs', { min: '0' }),
      this.num('label smoothing', top, 'labelSmoothing', 'labelSmoothing', { min: '0' }),
      this.input('seeds', 'seeds', () => d.seeds, (v) => put(this.draft, 'seeds', v), 'list', { hint: 'comma-separated; paired across modes' }),
    );
    return h('fieldset', {}, h('legend', {}, 'Training'), fields);
  }

  private metricsSection(d: Draft): HTMLElement {
    this.section = 'Analysis metrics';
    const m = () => this.draft.metrics as Draft;
    const fields = h('div', { class: 'fields' });
    fields.append(
      this.checkbox(
        'measure gradient norm, distance, GDV, GDE',
        'metrics',
        () => d.metrics !== undefined,
        (on) => {
          if (on) this.draft.metrics = { denseEvery: 10, denseUntil: 100, every: 50, numBatches: 16, directions: true };
          else delete this.draft.metrics;
        },
        true,
      ),
    );
    if (d.metrics) {
      fields.append(
        this.num('every … steps (dense)', m, 'denseEvery', 'metrics.denseEvery', { step: '1', min: '1' }),
        this.num('dense until step', m, 'denseUntil', 'metrics.denseUntil', { step: '1', min: '0' }),
        this.num('then every … steps', m, 'every', 'metrics.every', { step: '1', min: '1' }),
        this.num('|G| gradients', m, 'numBatches', 'metrics.numBatches', { step: '1', min: '2' }),
        this.checkbox('GDV and GDE', 'metrics.directions', () => m().directions !== false, (on) => put(m(), 'directions', on)),
      );
    }
    return h('fieldset', {}, h('legend', {}, 'Analysis metrics'), fields);
  }

  private armsSection(d: Draft): HTMLElement {
    d.arms ??= [];
    const arms = d.arms as Draft[];
    const table = h('table', { class: 'arms' });
    table.append(h('thead', {}, h('tr', {}, ...['name', 'regulariser', 'mode', 'rate p', 'shape', 'cutoff (epochs)', ''].map((t) => h('th', {}, t)))));
    const body = h('tbody');
    arms.forEach((arm, i) => {
      const path = `arms[${i}]`;
      this.section = `Mode ${i + 1}${typeof arm.name === 'string' && arm.name ? ` “${arm.name}”` : ''}`;
      const cell = (child: HTMLElement) => {
        // Inside the table the label text is the column header.
        child.querySelector('span')?.remove();
        return h('td', {}, child);
      };
      const a = () => (this.draft.arms as Draft[])[i];
      const mode = arm.mode;
      const remove = h('button', { type: 'button', class: 'danger small', title: `Remove ${arm.name ?? 'this mode'}` }, '✕');
      remove.addEventListener('click', () => {
        (this.draft.arms as Draft[]).splice(i, 1);
        this.render();
        this.changed();
      });
      const pInput = this.num('rate p', a, 'p', `${path}.p`, { min: '0', step: '0.05' });
      const cutoff = this.num('cutoff (epochs)', a, 'cutoffEpochs', `${path}.cutoffEpochs`, { min: '0' });
      if (mode === 'none') pInput.querySelector('input')!.disabled = true;
      if (mode !== 'early' && mode !== 'late') cutoff.querySelector('input')!.disabled = true;
      body.append(
        h(
          'tr',
          {},
          cell(this.input('name', `${path}.name`, () => arm.name, (v) => put(a(), 'name', v), 'text')),
          cell(
            this.select(
              'regulariser',
              `${path}.regularizer`,
              [
                ['dropout', 'dropout'],
                ['stochastic-depth', 'stochastic depth'],
              ],
              () => arm.regularizer,
              (v) => (a().regularizer = v),
            ),
          ),
          cell(
            this.select(
              'mode',
              `${path}.mode`,
              ['none', 'standard', 'early', 'late'].map((m) => [m, m] as [string, string]),
              () => mode,
              (v) => {
                const x = a();
                x.mode = v;
                // Keep the arm valid as the mode changes: no rate for none, cutoffs only for early/late.
                if (v === 'none') for (const k of ['p', 'shape', 'cutoffEpochs']) delete x[k];
                else x.p ??= 0.1;
                if (v !== 'early' && v !== 'late') delete x.cutoffEpochs;
                else x.cutoffEpochs ??= 1;
                if (v !== 'early' && x.shape === 'linear') delete x.shape;
              },
              true,
            ),
          ),
          cell(pInput),
          cell(
            this.select(
              'shape',
              `${path}.shape`,
              [
                ['', '—'],
                ['constant', 'constant'],
                ['linear', 'linear'],
              ],
              () => arm.shape ?? '',
              (v) => put(a(), 'shape', v || undefined),
            ),
          ),
          cell(cutoff),
          h('td', {}, remove),
        ),
      );
    });
    table.append(body);
    this.section = '';
    this.register('arms', 'Modes');
    const add = h('button', { type: 'button', class: 'secondary small' }, '+ add mode');
    add.addEventListener('click', () => {
      const names = new Set(arms.map((x) => x.name));
      let n = arms.length + 1;
      while (names.has(`mode-${n}`)) n++;
      (this.draft.arms as Draft[]).push({ name: `mode-${n}`, regularizer: 'dropout', mode: 'standard', p: 0.1 });
      this.render();
      this.changed();
    });
    return h(
      'fieldset',
      {},
      h('legend', {}, 'Modes (arms)'),
      h('p', { class: 'small muted', style: 'margin:0 0 .4rem' }, 'Every mode trains with every seed; a seed gives the same initial weights and data order in every mode.'),
      h('div', { class: 'table-wrap' }, table),
      h('div', { class: 'toolbar', style: 'margin-top:.5rem' }, add),
    );
  }

  private cellsNote(cells: Draft[]): HTMLElement {
    const names = cells.map((c) => c.name).join(', ');
    return h(
      'p',
      { class: 'notice info small', 'data-cells': String(cells.length) },
      `This experiment has ${cells.length} cells (${names}): model and data variants that override the fields above. Edit them in the JSON below.`,
    );
  }
}

/** A field path in words: "cells[0].model.dim" → "cell 1 · model · dim"; ".p" → "p". */
function spellPath(path: string): string {
  return path
    .replace(/^\./, '')
    .replace(/^\[(\d+)\]/, (_, i: string) => `entry ${Number(i) + 1}`)
    .replace(/([a-zA-Z]+)\[(\d+)\]/g, (_, name: string, i: string) => `${name.replace(/s$/, '')} ${Number(i) + 1}`)
    .split('.')
    .filter(Boolean)
    .join(' · ');
}

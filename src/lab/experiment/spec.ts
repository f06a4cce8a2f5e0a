/**
 * Validation of experiment specs (types.ts): `validateSpec(json)` turns untrusted JSON (a preset
 * file, `--spec FILE`) into an ExperimentSpec, or throws one Error listing every problem, each as
 * `<field path>: <problem>`, e.g. `arms[2].p: rate must be in [0, 1), got 1.2`.
 *
 * Beyond types and ranges it checks what would otherwise fail (or, worse, silently do something
 * else) hours into a run: unknown keys (a typo such as `cutoffEpoch` would be ignored), a cutoff or
 * warmup beyond training or not on a whole step of some cell, stochastic depth on a model without
 * residual blocks, an arm that mixes dropout and stochastic depth, duplicate names, no seeds.
 *
 * Also here: the derived quantities the runner and the CLI need without building anything
 * (`resolveCells`, `stepsPerEpochOf`), and `quickSpec`, the deterministic shrink behind `--quick`.
 */
import { DROP_MODES, DROP_SHAPES } from '../../nn/schedules.js';
import { batchesPerEpoch } from '../data/sampler.js';
import type { ArmSpec, CellSpec, DataSpec, ExperimentSpec, MetricScheduleSpec, ModelSpec } from './types.js';
import { MODEL_KIND_NAMES, MODEL_KINDS, modelKind, type ModelChecks } from './models.js';

/** Fashion-MNIST's split sizes and image side (the loader's limits cannot exceed them). */
export const FASHION_MNIST_SIZES = { train: 60000, test: 10000, imageSize: 28 } as const;
/** makeSyntheticImages's defaults. */
export const SYNTHETIC_DEFAULTS = { trainSize: 6000, testSize: 1000, imageSize: 28 } as const;

/** Names of cells and arms end up in file names: letters, digits, '.', '_' and '-' only. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Relative slack for "a whole number of steps" (the same as schedules.ts). */
const WHOLE_STEPS_EPS = 1e-9;

/** A cell with the top-level model and data applied: what one run actually trains on. */
export interface ResolvedCell {
  name: string;
  model: ModelSpec;
  data: DataSpec;
}

export class SpecError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid experiment spec: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
    this.name = 'SpecError';
  }
}

type Obj = Record<string, unknown>;

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'nothing' : Array.isArray(v) || (v !== null && typeof v === 'object') ? JSON.stringify(v) : String(v));

/** Collects problems with their field paths. */
export class Checker {
  readonly problems: string[] = [];

  fail(path: string, message: string): void {
    this.problems.push(`${path}: ${message}`);
  }

  object(path: string, v: unknown): v is Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.fail(path, `must be an object, got ${show(v)}`);
      return false;
    }
    return true;
  }

  keys(path: string, o: Obj, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(path ? `${path}.${k}` : k, `unknown key (expected one of ${allowed.join(', ')})`);
    }
  }

  string(path: string, v: unknown, { optional = false, name = false } = {}): v is string {
    if (v === undefined && optional) return false;
    if (typeof v !== 'string' || v.length === 0) {
      this.fail(path, `must be a non-empty string, got ${show(v)}`);
      return false;
    }
    if (name && !NAME_PATTERN.test(v)) {
      this.fail(path, `${show(v)} is not a usable name (letters, digits, '.', '_', '-'; it is used in file names)`);
      return false;
    }
    return true;
  }

  int(path: string, v: unknown, min: number, { optional = false, max = Number.MAX_SAFE_INTEGER } = {}): v is number {
    if (v === undefined && optional) return false;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      this.fail(path, `must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`}, got ${show(v)}`);
      return false;
    }
    return true;
  }

  number(path: string, v: unknown, test: (x: number) => boolean, range: string, { optional = false } = {}): v is number {
    if (v === undefined && optional) return false;
    if (typeof v !== 'number' || !Number.isFinite(v) || !test(v)) {
      this.fail(path, `must be ${range}, got ${show(v)}`);
      return false;
    }
    return true;
  }

  oneOf<T extends string>(path: string, v: unknown, options: readonly T[], what: string, { optional = false } = {}): v is T {
    if (v === undefined && optional) return false;
    if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
      this.fail(path, `unknown ${what} ${show(v)} (expected one of ${options.join(', ')})`);
      return false;
    }
    return true;
  }

  boolean(path: string, v: unknown, { optional = false } = {}): v is boolean {
    if (v === undefined && optional) return false;
    if (typeof v !== 'boolean') {
      this.fail(path, `must be true or false, got ${show(v)}`);
      return false;
    }
    return true;
  }
}

// ---- sizes: every one bounded, so that a typo such as 1e5 fails here, naming its field ----

/**
 * The largest tensor a spec may imply, in f32 values: 2^28 (1 GiB). Beyond that no host typed
 * array or GPU buffer is sure to exist (WebGPU guarantees 128 MiB per buffer; SwiftShader offers
 * 1 GiB, large GPUs 2 to 4 GiB). The device's own limit is checked again when each tensor is
 * allocated, naming the tensor (src/runtime/pool.ts).
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;
/** The longest image side (its square, one image, stays below MAX_TENSOR_ELEMENTS). */
export const MAX_IMAGE_SIDE = 2 ** 14;

/** Fails `field` unless `elements` (spelled out by `what`) fits MAX_TENSOR_ELEMENTS. */
function checkElements(c: Checker, field: string, elements: number, what: string): boolean {
  if (elements <= MAX_TENSOR_ELEMENTS) return true;
  const gib = (elements * 4) / 2 ** 30;
  c.fail(field, `${what} = ${elements.toPrecision(3)} f32 values (${gib < 1024 ? `${gib.toFixed(1)} GiB` : `${(gib / 1024).toFixed(1)} TiB`}) in one tensor, over the limit of 2^28 values (1 GiB) that a host array or GPU buffer is sure to hold`);
  return false;
}

/** What a model kind's checks (models.ts) get: the checker, the model's path, the tensor-size check and limits. */
function modelChecks(c: Checker, path: string): ModelChecks {
  return { c, path, elements: (field, n, what) => checkElements(c, field, n, what), maxElements: MAX_TENSOR_ELEMENTS, maxSide: MAX_IMAGE_SIDE, show };
}

/** Sizes that need the model, the data and the batch together: weights, activations, attention. */
function checkCellSizes(c: Checker, path: string, cell: ResolvedCell, batchSize: number): void {
  const { model, data } = cell;
  modelKind(model).checkSizes(modelChecks(c, `${path}.model`), model, imageSizeOf(data), batchSize);
}

function checkModel(c: Checker, path: string, m: unknown): void {
  if (!c.object(path, m)) return;
  if (!c.oneOf(`${path}.kind`, m.kind, MODEL_KIND_NAMES, 'model kind')) return;
  c.keys(path, m, MODEL_KINDS[m.kind].keys);
  MODEL_KINDS[m.kind].check(modelChecks(c, path), m);
}

const DATA_KEYS = ['kind', 'trainSize', 'testSize', 'seed', 'imageSize'] as const;

function checkData(c: Checker, path: string, d: unknown, partial: boolean): void {
  if (!c.object(path, d)) return;
  c.keys(path, d, DATA_KEYS);
  if (partial && d.kind === undefined) {
    // a cell's partial data: the kind comes from the top level (checked on the resolved cell)
  } else {
    c.oneOf(`${path}.kind`, d.kind, ['fashion-mnist', 'synthetic'] as const, 'data kind');
  }
  c.int(`${path}.trainSize`, d.trainSize, 1, { optional: true });
  c.int(`${path}.testSize`, d.testSize, 1, { optional: true });
  c.int(`${path}.seed`, d.seed, 0, { optional: true });
  c.int(`${path}.imageSize`, d.imageSize, 2, { optional: true, max: MAX_IMAGE_SIDE });
  // The images of a split are one host array and one GPU buffer.
  const side = typeof d.imageSize === 'number' && Number.isSafeInteger(d.imageSize) ? d.imageSize : SYNTHETIC_DEFAULTS.imageSize;
  for (const k of ['trainSize', 'testSize'] as const) {
    const n = d[k];
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 1) checkElements(c, `${path}.${k}`, n * side * side, `${n} images × ${side}×${side} pixels`);
  }
}

/** Checks that only make sense once a cell's model and data are combined. */
function checkResolvedCell(c: Checker, path: string, cell: ResolvedCell, spec: Obj): void {
  const { model, data } = cell;
  if (data.kind === 'fashion-mnist') {
    if (data.seed !== undefined) c.fail(`${path}.data.seed`, 'is for synthetic data only (Fashion-MNIST has no generator seed)');
    if (data.imageSize !== undefined) c.fail(`${path}.data.imageSize`, 'is for synthetic data only (Fashion-MNIST images are 28×28)');
    if (data.trainSize !== undefined && data.trainSize > FASHION_MNIST_SIZES.train) c.fail(`${path}.data.trainSize`, `Fashion-MNIST has ${FASHION_MNIST_SIZES.train} training images, got ${data.trainSize}`);
    if (data.testSize !== undefined && data.testSize > FASHION_MNIST_SIZES.test) c.fail(`${path}.data.testSize`, `Fashion-MNIST has ${FASHION_MNIST_SIZES.test} test images, got ${data.testSize}`);
  }
  const side = imageSizeOf(data);
  const patchSize = modelKind(model).patchSize(model);
  if (typeof patchSize === 'number' && side % patchSize !== 0) {
    c.fail(`${path}.model.patchSize`, `${patchSize} does not divide the image side ${side}`);
  }
  const n = trainCountOf(data);
  const { batchSize, epochs } = spec;
  if (typeof batchSize === 'number' && Number.isSafeInteger(batchSize) && batchSize >= 1) checkCellSizes(c, path, cell, Math.min(batchSize, n));
  if (typeof batchSize !== 'number' || typeof epochs !== 'number' || !(batchSize >= 1) || !(epochs >= 1)) return;
  if (batchSize > n) {
    c.fail('batchSize', `${batchSize} is larger than the ${n} training images of cell '${cell.name}'`);
    return;
  }
  const perEpoch = batchesPerEpoch(n, batchSize, true);
  const whole = (field: string, e: unknown) => {
    if (typeof e !== 'number' || !Number.isFinite(e)) return;
    const exact = e * perEpoch;
    if (Math.abs(exact - Math.round(exact)) > WHOLE_STEPS_EPS * Math.max(1, exact)) {
      c.fail(field, `${e} epochs × ${perEpoch} steps per epoch (cell '${cell.name}') = ${exact} is not a whole number of steps`);
    }
  };
  whole('warmupEpochs', spec.warmupEpochs);
  if (Array.isArray(spec.arms)) spec.arms.forEach((a, i) => whole(`arms[${i}].cutoffEpochs`, (a as Obj | null)?.cutoffEpochs));
  if (Array.isArray(spec.arms)) {
    spec.arms.forEach((a, i) => {
      if ((a as Obj | null)?.regularizer === 'stochastic-depth' && !modelKind(model).residual) {
        const residual = MODEL_KIND_NAMES.filter((k) => MODEL_KINDS[k].residual).map((k) => MODEL_KINDS[k].name);
        c.fail(`arms[${i}].regularizer`, `stochastic depth needs residual blocks (a ${residual.join(' or ')}), but cell '${cell.name}' has an ${modelKind(model).name}`);
      }
    });
  }
}

/** Keys that say "dropout" or "stochastic depth" on their own: an arm that has both kinds mixes the two. */
const DROPOUT_HINTS = ['dropout', 'dropRate', 'dropoutRate'];
const DROP_PATH_HINTS = ['stochasticDepth', 'stochastic-depth', 'dropPath', 'dropPathRate', 'drop_path'];
const ARM_KEYS = ['name', 'regularizer', 'mode', 'p', 'shape', 'cutoffEpochs', 'lr'] as const;

function checkArm(c: Checker, path: string, a: unknown, epochs: unknown): void {
  if (!c.object(path, a)) return;
  const keys = Object.keys(a);
  const saysDropout = a.regularizer === 'dropout' || keys.some((k) => DROPOUT_HINTS.includes(k));
  const saysDropPath = a.regularizer === 'stochastic-depth' || keys.some((k) => DROP_PATH_HINTS.includes(k));
  const bothInRegularizer = Array.isArray(a.regularizer) && a.regularizer.includes('dropout') && a.regularizer.includes('stochastic-depth');
  if ((saysDropout && saysDropPath) || bothInRegularizer) {
    c.fail(path, 'dropout and stochastic depth together in one arm: the paper never combines them in one run; make one arm per regularizer');
    return;
  }
  c.keys(path, a, ARM_KEYS);
  c.string(`${path}.name`, a.name, { name: true });
  c.number(`${path}.lr`, a.lr, (x) => x > 0, 'a positive learning rate', { optional: true });
  c.oneOf(`${path}.regularizer`, a.regularizer, ['dropout', 'stochastic-depth'] as const, 'regularizer');
  if (!c.oneOf(`${path}.mode`, a.mode, DROP_MODES, 'mode')) return;
  const mode = a.mode;
  if (mode === 'none') {
    if (a.p !== undefined && a.p !== 0) c.fail(`${path}.p`, `mode 'none' takes no rate (0 or absent), got ${show(a.p)}`);
  } else if (a.p === undefined) {
    c.fail(`${path}.p`, `mode '${mode}' needs a rate p in (0, 1)`);
  } else if (typeof a.p !== 'number' || !(a.p >= 0 && a.p < 1)) {
    c.fail(`${path}.p`, `rate must be in [0, 1), got ${show(a.p)}`);
  } else if (a.p === 0) {
    c.fail(`${path}.p`, `mode '${mode}' with rate 0 is the same as mode 'none'; use mode 'none'`);
  }
  if (c.oneOf(`${path}.shape`, a.shape, DROP_SHAPES, 'shape', { optional: true }) && a.shape === 'linear' && mode !== 'early') {
    c.fail(`${path}.shape`, `'linear' is defined for mode 'early' only, got mode '${mode}'`);
  }
  if (mode === 'early' || mode === 'late') {
    if (a.cutoffEpochs === undefined) c.fail(`${path}.cutoffEpochs`, `mode '${mode}' needs a cutoff (in epochs)`);
    else if (c.number(`${path}.cutoffEpochs`, a.cutoffEpochs, (x) => x > 0, 'a positive number of epochs') && typeof epochs === 'number' && a.cutoffEpochs > epochs) {
      c.fail(`${path}.cutoffEpochs`, `cutoff ${a.cutoffEpochs} is beyond training (epochs = ${epochs})`);
    }
  } else if (a.cutoffEpochs !== undefined) {
    c.fail(`${path}.cutoffEpochs`, `mode '${mode}' takes no cutoff (cutoffEpochs is for early and late)`);
  }
}

function checkMetrics(c: Checker, path: string, m: unknown): void {
  if (!c.object(path, m)) return;
  c.keys(path, m, ['denseEvery', 'denseUntil', 'every', 'numBatches', 'directions', 'dropoutDiagnostic']);
  c.int(`${path}.denseEvery`, m.denseEvery, 1);
  c.int(`${path}.denseUntil`, m.denseUntil, 0);
  c.int(`${path}.every`, m.every, 1);
  c.int(`${path}.numBatches`, m.numBatches, 2, { optional: true });
  c.boolean(`${path}.directions`, m.directions, { optional: true });
  if (m.dropoutDiagnostic !== undefined && c.object(`${path}.dropoutDiagnostic`, m.dropoutDiagnostic)) {
    c.keys(`${path}.dropoutDiagnostic`, m.dropoutDiagnostic, ['p']);
    c.number(`${path}.dropoutDiagnostic.p`, m.dropoutDiagnostic.p, (x) => x > 0 && x < 1, 'a drop rate in (0, 1)');
    if (m.directions === false) c.fail(`${path}.dropoutDiagnostic`, 'measures GDV and GDE, so it needs directions (directions is false)');
  }
}

function checkMargins(c: Checker, path: string, m: unknown): void {
  if (!c.object(path, m)) return;
  c.keys(path, m, ['testAccuracy', 'finalTrainLoss']);
  for (const field of ['testAccuracy', 'finalTrainLoss'] as const) {
    const at = `${path}.${field}`;
    const v = m[field];
    if (!c.object(at, v)) continue;
    c.keys(at, v, ['value', 'reason']);
    c.number(`${at}.value`, v.value, (x) => x > 0, 'a positive margin (in the field\'s units: accuracy as a fraction, loss in nats)');
    c.string(`${at}.reason`, v.reason);
  }
}

function checkSelection(c: Checker, path: string, s: unknown): void {
  if (!c.object(path, s)) return;
  c.keys(path, s, ['note', 'preset', 'seeds']);
  c.string(`${path}.note`, s.note);
  c.string(`${path}.preset`, s.preset, { optional: true });
  if (s.seeds !== undefined) {
    if (!Array.isArray(s.seeds)) c.fail(`${path}.seeds`, `must be an array of seeds, got ${show(s.seeds)}`);
    else s.seeds.forEach((v, i) => c.int(`${path}.seeds[${i}]`, v, 0, { max: 0xffffffff }));
  }
}

const TOP_KEYS = [
  'name', 'description', 'model', 'data', 'cells', 'arms', 'seeds', 'epochs', 'batchSize', 'lr', 'minLr',
  'weightDecay', 'warmupEpochs', 'labelSmoothing', 'augment', 'metrics', 'curveEvery', 'margins', 'alpha', 'selection',
] as const;

/**
 * Checks a spec (parsed JSON) and returns it typed. Throws a SpecError listing every problem as
 * `<field path>: <problem>`.
 */
export function validateSpec(json: unknown): ExperimentSpec {
  const c = new Checker();
  if (!c.object('spec', json)) throw new SpecError(c.problems);
  const s = json;
  c.keys('', s, TOP_KEYS);
  c.string('name', s.name, { name: true });
  if (s.description !== undefined && typeof s.description !== 'string') c.fail('description', `must be a string, got ${show(s.description)}`);
  checkModel(c, 'model', s.model);
  checkData(c, 'data', s.data, false);
  const epochsOk = c.int('epochs', s.epochs, 1);
  c.int('batchSize', s.batchSize, 1);
  const lrOk = c.number('lr', s.lr, (x) => x > 0, 'a positive number');
  if (c.number('minLr', s.minLr, (x) => x >= 0, 'a number >= 0', { optional: true }) && lrOk && (s.minLr as number) > (s.lr as number)) {
    c.fail('minLr', `must not exceed lr = ${s.lr}, got ${s.minLr}`);
  }
  c.number('weightDecay', s.weightDecay, (x) => x >= 0, 'a number >= 0');
  if (c.number('warmupEpochs', s.warmupEpochs, (x) => x >= 0, 'a number of epochs >= 0') && epochsOk && (s.warmupEpochs as number) > (s.epochs as number)) {
    c.fail('warmupEpochs', `warmup ${s.warmupEpochs} is beyond training (epochs = ${s.epochs})`);
  }
  c.number('labelSmoothing', s.labelSmoothing, (x) => x >= 0 && x < 1, 'in [0, 1)');
  if (s.augment !== undefined && c.object('augment', s.augment)) {
    c.keys('augment', s.augment, ['shift', 'flip']);
    c.int('augment.shift', s.augment.shift, 0, { optional: true, max: 16 });
    c.boolean('augment.flip', s.augment.flip, { optional: true });
  }
  if (s.metrics !== undefined) checkMetrics(c, 'metrics', s.metrics);
  c.int('curveEvery', s.curveEvery, 1, { optional: true });
  if (s.margins !== undefined) checkMargins(c, 'margins', s.margins);
  c.number('alpha', s.alpha, (x) => x > 0 && x < 0.5, 'a level in (0, 0.5)', { optional: true });
  if (s.selection !== undefined) checkSelection(c, 'selection', s.selection);

  // seeds
  if (!Array.isArray(s.seeds)) c.fail('seeds', `must be a non-empty array of integer seeds, got ${show(s.seeds)}`);
  else if (s.seeds.length === 0) c.fail('seeds', 'is empty: give at least one seed');
  else {
    const seen = new Set<number>();
    s.seeds.forEach((v, i) => {
      if (c.int(`seeds[${i}]`, v, 0, { max: 0xffffffff })) {
        if (seen.has(v)) c.fail(`seeds[${i}]`, `seed ${v} appears twice`);
        seen.add(v);
      }
    });
  }

  // arms
  if (!Array.isArray(s.arms)) c.fail('arms', `must be a non-empty array of arms, got ${show(s.arms)}`);
  else if (s.arms.length === 0) c.fail('arms', 'is empty: give at least one arm');
  else {
    const names = new Map<string, number>();
    s.arms.forEach((a, i) => {
      checkArm(c, `arms[${i}]`, a, s.epochs);
      const name = (a as Obj | null)?.name;
      if (typeof name === 'string') {
        if (names.has(name)) c.fail(`arms[${i}].name`, `duplicate arm name '${name}' (also arms[${names.get(name)}])`);
        else names.set(name, i);
      }
    });
  }

  // cells
  if (s.cells !== undefined) {
    if (!Array.isArray(s.cells) || s.cells.length === 0) c.fail('cells', `must be a non-empty array when given, got ${show(s.cells)}`);
    else {
      const names = new Map<string, number>();
      s.cells.forEach((cell, i) => {
        const path = `cells[${i}]`;
        if (!c.object(path, cell)) return;
        c.keys(path, cell, ['name', 'model', 'data']);
        if (c.string(`${path}.name`, cell.name, { name: true })) {
          if (names.has(cell.name)) c.fail(`${path}.name`, `duplicate cell name '${cell.name}' (also cells[${names.get(cell.name)}])`);
          else names.set(cell.name, i);
        }
        if (cell.model !== undefined) checkModel(c, `${path}.model`, cell.model);
        if (cell.data !== undefined) checkData(c, `${path}.data`, cell.data, true);
      });
    }
  }

  // Combined checks, only when the parts are sound (else they would repeat the same problem).
  if (c.problems.length === 0) {
    const spec = s as unknown as ExperimentSpec;
    const cells = resolveCells(spec);
    cells.forEach((cell, i) => checkResolvedCell(c, spec.cells ? `cells[${i}]` : 'spec', cell, s));
    const minLr = spec.minLr ?? 0;
    spec.arms.forEach((a, i) => {
      if (a.lr !== undefined && a.lr < minLr) c.fail(`arms[${i}].lr`, `must not be below minLr = ${minLr}, got ${a.lr}`);
    });
    const reused = (spec.selection?.seeds ?? []).filter((x) => spec.seeds.includes(x));
    if (reused.length) c.fail('seeds', `seed${reused.length > 1 ? 's' : ''} ${reused.join(', ')} selected the cells (selection.seeds) and cannot confirm them: use fresh seeds`);
    const m = spec.metrics;
    if (m && m.denseUntil > 0 && m.denseUntil < m.denseEvery) c.fail('metrics.denseUntil', `${m.denseUntil} is below denseEvery ${m.denseEvery}: no dense point would be measured after step 0`);
    // One measurement's |G| mini-batches must be disjoint (analysis.ts measurementBatches).
    const perPoint = m && m.directions !== false ? (m.numBatches ?? 16) * spec.batchSize : 0;
    cells.forEach((cell) => {
      if (perPoint > trainCountOf(cell.data)) c.fail('metrics.numBatches', `|G| = ${m!.numBatches ?? 16} batches × batch ${spec.batchSize} = ${perPoint} samples exceed the ${trainCountOf(cell.data)} training images of cell '${cell.name}': measurement batches would overlap`);
    });
  }
  if (c.problems.length) throw new SpecError([...new Set(c.problems)]);
  return s as unknown as ExperimentSpec;
}

/** The cells of a spec with the top-level model and data applied (one default cell when none are given). */
export function resolveCells(spec: ExperimentSpec): ResolvedCell[] {
  const cells: CellSpec[] = spec.cells ?? [{ name: 'default' }];
  return cells.map((cell) => ({
    name: cell.name,
    model: cell.model ?? spec.model,
    data: { ...spec.data, ...(cell.data ?? {}) } as DataSpec,
  }));
}

/** Training images a data spec yields. */
export function trainCountOf(data: DataSpec): number {
  if (data.kind === 'fashion-mnist') return data.trainSize ?? FASHION_MNIST_SIZES.train;
  return data.trainSize ?? SYNTHETIC_DEFAULTS.trainSize;
}

export function testCountOf(data: DataSpec): number {
  if (data.kind === 'fashion-mnist') return data.testSize ?? FASHION_MNIST_SIZES.test;
  return data.testSize ?? SYNTHETIC_DEFAULTS.testSize;
}

export function imageSizeOf(data: DataSpec): number {
  return data.kind === 'fashion-mnist' ? FASHION_MNIST_SIZES.imageSize : data.imageSize ?? SYNTHETIC_DEFAULTS.imageSize;
}

/** Optimizer steps per epoch of a cell (the last partial batch is dropped, as the trainer does). */
export function stepsPerEpochOf(spec: ExperimentSpec, cell: ResolvedCell): number {
  return batchesPerEpoch(trainCountOf(cell.data), spec.batchSize, true);
}

export function totalStepsOf(spec: ExperimentSpec, cell: ResolvedCell): number {
  return spec.epochs * stepsPerEpochOf(spec, cell);
}

/**
 * The steps at which a run measures its analysis metrics: every `denseEvery` steps in
 * [0, denseUntil), then every `every` steps from denseUntil on, and always the last step T−1.
 * A measurement at step t sees the weights after t updates (before step t is taken).
 */
export function metricSteps(m: MetricScheduleSpec | undefined, totalSteps: number): number[] {
  if (!m) return [];
  const steps = new Set<number>();
  for (let t = 0; t < Math.min(m.denseUntil, totalSteps); t += m.denseEvery) steps.add(t);
  for (let t = m.denseUntil; t < totalSteps; t += m.every) steps.add(t);
  steps.add(totalSteps - 1);
  return [...steps].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// --quick
// ---------------------------------------------------------------------------------------------

/**
 * The limits `--quick` applies. Sized for SwiftShader, where a step of even a tiny ViT costs about a
 * second at batch 16 (and the cost grows with batch and tokens), and one metric point costs |G|
 * steps plus a pass over the training set: so few images, few steps, few points.
 */
export const QUICK = {
  seeds: 2,
  trainSize: 96,
  testSize: 128,
  epochs: 2,
  batchSize: 16,
  /** ViT / Mixer: width, depth and heads at most these; patches as large as half the image side. */
  dim: 32,
  depth: 2,
  numHeads: 2,
  /** MLP: each hidden width at most this, at most two hidden layers. */
  hidden: 64,
  /** Metric points per run at most this many, with |G| at most numBatches. */
  metricPoints: 4,
  numBatches: 3,
} as const;

/** Rounds a fraction of training to a whole number of steps (at least `min`) and back to epochs. */
function epochsForFraction(fraction: number, epochs: number, perEpoch: number, min = 1): number {
  const steps = Math.max(min, Math.round(fraction * epochs * perEpoch));
  return steps / perEpoch;
}

/**
 * The `--quick` version of a spec: the same experiment (cells, arms, modes, rates and shapes), made
 * small enough for a few minutes on SwiftShader. Deterministic; the limits are QUICK's:
 * - the first 2 seeds; at most 96 training and 128 test images; 2 epochs; batch 16;
 * - models capped: ViT/Mixer width 32, depth 2, 2 heads, patches of half the image side (14 on
 *   28×28: 4 tokens); MLP widths 64, two hidden layers at most;
 * - cutoffs and warmup keep their fraction of training, rounded to whole steps (cutoffs at least one);
 * - the metric schedule keeps its fractions (dense part and spacing), coarsened to at most 4 points
 *   per run, |G| at most 3;
 * - the name gets the suffix '-quick'.
 * Cells with different data sizes stay different: every train size is scaled by the same factor
 * as the largest one (so a 10× data ratio stays 10×, rounded; at least two batches).
 */
export function quickSpec(input: ExperimentSpec): ExperimentSpec {
  const spec = validateSpec(structuredClone(input));
  const cells = resolveCells(spec);
  const largest = Math.max(...cells.map((c) => trainCountOf(c.data)));
  const scale = Math.min(1, QUICK.trainSize / largest);
  const batchSize = Math.min(QUICK.batchSize, spec.batchSize);
  const shrinkData = (d: Partial<DataSpec>, full: DataSpec): Partial<DataSpec> => {
    const n = Math.max(2 * batchSize, Math.round(trainCountOf(full) * scale));
    return { ...d, trainSize: n, testSize: Math.min(QUICK.testSize, testCountOf(full)) };
  };
  const shrinkModel = (m: ModelSpec, data: DataSpec): ModelSpec => modelKind(m).quick(m, imageSizeOf(data), QUICK);
  const epochs = Math.min(spec.epochs, QUICK.epochs);
  const out: ExperimentSpec = {
    ...spec,
    name: `${spec.name}-quick`,
    // Not the full preset's prose: its sizes, |G| and schedule are not what ran (the report's Setup gives those).
    description: `The --quick variant of preset '${spec.name}': the same cells, arms, modes, rates and shapes, shrunk to a few minutes on a software adapter (fewer seeds, images, epochs and steps, smaller models). A smoke test of the pipeline, not evidence about the paper.`,
    seeds: spec.seeds.slice(0, QUICK.seeds),
    epochs,
    batchSize,
    model: shrinkModel(spec.model, spec.data),
    data: { ...spec.data, ...shrinkData({}, spec.data) } as DataSpec,
  };
  if (spec.cells) {
    out.cells = spec.cells.map((cell, i) => ({
      ...cell,
      ...(cell.model ? { model: shrinkModel(cell.model, cells[i].data) } : {}),
      data: shrinkData(cell.data ?? {}, cells[i].data),
    }));
  }
  // Fractions of training must land on whole steps in every cell; cells differ in steps per
  // epoch, so round in the smallest cell's steps and fall back to whole epochs if another misses.
  const quickCells = resolveCells(out);
  const perEpochs = quickCells.map((c) => stepsPerEpochOf(out, c));
  const perEpoch = Math.min(...perEpochs);
  const fits = (e: number) => perEpochs.every((p) => Math.abs(e * p - Math.round(e * p)) <= WHOLE_STEPS_EPS * Math.max(1, e * p));
  const toEpochs = (fraction: number, min: number) => {
    const e = epochsForFraction(fraction, epochs, perEpoch, min);
    return fits(e) ? e : Math.max(min, Math.round(e));
  };
  out.warmupEpochs = toEpochs(spec.warmupEpochs / spec.epochs, 0);
  out.arms = spec.arms.map((a) => (a.cutoffEpochs === undefined ? { ...a } : { ...a, cutoffEpochs: Math.min(epochs, toEpochs(a.cutoffEpochs / spec.epochs, 1)) }));
  if (spec.metrics) {
    const fullSteps = Math.max(...resolveCells(spec).map((c) => totalStepsOf(spec, c)));
    const quickSteps = Math.max(...quickCells.map((c) => totalStepsOf(out, c)));
    const f = quickSteps / fullSteps;
    let denseEvery = Math.max(1, Math.round(spec.metrics.denseEvery * f));
    let every = Math.max(1, Math.round(spec.metrics.every * f));
    const denseUntil = Math.max(denseEvery, Math.round(spec.metrics.denseUntil * f));
    // Coarsen (both spacings together, keeping their ratio) until few enough points remain.
    const points = () => metricSteps({ denseEvery, denseUntil, every }, quickSteps).length;
    while (points() > QUICK.metricPoints && (denseEvery < quickSteps || every < quickSteps)) {
      denseEvery = Math.min(quickSteps, denseEvery * 2);
      every = Math.min(quickSteps, every * 2);
    }
    out.metrics = {
      ...spec.metrics,
      denseEvery,
      denseUntil: Math.max(denseEvery, denseUntil),
      every,
      numBatches: Math.min(spec.metrics.numBatches ?? 16, QUICK.numBatches),
    };
  }
  if (spec.curveEvery !== undefined) out.curveEvery = 1;
  return validateSpec(out);
}

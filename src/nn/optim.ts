/**
 * Optimizers with PyTorch's semantics: AdamW (decoupled weight decay) and SGD (momentum, optional
 * Nesterov, coupled weight decay). Each parameter is updated by one fused kernel dispatch
 * (shaders/optim.wgsl) that rewrites the parameter and its state buffers in place: no temporaries,
 * no readback, nothing allocated after construction.
 *
 *   const opt = new AdamW(model.namedParameters(), { lr: 1e-3, weightDecay: 0.05 });
 *   for (...) { opt.zeroGrad(); loss(...).backward(); opt.lr = schedule(t); opt.step(); }
 *
 * Parameter groups. By default parameters are split by `Parameter.weightDecay`: those with `true`
 * (weights of rank >= 2) get the optimizer's weight decay, the others (biases, norms, position
 * embedding, cls token) none. Explicit groups `[{ params, weightDecay, lrScale }]` override that.
 * A group's learning rate is `optimizer.lr * lrScale`, so a schedule sets one number per step.
 *
 * PyTorch details kept: a parameter whose `.grad` is null this step is skipped (its state and its
 * own step count do not move, as PyTorch's per-parameter `state['step']`); bias corrections use
 * that per-parameter count; SGD's momentum buffer starts as the first gradient itself.
 */
import optimSrc from '../../shaders/optim.wgsl';
import { engine } from '../runtime/engine.js';
import { defineKernel } from '../runtime/kernel.js';
import { keep } from '../runtime/scope.js';
import { Tensor, type Shape } from '../runtime/tensor.js';
import { zeros } from './functional/creation.js';
import { grid1d, Params } from '../runtime/params.js';
import { Parameter } from './module.js';

const OPTIM = defineKernel('optim', optimSrc);

/** Plain tensors (named '0', '1', ... by position) or `[name, tensor]` pairs (`module.namedParameters()`). */
export type ParamList = readonly Tensor[] | readonly (readonly [string, Tensor])[];

export interface ParamGroupSpec {
  params: ParamList;
  /** This group's weight decay (AdamW: decoupled; SGD: added to the gradient). Default: the optimizer's. */
  weightDecay?: number;
  /** Multiplies `optimizer.lr` for this group. Default 1. */
  lrScale?: number;
}

export interface ParamGroup {
  readonly names: readonly string[];
  readonly params: readonly Tensor[];
  weightDecay: number;
  lrScale: number;
}

/** Host-side scalars kept in a checkpoint (JSON-safe). */
export interface OptimizerMeta {
  /** 'AdamW' or 'SGD': loading one into the other is an error. */
  kind: string;
  /** Number of step() calls so far. */
  step: number;
  lr: number;
  /** betas, eps (AdamW); momentum, dampening, nesterov (SGD). */
  hyperparameters: Record<string, number | boolean>;
  groups: { names: string[]; weightDecay: number; lrScale: number }[];
  /** Per-parameter update counts (PyTorch's state['step']; bias corrections use them). */
  paramSteps: Record<string, number>;
}

export type StateValue = Tensor | Float32Array | { shape: Shape; data: Float32Array };

export interface OptimizerStateDict extends OptimizerMeta {
  /**
   * The state tensors by `<param name>.<slot>` (AdamW: exp_avg, exp_avg_sq; SGD with momentum:
   * momentum_buffer). stateDict() returns the live tensors themselves, not copies: read them
   * (toArray) before the next step, and do not dispose them.
   */
  tensors: Record<string, StateValue>;
}

function checkFinite(op: string, what: string, v: unknown, min: number, minInclusive = true): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (minInclusive ? v < min : v <= min)) {
    throw new Error(`${op}: ${what} must be a finite number ${minInclusive ? '>=' : '>'} ${min}, got ${v}`);
  }
  return v;
}

function checkBeta(op: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) {
    throw new Error(`${op}: ${what} must be in [0, 1), got ${v}`);
  }
  return v;
}

export interface OptimizerEntry {
  name: string;
  param: Tensor;
  group: ParamGroup;
  /** Updates applied to this parameter (skipped steps do not count). */
  steps: number;
  /** State tensors by slot name, allocated once (zeros) at construction. */
  state: Record<string, Tensor>;
}

function isNamedList(list: ParamList): list is readonly (readonly [string, Tensor])[] {
  return list.length > 0 && Array.isArray(list[0]);
}

function isGroupList(input: ParamList | readonly ParamGroupSpec[]): input is readonly ParamGroupSpec[] {
  const first = input[0];
  return first !== undefined && !Array.isArray(first) && !(first instanceof Tensor) && typeof first === 'object' && 'params' in first;
}

export abstract class Optimizer {
  readonly groups: readonly ParamGroup[];
  /** Number of step() calls so far. */
  stepCount = 0;
  protected readonly entries: OptimizerEntry[] = [];
  private _lr: number;
  private disposed = false;

  protected constructor(
    readonly kind: string,
    params: ParamList | readonly ParamGroupSpec[],
    lr: number,
    defaultWeightDecay: number,
    private readonly slots: readonly string[],
  ) {
    this._lr = checkFinite(kind, 'lr', lr, 0);
    checkFinite(kind, 'weightDecay', defaultWeightDecay, 0);
    if (!Array.isArray(params)) throw new Error(`${kind}: expected an array of parameters, [name, parameter] pairs or parameter groups`);
    const specs: ParamGroupSpec[] = isGroupList(params) ? [...params] : this.defaultGroups(params as ParamList, defaultWeightDecay);
    if (specs.length === 0) throw new Error(`${kind}: got an empty parameter list`);
    const seen = new Map<Tensor, string>();
    const names = new Set<string>();
    let index = 0;
    const groups: ParamGroup[] = [];
    for (const [gi, spec] of specs.entries()) {
      if (!spec || !Array.isArray(spec.params)) throw new Error(`${kind}: group ${gi} needs a params array`);
      const weightDecay = checkFinite(kind, `weightDecay of group ${gi}`, spec.weightDecay ?? defaultWeightDecay, 0);
      const lrScale = checkFinite(kind, `lrScale of group ${gi}`, spec.lrScale ?? 1, 0);
      const named: [string, Tensor][] = isNamedList(spec.params)
        ? spec.params.map(([n, p]) => [n, p])
        : (spec.params as readonly Tensor[]).map((p) => [String(index++), p]);
      const group: ParamGroup = { names: named.map(([n]) => n), params: named.map(([, p]) => p), weightDecay, lrScale };
      for (const [name, p] of named) {
        this.checkParam(name, p);
        if (seen.has(p)) throw new Error(`${kind}: parameter '${name}' appears more than once (also as '${seen.get(p)}')`);
        if (names.has(name)) throw new Error(`${kind}: two parameters are named '${name}'`);
        seen.set(p, name);
        names.add(name);
        this.entries.push({ name, param: p, group, steps: 0, state: {} });
      }
      groups.push(group);
    }
    if (this.entries.length === 0) throw new Error(`${kind}: got an empty parameter list`);
    this.groups = groups;
    // State is allocated once, here: steps allocate nothing. keep(): no enclosing tidy() frees it.
    for (const e of this.entries) for (const slot of slots) e.state[slot] = keep(zeros(e.param.shape));
  }

  /** Weights (Parameter.weightDecay, or rank >= 2 for plain tensors) get `wd`; the rest none. */
  private defaultGroups(list: ParamList, wd: number): ParamGroupSpec[] {
    const named: [string, Tensor][] = isNamedList(list) ? list.map(([n, p]) => [n, p]) : (list as readonly Tensor[]).map((p, i) => [String(i), p]);
    const decays = (p: Tensor) => (p instanceof Parameter ? p.weightDecay : p.rank >= 2);
    const decay = named.filter(([, p]) => p instanceof Tensor && decays(p));
    const noDecay = named.filter(([, p]) => !(p instanceof Tensor && decays(p)));
    const groups: ParamGroupSpec[] = [];
    if (decay.length) groups.push({ params: decay, weightDecay: wd });
    if (noDecay.length) groups.push({ params: noDecay, weightDecay: 0 });
    return groups;
  }

  private checkParam(name: string, p: Tensor): void {
    if (typeof name !== 'string' || name === '') throw new Error(`${this.kind}: parameter names must be non-empty strings, got ${JSON.stringify(name)}`);
    if (!(p instanceof Tensor)) throw new Error(`${this.kind}: parameter '${name}' is not a Tensor`);
    p.buffer(`${this.kind}: parameter '${name}'`);
    if (p.dtype !== 'f32') throw new Error(`${this.kind}: parameter '${name}' is ${p.dtype} (shape [${p.shape}]); only f32 parameters can be optimized`);
    if (!p.isLeaf) throw new Error(`${this.kind}: parameter '${name}' is the output of '${p.gradFn!.op}', not a leaf; optimizers update leaf tensors only`);
  }

  get lr(): number {
    return this._lr;
  }
  /** Set every step by the trainer from the LR schedule. */
  set lr(value: number) {
    this._lr = checkFinite(this.kind, 'lr', value, 0);
  }

  /** Every parameter with its name, in group order. */
  namedParameters(): [string, Tensor][] {
    return this.entries.map((e) => [e.name, e.param]);
  }

  /** Applies one update to every parameter that has a gradient; recorded on the GPU, not awaited. */
  step(): void {
    this.checkAlive();
    // Validate every gradient first so that a bad one leaves no parameter half-updated.
    const active: OptimizerEntry[] = [];
    for (const e of this.entries) {
      const p = e.param;
      const where = `${this.kind}.step: parameter '${e.name}'`;
      p.buffer(where);
      const g = p.grad;
      if (!g) continue;
      if (g.dtype !== 'f32') throw new Error(`${where} has a ${g.dtype} gradient; expected f32`);
      if (g.shape.join() !== p.shape.join()) throw new Error(`${where} has shape [${p.shape}] but its gradient has shape [${g.shape}]`);
      if (g.buffer(where) === p.buffer(where)) throw new Error(`${where} shares storage with its own gradient`);
      active.push(e);
    }
    this.stepCount++;
    for (const e of active) {
      e.steps++;
      if (e.param.size === 0) continue;
      this.update(e, this._lr * e.group.lrScale);
    }
  }

  /** Records the fused update of one parameter (its grad is checked and non-null). */
  protected abstract update(e: OptimizerEntry, lr: number): void;

  protected dispatchUpdate(e: OptimizerEntry, defines: Record<string, boolean>, uniforms: Params, state: Tensor[]): void {
    const where = `${this.kind}.step`;
    engine().dispatch({
      kernel: OPTIM,
      defines,
      buffers: [e.param.buffer(where), e.param.grad!.buffer(where), ...state.map((t) => t.buffer(where))],
      uniforms,
      workgroups: grid1d(e.param.size),
    });
  }

  /** Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const e of this.entries) e.param.zeroGrad();
  }

  protected abstract hyperparameters(): Record<string, number | boolean>;
  protected abstract setHyperparameters(h: Record<string, number | boolean>): void;

  /**
   * Everything needed to resume bit-identically: step counts, learning rate, hyperparameters,
   * group weight decays and the state tensors (the live ones, see OptimizerStateDict.tensors).
   */
  stateDict(): OptimizerStateDict & { tensors: Record<string, Tensor> } {
    this.checkAlive();
    const tensors: Record<string, Tensor> = {};
    const paramSteps: Record<string, number> = {};
    for (const e of this.entries) {
      paramSteps[e.name] = e.steps;
      for (const slot of this.slots) tensors[`${e.name}.${slot}`] = e.state[slot];
    }
    return {
      kind: this.kind,
      step: this.stepCount,
      lr: this._lr,
      hyperparameters: this.hyperparameters(),
      groups: this.groups.map((g) => ({ names: [...g.names], weightDecay: g.weightDecay, lrScale: g.lrScale })),
      paramSteps,
      tensors,
    };
  }

  /**
   * Restores a stateDict() (possibly read back from a checkpoint). The kind, the groups' parameter
   * names and every state tensor's name and shape must match this optimizer; any mismatch is an
   * error listing the problems, and nothing is changed then.
   */
  loadStateDict(state: OptimizerStateDict): void {
    this.checkAlive();
    const op = `${this.kind}.loadStateDict`;
    if (!state || typeof state !== 'object') throw new Error(`${op}: expected a state dict object`);
    if (state.kind !== this.kind) throw new Error(`${op}: the state is from a ${state.kind} optimizer, not ${this.kind}`);
    const problems: string[] = [];
    const groups = state.groups ?? [];
    if (groups.length !== this.groups.length) {
      problems.push(`${groups.length} parameter groups in the state, ${this.groups.length} here`);
    } else {
      for (const [i, g] of this.groups.entries()) {
        const theirs = groups[i].names ?? [];
        if (theirs.join('\n') !== g.names.join('\n')) problems.push(`group ${i} holds [${theirs.join(', ')}] in the state but [${g.names.join(', ')}] here`);
      }
    }
    const tensors = state.tensors ?? {};
    const expected = new Map<string, Tensor>();
    for (const e of this.entries) for (const slot of this.slots) expected.set(`${e.name}.${slot}`, e.state[slot]);
    const missing = [...expected.keys()].filter((k) => !(k in tensors));
    const extra = Object.keys(tensors).filter((k) => !expected.has(k));
    if (missing.length) problems.push(`missing ${missing.join(', ')}`);
    if (extra.length) problems.push(`unexpected ${extra.join(', ')}`);
    for (const [name, t] of expected) {
      const v = tensors[name];
      if (!v) continue;
      if (v instanceof Float32Array) {
        if (v.length !== t.size) problems.push(`${name}: expected ${t.size} values (shape [${t.shape}]), got ${v.length}`);
      } else if (v instanceof Tensor) {
        if (v.dtype !== 'f32' || v.shape.join() !== t.shape.join()) problems.push(`${name}: expected shape [${t.shape}] f32, got [${v.shape}] ${v.dtype}`);
      } else if (!(v.data instanceof Float32Array) || !Array.isArray(v.shape) || v.shape.join() !== t.shape.join() || v.data.length !== t.size) {
        problems.push(`${name}: expected shape [${t.shape}] with ${t.size} f32 values, got [${v.shape}]`);
      }
    }
    for (const e of this.entries) {
      const s = state.paramSteps?.[e.name];
      if (!Number.isInteger(s) || s! < 0) problems.push(`paramSteps['${e.name}'] must be a non-negative integer, got ${s}`);
    }
    if (!Number.isInteger(state.step) || state.step < 0) problems.push(`step must be a non-negative integer, got ${state.step}`);
    if (problems.length) throw new Error(`${op}: ${problems.join('; ')}`);
    // Scalars next (they validate themselves and may throw before any tensor is written).
    const restored = { lr: checkFinite(op, 'lr', state.lr, 0) };
    const wds = groups.map((g, i) => checkFinite(op, `weightDecay of group ${i}`, g.weightDecay, 0));
    const scales = groups.map((g, i) => checkFinite(op, `lrScale of group ${i}`, g.lrScale, 0));
    this.setHyperparameters(state.hyperparameters ?? {});
    this._lr = restored.lr;
    this.groups.forEach((g, i) => {
      g.weightDecay = wds[i];
      g.lrScale = scales[i];
    });
    this.stepCount = state.step;
    for (const e of this.entries) {
      e.steps = state.paramSteps[e.name];
      for (const slot of this.slots) {
        const v = tensors[`${e.name}.${slot}`];
        if (v === e.state[slot]) continue;
        e.state[slot].assign(v instanceof Tensor || v instanceof Float32Array ? v : v.data);
      }
    }
  }

  /** Releases the state buffers (the parameters belong to their module). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const e of this.entries) for (const t of Object.values(e.state)) t.dispose();
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error(`${this.kind}: this optimizer was disposed`);
  }
}

export interface AdamWOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Default [0.9, 0.999]; each in [0, 1). */
  betas?: readonly [number, number];
  /** Added to sqrt(v̂); default 1e-8; must be > 0. */
  eps?: number;
  /** Decoupled weight decay for the default decay group; default 0.01 (PyTorch's). */
  weightDecay?: number;
}

/**
 * AdamW as torch.optim.AdamW (amsgrad and maximize not supported):
 * p ← p − lr·wd·p; m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; p ← p − lr·m̂/(√v̂ + eps).
 */
export class AdamW extends Optimizer {
  private beta1: number;
  private beta2: number;
  private eps: number;

  constructor(params: ParamList | readonly ParamGroupSpec[], options: AdamWOptions = {}) {
    const [b1, b2] = AdamW.checkBetas('AdamW', options.betas ?? [0.9, 0.999]);
    const eps = checkFinite('AdamW', 'eps', options.eps ?? 1e-8, 0, false);
    super('AdamW', params, options.lr ?? 1e-3, options.weightDecay ?? 0.01, ['exp_avg', 'exp_avg_sq']);
    this.beta1 = b1;
    this.beta2 = b2;
    this.eps = eps;
  }

  private static checkBetas(op: string, betas: unknown): [number, number] {
    if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`${op}: betas must be a pair [beta1, beta2], got ${JSON.stringify(betas)}`);
    return [checkBeta(op, 'beta1', betas[0]), checkBeta(op, 'beta2', betas[1])];
  }

  get betas(): [number, number] {
    return [this.beta1, this.beta2];
  }

  protected update(e: OptimizerEntry, lr: number): void {
    // Float64 on the host, one rounding to f32 per scalar (1 − 0.999^t is 1e-3 at t = 1).
    const t = e.steps;
    const stepSize = lr / (1 - this.beta1 ** t);
    const invSqrtBc2 = 1 / Math.sqrt(1 - this.beta2 ** t);
    const uniforms = new Params()
      .u32('n', e.param.size).pad(3)
      .f32('decay', 1 - lr * e.group.weightDecay)
      .f32('step_size', stepSize)
      .f32('beta1', this.beta1).f32('one_minus_beta1', 1 - this.beta1)
      .f32('beta2', this.beta2).f32('one_minus_beta2', 1 - this.beta2)
      .f32('inv_sqrt_bc2', invSqrtBc2)
      .f32('eps', this.eps);
    this.dispatchUpdate(e, { ADAMW: true, MOMENTUM: false, NESTEROV: false }, uniforms, [e.state.exp_avg, e.state.exp_avg_sq]);
  }

  protected hyperparameters(): Record<string, number | boolean> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps };
  }

  protected setHyperparameters(h: Record<string, number | boolean>): void {
    const op = 'AdamW.loadStateDict';
    const [b1, b2] = AdamW.checkBetas(op, [h.beta1, h.beta2]);
    const eps = checkFinite(op, 'eps', h.eps, 0, false);
    this.beta1 = b1;
    this.beta2 = b2;
    this.eps = eps;
  }
}

export interface SGDOptions {
  /** Required (PyTorch has no default either). */
  lr: number;
  /** Default 0 (plain SGD, no state). */
  momentum?: number;
  /** Default 0. */
  dampening?: number;
  /** Nesterov momentum; needs momentum > 0 and dampening 0. */
  nesterov?: boolean;
  /** Coupled weight decay (added to the gradient) for the default decay group; default 0. */
  weightDecay?: number;
}

/**
 * SGD as torch.optim.SGD (maximize not supported): d = g + wd·p; buf = μ·buf + (1−dampening)·d
 * (buf = d on the first update); p ← p − lr·(nesterov ? d + μ·buf : buf).
 */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;

  constructor(params: ParamList | readonly ParamGroupSpec[], options: SGDOptions) {
    if (!options || options.lr === undefined) throw new Error('SGD: lr is required');
    const momentum = checkFinite('SGD', 'momentum', options.momentum ?? 0, 0);
    const dampening = checkFinite('SGD', 'dampening', options.dampening ?? 0, 0);
    const nesterov = options.nesterov ?? false;
    if (nesterov && (momentum <= 0 || dampening !== 0)) {
      throw new Error(`SGD: nesterov needs momentum > 0 and dampening 0, got momentum ${momentum} and dampening ${dampening}`);
    }
    super('SGD', params, options.lr, options.weightDecay ?? 0, momentum > 0 ? ['momentum_buffer'] : []);
    this.momentum = momentum;
    this.dampening = dampening;
    this.nesterov = nesterov;
  }

  protected update(e: OptimizerEntry, lr: number): void {
    const hasMomentum = this.momentum > 0;
    const uniforms = new Params()
      .u32('n', e.param.size).u32('first', e.steps === 1 ? 1 : 0).pad(2)
      .f32('lr', lr)
      .f32('weight_decay', e.group.weightDecay)
      .f32('momentum', this.momentum)
      .f32('one_minus_dampening', 1 - this.dampening);
    this.dispatchUpdate(e, { ADAMW: false, MOMENTUM: hasMomentum, NESTEROV: this.nesterov }, uniforms, hasMomentum ? [e.state.momentum_buffer] : []);
  }

  protected hyperparameters(): Record<string, number | boolean> {
    return { momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov };
  }

  /** momentum, dampening and nesterov decide the state layout: they must match, not be restored. */
  protected setHyperparameters(h: Record<string, number | boolean>): void {
    const mine = this.hyperparameters();
    const diff = Object.keys(mine).filter((k) => h[k] !== mine[k]);
    if (diff.length) {
      throw new Error(`SGD.loadStateDict: ${diff.map((k) => `${k} is ${h[k]} in the state but ${mine[k]} here`).join('; ')}`);
    }
  }
}

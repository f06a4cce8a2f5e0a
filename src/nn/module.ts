/**
 * Module and Parameter, with PyTorch's names: nested modules give stable dotted parameter names
 * (`blocks.0.attn.qkv.weight`), `train()` / `eval()` switch dropout-like layers, `setGenerator()`
 * gives them their random stream, `stateDict()` / `loadStateDict()` move weights in and out.
 */
import { Tensor, type Shape } from '../runtime/tensor.js';
import { keep } from '../runtime/scope.js';
import { Generator } from '../runtime/generator.js';

export interface ParameterOptions {
  /**
   * Whether AdamW's decoupled weight decay applies. Default: true for tensors of rank >= 2
   * (weights), false otherwise (biases, norm scales). Position embeddings and the cls token set it
   * to false explicitly, as in the paper's recipe.
   */
  weightDecay?: boolean;
}

/** A leaf tensor that requires grad and belongs to a module (never disposed by tidy()). */
export class Parameter extends Tensor {
  readonly weightDecay: boolean;
  /** Adopts `init`'s storage (no copy) and disposes the `init` handle. */
  constructor(init: Tensor, options: ParameterOptions = {}) {
    if (init.dtype !== 'f32') throw new Error(`Parameter: needs an f32 tensor, got ${init.dtype} (shape [${init.shape}])`);
    super(init.shareStorage(), init.shape, 'f32');
    keep(this);
    init.dispose();
    this.requiresGrad = true;
    this.weightDecay = options.weightDecay ?? init.shape.length >= 2;
  }
}

export abstract class Module {
  training = true;
  /**
   * The random stream of this module's draws (dropout and drop-path masks; other modules draw
   * nothing). null: `defaultGenerator`. `setGenerator` sets it on the whole tree, as `train()`
   * sets `training`.
   */
  generator: Generator | null = null;
  private readonly params = new Map<string, Parameter>();
  private readonly children = new Map<string, Module>();

  /** Registers a parameter under `name` (no dots) and returns it. */
  protected registerParameter(name: string, init: Tensor, options?: ParameterOptions): Parameter {
    this.checkName(name);
    const p = init instanceof Parameter ? init : new Parameter(init, options);
    this.params.set(name, p);
    return p;
  }

  /** Registers a child module under `name` (no dots) and returns it. */
  protected registerModule<M extends Module>(name: string, module: M): M {
    this.checkName(name);
    this.children.set(name, module);
    return module;
  }

  private checkName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`${this.constructor.name}: parameter and module names must be non-empty and without dots, got '${name}'`);
    if (this.params.has(name) || this.children.has(name)) throw new Error(`${this.constructor.name}: '${name}' is already registered`);
  }

  abstract forward(...inputs: Tensor[]): Tensor;

  /** Parameters with dotted names, in registration order (stable across runs and processes). */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [n, p] of this.params) out.push([prefix + n, p]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, m] of this.children) out.push(...m.namedModules(`${prefix}${n}.`));
    return out;
  }

  /** Sets training mode here and in every submodule (dropout, drop path react to it). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Makes this module and every submodule draw from `generator` (null: back to `defaultGenerator`).
   * The modules share the object, so its state (`getState` / `setState`) is the whole model's.
   */
  setGenerator(generator: Generator | null): this {
    if (generator !== null && !(generator instanceof Generator)) {
      throw new Error(`${this.constructor.name}.setGenerator: expected a Generator or null, got ${String(generator)}`);
    }
    for (const [, m] of this.namedModules()) m.generator = generator;
    return this;
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Total number of scalar parameters. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** The parameters by dotted name (the tensors themselves, not copies). */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.namedParameters());
  }

  /**
   * Copies values into the parameters. Every name must match and every shape agree; a missing or
   * extra entry, or a wrong shape, is an error that lists the names (nothing is written then).
   */
  loadStateDict(state: Record<string, Tensor | Float32Array | { shape: Shape; data: Float32Array }>): void {
    const named = new Map(this.namedParameters());
    const missing = [...named.keys()].filter((k) => !(k in state));
    const extra = Object.keys(state).filter((k) => !named.has(k));
    const problems: string[] = [];
    if (missing.length) problems.push(`missing ${missing.join(', ')}`);
    if (extra.length) problems.push(`unexpected ${extra.join(', ')}`);
    for (const [name, p] of named) {
      const v = state[name];
      if (!v) continue;
      const shape = v instanceof Float32Array ? [v.length] : v.shape;
      const size = v instanceof Float32Array ? v.length : shape.reduce((a, b) => a * b, 1);
      const ok = v instanceof Float32Array ? size === p.size : shape.join() === p.shape.join();
      if (!ok) problems.push(`${name}: expected shape [${p.shape}], got [${shape}]`);
    }
    if (problems.length) throw new Error(`loadStateDict (${this.constructor.name}): ${problems.join('; ')}`);
    for (const [name, p] of named) {
      const v = state[name];
      p.assign(v instanceof Tensor || v instanceof Float32Array ? v : v.data);
    }
  }

  /** Releases every parameter (and its gradient). */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}

/** Children named 0, 1, 2, ... (PyTorch's ModuleList / Sequential). */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.registerModule(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const [i, layer] of this.layers.entries()) {
      const next = layer.forward(h);
      // Intermediate activations: the graph retains what backward needs.
      if (i > 0 && next !== h) h.dispose();
      h = next;
    }
    return h;
  }
}

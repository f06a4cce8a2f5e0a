/**
 * Reverse-mode autograd over a tape of Nodes (the core idea fits on one screen, as in micrograd).
 *
 * Every differentiable op returns its output through `record()`: when grad mode is on and an input
 * requires grad, the output gets a Node holding (a) edges to the inputs' Nodes, or to the input
 * tensor itself for a leaf, (b) the tensors the backward rule needs (retained, so disposing the
 * user's handle does not free them) and (c) the backward rule: output grad in, input grads out.
 *
 * `backward()` walks the Nodes in reverse topological order, accumulates gradients into leaves'
 * `.grad` (they add up across calls until zeroed), then frees the graph: saved tensors are
 * released and a second backward through the same graph is a clear error. A graph nobody calls
 * backward on is freed when the last tensor referring to it is disposed (Nodes are ref-counted).
 */
import type { Tensor } from './tensor.js';
import { tidy, untracked } from './scope.js';

export type BackwardFn = (grad: Tensor, saved: Tensor[]) => (Tensor | null)[];

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording a graph (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export class Node {
  /** Tensors holding this node as gradFn plus Nodes holding it as an input. */
  refs = 0;
  freed = false;
  constructor(
    readonly op: string,
    readonly inputs: (Node | Tensor | null)[],
    readonly inputShapes: (readonly number[])[],
    readonly backwardFn: BackwardFn,
    readonly saved: Tensor[],
  ) {
    for (const i of inputs) if (i instanceof Node) i.refs++;
  }

  /** Drops one reference; the last one frees saved tensors and releases the inputs. */
  release(): void {
    if (this.freed) return;
    if (--this.refs > 0) return;
    this.free();
    for (const i of this.inputs) if (i instanceof Node) i.release();
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const t of this.saved) t.dispose();
    this.saved.length = 0;
  }
}

/**
 * Attaches a backward rule to `output`. `save` lists tensors the rule needs (inputs or the output
 * itself); they are retained until the graph is freed and passed back as `saved`.
 */
export function record(op: string, inputs: Tensor[], output: Tensor, backward: BackwardFn, save: Tensor[] = []): Tensor {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return output;
  const edges = inputs.map((t) => (t.requiresGrad ? (t.gradFn ?? t) : null));
  const node = new Node(op, edges, inputs.map((t) => t.shape), backward, save.map((t) => t.retain()));
  output.setGradFn(node);
  return output;
}

function topoOrder(root: Node): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  // Iterative DFS: deep graphs (long training unrolls) must not overflow the JS stack.
  const stack: [Node, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i];
      if (child && (child as Node) instanceof Node && !seen.has(child as Node)) {
        const c = child as Node;
        if (c.freed) throw freedError(c);
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      order.push(node);
      stack.pop();
    }
  }
  return order.reverse();
}

function freedError(node: Node): Error {
  return new Error(
    `backward() through a graph that has already been freed (at op '${node.op}'): a graph can be ` +
      `differentiated once. Run the forward pass again, or pass { retainGraph: true } to the first backward().`,
  );
}

export interface BackwardOptions {
  /** Gradient of the output; required unless the output has one element. */
  grad?: Tensor;
  /** Keep the graph so that backward() can run through it again. */
  retainGraph?: boolean;
}

/**
 * The two ops backward itself needs, passed in by the op layer (src/nn/functional/methods.ts): the
 * runtime does not import the ops, which import it.
 */
export interface BackwardOps {
  /** A tensor of ones: the seed gradient of a one-element output. */
  ones: (shape: readonly number[]) => Tensor;
  /** Sums two gradients of the same shape (an input reached along several paths). */
  add: (a: Tensor, b: Tensor) => Tensor;
}

export function runBackward(root: Tensor, options: BackwardOptions, ops: BackwardOps): void {
  if (!root.requiresGrad) {
    throw new Error(`backward() on a tensor that does not require grad (shape [${root.shape}]): no input was created with requiresGrad: true, or it was computed under noGrad().`);
  }
  if (!options.grad && root.size !== 1) {
    throw new Error(`backward() needs { grad } for a non-scalar output (shape [${root.shape}]); call it on a scalar loss such as .mean().`);
  }
  if (options.grad && options.grad.shape.join() !== root.shape.join()) {
    throw new Error(`backward(): grad has shape [${options.grad.shape}] but the output has shape [${root.shape}]`);
  }
  untracked(() => noGrad(() => {
    const seed = options.grad ? options.grad.retain() : ops.ones(root.shape);
    const rootNode = root.gradFn;
    if (!rootNode) {
      root.accumulateGrad(seed, ops.add); // a leaf: d(leaf)/d(leaf) = 1
      return;
    }
    if (rootNode.freed) {
      seed.dispose();
      throw freedError(rootNode);
    }
    const order = topoOrder(rootNode);
    const grads = new Map<Node, Tensor>([[rootNode, seed]]);
    for (const node of order) {
      const g = grads.get(node);
      grads.delete(node);
      if (!g) continue;
      const inputGrads = tidy(() => node.backwardFn(g, node.saved));
      g.dispose();
      node.inputs.forEach((target, i) => {
        const gi = inputGrads[i];
        if (!gi) return;
        if (!target) {
          gi.dispose();
          return;
        }
        const want = node.inputShapes[i];
        if (gi.shape.join() !== want.join()) {
          throw new Error(`wgtrain internal: backward of '${node.op}' gave a grad of shape [${gi.shape}] for an input of shape [${want}]`);
        }
        if (target instanceof Node) {
          const prev = grads.get(target);
          if (prev) {
            grads.set(target, ops.add(prev, gi));
            prev.dispose();
            gi.dispose();
          } else {
            grads.set(target, gi);
          }
        } else {
          target.accumulateGrad(gi, ops.add);
        }
      });
      if (!options.retainGraph) node.free();
    }
    for (const g of grads.values()) g.dispose();
  }));
}

/** ModuleList: children named 0, 1, 2, ... that the owner calls itself (PyTorch's nn.ModuleList). */
import type { Tensor } from '../../runtime/tensor.js';
import { Module } from '../module.js';

export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this.items.length;
  }
  forward(): Tensor {
    throw new Error('ModuleList: has no forward of its own; call its items');
  }
}

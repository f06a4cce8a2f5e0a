/**
 * PyTorch golden trajectories for the optimizers: torch.optim.AdamW (two parameter groups, decay
 * 0.05 and 0; and custom betas/eps with a half-lr group) and torch.optim.SGD (momentum 0.9 with
 * Nesterov; and with dampening), 5 steps each with fixed per-step gradients, a learning rate that
 * changes every step, and parameters without a gradient on some steps (PyTorch skips them).
 * Produced by tests/golden/make_golden_optim.py (see the docstring there); PyTorch is not needed here.
 *
 * Tolerance: |ours - torch| <= 2e-6 + 1e-5 |torch|. The reference is PyTorch's float64 trajectory
 * rounded to float32; PyTorch's own float32 run stays within 3e-7 of it (the script prints this),
 * while a wrong bias correction, decay or momentum rule moves parameters by ~lr (>= 1e-3).
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { tensor } from '../src/index.js';
import { Parameter } from '../src/nn/module.js';
import { AdamW, SGD, type Optimizer, type ParamGroupSpec } from '../src/nn/optim.js';
import { expectClose } from './helpers/check.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

const RTOL = 1e-5;
const ATOL = 2e-6;

interface Golden { shape: number[]; data: number[] }
interface Case {
  name: string;
  optimizer: 'AdamW' | 'SGD';
  options: { betas?: [number, number]; eps?: number; momentum?: number; dampening?: number; nesterov?: boolean };
  groups: { names: string[]; weight_decay: number; lr_scale: number }[];
  init: Record<string, Golden>;
  steps: { lr: number; grads: Record<string, Golden>; params: Record<string, Golden> }[];
}

const golden = JSON.parse(readFileSync(new URL('./golden/optim_steps.json', import.meta.url), 'utf8')) as { torch: string; cases: Case[] };

let owned: { dispose(): void }[] = [];
afterEach(() => {
  for (const t of owned) t.dispose();
  owned = [];
});

describe(`torch.optim trajectories (torch ${golden.torch})`, () => {
  test('the file covers AdamW and SGD, skipped gradients and several groups', () => {
    expect(golden.cases.map((c) => c.optimizer).sort()).toEqual(['AdamW', 'AdamW', 'SGD', 'SGD']);
    expect(golden.cases.every((c) => c.steps.length === 5)).toBe(true);
    expect(golden.cases.some((c) => c.steps.some((s) => Object.keys(s.grads).length < Object.keys(c.init).length))).toBe(true);
  });

  for (const c of golden.cases) {
    test(c.name, async () => {
      const params = new Map<string, Parameter>();
      for (const [name, g] of Object.entries(c.init)) {
        params.set(name, new Parameter(tensor(Float32Array.from(g.data), g.shape)));
        owned.push(params.get(name)!);
      }
      const groups: ParamGroupSpec[] = c.groups.map((g) => ({
        params: g.names.map((n) => [n, params.get(n)!] as const),
        weightDecay: g.weight_decay,
        lrScale: g.lr_scale,
      }));
      const opt: Optimizer =
        c.optimizer === 'AdamW'
          ? new AdamW(groups, { betas: c.options.betas, eps: c.options.eps })
          : new SGD(groups, { lr: 0, momentum: c.options.momentum, dampening: c.options.dampening, nesterov: c.options.nesterov });
      owned.push(opt);
      for (const [t, step] of c.steps.entries()) {
        opt.zeroGrad();
        for (const [name, g] of Object.entries(step.grads)) params.get(name)!.grad = tensor(Float32Array.from(g.data), g.shape);
        opt.lr = step.lr;
        opt.step();
        for (const [name, want] of Object.entries(step.params)) {
          const p = params.get(name)!;
          expect([...p.shape], name).toEqual(want.shape);
          expectClose(await p.toArray(), want.data, { rtol: RTOL, atol: ATOL, what: `step ${t} ${name}` });
        }
      }
    });
  }
});

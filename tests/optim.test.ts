/**
 * Optimizers: the fused GPU updates of AdamW and SGD against a float64 CPU reference written here
 * from PyTorch's definitions, over several steps with a changing learning rate, parameters with
 * and without weight decay in one optimizer, and parameters that have no gradient on some steps.
 * Also: state save/load continues bit-identically, no buffer is created after the first step, one
 * dispatch per parameter and no submit inside step(), and every bad input fails with a message.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { engine, memoryStats, tensor, tidy, type Tensor } from '../src/index.js';
import { Parameter } from '../src/nn/module.js';
import { AdamW, SGD, type OptimizerStateDict } from '../src/nn/optim.js';
import { expectClose, randomArray } from './helpers/check.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

// f32 against float64 over a few steps on O(1) parameters: each step adds a few f32 roundings.
const TOL = { rtol: 1e-5, atol: 2e-6 };

let owned: { dispose(): void }[] = [];
function own<T extends { dispose(): void }>(t: T): T {
  owned.push(t);
  return t;
}
afterEach(() => {
  for (const t of owned) t.dispose();
  owned = [];
});

interface Spec { name: string; shape: number[]; decay?: boolean }

/** Parameters with f32 random values in [-1, 1), and their float64 copies for the reference. */
function makeParams(specs: Spec[], seed: number): { named: [string, Parameter][]; ref: Map<string, Float64Array> } {
  const named: [string, Parameter][] = [];
  const ref = new Map<string, Float64Array>();
  specs.forEach((s, i) => {
    const data = Float32Array.from(randomArray(s.shape.reduce((a, b) => a * b, 1), seed + i));
    named.push([s.name, own(new Parameter(tensor(data, s.shape), s.decay === undefined ? {} : { weightDecay: s.decay }))]);
    ref.set(s.name, Float64Array.from(data));
  });
  return { named, ref };
}

/** Random f32 gradients for step `t`, as float64 arrays holding the f32 values. */
function gradsFor(specs: Spec[], t: number, seed: number): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  specs.forEach((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    out.set(s.name, Float64Array.from(Float32Array.from(randomArray(n, seed * 1000 + t * 31 + i, -2, 2))));
  });
  return out;
}

/**
 * Gives each listed parameter exactly the gradient G through autograd: backward of Σ sum(p * G)
 * (mul and sum backward are exact copies of G); parameters not listed keep grad null.
 */
function setGradsByBackward(named: [string, Parameter][], grads: Map<string, Float64Array>, skip: Set<string> = new Set()): void {
  for (const [, p] of named) p.zeroGrad();
  tidy(() => {
    let loss: Tensor | null = null;
    for (const [name, p] of named) {
      if (skip.has(name)) continue;
      const term = p.mul(tensor(Float32Array.from(grads.get(name)!), p.shape)).sum();
      loss = loss ? loss.add(term) : term;
    }
    loss!.backward();
  });
}

// ---- float64 references (PyTorch's single-tensor algorithms) ----

interface AdamRefState { m: Float64Array; v: Float64Array; t: number }

function adamwRef(p: Float64Array, g: Float64Array, s: AdamRefState, lr: number, wd: number, b1: number, b2: number, eps: number): void {
  s.t++;
  const bc1 = 1 - b1 ** s.t;
  const bc2 = 1 - b2 ** s.t;
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd;
    s.m[i] = b1 * s.m[i] + (1 - b1) * g[i];
    s.v[i] = b2 * s.v[i] + (1 - b2) * g[i] * g[i];
    p[i] -= (lr / bc1) * s.m[i] / (Math.sqrt(s.v[i]) / Math.sqrt(bc2) + eps);
  }
}

interface SgdRefState { buf: Float64Array | null }

function sgdRef(p: Float64Array, g: Float64Array, s: SgdRefState, lr: number, wd: number, momentum: number, dampening: number, nesterov: boolean): void {
  const d = g.map((gi, i) => gi + wd * p[i]);
  let u: ArrayLike<number> = d;
  if (momentum !== 0) {
    if (!s.buf) s.buf = Float64Array.from(d);
    else for (let i = 0; i < d.length; i++) s.buf[i] = momentum * s.buf[i] + (1 - dampening) * d[i];
    u = nesterov ? d.map((di, i) => di + momentum * s.buf![i]) : s.buf;
  }
  for (let i = 0; i < p.length; i++) p[i] -= lr * u[i];
}

async function expectParams(named: [string, Parameter][], ref: Map<string, Float64Array>, what: string): Promise<void> {
  for (const [name, p] of named) expectClose(await p.toArray(), ref.get(name)!, { ...TOL, what: `${what}: ${name}` });
}

const SPECS: Spec[] = [
  { name: 'fc.weight', shape: [17, 5] },              // rank 2: decayed by default
  { name: 'fc.bias', shape: [17] },                   // rank 1: no decay
  { name: 'pos_embed', shape: [1, 3, 3], decay: false }, // rank 3 but explicitly no decay
  { name: 'big.weight', shape: [3, 129] },            // more than one workgroup
  { name: 'scale', shape: [1] },
];
const LRS = [0.01, 0.03, 0.02, 0.005, 0.01];

describe('AdamW', () => {
  test('matches the float64 reference over 5 steps: decay groups, changing lr, skipped grads', async () => {
    const { named, ref } = makeParams(SPECS, 11);
    const opt = own(new AdamW(named, { lr: 1, weightDecay: 0.05 }));
    // Default grouping: Parameter.weightDecay decides.
    expect(opt.groups.map((g) => [g.names, g.weightDecay])).toEqual([
      [['fc.weight', 'big.weight'], 0.05],
      [['fc.bias', 'pos_embed', 'scale'], 0],
    ]);
    const decay = new Map(opt.groups.flatMap((g) => g.names.map((n) => [n, g.weightDecay] as const)));
    const state = new Map(SPECS.map((s) => [s.name, { m: new Float64Array(ref.get(s.name)!.length), v: new Float64Array(ref.get(s.name)!.length), t: 0 }]));
    // fc.bias has no gradient at step 1, big.weight none at steps 0 and 3: PyTorch skips them.
    const skips = [new Set(['big.weight']), new Set(['fc.bias']), new Set<string>(), new Set(['big.weight']), new Set<string>()];
    for (const [t, lr] of LRS.entries()) {
      const grads = gradsFor(SPECS, t, 1);
      setGradsByBackward(named, grads, skips[t]);
      const skippedBefore = await Promise.all(named.filter(([n]) => skips[t].has(n)).map(([, p]) => p.toArray()));
      opt.lr = lr;
      opt.step();
      for (const s of SPECS) if (!skips[t].has(s.name)) adamwRef(ref.get(s.name)!, grads.get(s.name)!, state.get(s.name)!, lr, decay.get(s.name)!, 0.9, 0.999, 1e-8);
      await expectParams(named, ref, `step ${t}`);
      // A skipped parameter is untouched bit for bit.
      const skippedAfter = await Promise.all(named.filter(([n]) => skips[t].has(n)).map(([, p]) => p.toArray()));
      expect(skippedAfter).toEqual(skippedBefore);
    }
    const sd = opt.stateDict();
    expect(sd.step).toBe(5);
    expect(sd.paramSteps).toEqual({ 'fc.weight': 5, 'big.weight': 3, 'fc.bias': 4, pos_embed: 5, scale: 5 });
    for (const s of SPECS) {
      expectClose(await (sd.tensors[`${s.name}.exp_avg`] as Tensor).toArray(), state.get(s.name)!.m, { ...TOL, what: `${s.name} exp_avg` });
      expectClose(await (sd.tensors[`${s.name}.exp_avg_sq`] as Tensor).toArray(), state.get(s.name)!.v, { ...TOL, what: `${s.name} exp_avg_sq` });
    }
  });

  test('explicit groups with their own decay and lr scale, custom betas and eps; PyTorch defaults', async () => {
    const specs = SPECS.slice(0, 3);
    const { named, ref } = makeParams(specs, 21);
    const opt = own(new AdamW([
      { params: [named[0], named[2]], weightDecay: 0.2 },
      { params: [named[1]], weightDecay: 0, lrScale: 0.5 },
    ], { lr: 0.02, betas: [0.8, 0.95], eps: 1e-3 }));
    const state = new Map(specs.map((s) => [s.name, { m: new Float64Array(ref.get(s.name)!.length), v: new Float64Array(ref.get(s.name)!.length), t: 0 }]));
    const cfg: Record<string, [number, number]> = { 'fc.weight': [0.2, 1], pos_embed: [0.2, 1], 'fc.bias': [0, 0.5] };
    for (let t = 0; t < 3; t++) {
      const grads = gradsFor(specs, t, 2);
      setGradsByBackward(named, grads);
      opt.step();
      for (const s of specs) adamwRef(ref.get(s.name)!, grads.get(s.name)!, state.get(s.name)!, 0.02 * cfg[s.name][1], cfg[s.name][0], 0.8, 0.95, 1e-3);
    }
    await expectParams(named, ref, 'explicit groups');

    const defaults = own(new AdamW([named[0][1], named[1][1]]));
    expect(defaults.lr).toBe(1e-3);
    expect(defaults.betas).toEqual([0.9, 0.999]);
    expect(defaults.groups.map((g) => [g.names, g.weightDecay])).toEqual([[['0'], 0.01], [['1'], 0]]);
  });

  test('one dispatch per parameter with a gradient, no submit or readback inside step()', async () => {
    const { named } = makeParams(SPECS, 31);
    const opt = own(new AdamW(named));
    setGradsByBackward(named, gradsFor(SPECS, 0, 3), new Set(['scale']));
    engine().flush();
    const { dispatches, submits } = engine();
    opt.step();
    expect(engine().dispatches - dispatches).toBe(SPECS.length - 1);
    expect(engine().submits - submits).toBe(0);
  });
});

describe('SGD', () => {
  const cases = [
    { what: 'momentum 0.9, nesterov, weight decay 0.01', momentum: 0.9, dampening: 0, nesterov: true, wd: 0.01 },
    { what: 'momentum 0.9, dampening 0.2, weight decay 0.1', momentum: 0.9, dampening: 0.2, nesterov: false, wd: 0.1 },
    { what: 'plain (no momentum, no state)', momentum: 0, dampening: 0, nesterov: false, wd: 0.05 },
  ];
  for (const c of cases) {
    test(`${c.what} matches the float64 reference over 5 steps`, async () => {
      const { named, ref } = makeParams(SPECS, 41);
      const opt = own(new SGD(named, { lr: 1, momentum: c.momentum, dampening: c.dampening, nesterov: c.nesterov, weightDecay: c.wd }));
      const decay = new Map(opt.groups.flatMap((g) => g.names.map((n) => [n, g.weightDecay] as const)));
      expect(decay.get('fc.weight')).toBe(c.wd);
      expect(decay.get('fc.bias')).toBe(0);
      const state = new Map(SPECS.map((s) => [s.name, { buf: null } as SgdRefState]));
      // fc.weight has no gradient at step 0: its momentum buffer must start at its first real update.
      const skips = [new Set(['fc.weight']), new Set<string>(), new Set(['scale']), new Set<string>(), new Set<string>()];
      for (const [t, lr] of LRS.entries()) {
        const grads = gradsFor(SPECS, t, 4);
        setGradsByBackward(named, grads, skips[t]);
        opt.lr = lr * 10;
        opt.step();
        for (const s of SPECS) if (!skips[t].has(s.name)) sgdRef(ref.get(s.name)!, grads.get(s.name)!, state.get(s.name)!, lr * 10, decay.get(s.name)!, c.momentum, c.dampening, c.nesterov);
        await expectParams(named, ref, `step ${t}`);
      }
      const sd = opt.stateDict();
      if (c.momentum === 0) {
        expect(Object.keys(sd.tensors)).toEqual([]);
      } else {
        for (const s of SPECS) expectClose(await (sd.tensors[`${s.name}.momentum_buffer`] as Tensor).toArray(), state.get(s.name)!.buf!, { ...TOL, what: `${s.name} momentum_buffer` });
      }
    });
  }
});

describe('state dict', () => {
  const makers = {
    AdamW: (named: [string, Parameter][]) => new AdamW(named, { lr: 0.01, betas: [0.85, 0.99], weightDecay: 0.05 }),
    SGD: (named: [string, Parameter][]) => new SGD(named, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
  };
  for (const [kind, make] of Object.entries(makers)) {
    test(`${kind}: save after 3 steps, load into a fresh optimizer, 2 more steps are bit-identical`, async () => {
      const grads = [0, 1, 2, 3, 4].map((t) => gradsFor(SPECS, t, 5));
      const skips = [new Set<string>(), new Set(['fc.bias']), new Set<string>(), new Set(['scale']), new Set<string>()];
      // Uninterrupted run.
      const a = makeParams(SPECS, 51);
      const optA = own(make(a.named));
      let saved: OptimizerStateDict | null = null;
      let savedParams: Float32Array[] = [];
      for (let t = 0; t < 5; t++) {
        if (t === 3) {
          const sd = optA.stateDict();
          const tensors: OptimizerStateDict['tensors'] = {};
          for (const [k, v] of Object.entries(sd.tensors)) tensors[k] = { shape: [...(v as Tensor).shape], data: (await (v as Tensor).toArray()) as Float32Array };
          saved = { ...(JSON.parse(JSON.stringify({ ...sd, tensors: {} })) as OptimizerStateDict), tensors };
          savedParams = await Promise.all(a.named.map(([, p]) => p.toArray() as Promise<Float32Array>));
        }
        optA.lr = LRS[t];
        setGradsByBackward(a.named, grads[t], skips[t]);
        optA.step();
      }
      const finalA = await Promise.all(a.named.map(([, p]) => p.toArray()));

      // Resumed run: fresh parameters with the step-3 values, a fresh optimizer with other settings.
      const b = makeParams(SPECS, 99);
      b.named.forEach(([, p], i) => p.assign(savedParams[i]));
      const optB = own(kind === 'AdamW' ? new AdamW(b.named, { lr: 0.5, weightDecay: 0.3 }) : make(b.named));
      optB.loadStateDict(saved!);
      expect(optB.stepCount).toBe(3);
      expect(optB.lr).toBe(LRS[2]);
      expect(optB.groups.map((g) => g.weightDecay)).toEqual(optA.groups.map((g) => g.weightDecay));
      for (let t = 3; t < 5; t++) {
        optB.lr = LRS[t];
        setGradsByBackward(b.named, grads[t], skips[t]);
        optB.step();
      }
      const finalB = await Promise.all(b.named.map(([, p]) => p.toArray()));
      finalB.forEach((v, i) => expect(v, SPECS[i].name).toEqual(finalA[i]));
      expect(optB.stateDict().paramSteps).toEqual(optA.stateDict().paramSteps);
    });
  }

  test('loading a state that does not match is a clear error and changes nothing', async () => {
    const { named } = makeParams(SPECS.slice(0, 2), 61);
    const opt = own(new AdamW(named));
    const good = opt.stateDict();
    const other = own(new SGD(named, { lr: 0.1, momentum: 0.9 }));
    expect(() => opt.loadStateDict(other.stateDict())).toThrow(/AdamW.loadStateDict: the state is from a SGD optimizer, not AdamW/);
    const missing = { ...good, tensors: { ...good.tensors } };
    delete missing.tensors['fc.bias.exp_avg_sq'];
    expect(() => opt.loadStateDict(missing)).toThrow(/AdamW.loadStateDict: missing fc.bias.exp_avg_sq/);
    const extra = { ...good, tensors: { ...good.tensors, 'head.weight.exp_avg': new Float32Array(3) } };
    expect(() => opt.loadStateDict(extra)).toThrow(/unexpected head.weight.exp_avg/);
    const wrongShape = { ...good, tensors: { ...good.tensors, 'fc.weight.exp_avg': { shape: [5, 17], data: new Float32Array(85) } } };
    expect(() => opt.loadStateDict(wrongShape)).toThrow(/fc.weight.exp_avg: expected shape \[17,5\] with 85 f32 values, got \[5,17\]/);
    const shortArray = { ...good, tensors: { ...good.tensors, 'fc.bias.exp_avg': new Float32Array(3) } };
    expect(() => opt.loadStateDict(shortArray)).toThrow(/fc.bias.exp_avg: expected 17 values \(shape \[17\]\), got 3/);
    const renamed = { ...good, groups: [{ ...good.groups[0], names: ['encoder.weight'] }, good.groups[1]] };
    expect(() => opt.loadStateDict(renamed)).toThrow(/group 0 holds \[encoder.weight\] in the state but \[fc.weight\] here/);
    const badSteps = { ...good, paramSteps: { 'fc.weight': 1 } };
    expect(() => opt.loadStateDict(badSteps)).toThrow(/paramSteps\['fc.bias'\] must be a non-negative integer, got undefined/);
    const badBeta = { ...good, hyperparameters: { ...good.hyperparameters, beta2: 1 } };
    expect(() => opt.loadStateDict(badBeta)).toThrow(/AdamW.loadStateDict: beta2 must be in \[0, 1\), got 1/);
    expect(opt.stepCount).toBe(0);
    expect(opt.betas).toEqual([0.9, 0.999]);
    const sgdNesterov = own(new SGD(named, { lr: 0.1, momentum: 0.9, nesterov: true }));
    expect(() => sgdNesterov.loadStateDict(other.stateDict())).toThrow(/SGD.loadStateDict: nesterov is false in the state but true here/);
  });
});

test('state buffers are allocated once: no buffer is created after the first step', async () => {
  const { named } = makeParams(SPECS, 71);
  const adam = own(new AdamW(named.slice(0, 3)));
  const sgd = own(new SGD(named.slice(3), { lr: 0.1, momentum: 0.9 }));
  const step = (t: number) => {
    setGradsByBackward(named, gradsFor(SPECS, t, 7));
    adam.step();
    sgd.step();
  };
  step(0);
  await named[0][1].toArray();
  const before = memoryStats();
  for (let t = 1; t < 6; t++) step(t);
  await named[0][1].toArray();
  const after = memoryStats();
  expect(after.createdBuffers).toBe(before.createdBuffers);
  expect(after.liveBuffers).toBe(before.liveBuffers);
  // Disposing the optimizer returns exactly its state buffers (AdamW: 2 per param; SGD: 1).
  for (const [, p] of named) p.zeroGrad();
  const live = memoryStats().liveBuffers;
  adam.dispose();
  sgd.dispose();
  expect(memoryStats().liveBuffers).toBe(live - 3 * 2 - 2);
  expect(() => adam.step()).toThrow(/AdamW: this optimizer was disposed/);
});

describe('errors', () => {
  test('bad hyperparameters', () => {
    const { named } = makeParams(SPECS.slice(0, 2), 81);
    expect(() => new AdamW(named, { lr: -1 })).toThrow(/AdamW: lr must be a finite number >= 0, got -1/);
    expect(() => new AdamW(named, { lr: NaN })).toThrow(/AdamW: lr must be a finite number >= 0, got NaN/);
    expect(() => new AdamW(named, { lr: Infinity })).toThrow(/AdamW: lr must be a finite number >= 0, got Infinity/);
    expect(() => new AdamW(named, { betas: [1, 0.999] })).toThrow(/AdamW: beta1 must be in \[0, 1\), got 1/);
    expect(() => new AdamW(named, { betas: [0.9, -0.1] })).toThrow(/AdamW: beta2 must be in \[0, 1\), got -0.1/);
    expect(() => new AdamW(named, { betas: [0.9] as unknown as [number, number] })).toThrow(/AdamW: betas must be a pair/);
    expect(() => new AdamW(named, { eps: 0 })).toThrow(/AdamW: eps must be a finite number > 0, got 0/);
    expect(() => new AdamW(named, { weightDecay: -0.1 })).toThrow(/AdamW: weightDecay must be a finite number >= 0, got -0.1/);
    expect(() => new AdamW([{ params: named, weightDecay: -1 }])).toThrow(/AdamW: weightDecay of group 0 must be a finite number >= 0, got -1/);
    expect(() => new AdamW([{ params: named, lrScale: NaN }])).toThrow(/AdamW: lrScale of group 0 must be a finite number >= 0, got NaN/);
    expect(() => new SGD(named, { lr: 0.1, momentum: -0.5 })).toThrow(/SGD: momentum must be a finite number >= 0, got -0.5/);
    expect(() => new SGD(named, { lr: 0.1, dampening: -1 })).toThrow(/SGD: dampening must be a finite number >= 0, got -1/);
    expect(() => new SGD(named, { lr: 0.1, nesterov: true })).toThrow(/SGD: nesterov needs momentum > 0 and dampening 0, got momentum 0 and dampening 0/);
    expect(() => new SGD(named, {} as { lr: number })).toThrow(/SGD: lr is required/);
    expect(() => new SGD(named, { lr: 0.1, weightDecay: -0.01 })).toThrow(/SGD: weightDecay must be a finite number >= 0, got -0.01/);
    const opt = own(new AdamW(named));
    expect(() => { opt.lr = -0.001; }).toThrow(/AdamW: lr must be a finite number >= 0, got -0.001/);
    expect(() => { opt.lr = NaN; }).toThrow(/AdamW: lr must be a finite number >= 0, got NaN/);
    expect(opt.lr).toBe(1e-3);
  });

  test('bad parameter lists', () => {
    const { named } = makeParams(SPECS.slice(0, 2), 82);
    expect(() => new AdamW([])).toThrow(/AdamW: got an empty parameter list/);
    expect(() => new AdamW([named[0], named[0]])).toThrow(/AdamW: parameter 'fc.weight' appears more than once \(also as 'fc.weight'\)/);
    expect(() => new AdamW([named[0], ['fc.weight', named[1][1]]])).toThrow(/AdamW: two parameters are named 'fc.weight'/);
    const ints = own(tensor(Int32Array.from([1, 2, 3]), [3], { dtype: 'i32' }));
    expect(() => new AdamW([ints])).toThrow(/AdamW: parameter '0' is i32 \(shape \[3\]\); only f32 parameters can be optimized/);
    const leaf = own(tensor(Float32Array.from([1, 2]), [2], { requiresGrad: true }));
    const derived = own(leaf.mul(2));
    expect(() => new SGD([leaf, derived], { lr: 0.1 })).toThrow(/SGD: parameter '1' is the output of 'affine', not a leaf/);
    const gone = tensor(Float32Array.from([1]), [1]);
    gone.dispose();
    expect(() => new AdamW([gone])).toThrow(/parameter '0'.*was disposed/);
  });

  test('bad gradients at step(): wrong shape or dtype, nothing is updated', async () => {
    const { named, ref } = makeParams(SPECS.slice(0, 2), 83);
    const opt = own(new AdamW(named));
    named[0][1].grad = tensor(new Float32Array(85), [85]);
    named[1][1].grad = tensor(new Float32Array(17), [17]);
    expect(() => opt.step()).toThrow(/AdamW.step: parameter 'fc.weight' has shape \[17,5\] but its gradient has shape \[85\]/);
    named[0][1].zeroGrad();
    named[1][1].grad!.dispose();
    named[1][1].grad = tensor(new Int32Array(17), [17], { dtype: 'i32' });
    expect(() => opt.step()).toThrow(/AdamW.step: parameter 'fc.bias' has a i32 gradient; expected f32/);
    expect(opt.stepCount).toBe(0);
    await expectParams(named, ref, 'after failed steps');
    opt.zeroGrad();
    expect(named.every(([, p]) => p.grad === null)).toBe(true);
  });
});

/**
 * Elementwise ops: unary math (shaders/elementwise_unary.wgsl) and broadcasting binary ops and where
 * (shaders/elementwise_binary.wgsl), each with its backward rule.
 */
import unarySrc from '../../../shaders/elementwise_unary.wgsl';
import activationSrc from '../../../shaders/activation.wgsl';
import binarySrc from '../../../shaders/elementwise_binary.wgsl';
import { engine } from '../../runtime/engine.js';
import { defineKernel, snippet } from '../../runtime/kernel.js';
import { record } from '../../runtime/autograd.js';
import { Tensor } from '../../runtime/tensor.js';
import { assertFloat, assertLive, broadcastShapes, broadcastStrides, sameShape } from './util.js';
import { grid1d, Params } from '../../runtime/params.js';
import { full } from './creation.js';
import { sumToShape } from './reduce.js';

const UNARY = defineKernel('unary', unarySrc, { ACTIVATION: snippet('activation.wgsl', activationSrc, { T: 'f32' }) });
const BINARY = defineKernel('binary', binarySrc);

const UNARY_OPS = ['exp', 'log', 'sqrt', 'neg', 'pow', 'relu', 'gelu_tanh', 'gelu_erf', 'tanh', 'sigmoid', 'affine'] as const;
type UnaryOp = (typeof UNARY_OPS)[number];
/** Ops whose backward rule reads the output y rather than the input x. */
const SAVES_OUTPUT = new Set<UnaryOp>(['exp', 'sqrt', 'tanh', 'sigmoid']);

function unaryDefines(op: UnaryOp, backward: boolean) {
  const d: Record<string, boolean> = { BACKWARD: backward };
  for (const o of UNARY_OPS) d[`OP_${o.toUpperCase()}`] = o === op;
  return d;
}

function runUnary(op: UnaryOp, x: Tensor, alpha: number, beta: number, saved?: Tensor): Tensor {
  const out = Tensor.empty(x.shape, 'f32', op);
  const buffers = [x.buffer(op), out.buffer(op)];
  if (saved) buffers.push(saved.buffer(op));
  engine().dispatch({
    kernel: UNARY,
    defines: unaryDefines(op, !!saved),
    buffers,
    uniforms: new Params().u32('n', x.size).f32('alpha', alpha).f32('beta', beta).pad(),
    workgroups: grid1d(x.size),
  });
  return out;
}

function unary(op: UnaryOp, x: Tensor, alpha = 0, beta = 0): Tensor {
  assertFloat(op, x);
  const y = runUnary(op, x, alpha, beta);
  return record(op, [x], y, (g, [s]) => [runUnary(op, g, alpha, beta, s)], [SAVES_OUTPUT.has(op) ? y : x]);
}

export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const neg = (x: Tensor) => unary('neg', x);
export const relu = (x: Tensor) => unary('relu', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);

export function pow(x: Tensor, exponent: number): Tensor {
  if (typeof exponent !== 'number' || !Number.isFinite(exponent)) {
    throw new Error(`pow: the exponent must be a finite number, got ${exponent}`);
  }
  return unary('pow', x, exponent);
}

export interface GeluOptions {
  /** 'none' (default, exact erf form, as PyTorch) or 'tanh' (the approximation used by GPT-2 and many ViTs). */
  approximate?: 'none' | 'tanh';
}

export function gelu(x: Tensor, options: GeluOptions = {}): Tensor {
  const approx = options.approximate ?? 'none';
  if (approx !== 'none' && approx !== 'tanh') throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${approx}'`);
  return unary(approx === 'tanh' ? 'gelu_tanh' : 'gelu_erf', x);
}

/** x * scale + shift in one pass (scalar arithmetic without a broadcast tensor). */
export function affine(x: Tensor, scale: number, shift = 0): Tensor {
  return unary('affine', x, scale, shift);
}

// ---- binary ----

type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'where';

function runBinary(op: BinaryOp, inputs: Tensor[], shape: number[]): Tensor {
  const out = Tensor.empty(shape, 'f32', op);
  const strides = inputs.map((t) => broadcastStrides(t.shape, shape));
  const same = inputs.every((t) => sameShape(t.shape, shape));
  // Params: for where, inputs are (cond, a, b) but a/b/c strides are ordered (a, b, cond).
  const [sa, sb, sc] = op === 'where' ? [strides[1], strides[2], strides[0]] : [strides[0], strides[1], strides[1]];
  const p = new Params().u32('n', out.size).u32('rank', shape.length).pad(2)
    .dims('out_shape', shape).dims('a_strides', sa, 0).dims('b_strides', sb, 0).dims('c_strides', sc, 0);
  engine().dispatch({
    kernel: BINARY,
    defines: { OP_ADD: op === 'add', OP_SUB: op === 'sub', OP_MUL: op === 'mul', OP_DIV: op === 'div', OP_WHERE: op === 'where', SAME_SHAPE: same },
    buffers: [...inputs.map((t) => t.buffer(op)), out.buffer(op)],
    uniforms: p,
    workgroups: grid1d(out.size),
  });
  return out;
}

function binary(op: 'add' | 'sub' | 'mul' | 'div', a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') {
    // Scalars fold into one affine pass: no broadcast tensor, no second buffer.
    assertFloat(op, a);
    if (!Number.isFinite(b) && op !== 'mul') throw new Error(`${op}: scalar operand must be finite, got ${b}`);
    switch (op) {
      case 'add': return affine(a, 1, b);
      case 'sub': return affine(a, 1, -b);
      case 'mul': return affine(a, b, 0);
      case 'div':
        if (b === 0) throw new Error('div: division by the scalar 0');
        return affine(a, 1 / b, 0);
    }
  }
  if (!(b instanceof Tensor)) throw new Error(`${op}: the second operand must be a Tensor or a number, got ${typeof b}`);
  assertLive(op, a, b);
  assertFloat(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = runBinary(op, [a, b], shape);
  return record(op, [a, b], out, (g, saved) => {
    switch (op) {
      case 'add': return [sumToShape(g, a.shape), sumToShape(g, b.shape)];
      case 'sub': return [sumToShape(g, a.shape), sumToShape(neg(g), b.shape)];
      case 'mul': {
        const [sa, sb] = saved;
        return [sumToShape(mul(g, sb), a.shape), sumToShape(mul(g, sa), b.shape)];
      }
      case 'div': {
        const [sa, sb] = saved;
        const ga = div(g, sb);
        // d/db (a/b) = -a/b^2 = -(g/b) * (a/b)
        const gb = neg(mul(ga, div(sa, sb)));
        return [sumToShape(ga, a.shape), sumToShape(gb, b.shape)];
      }
    }
  }, op === 'mul' || op === 'div' ? [a, b] : []);
}

export const add = (a: Tensor, b: Tensor | number) => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor | number) => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor | number) => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor | number) => binary('div', a, b);

function asTensor(v: Tensor | number, like: Tensor): Tensor {
  return typeof v === 'number' ? full([], v) : v;
}

/**
 * where(cond, a, b): a where cond is nonzero, else b, broadcasting all three. `cond` may be any
 * dtype (a mask from a comparison, labels, ...); a and b are f32 tensors or numbers.
 */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  if (!(cond instanceof Tensor)) throw new Error('where: cond must be a Tensor');
  const ta = asTensor(a, cond);
  const tb = asTensor(b, cond);
  try {
    assertLive('where', cond, ta, tb);
    assertFloat('where', ta, tb);
    const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, ta.shape), tb.shape);
    const out = runBinary('where', [cond, ta, tb], shape);
    return record('where', [ta, tb], out, (g, [c]) => {
      const zero = full([], 0);
      const ga = runBinary('where', [c, g, zero], [...g.shape]);
      const gb = runBinary('where', [c, zero, g], [...g.shape]);
      return [sumToShape(ga, ta.shape), sumToShape(gb, tb.shape)];
    }, [cond]);
  } finally {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
  }
}

/** PyTorch's masked_fill: `value` where mask is nonzero, x elsewhere. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, x);
}

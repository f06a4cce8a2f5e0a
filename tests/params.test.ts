/**
 * Kernel plumbing in the runtime: the uniform builder `Params` and its layout check against the
 * shader's `struct Params`, `grid1d`, and shared WGSL bound per use with `snippet()`.
 */
import { describe, expect, test } from 'vitest';
import { engine, tensor } from '../src/index.js';
import { defineKernel, preprocess, snippet } from '../src/runtime/kernel.js';
import { checkParamsLayout, grid1d, MAX_RANK, Params, parseParamsStruct } from '../src/runtime/params.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

describe('Params', () => {
  test('packs named fields in order; dims() aligns to 16 bytes and pads with fill', () => {
    const p = new Params().u32('n', 7).f32('scale', 0.5).i32('shift', -2).dims('shape', [3, 4]);
    const words = new Uint32Array(p.bytes());
    expect(words.length).toBe(4 + MAX_RANK);
    expect(words[0]).toBe(7);
    expect(new Float32Array(p.bytes())[1]).toBe(0.5);
    expect(new Int32Array(p.bytes())[2]).toBe(-2);
    expect(Array.from(words.slice(4))).toEqual([3, 4, 1, 1, 1, 1, 1, 1]);
    expect(p.layout()).toEqual([
      { name: 'n', type: 'u32', offset: 0 },
      { name: 'scale', type: 'f32', offset: 4 },
      { name: 'shift', type: 'i32', offset: 8 },
      { name: 'shape', type: 'array<vec4u,2>', offset: 16 },
    ]);
  });

  test('grid1d spills into y past 65535 workgroups', () => {
    expect(grid1d(256 * 10)).toEqual([10, 1, 1]);
    const [x, y] = grid1d(256 * 70000);
    expect(y).toBe(2);
    expect(x * y).toBeGreaterThanOrEqual(70000);
  });
});

describe('uniform layout check', () => {
  const src = `
struct Params {
  n: u32,
  // A comment, and a type with a comma inside.
  scale: f32,
  _pad0: u32,
  shape: array<vec4<u32>, 2>,
};
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1)
fn main() { out[0] = f32(params.n) * params.scale + f32(params.shape[0][0]); }
`;

  test('parses struct Params with WGSL offsets', () => {
    expect(parseParamsStruct(src, 'demo')).toEqual([
      { name: 'n', type: 'u32', offset: 0 },
      { name: 'scale', type: 'f32', offset: 4 },
      { name: '_pad0', type: 'u32', offset: 8 },
      { name: 'shape', type: 'array<vec4u,2>', offset: 16 },
    ]);
    expect(parseParamsStruct('fn main() {}', 'demo')).toBeNull();
  });

  const shader = parseParamsStruct(src, 'demo')!;
  const good = () => new Params().u32('n', 1).f32('scale', 2).pad().dims('shape', [3]);

  test('a matching builder passes', () => {
    expect(() => checkParamsLayout('demo', good().layout(), shader)).not.toThrow();
  });

  test('order, name, type and count mismatches are errors naming the kernel and the field', () => {
    const swapped = new Params().f32('scale', 2).u32('n', 1).pad().dims('shape', [3]);
    expect(() => checkParamsLayout('demo.wgsl', swapped.layout(), shader)).toThrow(/demo\.wgsl: .*field 0 is 'n' \(u32, offset 0\) in the shader but the host packs 'scale'/);
    const wrongType = new Params().u32('n', 1).u32('scale', 2).pad().dims('shape', [3]);
    expect(() => checkParamsLayout('demo.wgsl', wrongType.layout(), shader)).toThrow(/field 1 is 'scale' \(f32, offset 4\) in the shader but 'scale' \(u32, offset 4\) on the host/);
    const short = new Params().u32('n', 1).f32('scale', 2);
    expect(() => checkParamsLayout('demo.wgsl', short.layout(), shader)).toThrow(/the host packs 2 fields and stops before field 2, '_pad0'/);
    const long = good().u32('extra', 1);
    expect(() => checkParamsLayout('demo.wgsl', long.layout(), shader)).toThrow(/the struct has 4 fields; the host packs more, from field 4, 'extra'/);
    const unpadded = new Params().u32('n', 1).f32('scale', 2).u32('flag', 0).dims('shape', [3]);
    expect(() => checkParamsLayout('demo.wgsl', unpadded.layout(), shader)).toThrow(/field 2 is '_pad0' .* the host packs 'flag'/);
  });

  test('the engine checks on a pipeline\'s first dispatch and refuses a mismatch before recording it', async () => {
    const kernel = defineKernel('layout_demo', src);
    const out = tensor([0]);
    const dispatch = (uniforms: Params) => engine().dispatch({ kernel, buffers: [out.buffer('test')], uniforms, workgroups: [1] });
    const before = engine().dispatches;
    expect(() => dispatch(new Params().f32('scale', 2).u32('n', 1).pad().dims('shape', [3])))
      .toThrow(/shaders\/layout_demo\.wgsl \(entry main; .*\): the uniforms packed on the host do not match the shader's struct Params: field 0 is 'n'/);
    expect(engine().dispatches).toBe(before);
    dispatch(good());
    expect(engine().pipelines.entry(kernel, {}).paramsChecked).toBe(true);
    expect(Array.from(await out.toArray())).toEqual([5]);
    out.dispose();
  });
});

describe('shared WGSL snippets', () => {
  test('snippet() binds a shared file\'s own placeholders; others stay for the kernel\'s defines', () => {
    const lib = 'fn load_${OPERAND}() -> u32 {\n#if ${OPERAND_WIDE}\n  return 2u;\n#else\n  return 1u;\n#endif\n}';
    const k = defineKernel('snip', '${LIB_A}\n${LIB_B}\n', {
      LIB_A: snippet('lib.wgsl', lib, { OPERAND: 'a', OPERAND_WIDE: '${A_WIDE}' }),
      LIB_B: snippet('lib.wgsl', lib, { OPERAND: 'b', OPERAND_WIDE: '${B_WIDE}' }),
    });
    expect(k.placeholders).toEqual(['A_WIDE', 'B_WIDE']);
    const code = preprocess(k, { A_WIDE: true, B_WIDE: false });
    expect(code).toMatch(/fn load_a\(\) -> u32 \{\s*return 2u;/);
    expect(code).toMatch(/fn load_b\(\) -> u32 \{\s*return 1u;/);
    expect(() => snippet('lib.wgsl', lib, { NOPE: 'x' })).toThrow(/lib\.wgsl has no \$\{NOPE\} to bind/);
  });
});

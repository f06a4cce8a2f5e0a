/**
 * Spec validation bounds every size (issue 16, defect 6): a synthetic training set, a hidden width,
 * an image side, a ViT's attention at a batch size... each over what a host array or GPU buffer is
 * sure to hold is refused at validation, naming its field, instead of running away on memory or
 * failing with "RangeError: Invalid typed array length" once the run starts. The presets pass.
 */
import { describe, expect, test } from 'vitest';
import { MAX_TENSOR_ELEMENTS, validateSpec } from '../src/lab/experiment/spec.js';
import { PRESETS } from '../src/lab/experiment/presets/index.js';

function base(patch: Record<string, unknown> = {}) {
  return {
    name: 'bounds',
    model: { kind: 'mlp', hiddenSizes: [32] },
    data: { kind: 'synthetic', trainSize: 600, testSize: 100 },
    arms: [{ name: 'none', regularizer: 'dropout', mode: 'none' }],
    seeds: [1],
    epochs: 1,
    batchSize: 100,
    lr: 1e-3,
    weightDecay: 0,
    warmupEpochs: 0,
    labelSmoothing: 0,
    ...patch,
  };
}

const problems = (spec: unknown): string => {
  try {
    validateSpec(spec);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
};

describe('sizes are bounded at validation, naming the field', () => {
  test('the issue\'s cases: a synthetic trainSize of 2e9, an MLP with hidden sizes [1e5, 1e5]', () => {
    expect(problems(base({ data: { kind: 'synthetic', trainSize: 2e9, testSize: 100 } })))
      .toMatch(/data\.trainSize: 2000000000 images × 28×28 pixels = 1\.57e\+12 f32 values \(5\.7 TiB\) in one tensor, over the limit of 2\^28 values \(1 GiB\)/);
    expect(problems(base({ model: { kind: 'mlp', hiddenSizes: [1e5, 1e5] } })))
      .toMatch(/model\.hiddenSizes\[1\]: 100000 × 100000 units \(a weight\) = 1\.00e\+10 f32 values \(37\.3 GiB\)/);
  });

  test('widths, image sides, test sets, first layers, activations, ViT and Mixer weights and attention', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ model: { kind: 'mlp', hiddenSizes: [2 ** 29] } }, /model\.hiddenSizes\[0\]: must be an integer in \[1, 268435456\], got 536870912/],
      [{ data: { kind: 'synthetic', trainSize: 600, testSize: 100, imageSize: 1e5 } }, /data\.imageSize: must be an integer in \[2, 16384\], got 100000/],
      [{ data: { kind: 'synthetic', trainSize: 600, testSize: 1e6, imageSize: 28 } }, /data\.testSize: 1000000 images × 28×28 pixels/],
      [{ data: { kind: 'synthetic', trainSize: 10, testSize: 10, imageSize: 4096 }, batchSize: 5 }, /model\.hiddenSizes\[0\]: 16777216 inputs × 32 units \(the first weight\)/],
      [{ model: { kind: 'mlp', hiddenSizes: [2 ** 22] }, batchSize: 100 }, /batchSize: 100 images × 4194304 units \(one activation\)/],
      [{ model: { kind: 'vit', patchSize: 1, dim: 64, depth: 2, numHeads: 4 }, batchSize: 200 }, /batchSize: 200 images × 4 heads × 785² tokens \(the attention scores\)/],
      [{ model: { kind: 'vit', patchSize: 7, dim: 20000, depth: 2, numHeads: 4 } }, /model\.dim: 20000 × 60000 \(the attention's qkv weight\)/],
      [{ model: { kind: 'vit', patchSize: 7, dim: 64, depth: 1e6, numHeads: 4 } }, /model\.depth: must be an integer in \[1, 1024\]/],
      [{ model: { kind: 'vit', patchSize: 7, dim: 64, depth: 2, numHeads: 4, mlpRatio: 1e6 } }, /model\.mlpRatio: 64 × mlpRatio 1000000 · 64 \(a weight\)/],
      [{ model: { kind: 'mixer', patchSize: 7, dim: 64, depth: 2, channelMlpRatio: 1e6 } }, /model\.channelMlpRatio: .*\(a weight\)/],
    ];
    for (const [patch, message] of cases) expect(problems(base(patch)), JSON.stringify(patch)).toMatch(message);
  });

  test('at the bound itself a size passes; the presets all pass', () => {
    const side = 2 ** 14; // one image of 2^28 pixels
    expect(side * side).toBe(MAX_TENSOR_ELEMENTS);
    expect(problems(base({ model: { kind: 'mlp', hiddenSizes: [16384, 16384] } }))).toBe('');
    expect(problems(base({ model: { kind: 'mlp', hiddenSizes: [16384, 16385] } }))).toMatch(/hiddenSizes\[1\]/);
    for (const [name, preset] of Object.entries(PRESETS)) expect(problems(preset), name).toBe('');
  });
});

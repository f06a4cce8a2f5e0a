/**
 * The layers' import direction: the runtime (src/runtime/) imports nothing above it, so it has no
 * import circle with the ops; the op layer installs Tensor's op methods (src/nn/functional/methods.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { Tensor } from '../src/runtime/tensor.js';
import '../src/nn/functional/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RUNTIME = join(ROOT, 'src/runtime');

/** Relative module specifiers of a file's static imports and re-exports (type-only ones too). */
function relativeImports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/^\s*(?:import|export)\b[^'";]*?['"](\.[^'"]+)['"]/gm)].map((m) => m[1]);
}

describe('layering', () => {
  test('src/runtime imports only src/runtime (and packages)', () => {
    const outside: string[] = [];
    for (const name of readdirSync(RUNTIME).filter((f) => f.endsWith('.ts'))) {
      const file = join(RUNTIME, name);
      for (const spec of relativeImports(file)) {
        const target = resolve(dirname(file), spec);
        if (relative(RUNTIME, target).startsWith('..')) outside.push(`${name} -> ${spec}`);
      }
    }
    expect(outside).toEqual([]);
  });

  test('the op layer installs the op methods on Tensor, non-enumerable like class methods', () => {
    for (const name of ['add', 'matmul', 'relu', 'dropout', 'sum', 'logSoftmax', 'reshape', 'slice', 'backward']) {
      const d = Object.getOwnPropertyDescriptor(Tensor.prototype, name);
      expect(typeof d?.value, name).toBe('function');
      expect(d?.enumerable, name).toBe(false);
    }
  });
});

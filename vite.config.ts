import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * Kernels live in shaders/*.wgsl and are imported as text (`import src from '.../x.wgsl'`), in the
 * browser build, in vitest and (through esbuild's `--loader:.wgsl=text`) in the Node bundles.
 */
export function wgslText(): Plugin {
  return {
    name: 'wgsl-text',
    transform(code, id) {
      if (!id.endsWith('.wgsl')) return null;
      return { code: `export default ${JSON.stringify(code)};`, map: null };
    },
  };
}

export default defineConfig({
  plugins: [wgslText()],
  server: { host: '127.0.0.1' },
  test: {
    include: ['tests/**/*.test.ts'],
    // Dawn (the `webgpu` package) is a native addon: one process per test file, few at a time,
    // since SwiftShader already uses every core.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['tests/setup/swiftshader.ts'],
  },
});

/**
 * Test-file setup: one real WebGPU device per test file (SwiftShader here and in CI, see
 * tests/setup/swiftshader.ts), shut down at the end so Dawn lets the worker exit.
 */
import { afterAll, beforeAll } from 'vitest';
import { init, shutdown } from '../../src/index.js';

export function useGpu(): void {
  beforeAll(async () => {
    await init();
  });
  afterAll(() => {
    shutdown();
  });
}

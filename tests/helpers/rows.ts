/**
 * The row kernels' two paths (short rows: one subgroup or workgroup per row; long rows: a loop),
 * for the tests of the row-wise ops (tests/softmax.test.ts, tests/loss.test.ts, tests/norm.test.ts).
 */
import { forceRowPath, shortRowMaxLen, type RowPath } from '../../src/nn/functional/rows.js';

/** Runs `fn` with every row-wise kernel forced onto `path` (null: chosen by row length, as in use). */
export async function onPath<T>(path: RowPath | null, fn: () => Promise<T>): Promise<T> {
  forceRowPath(path);
  try {
    return await fn();
  } finally {
    forceRowPath(null);
  }
}

/**
 * Row lengths around the short-path threshold T (which depends on the adapter, so it is read once
 * the device is up): a case gives a length, or dT for T + dT.
 */
export const lengthOf = (c: { len?: number; dT?: number }): number => (c.dT !== undefined ? shortRowMaxLen() + c.dT : c.len!);

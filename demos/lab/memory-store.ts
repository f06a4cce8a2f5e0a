/**
 * The runner's RunStore (src/lab/experiment/store.ts) kept in memory, for the browser: the same
 * files the Node store writes (spec.json, results.jsonl, per-run metric and curve streams,
 * checkpoints), so the runner's pause-by-abort and resume-from-checkpoint work unchanged in a tab.
 * `onAppend` sees every appended text: the page streams training-loss points from it.
 */
import type { RunStore } from '../../src/lab/experiment/store.js';

export interface MemoryStore extends RunStore {
  /** Every path written so far (for tests and debugging). */
  paths(): string[];
}

export function memoryStore(root: string, onAppend?: (path: string, text: string) => void): MemoryStore {
  const files = new Map<string, string | Uint8Array>();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  return {
    root,
    async readText(path) {
      const v = files.get(path);
      return v === undefined ? null : typeof v === 'string' ? v : decoder.decode(v);
    },
    async readBytes(path) {
      const v = files.get(path);
      return v === undefined ? null : typeof v === 'string' ? encoder.encode(v) : v.slice();
    },
    async write(path, data) {
      files.set(path, typeof data === 'string' ? data : data.slice());
    },
    async append(path, text) {
      const v = files.get(path);
      files.set(path, (v === undefined ? '' : typeof v === 'string' ? v : decoder.decode(v)) + text);
      onAppend?.(path, text);
    },
    async remove(path) {
      files.delete(path);
    },
    paths() {
      return [...files.keys()];
    },
  };
}

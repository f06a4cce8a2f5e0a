/**
 * What `npm run lab -- --browser` (lab-browser.ts, in Node) and its page (lab-page.ts, in Chromium)
 * exchange. Node exposes the functions below on the page's window (puppeteer's exposeFunction:
 * arguments and results travel as JSON, so bytes travel as base64).
 */
import type { RunnerProgress } from '../lab/experiment/runner.js';
import type { ExperimentSpec, RunResult } from '../lab/experiment/types.js';

export interface LabPageConfig {
  spec: ExperimentSpec;
  quick: boolean;
  checkpointEvery: number;
  /** For messages only (the files are Node's). */
  outDir: string;
}

export type StoreOp = 'readText' | 'readBytes' | 'write' | 'append' | 'remove';
/** Text, or bytes as base64. */
export type StorePayload = { text: string } | { base64: string };

export type LabPageOutcome =
  | { ok: true; spec: ExperimentSpec; results: RunResult[]; trained: number; adapter: string }
  | { ok: false; aborted: boolean; error: string };

/** The functions Node exposes on the page's window. */
export interface LabPageBridge {
  __labConfig(): Promise<LabPageConfig>;
  /** readText: the text or null; readBytes: base64 or null; the others: null. */
  __labStore(op: StoreOp, path: string, payload?: StorePayload): Promise<string | null>;
  /** One of Fashion-MNIST's four .gz files (FASHION_MNIST_FILES), as base64. */
  __labFashionFile(name: string): Promise<string>;
  __labProgress(p: RunnerProgress): Promise<void>;
  __labFinish(outcome: LabPageOutcome): Promise<void>;
}

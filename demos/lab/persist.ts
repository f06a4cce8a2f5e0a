/**
 * What the lab keeps across a reload, in the browser's IndexedDB (through idb-keyval): the
 * settings being edited, and the last experiment's spec with its finished runs (and the test
 * accuracies measured during them, which results do not carry), saved after every finished run.
 * Nothing leaves the machine. A browser without IndexedDB (some private modes) keeps nothing, and
 * the page says so once.
 */
import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { AdapterReport } from '../../src/runtime/device.js';
import type { ExperimentSpec, RunResult } from '../../src/lab/experiment/types.js';
import type { Setup } from './share.js';

export interface SavedExperiment {
  version: 1;
  /** The setup as the form had it when the run started (the link and the form restore from it). */
  setup: Setup;
  /** The spec that ran (after the quick variant, if on). */
  spec: ExperimentSpec;
  results: RunResult[];
  /** Test accuracy at metric steps, by run key. */
  testEvals: Record<string, { step: number; accuracy: number }[]>;
  /** 'running' when the page went away mid-experiment. */
  phase: 'running' | 'stopped' | 'done';
  adapter?: AdapterReport;
  savedAt: string;
}

const SETTINGS = 'settings';
const EXPERIMENT = 'experiment';
let store: UseStore | null = null;
let broken: string | null = null;

function db(): UseStore | null {
  if (broken) return null;
  try {
    store ??= createStore('wgtrain-lab', 'state');
    return store;
  } catch (e) {
    broken = (e as Error).message;
    return null;
  }
}

async function attempt<T>(fn: (s: UseStore) => Promise<T>): Promise<T | undefined> {
  const s = db();
  if (!s) return undefined;
  try {
    return await fn(s);
  } catch (e) {
    broken = (e as Error).message || String(e);
    console.warn(`[lab] the browser's IndexedDB is not usable, nothing will be kept across a reload: ${broken}`);
    return undefined;
  }
}

/** Why nothing is kept, or null while storage works. */
export function storageProblem(): string | null {
  return broken;
}

export const loadSettings = () => attempt((s) => get<Setup>(SETTINGS, s));
export const saveSettings = (setup: Setup) => attempt((s) => set(SETTINGS, setup, s));
export const loadExperiment = () => attempt((s) => get<SavedExperiment>(EXPERIMENT, s));
export const saveExperiment = (x: SavedExperiment) => attempt((s) => set(EXPERIMENT, x, s));

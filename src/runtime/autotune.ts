/**
 * A small autotuner: times a few kernel variants of an op on the adapter in use, keeps the fastest
 * per problem class, and remembers the choice across runs.
 *
 * - Key: adapter fingerprint (vendor, architecture, device, description and the limits the op's
 *   candidates depend on) + op + problem class (the op buckets its sizes and flags). Different
 *   adapters never share entries.
 * - Tuning is explicit and async (timing needs `await`): `await autotune()` tunes every class that
 *   registered ops have seen but not tuned; ops also offer their own entry (`autotuneMatmul`). An op
 *   looks its choice up synchronously (`Autotuner.lookup`) and falls back to its fixed heuristic for
 *   classes that were never tuned, so nothing changes until someone tunes.
 * - Timing (`gpuTimer`, on the harness in timing.ts): per candidate one warm-up call (compiles the
 *   pipeline), a calibration call that sets how many calls make a batch (about `batchMs`), then
 *   `batches` batches, interleaved across candidates so drift hits all alike; a batch is timed
 *   from recording to the engine's `sync()` (queue completion, waited for patiently: patient-wait.ts);
 *   the per-call median is what counts.
 * - Persistence: Node -> `$WGTRAIN_CACHE_DIR/autotune-v1.json` (default `~/.cache/wgtrain/`), the
 *   browser -> localStorage key `wgtrain-autotune-v1`. A file that does not parse or has another
 *   version is ignored with one console warning (and replaced by the next save). Saving re-reads
 *   the file and merges, then writes a temporary file and renames it, so two processes tuning
 *   different classes do not lose each other's entries.
 * - Off switch: `WGTRAIN_AUTOTUNE=off` in the environment or `configureAutotune({ enabled: false })`:
 *   no timing, no lookups of stored choices, the heuristics everywhere.
 */
import type { AdapterReport } from './device.js';
import { envVar, isNode } from './env.js';
import { callBatch, timeInterleaved } from './timing.js';
import { engine } from './engine.js';

export const AUTOTUNE_CACHE_VERSION = 1;
const FILE_NAME = `autotune-v${AUTOTUNE_CACHE_VERSION}.json`;
const STORAGE_KEY = `wgtrain-autotune-v${AUTOTUNE_CACHE_VERSION}`;

/** One tuned problem class. */
export interface TuneRecord {
  /** Id of the chosen candidate. */
  choice: string;
  /** Median milliseconds per call of every candidate timed (Infinity: it failed). */
  timesMs: Record<string, number>;
  /** The problem the class was timed on (for reports). */
  problem?: Record<string, number | boolean>;
  /** ISO date of the measurement. */
  tunedAt: string;
}

/** Where the JSON text of the cache lives. */
export interface CacheStore {
  /** For messages: a path, a localStorage key, 'memory'. */
  readonly where: string;
  read(): string | null;
  write(text: string): void;
}

interface CacheFile {
  version: number;
  /** fingerprint -> "op|class" -> record */
  adapters: Record<string, Record<string, TuneRecord>>;
}

// ---- configuration ----

export interface AutotuneConfig {
  /** false: no tuning and no stored choices (default: true unless WGTRAIN_AUTOTUNE=off). */
  enabled?: boolean;
  /** Node: directory of the cache file (default $WGTRAIN_CACHE_DIR or ~/.cache/wgtrain). */
  cacheDir?: string;
  /** Keep choices in memory only (no file, no localStorage). */
  persist?: boolean;
}

let config: AutotuneConfig = {};

/** Changes how the autotuner works (merged into the current settings); resets the shared tuner. */
export function configureAutotune(options: AutotuneConfig): void {
  config = { ...config, ...options };
  sharedTuner = null;
}

/** Whether tuning and stored choices are in use (WGTRAIN_AUTOTUNE=off or configureAutotune). */
export function autotuneEnabled(): boolean {
  if (config.enabled !== undefined) return config.enabled;
  const v = (envVar('WGTRAIN_AUTOTUNE') ?? '').trim().toLowerCase();
  return !['off', '0', 'false', 'no'].includes(v);
}

// ---- stores ----

type NodeFs = typeof import('node:fs');
type NodePath = typeof import('node:path');
type NodeOs = typeof import('node:os');

/** Node's built-in modules without an import statement (keeps browser bundles free of node:fs). */
function nodeBuiltin<T>(name: string): T | null {
  const p = typeof process !== 'undefined' ? (process as { getBuiltinModule?: (n: string) => unknown }) : null;
  try {
    return (p?.getBuiltinModule?.(name) as T | undefined) ?? null;
  } catch {
    return null;
  }
}

export function memoryStore(initial: string | null = null): CacheStore {
  let text = initial;
  return { where: 'memory', read: () => text, write: (t) => { text = t; } };
}

/** The cache file in `dir`, written atomically (temporary file + rename). */
export function fileStore(dir: string): CacheStore {
  const fs = nodeBuiltin<NodeFs>('node:fs');
  const path = nodeBuiltin<NodePath>('node:path');
  if (!fs || !path) throw new Error('autotune: a file cache needs Node (node:fs)');
  const file = path.join(dir, FILE_NAME);
  return {
    where: file,
    read: () => {
      try {
        return fs.readFileSync(file, 'utf8');
      } catch {
        return null;
      }
    },
    write: (text) => {
      fs.mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, file);
    },
  };
}

function localStorageStore(): CacheStore | null {
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (!ls) return null;
  return {
    where: `localStorage['${STORAGE_KEY}']`,
    read: () => ls.getItem(STORAGE_KEY),
    write: (text) => ls.setItem(STORAGE_KEY, text),
  };
}

/** Node: the cache directory in use ($WGTRAIN_CACHE_DIR, or ~/.cache/wgtrain); null elsewhere. */
export function autotuneCacheDir(): string | null {
  if (config.cacheDir) return config.cacheDir;
  const fromEnv = envVar('WGTRAIN_CACHE_DIR');
  if (fromEnv) return fromEnv;
  const os = nodeBuiltin<NodeOs>('node:os');
  const path = nodeBuiltin<NodePath>('node:path');
  if (!os || !path) return null;
  return path.join(os.homedir(), '.cache', 'wgtrain');
}

/** The store the settings point at: file in Node, localStorage in a browser, memory otherwise. */
export function defaultStore(): CacheStore {
  if (config.persist === false) return memoryStore();
  if (isNode) {
    const dir = autotuneCacheDir();
    if (dir && nodeBuiltin('node:fs')) return fileStore(dir);
  }
  return localStorageStore() ?? memoryStore();
}

// ---- the cache ----

const warned = new Set<string>();

function warnOnce(where: string, why: string): void {
  if (warned.has(where)) return;
  warned.add(where);
  console.warn(`wgtrain autotune: ignoring the cache at ${where} (${why}); it will be rewritten by the next tuning run`);
}

function isRecord(r: unknown): r is TuneRecord {
  const o = r as TuneRecord;
  return !!o && typeof o === 'object' && typeof o.choice === 'string' && !!o.timesMs && typeof o.timesMs === 'object';
}

/** Parses the store's text; anything malformed or of another version counts as empty (one warning). */
function parse(store: CacheStore): CacheFile {
  const empty: CacheFile = { version: AUTOTUNE_CACHE_VERSION, adapters: {} };
  let text: string | null;
  try {
    text = store.read();
  } catch (e) {
    warnOnce(store.where, `cannot read it: ${(e as Error).message}`);
    return empty;
  }
  if (text === null) return empty;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    warnOnce(store.where, 'not valid JSON');
    return empty;
  }
  const f = data as CacheFile;
  if (!f || typeof f !== 'object' || f.version !== AUTOTUNE_CACHE_VERSION || !f.adapters || typeof f.adapters !== 'object') {
    warnOnce(store.where, `not a version ${AUTOTUNE_CACHE_VERSION} autotune cache`);
    return empty;
  }
  // Keep only well-formed records (JSON has no Infinity: failed candidates come back as null).
  const out: CacheFile = { version: AUTOTUNE_CACHE_VERSION, adapters: {} };
  for (const [fp, entries] of Object.entries(f.adapters)) {
    if (!entries || typeof entries !== 'object') continue;
    const kept: Record<string, TuneRecord> = {};
    for (const [k, r] of Object.entries(entries)) {
      if (!isRecord(r)) continue;
      const timesMs: Record<string, number> = {};
      for (const [id, t] of Object.entries(r.timesMs)) timesMs[id] = typeof t === 'number' ? t : Infinity;
      kept[k] = { ...r, timesMs };
    }
    out.adapters[fp] = kept;
  }
  return out;
}

// ---- fingerprints and keys ----

/**
 * The adapter's identity for the cache: vendor, architecture, device, description, and the limits
 * named (those that decide which candidates exist).
 */
export function adapterFingerprint(report: Pick<AdapterReport, 'vendor' | 'architecture' | 'device' | 'description' | 'limits'>, limitNames: readonly string[] = []): string {
  const limits = [...limitNames].sort().map((n) => `${n}=${report.limits[n] ?? '?'}`);
  return [report.vendor, report.architecture, report.device, report.description, ...limits].join('|');
}

/** Next power of two at or above n, at least `min` and at most `max`: the size buckets of problem classes. */
export function bucketPow2(n: number, min = 16, max = 8192): number {
  let b = min;
  while (b < n && b < max) b *= 2;
  return b;
}

// ---- timing ----

export interface Candidate {
  id: string;
  /** Records one call of the kernel (does not wait). */
  run: () => void;
}

/** Times candidates; returns median milliseconds per call, by id (Infinity when one threw). */
export type Timer = (candidates: readonly Candidate[]) => Promise<Record<string, number>>;

export interface GpuTimerOptions {
  /** Submits what was recorded. */
  flush: () => void;
  /** Resolves when the GPU has finished everything submitted. */
  done: () => Promise<unknown>;
  /** Timed batches per candidate (default 5). */
  batches?: number;
  /** Target length of one batch, ms (default 20). */
  batchMs?: number;
  /** Most calls in a batch (default 64). */
  maxCalls?: number;
}

/** Wall time from recording to queue completion, per call, median over interleaved batches (timing.ts). */
export function gpuTimer(o: GpuTimerOptions): Timer {
  return async (candidates) => {
    await o.done();
    const sync = async () => {
      o.flush();
      await o.done();
    };
    const timings = await timeInterleaved(candidates.map((c) => callBatch(c.run, sync)), {
      repeats: o.batches ?? 5,
      targetMs: o.batchMs ?? 20,
      maxCalls: o.maxCalls ?? 64,
      tolerateErrors: true,
    });
    return Object.fromEntries(candidates.map((c, i) => [c.id, timings[i].ms]));
  };
}

// ---- the tuner ----

export interface AutotunerOptions {
  /** Adapter fingerprint (see adapterFingerprint). */
  fingerprint: string;
  store?: CacheStore;
  /** Default: none; tune() then needs one passed in. */
  timer?: Timer;
}

export interface TuneResult {
  key: string;
  record: TuneRecord;
  /** True when the choice came from the cache (nothing was timed). */
  cached: boolean;
}

export class Autotuner {
  readonly fingerprint: string;
  readonly store: CacheStore;
  private timer: Timer | undefined;
  private entries: Record<string, TuneRecord> | null = null;
  /** How many candidate sets were timed (tests: a cached class is not timed again). */
  timings = 0;

  constructor(options: AutotunerOptions) {
    this.fingerprint = options.fingerprint;
    this.store = options.store ?? memoryStore();
    this.timer = options.timer;
  }

  private load(): Record<string, TuneRecord> {
    this.entries ??= { ...(parse(this.store).adapters[this.fingerprint] ?? {}) };
    return this.entries;
  }

  /** The stored choice for op + class, read synchronously (the store is read once). */
  lookup(op: string, problemClass: string): TuneRecord | undefined {
    return this.load()[`${op}|${problemClass}`];
  }

  /**
   * Returns the stored choice, or times the candidates, keeps the fastest (ties: the earlier one)
   * and saves it. Throws if every candidate failed.
   */
  async tune(op: string, problemClass: string, candidates: readonly Candidate[], problem?: TuneRecord['problem'], timer = this.timer): Promise<TuneResult> {
    const key = `${op}|${problemClass}`;
    const have = this.lookup(op, problemClass);
    if (have && candidates.some((c) => c.id === have.choice)) return { key, record: have, cached: true };
    if (candidates.length === 0) throw new Error(`autotune: ${op} has no candidates for ${problemClass}`);
    if (!timer) throw new Error('autotune: no timer to measure with');
    this.timings++;
    const timesMs = await timer(candidates);
    let best: string | null = null;
    for (const c of candidates) {
      const t = timesMs[c.id];
      if (Number.isFinite(t) && (best === null || t < timesMs[best])) best = c.id;
    }
    if (best === null) throw new Error(`autotune: every candidate of ${op} failed for ${problemClass}`);
    const record: TuneRecord = { choice: best, timesMs, tunedAt: new Date().toISOString(), ...(problem ? { problem } : {}) };
    this.load()[key] = record;
    this.save(key, record);
    return { key, record, cached: false };
  }

  /** Merges one record into what the store holds now and writes it back. */
  private save(key: string, record: TuneRecord): void {
    const file = parse(this.store);
    const mine = (file.adapters[this.fingerprint] ??= {});
    mine[key] = record;
    // JSON cannot hold Infinity: failed candidates are written as null and read back as Infinity.
    const text = JSON.stringify(file, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1);
    try {
      this.store.write(text);
    } catch (e) {
      warnOnce(this.store.where, `cannot write it: ${(e as Error).message}`);
    }
  }
}

// ---- the process-wide tuner and the op registry ----

let sharedTuner: Autotuner | null = null;

/** The tuner ops use for the current engine's adapter (rebuilt when the fingerprint changes). */
export function sharedAutotuner(fingerprint: string, timer: () => Timer): Autotuner {
  if (!sharedTuner || sharedTuner.fingerprint !== fingerprint) {
    sharedTuner = new Autotuner({ fingerprint, store: defaultStore(), timer: timer() });
  }
  return sharedTuner;
}

/**
 * The device limits that decide which kernel variants ops offer (matmul's tile configs): part of the
 * adapter fingerprint, so a device with other limits never reuses stored choices.
 */
export const TUNING_LIMITS = [
  'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
] as const;

/**
 * The tuner every op uses (matmul, dropout): the engine's adapter under one fingerprint, so all ops
 * share one tuner and one store, timed with `gpuTimer` on the engine's queue.
 */
export function engineAutotuner(): Autotuner {
  const e = engine();
  return sharedAutotuner(adapterFingerprint(e.report, TUNING_LIMITS), () => gpuTimer({ flush: () => e.flush(), done: () => e.sync() }));
}

/** @internal Tests: forget the shared tuner (the next lookup reads the store again). */
export function resetAutotunerForTests(): void {
  sharedTuner = null;
}

type TuneSeen = () => Promise<TuneResult[]>;
const tunableOps = new Map<string, TuneSeen>();

/** Ops register how to tune the problem classes they have seen. */
export function registerTunableOp(op: string, tuneSeen: TuneSeen): void {
  tunableOps.set(op, tuneSeen);
}

/**
 * Tunes every problem class that a registered op (matmul) has run since start-up and that has no
 * stored choice yet; a no-op when tuning is off. Run it after a warm-up step, before timing or
 * training: `model.forward(x); await autotune();`.
 */
export async function autotune(): Promise<TuneResult[]> {
  if (!autotuneEnabled()) return [];
  const out: TuneResult[] = [];
  for (const tuneSeen of tunableOps.values()) out.push(...(await tuneSeen()));
  return out;
}

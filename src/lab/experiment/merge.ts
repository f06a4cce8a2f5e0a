/**
 * `npm run lab -- --merge DIR...`: one experiment's results from several output folders (the shards
 * of a Slurm array, the workers of `--jobs`, or one folder merged into itself to regenerate its
 * report) into one results.jsonl, in plan order, as a serial run writes it.
 *
 * Checks: every folder holds the same experiment (spec.json equal up to the description, which is
 * prose; otherwise an error naming the first differing field); every result belongs to that spec's
 * plan; a run found twice must be the same run (bit-identical numbers; wall time and adapter may
 * differ) and is kept once, otherwise an error naming it; runs of the plan found nowhere are listed
 * as missing. Node only (reads and writes folders).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { canonical, firstDifference, parseLines, planRuns, RESULTS_FILE, SPEC_FILE } from './runner.js';
import { validateSpec } from './spec.js';
import { nodeStore } from './store.js';
import { runKey, type ExperimentSpec, type RunResult } from './types.js';

/** An output folder as read: its spec (raw JSON and validated) and its finished runs. */
export interface RunFolder {
  dir: string;
  specJson: unknown;
  spec: ExperimentSpec;
  results: RunResult[];
}

/**
 * The finished runs in a results.jsonl's text, read as the runner reads them (runner.ts parseLines):
 * a torn last line is a run being written when the process stopped and is left out; a bad line
 * anywhere else is an error naming the file and line.
 */
export function parseResults(text: string, file: string): RunResult[] {
  return parseLines<RunResult>(text, file).items;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Reads spec.json and results.jsonl of an output folder; a folder without spec.json is an error. */
export async function readRunFolder(dir: string): Promise<RunFolder> {
  const specFile = join(dir, SPEC_FILE);
  const specText = await readText(specFile);
  if (specText === null) throw new Error(`${dir} is not a lab output folder: it has no ${SPEC_FILE}`);
  let specJson: unknown;
  try {
    specJson = JSON.parse(specText);
  } catch (e) {
    throw new Error(`${specFile}: not valid JSON (${(e as Error).message})`);
  }
  let spec: ExperimentSpec;
  try {
    spec = validateSpec(structuredClone(specJson));
  } catch (e) {
    throw new Error(`${specFile}: ${(e as Error).message}`);
  }
  const resultsFile = join(dir, RESULTS_FILE);
  const text = await readText(resultsFile);
  return { dir, specJson, spec, results: text === null ? [] : parseResults(text, resultsFile) };
}

/** Where two folders' specs differ (the description is prose and may), or null. */
export function specDifference(a: { dir: string; specJson: unknown }, b: { dir: string; specJson: unknown }): string | null {
  const strip = (s: unknown) => canonical({ ...(s as Record<string, unknown>), description: undefined });
  return firstDifference(strip(a.specJson), strip(b.specJson), '', [`in ${a.dir}`, `in ${b.dir}`]);
}

/** A result without what legitimately differs between processes and machines. */
function comparable({ seconds: _s, adapter: _a, ...rest }: RunResult): string {
  return JSON.stringify(canonical(rest));
}

export interface MergedResults {
  spec: ExperimentSpec;
  /** One result per run found, in plan order. */
  results: RunResult[];
  /** Keys of planned runs found in no folder. */
  missing: string[];
  /** Runs found more than once (identical each time, so kept once), with the folders. */
  duplicates: { key: string; dirs: string[] }[];
}

/** Merges folders already read (see the module comment); throws on different specs, foreign or conflicting runs. */
export function mergeRunFolders(folders: readonly RunFolder[]): MergedResults {
  if (folders.length === 0) throw new Error('merge: no folders given');
  const [first] = folders;
  for (const f of folders.slice(1)) {
    const diff = specDifference(first, f);
    if (diff) throw new Error(`merge: ${f.dir} holds a different experiment from ${first.dir} (${diff}); only runs of one spec can be merged`);
  }
  const plan = planRuns(first.spec);
  const planned = new Set(plan.map((r) => r.key));
  const found = new Map<string, { result: RunResult; dir: string; dirs: string[] }>();
  for (const f of folders) {
    for (const r of f.results) {
      const key = runKey(r);
      if (!planned.has(key) || r.experiment !== first.spec.name) {
        throw new Error(`merge: ${join(f.dir, RESULTS_FILE)} holds run ${key} of experiment '${r.experiment}', which is not in the plan of '${first.spec.name}'`);
      }
      const seen = found.get(key);
      if (!seen) {
        found.set(key, { result: r, dir: f.dir, dirs: [f.dir] });
        continue;
      }
      if (comparable(seen.result) !== comparable(r)) {
        const { seconds: _a, adapter: _b, ...x } = seen.result;
        const { seconds: _c, adapter: _d, ...y } = r;
        const diff = firstDifference(canonical(x), canonical(y), '', [`in ${seen.dir}`, `in ${f.dir}`]);
        throw new Error(`merge: run ${key} appears twice with different results (${diff}); the same run must give the same numbers, so one of the folders is not what it seems`);
      }
      seen.dirs.push(f.dir);
    }
  }
  return {
    spec: first.spec,
    results: plan.filter((r) => found.has(r.key)).map((r) => found.get(r.key)!.result),
    missing: plan.filter((r) => !found.has(r.key)).map((r) => r.key),
    duplicates: [...found.entries()].filter(([, v]) => v.dirs.length > 1).map(([key, v]) => ({ key, dirs: v.dirs })),
  };
}

/**
 * Reads `dirs`, merges them, and writes spec.json (when `outDir` has none) and results.jsonl
 * (atomically) into `outDir`. An `outDir` that is not among `dirs` and already holds results is
 * refused: merging would drop them silently.
 */
export async function mergeFolders(dirs: readonly string[], outDir: string): Promise<MergedResults & { folders: RunFolder[] }> {
  const folders: RunFolder[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    if (seen.has(resolve(dir))) continue; // the same folder named twice is one folder
    seen.add(resolve(dir));
    folders.push(await readRunFolder(dir));
  }
  const merged = mergeRunFolders(folders);
  const store = await nodeStore(outDir);
  if (!seen.has(resolve(outDir))) {
    const existing = await store.readText(SPEC_FILE);
    if (existing !== null) {
      const target = await readRunFolder(outDir);
      const diff = specDifference(folders[0], target);
      if (diff) throw new Error(`merge: the output folder ${outDir} holds a different experiment (${diff}); choose another --out`);
      if (target.results.length) throw new Error(`merge: the output folder ${outDir} already holds ${target.results.length} results; name it among the folders to merge (to keep them) or choose an empty --out`);
    } else {
      await store.write(SPEC_FILE, JSON.stringify(canonical(folders[0].specJson), null, 2) + '\n');
    }
  }
  const text = merged.results.map((r) => JSON.stringify(r) + '\n').join('');
  // Already so (a folder merged into itself, as a serial run wrote it): leave the file alone, and
  // with it a torn last line that a runner still writing there is about to complete.
  const current = await store.readText(RESULTS_FILE);
  const unchanged = current !== null && current.startsWith(text) && !current.slice(text.length).includes('\n');
  if (!unchanged) await store.write(RESULTS_FILE, text);
  return { ...merged, folders };
}

/**
 * `npm run lab -- [options]`: runs an experiment preset (or a spec file) headless, with a progress
 * bar, writing results as they come and a report at the end. Node with Dawn (the `webgpu`
 * package) by default; `--browser` runs the same runner in headless Chromium (src/cli/lab-browser.ts).
 *
 *   npm run lab                                   the default preset ('analysis')
 *   npm run lab -- --preset early-dropout         another preset (--list shows them)
 *   npm run lab -- --preset analysis --quick      the few-minutes-on-SwiftShader variant
 *   npm run lab -- --spec my.json --out reports/mine
 *   npm run lab -- --plan --preset late-dropout   cost, time and power, before any training
 *   npm run lab -- --preset regime-finder --part 2   the second of a preset's GPU-window parts
 *   npm run lab -- --preset early-dropout --jobs 4   four worker processes on this machine
 *   npm run lab -- --preset early-dropout --shard 3/8   machine 3 of 8 (a job array); then
 *   npm run lab -- --merge DIR... --out reports/early-dropout   one report from the shards
 *
 * Output folder (default reports/<preset>, or reports/<preset>-quick): spec.json, results.jsonl
 * (one line per finished run), runs/ (metric streams and checkpoints), report.md and its SVGs.
 * Re-running the same command skips finished runs and resumes the unfinished one from its last
 * checkpoint. Ctrl-C stops after the current step with a checkpoint (a second Ctrl-C quits at once).
 * docs/lab.md says how to plan, split, parallelise and shard a run.
 *
 * Bundled by scripts/build-node.mjs into dist-node/lab.mjs (only `webgpu` external, so it also runs
 * on a GPU server through the kit of scripts/gpu-kit.sh); the browser part is a separate bundle,
 * dist-node/lab-browser.mjs, loaded only with --browser, so puppeteer and Vite stay out of this one.
 * `--jobs` forks this same module as its workers. The npm package ships the same bundle as
 * lib/cli/lab.mjs (scripts/build-lib.mjs), run by `wgtrain lab` (src/cli/wgtrain.ts), without the
 * browser part.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { DEFAULT_PRESET, PRESET_NAMES, PRESETS, preset, presetParts } from '../lab/experiment/presets/index.js';
import { formatDuration } from '../lab/experiment/plan.js';
import { formatShard, parseShard, type Shard } from '../lab/experiment/shard.js';
import { QUICK, quickSpec, validateSpec } from '../lab/experiment/spec.js';
import type { RunnerProgress } from '../lab/experiment/runner.js';
import type { WorkerMessage } from '../lab/experiment/parallel.js';
import type { ExperimentSpec, RunResult } from '../lab/experiment/types.js';

// Without an explicit Vulkan driver, CPU-only machines use Chromium's SwiftShader (as the tests do).
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
}
process.env.XDG_RUNTIME_DIR ??= '/tmp';

interface CliOptions {
  preset?: string;
  spec?: string;
  out?: string;
  quick?: boolean;
  browser?: boolean;
  checkpointEvery: number;
  /** Undefined: on unless the adapter is a software one. */
  autotune?: boolean;
  list?: boolean;
  progress: boolean;
  plan?: boolean;
  planSteps: number;
  pilot?: string;
  gpuMs?: number;
  part?: number;
  shard?: Shard;
  jobs?: number;
  merge?: string[];
  /** Internal: this process is worker K/N of a --jobs parent (IPC progress, no report). */
  worker?: Shard;
}

/**
 * How the user started this program, for help and hints: `npm run lab --` in the repository,
 * `wgtrain lab` from the installed package (whose dispatcher, src/cli/wgtrain.ts, sets the variable).
 */
const COMMAND = process.env.WGTRAIN_LAB_COMMAND || 'npm run lab --';

/** Exit status of --merge when runs of the plan are missing (the report is still written). */
const EXIT_INCOMPLETE = 3;
const EXIT_STOPPED = 130;

const QUICK_HELP = `
--quick shrinks the experiment deterministically (src/lab/experiment/spec.ts, quickSpec): the first
${QUICK.seeds} seeds; at most ${QUICK.trainSize} training and ${QUICK.testSize} test images; ${QUICK.epochs} epochs; batch ${QUICK.batchSize};
ViT/Mixer width <= ${QUICK.dim}, depth <= ${QUICK.depth}, <= ${QUICK.numHeads} heads, patches of half the image side; MLP widths <= ${QUICK.hidden};
cutoffs and warmup keep their fraction of training (whole steps); at most ${QUICK.metricPoints} metric points per
run with |G| <= ${QUICK.numBatches}. Same cells, arms, modes, rates and shapes. Output: reports/<name>-quick.

Planning, parts, parallel and sharded runs (docs/lab.md):
  --plan prints runs, steps, metric and evaluation cost in step-equivalents, the time on this adapter
  (from a few timed steps; --plan-steps 0 skips the timing), the time on an H200-class GPU (assumed
  3 ms per vit-xs step at batch 128; --gpu-ms changes it) per part, and the minimum detectable effect
  of every comparison (SDs from --pilot DIR, or the stated defaults). It trains and writes nothing.
  Presets too long for one GPU window are split into parts (--list shows them): run --part 1, 2, ...
  one per window, into the same folder. --jobs N runs the runs in N worker processes on this machine
  (folders <out>/jobs/K-of-N, merged into <out> at the end); --shard K/N runs machine K's share of N
  into its own folder (default reports/<name>-shard-K-of-N); --merge DIR... writes one results.jsonl
  and report from such folders into --out (default: the first DIR; one DIR regenerates its report).
  --merge exits with status ${EXIT_INCOMPLETE} when runs of the plan are missing (it names them; the report is written).

Presets (src/lab/experiment/presets/*.json): ${PRESET_NAMES.join(', ')}; default ${DEFAULT_PRESET}.
Environment: WGTRAIN_FASHION_MNIST_DIR (data folder), VK_ICD_FILENAMES (Vulkan driver; SwiftShader
when unset and present), WGTRAIN_CHROMIUM / WGTRAIN_BROWSER_GPU=1 (--browser).`;

/** A mistake in the command line: said in one line, without a stack trace. */
class UsageError extends Error {
  override name = 'UsageError';
}

/** Option values that do not parse: commander prints the message and the usage hint. */
const arg = <T>(parse: (v: string) => T) => (v: string): T => {
  try {
    return parse(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

const positiveInt = (flag: string) => arg((v) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer, got ${v}`);
  return n;
});

function parseArgs(argv: string[]): CliOptions {
  const program = new Command()
    .name(COMMAND)
    .description('Runs an experiment of the early-dropout lab headless and writes results and a report.')
    .option('-p, --preset <name>', `experiment preset (${PRESET_NAMES.join(', ')})`)
    .option('-s, --spec <file>', 'experiment spec JSON file, instead of a preset')
    .option('-o, --out <dir>', 'output folder (default: reports/<name>, reports/<name>-quick with --quick)')
    .option('-q, --quick', 'the small variant: a few minutes on SwiftShader (see below)')
    .option('--browser', 'run in headless Chromium (puppeteer) instead of Node with Dawn')
    .option('--checkpoint-every <steps>', 'steps between checkpoints, besides the ends of epochs at least a quarter that long', positiveInt('--checkpoint-every'), 200)
    .option('--autotune', 'tune the matmul kernels on this adapter during the first step of each run (default on a GPU; results are bit-identical either way)')
    .option('--no-autotune', 'use stored or default matmul kernels only (default on a software adapter, where compiling every candidate costs more than it saves in a short run)')
    .option('--no-progress', 'no progress bar (one line per run instead)')
    .option('--list', 'list the presets (and their parts) and exit')
    .option('--plan', 'print what the experiment costs and can detect, then exit: nothing is trained or written (see below)')
    .option('--plan-steps <n>', 'steps timed per model by --plan after a warm-up step; 0: no timing on this adapter', arg((v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--plan-steps must be a whole number >= 0, got ${v}`);
      return n;
    }), 3)
    .option('--pilot <dir>', "--plan: paired-difference SDs from this results folder's results.jsonl (a pilot run) instead of the defaults")
    .option('--gpu-ms <ms>', '--plan: ms per vit-xs step at batch 128 for the GPU estimate (default 3, until a GPU run measures it)', arg((v) => {
      const n = Number(v);
      if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--gpu-ms must be a positive number of milliseconds, got ${v}`);
      return n;
    }))
    .option('--part <k>', "run part K of a preset split into parts for GPU windows, into the preset's folder", positiveInt('--part'))
    .option('--shard <K/N>', 'run the K-th of N deterministic shares of the runs (one machine of N), into reports/<name>-shard-K-of-N', arg((v) => parseShard(v, '--shard')))
    .option('--jobs <n>', 'run the runs in N worker processes on this machine, each with its own device', positiveInt('--jobs'))
    .option('--merge <dirs...>', 'merge the results of these output folders (shards, workers) of one experiment into --out (default: the first) and write its report')
    .addOption(new Option('--worker <K/N>', 'internal: worker K/N of a --jobs parent').argParser(arg((v) => parseShard(v, '--worker'))).hideHelp())
    .addHelpText('after', QUICK_HELP)
    .showHelpAfterError();
  program.parse(argv, { from: 'user' });
  return program.opts<CliOptions>();
}

function loadSpec(o: CliOptions): { spec: ExperimentSpec; name: string } {
  if (o.preset && o.spec) throw new UsageError('give either --preset or --spec, not both');
  if (o.spec) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(o.spec, 'utf8'));
    } catch (e) {
      throw new Error(`--spec ${o.spec}: ${(e as Error).message}`);
    }
    try {
      const spec = validateSpec(json);
      return { spec, name: spec.name };
    } catch (e) {
      throw new Error(`--spec ${o.spec}: ${(e as Error).message}`);
    }
  }
  const name = o.preset ?? DEFAULT_PRESET;
  return { spec: preset(name), name };
}

/** Options that do not go together, refused before anything starts. */
function checkCombinations(o: CliOptions): void {
  const given = (flags: [string, unknown][]) => flags.filter(([, v]) => v !== undefined && v !== false).map(([f]) => f);
  if (o.merge) {
    const other = given([['--preset', o.preset], ['--spec', o.spec], ['--quick', o.quick], ['--plan', o.plan], ['--part', o.part], ['--shard', o.shard], ['--jobs', o.jobs], ['--browser', o.browser]]);
    if (other.length) throw new UsageError(`--merge takes output folders and --out only, not ${other.join(', ')} (each folder's spec.json says what ran)`);
    return;
  }
  if (o.browser) {
    const other = given([['--plan', o.plan], ['--part', o.part], ['--shard', o.shard], ['--jobs', o.jobs]]);
    if (other.length) throw new UsageError(`${other.join(', ')} run${other.length === 1 ? 's' : ''} in Node only, not with --browser`);
  }
  if (o.pilot && !o.plan) throw new UsageError('--pilot is for --plan');
  if (o.part !== undefined && !o.preset) throw new UsageError('--part needs --preset (a preset split into parts, see --list); for a spec file use --shard K/N into one folder');
}

/** `--part K` as a share of the preset. */
function partShard(o: CliOptions, name: string): Shard | null {
  if (o.part === undefined) return null;
  const parts = presetParts(name);
  if (parts === 1) throw new UsageError(`preset '${name}' is not split into parts (it fits one GPU window): run it without --part`);
  if (o.part > parts) throw new UsageError(`--part ${o.part}: preset '${name}' has ${parts} parts (1 to ${parts})`);
  return { index: o.part, count: parts };
}

/**
 * Progress: a bar over all optimizer steps of the experiment (runs done, the current run's step,
 * ETA from the rate of this session's steps, metric measurements included) on a terminal; plain
 * lines otherwise.
 */
class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private sessionStart = 0;
  private stepsAtStart = -1;

  constructor(private readonly fancy: boolean) {}

  private eta(p: RunnerProgress): string {
    if (this.stepsAtStart < 0) return '--';
    const done = p.stepsDone - this.stepsAtStart;
    const elapsed = (performance.now() - this.sessionStart) / 1000;
    if (done <= 0 || elapsed < 1) return '--';
    return formatDuration(((p.stepsTotal - p.stepsDone) * elapsed) / done);
  }

  log(line: string): void {
    if (this.bar) {
      // Clear the bar's line, print, and let the next update redraw it.
      process.stderr.write(`\r\x1b[2K${line}\n`);
      this.bar.render?.();
    } else {
      console.error(line);
    }
  }

  update(p: RunnerProgress): void {
    if (p.kind === 'plan') {
      if (this.fancy) {
        this.bar = new cliProgress.SingleBar({
          format: 'lab {bar} {percentage}% | runs {runsDone}/{runsTotal} | {run} step {step}/{steps} | ETA {etaText}',
          barsize: 24,
          hideCursor: true,
          clearOnComplete: false,
          stream: process.stderr,
          fps: 5,
        }, cliProgress.Presets.shades_classic);
        this.bar.start(Math.max(1, p.stepsTotal), 0, { runsDone: 0, runsTotal: p.runsTotal, run: '-', step: 0, steps: 0, etaText: '--' });
      } else {
        console.error(`lab: ${p.runsTotal} runs, ${p.stepsTotal} steps in all`);
      }
      return;
    }
    if (p.kind === 'start') {
      if (this.stepsAtStart < 0) {
        this.stepsAtStart = p.stepsDone;
        this.sessionStart = performance.now();
      }
      const line = `  ${p.key}: ${p.resumedFrom ? `resumed at step ${p.resumedFrom}` : 'started'} (${p.totalSteps} steps)`;
      if (!this.bar) console.error(line);
      else if (p.resumedFrom) this.log(line);
    }
    if (p.kind === 'skip' && !this.bar) console.error(`  ${p.key}: done earlier, skipped`);
    if (p.kind === 'finish' && p.result) {
      const r = p.result;
      this.log(`  ${p.key}: final train loss ${r.finalTrainLoss.toFixed(4)}, test acc ${(100 * r.testAccuracy).toFixed(2)}%, ${formatDuration(r.seconds)}` +
        `   [${p.runsDone}/${p.runsTotal} runs, ETA ${this.eta(p)}]`);
    }
    this.bar?.update(p.stepsDone, {
      runsDone: p.runsDone,
      runsTotal: p.runsTotal,
      run: p.key ?? '-',
      step: p.step ?? 0,
      steps: p.totalSteps ?? 0,
      etaText: this.eta(p),
    });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

interface Outcome {
  spec: ExperimentSpec;
  adapter: string;
}

/** Node with Dawn: the runner in this process. */
async function runInNode(spec: ExperimentSpec, o: CliOptions, outDir: string, shards: Shard[], progress: Progress, signal: AbortSignal): Promise<Outcome> {
  const { init } = await import('../runtime/engine.js');
  const { adapterName, runExperiment } = await import('../lab/experiment/runner.js');
  await init();
  const adapter = adapterName();
  const share = shards.length ? ` (share ${shards.map(formatShard).join(' of part ')})` : '';
  progress.log(`lab: ${spec.name}${o.quick ? ' (--quick)' : ''}${share} on ${adapter} -> ${outDir}`);
  const { adapterReport } = await import('../runtime/engine.js');
  const autotune = o.autotune ?? !adapterReport().software;
  const outcome = await runExperiment(spec, { outDir, quick: o.quick, checkpointEvery: o.checkpointEvery, autotune, signal, shards, onProgress: (p) => progress.update(p) });
  return { spec: outcome.spec, adapter };
}

/** Headless Chromium: the browser bundle (dist-node/lab-browser.mjs next to this one, or the .ts source). */
async function runInBrowserMode(spec: ExperimentSpec, o: CliOptions, outDir: string, progress: Progress, signal: AbortSignal): Promise<Outcome> {
  const bundled = import.meta.url.endsWith('.mjs');
  const url = new URL(bundled ? './lab-browser.mjs' : './lab-browser.ts', import.meta.url);
  if (bundled && !existsSync(url)) {
    // The installed package has no lab-browser.mjs: the page is served by Vite from the sources.
    throw new Error(`--browser needs ${url.pathname}, which runs the lab page from a clone of the repository: build it with 'node scripts/build-node.mjs src/cli/lab-browser.ts --external-packages' (npm run lab does)`);
  }
  const mod = (await import(/* @vite-ignore */ url.href)) as typeof import('./lab-browser.js');
  const r = await mod.runInBrowser({ spec, outDir, quick: !!o.quick, checkpointEvery: o.checkpointEvery, onProgress: (p) => progress.update(p), log: (l) => progress.log(l), signal });
  return { spec: r.spec, adapter: r.adapter };
}

/** The finished runs in `outDir` that belong to `spec`, in plan order ([] when the folder has none yet). */
async function folderResults(outDir: string, spec: ExperimentSpec): Promise<RunResult[]> {
  if (!existsSync(join(outDir, 'spec.json'))) return [];
  const { readRunFolder, mergeRunFolders } = await import('../lab/experiment/merge.js');
  const folder = await readRunFolder(outDir);
  return mergeRunFolders([{ ...folder, spec }]).results;
}

const adaptersOf = (results: readonly RunResult[]) => [...new Set(results.map((r) => r.adapter))].join('; ') || 'unknown adapter';

async function report(spec: ExperimentSpec, results: RunResult[], outDir: string, adapter: string, quick: boolean, what: string): Promise<void> {
  if (!results.length) return;
  const { writeReport } = await import('../lab/experiment/report.js');
  const { reportPath } = await writeReport(spec, results, outDir, { adapter, quick });
  console.error(`lab: ${what} (${results.length} runs): ${reportPath}`);
}

/** `--merge DIR...`. */
async function mergeCommand(o: CliOptions): Promise<number> {
  const dirs = o.merge!;
  const out = o.out ?? dirs[0];
  const { mergeFolders } = await import('../lab/experiment/merge.js');
  const m = await mergeFolders(dirs, out);
  for (const f of m.folders) console.error(`lab: ${f.dir}: ${f.results.length} runs`);
  if (m.duplicates.length) console.error(`lab: ${m.duplicates.length} runs found in more than one folder with identical results, kept once: ${m.duplicates.map((d) => `${d.key} (${d.dirs.join(', ')})`).join('; ')}`);
  const total = m.results.length + m.missing.length;
  console.error(`lab: merged ${m.results.length} of ${total} runs of ${m.spec.name} -> ${join(out, 'results.jsonl')}`);
  if (m.missing.length) console.error(`lab: missing ${m.missing.length} runs: ${m.missing.join(', ')}`);
  await report(m.spec, m.results, out, adaptersOf(m.results), m.spec.name.endsWith('-quick'), m.missing.length ? 'partial report' : 'report');
  return m.missing.length ? EXIT_INCOMPLETE : 0;
}

/** `--plan`: nothing is trained or written; the device is used for timing only. */
async function planCommand(o: CliOptions, input: ExperimentSpec, name: string, shards: Shard[]): Promise<number> {
  const spec = o.quick ? quickSpec(input) : input;
  const { makePlan, formatPlan } = await import('../lab/experiment/plan.js');
  const { PilotSds } = await import('../lab/experiment/power.js');
  let pilot = null;
  if (o.pilot) {
    const { readRunFolder } = await import('../lab/experiment/merge.js');
    pilot = new PilotSds((await readRunFolder(o.pilot)).results, o.pilot);
  }
  let timings = null;
  let adapter: string | undefined;
  if (o.planSteps > 0) {
    const { init, shutdown, adapterReport } = await import('../runtime/engine.js');
    const { adapterName } = await import('../lab/experiment/runner.js');
    const { measureTimings } = await import('../lab/experiment/timing.js');
    await init();
    try {
      adapter = adapterName();
      console.error(`plan: timing on ${adapter}`);
      timings = await measureTimings(spec, { steps: o.planSteps, autotune: o.autotune ?? !adapterReport().software, log: (l) => console.error(l) });
    } finally {
      shutdown();
    }
  }
  const plan = makePlan(spec, {
    checkpointEvery: o.checkpointEvery,
    parts: o.preset ? presetParts(name) : 1,
    shards,
    jobs: o.jobs,
    pilot,
    msPerStep: o.gpuMs,
    timings,
    adapter,
  });
  process.stdout.write(formatPlan(plan, { name: o.quick ? `${name} --quick` : name }));
  return 0;
}

/**
 * A `--jobs` worker: the runner on its share, progress to the parent over IPC, no report. Terminal
 * signals are the parent's to handle; 'stop' from the parent, or the parent going away, stops
 * after a checkpoint.
 */
async function workerCommand(input: ExperimentSpec, o: CliOptions, outDir: string, shards: Shard[]): Promise<number> {
  if (!process.send) throw new UsageError('--worker is internal: it runs under a --jobs parent only');
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => {});
  process.on('message', (m: { type?: string }) => m?.type === 'stop' && controller.abort());
  process.on('disconnect', () => controller.abort());
  const send = (p: RunnerProgress) => new Promise<void>((resolve) => {
    if (!process.connected) return resolve();
    process.send!({ type: 'progress', progress: p } satisfies WorkerMessage, undefined, {}, () => resolve());
  });
  let lastStep = 0;
  let sent: Promise<void> = Promise.resolve();
  const { init, shutdown, adapterReport } = await import('../runtime/engine.js');
  const { runExperiment } = await import('../lab/experiment/runner.js');
  await init();
  try {
    await runExperiment(input, {
      outDir,
      quick: o.quick,
      checkpointEvery: o.checkpointEvery,
      autotune: o.autotune ?? !adapterReport().software,
      signal: controller.signal,
      shards: [...shards, o.worker!],
      onProgress: (p) => {
        // Every event but the per-step ones, which go up at most five times a second.
        if (p.kind === 'step' && performance.now() - lastStep < 200) return;
        lastStep = performance.now();
        sent = send(p);
      },
    });
    return 0;
  } catch (e) {
    if ((e as Error).name === 'AbortError') return EXIT_STOPPED;
    throw e;
  } finally {
    shutdown();
    await sent; // messages go in order: the last one's callback means all are out
    if (process.connected) process.disconnect();
  }
}

async function main(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  if (o.list) {
    for (const name of PRESET_NAMES) {
      const s = PRESETS[name] as ExperimentSpec;
      const parts = presetParts(name);
      console.log(`${name}${name === DEFAULT_PRESET ? ' (default)' : ''}${parts > 1 ? ` (${parts} parts for GPU windows: --part 1 to ${parts})` : ''}\n  ${s.description ?? ''}\n`);
    }
    return 0;
  }
  checkCombinations(o);
  if (o.merge) return mergeCommand(o);
  const { spec: input, name } = loadSpec(o);
  const part = partShard(o, name);
  const shards = [...(part ? [part] : []), ...(o.shard ? [o.shard] : [])];
  if (o.plan) return planCommand(o, input, name, shards);
  const base = join('reports', o.quick ? `${name}-quick` : name);
  const outDir = o.out ?? (o.shard ? `${base}-shard-${o.shard.index}-of-${o.shard.count}` : base);
  if (o.worker) return workerCommand(input, o, outDir, shards);

  const progress = new Progress(o.progress && !!process.stderr.isTTY);
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      progress.log(`lab: ${sig}: stopping after the current step (writing a checkpoint); ${sig === 'SIGINT' ? 'Ctrl-C' : 'send it'} again to quit at once`);
      controller.abort();
    } else {
      progress.stop();
      console.error('lab: quitting now; the run in progress resumes from its last checkpoint');
      process.exit(EXIT_STOPPED);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = performance.now();
  const ranSpec = o.quick ? quickSpec(input) : input;
  let adapter: string | null = null;
  let stopped = false;
  let failedWorkers = 0;
  try {
    if (o.jobs && o.jobs > 1) {
      const { runJobs } = await import('../lab/experiment/parallel.js');
      progress.log(`lab: ${ranSpec.name} in ${o.jobs} worker processes -> ${outDir} (workers' folders: ${join(outDir, 'jobs')})`);
      const passOn = [
        ...(o.preset ? ['--preset', o.preset] : []),
        ...(o.spec ? ['--spec', o.spec] : []),
        ...(o.quick ? ['--quick'] : []),
        ...(o.part !== undefined ? ['--part', String(o.part)] : []),
        ...(o.shard ? ['--shard', formatShard(o.shard)] : []),
        ...(o.autotune === undefined ? [] : [o.autotune ? '--autotune' : '--no-autotune']),
        '--checkpoint-every', String(o.checkpointEvery),
      ];
      const outcome = await runJobs({
        spec: ranSpec,
        outDir,
        jobs: o.jobs,
        shards,
        entry: fileURLToPath(import.meta.url),
        workerArgs: (dir, worker) => [...passOn, '--out', dir, '--worker', formatShard(worker)],
        onProgress: (p) => progress.update(p),
        log: (l) => progress.log(l),
        signal: controller.signal,
      });
      stopped = outcome.stopped > 0;
      failedWorkers = outcome.failed.length;
      for (const f of outcome.failed) progress.log(`lab: worker ${f.worker}/${o.jobs} failed (${f.signal ?? `exit status ${f.code}`}); its finished runs are merged, re-run the same command to resume`);
      adapter = adaptersOf(outcome.merged.results);
    } else {
      const outcome = o.browser ? await runInBrowserMode(input, o, outDir, progress, controller.signal) : await runInNode(input, o, outDir, shards, progress, controller.signal);
      adapter = outcome.adapter;
    }
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e;
    stopped = true;
    progress.stop();
    console.error(`lab: ${(e as Error).message}`);
  } finally {
    progress.stop();
    if (!o.browser) {
      // Dawn keeps Node alive while a device exists.
      const { isInitialized, shutdown } = await import('../runtime/engine.js');
      if (isInitialized()) shutdown();
    }
  }

  // The report: of every finished run in the folder (complete, or partial when stopped or a part of several).
  const results = await folderResults(outDir, ranSpec);
  const total = ranSpec.seeds.length * ranSpec.arms.length * (ranSpec.cells?.length ?? 1);
  if (o.shard) {
    console.error(`lab: shard ${formatShard(o.shard)}: ${results.length} runs in ${outDir}; merge the shards' folders with: ${COMMAND} --merge DIR... --out ${base}`);
  } else {
    const complete = results.length === total && !stopped && !failedWorkers;
    const what = complete ? 'report' : `partial report, ${results.length} of ${total} runs${part ? ` (part ${formatShard(part)} of the preset; run the other parts into the same folder)` : ''}`;
    await report(ranSpec, results, outDir, adapter ?? adaptersOf(results), !!o.quick, what);
  }
  console.error(`lab: ${stopped ? 'stopped' : 'done'} in ${formatDuration((performance.now() - started) / 1000)}${stopped ? '; run the same command again to resume' : ''}`);
  return stopped ? EXIT_STOPPED : failedWorkers ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) console.error(`lab: ${e.message} (${COMMAND} --help)`);
    else console.error(`lab failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  },
);

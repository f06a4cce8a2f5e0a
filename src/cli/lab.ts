/**
 * `npm run lab -- [options]`: runs an experiment preset (or a spec file) headless, with a progress
 * bar, writing results as they come and a report at the end. Node with Dawn (the `webgpu`
 * package) by default; `--browser` runs the same runner in headless Chromium (src/cli/lab-browser.ts).
 *
 *   npm run lab                                   the default preset ('analysis')
 *   npm run lab -- --preset early-dropout         another preset (--list shows them)
 *   npm run lab -- --preset analysis --quick      the few-minutes-on-SwiftShader variant
 *   npm run lab -- --spec my.json --out reports/mine
 *
 * Output folder (default reports/<preset>, or reports/<preset>-quick): spec.json, results.jsonl
 * (one line per finished run), runs/ (metric streams and checkpoints), report.md and its SVGs.
 * Re-running the same command skips finished runs and resumes the unfinished one from its last
 * checkpoint. Ctrl-C stops after the current step with a checkpoint (a second Ctrl-C quits at once).
 *
 * Bundled by scripts/build-node.mjs into dist-node/lab.mjs (only `webgpu` external, so it also runs
 * on a GPU server through ../shared/gpu/prepare-kit.sh); the browser part is a separate bundle,
 * dist-node/lab-browser.mjs, loaded only with --browser, so puppeteer and Vite stay out of this one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { DEFAULT_PRESET, PRESET_NAMES, PRESETS, preset } from '../lab/experiment/presets/index.js';
import { QUICK, validateSpec } from '../lab/experiment/spec.js';
import type { RunnerProgress } from '../lab/experiment/runner.js';
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
}

const QUICK_HELP = `
--quick shrinks the experiment deterministically (src/lab/experiment/spec.ts, quickSpec): the first
${QUICK.seeds} seeds; at most ${QUICK.trainSize} training and ${QUICK.testSize} test images; ${QUICK.epochs} epochs; batch ${QUICK.batchSize};
ViT/Mixer width <= ${QUICK.dim}, depth <= ${QUICK.depth}, <= ${QUICK.numHeads} heads, patches of half the image side; MLP widths <= ${QUICK.hidden};
cutoffs and warmup keep their fraction of training (whole steps); at most ${QUICK.metricPoints} metric points per
run with |G| <= ${QUICK.numBatches}. Same cells, arms, modes, rates and shapes. Output: reports/<name>-quick.

Presets (src/lab/experiment/presets/*.json): ${PRESET_NAMES.join(', ')}; default ${DEFAULT_PRESET}.
Environment: WGTRAIN_FASHION_MNIST_DIR (data folder), VK_ICD_FILENAMES (Vulkan driver; SwiftShader
when unset and present), WGTRAIN_CHROMIUM / WGTRAIN_BROWSER_GPU=1 (--browser).`;

function parseArgs(argv: string[]): CliOptions {
  const program = new Command()
    .name('npm run lab --')
    .description('Runs an experiment of the early-dropout lab headless and writes results and a report.')
    .option('-p, --preset <name>', `experiment preset (${PRESET_NAMES.join(', ')})`)
    .option('-s, --spec <file>', 'experiment spec JSON file, instead of a preset')
    .option('-o, --out <dir>', 'output folder (default: reports/<name>, reports/<name>-quick with --quick)')
    .option('-q, --quick', 'the small variant: a few minutes on SwiftShader (see below)')
    .option('--browser', 'run in headless Chromium (puppeteer) instead of Node with Dawn')
    .option('--checkpoint-every <steps>', 'steps between checkpoints, besides epoch ends', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`--checkpoint-every must be a positive integer, got ${v}`);
      return n;
    }, 200)
    .option('--autotune', 'tune the matmul kernels on this adapter during the first step of each run (default on a GPU; results are bit-identical either way)')
    .option('--no-autotune', 'use stored or default matmul kernels only (default on a software adapter, where compiling every candidate costs more than it saves in a short run)')
    .option('--no-progress', 'no progress bar (one line per run instead)')
    .option('--list', 'list the presets and exit')
    .addHelpText('after', QUICK_HELP)
    .showHelpAfterError();
  program.parse(argv, { from: 'user' });
  return program.opts<CliOptions>();
}

function loadSpec(o: CliOptions): { spec: ExperimentSpec; name: string } {
  if (o.preset && o.spec) throw new Error('give either --preset or --spec, not both');
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

const formatDuration = (s: number): string => {
  if (!Number.isFinite(s) || s < 0) return '--';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
};

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

/** results.jsonl as it stands (after a stop): complete lines only. */
function readResults(outDir: string): RunResult[] {
  const file = join(outDir, 'results.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').slice(0, -1).filter((l) => l.trim()).map((l) => JSON.parse(l) as RunResult);
}

interface Outcome {
  spec: ExperimentSpec;
  results: RunResult[];
  adapter: string;
}

/** Node with Dawn: the runner in this process. */
async function runInNode(spec: ExperimentSpec, o: CliOptions, outDir: string, progress: Progress, signal: AbortSignal): Promise<Outcome> {
  const { init } = await import('../runtime/engine.js');
  const { adapterName, runExperiment } = await import('../lab/experiment/runner.js');
  await init();
  const adapter = adapterName();
  progress.log(`lab: ${spec.name}${o.quick ? ' (--quick)' : ''} on ${adapter} -> ${outDir}`);
  const { adapterReport } = await import('../runtime/engine.js');
  const autotune = o.autotune ?? !adapterReport().software;
  const outcome = await runExperiment(spec, { outDir, quick: o.quick, checkpointEvery: o.checkpointEvery, autotune, signal, onProgress: (p) => progress.update(p) });
  return { spec: outcome.spec, results: outcome.results, adapter };
}

/** Headless Chromium: the browser bundle (dist-node/lab-browser.mjs next to this one, or the .ts source). */
async function runInBrowserMode(spec: ExperimentSpec, o: CliOptions, outDir: string, progress: Progress, signal: AbortSignal): Promise<Outcome> {
  const bundled = import.meta.url.endsWith('.mjs');
  const url = new URL(bundled ? './lab-browser.mjs' : './lab-browser.ts', import.meta.url);
  if (bundled && !existsSync(url)) {
    throw new Error(`--browser needs ${url.pathname}: build it with 'node scripts/build-node.mjs src/cli/lab-browser.ts --external-packages' (npm run lab does)`);
  }
  const mod = (await import(/* @vite-ignore */ url.href)) as typeof import('./lab-browser.js');
  return mod.runInBrowser({ spec, outDir, quick: !!o.quick, checkpointEvery: o.checkpointEvery, onProgress: (p) => progress.update(p), log: (l) => progress.log(l), signal });
}

async function main(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  if (o.list) {
    for (const name of PRESET_NAMES) {
      const s = PRESETS[name] as ExperimentSpec;
      console.log(`${name}${name === DEFAULT_PRESET ? ' (default)' : ''}\n  ${s.description ?? ''}\n`);
    }
    return 0;
  }
  const { spec, name } = loadSpec(o);
  const outDir = o.out ?? join('reports', o.quick ? `${name}-quick` : name);
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
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = performance.now();
  let outcome: Outcome | null = null;
  let stopped = false;
  try {
    outcome = o.browser ? await runInBrowserMode(spec, o, outDir, progress, controller.signal) : await runInNode(spec, o, outDir, progress, controller.signal);
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

  // The report: complete, or of the runs finished so far when stopped.
  const { quickSpec } = await import('../lab/experiment/spec.js');
  const ranSpec = outcome?.spec ?? (o.quick ? quickSpec(spec) : spec);
  const results = outcome?.results ?? readResults(outDir);
  const adapter = outcome?.adapter ?? results[0]?.adapter ?? 'unknown adapter';
  if (results.length) {
    const { writeReport } = await import('../lab/experiment/report.js');
    const { reportPath } = await writeReport(ranSpec, results, outDir, { adapter, quick: !!o.quick });
    console.error(`lab: ${stopped ? 'partial report' : 'report'} (${results.length} runs): ${reportPath}`);
  }
  console.error(`lab: ${stopped ? 'stopped' : 'done'} in ${formatDuration((performance.now() - started) / 1000)}${stopped ? '; run the same command again to resume' : ''}`);
  return stopped ? 130 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`lab failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  },
);

/**
 * Device check for the tensor-core matmul (src/nn/functional/matmul/tensorcore.ts): on a GPU with
 * Dawn's `chromium-experimental-subgroup-matrix`, it prints what the adapter offers, compiles every
 * kernel variant inside error scopes, checks results against a float64 product of the f16-rounded
 * operands, and times square products beside wgtrain's f32 matmul in the same run.
 *
 *   node scripts/build-node.mjs bench/tensorcore-check.ts        -> dist-node/tensorcore-check.mjs
 *   scripts/gpu-kit.sh                                            (packs it with Node and Dawn into .gpu-kit/)
 *   on the GPU machine:  source .gpu-kit/on-device.sh && gpu-node .gpu-kit/tensorcore-check.mjs
 *
 * Environment:
 *   TC_SIZES=1024,2048,4096   square sizes to time ("none": no timing)
 *   TC_SHAPES=12544x192x576   extra M x N x K products to time (default: the two training shapes of issue 6)
 *   TC_PRESETS=auto,128x128-w8,...  tile choices to time ("auto": the module's own choice; default: auto and every preset)
 *   TC_REPEATS=5              timed batches per case (median reported)
 *   TC_BATCH_MS=100           length of one timed batch
 *   TC_TIMEOUT_S=420          watchdog: print what there is and exit 3 (a hung kernel must not eat the session)
 *   TC_CASES=quick            a short correctness list (default: full)
 *   TC_CHECK_PRESETS=a,b      presets whose variants are compiled in error scopes first (default: all; "none")
 *   TC_EMULATE=1              run the kernel with its builtins emulated (to try this script where there are
 *                             no tensor cores: SwiftShader with TC_CASES=quick TC_SIZES=64 TC_SHAPES= TC_PRESETS=auto);
 *                             the numbers then mean nothing
 *   TC_OUT=path.json          also write the JSON there
 * Progress goes to stderr; the result is one JSON object on stdout. Exit code 0 when every kernel
 * compiled and every check passed, 1 on a failed check, 2 when the device has no tensor-core path.
 */
import { existsSync, writeFileSync } from 'node:fs';
import type { SubgroupAdapterInfo } from '../src/nn/functional/matmul/tensorcore.js';
import { callBatch, timeInterleaved } from '../src/runtime/timing.js';

const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(swiftshader)) {
  process.env.VK_ICD_FILENAMES = swiftshader;
}
process.env.XDG_RUNTIME_DIR ??= '/tmp';

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const wg = await import('../src/index.js');
const tc = await import('../src/nn/functional/matmul/tensorcore.js');
const { matmulF16Ref, worstF16Error } = await import('../tests/reference/matmul-f16.js');

type Json = Record<string, unknown>;
const log = (line: string) => console.error(line);
const env = (name: string) => process.env[name];
const result: Json = { date: new Date().toISOString(), script: 'bench/tensorcore-check.ts' };

function emit(): void {
  const text = JSON.stringify(result, null, 2);
  console.log(text);
  const out = env('TC_OUT');
  if (out) writeFileSync(out, text + '\n');
}

const timeoutS = Number(env('TC_TIMEOUT_S') ?? 420);
const watchdog = setTimeout(() => {
  result.watchdog = `stopped after ${timeoutS} s (a kernel that never finishes?); results so far above`;
  log(`tensorcore-check: watchdog after ${timeoutS} s`);
  emit();
  process.exit(3);
}, timeoutS * 1000);
watchdog.unref();

/** Deterministic values in [-1, 1) (an LCG: fast enough for 16M elements). */
function randomF32(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** |gpu - ref| <= REL · Σ|a||b| + ABS per element; see tests/matmul-tensorcore.test.ts for why. */
const REL = 4e-6;
const ABS = 1e-7;

interface Case {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  batch?: number;
  tiles?: string;
}

function caseName(c: Case): string {
  return `${c.batch && c.batch > 1 ? `${c.batch}x ` : ''}${c.M}x${c.N}x${c.K}${c.transA ? ' Aᵀ' : ''}${c.transB ? ' Bᵀ' : ''}${c.tiles ? ` [${c.tiles}]` : ''}`;
}

function operands(c: Case, seed: number) {
  const batch = c.batch ?? 1;
  const lead = batch > 1 ? [batch] : [];
  const aShape = [...lead, ...(c.transA ? [c.K, c.M] : [c.M, c.K])];
  const bShape = [...lead, ...(c.transB ? [c.N, c.K] : [c.K, c.N])];
  const A = randomF32(batch * c.M * c.K, seed);
  const B = randomF32(batch * c.K * c.N, seed + 1);
  return { A, B, a: wg.tensor(A, aShape), b: wg.tensor(B, bShape), layout: { M: c.M, N: c.N, K: c.K, batch, transA: !!c.transA, transB: !!c.transB } };
}

const tilesOf = (name?: string) => (name && name !== 'auto' ? tc.TENSOR_CORE_PRESETS[name] : undefined);

async function correctness(c: Case, seed: number): Promise<Json> {
  const { A, B, a, b, layout } = operands(c, seed);
  try {
    const y = tc.tensorCoreMatmul(a, b, { transposeA: c.transA, transposeB: c.transB, tiles: tilesOf(c.tiles) });
    const got = await y.toArray();
    y.dispose();
    // Products past 256 rows: check a spread of rows (every batch), keeping the reference cheap.
    const rows = c.M > 256 ? [0, 1, 2, c.M >> 2, c.M >> 1, c.M - 2, c.M - 1] : undefined;
    const ref = matmulF16Ref(A, B, layout, true, rows);
    const exact = matmulF16Ref(A, B, layout, false, rows);
    const indices = rows ? [...Array(layout.batch).keys()].flatMap((z) => rows.flatMap((r) => [...Array(c.N).keys()].map((n) => z * c.M * c.N + r * c.N + n))) : undefined;
    const w = worstF16Error(got, ref, REL, ABS, indices);
    const vsExact = worstF16Error(got, exact, REL, ABS, indices);
    return {
      case: caseName(c),
      ok: w.ratio <= 1,
      // <= 1 passes: the worst error in units of the bound REL·Σ|a||b| + ABS.
      errorOverBound: Number(w.ratio.toPrecision(3)),
      maxErrOverAbsSum: Number(w.maxErrOverAbsSum.toPrecision(3)),
      // Against the unrounded (f32) operands: should be ~1e-4, far above the line before it.
      maxErrOverAbsSumVsUnrounded: Number(vsExact.maxErrOverAbsSum.toPrecision(3)),
      worst: { index: w.index, got: w.actual, expected: w.expected },
      rowsChecked: rows ? rows.length : c.M,
    };
  } catch (e) {
    return { case: caseName(c), ok: false, error: (e as Error).message };
  } finally {
    a.dispose();
    b.dispose();
  }
}

/** Seconds per call: median over batches of back-to-back calls, each ended by waiting for the queue (src/runtime/timing.ts). */
async function timeCalls(fn: () => { dispose(): void }, repeats: number, batchMs: number): Promise<number> {
  const sync = async () => {
    wg.flush();
    await wg.engine().device.queue.onSubmittedWorkDone();
    wg.engine().throwUncaptured();
  };
  const [t] = await timeInterleaved([callBatch(() => fn().dispose(), sync)], { repeats, targetMs: batchMs, maxCalls: 4096, warmups: 2 });
  return t.ms / 1000;
}

let exitCode = 0;
try {
  const gpu: GPU = create(tc.TENSOR_CORE_DAWN_FLAGS);
  const report = await wg.init({ gpu, optionalFeatures: [...tc.TENSOR_CORE_FEATURES, 'timestamp-query'] as GPUFeatureName[] });
  const info = wg.engine().ctx.adapter.info as unknown as SubgroupAdapterInfo;
  result.adapter = { vendor: report.vendor, architecture: report.architecture, device: report.device, description: report.description, software: report.software };
  result.adapterFeatures = report.adapterFeatures;
  result.enabledFeatures = report.enabledFeatures;
  result.subgroupSizes = { min: info.subgroupMinSize ?? null, max: info.subgroupMaxSize ?? null };
  result.limits = { maxComputeWorkgroupStorageSize: report.limits.maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup: report.limits.maxComputeInvocationsPerWorkgroup };
  log(`adapter: ${report.vendor} ${report.architecture} ${report.description}; subgroups ${info.subgroupMinSize}..${info.subgroupMaxSize}`);

  if (env('TC_EMULATE') === '1') {
    tc.setTensorCoreEmulationForTests({ M: 16, N: 16, K: 16 });
    result.emulated = 'TC_EMULATE=1: builtins emulated in plain WGSL; timings are meaningless';
  }
  const support = tc.subgroupMatrixSupport();
  result.subgroupMatrixConfigs = tc.listSubgroupMatrixConfigs(info);
  result.support = support;
  log(`support: ${support.config ? `${support.config.M}x${support.config.N}x${support.config.K}, subgroup ${support.subgroupSize}` : support.reason}`);
  if (!support.config) {
    exitCode = 2;
  } else {
    // 1. Every variant through the compiler, errors caught where they happen.
    const presetNames = Object.keys(tc.TENSOR_CORE_PRESETS);
    const checkList = (env('TC_CHECK_PRESETS') ?? presetNames.join(',')).split(',').filter((n) => n && n !== 'none');
    const checks = await tc.checkTensorCoreKernels(checkList.map((n) => tc.TENSOR_CORE_PRESETS[n]).filter(Boolean));
    result.kernelChecks = checks;
    const badKernels = checks.filter((k) => !k.ok);
    log(`kernels: ${checks.length - badKernels.length}/${checks.length} compiled`);
    for (const k of badKernels) log(`  FAILED ${k.variant}: ${k.messages.join(' | ')}`);
    const warnings = checks.filter((k) => k.ok && k.messages.length);
    for (const k of warnings) log(`  warning ${k.variant}: ${k.messages.join(' | ')}`);
    if (badKernels.length) exitCode = 1;

    // 2. Correctness against float64 over f16-rounded operands.
    const quick: Case[] = [{ M: 16, N: 16, K: 16 }, { M: 37, N: 33, K: 70, transA: true, transB: true }, { M: 300, N: 9, K: 20 }, { M: 33, N: 70, K: 41, batch: 2 }];
    const cases: Case[] = env('TC_CASES') === 'quick' ? quick : [
      ...[16, 64, 65, 129, 256].map((n) => ({ M: n, N: n, K: n })),
      ...[[false, true], [true, false], [true, true]].flatMap(([transA, transB]) => [
        { M: 37, N: 33, K: 70, transA, transB },
        { M: 64, N: 40, K: 48, transA, transB },
        { M: 300, N: 257, K: 129, transA, transB },
      ]),
      { M: 1, N: 3, K: 7 }, { M: 3, N: 5, K: 17 }, { M: 17, N: 130, K: 1 }, { M: 200, N: 8, K: 72 },
      { M: 130, N: 1, K: 300 }, { M: 37, N: 260, K: 300 }, { M: 513, N: 257, K: 1000 },
      { M: 33, N: 70, K: 41, batch: 3 }, { M: 65, N: 24, K: 17, batch: 2, transA: true, transB: true },
      ...presetNames.flatMap((tiles) => [{ M: 129, N: 131, K: 200, tiles }, { M: 256, N: 128, K: 64, tiles }, { M: 1024, N: 1024, K: 512, tiles }]),
    ];
    const correct: Json[] = [];
    result.correctness = correct;
    let seed = 1;
    for (const c of cases) {
      const r = await correctness(c, seed++);
      correct.push(r);
      log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.case}: ${r.error ?? `err/bound ${r.errorOverBound}, err/Σ|ab| ${r.maxErrOverAbsSum} (vs unrounded ${r.maxErrOverAbsSumVsUnrounded})`}`);
      if (!r.ok) exitCode = 1;
    }

    // 3. Timing beside the f32 matmul.
    const sizes = (env('TC_SIZES') ?? '1024,2048,4096') === 'none' ? [] : (env('TC_SIZES') ?? '1024,2048,4096').split(',').map(Number);
    const shapes: Case[] = [
      ...sizes.map((n) => ({ M: n, N: n, K: n })),
      ...(env('TC_SHAPES') ?? (sizes.length ? '12544x192x576,192x576x12544' : '')).split(',').filter(Boolean).map((s) => {
        const [M, N, K] = s.split('x').map(Number);
        return { M, N, K };
      }),
    ];
    const presets = (env('TC_PRESETS') ?? ['auto', ...presetNames].join(',')).split(',');
    const repeats = Number(env('TC_REPEATS') ?? 5);
    const batchMs = Number(env('TC_BATCH_MS') ?? 100);
    const timing: Json[] = [];
    result.timing = timing;
    for (const s of shapes) {
      const { A, B, a, b, layout } = operands(s, 1000 + s.M);
      const flop = 2 * s.M * s.N * s.K;
      const rows = [0, s.M >> 1, s.M - 1];
      const ref = matmulF16Ref(A, B, layout, true, rows);
      const indices = rows.flatMap((r) => [...Array(s.N).keys()].map((n) => r * s.N + n));
      const row: Json = { shape: `${s.M}x${s.N}x${s.K}`, gflop: flop / 1e9 };
      try {
        const f32 = await timeCalls(() => wg.matmul(a, b), repeats, batchMs);
        row.f32 = { ms: Number((f32 * 1e3).toFixed(4)), tflops: Number((flop / f32 / 1e12).toPrecision(4)) };
        log(`  ${row.shape} f32 matmul: ${(f32 * 1e3).toFixed(3)} ms, ${(flop / f32 / 1e12).toPrecision(4)} TFLOP/s`);
        const support2 = tc.subgroupMatrixSupport();
        for (const p of presets) {
          const tiles = tilesOf(p);
          const plan = tiles
            ? tc.planTiles(tiles, support2.config!, support2.subgroupSize, wg.engine().device.limits)
            : tc.chooseTensorCoreTiles(s.M, s.N, 1, support2.config!, support2.subgroupSize, wg.engine().device.limits);
          const key = `tc ${p}${typeof plan === 'string' ? '' : ` (${plan.tiles.name}${plan.doubleBuffer ? '' : ', single buffer'})`}`;
          if (typeof plan === 'string') {
            row[key] = { skipped: plan };
            continue;
          }
          try {
            const y = tc.tensorCoreMatmul(a, b, { tiles });
            const got = await y.toArray();
            y.dispose();
            const w = worstF16Error(got, ref, REL, ABS, indices);
            const t = await timeCalls(() => tc.tensorCoreMatmul(a, b, { tiles }), repeats, batchMs);
            row[key] = {
              ms: Number((t * 1e3).toFixed(4)),
              tflops: Number((flop / t / 1e12).toPrecision(4)),
              vsF32: Number((f32 / t).toFixed(2)),
              sampledRowsOk: w.ratio <= 1,
              errorOverBound: Number(w.ratio.toPrecision(3)),
            };
            if (w.ratio > 1) exitCode = 1;
            log(`  ${row.shape} ${key}: ${(t * 1e3).toFixed(3)} ms, ${(flop / t / 1e12).toPrecision(4)} TFLOP/s (${(f32 / t).toFixed(2)}x f32), rows ${w.ratio <= 1 ? 'ok' : `FAIL ${w.ratio}`}`);
          } catch (e) {
            row[key] = { error: (e as Error).message };
            exitCode = 1;
            log(`  ${row.shape} ${key}: ERROR ${(e as Error).message}`);
          }
        }
      } finally {
        a.dispose();
        b.dispose();
      }
      timing.push(row);
    }
  }
} catch (e) {
  result.error = (e as Error).stack ?? String(e);
  log(`tensorcore-check failed: ${result.error}`);
  exitCode = 1;
} finally {
  result.exitCode = exitCode;
  emit();
  wg.shutdown();
  clearTimeout(watchdog);
}
process.exitCode = exitCode;

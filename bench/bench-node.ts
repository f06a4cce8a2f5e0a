/**
 * `npm run bench:node`: the benchmark under Node with Dawn (the `webgpu` package), wgtrain and
 * TensorFlow.js's WebGPU backend on the same GPU object. Bundled by scripts/build-node.mjs into
 * dist-node/bench.mjs (which is also what runs on a GPU server, see bench/README.md).
 *
 * Environment: WGTRAIN_BENCH_MATMUL="256,1024" and WGTRAIN_BENCH_DROPOUT="2^20" override the sizes
 * ("none": skip), WGTRAIN_BENCH_SHAPES=none skips the training-shaped products,
 * WGTRAIN_BENCH_TRAIN="mlp,vit:depth=4" the training-step models ("none": skip),
 * WGTRAIN_BENCH_REPEATS the repeat count of the kernel rows, WGTRAIN_BENCH_OUT the results folder
 * (default bench/results). Without VK_ICD_FILENAMES / VK_DRIVER_FILES, Dawn is pointed at Chromium's
 * SwiftShader when that is installed (CPU-only machines).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const HELP = `Usage: ${process.env.WGTRAIN_BENCH_COMMAND || 'npm run bench:node --'} [--help]

Times wgtrain beside TensorFlow.js's WebGPU backend on the same adapter (Node + Dawn): matmul
(square and training-shaped), dropout, and whole training steps; prints the tables and writes them
as JSON to bench/results (WGTRAIN_BENCH_OUT).

Environment:
  WGTRAIN_BENCH_MATMUL="256,1024"      square matmul sizes ("none": skip)
  WGTRAIN_BENCH_DROPOUT="2^20"         dropout element counts ("none": skip)
  WGTRAIN_BENCH_SHAPES=none            skip the training-shaped products
  WGTRAIN_BENCH_TRAIN="mlp,vit:depth=4"  training-step models ("none": skip)
  WGTRAIN_BENCH_REPEATS=N              repeats of the kernel rows
  WGTRAIN_BENCH_OUT=DIR                results folder (default bench/results)
  WGTRAIN_DAWN_FLAGS="..."             Dawn flags (default: allow_unsafe_apis, f16 on NVIDIA)
  VK_ICD_FILENAMES / VK_DRIVER_FILES   the Vulkan driver (default: Chromium's SwiftShader if installed)
`;
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (args.length) {
  console.error(`bench: unknown arguments ${args.join(' ')}; the sizes are set by environment variables (--help)`);
  process.exit(2);
}

const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(swiftshader)) {
  process.env.VK_ICD_FILENAMES = swiftshader;
}

// The Vulkan loader complains on stderr when this is unset (containers, CI).
process.env.XDG_RUNTIME_DIR ??= '/tmp';

// Imported only now: the Vulkan loader reads the variables above when Dawn starts, and tfjs's
// WebGPU backend registers itself at import time only if navigator.gpu exists.
const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
// Dawn's unsafe APIs on by default here (WGTRAIN_DAWN_FLAGS overrides; empty: none), so that an
// NVIDIA adapter offers shader-f16 and tensor cores (chromium-experimental-subgroup-matrix) to both
// engines alike; on SwiftShader they change nothing.
const dawnFlags = process.env.WGTRAIN_DAWN_FLAGS !== undefined
  ? process.env.WGTRAIN_DAWN_FLAGS.split(/\s+/).filter(Boolean)
  : ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'];
const gpu: GPU = create(dawnFlags);
// Node 20 has no navigator; tfjs asks navigator.gpu for its adapter (and reads userAgent).
Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: `node ${process.version}` }, configurable: true, writable: true });

const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
// tfjs-core registers no gradients by itself (the @tensorflow/tfjs package imports this); the
// training rows need them. Bundled from tfjs-core's ESM build (scripts/build-node.mjs: mainFields).
await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
const wg = await import('../src/index.js');
const { formatResults, parseSizes, resultFileName, runBenchmarks } = await import('./bench-core.js');
const { parseTrainSpecs } = await import('./train-core.js');

let exitCode = 0;
try {
  await wg.init({ gpu });
  if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs could not initialise its 'webgpu' backend");
  await tf.ready();
  const results = await runBenchmarks(tf, 'node', {
    matmulSizes: parseSizes(process.env.WGTRAIN_BENCH_MATMUL, 'matmul'),
    dropoutSizes: parseSizes(process.env.WGTRAIN_BENCH_DROPOUT, 'dropout'),
    trainSpecs: parseTrainSpecs(process.env.WGTRAIN_BENCH_TRAIN),
    matmulShapes: process.env.WGTRAIN_BENCH_SHAPES === 'none' ? [] : undefined,
    repeats: process.env.WGTRAIN_BENCH_REPEATS ? Number(process.env.WGTRAIN_BENCH_REPEATS) : undefined,
    log: (line) => console.error(`  ${line}`),
  });
  console.log(formatResults(results));
  const dir = process.env.WGTRAIN_BENCH_OUT ?? join('bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, resultFileName(results));
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nresults: ${file}`);
} catch (e) {
  console.error(`bench:node failed: ${(e as Error).stack ?? e}`);
  exitCode = 1;
} finally {
  // Dawn keeps the process alive while a device exists: release both engines' devices.
  const tfDevice = (tf.engine().backendNames().includes('webgpu') && tf.getBackend() === 'webgpu')
    ? (tf.backend() as unknown as { device?: GPUDevice }).device
    : undefined;
  tf.engine().reset();
  tfDevice?.destroy();
  wg.shutdown();
}
process.exitCode = exitCode;

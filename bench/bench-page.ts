/** Browser side of the benchmark (bench/bench.html): runs it and publishes the results on window.__bench. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
// tfjs-core registers no gradients by itself (the @tensorflow/tfjs package imports this); the training rows need them.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { init, shutdown } from '../src/index.js';
import { formatResults, parseSizes, runBenchmarks, type BenchResults } from './bench-core.js';
import { parseTrainSpecs } from './train-core.js';

export type BenchOutcome = { ok: true; results: BenchResults; text: string } | { ok: false; error: string };

declare global {
  interface Window {
    __bench?: BenchOutcome;
  }
}

const out = document.getElementById('out')!;
const log = (line: string) => {
  console.log(`[bench] ${line}`);
  out.textContent += `\n${line}`;
};

async function main(): Promise<BenchOutcome> {
  if (!navigator.gpu) throw new Error('navigator.gpu is undefined: this browser has no WebGPU (or the page is not a secure context)');
  const q = new URLSearchParams(location.search);
  // Both engines start from the same GPU object; tfjs registers 'webgpu' only when navigator.gpu exists.
  await init({ gpu: navigator.gpu });
  try {
    if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs could not initialise its 'webgpu' backend");
    await tf.ready();
    const results = await runBenchmarks(tf, 'browser', {
      matmulSizes: parseSizes(q.get('matmul'), 'matmul'),
      dropoutSizes: parseSizes(q.get('dropout'), 'dropout'),
      trainSpecs: parseTrainSpecs(q.get('train')),
      matmulShapes: q.get('shapes') === 'none' ? [] : undefined,
      repeats: q.get('repeats') ? Number(q.get('repeats')) : undefined,
      log,
    });
    return { ok: true, results, text: formatResults(results) };
  } finally {
    tf.engine().reset();
    shutdown();
  }
}

main()
  .catch((e: unknown): BenchOutcome => ({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }))
  .then((outcome) => {
    window.__bench = outcome;
    out.textContent = outcome.ok ? outcome.text : `failed: ${outcome.error}`;
  });

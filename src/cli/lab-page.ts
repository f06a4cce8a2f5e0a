/**
 * The page side of `npm run lab -- --browser`: runs the experiment runner with WebGPU in this page.
 * Every file operation goes to Node (lab-browser.ts) through the exposed functions of
 * lab-protocol.ts, so results, streams and checkpoints land in the same folder, with the same
 * durability, as a Node run; Node also serves the Fashion-MNIST files.
 */
import { init, shutdown } from '../runtime/engine.js';
import { FASHION_MNIST_FILES, fashionMnistFromBytes } from '../lab/data/fashion-mnist.js';
import { adapterName, runExperiment } from '../lab/experiment/runner.js';
import type { RunStore } from '../lab/experiment/store.js';
import type { LabPageBridge, LabPageOutcome } from './lab-protocol.js';

declare global {
  interface Window extends Partial<LabPageBridge> {
    /** Set by this page: stops the runner after the current step (with a checkpoint). */
    __labAbort?: () => void;
  }
}

const out = document.getElementById('out')!;
const bridge = window as unknown as LabPageBridge;

function toBase64(bytes: Uint8Array): string {
  let s = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function remoteStore(root: string): RunStore {
  return {
    root,
    readText: (path) => bridge.__labStore('readText', path),
    async readBytes(path) {
      const b64 = await bridge.__labStore('readBytes', path);
      return b64 === null ? null : fromBase64(b64);
    },
    async write(path, data) {
      await bridge.__labStore('write', path, typeof data === 'string' ? { text: data } : { base64: toBase64(data) });
    },
    async append(path, text) {
      await bridge.__labStore('append', path, { text });
    },
    async remove(path) {
      await bridge.__labStore('remove', path);
    },
  };
}

async function main(): Promise<LabPageOutcome> {
  const config = await bridge.__labConfig();
  const controller = new AbortController();
  window.__labAbort = () => controller.abort();
  await init();
  try {
    const adapter = adapterName();
    out.textContent = `running ${config.spec.name} on ${adapter}`;
    const outcome = await runExperiment(config.spec, {
      outDir: config.outDir,
      quick: config.quick,
      checkpointEvery: config.checkpointEvery,
      store: remoteStore(config.outDir),
      signal: controller.signal,
      onProgress: (p) => void bridge.__labProgress(p),
      fashionMnist: async (limit) => {
        const f = FASHION_MNIST_FILES;
        const get = async (name: string) => fromBase64(await bridge.__labFashionFile(name));
        const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([get(f.trainImages), get(f.trainLabels), get(f.testImages), get(f.testLabels)]);
        return fashionMnistFromBytes({ trainImages, trainLabels, testImages, testLabels }, { limit });
      },
    });
    return { ok: true, spec: outcome.spec, results: outcome.results, trained: outcome.trained, adapter };
  } finally {
    shutdown();
  }
}

main()
  .catch((e: unknown): LabPageOutcome => ({
    ok: false,
    aborted: e instanceof Error && e.name === 'AbortError',
    error: e instanceof Error ? (e.name === 'AbortError' ? e.message : (e.stack ?? e.message)) : String(e),
  }))
  .then((outcome) => {
    out.textContent = outcome.ok ? `done: ${outcome.results.length} runs` : `stopped: ${outcome.error}`;
    return bridge.__labFinish(outcome);
  });

/** Browser side of the engine check: runs it and publishes the outcome on window.__engineCheck. */
import { adapterReport, init, shutdown, type AdapterReport } from '../src/index.js';
import { runEngineCheck, type EngineCheckResult } from './engine-check-compute.js';

export type EngineCheckOutcome =
  | { ok: true; result: EngineCheckResult; adapter: AdapterReport }
  | { ok: false; error: string };

declare global {
  interface Window {
    __engineCheck?: EngineCheckOutcome;
  }
}

const out = document.getElementById('out')!;

async function main(): Promise<EngineCheckOutcome> {
  await init();
  try {
    const adapter = adapterReport();
    const result = await runEngineCheck();
    return { ok: true, result, adapter };
  } finally {
    shutdown();
  }
}

main()
  .catch((e: unknown): EngineCheckOutcome => ({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }))
  .then((outcome) => {
    window.__engineCheck = outcome;
    out.textContent = outcome.ok
      ? `loss ${outcome.result.loss}\nadapter ${outcome.adapter.vendor} ${outcome.adapter.architecture} ${outcome.adapter.description}`
      : `failed: ${outcome.error}`;
  });

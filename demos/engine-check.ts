/**
 * Browser side of the engine check: runs it, judges it against the float64 reference and shows
 * a pass / fail verdict with each check; the outcome is also on window.__engineCheck.
 */
import { adapterReport, init, shutdown, WebGPUUnavailableError, type AdapterReport } from '../src/index.js';
import { h } from './common/dom.js';
import { setAdapterBadge, showWebGpuHelp, webGpuMissing } from './common/webgpu.js';
import { judgeEngineCheck, runEngineCheck, type EngineCheckResult, type EngineCheckVerdict } from './engine-check-compute.js';

export type EngineCheckOutcome =
  | { ok: true; result: EngineCheckResult; adapter: AdapterReport; verdict: EngineCheckVerdict }
  | { ok: false; error: string; unavailable?: boolean };

declare global {
  interface Window {
    __engineCheck?: EngineCheckOutcome;
  }
}

const verdictEl = document.getElementById('verdict')!;

async function main(): Promise<EngineCheckOutcome> {
  const missing = webGpuMissing();
  if (missing) return { ok: false, error: missing, unavailable: true };
  try {
    await init();
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) return { ok: false, error: e.message, unavailable: true };
    throw e;
  }
  try {
    const adapter = adapterReport();
    const result = await runEngineCheck();
    return { ok: true, result, adapter, verdict: judgeEngineCheck(result) };
  } finally {
    shutdown();
  }
}

function show(outcome: EngineCheckOutcome): void {
  if (!outcome.ok) {
    if (outcome.unavailable) {
      showWebGpuHelp(verdictEl, outcome.error, 'The engine check');
      setAdapterBadge('no WebGPU');
    } else {
      verdictEl.className = 'notice error';
      verdictEl.dataset.verdict = 'error';
      verdictEl.textContent = `The check could not run: ${outcome.error}`;
    }
    return;
  }
  const { verdict, adapter, result } = outcome;
  const failed = verdict.checks.filter((c) => !c.pass).length;
  verdictEl.className = `notice ${verdict.pass ? 'ok' : 'error'}`;
  verdictEl.dataset.verdict = verdict.pass ? 'pass' : 'fail';
  verdictEl.replaceChildren(
    h('strong', {}, verdict.pass ? 'Pass' : 'Fail'),
    verdict.pass
      ? `: all ${verdict.checks.length} checks agree with the float64 reference on this adapter.`
      : `: ${failed} of ${verdict.checks.length} checks disagree with the float64 reference on this adapter (see below).`,
  );
  const body = document.querySelector('#checks tbody')!;
  body.replaceChildren(
    ...verdict.checks.map((c) =>
      h('tr', { 'data-pass': String(c.pass) }, h('td', { class: 'name', 'data-label': 'check' }, c.name), h('td', { 'data-label': 'result' }, h('span', { class: `verdict ${c.pass ? 'reproduced' : 'contradicted'}` }, c.pass ? 'pass' : 'fail')), h('td', { 'data-label': 'detail' }, c.detail)),
    ),
  );
  const badge = `${[adapter.vendor, adapter.architecture].filter(Boolean).join(' / ') || adapter.description || 'WebGPU'}${adapter.software ? ' (software)' : ''}`;
  setAdapterBadge(badge);
  document.getElementById('facts')!.textContent = `Adapter: ${badge}${adapter.description ? ` (${adapter.description})` : ''}. Loss on the GPU: ${result.loss}.`;
  document.getElementById('checks-card')!.hidden = false;
}

main()
  .catch((e: unknown): EngineCheckOutcome => ({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }))
  .then((outcome) => {
    window.__engineCheck = outcome;
    show(outcome);
  });

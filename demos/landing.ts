/** The landing page: which WebGPU adapter wgtrain gets here, or why there is none and what to do. */
import { adapterReport, init, shutdown, WebGPUUnavailableError, type AdapterReport } from '../src/index.js';
import { setAdapterBadge, showWebGpuHelp, webGpuMissing } from './common/webgpu.js';

export type LandingOutcome = { ok: true; adapter: AdapterReport } | { ok: false; reason: string };

declare global {
  interface Window {
    __landing?: LandingOutcome;
  }
}

const status = document.getElementById('webgpu-status')!;

/** The limits worth knowing when reading benchmark numbers or choosing model sizes. */
const LIMITS: [string, string, (v: number) => string][] = [
  ['maxStorageBufferBindingSize', 'largest storage buffer binding', mib],
  ['maxBufferSize', 'largest buffer', mib],
  ['maxComputeWorkgroupStorageSize', 'workgroup memory', (v) => `${(v / 1024).toFixed(0)} KiB`],
  ['maxComputeInvocationsPerWorkgroup', 'invocations per workgroup', String],
  ['maxComputeWorkgroupsPerDimension', 'workgroups per dimension', String],
  ['maxStorageBuffersPerShaderStage', 'storage buffers per stage', String],
];

function mib(v: number): string {
  return v >= 1 << 30 ? `${(v / (1 << 30)).toFixed(1)} GiB` : `${(v / (1 << 20)).toFixed(0)} MiB`;
}

function kv(list: HTMLElement, key: string, value: string): void {
  const dt = document.createElement('dt');
  dt.textContent = key;
  const dd = document.createElement('dd');
  dd.textContent = value;
  list.append(dt, dd);
}

function showAdapter(r: AdapterReport): void {
  const facts = document.getElementById('adapter-facts')!;
  kv(facts, 'Vendor', r.vendor || '(not reported)');
  kv(facts, 'Architecture', r.architecture || '(not reported)');
  if (r.device) kv(facts, 'Device', r.device);
  kv(facts, 'Description', r.description || '(not reported)');
  kv(facts, 'Kind', r.software ? 'software rasteriser (CPU): correct but slow' : 'hardware GPU');
  const features = document.getElementById('adapter-features')!;
  const enabled = new Set(r.enabledFeatures);
  for (const f of r.adapterFeatures) {
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.textContent = enabled.has(f) ? `${f} ✓` : f;
    tag.title = enabled.has(f) ? 'requested by wgtrain' : 'offered by the adapter';
    features.append(tag);
  }
  if (r.adapterFeatures.length === 0) features.textContent = 'none beyond core WebGPU';
  const limits = document.getElementById('adapter-limits')!;
  for (const [key, label, fmt] of LIMITS) if (r.limits[key] !== undefined) kv(limits, label, fmt(r.limits[key]));
  document.getElementById('adapter')!.hidden = false;
  status.className = 'notice info';
  status.textContent = r.software
    ? 'WebGPU works here, on a software adapter (the CPU): everything runs, slowly. In the lab, start with the demo-tiny preset or the quick variant.'
    : 'WebGPU works here. wgtrain got this adapter:';
  setAdapterBadge(`${[r.vendor, r.architecture].filter(Boolean).join(' / ') || r.description || 'WebGPU adapter'}${r.software ? ' (software)' : ''}`);
}

async function main(): Promise<LandingOutcome> {
  const missing = webGpuMissing();
  if (missing) return { ok: false, reason: missing };
  try {
    await init();
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) return { ok: false, reason: e.message };
    throw e;
  }
  try {
    return { ok: true, adapter: adapterReport() };
  } finally {
    shutdown();
  }
}

main()
  .catch((e: unknown): LandingOutcome => ({ ok: false, reason: `Starting WebGPU failed: ${e instanceof Error ? e.message : String(e)}` }))
  .then((outcome) => {
    window.__landing = outcome;
    if (outcome.ok) showAdapter(outcome.adapter);
    else {
      showWebGpuHelp(status, outcome.reason, 'The lab and the benchmark');
      setAdapterBadge('no WebGPU');
    }
  });

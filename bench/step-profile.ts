/**
 * Profile of one training step, Trainer.trainStep() of an MLP as the lab's CPU presets train it
 * (two hidden layers, AdamW, dropout after each hidden layer, label smoothing 0.1, cosine LR, the
 * data on the GPU), on whatever adapter Dawn finds (SwiftShader on a machine without a GPU):
 *
 *   node scripts/build-node.mjs bench/step-profile.ts && node dist-node/step-profile.mjs [batch] [width] [steps]
 *
 * defaults 256, 32, 30 (784-32-32-10, dropout 0.1). Prints, per step: what the step asks of the
 * queue (dispatches by kernel, submits, readbacks, uploads, bind groups, buffers and pipelines
 * created), the JavaScript time of trainStep() (recording only: nothing is awaited there), the
 * wall and process CPU time of a step with the GPU's work included (metrics read every 25 steps
 * as Trainer.run() does), and each dispatch's GPU time: one step's dispatches replayed one by one,
 * each alone in its own compute pass between timestamp queries (median of 20), when the adapter
 * has 'timestamp-query'. On SwiftShader timestamps tick in 1/15.26 ms-ish steps for short
 * kernels, so treat small entries as "under 0.1 ms".
 *
 * Data: Fashion-MNIST's training split (the first batch x 40 images) when its files are present
 * (WGTRAIN_FASHION_MNIST_DIR or Debian's dataset-fashion-mnist), else synthetic 28 x 28 images.
 * WGTRAIN_AUTOTUNE=off is the default here: the fixed kernel heuristic, as the lab runs on a
 * software adapter.
 */
import { existsSync } from 'node:fs';

const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(swiftshader)) process.env.VK_ICD_FILENAMES = swiftshader;
process.env.XDG_RUNTIME_DIR ??= '/tmp';
process.env.WGTRAIN_AUTOTUNE ??= 'off';

const wg = await import('../src/index.js');
const { Params } = await import('../src/runtime/params.js');
type Dispatch = Parameters<ReturnType<typeof wg.engine>['dispatch']>[0];

const [batch = 256, width = 32, steps = 30] = process.argv.slice(2).map(Number);
for (const [name, v] of Object.entries({ batch, width, steps })) {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`step-profile: ${name} must be a positive integer, got ${v}`);
}

await wg.init();
const e = wg.engine();
const device = e.device;

// Counters: wrap the device's and the engine's entry points (this process only).
const counts = new Map<string, number>();
const bump = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
function wrap<T extends object>(obj: T, method: string, key: string): void {
  const o = obj as Record<string, unknown>;
  const original = (o[method] as (...a: unknown[]) => unknown).bind(obj);
  o[method] = (...args: unknown[]) => {
    bump(key);
    return original(...args);
  };
}
for (const m of ['createBindGroup', 'createBuffer', 'createComputePipeline', 'createCommandEncoder']) wrap(device, m, `device.${m}`);
wrap(device.queue, 'writeBuffer', 'queue.writeBuffer');
wrap(device.queue, 'submit', 'queue.submit');
wrap(e, 'read', 'readback (engine.read)');
wrap(e, 'copy', 'buffer copy (engine.copy)');
let captured: Dispatch[] | null = null;
const dispatch = e.dispatch.bind(e);
e.dispatch = (d: Dispatch) => {
  bump(`dispatch ${d.kernel.name}${d.entry && d.entry !== 'main' ? `:${d.entry}` : ''}`);
  captured?.push({ ...d, uniforms: d.uniforms ? new Uint8Array(d.uniforms instanceof Params ? d.uniforms.bytes() : ArrayBuffer.isView(d.uniforms) ? d.uniforms.buffer.slice(d.uniforms.byteOffset, d.uniforms.byteOffset + d.uniforms.byteLength) : d.uniforms.slice(0)) : undefined });
  dispatch(d);
};

let split: import('../src/lab/data/dataset.js').ImageSplit;
let source: string;
try {
  split = (await wg.loadFashionMnist({ limit: { train: batch * 40, test: 1 } })).train;
  source = `Fashion-MNIST, first ${split.count} training images`;
} catch {
  split = wg.makeSyntheticImages({ seed: 1, trainSize: batch * 40, testSize: 1, height: 28, width: 28 }).train;
  source = `synthetic 28x28 images (${split.count}; Fashion-MNIST not found)`;
}
const train = wg.GpuDataset.upload(split, { normalize: { mean: wg.FASHION_MNIST_MEAN, std: wg.FASHION_MNIST_STD }, numClasses: 10 });
const model = new wg.MLP({ inFeatures: 784, hiddenSizes: [width, width], numClasses: 10, seed: 1 });
const optimizer = new wg.AdamW(model.namedParameters(), { lr: 1e-3, weightDecay: 0.05 });
const trainer = new wg.Trainer({
  model, optimizer, train, batchSize: batch, epochs: 1000, seed: 1, labelSmoothing: 0.1,
  lr: { lr: 1e-3, warmupEpochs: 1, minLr: 1e-6 }, dropout: { mode: 'standard', p: 0.1 },
});

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const done = () => device.queue.onSubmittedWorkDone();

console.log(`adapter: ${Object.values(e.report).slice(0, 4).join(' / ')}`);
console.log(`model: MLP 784-${width}-${width}-10, dropout 0.1, AdamW, label smoothing 0.1; batch ${batch}; data: ${source}`);

// Warm-up: pipelines compiled, pools filled.
for (let i = 0; i < 25; i++) trainer.trainStep();
await trainer.flushMetrics();
await done();

counts.clear();
let jsMs = 0;
const t0 = performance.now();
const c0 = cpuMs();
for (let i = 0; i < steps; i++) {
  const a = performance.now();
  trainer.trainStep();
  jsMs += performance.now() - a;
  if ((i + 1) % 25 === 0) await trainer.flushMetrics();
}
await trainer.flushMetrics();
await done();
const wallMs = (performance.now() - t0) / steps;
const cpuPerStep = (cpuMs() - c0) / steps;
console.log(`patient wait (patient-wait.ts): ${e.waiter ? `${e.waiter.sleeps} readbacks slept, ${e.waiter.sleptMs.toFixed(0)} ms in all` : 'off'}`);
console.log(`\nper step, over ${steps} steps (metrics read every 25 steps, as Trainer.run() does):`);
console.log(`  wall ${wallMs.toFixed(2)} ms, process CPU ${cpuPerStep.toFixed(2)} ms, trainStep() itself (JavaScript recording) ${(jsMs / steps).toFixed(2)} ms`);
for (const [key, n] of [...counts].sort()) console.log(`  ${(n / steps).toFixed(2).padStart(7)}  ${key}`);

// One step's dispatches, each replayed alone between timestamps.
if (!device.features.has('timestamp-query')) {
  console.log('\n(no timestamp-query on this adapter: no per-dispatch GPU times)');
} else {
  captured = [];
  trainer.trainStep();
  const list = captured as Dispatch[];
  captured = null;
  e.flush();
  await trainer.flushMetrics();
  await done();
  const R = 20;
  const n = list.length * R;
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * n });
  const resolve = device.createBuffer({ size: 16 * n, usage: 0x200 /* QUERY_RESOLVE */ | 0x4 /* COPY_SRC */ });
  const readback = device.createBuffer({ size: 16 * n, usage: 0x1 /* MAP_READ */ | 0x8 /* COPY_DST */ });
  const uniforms: GPUBuffer[] = [];
  const encoder = device.createCommandEncoder();
  list.forEach((d, k) => {
    const pipeline = e.pipelines.get(d.kernel, d.defines ?? {}, d.entry);
    const entries: GPUBindGroupEntry[] = [];
    if (d.uniforms) {
      const u = device.createBuffer({ size: 256, usage: 0x40 /* UNIFORM */ | 0x8 /* COPY_DST */ });
      const bytes = new Uint8Array(256);
      bytes.set(d.uniforms as Uint8Array);
      device.queue.writeBuffer(u, 0, bytes);
      uniforms.push(u);
      entries.push({ binding: 0, resource: { buffer: u } });
    }
    d.buffers.forEach((buffer, i) => entries.push({ binding: i + 1, resource: { buffer } }));
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    for (let r = 0; r < R; r++) {
      const q = 2 * (k * R + r);
      const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 } });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      const [x, y = 1, z = 1] = d.workgroups;
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
    }
  });
  encoder.resolveQuerySet(querySet, 0, 2 * n, resolve, 0);
  encoder.copyBufferToBuffer(resolve, 0, readback, 0, 16 * n);
  device.queue.submit([encoder.finish()]);
  await readback.mapAsync(0x1 /* GPUMapMode.READ */);
  const ticks = new BigUint64Array(readback.getMappedRange().slice(0));
  readback.unmap();
  console.log(`\none step's ${list.length} dispatches, each alone (median GPU time of ${R} replays; the replays overwrite their outputs, so this step's numbers are not used):`);
  let total = 0;
  for (const [k, d] of list.entries()) {
    const times: number[] = [];
    for (let r = 0; r < R; r++) times.push(Number(ticks[2 * (k * R + r) + 1] - ticks[2 * (k * R + r)]) / 1e6);
    times.sort((a, b) => a - b);
    const ms = times[R >> 1];
    total += ms;
    const def = d.defines ?? {};
    const what = d.kernel.name === 'matmul' && def.MODE_MATMUL
      ? ` ${Array.from(new Uint32Array((d.uniforms as Uint8Array).buffer, 0, 3)).join('x')}${def.TRANS_A ? ' tA' : ''}${def.TRANS_B ? ' tB' : ''}${def.HAS_BIAS ? ' +bias' : ''}${def.COL_SUM ? ' +bias grad' : ''}${def.DIRECT ? ' direct' : ''}`
      : '';
    console.log(`  ${ms.toFixed(3).padStart(8)} ms  ${d.kernel.name}${d.entry && d.entry !== 'main' ? `:${d.entry}` : ''}${what} (${d.workgroups.join('x')} workgroups)`);
  }
  console.log(`  ${total.toFixed(3).padStart(8)} ms  total`);
  for (const u of uniforms) u.destroy();
  resolve.destroy();
  readback.destroy();
  querySet.destroy();
}

trainer.dispose();
optimizer.dispose();
model.dispose();
train.dispose();
wg.shutdown();

/**
 * Device acquisition errors and device loss: each must be an error the caller can catch, with a
 * message that says what to do, never a hang.
 */
import { afterAll, expect, test } from 'vitest';
import { engine, init, shutdown, tensor, WebGPUUnavailableError } from '../src/index.js';

afterAll(() => shutdown());

test('no adapter: the error says which driver to install and how to point Dawn at it', async () => {
  const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
  const err = await init({ gpu: noAdapter }).catch((e) => e);
  expect(err).toBeInstanceOf(WebGPUUnavailableError);
  expect(err.message).toMatch(/WebGPU found no adapter/);
  expect(err.message).toMatch(/VK_ICD_FILENAMES=\/usr\/lib\/chromium\/vk_swiftshader_icd\.json/);
});

test('using the engine before init() is a clear error', () => {
  expect(() => tensor([1])).toThrow(/wgtrain is not initialised: call `await init\(\)` first/);
});

test('device loss rejects pending and later work instead of hanging; init() recovers', async () => {
  await init();
  const x = tensor([1, 2, 3]);
  const y = x.exp();
  engine().device.destroy(); // what a driver reset looks like to WebGPU
  await expect(y.toArray()).rejects.toThrow(/device was lost|Reading a tensor back from the GPU failed/);
  // Give the lost promise a tick to settle, then every op names the loss.
  await new Promise((r) => setTimeout(r, 10));
  expect(() => x.add(1)).toThrow(/The WebGPU device was lost/);
  await init();
  expect(() => x.add(1)).toThrow(/belongs to a device that was shut down or lost/);
  expect(Array.from(await tensor([4]).sqrt().toArray())).toEqual([2]);
});

test('after shutdown(), old tensors name the problem', async () => {
  await init();
  const t = tensor([1]);
  shutdown();
  expect(() => t.exp()).toThrow(/not initialised/);
  await init();
  expect(() => t.exp()).toThrow(/belongs to a device that was shut down or lost/);
});

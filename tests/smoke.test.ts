import { afterAll, beforeAll, expect, test } from 'vitest';
import { init, shutdown, tensor, memoryStats, adapterReport } from '../src/index.js';

beforeAll(async () => { await init(); });
afterAll(() => shutdown());

test('smoke', async () => {
  console.log(adapterReport().vendor, adapterReport().architecture, adapterReport().software, adapterReport().enabledFeatures);
  const a = tensor([1, 2, 3, -4], [2, 2], { requiresGrad: true });
  const b = tensor([[0.5], [2]]);
  const y = a.mul(b).gelu().exp();
  console.log(await y.toArray());
  console.log(memoryStats());
  expect(y.shape).toEqual([2, 2]);
});

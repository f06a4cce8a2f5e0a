/**
 * One computation run four ways by tests/package/package.test.ts: from the source tree (vitest), and
 * from the installed tarball in Node, in a Vite app and in a plain page (Chromium). It uses only
 * the API object it is given: no imports, so the test can strip its types into plain JavaScript
 * for the temporary project. A matmul with its gradients, then one ViT training step with dropout
 * on (AdamW), all seeded: the same kernels must give the same numbers everywhere.
 */
import type * as Wgtrain from '../../src/index.js';

/** What the computation uses, by the entry a user would import it from. */
export const API = {
  wgtrain: ['randn', 'tensor', 'crossEntropy', 'Generator', 'tidy'],
  'wgtrain/nn': ['ViT'],
  'wgtrain/optim': ['AdamW'],
} as const;

type Name = (typeof API)[keyof typeof API][number];
export type Api = Pick<typeof Wgtrain, Name>;

export interface ComputationResult {
  matmul: { y: number[]; gradA: number[]; gradB: number[] };
  vit: { loss: number; parameters: Record<string, number[]> };
}

export async function computation(wg: Api): Promise<ComputationResult> {
  // Matmul through the Tensor methods (they must exist whichever entry the app imported).
  const a = wg.randn([5, 7], { requiresGrad: true, seed: 1 });
  const b = wg.randn([7, 3], { requiresGrad: true, seed: 2 });
  const y = a.matmul(b);
  y.relu().logSoftmax(-1).mean().backward();
  const matmul = {
    y: Array.from(await y.toArray()),
    gradA: Array.from(await a.grad!.toArray()),
    gradB: Array.from(await b.grad!.toArray()),
  };
  for (const t of [a, b, y]) t.dispose();

  // One ViT step with dropout, its masks drawn from a generator of its own.
  const model = new wg.ViT({ imageSize: 8, patchSize: 4, inChannels: 1, numClasses: 3, dim: 16, depth: 1, numHeads: 2, dropRate: 0.1, seed: 3 });
  model.setGenerator(new wg.Generator(11));
  model.train();
  const optimizer = new wg.AdamW(model.namedParameters(), { lr: 1e-2, weightDecay: 0.05 });
  const x = wg.randn([4, 1, 8, 8], { seed: 5 });
  const labels = wg.tensor(Int32Array.from([0, 2, 1, 2]), [4], { dtype: 'i32' });
  optimizer.zeroGrad();
  const loss = wg.tidy(() => {
    const l = wg.crossEntropy(model.forward(x), labels);
    l.backward();
    return l;
  });
  optimizer.step();
  const parameters: Record<string, number[]> = {};
  for (const [name, p] of model.namedParameters()) parameters[name] = Array.from(await p.toArray());
  const vit = { loss: await loss.item(), parameters };
  for (const t of [x, labels, loss]) t.dispose();
  model.dispose();
  return { matmul, vit };
}

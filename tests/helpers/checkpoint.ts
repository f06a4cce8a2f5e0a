/**
 * A small trainer for checkpoint tests, and a snapshot of everything loadCheckpoint may change
 * (tests/checkpoint-integrity.test.ts, tests/fuzz.test.ts).
 */
import { liveTensorCount } from '../../src/index.js';
import { MLP } from '../../src/nn/models/mlp.js';
import { AdamW } from '../../src/nn/optim.js';
import { GpuDataset } from '../../src/lab/data/gpu-dataset.js';
import { makeSyntheticImages } from '../../src/lab/data/synthetic.js';
import { Trainer, type StepMetrics } from '../../src/lab/trainer.js';

const data = makeSyntheticImages({ seed: 3, trainSize: 96, testSize: 16, height: 4, width: 4, numClasses: 3, maxShift: 0, noise: 0.2, shared: 0.2 });

/** A small trainer (MLP 16-8-3, AdamW, early dropout); `modelSeed` changes only the initial weights. */
export function makeTrainer(modelSeed = 7, losses?: StepMetrics[]) {
  const train = GpuDataset.upload(data.train, { normalize: { mean: 0.2, std: 0.2 } });
  const model = new MLP({ inFeatures: 16, hiddenSizes: [8], numClasses: 3, seed: modelSeed });
  const optimizer = new AdamW(model.namedParameters(), { lr: 1e-2, weightDecay: 0.05 });
  const trainer = new Trainer({
    model, optimizer, train, batchSize: 8, epochs: 2, seed: 11,
    lr: { lr: 1e-2, warmupSteps: 2, minLr: 1e-5 },
    dropout: { mode: 'early', p: 0.2, shape: 'linear', cutoffEpochs: 1 },
    metricsEvery: 4,
    onMetrics: (m) => losses?.push(...m),
  });
  const dispose = () => {
    trainer.dispose();
    optimizer.dispose();
    model.dispose();
    train.dispose();
  };
  return { trainer, model, optimizer, dispose };
}

/** Everything loadCheckpoint may change, read back. */
export async function snapshot(trainer: Trainer) {
  const { tensors, ...scalars } = trainer.optimizer.stateDict();
  const weights = await Promise.all(trainer.model.namedParameters().map(async ([n, p]) => [n, Array.from(await p.toArray())]));
  const moments = await Promise.all(Object.entries(tensors).map(async ([n, t]) => [n, Array.from(await (t as { toArray(): Promise<Float32Array> }).toArray())]));
  return { weights, moments, scalars: JSON.parse(JSON.stringify(scalars)), trainer: trainer.state(), tensors: liveTensorCount() };
}


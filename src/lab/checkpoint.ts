/**
 * Checkpoints in the safetensors format: everything a run needs to continue exactly as if it had
 * not stopped. Tensors: `model.<param>` (the weights) and `optim.<param>.<slot>` (AdamW's moments
 * or SGD's momentum). Metadata `wgtrain` (JSON): the trainer's step, its dropout-generator state,
 * the data sampler's position and settings, and the optimizer's scalars (step counts, lr, groups).
 *
 * Loading checks the model's tensors first (a missing or extra tensor, or a wrong shape, is an
 * error naming them, before anything is written), then restores optimizer, sampler and step.
 */
import { parseSafetensors, serializeSafetensors, type SafetensorsTensor } from '../nn/safetensors.js';
import type { OptimizerStateDict } from '../nn/optim.js';
import type { Trainer, TrainerState } from './trainer.js';

const FORMAT = 'wgtrain-checkpoint/1';

interface CheckpointMeta {
  format: string;
  trainer: TrainerState;
  optimizer: Omit<OptimizerStateDict, 'tensors'>;
  /** Free-form notes from the caller (experiment name, ...). */
  notes?: Record<string, string>;
}

/** Serialises the trainer's model, optimizer and progress (reads the tensors back once). */
export async function saveCheckpoint(trainer: Trainer, notes?: Record<string, string>): Promise<Uint8Array> {
  await trainer.flushMetrics();
  const trainerState = trainer.state();
  const { tensors: optimTensors, ...optimizer } = trainer.optimizer.stateDict();
  const named: [string, { shape: readonly number[]; toArray(): Promise<ArrayLike<number>> }][] = [
    ...trainer.model.namedParameters().map(([n, p]) => [`model.${n}`, p] as [string, typeof p]),
    ...Object.entries(optimTensors).map(([n, t]) => [`optim.${n}`, t] as [string, typeof t]),
  ];
  const arrays = await Promise.all(named.map(([, t]) => t.toArray()));
  const tensors: Record<string, SafetensorsTensor> = {};
  named.forEach(([name, t], i) => {
    tensors[name] = { dtype: 'F32', shape: [...t.shape], data: arrays[i] as Float32Array };
  });
  const meta: CheckpointMeta = { format: FORMAT, trainer: trainerState, optimizer, notes };
  return serializeSafetensors(tensors, { wgtrain: JSON.stringify(meta) });
}

/** Restores a checkpoint written by saveCheckpoint into a trainer built with the same settings. */
export function loadCheckpoint(trainer: Trainer, bytes: Uint8Array, name = 'checkpoint'): void {
  const { tensors, metadata } = parseSafetensors(bytes);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(metadata.wgtrain ?? 'null');
  } catch {
    throw new Error(`${name}: the wgtrain metadata is not valid JSON`);
  }
  if (!meta || meta.format !== FORMAT) {
    throw new Error(`${name}: not a wgtrain checkpoint (metadata format ${JSON.stringify(meta?.format)}, expected ${FORMAT})`);
  }
  const model: Record<string, { shape: number[]; data: Float32Array }> = {};
  const optim: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [key, t] of Object.entries(tensors)) {
    if (t.dtype !== 'F32') throw new Error(`${name}: tensor ${key} is ${t.dtype}, expected F32`);
    const entry = { shape: t.shape, data: t.data as Float32Array };
    if (key.startsWith('model.')) model[key.slice(6)] = entry;
    else if (key.startsWith('optim.')) optim[key.slice(6)] = entry;
    else throw new Error(`${name}: unexpected tensor ${key} (neither model.* nor optim.*)`);
  }
  try {
    trainer.model.loadStateDict(model);
    trainer.optimizer.loadStateDict({ ...meta.optimizer, tensors: optim });
    trainer.restore(meta.trainer);
  } catch (e) {
    throw new Error(`${name} does not match this run: ${(e as Error).message}`);
  }
}

/** Node: writes a checkpoint atomically (temp file + rename), so a crash never leaves half a file. */
export async function writeCheckpointFile(path: string, trainer: Trainer, notes?: Record<string, string>): Promise<void> {
  const bytes = await saveCheckpoint(trainer, notes);
  const fs = await import('node:fs/promises');
  const tmp = `${path}.tmp-${process.pid}`;
  await fs.writeFile(tmp, bytes);
  await fs.rename(tmp, path);
}

export async function readCheckpointFile(path: string, trainer: Trainer): Promise<void> {
  const fs = await import('node:fs/promises');
  const bytes = new Uint8Array(await fs.readFile(path));
  loadCheckpoint(trainer, bytes, path);
}

/**
 * Checkpoints in the safetensors format: everything a run needs to continue exactly as if it had
 * not stopped. Tensors: `model.<param>` (the weights) and `optim.<param>.<slot>` (AdamW's moments
 * or SGD's momentum). Metadata `wgtrain` (JSON): the trainer's step, its dropout-generator state,
 * the data sampler's position and settings, and the optimizer's scalars (step counts, lr, groups).
 * Metadata `wgtrain.crc32`: the CRC-32 of the whole file, computed with these 8 hex digits as
 * "00000000", so a flipped bit anywhere is detected on load. The checksum only adds metadata: the
 * training state written and restored is the same as without it. Checkpoints written before it
 * existed (no `wgtrain.crc32`) still load, unverified.
 *
 * Loading is all or nothing: the whole file is validated first (structure, checksum, finite
 * values, every tensor's name and shape, the trainer state, the dropout state and the data order
 * against this trainer), and only then applied, the optimizer first (its loadStateDict checks
 * everything before writing anything), then the weights, then the trainer. Any problem is an error
 * naming the checkpoint, and the trainer is left exactly as it was.
 *
 * Two kinds of error. A damaged file (unreadable, truncated, checksum mismatch, NaN or inf values,
 * not a wgtrain checkpoint) is a CheckpointIntegrityError: the experiment runner sets such a file
 * aside and restarts the run. A sound checkpoint of another run (other shapes, settings or data
 * order) is a plain Error saying it "does not match this run".
 */
import { parseSafetensors, serializeSafetensors, type SafetensorsTensor } from '../nn/safetensors.js';
import { crc32, crc32Hex } from '../nn/crc32.js';
import { Generator } from '../runtime/generator.js';
import type { OptimizerStateDict } from '../nn/optim.js';
import type { Trainer, TrainerState } from './trainer.js';

const FORMAT = 'wgtrain-checkpoint/1';
const META_KEY = 'wgtrain';
const CRC_KEY = 'wgtrain.crc32';
const CRC_PLACEHOLDER = '00000000';

interface CheckpointMeta {
  format: string;
  trainer: TrainerState;
  optimizer: Omit<OptimizerStateDict, 'tensors'>;
  /** Free-form notes from the caller (experiment name, ...). */
  notes?: Record<string, string>;
}

/** A checkpoint file that is damaged: unreadable, truncated, failing its checksum, or holding NaN / inf. */
export class CheckpointIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointIntegrityError';
  }
}

export interface LoadCheckpointOptions {
  /** Names the checkpoint in errors (e.g. its path). Default 'checkpoint'. */
  name?: string;
  /**
   * Load even when the checksum does not match or a tensor holds NaN or inf (default false): for
   * inspecting a damaged file or the state of a run that diverged. Structure and shapes are still
   * checked.
   */
  force?: boolean;
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
  const bytes = serializeSafetensors(tensors, { [META_KEY]: JSON.stringify(meta), [CRC_KEY]: CRC_PLACEHOLDER });
  const at = checksumOffset(bytes, CRC_PLACEHOLDER);
  if (at < 0) throw new Error('saveCheckpoint: the checksum field is missing from the header (a bug)');
  bytes.set(new TextEncoder().encode(crc32Hex(crc32(bytes))), at);
  return bytes;
}

/** Where the hex digits of `"wgtrain.crc32":"<hex>"` start in the header, or -1 (found exactly once). */
function checksumOffset(bytes: Uint8Array, hex: string): number {
  if (bytes.length < 8) return -1;
  const headerEnd = Math.min(bytes.length, 8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)));
  const pattern = new TextEncoder().encode(`${JSON.stringify(CRC_KEY)}:"${hex}"`);
  let found = -1;
  outer: for (let i = 8; i + pattern.length <= headerEnd; i++) {
    for (let k = 0; k < pattern.length; k++) if (bytes[i + k] !== pattern[k]) continue outer;
    if (found >= 0) return -1;
    found = i;
  }
  return found < 0 ? -1 : found + pattern.length - 1 - hex.length;
}

/** The CRC-32 of the file with its checksum digits read as the placeholder. */
function fileChecksum(bytes: Uint8Array, at: number): number {
  const zeros = new TextEncoder().encode(CRC_PLACEHOLDER);
  let c = crc32(bytes.subarray(0, at));
  c = crc32(zeros, c);
  return crc32(bytes.subarray(at + zeros.length), c);
}

const describe = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));

/**
 * Restores a checkpoint written by saveCheckpoint into a trainer built with the same settings, all
 * or nothing (see the module comment). The third argument is the checkpoint's name for errors, or
 * options.
 */
export function loadCheckpoint(trainer: Trainer, bytes: Uint8Array, nameOrOptions: string | LoadCheckpointOptions = {}): void {
  const options = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions;
  const name = options.name ?? 'checkpoint';
  const force = options.force ?? false;
  const hint = 'pass { force: true } to load it anyway';

  // 1. The file itself.
  let parsed: ReturnType<typeof parseSafetensors>;
  try {
    parsed = parseSafetensors(bytes);
  } catch (e) {
    throw new CheckpointIntegrityError(`${name}: ${(e as Error).message} (${bytes.length} bytes; a damaged or truncated file)`);
  }
  const { tensors, metadata } = parsed;
  const stored = metadata[CRC_KEY];
  if (stored !== undefined && !force) {
    const at = /^[0-9a-f]{8}$/.test(stored) ? checksumOffset(bytes, stored) : -1;
    if (at < 0) throw new CheckpointIntegrityError(`${name}: malformed checksum field ${JSON.stringify(stored)} (a damaged file); ${hint}`);
    const actual = crc32Hex(fileChecksum(bytes, at));
    if (actual !== stored) {
      throw new CheckpointIntegrityError(`${name}: checksum mismatch (the file says ${stored}, its bytes give ${actual}): it was damaged after it was written; ${hint}`);
    }
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(metadata[META_KEY] ?? 'null');
  } catch {
    throw new CheckpointIntegrityError(`${name}: the wgtrain metadata is not valid JSON`);
  }
  if (!meta || typeof meta !== 'object' || meta.format !== FORMAT) {
    throw new CheckpointIntegrityError(`${name}: not a wgtrain checkpoint (metadata format ${JSON.stringify(meta?.format)}, expected ${FORMAT})`);
  }
  const model: Record<string, { shape: number[]; data: Float32Array }> = {};
  const optim: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [key, t] of Object.entries(tensors)) {
    if (t.dtype !== 'F32') throw new CheckpointIntegrityError(`${name}: tensor ${key} is ${t.dtype}, expected F32`);
    const entry = { shape: t.shape, data: t.data as Float32Array };
    if (key.startsWith('model.')) model[key.slice(6)] = entry;
    else if (key.startsWith('optim.')) optim[key.slice(6)] = entry;
    else throw new CheckpointIntegrityError(`${name}: unexpected tensor ${key} (neither model.* nor optim.*)`);
    if (!force) {
      const data = entry.data;
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) {
          let count = 0;
          for (let j = i; j < data.length; j++) if (!Number.isFinite(data[j])) count++;
          throw new CheckpointIntegrityError(
            `${name}: tensor ${key} holds ${count} non-finite value${count > 1 ? 's' : ''} (the first, ${data[i]}, at index ${i}): ` +
              `written by a run that had diverged, or damaged; ${hint}`,
          );
        }
      }
    }
  }

  // 2. The checkpoint against this trainer, before anything is written.
  const mismatch = (problems: string[]) => new Error(`${name} does not match this run: ${problems.join('; ')}`);
  const problems = checkModel(trainer, model);
  if (meta.optimizer === null || typeof meta.optimizer !== 'object') problems.push(`the optimizer state is ${describe(meta.optimizer)}`);
  if (meta.trainer === null || typeof meta.trainer !== 'object') problems.push(`the trainer state is ${describe(meta.trainer)}`);
  if (problems.length) throw mismatch(problems);
  try {
    checkTrainerState(trainer, meta.trainer);
  } catch (e) {
    throw mismatch([(e as Error).message]);
  }

  // 3. Apply: the optimizer first, which validates all of its state before writing any of it; the
  // model and the trainer were validated above and cannot fail.
  try {
    trainer.optimizer.loadStateDict({ ...meta.optimizer, tensors: optim });
  } catch (e) {
    throw mismatch([(e as Error).message]);
  }
  trainer.model.loadStateDict(model);
  trainer.restore(meta.trainer);
}

/** Names and shapes of the weights against the model's parameters (what loadStateDict checks). */
function checkModel(trainer: Trainer, model: Record<string, { shape: number[] }>): string[] {
  const named = new Map(trainer.model.namedParameters());
  const problems: string[] = [];
  const missing = [...named.keys()].filter((k) => !(k in model));
  const extra = Object.keys(model).filter((k) => !named.has(k));
  if (missing.length) problems.push(`missing ${missing.join(', ')}`);
  if (extra.length) problems.push(`unexpected ${extra.join(', ')}`);
  for (const [key, p] of named) {
    const v = model[key];
    if (v && v.shape.join() !== p.shape.join()) problems.push(`${key}: expected shape [${p.shape}], got [${v.shape}]`);
  }
  return problems;
}

/**
 * Everything Trainer.restore would take, checked without changing the trainer: the step range,
 * the dropout-generator state (by building a generator from it) and the data order (through the
 * sampler's restore, whose position is put back).
 */
function checkTrainerState(trainer: Trainer, state: TrainerState): void {
  const { step, dropout, sampler } = state;
  if (!Number.isInteger(step) || step < 0 || step > trainer.totalSteps) {
    throw new Error(`trainer step ${describe(step)} is outside this run's 0..${trainer.totalSteps}`);
  }
  try {
    Generator.fromState(dropout);
  } catch (e) {
    throw new Error(`dropout state: ${(e as Error).message}`);
  }
  const position = trainer.sampler.state();
  trainer.sampler.restore(sampler);
  trainer.sampler.restore(position);
}

/**
 * The model kinds an experiment spec can name, each declared once: its spec type, allowed keys and
 * checks, the `--quick` shrink, the builder, its descriptions (report and plan), its cost
 * (multiply-adds, parameters) and the lab page's form fields. spec.ts, build.ts, format.ts,
 * plan.ts, cost.ts and demos/lab/form.ts read from MODEL_KINDS, so adding a kind touches this
 * file (and the model's code in src/nn/models/).
 *
 * The checks get spec.ts's Checker through `ModelChecks` (this module does not import spec.ts,
 * which imports it).
 */
import { MLP, MLPMixer, ViT, type Classifier } from '../../nn/models/index.js';
import type { Checker } from './spec.js';

export interface MlpSpec {
  kind: 'mlp';
  hiddenSizes: number[];
  activation?: 'relu' | 'gelu';
}
export interface VitSpec {
  kind: 'vit';
  patchSize: number;
  dim: number;
  depth: number;
  numHeads: number;
  mlpRatio?: number;
}
export interface MixerSpec {
  kind: 'mixer';
  patchSize: number;
  dim: number;
  depth: number;
  tokenMlpRatio?: number;
  channelMlpRatio?: number;
}
export type ModelSpec = MlpSpec | VitSpec | MixerSpec;
export type ModelKindName = ModelSpec['kind'];

type Obj = Record<string, unknown>;

/** What a kind's checks get from validation (spec.ts). */
export interface ModelChecks {
  c: Checker;
  /** The model's field path, e.g. 'model' or 'cells[2].model'. */
  path: string;
  /** Fails `field` unless `elements` (spelled out by `what`) fits one tensor. */
  elements(field: string, elements: number, what: string): boolean;
  /** spec.ts's limits: values in one tensor, image side. */
  maxElements: number;
  maxSide: number;
  /** A value as the problem shows what it got. */
  show(v: unknown): string;
}

/** The `--quick` limits a kind applies (spec.ts QUICK). */
export interface QuickModelLimits {
  dim: number;
  depth: number;
  numHeads: number;
  hidden: number;
}

/** The data side of a build: classes, channels and image side. */
export interface ModelShapes {
  numClasses: number;
  channels: number;
  imageSize: number;
}

/** One field of the lab page's model form. */
export interface FormField {
  label: string;
  key: string;
  type: 'number' | 'list' | 'select';
  /** select: [value, text] pairs, and the value shown when the key is absent. */
  options?: [string, string][];
  fallback?: string;
  step?: string;
  min?: string;
  hint?: string;
}

export interface ModelKind<M extends ModelSpec = ModelSpec> {
  /** The name in the form's kind menu. */
  label: string;
  /** The short name in sentences ("has an MLP", "a ViT or Mixer"). */
  name: string;
  /** Keys a spec of this kind may have. */
  keys: readonly string[];
  /** Whether it has residual blocks (stochastic depth applies). */
  residual: boolean;
  /** Its `patchSize`, if it has one (must divide the image side). */
  patchSize(m: M): number | undefined;
  /** Checks the fields beyond `kind` and the keys (the model alone). */
  check(v: ModelChecks, m: Obj): void;
  /** Checks the tensors it implies for images of `side` pixels and `batchSize` images. */
  checkSizes(v: ModelChecks, m: M, side: number, batchSize: number): void;
  /** The `--quick` version for images of `side` pixels. */
  quick(m: M, side: number, q: QuickModelLimits): M;
  build(m: M, shapes: ModelShapes, seed: number): Classifier;
  /** The report's description. */
  describe(m: M): string;
  /** The plan's shorter one. */
  brief(m: M): string;
  /** Multiply-adds of one forward pass of one image (see cost.ts). */
  forwardMacsPerImage(m: M, imageSize: number, channels: number, numClasses: number): number;
  /** Trainable parameters as src/nn/models builds them. */
  parameterCount(m: M, imageSize: number, channels: number, numClasses: number): number;
  /** The form's starting values when a person picks this kind, and its fields. */
  formDefaults: M;
  formFields: FormField[];
}

const linear = (i: number, o: number) => i * o + o;

// ---- what the patch models (ViT, Mixer) share ----

/** patchSize, dim, depth and the given ratios; the Mixer's token ratio is checked per cell (with the tokens). */
function checkPatchModel(v: ModelChecks, m: Obj, ratios: readonly string[], extra: () => void): void {
  const { c, path } = v;
  c.int(`${path}.patchSize`, m.patchSize, 1, { max: v.maxSide });
  c.int(`${path}.dim`, m.dim, 1, { max: v.maxElements });
  // 1024 blocks: 30 times the deepest ViT of the paper's family (ViT-H, 32), and a bound on the
  // parameter count together with the per-weight bounds.
  c.int(`${path}.depth`, m.depth, 1, { max: 1024 });
  // A ratio gives a dim × (ratio · dim) weight, except the Mixer's token ratio.
  const ratio = (k: string) => c.number(`${path}.${k}`, m[k], (x) => x > 0, 'a positive number', { optional: true })
    && k !== 'tokenMlpRatio' && typeof m.dim === 'number' && v.elements(`${path}.${k}`, m.dim * Math.floor((m[k] as number) * m.dim), `${m.dim} × ${k} ${m[k]} · ${m.dim} (a weight)`);
  extra();
  ratios.forEach(ratio);
}

/** Tokens of a patch model for images of `side` pixels, after checking its patch embedding; undefined when unsized. */
function patchTokens(v: ModelChecks, m: VitSpec | MixerSpec, side: number): number | undefined {
  if (typeof m.patchSize !== 'number' || typeof m.dim !== 'number' || side % m.patchSize !== 0) return undefined;
  v.elements(`${v.path}.patchSize`, m.patchSize ** 2 * m.dim, `${m.patchSize}² pixels × ${m.dim} (the patch embedding)`);
  return (side / m.patchSize) ** 2;
}

/** The largest patch size dividing `side` that is at most side/2 and at least `patch` (else `patch`). */
function quickPatch(patch: number, side: number): number {
  for (let p = Math.floor(side / 2); p > patch; p--) if (side % p === 0) return p;
  return patch;
}

/** A patch model's patches per image, and its patch embedding's multiply-adds per image and parameters. */
function patchEmbedding(m: VitSpec | MixerSpec, imageSize: number, channels: number) {
  const patches = (imageSize / m.patchSize) ** 2;
  return { patches, macs: patches * channels * m.patchSize ** 2 * m.dim, params: linear(channels * m.patchSize ** 2, m.dim) };
}

/** Parameters of the final norm and the classifier. */
const headParams = (dim: number, numClasses: number) => 2 * dim + linear(dim, numClasses);

function quickPatchModel<M extends VitSpec | MixerSpec>(m: M, side: number, q: QuickModelLimits): M {
  return { ...m, patchSize: quickPatch(m.patchSize, side), dim: Math.min(m.dim, q.dim), depth: Math.min(m.depth, q.depth) };
}

/** What the patch models declare alike: residual blocks, a patch size. */
const PATCH_KIND = { residual: true, patchSize: (m: VitSpec | MixerSpec) => m.patchSize } as const;

const PATCH_FIELDS: FormField[] = [
  { label: 'patch size', key: 'patchSize', type: 'number', step: '1', min: '1' },
  { label: 'width (dim)', key: 'dim', type: 'number', step: '1', min: '1' },
  { label: 'depth', key: 'depth', type: 'number', step: '1', min: '1' },
];

const mlp: ModelKind<MlpSpec> = {
  label: 'MLP',
  name: 'MLP',
  keys: ['kind', 'hiddenSizes', 'activation'],
  residual: false,
  patchSize: () => undefined,
  check({ c, path, elements, maxElements, show }, m) {
    if (!Array.isArray(m.hiddenSizes)) c.fail(`${path}.hiddenSizes`, `must be an array of widths (may be empty), got ${show(m.hiddenSizes)}`);
    else {
      m.hiddenSizes.forEach((w, i) => c.int(`${path}.hiddenSizes[${i}]`, w, 1, { max: maxElements }));
      const widths = m.hiddenSizes.filter((w): w is number => Number.isSafeInteger(w));
      for (let i = 1; i < widths.length; i++) elements(`${path}.hiddenSizes[${i}]`, widths[i - 1] * widths[i], `${widths[i - 1]} × ${widths[i]} units (a weight)`);
    }
    c.oneOf(`${path}.activation`, m.activation, ['relu', 'gelu'] as const, 'activation', { optional: true });
  },
  checkSizes(v, m, side, batchSize) {
    const pixels = side * side;
    if (!Array.isArray(m.hiddenSizes) || !m.hiddenSizes.every((w) => Number.isSafeInteger(w))) return;
    const widths = [pixels, ...m.hiddenSizes];
    if (widths.length > 1) v.elements(`${v.path}.hiddenSizes[0]`, pixels * widths[1], `${pixels} inputs × ${widths[1]} units (the first weight)`);
    const widest = Math.max(...widths);
    v.elements('batchSize', batchSize * widest, `${batchSize} images × ${widest} units (one activation)`);
  },
  quick: (m, _side, q) => ({ ...m, hiddenSizes: m.hiddenSizes.slice(0, 2).map((w) => Math.min(w, q.hidden)) }),
  build: (m, { numClasses, channels, imageSize }, seed) =>
    new MLP({ inFeatures: channels * imageSize * imageSize, hiddenSizes: m.hiddenSizes, numClasses, activation: m.activation, seed }),
  describe: (m) => `MLP, hidden sizes [${m.hiddenSizes.join(', ')}], ${m.activation ?? 'relu'}`,
  brief: (m) => `MLP ${m.hiddenSizes.join('-') || '(linear)'}`,
  forwardMacsPerImage(m, imageSize, channels, numClasses) {
    const widths = [channels * imageSize * imageSize, ...m.hiddenSizes, numClasses];
    let macs = 0;
    for (let i = 0; i + 1 < widths.length; i++) macs += widths[i] * widths[i + 1];
    return macs;
  },
  parameterCount(m, imageSize, channels, numClasses) {
    const widths = [channels * imageSize * imageSize, ...m.hiddenSizes, numClasses];
    let n = 0;
    for (let i = 0; i + 1 < widths.length; i++) n += linear(widths[i], widths[i + 1]);
    return n;
  },
  formDefaults: { kind: 'mlp', hiddenSizes: [256, 256], activation: 'relu' },
  formFields: [
    { label: 'hidden sizes', key: 'hiddenSizes', type: 'list', hint: 'comma-separated widths, e.g. 256, 256' },
    { label: 'activation', key: 'activation', type: 'select', options: [['relu', 'ReLU'], ['gelu', 'GELU']], fallback: 'relu' },
  ],
};

const vit: ModelKind<VitSpec> = {
  label: 'ViT',
  name: 'ViT',
  keys: ['kind', 'patchSize', 'dim', 'depth', 'numHeads', 'mlpRatio'],
  ...PATCH_KIND,
  check(v, m) {
    const { c, path } = v;
    checkPatchModel(v, m, ['mlpRatio'], () => {
      if (typeof m.dim === 'number' && Number.isSafeInteger(m.dim)) v.elements(`${path}.dim`, 3 * m.dim * m.dim, `${m.dim} × ${3 * m.dim} (the attention's qkv weight)`);
      if (c.int(`${path}.numHeads`, m.numHeads, 1) && typeof m.dim === 'number' && m.dim % m.numHeads !== 0) {
        c.fail(`${path}.numHeads`, `dim ${m.dim} is not divisible by numHeads ${m.numHeads}`);
      }
    });
  },
  checkSizes(v, m, side, batchSize) {
    const tokens = patchTokens(v, m, side);
    if (tokens === undefined) return;
    const hidden = Math.max(3 * m.dim, Math.floor((m.mlpRatio ?? 4) * m.dim));
    v.elements('batchSize', batchSize * (tokens + 1) * hidden, `${batchSize} images × ${tokens + 1} tokens × ${hidden} (one activation)`);
    if (typeof m.numHeads === 'number') {
      v.elements('batchSize', batchSize * m.numHeads * (tokens + 1) ** 2, `${batchSize} images × ${m.numHeads} heads × ${tokens + 1}² tokens (the attention scores)`);
    }
  },
  quick(m, side, q) {
    const small = quickPatchModel(m, side, q);
    let heads = Math.min(m.numHeads, q.numHeads);
    while (small.dim % heads !== 0) heads--;
    return { ...small, numHeads: heads };
  },
  build: (m, { numClasses, channels, imageSize }, seed) =>
    new ViT({ imageSize, patchSize: m.patchSize, inChannels: channels, numClasses, dim: m.dim, depth: m.depth, numHeads: m.numHeads, mlpRatio: m.mlpRatio, seed }),
  describe: (m) => `ViT, patch ${m.patchSize}, dim ${m.dim}, depth ${m.depth}, ${m.numHeads} heads, MLP ratio ${m.mlpRatio ?? 4}`,
  brief: (m) => `ViT patch ${m.patchSize}, dim ${m.dim}, depth ${m.depth}, ${m.numHeads} heads`,
  forwardMacsPerImage(m, imageSize, channels, numClasses) {
    const { patches, macs: embed } = patchEmbedding(m, imageSize, channels);
    const d = m.dim;
    const tokens = patches + 1; // the cls token
    const hidden = Math.floor((m.mlpRatio ?? 4) * d);
    // qkv (3d²) + projection (d²) + MLP (2·d·hidden) per token; scores and weighted sum (2·T²·d).
    const block = tokens * (4 * d * d + 2 * d * hidden) + 2 * tokens * tokens * d;
    return embed + m.depth * block + d * numClasses;
  },
  parameterCount(m, imageSize, channels, numClasses) {
    const { patches, params: embed } = patchEmbedding(m, imageSize, channels);
    const d = m.dim;
    const hidden = Math.floor((m.mlpRatio ?? 4) * d);
    const block = 2 * 2 * d + linear(d, 3 * d) + linear(d, d) + linear(d, hidden) + linear(hidden, d);
    return embed + d /* cls */ + (patches + 1) * d /* position */ + m.depth * block + headParams(d, numClasses);
  },
  formDefaults: { kind: 'vit', patchSize: 7, dim: 32, depth: 4, numHeads: 2, mlpRatio: 4 },
  formFields: [...PATCH_FIELDS, { label: 'heads', key: 'numHeads', type: 'number', step: '1', min: '1' }, { label: 'MLP ratio', key: 'mlpRatio', type: 'number' }],
};

/** The Mixer's hidden widths: token mixing (across patches) and channel mixing. */
function mixerHidden(m: MixerSpec) {
  return { tokensHidden: Math.floor((m.tokenMlpRatio ?? 0.5) * m.dim), channelsHidden: Math.floor((m.channelMlpRatio ?? 4) * m.dim) };
}

const mixer: ModelKind<MixerSpec> = {
  label: 'MLP-Mixer',
  name: 'Mixer',
  keys: ['kind', 'patchSize', 'dim', 'depth', 'tokenMlpRatio', 'channelMlpRatio'],
  ...PATCH_KIND,
  check: (v, m) => checkPatchModel(v, m, ['tokenMlpRatio', 'channelMlpRatio'], () => {}),
  checkSizes(v, m, side, batchSize) {
    const tokens = patchTokens(v, m, side);
    if (tokens === undefined) return;
    const { tokensHidden, channelsHidden } = mixerHidden(m);
    v.elements(`${v.path}.tokenMlpRatio`, tokens * tokensHidden, `${tokens} tokens × ${tokensHidden} (the token-mixing weight)`);
    v.elements('batchSize', batchSize * tokens * Math.max(channelsHidden, m.dim), `${batchSize} images × ${tokens} tokens × ${Math.max(channelsHidden, m.dim)} (one activation)`);
    v.elements('batchSize', batchSize * m.dim * tokensHidden, `${batchSize} images × ${m.dim} channels × ${tokensHidden} (one activation)`);
  },
  quick: quickPatchModel,
  build: (m, { numClasses, channels, imageSize }, seed) =>
    new MLPMixer({
      imageSize, patchSize: m.patchSize, inChannels: channels, numClasses, dim: m.dim, depth: m.depth,
      tokenMlpRatio: m.tokenMlpRatio, channelMlpRatio: m.channelMlpRatio, seed,
    }),
  describe: (m) => `MLP-Mixer, patch ${m.patchSize}, dim ${m.dim}, depth ${m.depth}, token-MLP ratio ${m.tokenMlpRatio ?? 0.5}, channel-MLP ratio ${m.channelMlpRatio ?? 4}`,
  brief: (m) => `Mixer patch ${m.patchSize}, dim ${m.dim}, depth ${m.depth}`,
  forwardMacsPerImage(m, imageSize, channels, numClasses) {
    const { patches, macs: embed } = patchEmbedding(m, imageSize, channels);
    const { tokensHidden, channelsHidden } = mixerHidden(m);
    // Token mixing: per channel T -> tokensHidden -> T; channel mixing: per token d -> channelsHidden -> d.
    const block = m.dim * 2 * patches * tokensHidden + patches * 2 * m.dim * channelsHidden;
    return embed + m.depth * block + m.dim * numClasses;
  },
  parameterCount(m, imageSize, channels, numClasses) {
    const { patches, params: embed } = patchEmbedding(m, imageSize, channels);
    const d = m.dim;
    const { tokensHidden, channelsHidden } = mixerHidden(m);
    const block = 2 * 2 * d + linear(patches, tokensHidden) + linear(tokensHidden, patches) + linear(d, channelsHidden) + linear(channelsHidden, d);
    return embed + m.depth * block + headParams(d, numClasses);
  },
  formDefaults: { kind: 'mixer', patchSize: 7, dim: 32, depth: 4, tokenMlpRatio: 0.5, channelMlpRatio: 4 },
  formFields: [...PATCH_FIELDS, { label: 'token-MLP ratio', key: 'tokenMlpRatio', type: 'number' }, { label: 'channel-MLP ratio', key: 'channelMlpRatio', type: 'number' }],
};

/** Every model kind, by its `kind` (the order of the form's menu and of validation's "expected one of"). */
export const MODEL_KINDS: { readonly [K in ModelKindName]: ModelKind<Extract<ModelSpec, { kind: K }>> } = { mlp, vit, mixer };
export const MODEL_KIND_NAMES = Object.keys(MODEL_KINDS) as ModelKindName[];

/** The kind of a (validated) model spec. */
export function modelKind(m: ModelSpec): ModelKind {
  // Each entry takes its own spec type; m.kind picks the entry of m's type.
  return MODEL_KINDS[m.kind] as unknown as ModelKind;
}

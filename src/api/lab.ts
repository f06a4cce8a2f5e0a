/// <reference types="@webgpu/types" preserve="true" />
/// <reference lib="esnext.disposable" preserve="true" />
/**
 * `wgtrain/lab`: what the experiments are built from. Datasets (IDX / Fashion-MNIST readers,
 * seeded synthetic images, GPU-resident datasets with a resumable order and GPU augmentation), the
 * `Trainer`, checkpoints and the paper's gradient analyses. Functions that read files
 * (`loadIdxFile`, `loadFashionMnist`, ...) need Node; they load node:fs only
 * when called, so a browser bundle that imports this entry still builds.
 *
 * @module wgtrain/lab
 */
export {
  // data
  makeSyntheticImages,
  loadFashionMnist,
  fetchFashionMnist,
  fashionMnistFromBytes,
  fashionMnistDir,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_FILES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  FASHION_MNIST_DIR_ENV,
  DEFAULT_FASHION_MNIST_DIR,
  decodeIdx,
  loadIdxFile,
  parseIdx,
  gunzipBytes,
  isGzip,
  IDX_MAX_BYTES,
  bytesToUnitFloats,
  classCounts,
  sampleSize,
  GpuDataset,
  BatchSampler,
  batchesPerEpoch,
  epochPermutation,
  augmentImages,
  resolveAugment,
  isIdentityAugment,
  MAX_AUGMENT_SHIFT,
  type SyntheticImagesOptions,
  type FashionMnistOptions,
  type FashionMnistBytes,
  type IdxArray,
  type IdxKind,
  type IdxReadOptions,
  type ImageClassificationDataset,
  type ImageSplit,
  type GpuDatasetOptions,
  type BatchSamplerOptions,
  type Batch,
  type TrainBatch,
  type EvalBatch,
  type SamplerState,
  type DataPosition,
  type AugmentOptions,
  type AugmentCallOptions,
  type ResolvedAugment,
  // training
  Trainer,
  type TrainerOptions,
  type TrainerState,
  type TrainableModel,
  type StepMetrics,
  type EvalResult,
  // checkpoints
  saveCheckpoint,
  loadCheckpoint,
  CheckpointIntegrityError,
  type LoadCheckpointOptions,
  // gradient analyses
  measure,
  fullGradient,
  miniBatchGradient,
  gradientDirectionStats,
  DirectionAccumulator,
  flattenGrads,
  flattenParams,
  paramCount,
  type MeasureOptions,
  type GradientOptions,
  type FullGradientOptions,
  type DirectionStats,
} from '../lab/index.js';
export type { MetricPoint } from '../lab/experiment/types.js';

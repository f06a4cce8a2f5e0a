/// <reference types="@webgpu/types" preserve="true" />
/// <reference lib="esnext.disposable" preserve="true" />
/**
 * `wgtrain/optim`, PyTorch's `torch.optim` and its schedulers: the fused AdamW and SGD kernels,
 * and the learning-rate and drop-rate schedules of the paper (none / standard / early / late,
 * constant / linear).
 *
 * @module wgtrain/optim
 */
export {
  Optimizer,
  AdamW,
  SGD,
  type AdamWOptions,
  type SGDOptions,
  type OptimizerEntry,
  type OptimizerMeta,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupSpec,
  type ParamList,
  type StateValue,
  // schedules
  lrSchedule,
  learningRateAt,
  learningRateSchedule,
  dropSchedule,
  dropRateAt,
  dropRateSchedule,
  stochasticDepthRate,
  DROP_MODES,
  DROP_SHAPES,
  type DropMode,
  type DropShape,
  type DropSchedule,
  type DropScheduleConfig,
  type LrSchedule,
  type LrScheduleConfig,
} from '../nn/index.js';

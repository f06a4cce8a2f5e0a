/// <reference types="@webgpu/types" preserve="true" />
/// <reference lib="esnext.disposable" preserve="true" />
/**
 * `wgtrain/nn`, PyTorch's `torch.nn` and `torch.nn.init`: Module and Parameter, the layers, the
 * models of the lab (MLP, ViT, MLP-Mixer), weight initialisation, metrics and safetensors files.
 *
 * @module wgtrain/nn
 */
export {
  // modules
  Module,
  Parameter,
  Sequential,
  type ParameterOptions,
  // layers
  Linear,
  LayerNorm,
  VIT_LAYER_NORM_EPS,
  GELU,
  Dropout,
  DropPath,
  MultiHeadSelfAttention,
  Mlp,
  Block,
  PatchEmbed,
  ModuleList,
  type LinearLayerOptions,
  type LayerNormOptions,
  type GeluModuleOptions,
  type AttentionOptions,
  type MlpOptions,
  type MlpActivation,
  type BlockOptions,
  type PatchEmbedOptions,
  type PatchGrid,
  // models
  Classifier,
  MLP,
  ViT,
  MLPMixer,
  MixerBlock,
  type MLPOptions,
  type ViTOptions,
  type MLPMixerOptions,
  type MixerBlockOptions,
  // init
  truncNormal,
  truncNormalArray,
  zerosInit,
  onesInit,
  TRUNC_NORMAL_STD,
  type TruncNormalOptions,
  // metrics
  accuracy,
  countCorrect,
  // safetensors
  parseSafetensors,
  serializeSafetensors,
  readSafetensorsFile,
  writeSafetensorsFile,
  SAFETENSORS_DTYPES,
  type SafetensorsArray,
  type SafetensorsContents,
  type SafetensorsDType,
  type SafetensorsTensor,
} from '../nn/index.js';

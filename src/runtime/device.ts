/**
 * Device acquisition: the browser's `navigator.gpu`, Node's `webgpu` package (Dawn), or a GPU
 * object the caller already has. Everything else in the runtime gets the device from here.
 */
import { envVar, isNode } from './env.js';

export interface InitOptions {
  /** A `GPU` object to use instead of discovering one (e.g. `create([...])` from `webgpu`). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /**
   * Optional features to request when the adapter has them. Default: shader-f16, subgroups,
   * timestamp-query, chromium-experimental-subgroup-matrix. Missing ones are skipped silently and reported by `adapterReport()`.
   */
  optionalFeatures?: GPUFeatureName[];
  /**
   * Node only: flags passed to Dawn's `create()`, e.g. `enable-dawn-features=allow_unsafe_apis`.
   * Default: WGTRAIN_DAWN_FLAGS (see dawnFlagsFromEnv), else none.
   */
  dawnFlags?: string[];
}

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for a software rasteriser such as SwiftShader (by name; Dawn does not always say). */
  software: boolean;
  adapterFeatures: string[];
  /** The features the device was created with. */
  enabledFeatures: string[];
  limits: Record<string, number>;
  runtime: 'browser' | 'node';
}

export interface DeviceContext {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
  /** Set once the device is lost; every later GPU call throws it. */
  lost: Error | null;
  /** First uncaptured WebGPU error since the last check (a wgtrain bug if it ever fires). */
  uncaptured: Error | null;
  /** Set by shutdown() so that the resulting 'destroyed' loss is reported as a shutdown. */
  shuttingDown: boolean;
}

// 'subgroups' and the subgroup-matrix feature (tensor cores from WGSL, src/nn/functional/matmul/tensorcore.ts)
// are newer than some @webgpu/types versions, hence the cast. Dawn offers the experimental one only
// under its unsafe-APIs flag (see dawnFlagsFromEnv).
const DEFAULT_OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'] as GPUFeatureName[];

/**
 * Node: Dawn `create()` flags from WGTRAIN_DAWN_FLAGS (whitespace-separated; a flag may contain
 * commas, e.g. `enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia`, which is what
 * makes Dawn offer shader-f16 and chromium-experimental-subgroup-matrix on NVIDIA). Unset: none.
 */
export function dawnFlagsFromEnv(): string[] {
  const text = envVar('WGTRAIN_DAWN_FLAGS');
  return text ? text.split(/\s+/).filter(Boolean) : [];
}

export class WebGPUUnavailableError extends Error {
  override name = 'WebGPUUnavailableError';
}

async function discoverGpu(options: InitOptions): Promise<GPU> {
  if (options.gpu) return options.gpu;
  if (typeof navigator !== 'undefined' && (navigator as Navigator).gpu) return (navigator as Navigator).gpu;
  if (isNode) {
    // A variable specifier keeps browser bundlers from trying to bundle the native addon.
    const pkg = 'webgpu';
    let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
    try {
      mod = await import(/* @vite-ignore */ pkg);
    } catch (e) {
      throw new WebGPUUnavailableError(
        `WebGPU is not available in Node: the 'webgpu' package (Dawn for Node) could not be loaded ` +
          `(${(e as Error).message}). Install it with 'npm install webgpu' (linux-x64, macOS, Windows), ` +
          `or pass init({ gpu }) with a GPU object of your own.`,
      );
    }
    // tfjs and user code expect the WebGPU constants (GPUBufferUsage, ...) as globals.
    for (const [k, v] of Object.entries(mod.globals)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    return mod.create(options.dawnFlags ?? dawnFlagsFromEnv());
  }
  const secure = typeof window !== 'undefined' ? window.isSecureContext : true;
  throw new WebGPUUnavailableError(
    'WebGPU is not available in this browser (navigator.gpu is undefined). ' +
      (secure
        ? 'Use Chrome or Edge 113+ (or Firefox 141+, Safari 26+); on Linux start Chrome with ' +
          '--enable-unsafe-webgpu --enable-features=Vulkan, or enable chrome://flags/#enable-unsafe-webgpu.'
        : 'This page is not a secure context: serve it over https or from http://localhost / 127.0.0.1.'),
  );
}

function noAdapterMessage(): string {
  if (isNode) {
    return (
      'WebGPU found no adapter. On a machine without a GPU, install a software Vulkan driver and point ' +
      "Dawn at it: 'apt-get install chromium libvulkan1' then " +
      'VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json. On a GPU server install the vendor ' +
      'Vulkan driver (e.g. NVIDIA: VK_DRIVER_FILES=.../nvidia_icd.json).'
    );
  }
  return (
    'WebGPU found no adapter: the GPU may be blocklisted. In Chrome open chrome://gpu; on Linux try ' +
    '--enable-unsafe-webgpu --enable-features=Vulkan (headless: add --use-vulkan=swiftshader ' +
    '--use-webgpu-adapter=swiftshader for the software adapter).'
  );
}

function limitsObject(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // Dawn exposes limits as prototype getters, so Object.keys() sees nothing.
  for (let proto = limits; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const v = (limits as unknown as Record<string, unknown>)[key];
      if (typeof v === 'number' && !(key in out)) out[key] = v;
    }
  }
  return out;
}

export async function acquireDevice(options: InitOptions = {}): Promise<DeviceContext> {
  const gpu = await discoverGpu(options);
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new WebGPUUnavailableError(noAdapterMessage());

  const wanted = options.optionalFeatures ?? DEFAULT_OPTIONAL_FEATURES;
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  // Ask for the adapter's own limits where they exceed the defaults the kernels care about.
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });

  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  const report: AdapterReport = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: /swiftshader|llvmpipe|lavapipe|software|basic render/.test(text) || (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true,
    adapterFeatures: [...adapter.features].sort(),
    enabledFeatures: [...device.features].sort(),
    limits: limitsObject(device.limits),
    runtime: isNode ? 'node' : 'browser',
  };

  const ctx: DeviceContext = { gpu, adapter, device, report, lost: null, uncaptured: null, shuttingDown: false };
  device.lost.then((info) => {
    ctx.lost = new Error(
      ctx.shuttingDown
        ? 'The wgtrain device was shut down (shutdown() was called); call init() again to keep working.'
        : `The WebGPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''}). Call init() again to get a new device; tensors from the lost one cannot be used.`,
    );
  });
  device.addEventListener('uncapturederror', (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    ctx.uncaptured ??= new Error(`Internal WebGPU error (a bug in wgtrain, please report it): ${err.message}`);
  });
  return ctx;
}

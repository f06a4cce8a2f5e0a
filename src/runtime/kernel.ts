/**
 * Kernels: a WGSL file from shaders/ plus a defines object gives a compiled compute pipeline.
 *
 * A shader file may hold `${NAME}` placeholders. They are filled from the defines object by calling
 * wgsl-preprocessor's `wgsl` tag with the file split at each placeholder, so `#if ${HAS_BIAS}`
 * selects code and `const TILE = ${TILE}u;` inlines a value. Pipelines are cached by kernel name,
 * entry point and the full defines object (which includes workgroup configuration).
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

export type DefineValue = boolean | number | string;
export type Defines = Record<string, DefineValue>;

export interface Kernel {
  /** Shader file name without extension, e.g. 'matmul'; used in labels and error messages. */
  name: string;
  source: string;
  /** Placeholder names found in the file, checked against the defines on every compile. */
  placeholders: string[];
}

const PLACEHOLDER = /\$\{(\w+)\}/g;

/**
 * `includes` pastes shared WGSL (another file's text, e.g. shaders/philox.wgsl) in place of a
 * `${NAME}` placeholder once, when the kernel is defined: WGSL has no #include of its own.
 */
export function defineKernel(name: string, source: string, includes: Record<string, string> = {}): Kernel {
  let text = source;
  for (const [key, snippet] of Object.entries(includes)) {
    if (!text.includes(`\${${key}}`)) throw new Error(`wgtrain internal: shaders/${name}.wgsl has no \${${key}} to include`);
    text = text.split(`\${${key}}`).join(snippet);
  }
  const placeholders = [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))];
  return { name, source: text, placeholders };
}

/** Expands a kernel's placeholders and #if blocks; exported so tests can look at the generated WGSL. */
export function preprocess(kernel: Kernel, defines: Defines): string {
  const strings: string[] = [];
  const values: DefineValue[] = [];
  let last = 0;
  for (const m of kernel.source.matchAll(PLACEHOLDER)) {
    const key = m[1];
    if (!(key in defines)) {
      throw new Error(`wgtrain internal: shaders/${kernel.name}.wgsl needs a value for \${${key}} (got ${Object.keys(defines).join(', ') || 'no defines'})`);
    }
    strings.push(kernel.source.slice(last, m.index));
    values.push(defines[key]);
    last = m.index! + m[0].length;
  }
  strings.push(kernel.source.slice(last));
  const tsa = Object.assign(strings.slice(), { raw: strings.slice() }) as unknown as TemplateStringsArray;
  return wgsl(tsa, ...values);
}

export function cacheKey(kernel: Kernel, entry: string, defines: Defines): string {
  const keys = Object.keys(defines).sort();
  return `${kernel.name}:${entry}:${keys.map((k) => `${k}=${defines[k]}`).join(',')}`;
}

export class PipelineCache {
  private pipelines = new Map<string, GPUComputePipeline>();
  constructor(private device: GPUDevice) {}

  get(kernel: Kernel, defines: Defines, entry = 'main'): GPUComputePipeline {
    const key = cacheKey(kernel, entry, defines);
    let p = this.pipelines.get(key);
    if (!p) {
      const code = preprocess(kernel, defines);
      const module = this.device.createShaderModule({ code, label: `shaders/${kernel.name}.wgsl` });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: entry }, label: key });
      this.pipelines.set(key, p);
    }
    return p;
  }

  get size(): number {
    return this.pipelines.size;
  }
}

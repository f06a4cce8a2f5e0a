/**
 * Kernels: a WGSL file plus a defines object gives a compiled compute pipeline.
 *
 * A shader file may hold `${NAME}` placeholders. They are filled from the defines object by calling
 * wgsl-preprocessor's `wgsl` tag with the file split at each placeholder, so `#if ${HAS_BIAS}`
 * selects code and `const TILE = ${TILE}u;` inlines a value. Pipelines are cached by kernel name,
 * entry point and the full defines object (which includes workgroup configuration).
 *
 * Shared WGSL. WGSL has no #include: a kernel names the shared files it pastes in (`includes`),
 * each at a placeholder of its own, once, when the kernel is defined. A shared file that is pasted
 * more than once with different names or types in it (the tile loads for operands a and b, gelu on
 * f32 and on vec4f) leaves those as placeholders of its own, bound per use by `snippet()`.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { parseParamsStruct, type ParamsField } from './params.js';

export type DefineValue = boolean | number | string;
export type Defines = Record<string, DefineValue>;

export interface Kernel {
  /** Kernel name, e.g. 'matmul'; used in pipeline labels, cache keys and error messages. */
  name: string;
  /** Where the WGSL lives, for messages: `shaders/<name>.wgsl` unless the kernel says otherwise. */
  file: string;
  source: string;
  /** Placeholder names found in the file, checked against the defines on every compile. */
  placeholders: string[];
}

const PLACEHOLDER = /\$\{(\w+)\}/g;

/** Replaces each `${KEY}` of `text` with `values[KEY]`; every key must occur (the error names `file` and `why`). */
function substitute(text: string, values: Record<string, string>, file: string, why: string): string {
  let out = text;
  for (const [key, value] of Object.entries(values)) {
    if (!out.includes(`\${${key}}`)) throw new Error(`wgtrain internal: ${file} has no \${${key}} ${why}`);
    out = out.split(`\${${key}}`).join(value);
  }
  return out;
}

/**
 * A shared WGSL file with its own placeholders bound for one use, e.g.
 * `snippet('tile_load.wgsl', src, { OPERAND: 'a', OPERAND_VEC4: '${A_VEC4}' })`: a bound value may be
 * another placeholder, which the including kernel's defines then fill.
 */
export function snippet(file: string, source: string, bindings: Record<string, string>): string {
  return substitute(source, bindings, file, 'to bind');
}

/**
 * `includes` pastes shared WGSL (another file's text, e.g. shaders/philox.wgsl, or a `snippet()`)
 * in place of a `${NAME}` placeholder once, when the kernel is defined. `file` is where the kernel's
 * WGSL lives (default `shaders/<name>.wgsl`).
 */
export function defineKernel(name: string, source: string, includes: Record<string, string> = {}, file = `shaders/${name}.wgsl`): Kernel {
  const text = substitute(source, includes, file, 'to include');
  const placeholders = [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))];
  return { name, file, source: text, placeholders };
}

/** Expands a kernel's placeholders and #if blocks; exported so tests can look at the generated WGSL. */
export function preprocess(kernel: Kernel, defines: Defines): string {
  const strings: string[] = [];
  const values: DefineValue[] = [];
  let last = 0;
  for (const m of kernel.source.matchAll(PLACEHOLDER)) {
    const key = m[1];
    if (!(key in defines)) {
      throw new Error(`wgtrain internal: ${kernel.file} needs a value for \${${key}} (got ${Object.keys(defines).join(', ') || 'no defines'})`);
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

/** A compiled pipeline and what the engine checks its first uniforms against. */
export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  /** Names the kernel variant in errors: its file, entry point and cache key. */
  label: string;
  /** The variant's `struct Params` fields (null: it has none). */
  params: ParamsField[] | null;
  /** Set once a dispatch's `Params` matched `params`; later dispatches are not checked again. */
  paramsChecked: boolean;
  /** Its place in the cache (0, 1, ...): names the variant in the engine's work signatures. */
  index: number;
}

export class PipelineCache {
  private pipelines = new Map<string, CachedPipeline>();
  constructor(private device: GPUDevice) {}

  /** The cached pipeline of a variant, compiled on first use. */
  entry(kernel: Kernel, defines: Defines, entry = 'main'): CachedPipeline {
    const key = cacheKey(kernel, entry, defines);
    let p = this.pipelines.get(key);
    if (!p) {
      const code = preprocess(kernel, defines);
      const label = `${kernel.file} (entry ${entry}; ${key})`;
      const params = parseParamsStruct(code, label);
      const module = this.device.createShaderModule({ code, label: kernel.file });
      const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: entry }, label: key });
      p = { pipeline, label, params, paramsChecked: false, index: this.pipelines.size };
      this.pipelines.set(key, p);
    }
    return p;
  }

  get(kernel: Kernel, defines: Defines, entry = 'main'): GPUComputePipeline {
    return this.entry(kernel, defines, entry).pipeline;
  }

  get size(): number {
    return this.pipelines.size;
  }
}

/**
 * Kernel plumbing shared by every module that dispatches a kernel (ops, optimizers, data
 * augmentation, benchmarks): the uniform block builder `Params`, the element-parallel grid
 * `grid1d`, and `MAX_RANK`.
 *
 * Uniform layout check. A `Params` records each field's name and type as it packs it
 * (`.u32('M', M)`), and `checkParamsLayout` compares that list with the shader's `struct Params`
 * (parsed from the preprocessed WGSL by `parseParamsStruct`): count, order, names, types and
 * offsets. The engine runs the check on the first dispatch of each pipeline that gets a `Params`,
 * so a builder that drifts from its shader is an error naming the kernel and the field instead of
 * a kernel that silently reads the wrong words. Fields whose WGSL name starts with `_` are padding:
 * the host writes them with `.pad()`.
 */

/** Tensors of higher rank are not supported: `dims()` packs this many u32s (two vec4u). */
export const MAX_RANK = 8;

/** One uniform field: its WGSL name (null: padding), type as WGSL spells it, byte offset. */
export interface ParamsField {
  name: string | null;
  type: string;
  offset: number;
}

/** The WGSL type `dims()` writes: MAX_RANK u32s as vec4s. */
const DIMS_TYPE = `array<vec4u,${MAX_RANK / 4}>`;
const BLOCK_BYTES = 256;

/**
 * Packs a uniform block, one named field at a time in the order of the shader's `struct Params`.
 * Scalars take 4 bytes; `dims()` writes MAX_RANK u32s (WGSL `array<vec4u, 2>`, read as
 * `params.shape[k / 4u][k % 4u]`) padded with `fill`, aligned to 16 bytes.
 */
export class Params {
  private view = new DataView(new ArrayBuffer(BLOCK_BYTES));
  private offset = 0;
  // Parallel lists (no object per field): what checkParamsLayout compares with the shader.
  private names: (string | null)[] = [];
  private types: string[] = [];
  private offsets: number[] = [];

  private field(name: string | null, type: string, bytes: number): number {
    if (this.offset + bytes > BLOCK_BYTES) throw new Error(`wgtrain internal: uniform field '${name ?? '_pad'}' passes the ${BLOCK_BYTES}-byte uniform block`);
    const at = this.offset;
    this.names.push(name);
    this.types.push(type);
    this.offsets.push(at);
    this.offset += bytes;
    return at;
  }

  u32(name: string, v: number): this {
    this.view.setUint32(this.field(name, 'u32', 4), v >>> 0, true);
    return this;
  }

  i32(name: string, v: number): this {
    this.view.setInt32(this.field(name, 'i32', 4), v | 0, true);
    return this;
  }

  f32(name: string, v: number): this {
    this.view.setFloat32(this.field(name, 'f32', 4), v, true);
    return this;
  }

  /** `count` zero u32s: the shader's padding fields (`_pad0: u32`, ...). */
  pad(count = 1): this {
    for (let i = 0; i < count; i++) this.view.setUint32(this.field(null, 'u32', 4), 0, true);
    return this;
  }

  dims(name: string, values: readonly number[], fill = 1): this {
    if (values.length > MAX_RANK) throw new Error(`tensors of rank over ${MAX_RANK} are not supported (got rank ${values.length})`);
    this.offset = Math.ceil(this.offset / 16) * 16;
    const at = this.field(name, DIMS_TYPE, MAX_RANK * 4);
    for (let i = 0; i < MAX_RANK; i++) this.view.setUint32(at + 4 * i, (i < values.length ? values[i] : fill) >>> 0, true);
    return this;
  }

  /** The packed bytes (at least 16, a multiple of 16), as a view of this builder's buffer. */
  view16(): Uint8Array {
    return new Uint8Array(this.view.buffer, 0, Math.max(16, Math.ceil(this.offset / 16) * 16));
  }

  /** A copy of the packed bytes. */
  bytes(): ArrayBuffer {
    return this.view16().slice().buffer;
  }

  /** The fields packed so far, in order. */
  layout(): ParamsField[] {
    return this.names.map((name, i) => ({ name, type: this.types[i], offset: this.offsets[i] }));
  }
}

/**
 * Workgroup grid for `n` independent items and `wg` threads per workgroup, spilling into y when
 * x would pass the 65535 limit. Shaders compute the item as `gid.x + gid.y * (nwg.x * WG)`.
 */
export function grid1d(n: number, wg = 256): [number, number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}

// ---- the shader side ----

/** Size and alignment of the WGSL types uniform blocks use (WGSL's memory layout rules). */
function typeLayout(type: string): { size: number; align: number } | null {
  if (/^(u32|i32|f32)$/.test(type)) return { size: 4, align: 4 };
  const vec = /^vec([234])(?:<(?:u32|i32|f32)>|[uif])$/.exec(type);
  if (vec) {
    const n = Number(vec[1]);
    return { size: 4 * n, align: n === 2 ? 8 : 16 };
  }
  const arr = /^array<(.+),(\d+)u?>$/.exec(type);
  if (arr) {
    const el = typeLayout(arr[1]);
    if (!el) return null;
    const align = Math.max(el.align, 16); // uniform address space: array elements 16-byte aligned
    const stride = Math.ceil(el.size / align) * align;
    return { size: stride * Number(arr[2]), align };
  }
  return null;
}

/** `vec4<u32>` and `vec4u` are one type: compare in the short spelling, without blanks. */
function normalizeType(type: string): string {
  return type.replace(/\s+/g, '').replace(/vec([234])<(u32|i32|f32)>/g, (_m, n: string, t: string) => `vec${n}${t[0]}`);
}

/**
 * The fields of `struct Params` in preprocessed WGSL with their byte offsets, or null when the
 * shader has no such struct. `label` names the shader in errors.
 */
export function parseParamsStruct(wgsl: string, label: string): ParamsField[] | null {
  const code = wgsl.replace(/\/\/[^\n]*/g, '');
  const m = /\bstruct\s+Params\s*\{([^}]*)\}/.exec(code);
  if (!m) return null;
  const fields: ParamsField[] = [];
  let offset = 0;
  // name: type, where a type may hold commas inside <...> (array<vec4u, 2>).
  for (const f of m[1].matchAll(/([@\w]+)\s*:\s*((?:[^,<]|<(?:[^<>]|<[^<>]*>)*>)+)/g)) {
    const name = f[1];
    const type = normalizeType(f[2]);
    const layout = typeLayout(type);
    if (name.startsWith('@') || !layout) {
      throw new Error(`wgtrain internal: ${label}: struct Params field '${name}' has a type or attribute the layout check does not know (${f[2].trim()})`);
    }
    offset = Math.ceil(offset / layout.align) * layout.align;
    fields.push({ name, type, offset });
    offset += layout.size;
  }
  return fields;
}

/**
 * Throws, naming the kernel and the first field that differs, unless the host's fields (from a
 * `Params`) are the shader's, in the same order, with the same types and offsets. Host padding
 * (`pad()`) matches a shader u32 whose name starts with `_`.
 */
export function checkParamsLayout(label: string, host: readonly ParamsField[], shader: readonly ParamsField[] | null): void {
  const fail = (why: string): never => {
    throw new Error(`wgtrain internal: ${label}: the uniforms packed on the host do not match the shader's struct Params: ${why}`);
  };
  const show = (f: ParamsField) => `'${f.name ?? '_pad'}' (${f.type}, offset ${f.offset})`;
  if (!shader) fail(`the shader has no struct Params, but the host packed ${host.length} fields`);
  const s = shader!;
  for (let i = 0; i < Math.max(host.length, s.length); i++) {
    const h = host[i];
    const w = s[i];
    if (!h) fail(`the host packs ${host.length} fields and stops before field ${i}, ${show(w)}`);
    if (!w) fail(`the struct has ${s.length} fields; the host packs more, from field ${i}, ${show(h)}`);
    const padding = h.name === null;
    if (padding ? !w.name!.startsWith('_') : h.name !== w.name) {
      fail(`field ${i} is ${show(w)} in the shader but the host packs ${show(h)} there`);
    }
    if (h.type !== w.type || h.offset !== w.offset) fail(`field ${i} is ${show(w)} in the shader but ${show(h)} on the host`);
  }
}

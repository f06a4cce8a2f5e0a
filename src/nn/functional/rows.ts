/**
 * Launch geometry shared by the row-wise kernels (softmax, cross_entropy, layer_norm), which run
 * one workgroup per row and reduce inside it. Internal: not re-exported by the functional index.
 */

const MAX_GROUPS_PER_DIM = 65535;

/** Grid for one workgroup per row; shaders read the row as `wid.x + wid.y * nwg.x`. */
export function rowGrid(rows: number): [number, number, number] {
  if (rows <= MAX_GROUPS_PER_DIM) return [rows, 1, 1];
  const y = Math.ceil(rows / MAX_GROUPS_PER_DIM);
  return [Math.ceil(rows / y), y, 1];
}

/**
 * Threads per row workgroup: a power of two (for the tree reduction) that leaves each thread a few
 * elements, at most 256 (WebGPU's default limit on invocations per workgroup).
 */
export function rowWorkgroupSize(len: number): number {
  if (len <= 64) return 32;
  if (len <= 256) return 64;
  if (len <= 1024) return 128;
  return 256;
}

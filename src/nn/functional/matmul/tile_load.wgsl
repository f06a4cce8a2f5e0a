// Tile loads shared by matmul.wgsl and matmul_subgroup_matrix.wgsl. Not a kernel on its own: each
// kernel includes it once per operand (see snippet() in src/runtime/kernel.ts), with OPERAND bound
// to the operand's storage buffer (a or b, which gives load_a / load_b) and OPERAND_VEC4 to the
// kernel's A_VEC4 / B_VEC4 (the buffer is array<vec4f>, not array<f32>).

// Four consecutive elements of a row-major [rows, cols] matrix at element offset `base`, starting at
// (row, col) and running along the contiguous dimension; zeros past the edges.
fn load_${OPERAND}(base: u32, row: u32, col: u32, rows: u32, cols: u32) -> vec4f {
  if (row >= rows || col >= cols) { return vec4f(0.0); }
#if ${OPERAND_VEC4}
  // cols and base are multiples of 4, and so is col: the vec4 lies wholly inside the row.
  return ${OPERAND}[(base + row * cols + col) / 4u];
#else
  let i = base + row * cols + col;
  var v = vec4f(${OPERAND}[i], 0.0, 0.0, 0.0);
  if (col + 1u < cols) { v.y = ${OPERAND}[i + 1u]; }
  if (col + 2u < cols) { v.z = ${OPERAND}[i + 2u]; }
  if (col + 3u < cols) { v.w = ${OPERAND}[i + 3u]; }
  return v;
#endif
}

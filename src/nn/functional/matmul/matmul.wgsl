// Matrix multiplication and the two small kernels its backward pass needs. One MODE_* define picks
// the entry point's bindings:
//
//   MODE_MATMUL      main: C[z] = act(sum_r opA(A[z, r]) @ opB(B[z, r]) + bias)
//   MODE_ACT_GRAD    activation_grad: dz = dy * act'(s), s the saved pre-activation (or, for relu,
//                    the output: relu'(z) = [y > 0] too)
//   MODE_COLUMN_SUM  column_sum: partial column sums of a row-major [rows, cols] matrix (bias grad)
//
// Matmul layout. opA is [M, K]: A is stored row-major [M, K], or [K, M] with TRANS_A. opB is [K, N]:
// B is stored [K, N], or [N, K] with TRANS_B. Backward passes use the transposed variants instead
// of materialising a transpose. C is a fresh contiguous [batch, M, N].
//
// Batches. workgroup_id.z (plus batch_offset, for batch counts over the 65535 dispatch limit) is the
// flat index over the output's batch dimensions ("outer" dims); A's and B's batch offsets come from
// per-dimension strides, 0 where an operand is broadcast. "Reduce" dims are batch dimensions the
// output does not have: the kernel sums over them as if they extended K. Forward matmul has none;
// the gradient of a broadcast operand (dB for [2,3,5,6] @ [6,4]) sums over them in the same pass.
//
// Tiling. A workgroup of (TILE_N / THREAD_N) x (TILE_M / THREAD_M) threads computes a TILE_M x TILE_N
// block of C; each thread owns a THREAD_M x THREAD_N register block (each 4 or 8; TM8 / TN8 say
// which is 8). The registers are named variables, not an array: SwiftShader keeps a runtime-indexed
// local array in memory, which made the loop three times slower. Per step
// of TILE_K, the workgroup stages opA's tile in As as [k][m] and opB's in Bs as [k][n] (both vec4
// along m / n), so the inner loop is THREAD_M / 4 + THREAD_N / 4 vec4 loads from shared memory and
// THREAD_M x THREAD_N FMAs, an outer product. A thread's row groups of 4 are strided by the
// workgroup's height (groups ty, ty + WG_Y, ...) and its column groups by its width, so neighbouring
// threads read neighbouring vec4s of As / Bs and write neighbouring vec4s of C. Every variant adds
// the products of one output element in the same order (k = 0, 1, ..., K - 1, reduce dims outermost),
// so all tile shapes give bit-identical results.
// Global loads go along each operand's contiguous dimension, four elements per thread-load; with
// A_VEC4 / B_VEC4 (contiguous dimension a multiple of 4) they are single vec4 loads. Edge tiles load
// zeros past M, N, K, so any size works; stores are bounds-checked. C_VEC4 (N a multiple of 4)
// stores vec4 rows.
//
// Prefetch (GPUs). Without it a step loads its tiles from global memory, waits at a barrier, then
// multiplies: the loads' latency is exposed once per step. PREFETCH issues step t + 1's global
// loads into registers (Staged: each thread's A_LOADS + B_LOADS vec4s) before multiplying step t's
// tile, and writes them to workgroup memory after the multiply and a barrier, so the latency hides
// behind the FMAs. DOUBLE_BUFFER (implies PREFETCH) keeps two halves of As / Bs: step t multiplies
// one half and then writes step t + 1's registers into the other, which every thread finished
// reading at the previous step's barrier, so one barrier per step suffices instead of two. Only the
// timing of the loads changes, never the products or the order they are added in.
//
// Precision. ROUND_F16 (setFloat32MatmulPrecision('medium')) rounds every operand element to the
// nearest f16 (ties to even) as it is staged, then multiplies and accumulates in f32: the numerics
// of f16 tensor cores, on any adapter and without shader-f16. pack2x16float is indeterminate for
// values outside the f16 range, so to_f16_grid handles them itself, as an IEEE conversion would:
// |v| >= 65520 becomes inf with v's sign, inf stays inf and NaN stays NaN.
//
// Epilogue (linear): HAS_BIAS adds bias[n]; ACT_* applies the activation; SAVE_PREACT also writes
// the pre-activation to a second output, bound right after the bias (PREACT_BINDING is 5 with a
// bias, else 4).

#if ${QUAD}
enable subgroups;
// quadBroadcast runs behind a branch on quad_ok, which is the same in all four lanes of a quad (see
// the direct kernel) but not provably so for the compiler's uniformity analysis.
diagnostic(off, subgroup_uniformity);
#endif

const TILE_M = ${TILE_M}u;
const TILE_N = ${TILE_N}u;
const TILE_K = ${TILE_K}u;
const THREAD_M = select(4u, 8u, ${TM8});
const THREAD_N = select(4u, 8u, ${TN8});
const WG_X = TILE_N / THREAD_N;
const WG_Y = TILE_M / THREAD_M;
const THREADS = WG_X * WG_Y;

// Tiles in vec4 units.
const A_UNITS = TILE_M * TILE_K / 4u;
const B_UNITS = TILE_N * TILE_K / 4u;
// vec4s of each tile one thread loads per step (at most 4 with PREFETCH: Staged has 4 of each).
const A_LOADS = (A_UNITS + THREADS - 1u) / THREADS;
const B_LOADS = (B_UNITS + THREADS - 1u) / THREADS;
// Copies of As / Bs in workgroup memory: two with DOUBLE_BUFFER.
const STAGES = select(1u, 2u, ${DOUBLE_BUFFER});
const M4 = TILE_M / 4u;
const N4 = TILE_N / 4u;
const K4 = TILE_K / 4u;

// Activations, componentwise on vec4: gelu and gelu_tanh with their derivatives are
// shaders/activation.wgsl, shared with the elementwise ops (unary.wgsl).
${ACTIVATION}

// NaN in, NaN out on every adapter, as the elementwise ops (unary.wgsl): WGSL leaves max / clamp /
// exp of NaN to the implementation, so a NaN pre-activation is passed through by its bits, after
// the same arithmetic as before for every other value. relu's derivative at NaN is 1 (PyTorch lets
// dy through there); gelu's is NaN.
fn is_nan4(v: vec4f) -> vec4<bool> {
  return (bitcast<vec4u>(v) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u);
}

fn activate(z: vec4f) -> vec4f {
#if ${ACT_RELU}
  return select(max(z, vec4f(0.0)), z, is_nan4(z));
#elif ${ACT_GELU}
  return select(gelu_erf(z), z, is_nan4(z));
#elif ${ACT_GELU_TANH}
  return select(gelu_tanh(z), z, is_nan4(z));
#else
  return z;
#endif
}

fn activation_derivative(s: vec4f) -> vec4f {
#if ${ACT_RELU}
  return select(select(vec4f(0.0), vec4f(1.0), s > vec4f(0.0)), vec4f(1.0), is_nan4(s));
#elif ${ACT_GELU}
  return select(gelu_erf_grad(s), s, is_nan4(s));
#elif ${ACT_GELU_TANH}
  return select(gelu_tanh_grad(s), s, is_nan4(s));
#else
  return vec4f(1.0);
#endif
}

#if ${MODE_MATMUL}

struct Params {
  M: u32,
  N: u32,
  K: u32,
  outer_rank: u32,
  reduce_rank: u32,
  // Product of reduce_shape (1 when there are no reduce dims).
  reduce_count: u32,
  // Added to workgroup_id.z / .y / .x when one dispatch cannot cover every batch / tile.
  batch_offset: u32,
  row_tile_offset: u32,
  col_tile_offset: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  outer_shape: array<vec4u, 2>,
  outer_a_strides: array<vec4u, 2>,
  outer_b_strides: array<vec4u, 2>,
  reduce_shape: array<vec4u, 2>,
  reduce_a_strides: array<vec4u, 2>,
  reduce_b_strides: array<vec4u, 2>,
};

@group(0) @binding(0) var<uniform> params: Params;
#if ${A_VEC4}
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
#else
@group(0) @binding(1) var<storage, read> a: array<f32>;
#endif
#if ${B_VEC4}
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
#else
@group(0) @binding(2) var<storage, read> b: array<f32>;
#endif
#if ${C_VEC4}
@group(0) @binding(3) var<storage, read_write> c: array<vec4f>;
#else
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
#endif
#if ${HAS_BIAS}
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif
#if ${COL_SUM}
// Direct kernel, TRANS_A (a linear layer's dW = dzᵀ x): also the column sums of A as stored, i.e.
// the bias gradient sum over k of dz[k][m], added in column_sum's order (see the direct kernel).
@group(0) @binding(4) var<storage, read_write> col_sum: array<f32>;
#endif
#if ${SAVE_PREACT}
// The pre-activation z = A @ B + bias, written beside the output for the activation's backward.
#if ${C_VEC4}
@group(0) @binding(${PREACT_BINDING}) var<storage, read_write> preact: array<vec4f>;
#else
@group(0) @binding(${PREACT_BINDING}) var<storage, read_write> preact: array<f32>;
#endif
#endif

var<workgroup> As: array<vec4f, A_UNITS * STAGES>;
var<workgroup> Bs: array<vec4f, B_UNITS * STAGES>;

// The largest finite f16, and the f32 bits of 65520 = 65504 + half an f16 ulp, where rounding overflows.
const F16_MAX = 65504.0;
const F16_OVERFLOW_BITS = 0x477ff000u;
const F32_INF_BITS = 0x7f800000u;

// v rounded to the nearest f16 (ties to even), kept as f32. Finite values at or past 65520 round to
// inf and inf / NaN pass through, as in an IEEE f32 -> f16 conversion (pack2x16float alone is
// indeterminate there, so those are handled by their bits).
fn to_f16_grid(v: vec4f) -> vec4f {
  let c = clamp(v, vec4f(-F16_MAX), vec4f(F16_MAX));
  let r = vec4f(unpack2x16float(pack2x16float(c.xy)), unpack2x16float(pack2x16float(c.zw)));
  let bits = bitcast<vec4u>(v);
  let mag = bits & vec4u(0x7fffffffu);
  let signed_inf = bitcast<vec4f>((bits & vec4u(0x80000000u)) | vec4u(F32_INF_BITS));
  let out = select(r, signed_inf, mag >= vec4u(F16_OVERFLOW_BITS));
  return select(out, v, mag > vec4u(F32_INF_BITS));
}

// What goes into workgroup memory: the operand as it is, or on the f16 grid ('medium' precision).
fn stage(v: vec4f) -> vec4f {
#if ${ROUND_F16}
  return to_f16_grid(v);
#else
  return v;
#endif
}

// load_a / load_b: four consecutive elements of A / B along its contiguous dimension, zeros past
// the edges (tile_load.wgsl, shared with the tensor-core kernel).
${LOAD_A}
${LOAD_B}

// Unit u (0 .. A_UNITS - 1) of opA's tile at K-step k0, read from global memory and staged: four
// consecutive elements along A's contiguous dimension.
fn fetch_a(u: u32, a_base: u32, m0: u32, k0: u32) -> vec4f {
#if ${TRANS_A}
  // A stored [K, M]: the tile's rows are k, contiguous along m, the same layout as As.
  return stage(load_a(a_base, k0 + u / M4, m0 + (u % M4) * 4u, params.K, params.M));
#else
  // A stored [M, K]: four k's of one row.
  return stage(load_a(a_base, m0 + u / K4, k0 + (u % K4) * 4u, params.M, params.K));
#endif
}

// Writes unit u of opA's tile into As[k][m], starting at vec4 `off` (the half, with DOUBLE_BUFFER).
fn put_a(u: u32, v: vec4f, off: u32) {
#if ${TRANS_A}
  As[off + u] = v;
#else
  // Four k's of one row go to four rows of As.
  let row = u / K4;
  let kq = (u % K4) * 4u;
  let slot = off + row / 4u;
  let lane = row % 4u;
  As[(kq + 0u) * M4 + slot][lane] = v.x;
  As[(kq + 1u) * M4 + slot][lane] = v.y;
  As[(kq + 2u) * M4 + slot][lane] = v.z;
  As[(kq + 3u) * M4 + slot][lane] = v.w;
#endif
}

fn fetch_b(u: u32, b_base: u32, n0: u32, k0: u32) -> vec4f {
#if ${TRANS_B}
  // B stored [N, K]: four k's of one column of opB.
  return stage(load_b(b_base, n0 + u / K4, k0 + (u % K4) * 4u, params.N, params.K));
#else
  return stage(load_b(b_base, k0 + u / N4, n0 + (u % N4) * 4u, params.K, params.N));
#endif
}

fn put_b(u: u32, v: vec4f, off: u32) {
#if ${TRANS_B}
  let col = u / K4;
  let kq = (u % K4) * 4u;
  let slot = off + col / 4u;
  let lane = col % 4u;
  Bs[(kq + 0u) * N4 + slot][lane] = v.x;
  Bs[(kq + 1u) * N4 + slot][lane] = v.y;
  Bs[(kq + 2u) * N4 + slot][lane] = v.z;
  Bs[(kq + 3u) * N4 + slot][lane] = v.w;
#else
  Bs[off + u] = v;
#endif
}

// Stages opA[m0.., k0..] into As[k][m] and opB[k0.., n0..] into Bs[k][n] (no prefetch).
fn load_tiles(tid: u32, a_base: u32, b_base: u32, m0: u32, n0: u32, k0: u32) {
  for (var l = 0u; l < A_UNITS; l += THREADS) {
    let u = l + tid;
    if (u < A_UNITS) { put_a(u, fetch_a(u, a_base, m0, k0), 0u); }
  }
  for (var l = 0u; l < B_UNITS; l += THREADS) {
    let u = l + tid;
    if (u < B_UNITS) { put_b(u, fetch_b(u, b_base, n0, k0), 0u); }
  }
}

// One thread's share of a step's tiles, held in registers between the global loads and the writes
// to workgroup memory (PREFETCH): unit i * THREADS + tid of each tile in a<i> / b<i>, i < A_LOADS /
// B_LOADS. Named fields, not arrays, for the reason the register block has named variables.
struct Staged {
  a0: vec4f, a1: vec4f, a2: vec4f, a3: vec4f,
  b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f,
};

// Whether unit i * THREADS + tid exists (constant true when the tile is a multiple of THREADS).
fn has_a(i: u32, tid: u32) -> bool {
  return A_UNITS % THREADS == 0u || i * THREADS + tid < A_UNITS;
}

fn has_b(i: u32, tid: u32) -> bool {
  return B_UNITS % THREADS == 0u || i * THREADS + tid < B_UNITS;
}

// The global loads of one step (issued here, waited for where the registers are first used).
fn fetch_tiles(tid: u32, a_base: u32, b_base: u32, m0: u32, n0: u32, k0: u32) -> Staged {
  var s: Staged;
  if (has_a(0u, tid)) { s.a0 = fetch_a(tid, a_base, m0, k0); }
  if (A_LOADS > 1u && has_a(1u, tid)) { s.a1 = fetch_a(THREADS + tid, a_base, m0, k0); }
  if (A_LOADS > 2u && has_a(2u, tid)) { s.a2 = fetch_a(2u * THREADS + tid, a_base, m0, k0); }
  if (A_LOADS > 3u && has_a(3u, tid)) { s.a3 = fetch_a(3u * THREADS + tid, a_base, m0, k0); }
  if (has_b(0u, tid)) { s.b0 = fetch_b(tid, b_base, n0, k0); }
  if (B_LOADS > 1u && has_b(1u, tid)) { s.b1 = fetch_b(THREADS + tid, b_base, n0, k0); }
  if (B_LOADS > 2u && has_b(2u, tid)) { s.b2 = fetch_b(2u * THREADS + tid, b_base, n0, k0); }
  if (B_LOADS > 3u && has_b(3u, tid)) { s.b3 = fetch_b(3u * THREADS + tid, b_base, n0, k0); }
  return s;
}

// Writes fetched registers into As / Bs from vec4 a_off / b_off on.
fn put_tiles(tid: u32, s: Staged, a_off: u32, b_off: u32) {
  if (has_a(0u, tid)) { put_a(tid, s.a0, a_off); }
  if (A_LOADS > 1u && has_a(1u, tid)) { put_a(THREADS + tid, s.a1, a_off); }
  if (A_LOADS > 2u && has_a(2u, tid)) { put_a(2u * THREADS + tid, s.a2, a_off); }
  if (A_LOADS > 3u && has_a(3u, tid)) { put_a(3u * THREADS + tid, s.a3, a_off); }
  if (has_b(0u, tid)) { put_b(tid, s.b0, b_off); }
  if (B_LOADS > 1u && has_b(1u, tid)) { put_b(THREADS + tid, s.b1, b_off); }
  if (B_LOADS > 2u && has_b(2u, tid)) { put_b(2u * THREADS + tid, s.b2, b_off); }
  if (B_LOADS > 3u && has_b(3u, tid)) { put_b(3u * THREADS + tid, s.b3, b_off); }
}

// Element offsets in A (x) and B (y) of entry i of a flattened batch, given its dims and each
// operand's strides (the output's batch dims, or the reduce dims).
fn batch_offsets(i: u32, rank: u32, shape: array<vec4u, 2>, a_strides: array<vec4u, 2>, b_strides: array<vec4u, 2>) -> vec2u {
  var off = vec2u(0u);
  var rem = i;
  for (var d = i32(rank) - 1; d >= 0; d--) {
    let q = u32(d) / 4u;
    let r = u32(d) % 4u;
    let size = shape[q][r];
    let idx = rem % size;
    rem = rem / size;
    off += idx * vec2u(a_strides[q][r], b_strides[q][r]);
  }
  return off;
}

// Bias, activation and the bounds-checked store of one 4-wide row piece of the output block.
fn store_row(row: u32, col: u32, c_base: u32, acc: vec4f) {
  let N = params.N;
  if (row >= params.M || col >= N) { return; }
  var z = acc;
#if ${HAS_BIAS}
  z.x += bias[col];
  if (col + 1u < N) { z.y += bias[col + 1u]; }
  if (col + 2u < N) { z.z += bias[col + 2u]; }
  if (col + 3u < N) { z.w += bias[col + 3u]; }
#endif
  let y = activate(z);
  let i = c_base + row * N + col;
#if ${C_VEC4}
  c[i / 4u] = y;
#if ${SAVE_PREACT}
  preact[i / 4u] = z;
#endif
#else
  c[i] = y.x;
  if (col + 1u < N) { c[i + 1u] = y.y; }
  if (col + 2u < N) { c[i + 2u] = y.z; }
  if (col + 3u < N) { c[i + 3u] = y.w; }
#if ${SAVE_PREACT}
  preact[i] = z.x;
  if (col + 1u < N) { preact[i + 1u] = z.y; }
  if (col + 2u < N) { preact[i + 2u] = z.z; }
  if (col + 3u < N) { preact[i + 3u] = z.w; }
#endif
#endif
}

#if ${DIRECT}
// Direct variant (software adapters). No workgroup memory and no barriers: each thread reads its
// operands straight from the storage buffers, four k's at a time, and multiplies them into the same
// register block as the tiled kernel (rows at 4 ty.. and 4 (ty + WG_Y).., column groups at 4 tx..
// and 4 (tx + WG_X)..). On a CPU-emulated GPU workgroup memory is just more memory and every barrier
// switches all of the workgroup's invocations, so staging costs more than it saves there. Per output
// element the products are added in the same order and the same way as the tiled kernel
// (c += a * b with k = 0, 1, ..., reduce dims outermost; the zeros past K are the same zeros), so
// the results are bit-identical to every tiled config.

// The thread's register block, as one value: named fields for the reason the tiled kernel uses
// named variables (fields a variant does not use stay zero and are never stored).
struct Block {
  c0_0: vec4f, c1_0: vec4f, c2_0: vec4f, c3_0: vec4f,
  c0_1: vec4f, c1_1: vec4f, c2_1: vec4f, c3_1: vec4f,
  c4_0: vec4f, c5_0: vec4f, c6_0: vec4f, c7_0: vec4f,
  c4_1: vec4f, c5_1: vec4f, c6_1: vec4f, c7_1: vec4f,
};

// One k: a0 / a1 = opA[rows 0..3 / 4..7 of the block][k], b0 / b1 = opB[k][column group 0 / 1];
// the same statements as the tiled kernel's inner loop.
fn outer_product(acc: Block, a0: vec4f, a1: vec4f, b0: vec4f, b1: vec4f) -> Block {
  var r = acc;
  r.c0_0 += a0.x * b0;
  r.c1_0 += a0.y * b0;
  r.c2_0 += a0.z * b0;
  r.c3_0 += a0.w * b0;
#if ${TN8}
  r.c0_1 += a0.x * b1;
  r.c1_1 += a0.y * b1;
  r.c2_1 += a0.z * b1;
  r.c3_1 += a0.w * b1;
#endif
#if ${TM8}
  r.c4_0 += a1.x * b0;
  r.c5_0 += a1.y * b0;
  r.c6_0 += a1.z * b0;
  r.c7_0 += a1.w * b0;
#if ${TN8}
  r.c4_1 += a1.x * b1;
  r.c5_1 += a1.y * b1;
  r.c6_1 += a1.z * b1;
  r.c7_1 += a1.w * b1;
#endif
#endif
  return r;
}

// load_a / load_b without branches on the vec4 path: SwiftShader runs a branch on per-lane values
// with lane masks, and a masked load costs it a test and a jump per lane (the early return made the
// loop about 40% slower). An out-of-range vec4 reads element 0 instead and is replaced by zeros: the
// same values as load_a / load_b, bit for bit. The scalar path keeps load_a / load_b's branches:
// written with selects, its sixteen loads per row and column block made SwiftShader's compiler run
// out of memory on an 8 x 8 block.
fn direct_a(base: u32, row: u32, col: u32, rows: u32, cols: u32) -> vec4f {
#if ${A_VEC4}
  let ok = row < rows && col < cols;
  return select(vec4f(0.0), a[select(0u, (base + row * cols + col) / 4u, ok)], ok);
#else
  return load_a(base, row, col, rows, cols);
#endif
}

fn direct_b(base: u32, row: u32, col: u32, rows: u32, cols: u32) -> vec4f {
#if ${B_VEC4}
  let ok = row < rows && col < cols;
  return select(vec4f(0.0), b[select(0u, (base + row * cols + col) / 4u, ok)], ok);
#else
  return load_b(base, row, col, rows, cols);
#endif
}

// Four values of opA along k for one row (four k's of row `row`), zeros past M and K.
fn a_row(a_base: u32, row: u32, k0: u32) -> vec4f {
  return stage(direct_a(a_base, row, k0, params.M, params.K));
}

// opA[rows .. rows + 3][k] with A stored [K, M] (TRANS_A).
fn a_col(a_base: u32, k: u32, rows: u32) -> vec4f {
  return stage(direct_a(a_base, k, rows, params.K, params.M));
}

// opB[k][cols .. cols + 3] with B stored [K, N].
fn b_row(b_base: u32, k: u32, cols: u32) -> vec4f {
  return stage(direct_b(b_base, k, cols, params.K, params.N));
}

// Four values of opB along k for one column, B stored [N, K] (TRANS_B).
fn b_col(b_base: u32, col: u32, k0: u32) -> vec4f {
  return stage(direct_b(b_base, col, k0, params.N, params.K));
}

// Four vec4s of a 4 x 4 block of one operand, in the order outer_product takes them: q<j> holds
// step j along k (four rows of opA, or four columns of opB).
struct Quad {
  q0: vec4f, q1: vec4f, q2: vec4f, q3: vec4f,
};

// The 4 x 4 block read the other way: r0 .. r3 hold four k's each of four rows (or columns).
fn transpose4(r0: vec4f, r1: vec4f, r2: vec4f, r3: vec4f) -> Quad {
  return Quad(vec4f(r0.x, r1.x, r2.x, r3.x), vec4f(r0.y, r1.y, r2.y, r3.y), vec4f(r0.z, r1.z, r2.z, r3.z), vec4f(r0.w, r1.w, r2.w, r3.w));
}

// opA[row .. row + 3][k0 .. k0 + 3]: with A stored [K, M] (TRANS_A) one load per k, with A stored
// [M, K] one load of four k's per row, transposed.
fn a_block(a_base: u32, k0: u32, row: u32) -> Quad {
#if ${TRANS_A}
  return Quad(a_col(a_base, k0, row), a_col(a_base, k0 + 1u, row), a_col(a_base, k0 + 2u, row), a_col(a_base, k0 + 3u, row));
#else
  return transpose4(a_row(a_base, row, k0), a_row(a_base, row + 1u, k0), a_row(a_base, row + 2u, k0), a_row(a_base, row + 3u, k0));
#endif
}

// opB[k0 .. k0 + 3][col .. col + 3]: with B stored [N, K] (TRANS_B) one load of four k's per
// column, transposed; with B stored [K, N] one load per k.
fn b_block(b_base: u32, k0: u32, col: u32) -> Quad {
#if ${TRANS_B}
  return transpose4(b_col(b_base, col, k0), b_col(b_base, col + 1u, k0), b_col(b_base, col + 2u, k0), b_col(b_base, col + 3u, k0));
#else
  return Quad(b_row(b_base, k0, col), b_row(b_base, k0 + 1u, col), b_row(b_base, k0 + 2u, col), b_row(b_base, k0 + 3u, col));
#endif
}

const ZERO_QUAD = Quad(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));

// One operand for k0 .. k0 + 3 of the thread's block: lo = rows 0..3 of opA (columns 0..3 of opB),
// hi = rows 4..7 (columns 4..7), zero without TM8 (TN8).
struct Step {
  lo: Quad,
  hi: Quad,
};

fn a_step(a_base: u32, k0: u32, row0: u32, row1: u32) -> Step {
#if ${TM8}
  return Step(a_block(a_base, k0, row0), a_block(a_base, k0, row1));
#else
  return Step(a_block(a_base, k0, row0), ZERO_QUAD);
#endif
}

fn b_step(b_base: u32, k0: u32, col0: u32, col1: u32) -> Step {
#if ${TN8}
  return Step(b_block(b_base, k0, col0), b_block(b_base, k0, col1));
#else
  return Step(b_block(b_base, k0, col0), ZERO_QUAD);
#endif
}

#if ${QUAD_2X2}
// 2 x 2 quads (8 x 8 blocks on a workgroup of even width and height). The four lanes of a quad take
// a 2 x 2 square of the thread grid, so two lanes share each row block (lanes q and q ^ 1) and two
// each column block (q and q ^ 2): per step a lane loads one of its two row blocks and one of its
// two column blocks and gets the others from its partners (quadSwapX / quadSwapY), 8 vec4 loads
// instead of the row quads' 10 (2 of A shared four ways, 8 of B). The thread's own blocks are its
// lo ones (row0 / col0 in main), so no value is ever moved between registers by lane.
fn quad_2x2_position(li: u32) -> vec2u {
  let quad = li / 4u;
  let q = li % 4u;
  let quads_x = WG_X / 2u;
  return vec2u(2u * (quad % quads_x) + (q & 1u), 2u * (quad / quads_x) + (q >> 1u));
}

fn swap_x(v: Quad) -> Quad {
  return Quad(quadSwapX(v.q0), quadSwapX(v.q1), quadSwapX(v.q2), quadSwapX(v.q3));
}

fn swap_y(v: Quad) -> Quad {
  return Quad(quadSwapY(v.q0), quadSwapY(v.q1), quadSwapY(v.q2), quadSwapY(v.q3));
}

// opA for k0 .. k0 + 3: the lane's own rows (row_own ..) loaded, its partner's (the other block
// of the same rows) swapped in.
fn a_step_2x2(a_base: u32, k0: u32, row_own: u32) -> Step {
  let own = a_block(a_base, k0, row_own);
  return Step(own, swap_x(own));
}

fn b_step_2x2(b_base: u32, k0: u32, col_own: u32) -> Step {
  let own = b_block(b_base, k0, col_own);
  return Step(own, swap_y(own));
}
#endif

#if ${QUAD}
// Lane j's v in every lane of the quad, as q<j>.
fn quad_all(v: vec4f) -> Quad {
  return Quad(quadBroadcast(v, 0u), quadBroadcast(v, 1u), quadBroadcast(v, 2u), quadBroadcast(v, 3u));
}

// a_step's values, loaded once per quad: the four threads of a quad share their rows (tx = 0..3 of
// one ty), so lane q of the quad loads a quarter of them and quadBroadcast hands every lane the rest.
// On SwiftShader a load costs a gather per lane and a broadcast one shuffle, so the step needs a
// quarter of the A loads.
fn a_step_quad(a_base: u32, k0: u32, row0: u32, row1: u32, q: u32) -> Step {
#if ${TRANS_A}
  // Lane q loads k = k0 + q; step j comes from lane j.
#if ${TM8}
  return Step(quad_all(a_col(a_base, k0 + q, row0)), quad_all(a_col(a_base, k0 + q, row1)));
#else
  return Step(quad_all(a_col(a_base, k0 + q, row0)), ZERO_QUAD);
#endif
#else
#if ${TM8}
  // Rows row0 .. row0 + 3 and row1 .. row1 + 3, two per lane: lane q loads the (2q)-th and (2q+1)-th.
  let first = select(row1 + 2u * q - 4u, row0 + 2u * q, q < 2u);
  let even = quad_all(a_row(a_base, first, k0));
  let odd = quad_all(a_row(a_base, first + 1u, k0));
  return Step(transpose4(even.q0, odd.q0, even.q1, odd.q1), transpose4(even.q2, odd.q2, even.q3, odd.q3));
#else
  // Rows row0 .. row0 + 3, one per lane.
  let r = quad_all(a_row(a_base, row0 + q, k0));
  return Step(transpose4(r.q0, r.q1, r.q2, r.q3), ZERO_QUAD);
#endif
#endif
}
#endif

// The product's state along K: the register block and, with COL_SUM, the partial column sums.
struct KState {
  acc: Block,
  s0_0: vec4f, s1_0: vec4f, s2_0: vec4f, s3_0: vec4f,
  s0_1: vec4f, s1_1: vec4f, s2_1: vec4f, s3_1: vec4f,
};

// One step of four k's: the outer products of opA's values (in `a`) and opB's (in `b`) for
// k0 .. k0 + 3 in k order, and (COL_SUM) opA's columns added to the partial sums.
fn k_step(st: KState, a: Step, b: Step) -> KState {
  var r = st;
  r.acc = outer_product(r.acc, a.lo.q0, a.hi.q0, b.lo.q0, b.hi.q0);
  r.acc = outer_product(r.acc, a.lo.q1, a.hi.q1, b.lo.q1, b.hi.q1);
  r.acc = outer_product(r.acc, a.lo.q2, a.hi.q2, b.lo.q2, b.hi.q2);
  r.acc = outer_product(r.acc, a.lo.q3, a.hi.q3, b.lo.q3, b.hi.q3);
#if ${COL_SUM}
  r.s0_0 += a.lo.q0;
  r.s1_0 += a.lo.q1;
  r.s2_0 += a.lo.q2;
  r.s3_0 += a.lo.q3;
#if ${TM8}
  r.s0_1 += a.hi.q0;
  r.s1_1 += a.hi.q1;
  r.s2_1 += a.hi.q2;
  r.s3_1 += a.hi.q3;
#endif
#endif
  return r;
}

@compute @workgroup_size(WG_X, WG_Y)
#if ${QUAD}
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) sid: u32) {
#else
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
#endif
  let m0 = (wid.y + params.row_tile_offset) * TILE_M;
  let n0 = (wid.x + params.col_tile_offset) * TILE_N;
  let batch = wid.z + params.batch_offset;
#if ${QUAD_2X2}
  // The thread's place in the grid (tx, ty) is its quad's 2 x 2 square (a permutation of the
  // threads: every block of C still has one thread). Its row blocks are 4 ty.. and 4 (ty + WG_Y)..
  // and its column blocks 4 tx.. and 4 (tx + WG_X).., as below, but taken in the order "the one it
  // loads, the one its partner loads": lanes with odd tx load the second row block, lanes with odd
  // ty the second column block. row0 / col0 are always the thread's own.
  let pos = quad_2x2_position(li);
  let tx = pos.x;
  let first_row = m0 + pos.y * 4u;
  let first_col = n0 + tx * 4u;
  let odd_x = (tx & 1u) == 1u;
  let odd_y = (pos.y & 1u) == 1u;
  let row0 = select(first_row, first_row + WG_Y * 4u, odd_x);
  let row1 = select(first_row + WG_Y * 4u, first_row, odd_x);
  let col0 = select(first_col, first_col + WG_X * 4u, odd_y);
  let col1 = select(first_col + WG_X * 4u, first_col, odd_y);
#else
  let tx = lid.x;
  let row0 = m0 + lid.y * 4u;
  let row1 = row0 + WG_Y * 4u;
  let col0 = n0 + lid.x * 4u;
  let col1 = col0 + WG_X * 4u;
#endif

  let outer = batch_offsets(batch, params.outer_rank, params.outer_shape, params.outer_a_strides, params.outer_b_strides);

  // Zero-initialised: the register block and the partial column sums.
  var st: KState;
#if ${QUAD_2X2}
  // The lanes of each hardware quad must be four consecutive invocations in order (as on
  // SwiftShader and GPUs in practice) for the swaps to reach the right partners; anywhere else every
  // lane loads its own. All four lanes reach the same quad_ok: if one lane sees lane j holding
  // li & ~3 + j for every j, so does every other.
  let quad_base = li & ~3u;
  let quad_ok = quadBroadcast(li, 0u) == quad_base && quadBroadcast(li, 1u) == quad_base + 1u &&
    quadBroadcast(li, 2u) == quad_base + 2u && quadBroadcast(li, 3u) == quad_base + 3u && sid % 4u == li % 4u;
#elif ${QUAD}
  // Quads share A's loads when each is four threads of one row of the workgroup (subgroups made of
  // consecutive invocations, as on SwiftShader and GPUs in practice); anywhere else every lane loads
  // its own. All four lanes reach the same quad_ok: any lane of a mixed quad sees a different ty.
  let quad_lane = sid % 4u;
  let quad_ok = quadBroadcast(lid.y, 0u) == lid.y && quadBroadcast(lid.y, 1u) == lid.y &&
    quadBroadcast(lid.y, 2u) == lid.y && quadBroadcast(lid.y, 3u) == lid.y;
#endif
  // COL_SUM (with TRANS_A: the bias gradient of a linear layer's dW): sum_k A[k][m] for the block's
  // rows, in column_sum's order when one pass covers the rows: four partial sums, the one of
  // k = j mod 4 adding A[j][m], A[j + 4][m], ... in turn, then (s0 + s1) + (s2 + s3). A[k][m] for
  // k = k0 + j is the opA column a.lo.q<j> / a.hi.q<j> the product loads anyway (k_step adds it).
  // The host fuses it only without batch dims.
  for (var red = 0u; red < params.reduce_count; red++) {
    let base = outer + batch_offsets(red, params.reduce_rank, params.reduce_shape, params.reduce_a_strides, params.reduce_b_strides);
    let a_base = base.x;
    let b_base = base.y;
#if ${QUAD_2X2}
    // Branch once per quad, outside the loop (SwiftShader would run both sides of a per-step branch).
    if (quad_ok) {
      for (var k0 = 0u; k0 < params.K; k0 += 4u) {
        st = k_step(st, a_step_2x2(a_base, k0, row0), b_step_2x2(b_base, k0, col0));
      }
    } else {
      for (var k0 = 0u; k0 < params.K; k0 += 4u) {
        st = k_step(st, a_step(a_base, k0, row0, row1), b_step(b_base, k0, col0, col1));
      }
    }
#elif ${QUAD}
    if (quad_ok) {
      for (var k0 = 0u; k0 < params.K; k0 += 4u) {
        st = k_step(st, a_step_quad(a_base, k0, row0, row1, quad_lane), b_step(b_base, k0, col0, col1));
      }
    } else {
      for (var k0 = 0u; k0 < params.K; k0 += 4u) {
        st = k_step(st, a_step(a_base, k0, row0, row1), b_step(b_base, k0, col0, col1));
      }
    }
#else
    for (var k0 = 0u; k0 < params.K; k0 += 4u) {
      st = k_step(st, a_step(a_base, k0, row0, row1), b_step(b_base, k0, col0, col1));
    }
#endif
  }
#if ${COL_SUM}
  // The threads of the first column block write it (every block computed the same sums); their row
  // blocks are in order (tx even), row0 first.
  if (n0 == 0u && tx == 0u) {
    let t0 = (st.s0_0 + st.s1_0) + (st.s2_0 + st.s3_0);
    for (var r = 0u; r < 4u; r++) {
      if (row0 + r < params.M) { col_sum[row0 + r] = t0[r]; }
    }
#if ${TM8}
    let t1 = (st.s0_1 + st.s1_1) + (st.s2_1 + st.s3_1);
    for (var r = 0u; r < 4u; r++) {
      if (row1 + r < params.M) { col_sum[row1 + r] = t1[r]; }
    }
#endif
  }
#endif

  let c_base = batch * params.M * params.N;
  store_row(row0, col0, c_base, st.acc.c0_0);
  store_row(row0 + 1u, col0, c_base, st.acc.c1_0);
  store_row(row0 + 2u, col0, c_base, st.acc.c2_0);
  store_row(row0 + 3u, col0, c_base, st.acc.c3_0);
#if ${TN8}
  store_row(row0, col1, c_base, st.acc.c0_1);
  store_row(row0 + 1u, col1, c_base, st.acc.c1_1);
  store_row(row0 + 2u, col1, c_base, st.acc.c2_1);
  store_row(row0 + 3u, col1, c_base, st.acc.c3_1);
#endif
#if ${TM8}
  store_row(row1, col0, c_base, st.acc.c4_0);
  store_row(row1 + 1u, col0, c_base, st.acc.c5_0);
  store_row(row1 + 2u, col0, c_base, st.acc.c6_0);
  store_row(row1 + 3u, col0, c_base, st.acc.c7_0);
#if ${TN8}
  store_row(row1, col1, c_base, st.acc.c4_1);
  store_row(row1 + 1u, col1, c_base, st.acc.c5_1);
  store_row(row1 + 2u, col1, c_base, st.acc.c6_1);
  store_row(row1 + 3u, col1, c_base, st.acc.c7_1);
#endif
#endif
}

#else

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * WG_X + tx;
  let m0 = (wid.y + params.row_tile_offset) * TILE_M;
  let n0 = (wid.x + params.col_tile_offset) * TILE_N;
  let batch = wid.z + params.batch_offset;

  // Element offsets of this output batch in A and B.
  let outer = batch_offsets(batch, params.outer_rank, params.outer_shape, params.outer_a_strides, params.outer_b_strides);

  // Register block: c<row>_<group>, rows 0..3 at 4 ty.., rows 4..7 at 4 (ty + WG_Y).., vec4 column
  // group 0 at 4 tx.., group 1 at 4 (tx + WG_X)..
  var c0_0 = vec4f(0.0);
  var c1_0 = vec4f(0.0);
  var c2_0 = vec4f(0.0);
  var c3_0 = vec4f(0.0);
#if ${TN8}
  var c0_1 = vec4f(0.0);
  var c1_1 = vec4f(0.0);
  var c2_1 = vec4f(0.0);
  var c3_1 = vec4f(0.0);
#endif
#if ${TM8}
  var c4_0 = vec4f(0.0);
  var c5_0 = vec4f(0.0);
  var c6_0 = vec4f(0.0);
  var c7_0 = vec4f(0.0);
#if ${TN8}
  var c4_1 = vec4f(0.0);
  var c5_1 = vec4f(0.0);
  var c6_1 = vec4f(0.0);
  var c7_1 = vec4f(0.0);
#endif
#endif

  for (var red = 0u; red < params.reduce_count; red++) {
    let base = outer + batch_offsets(red, params.reduce_rank, params.reduce_shape, params.reduce_a_strides, params.reduce_b_strides);
    let a_base = base.x;
    let b_base = base.y;
#if ${DOUBLE_BUFFER}
    // Step 0 goes into the first halves before the loop; each step then fills the other half.
    var a_off = 0u;
    var b_off = 0u;
    put_tiles(tid, fetch_tiles(tid, a_base, b_base, m0, n0, 0u), 0u, 0u);
    workgroupBarrier();
#else
    const a_off = 0u;
    const b_off = 0u;
#if ${PREFETCH}
    var staged = fetch_tiles(tid, a_base, b_base, m0, n0, 0u);
#endif
#endif
    for (var k0 = 0u; k0 < params.K; k0 += TILE_K) {
#if ${DOUBLE_BUFFER}
      let more = k0 + TILE_K < params.K;
      var staged: Staged;
      if (more) { staged = fetch_tiles(tid, a_base, b_base, m0, n0, k0 + TILE_K); }
#elif ${PREFETCH}
      put_tiles(tid, staged, 0u, 0u);
      workgroupBarrier();
      // The next step's loads are in flight while this step's FMAs run.
      if (k0 + TILE_K < params.K) { staged = fetch_tiles(tid, a_base, b_base, m0, n0, k0 + TILE_K); }
#else
      load_tiles(tid, a_base, b_base, m0, n0, k0);
      workgroupBarrier();
#endif
      for (var kk = 0u; kk < TILE_K; kk++) {
        let a0 = As[a_off + kk * M4 + ty];
        let b0 = Bs[b_off + kk * N4 + tx];
        c0_0 += a0.x * b0;
        c1_0 += a0.y * b0;
        c2_0 += a0.z * b0;
        c3_0 += a0.w * b0;
#if ${TN8}
        let b1 = Bs[b_off + kk * N4 + WG_X + tx];
        c0_1 += a0.x * b1;
        c1_1 += a0.y * b1;
        c2_1 += a0.z * b1;
        c3_1 += a0.w * b1;
#endif
#if ${TM8}
        let a1 = As[a_off + kk * M4 + WG_Y + ty];
        c4_0 += a1.x * b0;
        c5_0 += a1.y * b0;
        c6_0 += a1.z * b0;
        c7_0 += a1.w * b0;
#if ${TN8}
        c4_1 += a1.x * b1;
        c5_1 += a1.y * b1;
        c6_1 += a1.z * b1;
        c7_1 += a1.w * b1;
#endif
#endif
      }
#if ${DOUBLE_BUFFER}
      // The other halves were last read in the previous step, which every thread has finished.
      a_off = A_UNITS - a_off;
      b_off = B_UNITS - b_off;
      if (more) { put_tiles(tid, staged, a_off, b_off); }
#endif
      workgroupBarrier();
    }
  }

  let c_base = batch * params.M * params.N;
  let row0 = m0 + ty * 4u;
  let col0 = n0 + tx * 4u;
  store_row(row0, col0, c_base, c0_0);
  store_row(row0 + 1u, col0, c_base, c1_0);
  store_row(row0 + 2u, col0, c_base, c2_0);
  store_row(row0 + 3u, col0, c_base, c3_0);
#if ${TN8}
  let col1 = col0 + WG_X * 4u;
  store_row(row0, col1, c_base, c0_1);
  store_row(row0 + 1u, col1, c_base, c1_1);
  store_row(row0 + 2u, col1, c_base, c2_1);
  store_row(row0 + 3u, col1, c_base, c3_1);
#endif
#if ${TM8}
  let row1 = row0 + WG_Y * 4u;
  store_row(row1, col0, c_base, c4_0);
  store_row(row1 + 1u, col0, c_base, c5_0);
  store_row(row1 + 2u, col0, c_base, c6_0);
  store_row(row1 + 3u, col0, c_base, c7_0);
#if ${TN8}
  store_row(row1, col1, c_base, c4_1);
  store_row(row1 + 1u, col1, c_base, c5_1);
  store_row(row1 + 2u, col1, c_base, c6_1);
  store_row(row1 + 3u, col1, c_base, c7_1);
#endif
#endif
}

#endif

#elif ${MODE_ACT_GRAD}

struct Params {
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read_write> dz: array<f32>;

const WG = 256u;

@compute @workgroup_size(WG)
fn activation_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  dz[i] = dy[i] * activation_derivative(vec4f(saved[i])).x;
}

#elif ${MODE_COLUMN_SUM}

struct Params {
  rows: u32,
  cols: u32,
  // Rows summed by one workgroup row (workgroup_id.y); the output holds one partial row per chunk.
  chunk: u32,
  _pad0: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const CS_COLS = 64u;
const CS_LANES = 4u;
var<workgroup> partial: array<f32, 256>;

// 64 columns per workgroup, 4 lanes per column striding over the chunk's rows (so a warp reads
// contiguous row pieces), then the 4 lane sums are added in shared memory.
@compute @workgroup_size(CS_COLS, CS_LANES)
fn column_sum(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let col = wid.x * CS_COLS + lid.x;
  let start = wid.y * params.chunk;
  let end = min(params.rows, start + params.chunk);
  var s = 0.0;
  if (col < params.cols) {
    for (var r = start + lid.y; r < end; r += CS_LANES) {
      s += x[r * params.cols + col];
    }
  }
  partial[lid.y * CS_COLS + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && col < params.cols) {
    out[wid.y * params.cols + col] = (partial[lid.x] + partial[CS_COLS + lid.x]) + (partial[2u * CS_COLS + lid.x] + partial[3u * CS_COLS + lid.x]);
  }
}

#endif

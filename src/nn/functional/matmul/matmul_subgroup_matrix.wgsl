// Tensor-core matrix multiplication through subgroup matrices (Dawn's experimental
// chromium-experimental-subgroup-matrix feature): C[z] = opA(A[z]) @ opB(B[z]) with f32 operands in
// memory, rounded to f16 while they are staged in workgroup memory, and f32 accumulation. That is
// the "medium" precision of the mixed-precision mode: f16 operands, f32 sums, f32 result.
//
// Layout. opA is [M, K]: A is stored row-major [M, K], or [K, M] with TRANS_A. opB is [K, N]: B is
// stored [K, N], or [N, K] with TRANS_B. C is a fresh contiguous [batch, M, N]. Batch z starts at
// z * a_batch_stride in A and z * b_batch_stride in B (a stride of 0 shares one matrix).
//
// Subgroup matrix types are written <T, columns, rows>: subgroup_matrix_left<f16, SG_K, SG_M> is an
// SG_M x SG_K block of opA, subgroup_matrix_right<f16, SG_N, SG_K> an SG_K x SG_N block of opB and
// subgroup_matrix_result<f32, SG_N, SG_M> an SG_M x SG_N block of C. (SG_M, SG_N, SG_K) must be one
// of the adapter's GPUAdapterInfo.subgroupMatrixConfigs with f16 components and f32 results.
//
// Tiling. A workgroup of WARPS_M x WARPS_N subgroups ("warps") of SUBGROUP_SIZE invocations computes
// a BM x BN block of C, BM = WARPS_M * FRAG_M * SG_M and BN = WARPS_N * FRAG_N * SG_N. Each warp
// owns FRAG_M x FRAG_N result matrices (a WTM x WTN block). Per step of BK along K, the workgroup
// stages opA's BM x BK tile and opB's BK x BN tile in workgroup memory as f16, in the layout of the
// operand in global memory, so that every global read and every workgroup write runs along the
// contiguous dimension four elements at a time; a transposed operand is then read back with a
// column-major subgroupMatrixLoad instead of being transposed while staging. Rows of the staged
// tiles are padded by 8 halves (16 bytes): the matrix loads stay 16-byte aligned, as cooperative
// matrix loads require, and the 8 rows one load touches fall in different memory banks.
//
// Pipelining. With DOUBLE_BUFFER the next tile is read from global memory into registers while the
// warps multiply the current one, then written to the other half of the staging buffers: one
// barrier per step. Without it (small workgroup memory) there is one staging buffer and two barriers.
//
// Edges. Staging writes zeros past M, N and K, so the products over padding add nothing. With
// DIRECT_STORE (N a multiple of 4, which keeps every row 16-byte aligned) tiles wholly inside C are
// stored straight from the result matrices; other tiles go through a per-warp SG_M x SG_N scratch
// block in workgroup memory and a bounds-checked copy.
//
// Uniformity. The builtins need subgroup-uniform control flow and operands. Every branch around
// them depends only on workgroup_id and uniforms. The warp index is local_invocation_index /
// SUBGROUP_SIZE (SUBGROUP_SIZE = the adapter's maximum subgroup size, and the workgroup is a whole
// number of those, as the feature requires), which is uniform within any hardware subgroup made of
// consecutive invocations; Tint's analysis cannot prove that, hence the diagnostic is turned off.
// Were the hardware subgroups smaller than SUBGROUP_SIZE, each would compute its warp's block
// (the same values, stored twice), so the result stays right.
//
// EMULATE (tests only) replaces the three builtins with plain WGSL over the same offsets, strides
// and layouts: a "matrix" is then the offset of its block in workgroup memory, each lane owns
// SG_M * SG_N / SUBGROUP_SIZE elements of every result block, staging holds f32 values rounded to
// f16 through pack2x16float, and neither shader-f16 nor subgroup matrices are needed. Everything
// but the builtins themselves (tiling, staging, edges, stores, the host code) then runs anywhere.

#if ${EMULATE}
alias half = f32;
#else
enable f16;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
alias half = f16;
#endif

const SG_M = ${SG_M}u;
const SG_N = ${SG_N}u;
const SG_K = ${SG_K}u;
const SUBGROUP_SIZE = ${SUBGROUP_SIZE}u;
const WARPS_M = ${WARPS_M}u;
const WARPS_N = ${WARPS_N}u;
const FRAG_M = ${FRAG_M}u;
const FRAG_N = ${FRAG_N}u;
const BK = ${BK}u;

const WTM = FRAG_M * SG_M;
const WTN = FRAG_N * SG_N;
const BM = WARPS_M * WTM;
const BN = WARPS_N * WTN;
const THREADS = WARPS_M * WARPS_N * SUBGROUP_SIZE;
const PAD = 8u;

// Staged tiles in the stored layout of each operand: rows of the contiguous dimension.
#if ${TRANS_A}
const A_ROWS = BK;
const A_COLS = BM;
#else
const A_ROWS = BM;
const A_COLS = BK;
#endif
#if ${TRANS_B}
const B_ROWS = BN;
const B_COLS = BK;
#else
const B_ROWS = BK;
const B_COLS = BN;
#endif
const A_STRIDE = A_COLS + PAD;
const B_STRIDE = B_COLS + PAD;
const A_TILE = A_ROWS * A_STRIDE;
const B_TILE = B_ROWS * B_STRIDE;
// Loads of four elements along the contiguous dimension, per tile and per thread.
const A_QUADS = A_ROWS * A_COLS / 4u;
const B_QUADS = B_ROWS * B_COLS / 4u;
const A_LOADS = (A_QUADS + THREADS - 1u) / THREADS;
const B_LOADS = (B_QUADS + THREADS - 1u) / THREADS;

#if ${DOUBLE_BUFFER}
const STAGES = 2u;
#else
const STAGES = 1u;
#endif

const SCRATCH = SG_M * SG_N;
// Elements of each result block per lane (emulation only).
const LANE_ELEMS = SCRATCH / SUBGROUP_SIZE;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  // Added to workgroup_id.z / .y / .x when one dispatch cannot cover every batch / tile.
  batch_offset: u32,
  a_batch_stride: u32,
  b_batch_stride: u32,
  row_tile_offset: u32,
  col_tile_offset: u32,
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
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<workgroup> As: array<half, STAGES * A_TILE>;
var<workgroup> Bs: array<half, STAGES * B_TILE>;
// One SG_M x SG_N block per warp, for the bounds-checked store of edge tiles.
var<workgroup> scratch: array<f32, WARPS_M * WARPS_N * SCRATCH>;

// The next tiles, in registers between the global read and the workgroup write.
var<private> a_next: array<vec4<half>, A_LOADS>;
var<private> b_next: array<vec4<half>, B_LOADS>;

fn to_half4(v: vec4f) -> vec4<half> {
#if ${EMULATE}
  return vec4f(unpack2x16float(pack2x16float(v.xy)), unpack2x16float(pack2x16float(v.zw)));
#else
  return vec4<f16>(v);
#endif
}

// load_a / load_b: four consecutive elements of A / B along its contiguous dimension, zeros past
// the edges (tile_load.wgsl, shared with matmul.wgsl).
${LOAD_A}
${LOAD_B}

// Reads the tiles of step k0 into a_next / b_next, rounding to f16.
fn fetch(tid: u32, a_base: u32, b_base: u32, m0: u32, n0: u32, k0: u32) {
  for (var l = 0u; l < A_LOADS; l++) {
    let q = l * THREADS + tid;
    let r = q / (A_COLS / 4u);
    let cc = (q % (A_COLS / 4u)) * 4u;
    var v = vec4f(0.0);
    if (q < A_QUADS) {
#if ${TRANS_A}
      v = load_a(a_base, k0 + r, m0 + cc, params.K, params.M);
#else
      v = load_a(a_base, m0 + r, k0 + cc, params.M, params.K);
#endif
    }
    a_next[l] = to_half4(v);
  }
  for (var l = 0u; l < B_LOADS; l++) {
    let q = l * THREADS + tid;
    let r = q / (B_COLS / 4u);
    let cc = (q % (B_COLS / 4u)) * 4u;
    var v = vec4f(0.0);
    if (q < B_QUADS) {
#if ${TRANS_B}
      v = load_b(b_base, n0 + r, k0 + cc, params.N, params.K);
#else
      v = load_b(b_base, k0 + r, n0 + cc, params.K, params.N);
#endif
    }
    b_next[l] = to_half4(v);
  }
}

// Writes a_next / b_next into staging buffer `stage`.
fn stash(tid: u32, stage: u32) {
  for (var l = 0u; l < A_LOADS; l++) {
    let q = l * THREADS + tid;
    if (q < A_QUADS) {
      let i = stage * A_TILE + (q / (A_COLS / 4u)) * A_STRIDE + (q % (A_COLS / 4u)) * 4u;
      let h = a_next[l];
      As[i] = h.x;
      As[i + 1u] = h.y;
      As[i + 2u] = h.z;
      As[i + 3u] = h.w;
    }
  }
  for (var l = 0u; l < B_LOADS; l++) {
    let q = l * THREADS + tid;
    if (q < B_QUADS) {
      let i = stage * B_TILE + (q / (B_COLS / 4u)) * B_STRIDE + (q % (B_COLS / 4u)) * 4u;
      let h = b_next[l];
      Bs[i] = h.x;
      Bs[i + 1u] = h.y;
      Bs[i + 2u] = h.z;
      Bs[i + 3u] = h.w;
    }
  }
}

#if ${EMULATE}
// Element e (0 .. LANE_ELEMS) of this lane's share of a result block: row and column in the block.
fn lane_row(lane: u32, e: u32) -> u32 { return (lane + e * SUBGROUP_SIZE) / SG_N; }
fn lane_col(lane: u32, e: u32) -> u32 { return (lane + e * SUBGROUP_SIZE) % SG_N; }

// The subgroupMatrixMultiplyAccumulate of the blocks that start at a_off in As and b_off in Bs,
// read as the loads would read them (column-major for a transposed operand), for this lane's share.
fn emulated_mma(lane: u32, a_off: u32, b_off: u32, acc: array<f32, LANE_ELEMS>) -> array<f32, LANE_ELEMS> {
  var out = acc;
  for (var e = 0u; e < LANE_ELEMS; e++) {
    let r = lane_row(lane, e);
    let cc = lane_col(lane, e);
    var s = out[e];
    for (var k = 0u; k < SG_K; k++) {
#if ${TRANS_A}
      let x = As[a_off + k * A_STRIDE + r];
#else
      let x = As[a_off + r * A_STRIDE + k];
#endif
#if ${TRANS_B}
      let y = Bs[b_off + cc * B_STRIDE + k];
#else
      let y = Bs[b_off + k * B_STRIDE + cc];
#endif
      s += x * y;
    }
    out[e] = s;
  }
  return out;
}
#endif

@compute @workgroup_size(THREADS)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3u) {
  let warp = tid / SUBGROUP_SIZE;
  let lane = tid % SUBGROUP_SIZE;
  let warp_m = warp / WARPS_N;
  let warp_n = warp % WARPS_N;
  let m0 = (wid.y + params.row_tile_offset) * BM;
  let n0 = (wid.x + params.col_tile_offset) * BN;
  let batch = wid.z + params.batch_offset;
  let a_base = batch * params.a_batch_stride;
  let b_base = batch * params.b_batch_stride;
  // This warp's block inside the workgroup's tile.
  let wm = warp_m * WTM;
  let wn = warp_n * WTN;

#if ${EMULATE}
  var acc: array<array<f32, LANE_ELEMS>, FRAG_M * FRAG_N>;
#else
  var acc: array<subgroup_matrix_result<f32, SG_N, SG_M>, FRAG_M * FRAG_N>;
  for (var f = 0u; f < FRAG_M * FRAG_N; f++) {
    acc[f] = subgroup_matrix_result<f32, SG_N, SG_M>();
  }
#endif

  let steps = (params.K + BK - 1u) / BK;
  fetch(tid, a_base, b_base, m0, n0, 0u);
  stash(tid, 0u);
  workgroupBarrier();

  for (var s = 0u; s < steps; s++) {
    let more = s + 1u < steps;
#if ${DOUBLE_BUFFER}
    let stage = s % 2u;
#else
    let stage = 0u;
#endif
    if (more) {
      fetch(tid, a_base, b_base, m0, n0, (s + 1u) * BK);
    }
    let a_stage = stage * A_TILE;
    let b_stage = stage * B_TILE;
    for (var kk = 0u; kk < BK; kk += SG_K) {
#if ${EMULATE}
      var left: array<u32, FRAG_M>;
#else
      var left: array<subgroup_matrix_left<f16, SG_K, SG_M>, FRAG_M>;
#endif
      for (var i = 0u; i < FRAG_M; i++) {
        let m = wm + i * SG_M;
#if ${TRANS_A}
        // Staged [k][m]: element (m, k) of opA sits at k * A_STRIDE + m, a column-major block.
        let a_off = a_stage + kk * A_STRIDE + m;
#if ${EMULATE}
        left[i] = a_off;
#else
        left[i] = subgroupMatrixLoad<subgroup_matrix_left<f16, SG_K, SG_M>, col_major>(&As, a_off, A_STRIDE);
#endif
#else
        let a_off = a_stage + m * A_STRIDE + kk;
#if ${EMULATE}
        left[i] = a_off;
#else
        left[i] = subgroupMatrixLoad<subgroup_matrix_left<f16, SG_K, SG_M>, row_major>(&As, a_off, A_STRIDE);
#endif
#endif
      }
      for (var j = 0u; j < FRAG_N; j++) {
        let n = wn + j * SG_N;
#if ${TRANS_B}
        // Staged [n][k]: element (k, n) of opB sits at n * B_STRIDE + k, a column-major block.
        let b_off = b_stage + n * B_STRIDE + kk;
#if ${EMULATE}
        let right = b_off;
#else
        let right = subgroupMatrixLoad<subgroup_matrix_right<f16, SG_N, SG_K>, col_major>(&Bs, b_off, B_STRIDE);
#endif
#else
        let b_off = b_stage + kk * B_STRIDE + n;
#if ${EMULATE}
        let right = b_off;
#else
        let right = subgroupMatrixLoad<subgroup_matrix_right<f16, SG_N, SG_K>, row_major>(&Bs, b_off, B_STRIDE);
#endif
#endif
        for (var i = 0u; i < FRAG_M; i++) {
#if ${EMULATE}
          acc[i * FRAG_N + j] = emulated_mma(lane, left[i], right, acc[i * FRAG_N + j]);
#else
          acc[i * FRAG_N + j] = subgroupMatrixMultiplyAccumulate(left[i], right, acc[i * FRAG_N + j]);
#endif
        }
      }
    }
#if ${DOUBLE_BUFFER}
    // The other buffer was last read in step s - 1, which every warp finished before the barrier
    // that ended it.
    if (more) {
      stash(tid, 1u - stage);
    }
    workgroupBarrier();
#else
    workgroupBarrier();
    if (more) {
      stash(tid, 0u);
    }
    workgroupBarrier();
#endif
  }

  let M = params.M;
  let N = params.N;
  let c_base = batch * M * N;
#if ${DIRECT_STORE}
  if (m0 + BM <= M && n0 + BN <= N) {
    for (var i = 0u; i < FRAG_M; i++) {
      for (var j = 0u; j < FRAG_N; j++) {
        let offset = c_base + (m0 + wm + i * SG_M) * N + n0 + wn + j * SG_N;
#if ${EMULATE}
        for (var e = 0u; e < LANE_ELEMS; e++) {
          c[offset + lane_row(lane, e) * N + lane_col(lane, e)] = acc[i * FRAG_N + j][e];
        }
#else
        subgroupMatrixStore<row_major>(&c, offset, acc[i * FRAG_N + j], N);
#endif
      }
    }
    return;
  }
#endif
  let own = warp * SCRATCH;
  for (var i = 0u; i < FRAG_M; i++) {
    for (var j = 0u; j < FRAG_N; j++) {
#if ${EMULATE}
      for (var e = 0u; e < LANE_ELEMS; e++) {
        scratch[own + lane_row(lane, e) * SG_N + lane_col(lane, e)] = acc[i * FRAG_N + j][e];
      }
#else
      subgroupMatrixStore<row_major>(&scratch, own, acc[i * FRAG_N + j], SG_N);
#endif
      workgroupBarrier();
      let row0 = m0 + wm + i * SG_M;
      let col0 = n0 + wn + j * SG_N;
      for (var e = lane; e < SCRATCH; e += SUBGROUP_SIZE) {
        let row = row0 + e / SG_N;
        let col = col0 + e % SG_N;
        if (row < M && col < N) {
          c[c_base + row * N + col] = scratch[own + e];
        }
      }
      workgroupBarrier();
    }
  }
}

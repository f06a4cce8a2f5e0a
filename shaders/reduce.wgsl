// Reductions (sum, max, argmax and their variants) over any set of axes, and `expand`, the
// broadcast that their backward rules need.
//
// The host views the input as two groups of dimensions, each with the input's own strides: the
// output dims (kept) and the reduced dims, after dropping size-1 dims and merging neighbours that
// are contiguous with each other. Output element o starts at out_offset(o); its r-th reduced
// element sits at out_offset(o) + red_offset(r). The reduced range may be cut into `chunks` pieces
// of chunk_len elements; each (output, chunk) pair is one job, and the host reduces the partial
// results in a second pass. Every order of operations is fixed by the shapes alone, so a result
// is the same on every run (no atomics).
//
// Entry points:
//   reduce_wg      one workgroup per job: threads stride over the chunk, then a tree in workgroup
//                  memory. For long, contiguous reduced ranges. Partials are laid out [outputs, chunks].
//   reduce_thread  one thread per job, serial over its chunk. For short reduced ranges, or when the
//                  kept dims are the contiguous ones (neighbouring threads read neighbouring
//                  addresses). Partials are laid out [chunks, outputs].
//   expand         (EXPAND) out[i] = g[j] * scale, with j = out_offset(i): here out_shape is the
//                  result's shape and out_strides index g, 0 along the dims that were reduced.
//                  MAX_GRAD routes g to the elements equal to the max, split evenly among ties.
//
// Sums are accumulated in blocks of BLOCK terms inside each thread and then tree-wise across
// threads and chunks, so rounding error grows with about BLOCK + log(n) rather than n.
// Max and argmax treat NaN as larger than everything (NaN propagates, as in PyTorch) and break
// ties by the smaller reduced index, which makes argmax return the first maximum.

struct Params {
  out_count: u32,
  red_count: u32,
  out_rank: u32,
  red_rank: u32,
  chunk_len: u32,
  chunks: u32,
  // Multiplies a sum when it is written out (1 / count for mean, 1 for partials).
  scale: f32,
  _pad: u32,
  out_shape: array<vec4u, 2>,
  out_strides: array<vec4u, 2>,
  red_shape: array<vec4u, 2>,
  red_strides: array<vec4u, 2>,
};

@group(0) @binding(0) var<uniform> params: Params;

// Threads per workgroup, chosen by the host: few for reduce_wg (each halving of the tree costs a
// barrier), 256 for the element-parallel entry points.
const WG = ${WG}u;
const BLOCK = 32u;
// Index of an accumulator that has seen no element yet (max and argmax).
const EMPTY = 0xffffffffu;

fn out_offset(o: u32) -> u32 {
  var rem = o;
  var off = 0u;
  for (var k = i32(params.out_rank) - 1; k >= 0; k--) {
    let q = u32(k) / 4u;
    let s = u32(k) % 4u;
    let d = params.out_shape[q][s];
    off += (rem % d) * params.out_strides[q][s];
    rem = rem / d;
  }
  return off;
}

fn red_offset(r: u32) -> u32 {
  var rem = r;
  var off = 0u;
  for (var k = i32(params.red_rank) - 1; k >= 0; k--) {
    let q = u32(k) / 4u;
    let s = u32(k) % 4u;
    let d = params.red_shape[q][s];
    off += (rem % d) * params.red_strides[q][s];
    rem = rem / d;
  }
  return off;
}

// By bit pattern, so that no compiler assumption about NaN can fold it away.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Equality that also matches NaN with NaN (a NaN maximum came from a NaN element).
fn same_value(a: f32, b: f32) -> bool {
  return a == b || (is_nan(a) && is_nan(b));
}

#if ${EXPAND}

@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#if ${MAX_GRAD}
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> m: array<f32>;
@group(0) @binding(5) var<storage, read> ties: array<f32>;
#endif

@compute @workgroup_size(WG)
fn expand(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.out_count) { return; }
  let j = out_offset(i);
#if ${MAX_GRAD}
  out[i] = select(0.0, g[j] / ties[j], same_value(x[i], m[j]));
#else
  out[i] = g[j] * params.scale;
#endif
}

#else

@group(0) @binding(1) var<storage, read> x: array<f32>;
#if ${HAS_AUX}
// LOAD_PRODUCT: the second factor; LOAD_COUNT_EQ: the max of each output; LOAD_IDX_IN: the
// argmax indices that go with the partial maxima in x.
@group(0) @binding(2) var<storage, read> aux: array<${AUX_T}>;
#endif
@group(0) @binding(${OUT_BINDING}) var<storage, read_write> out: array<f32>;
#if ${WRITE_IDX}
@group(0) @binding(${IDX_BINDING}) var<storage, read_write> out_idx: array<u32>;
#endif

// A running result: the value, and for max / argmax the reduced index it came from.
struct Acc {
  v: f32,
  i: u32,
};

var<workgroup> partial: array<Acc, WG>;

fn identity() -> Acc {
#if ${OP_MAX}
  return Acc(0.0, EMPTY);
#else
  return Acc(0.0, 0u);
#endif
}

fn combine(a: Acc, b: Acc) -> Acc {
#if ${OP_MAX}
  if (b.i == EMPTY) { return a; }
  if (a.i == EMPTY) { return b; }
  let an = is_nan(a.v);
  let bn = is_nan(b.v);
  var take_b = b.v > a.v;
  if (an || bn) {
    take_b = bn && (!an || b.i < a.i);
  } else if (a.v == b.v) {
    take_b = b.i < a.i;
  }
  if (take_b) { return b; }
  return a;
#else
  return Acc(a.v + b.v, 0u);
#endif
}

// The r-th reduced element of output o, stored at x[idx].
fn load(o: u32, idx: u32, r: u32) -> Acc {
#if ${LOAD_SQUARE}
  let v = x[idx];
  return Acc(v * v, r);
#elif ${LOAD_PRODUCT}
  return Acc(x[idx] * aux[idx], r);
#elif ${LOAD_COUNT_EQ}
  return Acc(select(0.0, 1.0, same_value(x[idx], aux[o])), r);
#elif ${LOAD_IDX_IN}
  return Acc(x[idx], aux[idx]);
#else
  return Acc(x[idx], r);
#endif
}

// One thread folds the elements r = first, first + step, ... below end, BLOCK at a time, so a long
// sum adds block sums of similar size instead of growing one accumulator by tiny terms.
fn fold_range(o: u32, base: u32, first: u32, end: u32, step: u32) -> Acc {
  var total = identity();
  var block = identity();
  var n = 0u;
  for (var r = first; r < end; r += step) {
    block = combine(block, load(o, base + red_offset(r), r));
    n++;
    if (n == BLOCK) {
      total = combine(total, block);
      block = identity();
      n = 0u;
    }
  }
  return combine(total, block);
}

fn finish(job: u32, a: Acc) {
#if ${OP_MAX}
  out[job] = a.v;
#else
  out[job] = a.v * params.scale;
#endif
#if ${WRITE_IDX}
  out_idx[job] = a.i;
#endif
}

@compute @workgroup_size(WG)
fn reduce_wg(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  // Workgroup-uniform, so returning early keeps the barriers below in uniform control flow.
  let job = wid.x + wid.y * nwg.x;
  if (job >= params.out_count * params.chunks) { return; }
  let o = job / params.chunks;
  let c = job % params.chunks;
  let start = c * params.chunk_len;
  let end = min(start + params.chunk_len, params.red_count);
  partial[t] = fold_range(o, out_offset(o), start + t, end, WG);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (t < s) {
      partial[t] = combine(partial[t], partial[t + s]);
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    finish(job, partial[0]);
  }
}

@compute @workgroup_size(WG)
fn reduce_thread(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let job = gid.x + gid.y * nwg.x * WG;
  if (job >= params.out_count * params.chunks) { return; }
  let c = job / params.out_count;
  let o = job % params.out_count;
  let start = c * params.chunk_len;
  let end = min(start + params.chunk_len, params.red_count);
  finish(job, fold_range(o, out_offset(o), start, end, 1u));
}

#endif

// Light image augmentation for training batches, fused into one pass (and optionally fused with the
// batch gather): random shift (pad by k pixels, crop back at a random offset) and horizontal flip.
//
// Layout: the output is [B, C, H, W]; one thread per output element. Sample b (its position in the
// batch) reads source row b, or with GATHER row indices[b] of the dataset tensor [rows, C, H, W].
//
// Per-sample decisions are a pure function of (seed, step, b), never of the launch shape or of the
// dataset row: words = Philox4x32-10(counter = (b, step_lo, step_hi, AUG_DOMAIN), key = (seed_lo, seed_hi)),
//   oy = floor(words.x * (2k + 1) / 2^32), dy = oy - k   (the crop offset in the padded image, minus k)
//   ox = floor(words.y * (2k + 1) / 2^32), dx = ox - k
//   flip = (words.z >> 8) < flip_threshold,  flip_threshold = round(p * 2^24)   (p = 1 always flips)
// so nothing random is drawn on the CPU and the CPU twin (augmentDecision in src/lab/data/augment.ts)
// reproduces them exactly. The counter's last word separates this stream from dropout's, whose
// counters have 0 there, so one seed can serve both without the draws coinciding.
//
// The pixel rule: crop first, then mirror the crop,
//   out[b, c, y, x] = src[row, c, y + dy, xs + dx]   with xs = flip ? W - 1 - x : x,
// and `fill` where (y + dy, xs + dx) falls in the padding. fill is 0 for raw [0, 1] images and the
// standardised value of a black pixel for normalised ones. With GATHER an index outside 0..rows-1
// gives an all-fill sample, never an out-of-bounds read.

struct Params {
  // Output elements B * C * H * W.
  n: u32,
  channels: u32,
  height: u32,
  width: u32,
  // k: largest shift in pixels along each axis.
  shift: u32,
  flip_threshold: u32,
  key_lo: u32,
  key_hi: u32,
  step_lo: u32,
  step_hi: u32,
  fill: f32,
  // GATHER: samples in the source tensor (bound for the indices).
  rows: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
#if ${GATHER}
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

const WG = 256u;
// 'AUG' in ASCII: the domain word of the Philox counter.
const AUG_DOMAIN = 0x00415547u;

${PHILOX}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let W = params.width;
  let H = params.height;
  let C = params.channels;
  let x = i % W;
  let y = (i / W) % H;
  let c = (i / (W * H)) % C;
  let b = i / (W * H * C);

  // Every thread of a sample recomputes the same words: cheaper than a second pass, and
  // bandwidth, not these few dozen integer ops, bounds the kernel.
  let words = philox4x32_10(vec4u(b, params.step_lo, params.step_hi, AUG_DOMAIN), vec2u(params.key_lo, params.key_hi));
  let span = 2u * params.shift + 1u;
  let dy = i32(mulhilo(words.x, span).x) - i32(params.shift);
  let dx = i32(mulhilo(words.y, span).x) - i32(params.shift);
  let flip = (words.z >> 8u) < params.flip_threshold;

  var xs = i32(x);
  if (flip) { xs = i32(W) - 1 - xs; }
  let sy = i32(y) + dy;
  let sx = xs + dx;

#if ${GATHER}
  let row = indices[b];
  let valid_row = row < params.rows;
#else
  let row = b;
  let valid_row = true;
#endif
  var v = params.fill;
  if (valid_row && sy >= 0 && sy < i32(H) && sx >= 0 && sx < i32(W)) {
    v = src[((row * C + c) * H + u32(sy)) * W + u32(sx)];
  }
  out[i] = v;
}

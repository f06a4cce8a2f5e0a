// Fused optimizer updates, in place: one invocation per parameter element reads the gradient and
// rewrites the parameter and its optimizer state in the same pass (no temporaries, no readback).
//
// ADAMW (PyTorch's torch.optim.AdamW, single-tensor path):
//   p <- p * (1 - lr * wd)                      decoupled weight decay
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g * g
//   p <- p - step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps)
// with step_size = lr / (1 - beta1^t) and inv_sqrt_bc2 = 1 / sqrt(1 - beta2^t). The host computes
// these per step in float64: 1 - 0.999^t is 1e-3 at t = 1, and forming it in f32 loses digits.
//
// SGD (PyTorch's torch.optim.SGD):
//   d <- g + wd * p                             coupled weight decay
//   buf <- d on a parameter's first update, else momentum * buf + (1 - dampening) * d
//   u <- d + momentum * buf (nesterov) or buf; without momentum u <- d
//   p <- p - lr * u
//
// Several parameters per dispatch. One dispatch updates COUNT (1 to 4) parameters: the invocations
// run over their elements one parameter after the other (slots[k].end is where parameter k's
// elements end), each with its own scalars (its group's weight decay and lr, its own step count).
// A step then costs one dispatch per few parameters instead of one per parameter; each element's
// arithmetic is the same as with one parameter per dispatch. Parameter k's buffers are bound from
// @binding(BASE_k) on: p, g, then the state (m and v for AdamW, the momentum buffer for SGD).

// Scalars of one parameter. AdamW: a = 1 - lr * weight_decay, b = lr / (1 - beta1^t),
// c = 1 / sqrt(1 - beta2^t). SGD: a = lr, b = weight_decay, first = 1 on the parameter's first
// update (the momentum buffer starts as the gradient itself).
struct Slot {
  end: u32,
  first: u32,
  a: f32,
  b: f32,
  c: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
};

struct Params {
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  momentum: f32,
  // 1 - dampening
  one_minus_dampening: f32,
  _pad0: u32,
  slots: array<Slot, 4>,
};

@group(0) @binding(0) var<uniform> params: Params;

@group(0) @binding(${BASE_0}) var<storage, read_write> p0: array<f32>;
@group(0) @binding(${BASE_0} + 1) var<storage, read> g0: array<f32>;
#if ${ADAMW}
@group(0) @binding(${BASE_0} + 2) var<storage, read_write> m0: array<f32>;
@group(0) @binding(${BASE_0} + 3) var<storage, read_write> v0: array<f32>;
#elif ${MOMENTUM}
@group(0) @binding(${BASE_0} + 2) var<storage, read_write> buf0: array<f32>;
#endif

#if ${HAS_1}
@group(0) @binding(${BASE_1}) var<storage, read_write> p1: array<f32>;
@group(0) @binding(${BASE_1} + 1) var<storage, read> g1: array<f32>;
#if ${ADAMW}
@group(0) @binding(${BASE_1} + 2) var<storage, read_write> m1: array<f32>;
@group(0) @binding(${BASE_1} + 3) var<storage, read_write> v1: array<f32>;
#elif ${MOMENTUM}
@group(0) @binding(${BASE_1} + 2) var<storage, read_write> buf1: array<f32>;
#endif
#endif

#if ${HAS_2}
@group(0) @binding(${BASE_2}) var<storage, read_write> p2: array<f32>;
@group(0) @binding(${BASE_2} + 1) var<storage, read> g2: array<f32>;
#if ${ADAMW}
@group(0) @binding(${BASE_2} + 2) var<storage, read_write> m2: array<f32>;
@group(0) @binding(${BASE_2} + 3) var<storage, read_write> v2: array<f32>;
#elif ${MOMENTUM}
@group(0) @binding(${BASE_2} + 2) var<storage, read_write> buf2: array<f32>;
#endif
#endif

#if ${HAS_3}
@group(0) @binding(${BASE_3}) var<storage, read_write> p3: array<f32>;
@group(0) @binding(${BASE_3} + 1) var<storage, read> g3: array<f32>;
#if ${ADAMW}
@group(0) @binding(${BASE_3} + 2) var<storage, read_write> m3: array<f32>;
@group(0) @binding(${BASE_3} + 3) var<storage, read_write> v3: array<f32>;
#elif ${MOMENTUM}
@group(0) @binding(${BASE_3} + 2) var<storage, read_write> buf3: array<f32>;
#endif
#endif

// One element's update: the new (p, m, v) for AdamW, (p, buf, unused) for SGD.
fn update(pi_in: f32, gi: f32, s0: f32, s1: f32, slot: Slot) -> vec3f {
#if ${ADAMW}
  let pi = pi_in * slot.a;
  let mi = params.beta1 * s0 + params.one_minus_beta1 * gi;
  let vi = params.beta2 * s1 + params.one_minus_beta2 * (gi * gi);
  return vec3f(pi - slot.b * (mi / (sqrt(vi) * slot.c + params.eps)), mi, vi);
#else
  let d = gi + slot.b * pi_in;
#if ${MOMENTUM}
  var b = d;
  if (slot.first == 0u) {
    b = params.momentum * s0 + params.one_minus_dampening * d;
  }
#if ${NESTEROV}
  let u = d + params.momentum * b;
#else
  let u = b;
#endif
#else
  let b = 0.0;
  let u = d;
#endif
  return vec3f(pi_in - slot.a * u, b, 0.0);
#endif
}

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < params.slots[0].end) {
#if ${ADAMW}
    let r = update(p0[i], g0[i], m0[i], v0[i], params.slots[0]);
    m0[i] = r.y;
    v0[i] = r.z;
#elif ${MOMENTUM}
    let r = update(p0[i], g0[i], buf0[i], 0.0, params.slots[0]);
    buf0[i] = r.y;
#else
    let r = update(p0[i], g0[i], 0.0, 0.0, params.slots[0]);
#endif
    p0[i] = r.x;
    return;
  }
#if ${HAS_1}
  if (i < params.slots[1].end) {
    let j = i - params.slots[0].end;
#if ${ADAMW}
    let r = update(p1[j], g1[j], m1[j], v1[j], params.slots[1]);
    m1[j] = r.y;
    v1[j] = r.z;
#elif ${MOMENTUM}
    let r = update(p1[j], g1[j], buf1[j], 0.0, params.slots[1]);
    buf1[j] = r.y;
#else
    let r = update(p1[j], g1[j], 0.0, 0.0, params.slots[1]);
#endif
    p1[j] = r.x;
    return;
  }
#endif
#if ${HAS_2}
  if (i < params.slots[2].end) {
    let j = i - params.slots[1].end;
#if ${ADAMW}
    let r = update(p2[j], g2[j], m2[j], v2[j], params.slots[2]);
    m2[j] = r.y;
    v2[j] = r.z;
#elif ${MOMENTUM}
    let r = update(p2[j], g2[j], buf2[j], 0.0, params.slots[2]);
    buf2[j] = r.y;
#else
    let r = update(p2[j], g2[j], 0.0, 0.0, params.slots[2]);
#endif
    p2[j] = r.x;
    return;
  }
#endif
#if ${HAS_3}
  if (i < params.slots[3].end) {
    let j = i - params.slots[2].end;
#if ${ADAMW}
    let r = update(p3[j], g3[j], m3[j], v3[j], params.slots[3]);
    m3[j] = r.y;
    v3[j] = r.z;
#elif ${MOMENTUM}
    let r = update(p3[j], g3[j], buf3[j], 0.0, params.slots[3]);
    buf3[j] = r.y;
#else
    let r = update(p3[j], g3[j], 0.0, 0.0, params.slots[3]);
#endif
    p3[j] = r.x;
  }
#endif
}

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

#if ${ADAMW}
struct Params {
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  // 1 - lr * weight_decay
  decay: f32,
  // lr / (1 - beta1^t)
  step_size: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  // 1 / sqrt(1 - beta2^t)
  inv_sqrt_bc2: f32,
  eps: f32,
};
#else
struct Params {
  n: u32,
  // 1 on the parameter's first update: the momentum buffer starts as the gradient itself.
  first: u32,
  _pad0: u32,
  _pad1: u32,
  lr: f32,
  weight_decay: f32,
  momentum: f32,
  // 1 - dampening
  one_minus_dampening: f32,
};
#endif

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
#if ${ADAMW}
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
#elif ${MOMENTUM}
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;
#endif

const WG = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let gi = g[i];
#if ${ADAMW}
  let pi = p[i] * params.decay;
  let mi = params.beta1 * m[i] + params.one_minus_beta1 * gi;
  let vi = params.beta2 * v[i] + params.one_minus_beta2 * (gi * gi);
  m[i] = mi;
  v[i] = vi;
  p[i] = pi - params.step_size * (mi / (sqrt(vi) * params.inv_sqrt_bc2 + params.eps));
#else
  let pi = p[i];
  let d = gi + params.weight_decay * pi;
#if ${MOMENTUM}
  var b = d;
  if (params.first == 0u) {
    b = params.momentum * buf[i] + params.one_minus_dampening * d;
  }
  buf[i] = b;
#if ${NESTEROV}
  let u = d + params.momentum * b;
#else
  let u = b;
#endif
#else
  let u = d;
#endif
  p[i] = pi - params.lr * u;
#endif
}

// Elementwise unary ops on f32, forward (`main`) and backward (`backward`).
// The op is chosen at pipeline-compile time by exactly one OP_* define being true.
// backward: dx = dy * f'(s), where s is the op's saved tensor: the input x for most ops,
// the output y for exp / sqrt / tanh / sigmoid (cheaper and exactly what PyTorch saves).
//
// NaN in, NaN out, as PyTorch, on every adapter. WGSL leaves NaN to the implementation in max,
// clamp, exp and friends (SwiftShader gives relu 0, sigmoid 0 and tanh -1 for NaN), so a NaN
// input is passed through explicitly, found by its bits (a v != v test may be optimised away).
// Finite inputs take exactly the same arithmetic as before: only the select is added. Where
// PyTorch's result does not depend on a NaN, neither does ours: pow(NaN, 0) = 1; the gradients of
// neg and affine ignore x; relu's lets dy through at a NaN input (torch's threshold_backward).

struct Params {
  n: u32,
  // Scalar argument: the exponent for pow, the value for affine's scale.
  alpha: f32,
  // Second scalar: affine's shift.
  beta: f32,
  _pad: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#if ${BACKWARD}
@group(0) @binding(3) var<storage, read> s: array<f32>;
#endif

const WG = 256u;

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Whether a NaN input makes the forward result NaN (PyTorch: pow(NaN, 0) = 1).
fn forward_keeps_nan() -> bool {
#if ${OP_POW}
  return params.alpha != 0.0;
#else
  return true;
#endif
}

// Whether a NaN in the saved tensor makes the gradient NaN (see the header).
fn backward_keeps_nan() -> bool {
#if ${OP_NEG}
  return false;
#elif ${OP_AFFINE}
  return false;
#elif ${OP_RELU}
  return false;
#else
  return true;
#endif
}

// safe_tanh, gelu_erf, gelu_tanh and their derivatives on f32 (shaders/activation.wgsl, shared
// with linear's fused activations in matmul.wgsl).
${ACTIVATION}

// pow with a scalar exponent; WGSL's pow is undefined for negative bases, so integer exponents
// are handled by sign.
fn spow(v: f32, e: f32) -> f32 {
  if (e == 0.0) { return 1.0; }
  if (e == 1.0) { return v; }
  if (e == 2.0) { return v * v; }
  let m = pow(abs(v), e);
  if (v >= 0.0) { return m; }
  // NaN, as in PyTorch. Built from v so the compiler cannot fold (and reject) a constant NaN.
  if (fract(e) != 0.0) { return bitcast<f32>(0x7fc00000u | (bitcast<u32>(v) & 0u)); }
  let odd = (i32(e) & 1) == 1;
  return select(m, -m, odd);
}

// log and sqrt outside their domain, as in PyTorch: log(0) = -inf, log(x < 0) = sqrt(x < 0) = NaN.
// WGSL leaves those results to the implementation (SwiftShader gives -88.03 and 0 for log), so
// only positive inputs reach the builtins. Constants built from v so the compiler cannot fold them.
fn neg_inf_from(v: f32) -> f32 {
  return bitcast<f32>(0xff800000u | (bitcast<u32>(v) & 0u));
}

fn nan_from(v: f32) -> f32 {
  return bitcast<f32>(0x7fc00000u | (bitcast<u32>(v) & 0u));
}

fn domain_log(v: f32) -> f32 {
  if (v > 0.0) { return log(v); }
  if (v == 0.0) { return neg_inf_from(v); }
  return nan_from(v);
}

fn domain_sqrt(v: f32) -> f32 {
  if (v >= 0.0) { return sqrt(v); }
  return nan_from(v);
}

fn forward_op(v: f32) -> f32 {
#if ${OP_EXP}
  return exp(v);
#elif ${OP_LOG}
  return domain_log(v);
#elif ${OP_SQRT}
  return domain_sqrt(v);
#elif ${OP_NEG}
  return -v;
#elif ${OP_POW}
  return spow(v, params.alpha);
#elif ${OP_RELU}
  return max(v, 0.0);
#elif ${OP_GELU_TANH}
  return gelu_tanh(v);
#elif ${OP_GELU_ERF}
  return gelu_erf(v);
#elif ${OP_TANH}
  return safe_tanh(v);
#elif ${OP_SIGMOID}
  return 1.0 / (1.0 + exp(-v));
#elif ${OP_AFFINE}
  return v * params.alpha + params.beta;
#endif
}

// Derivative f'(.) as a function of the saved tensor value sv (see the header).
fn derivative(sv: f32) -> f32 {
#if ${OP_EXP}
  return sv;
#elif ${OP_LOG}
  return 1.0 / sv;
#elif ${OP_SQRT}
  return 0.5 / sv;
#elif ${OP_NEG}
  return -1.0;
#elif ${OP_POW}
  return params.alpha * spow(sv, params.alpha - 1.0);
#elif ${OP_RELU}
  return select(select(0.0, 1.0, sv > 0.0), 1.0, is_nan(sv));
#elif ${OP_GELU_TANH}
  return gelu_tanh_grad(sv);
#elif ${OP_GELU_ERF}
  return gelu_erf_grad(sv);
#elif ${OP_TANH}
  return 1.0 - sv * sv;
#elif ${OP_SIGMOID}
  return sv * (1.0 - sv);
#elif ${OP_AFFINE}
  return params.alpha;
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
#if ${BACKWARD}
  let g = x[i];
  let sv = s[i];
  let dx = g * derivative(sv);
  y[i] = select(select(dx, sv, backward_keeps_nan() && is_nan(sv)), g, is_nan(g));
#else
  let v = x[i];
  y[i] = select(forward_op(v), v, forward_keeps_nan() && is_nan(v));
#endif
}

// gelu (exact and tanh forms) with its derivatives and the helpers they need, shared by unary.wgsl
// (elementwise, T = f32) and matmul.wgsl (linear's epilogue, T = vec4f, componentwise). Not a
// kernel on its own: a kernel includes it through snippet() with T bound (src/runtime/kernel.ts).

const SQRT_2_OVER_PI = 0.7978845608028654;
const GELU_C = 0.044715;
const INV_SQRT_2 = 0.7071067811865476;
const INV_SQRT_2PI = 0.3989422804014327;

// tanh that never overflows: |x| > 15 already rounds to +-1 in f32.
fn safe_tanh(v: ${T}) -> ${T} {
  return tanh(clamp(v, ${T}(-15.0), ${T}(15.0)));
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below f32 resolution near 1); WGSL has no erf.
fn erf_approx(v: ${T}) -> ${T} {
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let r = 1.0 - p * exp(-a * a);
  return select(r, -r, v < ${T}(0.0));
}

// gelu(z) = z * Phi(z), the exact (erf) form.
fn gelu_erf(z: ${T}) -> ${T} {
  return 0.5 * z * (1.0 + erf_approx(z * INV_SQRT_2));
}

// The tanh approximation of gelu.
fn gelu_tanh(z: ${T}) -> ${T} {
  return 0.5 * z * (1.0 + safe_tanh(SQRT_2_OVER_PI * (z + GELU_C * z * z * z)));
}

fn gelu_erf_grad(s: ${T}) -> ${T} {
  return 0.5 * (1.0 + erf_approx(s * INV_SQRT_2)) + s * INV_SQRT_2PI * exp(-0.5 * s * s);
}

fn gelu_tanh_grad(s: ${T}) -> ${T} {
  let t = safe_tanh(SQRT_2_OVER_PI * (s + GELU_C * s * s * s));
  return 0.5 * (1.0 + t) + 0.5 * s * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * s * s);
}

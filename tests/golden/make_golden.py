#!/usr/bin/python3
"""Generates the PyTorch reference outputs that tests/golden.test.ts compares wgtrain with.

Run with Debian's python3-torch (not in CI, hence the outputs are committed):

    /usr/bin/python3 tests/golden/make_golden.py

Every input is drawn from one seeded torch.Generator, rounded to 3 decimals and then to float32, so
it is written as a short decimal that reads back (Float32Array / Math.fround) as exactly the float32
value PyTorch used. All computation runs in float64 on those values; outputs and gradients are
written rounded to float32 (shortest round-trip decimal), i.e. the best answer an f32 engine could give.

A tensor is {"shape": [...], "data": [...]} (row-major). For tensor-valued ops the scalar loss is
sum(out * w) with a stored random `w`, so the gradients are those of that loss (w = d loss / d out).
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common
from golden_common import enc, rounded

SEED = 20240611
draws = golden_common.Draws(SEED)
gen = draws.gen
loss_weights = draws.loss_weights
labels = draws.labels


def f32_input(values):
    """float64 leaf holding exactly float32-representable values (3 decimals, then f32 rounding)."""
    return rounded(values.double()).requires_grad_()


def randn(*shape, scale=1.0, shift=0.0):
    return draws.randn(*shape, scale=scale, shift=shift).requires_grad_()


def grad_of(loss, *inputs):
    return torch.autograd.grad(loss, inputs)


def dump(name, cases, description):
    golden_common.dump(name, cases, description, "tests/golden/make_golden.py", SEED)


# ---------------------------------------------------------------- matmul

def make_matmul():
    # Odd sizes around typical tile edges (16/32/64/128) in each of M, K, N; batched and broadcast.
    shapes = [
        ("3x17 @ 17x5", (3, 17), (17, 5)),
        ("1x7 @ 7x1", (1, 7), (7, 1)),
        ("65x9 @ 9x33", (65, 9), (9, 33)),
        ("2x65 @ 65x3", (2, 65), (65, 3)),
        ("5x9 @ 9x129", (5, 9), (9, 129)),
        ("batched [2,3,4,5] @ [5,6]", (2, 3, 4, 5), (5, 6)),
        ("batched [2,4,5] @ [2,5,3]", (2, 4, 5), (2, 5, 3)),
    ]
    cases = []
    for name, sa, sb in shapes:
        a, b = randn(*sa), randn(*sb)
        out = torch.matmul(a, b)
        w = loss_weights(*out.shape)
        ga, gb = grad_of((out * w).sum(), a, b)
        cases.append({"name": name, "a": enc(a), "b": enc(b), "w": enc(w), "out": enc(out),
                      "grad_a": enc(ga), "grad_b": enc(gb)})
    dump("matmul.json", cases, "out = a @ b (torch.matmul); grads of sum(out * w) wrt a and b")


# ---------------------------------------------------------------- layer_norm

def make_layer_norm():
    cases = []
    for shape in [(5, 17), (2, 3, 33)]:
        d = shape[-1]
        x = randn(*shape).detach()
        # Rows with a large offset and a small spread: the mean must be subtracted stably, and
        # eps (1e-5 vs 1e-6) visibly changes the result when the variance is ~2.5e-3.
        x.view(-1, d)[0] = f32_input(torch.randn(d, generator=gen, dtype=torch.float64) * 0.05 + 0.5).detach()
        x.view(-1, d)[1] = f32_input(torch.randn(d, generator=gen, dtype=torch.float64) * 3 + 10).detach()
        x.requires_grad_()
        weight = randn(d, scale=0.5, shift=1.0)
        bias = randn(d, scale=0.5)
        w = loss_weights(*shape)
        for eps in (1e-5, 1e-6):
            out = F.layer_norm(x, (d,), weight, bias, eps)
            gx, gw, gb = grad_of((out * w).sum(), x, weight, bias)
            cases.append({"name": f"{list(shape)} eps={eps}", "eps": eps, "x": enc(x), "weight": enc(weight),
                          "bias": enc(bias), "w": enc(w), "out": enc(out), "grad_x": enc(gx),
                          "grad_weight": enc(gw), "grad_bias": enc(gb)})
    dump("layer_norm.json", cases,
         "out = F.layer_norm(x, (x.shape[-1],), weight, bias, eps); grads of sum(out * w) wrt x, weight, bias. "
         "Row 0 has mean 0.5 and std 0.05 (eps matters), row 1 mean 10 and std 3.")


# ---------------------------------------------------------------- softmax / log_softmax

def make_softmax():
    inputs = [
        ("[6,17]", randn(6, 17)),
        ("[2,3,5]", randn(2, 3, 5)),
        # Wider than a 256-thread workgroup, and large enough that exp() overflows float32
        # unless the row maximum is subtracted first.
        ("[2,257] large", randn(2, 257, scale=10, shift=60)),
    ]
    cases = []
    for name, x in inputs:
        axes = [-1] if "large" in name else [-1, 0]
        for axis in axes:
            w = loss_weights(*x.shape)
            case = {"name": f"{name} axis={axis}", "axis": axis, "x": enc(x), "w": enc(w)}
            for op, fn in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
                out = fn(x, dim=axis)
                (gx,) = grad_of((out * w).sum(), x)
                case[op] = {"out": enc(out), "grad_x": enc(gx)}
            cases.append(case)
    dump("softmax.json", cases,
         "softmax and log_softmax of x along `axis`; for each, out and the grad of sum(out * w) wrt x")


# ---------------------------------------------------------------- cross_entropy

def make_cross_entropy():
    logits = randn(7, 10, scale=2)
    y = labels(7, 10)
    w_none = loss_weights(7)
    cases = []
    for smoothing in (0.0, 0.1):
        for reduction in ("mean", "sum", "none"):
            loss = F.cross_entropy(logits, y, label_smoothing=smoothing, reduction=reduction)
            scalar = (loss * w_none).sum() if reduction == "none" else loss
            (g,) = grad_of(scalar, logits)
            case = {"name": f"smoothing={smoothing} reduction={reduction}", "label_smoothing": smoothing,
                    "reduction": reduction, "logits": enc(logits), "labels": enc(y)}
            if reduction == "none":
                case["w"] = enc(w_none)
            case["loss"] = enc(loss)
            case["grad_logits"] = enc(g)
            cases.append(case)
    dump("cross_entropy.json", cases,
         "loss = F.cross_entropy(logits, labels, label_smoothing, reduction); grad wrt logits of the loss "
         "(reduction mean/sum) or of sum(loss * w) (reduction none)")


# ---------------------------------------------------------------- gelu

def make_gelu():
    grid = torch.arange(-96, 97, dtype=torch.float64) / 16  # -6 .. 6 in steps of 1/16, 0 included
    x = f32_input(torch.cat([grid, torch.rand(31, generator=gen, dtype=torch.float64) * 12 - 6]))
    w = loss_weights(*x.shape)
    cases = []
    for approximate in ("none", "tanh"):
        out = F.gelu(x, approximate=approximate)
        (gx,) = grad_of((out * w).sum(), x)
        cases.append({"name": f"approximate={approximate}", "approximate": approximate, "x": enc(x), "w": enc(w),
                      "out": enc(out), "grad_x": enc(gx)})
    dump("gelu.json", cases, "out = F.gelu(x, approximate); grad of sum(out * w) wrt x")


# ---------------------------------------------------------------- two-layer MLP

def make_mlp():
    x = randn(8, 12)
    w1 = randn(12, 16, scale=0.4)
    b1 = randn(16, scale=0.1)
    w2 = randn(16, 10, scale=0.4)
    b2 = randn(10, scale=0.1)
    y = labels(8, 10)
    h = x @ w1 + b1
    # relu's kink: a pre-activation within float32 rounding of 0 could flip sides on the GPU.
    assert h.abs().min().item() > 1e-3, "regenerate with another seed: a hidden pre-activation is too close to 0"
    logits = torch.relu(h) @ w2 + b2
    loss = F.cross_entropy(logits, y, label_smoothing=0.1)
    grads = grad_of(loss, w1, b1, w2, b2)
    case = {"name": "mlp 12-16-10 relu, label_smoothing=0.1", "label_smoothing": 0.1, "x": enc(x), "labels": enc(y),
            "w1": enc(w1), "b1": enc(b1), "w2": enc(w2), "b2": enc(b2), "loss": enc(loss)}
    for k, g in zip(("grad_w1", "grad_b1", "grad_w2", "grad_b2"), grads):
        case[k] = enc(g)
    dump("mlp.json", [case],
         "loss = cross_entropy(relu(x @ w1 + b1) @ w2 + b2, labels, label_smoothing=0.1) (mean); grads of "
         "w1 [in,out], b1, w2 [in,out], b2. linear() takes weight [out,in] = w1 transposed.")


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    make_matmul()
    make_layer_norm()
    make_softmax()
    make_cross_entropy()
    make_gelu()
    make_mlp()

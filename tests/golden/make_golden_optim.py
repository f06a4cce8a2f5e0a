#!/usr/bin/python3
"""Generates the PyTorch optimizer trajectories that tests/golden_optim.test.ts compares wgtrain with.

Run with Debian's python3-torch (not in CI, hence the output is committed):

    /usr/bin/python3 tests/golden/make_golden_optim.py

Each case builds a few parameters, puts them in torch.optim.AdamW or torch.optim.SGD parameter
groups, and runs 5 steps with fixed gradients that are stored per step. A gradient left out of a
step means `.grad = None` there: PyTorch skips that parameter (its state and its own step count
do not move). The learning rate changes every step (as a schedule would set it); a group's lr is
the step's lr times the group's `lr_scale`.

Inputs (initial parameters, gradients) are random, rounded to 3 decimals and then to float32, so
their short decimals read back as exactly the float32 values PyTorch used. The trajectory is
computed in float64 on those values and each step's parameters are written rounded to float32
(shortest round-trip decimal): the best an f32 engine can do. The script also runs the same case
with float32 tensors and prints how far PyTorch's own f32 result is from that reference, as a
sense of scale for the test's tolerance.
"""
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240612
gen = torch.Generator().manual_seed(SEED)
STEPS = 5


def f32_values(*shape, scale=1.0):
    q = torch.round(torch.randn(shape, generator=gen, dtype=torch.float64) * scale * 1000) / 1000
    return q.float().double()


def f32_number(v):
    return float(str(np.float32(v)))


def enc(t):
    return {"shape": list(t.shape), "data": [f32_number(v) for v in t.detach().reshape(-1).tolist()]}


def run(case, dtype):
    """Runs the case with tensors of `dtype`; returns the parameters after each step."""
    params = {n: v.clone().to(dtype).requires_grad_() for n, v in case["init"].items()}
    groups = [
        {"params": [params[n] for n in g["names"]], "weight_decay": g["weight_decay"], "lr": 0.0}
        for g in case["groups"]
    ]
    if case["optimizer"] == "AdamW":
        opt = torch.optim.AdamW(groups, **case["options"])
    else:
        opt = torch.optim.SGD(groups, lr=0.0, **case["options"])
    out = []
    for step in case["steps"]:
        for g, spec in zip(opt.param_groups, case["groups"]):
            g["lr"] = step["lr"] * spec["lr_scale"]
        for n, p in params.items():
            p.grad = step["grads"][n].clone().to(dtype) if n in step["grads"] else None
        opt.step()
        out.append({n: p.detach().double().clone() for n, p in params.items()})
    return out


def make_case(name, optimizer, options, shapes, groups, lrs, skips):
    init = {n: f32_values(*s) for n, s in shapes.items()}
    steps = []
    for t in range(STEPS):
        grads = {n: f32_values(*s) for n, s in shapes.items() if n not in skips.get(t, ())}
        steps.append({"lr": lrs[t], "grads": grads})
    case = {"optimizer": optimizer, "options": options, "groups": groups, "init": init, "steps": steps}
    ref = run(case, torch.float64)
    f32 = run(case, torch.float32)
    worst = max(
        float(((f32[t][n] - ref[t][n]).abs() / (1e-6 + ref[t][n].abs())).max())
        for t in range(STEPS)
        for n in shapes
    )
    print(f"  {name}: torch float32 vs float64, worst |diff| / (1e-6 + |ref|) = {worst:.2e}")
    return {
        "name": name,
        "optimizer": optimizer,
        "options": options,
        "groups": groups,
        "init": {n: enc(v) for n, v in init.items()},
        "steps": [
            {
                "lr": s["lr"],
                "grads": {n: enc(g) for n, g in s["grads"].items()},
                "params": {n: enc(p) for n, p in ref[t].items()},
            }
            for t, s in enumerate(steps)
        ],
    }


def main():
    shapes = {"fc.weight": (5, 7), "proj.weight": (3, 17), "fc.bias": (7,), "norm.weight": (1,)}
    cases = [
        make_case(
            "AdamW, decay 0.05 on weights and 0 on bias/norm, lr changing per step, fc.bias without grad at step 2",
            "AdamW",
            {"betas": [0.9, 0.999], "eps": 1e-8},
            shapes,
            [
                {"names": ["fc.weight", "proj.weight"], "weight_decay": 0.05, "lr_scale": 1.0},
                {"names": ["fc.bias", "norm.weight"], "weight_decay": 0.0, "lr_scale": 1.0},
            ],
            [0.01, 0.02, 0.015, 0.005, 0.01],
            {2: ("fc.bias",)},
        ),
        make_case(
            "AdamW, betas (0.8, 0.99), eps 1e-6, decay 0.1, second group at half the lr",
            "AdamW",
            {"betas": [0.8, 0.99], "eps": 1e-6},
            shapes,
            [
                {"names": ["fc.weight", "fc.bias"], "weight_decay": 0.1, "lr_scale": 1.0},
                {"names": ["proj.weight", "norm.weight"], "weight_decay": 0.0, "lr_scale": 0.5},
            ],
            [0.03, 0.03, 0.02, 0.01, 0.005],
            {0: ("norm.weight",)},
        ),
        make_case(
            "SGD, momentum 0.9, nesterov, decay 0.01 on weights, fc.bias without grad at steps 0 and 3",
            "SGD",
            {"momentum": 0.9, "nesterov": True},
            shapes,
            [
                {"names": ["fc.weight", "proj.weight"], "weight_decay": 0.01, "lr_scale": 1.0},
                {"names": ["fc.bias", "norm.weight"], "weight_decay": 0.0, "lr_scale": 1.0},
            ],
            [0.1, 0.1, 0.05, 0.05, 0.02],
            {0: ("fc.bias",), 3: ("fc.bias",)},
        ),
        make_case(
            "SGD, momentum 0.9, dampening 0.1, decay 0.001, no nesterov",
            "SGD",
            {"momentum": 0.9, "dampening": 0.1},
            shapes,
            [{"names": list(shapes), "weight_decay": 0.001, "lr_scale": 1.0}],
            [0.05, 0.04, 0.03, 0.02, 0.01],
            {},
        ),
    ]
    doc = {
        "generator": "tests/golden/make_golden_optim.py",
        "torch": torch.__version__,
        "seed": SEED,
        "description": "torch.optim trajectories: per case, initial params, groups and per-step lr, grads (absent = None) and params after the step",
    }
    path = os.path.join(HERE, "optim_steps.json")
    with open(path, "w") as f:
        f.write("{\n")
        for k, v in doc.items():
            f.write(f" {json.dumps(k)}: {json.dumps(v)},\n")
        f.write(' "cases": [\n')
        for i, case in enumerate(cases):
            f.write("  {\n")
            items = [(k, v) for k, v in case.items() if k != "steps"]
            for k, v in items:
                f.write(f"   {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))},\n")
            f.write('   "steps": [\n')
            for j, s in enumerate(case["steps"]):
                sep = "," if j < len(case["steps"]) - 1 else ""
                f.write(f"    {json.dumps(s, separators=(',', ':'))}{sep}\n")
            f.write("   ]\n")
            f.write("  }" + ("," if i < len(cases) - 1 else "") + "\n")
        f.write(" ]\n}\n")
    print(f"optim_steps.json: {len(cases)} cases, {os.path.getsize(path) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()

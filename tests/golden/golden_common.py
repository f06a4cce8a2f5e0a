"""What the golden generators share (make_golden.py, make_golden_nn.py): seeded float32-exact
inputs, the tensor encoding, and the file layout of a golden JSON file."""
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def rounded(t):
    """float64 holding exactly float32-representable values (3 decimals, then f32 rounding)."""
    return (torch.round(t * 1000) / 1000).float().double()


class Draws:
    """Random inputs from one seeded torch.Generator, in the order they are drawn."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)

    def randn(self, *shape, scale=1.0, shift=0.0):
        return rounded(torch.randn(shape, generator=self.gen, dtype=torch.float64) * scale + shift)

    def loss_weights(self, *shape):
        """The `w` of sum(out * w): random, 2 decimals (short in JSON), no gradient needed."""
        q = torch.round(torch.randn(shape, generator=self.gen, dtype=torch.float64) * 100) / 100
        return q.float().double()

    def labels(self, n, classes):
        return torch.randint(0, classes, (n,), generator=self.gen)


def f32_number(v):
    """The shortest decimal that reads back as float32(v) (round to nearest)."""
    return float(str(np.float32(v)))


def enc(t):
    t = t.detach()
    if t.dtype in (torch.int64, torch.int32):
        data = [int(v) for v in t.reshape(-1).tolist()]
    else:
        data = [f32_number(v) for v in t.reshape(-1).tolist()]
    return {"shape": list(t.shape), "data": data}


def dump(name, cases, description, generator, seed):
    """Writes tests/golden/<name>: header fields, then one case per line block (readable diffs,
    small files: no per-number indentation)."""
    doc = {"generator": generator, "torch": torch.__version__, "seed": seed,
           "description": description, "cases": cases}
    path = os.path.join(HERE, name)
    with open(path, "w") as f:
        f.write("{\n")
        for k in [k for k in doc if k != "cases"]:
            f.write(f" {json.dumps(k)}: {json.dumps(doc[k])},\n")
        f.write(' "cases": [\n')
        for i, case in enumerate(cases):
            f.write("  {\n")
            items = list(case.items())
            for j, (k, v) in enumerate(items):
                sep = "," if j < len(items) - 1 else ""
                f.write(f"   {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}{sep}\n")
            f.write("  }" + ("," if i < len(cases) - 1 else "") + "\n")
        f.write(" ]\n}\n")
    print(f"{name}: {len(cases)} cases, {os.path.getsize(path) / 1024:.1f} KiB")

#!/usr/bin/env python3
"""PyTorch eager's side of the training-step table: the same models, batch and step as
bench/train-core.ts, timed the same way, printed as JSON.

    python3 bench/torch_train_step.py [SPECS] [--device cuda|cpu] [--threads N] [--out FILE]

SPECS uses the bench's syntax (`WGTRAIN_BENCH_TRAIN`): `mlp`, `mlp:batch=256:width=32:dropout=0.1`,
`vit:depth=4:dim=128:heads=4:batch=128`, the lab presets' models `vit-xs` (dim 32, depth 4, 2 heads)
and `vit-m` (dim 128, depth 4, 4 heads), both MLP ratio 4, batch 128, and `mlp-cpu` (784-32-32-10,
batch 256, dropout 0.1 after each hidden layer: the CPU presets' kind of model at the size of the
step-cost issue). Default: `mlp,vit-xs,vit-m`.

The step is the one both engines run in train-core.ts: forward, cross entropy with label smoothing
0.1 (mean), backward, AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.05 on Linear and
patch-projection weights only). Dropout (nn.Dropout, a fresh mask per step) only in MLP specs that
ask for it, after each hidden ReLU. The ViT is wgtrain's: patches as a Linear over the
flattened 7x7 patch, cls token and position embedding, pre-LN blocks (eps 1e-6), qkv with bias,
exact-erf GELU, final LayerNorm on the cls token. Data: the bench's fixed LCG batch.

Timing: warm-up steps (10 on a GPU, 2 on the CPU), then batches of steps back to back ended by
reading the last loss (`.item()`, the sync a logging training loop pays), sized to about 300 ms
(GPU) / 1 s (CPU); median ms per step over 7 / 3 batches (`ms`: wall clock; `cpuMs`: CPU time of
the process, all threads, per step, which a machine shared with other jobs disturbs less). Compare
these numbers only with a wgtrain run on the same machine: this script is the PyTorch column, not a
reference constant.
"""
import argparse
import json
import math
import platform
import re
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

LR, BETAS, EPS, WEIGHT_DECAY, LABEL_SMOOTHING = 1e-3, (0.9, 0.999), 1e-8, 0.05, 0.1

PRESETS = {
    'vit-xs': dict(dim=32, depth=4, heads=2, mlpRatio=4, batch=128, patch=7),
    'vit-m': dict(dim=128, depth=4, heads=4, mlpRatio=4, batch=128, patch=7),
}


def parse_specs(text):
    specs = []
    for item in [s.strip() for s in text.split(',') if s.strip()]:
        kind, *opts = item.split(':')
        kv = {}
        for o in opts:
            m = re.fullmatch(r'(\w+)=(\d+(?:\.\d+)?)', o)
            if not m:
                sys.exit(f"torch_train_step: option '{o}' in '{item}' is not key=number")
            kv[m.group(1)] = float(m.group(2))
        if kind in ('mlp', 'mlp-cpu'):
            base = dict(batch=256, width=32, dropout=0.1) if kind == 'mlp-cpu' else dict(batch=128, width=256, dropout=0.0)
            for k in kv:
                if k not in base:
                    sys.exit(f"torch_train_step: unknown mlp option '{k}' (known: batch, width, dropout)")
            o = {**base, **kv}
            if not 0 <= o['dropout'] < 1:
                sys.exit(f"torch_train_step: mlp option dropout must be in [0, 1), got {o['dropout']}")
            specs.append(dict(kind='mlp', batch=int(o['batch']), hidden=[int(o['width'])] * 2, inFeatures=784, dropout=float(o['dropout'])))
        elif kind == 'vit' or kind in PRESETS:
            base = PRESETS.get(kind, dict(dim=64, depth=2, heads=4, mlpRatio=2, batch=128, patch=7))
            s = dict(kind='vit', **{k: kv.get(k, v) for k, v in base.items()})
            for k in ('dim', 'depth', 'heads', 'batch', 'patch'):
                s[k] = int(s[k])
            specs.append(s)
        else:
            sys.exit(f"torch_train_step: unknown model '{kind}' (mlp, mlp-cpu, vit, vit-xs, vit-m)")
    return specs


def describe(s):
    if s['kind'] == 'mlp':
        return f"MLP {'-'.join(str(w) for w in [s['inFeatures'], *s['hidden'], 10])}" + (f", dropout {s['dropout']:g}" if s['dropout'] else '')
    return f"ViT d{s['dim']} x{s['depth']} h{s['heads']} r{s['mlpRatio']:g} p{s['patch']}"


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, h):
        B, T, D = h.shape
        hd = D // self.heads
        q, k, v = self.qkv(self.norm1(h)).reshape(B, T, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        attn = torch.softmax((q * hd ** -0.5) @ k.transpose(-2, -1), dim=-1)
        h = h + self.proj((attn @ v).transpose(1, 2).reshape(B, T, D))
        return h + self.fc2(F.gelu(self.fc1(self.norm2(h))))


class ViT(nn.Module):
    def __init__(self, s, image=28, classes=10):
        super().__init__()
        self.patch, self.grid = s['patch'], image // s['patch']
        dim = s['dim']
        self.proj = nn.Linear(self.patch * self.patch, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, self.grid * self.grid + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, s['heads'], int(math.floor(s['mlpRatio'] * dim))) for _ in range(s['depth'])])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        B, g, p = x.shape[0], self.grid, self.patch
        patches = x.reshape(B, g, p, g, p).permute(0, 1, 3, 2, 4).reshape(B, g * g, p * p)
        h = torch.cat([self.cls_token.expand(B, -1, -1), self.proj(patches)], 1) + self.pos_embed
        h = self.blocks(h)
        return self.head(self.norm(h[:, 0]))


def build(s):
    if s['kind'] == 'mlp':
        layers, widths = [], [s['inFeatures'], *s['hidden']]
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()] + ([nn.Dropout(s['dropout'])] if s['dropout'] else [])
        return nn.Sequential(*layers, nn.Linear(widths[-1], 10))
    return ViT(s)


def synthetic_batch(s, image=28, classes=10):
    """train-core.ts's syntheticBatch: the same LCG, so the same pixels and labels."""
    features = s['inFeatures'] if s['kind'] == 'mlp' else image * image
    state, values = 0x2545F491, []
    for _ in range(s['batch'] * features + s['batch']):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        values.append(state / 4294967296)
    pixels = torch.tensor(values[: s['batch'] * features], dtype=torch.float32).reshape(s['batch'], features)
    labels = torch.tensor([math.floor(v * classes) for v in values[s['batch'] * features:]], dtype=torch.int64)
    return pixels, labels


def bench(s, device, warmup, repeats, target_ms, max_iters=100):
    torch.manual_seed(1)
    model = build(s).to(device).train()
    # Decay the Linear (and patch-projection) weights only, as the bench's AdamW groups do.
    decay = [p for n, p in model.named_parameters() if p.ndim == 2]
    rest = [p for n, p in model.named_parameters() if p.ndim != 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': WEIGHT_DECAY}, {'params': rest, 'weight_decay': 0.0}], lr=LR, betas=BETAS, eps=EPS)
    pixels, labels = synthetic_batch(s)
    x, y = pixels.to(device), labels.to(device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, label_smoothing=LABEL_SMOOTHING)
        loss.backward()
        opt.step()
        return loss

    losses, last_ms = [], 0.0
    for _ in range(warmup):
        t0 = time.perf_counter()
        losses.append(step().item())
        last_ms = (time.perf_counter() - t0) * 1000
    iters = max(1, min(max_iters, round(target_ms / max(last_ms, 1e-3))))
    samples, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(iters):
            loss = step()
        loss.item()
        samples.append((time.perf_counter() - t0) * 1000 / iters)
        cpu.append((time.process_time() - c0) * 1000 / iters)
    ms = statistics.median(samples)
    return dict(model=describe(s), spec=s, params=sum(p.numel() for p in model.parameters()),
                ms=ms, cpuMs=statistics.median(cpu), stepsPerSec=1000 / ms, samples=samples, cpuSamples=cpu,
                iters=iters, warmupLosses=losses)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('specs', nargs='?', default='mlp,vit-xs,vit-m')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--out', help='also write the JSON here')
    ap.add_argument('--threads', type=int, help="torch.set_num_threads (default: PyTorch's own choice, 1 on the 2-core machine of docs/performance.md)")
    args = ap.parse_args()
    if args.threads is not None:
        if args.threads < 1:
            sys.exit(f'torch_train_step: --threads must be at least 1, got {args.threads}')
        torch.set_num_threads(args.threads)
    gpu = args.device.startswith('cuda')
    # f32 as in wgtrain: no TF32 tensor-core shortcut in matmuls.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    rows = [bench(s, args.device, 10 if gpu else 2, 7 if gpu else 3, 300 if gpu else 1000) for s in parse_specs(args.specs)]
    result = dict(engine='pytorch-eager', torch=torch.__version__, device=args.device,
                  deviceName=torch.cuda.get_device_name() if gpu else platform.processor() or platform.machine(),
                  threads=torch.get_num_threads(), date=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), training=rows)
    text = json.dumps(result, indent=2)
    print(text)
    for r in rows:
        print(f"{r['model']:<34} batch {r['spec']['batch']:>4}  params {r['params']:>8}  {r['ms']:9.2f} ms/step  ({r['cpuMs']:.2f} ms CPU)  {r['stepsPerSec']:8.1f} steps/s", file=sys.stderr)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()

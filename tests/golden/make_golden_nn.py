#!/usr/bin/python3
"""PyTorch references for the nn layers and models, compared by tests/golden_nn.test.ts.

Run with Debian's python3-torch (not in CI, hence the outputs are committed):

    /usr/bin/python3 tests/golden/make_golden_nn.py

timm is not installed, so the modules are written out here with timm's structure and parameter
names (Attention, Mlp, Block, VisionTransformer with a cls token, MixerBlock / MlpMixer): a pre-LN
ViT with qkv bias, LayerNorm eps 1e-6 and class-token pooling, and an MLP-Mixer with token and
channel MLPs and mean pooling. The patch embedding is a real Conv2d (kernel = stride = patch), so
the test also checks that our reshape/permute patchify + Linear is the same map; its weight
[dim, C, p, p] is stored reshaped to our Linear's [dim, C*p*p].

Conventions as in make_golden.py: inputs and weights are random, rounded to 3 decimals and then to
float32 (stored as short decimals that read back exactly); PyTorch computes in float64; outputs and
gradients are stored rounded to float32. Dropout is off (eval semantics, p = 0). Layer cases use
the loss sum(out * w) with a stored `w`; model cases use cross_entropy(logits, labels) (mean).
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common
from golden_common import enc, rounded  # same inputs and tensor encoding as the op goldens

SEED = 20240612
draws = golden_common.Draws(SEED)
gen = draws.gen
randn = draws.randn
loss_weights = draws.loss_weights
labels = draws.labels
EPS = 1e-6


def randomize(module):
    """Random float32-exact values in every parameter: weights ~ N(0, 1/fan_in), biases small,
    embeddings ~ N(0, 0.25), LayerNorm scales around 1 (so every gradient path is exercised)."""
    norms = {id(m) for m in module.modules() if isinstance(m, nn.LayerNorm)}
    with torch.no_grad():
        for mod in module.modules():
            for name, p in mod.named_parameters(recurse=False):
                if id(mod) in norms and name == "weight":
                    p.copy_(randn(*p.shape, scale=0.2, shift=1.0))
                elif name == "bias":
                    p.copy_(randn(*p.shape, scale=0.1))
                elif name in ("cls_token", "pos_embed"):
                    p.copy_(randn(*p.shape, scale=0.5))
                else:
                    fan_in = p[0].numel()
                    p.copy_(randn(*p.shape, scale=1 / math.sqrt(fan_in)))


def our_shape(name, t):
    """Our layout of a parameter: a Conv2d patch-embedding weight becomes [dim, C*p*p]."""
    if t.dim() == 4:
        return t.reshape(t.shape[0], -1)
    return t


def params_of(module):
    return {n: enc(our_shape(n, p)) for n, p in module.named_parameters()}


def grads_of(module):
    return {n: enc(our_shape(n, p.grad)) for n, p in module.named_parameters()}


def dump(name, cases, description):
    golden_common.dump(name, cases, description, "tests/golden/make_golden_nn.py", SEED)


# ---------------------------------------------------------------- modules (timm structure)

class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, in_features, hidden):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, in_features)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, in_chans, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, T, dim], row-major over the grid


class ViT(nn.Module):
    def __init__(self, image, patch, in_chans, classes, dim, depth, heads, mlp_ratio):
        super().__init__()
        tokens = (image[0] // patch) * (image[1] // patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.patch_embed = PatchEmbed(patch, in_chans, dim)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=EPS)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class MixerBlock(nn.Module):
    def __init__(self, dim, seq_len, mlp_ratio):
        super().__init__()
        tokens_dim, channels_dim = [int(r * dim) for r in mlp_ratio]
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.mlp_tokens = MixerMlp(seq_len, tokens_dim)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp_channels = MixerMlp(dim, channels_dim)

    def forward(self, x):
        x = x + self.mlp_tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.mlp_channels(self.norm2(x))


MixerMlp = Mlp


class MlpMixer(nn.Module):
    def __init__(self, image, patch, in_chans, classes, dim, depth, mlp_ratio):
        super().__init__()
        tokens = (image[0] // patch) * (image[1] // patch)
        self.stem = PatchEmbed(patch, in_chans, dim)
        self.blocks = nn.Sequential(*[MixerBlock(dim, tokens, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=EPS)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.norm(self.blocks(self.stem(x)))
        return self.head(x.mean(dim=1))


class MLP(nn.Module):
    def __init__(self, in_features, hidden, classes):
        super().__init__()
        widths = [in_features] + hidden
        self.layers = nn.ModuleList([nn.Linear(widths[i], widths[i + 1]) for i in range(len(hidden))])
        self.head = nn.Linear(widths[-1], classes)

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers:
            x = F.gelu(layer(x))
        return self.head(x)


# ---------------------------------------------------------------- layer cases

def weighted_case(name, module, x, extra=None):
    randomize(module)
    x = x.clone().requires_grad_()
    out = module(x)
    w = loss_weights(*out.shape)
    (out * w).sum().backward()
    case = {"name": name, **(extra or {}), "x": enc(x), "params": params_of(module), "w": enc(w),
            "out": enc(out), "grad_x": enc(x.grad), "grads": grads_of(module)}
    return case


class LinearGelu(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.lin = nn.Linear(i, o)

    def forward(self, x):
        return F.gelu(self.lin(x))


def make_layers():
    cases = []
    for name, shape, out, bias in [("[3,7] -> 5", (3, 7), 5, True), ("[2,3,17] -> 9, no bias", (2, 3, 17), 9, False)]:
        m = nn.Linear(shape[-1], out, bias=bias)
        cases.append(weighted_case(f"Linear {name}", m, randn(*shape), {"layer": "linear", "in_features": shape[-1], "out_features": out, "bias": bias}))
    g = LinearGelu(6, 9)
    c = weighted_case("Linear [5,6] -> 9 + exact GELU (fused)", g, randn(5, 6), {"layer": "linear_gelu", "in_features": 6, "out_features": 9, "bias": True})
    # Our fused Linear has no `lin.` level.
    c["params"] = {k.replace("lin.", ""): v for k, v in c["params"].items()}
    c["grads"] = {k.replace("lin.", ""): v for k, v in c["grads"].items()}
    cases.append(c)

    x = randn(4, 17)
    x[0] = rounded(torch.randn(17, generator=gen, dtype=torch.float64) * 0.05 + 0.5)  # eps matters here
    x[1] = rounded(torch.randn(17, generator=gen, dtype=torch.float64) * 3 + 10)
    cases.append(weighted_case("LayerNorm(17, eps 1e-6) [4,17]", nn.LayerNorm(17, eps=EPS), x, {"layer": "layer_norm", "dim": 17, "eps": EPS}))

    for B, T, C, H in [(2, 5, 16, 2), (3, 7, 12, 4)]:
        cases.append(weighted_case(f"Attention B={B} T={T} dim={C} heads={H}", Attention(C, H), randn(B, T, C),
                                   {"layer": "attention", "dim": C, "heads": H}))
    dump("nn_layers.json", cases,
         "Linear, Linear+GELU, LayerNorm(eps 1e-6), timm-style Attention (qkv bias, no dropout): out = module(x) with "
         "`params`; grads of sum(out * w) wrt x (`grad_x`) and every parameter (`grads`, by dotted name)")


# ---------------------------------------------------------------- model cases

def model_case(name, config, module, x, classes):
    randomize(module)
    y = labels(x.shape[0], classes)
    logits = module(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return {"name": name, "config": config, "x": enc(x), "labels": enc(y), "params": params_of(module),
            "logits": enc(logits), "loss": enc(loss), "grads": grads_of(module)}


def make_models():
    B, image, patch, chans, classes = 3, [8, 12], 4, 2, 5
    cases = []
    vit_cfg = {"model": "vit", "imageSize": image, "patchSize": patch, "inChannels": chans, "numClasses": classes,
               "dim": 16, "depth": 2, "numHeads": 2, "mlpRatio": 2}
    vit = ViT(image, patch, chans, classes, dim=16, depth=2, heads=2, mlp_ratio=2)
    cases.append(model_case("ViT 8x12 patch 4, 2 channels, dim 16, depth 2, heads 2", vit_cfg, vit, randn(B, chans, *image), classes))

    mixer_cfg = {"model": "mixer", "imageSize": image, "patchSize": patch, "inChannels": chans, "numClasses": classes,
                 "dim": 16, "depth": 2, "tokenMlpRatio": 0.5, "channelMlpRatio": 2}
    mixer = MlpMixer(image, patch, chans, classes, dim=16, depth=2, mlp_ratio=(0.5, 2))
    cases.append(model_case("MLP-Mixer 8x12 patch 4, 2 channels, dim 16, depth 2", mixer_cfg, mixer, randn(B, chans, *image), classes))

    mlp_cfg = {"model": "mlp", "inFeatures": 32, "hiddenSizes": [24, 16], "numClasses": classes, "activation": "gelu"}
    mlp = MLP(32, [24, 16], classes)
    cases.append(model_case("MLP 32-24-16-5 GELU on [4,2,4,4] images", mlp_cfg, mlp, randn(4, 2, 4, 4), classes))
    dump("nn_models.json", cases,
         "Whole models (dropout off): logits = model(x) with `params`, loss = cross_entropy(logits, labels) (mean), "
         "`grads` of the loss wrt every parameter by dotted name (patch-embedding conv weights reshaped to [dim, C*p*p])")


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    make_layers()
    make_models()

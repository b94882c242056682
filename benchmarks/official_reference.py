"""Re-runs of the authors' forward passes, written here for benchmarking (not part of posezoo).

The official code is not a dependency of posezoo. For the side-by-side timing that issue 14 asks for,
this module recomputes what the official models compute, op by op as those implementations are
described in the reference notes (module-per-layer PyTorch: ``nn.Linear`` through ``F.linear``,
attention as ``softmax(q k^T * d^-0.5) v`` with explicit matrix products, ``adaptive_avg_pool1d``,
time-axis LayerNorms, ``conv_transpose1d``, ``rearrange`` between spatial and temporal blocks), from a
state dict in the **official key layout**. ``to_official_ste`` / ``to_official_msf`` produce that
layout from a posezoo model (the inverse of the converters' key mapping), so both sides run the same
weights; ``bench_vs_official.py`` checks that the outputs agree before it times anything.

Nothing here is copied from the official repositories; the computations follow the descriptions in
``docs/rtpca.md`` / ``docs/mixsynthformer.md`` and the converters' key mapping.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from einops import rearrange

BLOCK_EPS, INNER_EPS = 1e-6, 1e-5


def as_parameters(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict's floating tensors marked ``requires_grad`` (sharing storage), as the official
    ``nn.Module`` s hold them. It matters for speed even under ``inference_mode``: ``torch.matmul`` folds a
    transposed 3-D input into one matrix (a copy) when the weight requires grad, and uses ``bmm``
    without the copy when it does not; a reference without it would be faster than the real code."""
    return {k: v.detach().requires_grad_(v.is_floating_point()) for k, v in sd.items()}


# ----------------------------------------------------------------------------- RTPCA / MixSTE
def to_official_ste(model: torch.nn.Module, family: str) -> dict[str, torch.Tensor]:
    """posezoo RTPCA/MixSTE state dict -> official key layout (without ``module.``)."""
    renames = (
        ("joint_embed.", "Spatial_patch_to_embedding."),
        ("spatial_norm.", "Spatial_norm."),
        ("temporal_norm.", "Temporal_norm."),
        ("head_norm.", "head.0."),
        ("head.", "head.1."),
        ("spatial_blocks.", "STEblocks."),
        ("temporal_blocks.", "TTEblocks."),
    )
    tpca = {"down_norms": "norm", "amplify": "up", "up_norms": "upnorm"}
    out, c = {}, model.dim
    for key, value in model.state_dict().items():
        if key.endswith("_pos_embed.weight"):
            out[("Spatial" if key[0] == "s" else "Temporal") + "_pos_embed"] = value[None]
            continue
        name = next(off + key[len(ours) :] for ours, off in renames if key.startswith(ours))
        if family == "rtpca" and name.startswith("STEblocks.") and ".attn.qkv." in name:
            out[name.replace(".qkv.", ".q.")], out[name.replace(".qkv.", ".kv.")] = value[:c], value[c:]
            continue
        if ".attn.tpca." in name:
            head, tail = name.split(".attn.tpca.")
            parts = tail.split(".")
            stages = model.temporal_blocks[0].attn.tpca.stages
            tail = (
                f"norm{stages + 1}.{parts[1]}"
                if parts[0] == "out_norm"
                else f"{tpca[parts[0]]}{int(parts[1]) + 1}.{parts[2]}"
            )
            name = f"{head}.attn.{tail}"
        out[name] = value
    return out


def _heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    return rearrange(t, "n l (h d) -> n h l d", h=heads)


def _explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``softmax(q k^T * d^-0.5) v`` with the matrix products written out, heads merged back."""
    attn = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    return rearrange(attn.softmax(dim=-1) @ v, "n h l d -> n l (h d)")


def _tpca(sd: dict, p: str, y: torch.Tensor) -> torch.Tensor:
    c = y.shape[-1]

    def ln(t: torch.Tensor, n: str) -> torch.Tensor:
        return F.layer_norm(t, (t.shape[-1],), sd[f"{p}{n}.weight"], sd[f"{p}{n}.bias"], INNER_EPS)

    def up(t: torch.Tensor, n: str) -> torch.Tensor:
        return F.conv_transpose1d(t, sd[f"{p}{n}.weight"], sd[f"{p}{n}.bias"], stride=2, groups=c)

    u = y.transpose(1, 2)
    lengths = [sd[f"{p}norm{k}.weight"].shape[0] for k in (1, 2, 3)]
    p1 = F.gelu(ln(F.adaptive_avg_pool1d(u, lengths[0]), "norm1"))
    p2 = F.gelu(ln(F.adaptive_avg_pool1d(p1, lengths[1]), "norm2"))
    p3 = F.gelu(ln(F.adaptive_avg_pool1d(p2, lengths[2]), "norm3"))
    c1 = F.gelu(ln(up(p3, "up1"), "upnorm1"))
    c2 = F.gelu(ln(up(c1 + p2, "up2"), "upnorm2"))
    c3 = F.gelu(ln(up(c2 + p1, "up3"), "upnorm3"))
    r = (c3 + u).transpose(1, 2)
    return F.layer_norm(r, (c,), sd[p + "norm4.weight"], sd[p + "norm4.bias"], INNER_EPS)


def _ste_block(sd: dict, p: str, x: torch.Tensor, heads: int, kind: str, memory=None, memory_len: int = 30):
    """One pre-norm block; ``kind`` is ``fused`` (qkv), ``split`` (q + kv) or ``tpca`` (q + kv of TPCA(y))."""
    c = x.shape[-1]
    lin = lambda t, n: F.linear(t, sd[f"{p}{n}.weight"], sd[f"{p}{n}.bias"])  # noqa: E731
    y = F.layer_norm(x, (c,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], BLOCK_EPS)
    handed_on = None
    if kind == "fused":
        q, k, v = (_heads(t, heads) for t in lin(y, "attn.qkv").chunk(3, dim=-1))
    else:
        source = _tpca(sd, p + "attn.", y) if kind == "tpca" else y
        q = _heads(lin(y, "attn.q"), heads)
        k, v = (_heads(t, heads) for t in lin(source, "attn.kv").chunk(2, dim=-1))
        if memory is not None:  # XLR: previous block's K/V pooled to 30 (official, 243 frames) along the sequence
            pool = lambda t: rearrange(
                F.adaptive_avg_pool1d(rearrange(t, "n h l d -> n (h d) l"), memory_len),  # noqa: E731
                "n (h d) m -> n h m d",
                h=heads,
            )
            k, v = torch.cat([k, pool(memory[0])], 2), torch.cat([v, pool(memory[1])], 2)
        handed_on = (k, v)
    x = x + lin(_explicit_attention(q, k, v), "attn.proj")
    h = F.layer_norm(x, (c,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], BLOCK_EPS)
    return x + lin(F.gelu(lin(h, "mlp.fc1")), "mlp.fc2"), handed_on


def ste_official_forward(sd: dict, x: torch.Tensor, heads: int, family: str, memory_len: int = 30) -> torch.Tensor:
    """The official RTPCA (``family="rtpca"``, official_compat quirks included) or MixSTE forward:
    ``(B, F, J, 2) -> (B, F, J, 3)`` from an official-layout state dict. The official code pools the XLR
    memory to 30 (its 243-frame setting); ``memory_len`` lets the small variants be compared too."""
    b, f, j, _ = x.shape
    c = sd["Spatial_patch_to_embedding.weight"].shape[0]
    depth = len({k.split(".")[1] for k in sd if k.startswith("STEblocks.")})
    h = F.linear(x, sd["Spatial_patch_to_embedding.weight"], sd["Spatial_patch_to_embedding.bias"])
    h = rearrange(h, "b f j c -> (b f) j c") + sd["Spatial_pos_embed"]
    memory = None
    for i in range(depth):
        h, _ = _ste_block(sd, f"STEblocks.{i}.", h, heads, "fused" if family == "mixste" else "split")
        h = F.layer_norm(h, (c,), sd["Spatial_norm.weight"], sd["Spatial_norm.bias"], BLOCK_EPS)
        h = rearrange(h, "(b f) j c -> (b j) f c", b=b)
        if i == 0:
            h = h + sd["Temporal_pos_embed"]
        h, memory = _ste_block(
            sd,
            f"TTEblocks.{i}.",
            h,
            heads,
            "fused" if family == "mixste" else "tpca",
            memory if i > 0 else None,
            memory_len,
        )
        h = F.layer_norm(h, (c,), sd["Temporal_norm.weight"], sd["Temporal_norm.bias"], BLOCK_EPS)
        if family == "rtpca" and i >= 1:
            h = h * 2  # the official in-place `x += x_list[-1]`
        h = rearrange(h, "(b j) f c -> (b f) j c", j=j)
    h = F.layer_norm(h, (c,), sd["head.0.weight"], sd["head.0.bias"], INNER_EPS)
    return rearrange(F.linear(h, sd["head.1.weight"], sd["head.1.bias"]), "(b f) j c -> b f j c", b=b)


# ----------------------------------------------------------------------------- MixSynthFormer
_MSF_INVERSE = (
    (r"^embed\.", "encoder_emb."),
    (r"^temporal_interp\.", "l_interp."),
    (r"^head\.", "fc."),
    (r"\.attn\.", ".synth_att."),
    (r"\.mlp\.", ".ff."),
)


def to_official_msf(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """posezoo MixSynthFormer state dict -> official key layout."""
    out = {}
    for key, value in model.state_dict().items():
        for pattern, repl in _MSF_INVERSE:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def _synth(sd: dict, p: str, x: torch.Tensor) -> torch.Tensor:
    """SynthAttention: energy = dense(x), SE row gates, softmax, (reduced) values, bmm. ``(B, R, C)``."""
    energy = F.linear(x, sd[p + "dense.weight"], sd[p + "dense.bias"])
    gate = torch.sigmoid(
        F.linear(F.relu(F.linear(energy.mean(-1), sd[p + "se.fc.0.weight"])), sd[p + "se.fc.2.weight"])
    )
    attn = torch.softmax(energy * gate[:, :, None], dim=-1)
    values = x
    if attn.shape[-1] < x.shape[1]:
        values = F.linear(x.transpose(1, 2), sd[p + "value_reduce.weight"], sd[p + "value_reduce.bias"]).transpose(1, 2)
    return torch.bmm(attn, values)


def msf_official_forward(sd: dict, x: torch.Tensor, sample_interval: int) -> torch.Tensor:
    """The official MixSynthFormer forward: ``(B, W, P) -> (B, W, P)`` (refinement windows)."""
    x = x.float()
    keys = x[:, ::sample_interval]
    interp = F.linear(keys.transpose(1, 2), sd["l_interp.weight"], sd["l_interp.bias"]).transpose(1, 2).float()
    h = F.linear(interp, sd["encoder_emb.weight"], sd["encoder_emb.bias"])
    layers = sorted({int(k.split(".")[2]) for k in sd if k.startswith("encoder.layers.")})
    for i in layers:
        p = f"encoder.layers.{i}."
        a = p + "synth_att."
        t = _synth(sd, a + "synth_token.", h)
        c = _synth(sd, a + "synth_channel.", h.transpose(1, 2)).transpose(1, 2)
        pooled = (t + c).mean(dim=-1)
        hidden = F.gelu(F.linear(pooled, sd[a + "reweight.fc1.weight"], sd[a + "reweight.fc1.bias"]))
        weights = F.linear(hidden, sd[a + "reweight.fc2.weight"], sd[a + "reweight.fc2.bias"])
        weights = weights.reshape(h.shape[0], h.shape[1], 2).softmax(dim=-1)
        mixed = weights[:, :, 0:1] * t + weights[:, :, 1:2] * c
        out = F.linear(mixed, sd[a + "proj.weight"], sd[a + "proj.bias"])
        h = F.layer_norm(h + out, (h.shape[-1],), sd[p + "norm1.weight"], sd[p + "norm1.bias"], INNER_EPS)
        ff = F.linear(
            F.gelu(F.linear(h, sd[p + "ff.fc1.weight"], sd[p + "ff.fc1.bias"])),
            sd[p + "ff.fc2.weight"],
            sd[p + "ff.fc2.bias"],
        )
        h = F.layer_norm(h + ff, (h.shape[-1],), sd[p + "norm2.weight"], sd[p + "norm2.bias"], INNER_EPS)
    h = F.layer_norm(h, (h.shape[-1],), sd["norm.weight"], sd["norm.bias"], INNER_EPS)
    return F.linear(h, sd["fc.weight"], sd["fc.bias"]) + interp

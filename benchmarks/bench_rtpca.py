"""Benchmark posezoo's RTPCA / MixSTE against a direct functional re-run of the official forward pass.

The reference is a plain ``torch.nn.functional`` implementation that reads
the official state-dict layout directly (what a hand port of the official code
computes). Both run in one process, on the same input. The script prints the
median time of each, the ratio posezoo / functional, and the largest output
difference.

    python benchmarks/bench_rtpca.py --family rtpca --frames 243 --dim 64 --depth 4 --batch 2
    python benchmarks/bench_rtpca.py --family mixste --frames 243 --dim 512 --depth 8 --batch 1 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange

import posezoo
from posezoo.models.mixste import MixSTE
from posezoo.models.rtpca import RTPCA

sys.path.insert(0, str(Path(__file__).resolve().parent))
# TPCA is the same op by op in both re-runs of the official forward
from official_reference import BLOCK_EPS, INNER_EPS, _tpca  # noqa: E402
from official_reference import to_official_ste as to_official  # noqa: E402


def _attention(sd, prefix, x_q, x_kv, heads, fused, extra_kv=None):
    if fused:
        q, k, v = F.linear(x_q, sd[prefix + "qkv.weight"], sd[prefix + "qkv.bias"]).chunk(3, dim=-1)
    else:
        q = F.linear(x_q, sd[prefix + "q.weight"], sd[prefix + "q.bias"])
        k, v = F.linear(x_kv, sd[prefix + "kv.weight"], sd[prefix + "kv.bias"]).chunk(2, dim=-1)
    q, k, v = (rearrange(t, "n l (h d) -> n h l d", h=heads) for t in (q, k, v))
    if extra_kv is not None:
        k, v = torch.cat([k, extra_kv[0]], 2), torch.cat([v, extra_kv[1]], 2)
    out = F.scaled_dot_product_attention(q, k, v)
    return F.linear(rearrange(out, "n h l d -> n l (h d)"), sd[prefix + "proj.weight"], sd[prefix + "proj.bias"]), (
        k,
        v,
    )


def _block(sd, prefix, x, heads, family, temporal, prev_kv):
    c = x.shape[-1]
    y = F.layer_norm(x, (c,), sd[prefix + "norm1.weight"], sd[prefix + "norm1.bias"], BLOCK_EPS)
    kv_out = None
    if family == "mixste":
        a, _ = _attention(sd, prefix + "attn.", y, y, heads, fused=True)
    elif not temporal:
        a, _ = _attention(sd, prefix + "attn.", y, y, heads, fused=False)
    else:
        pooled = None
        if prev_kv is not None:
            pool = lambda t: rearrange(
                F.adaptive_avg_pool1d(rearrange(t, "n h l d -> n (h d) l"), 30), "n (h d) m -> n h m d", h=heads
            )
            pooled = (pool(prev_kv[0]), pool(prev_kv[1]))
        a, kv_out = _attention(
            sd, prefix + "attn.", y, _tpca(sd, prefix + "attn.", y), heads, fused=False, extra_kv=pooled
        )
    x = x + a
    h = F.layer_norm(x, (c,), sd[prefix + "norm2.weight"], sd[prefix + "norm2.bias"], BLOCK_EPS)
    h = F.linear(
        F.gelu(F.linear(h, sd[prefix + "mlp.fc1.weight"], sd[prefix + "mlp.fc1.bias"])),
        sd[prefix + "mlp.fc2.weight"],
        sd[prefix + "mlp.fc2.bias"],
    )
    return x + h, kv_out


def functional_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, heads: int, family: str) -> torch.Tensor:
    """The official forward pass (reference README sections 4-5) in functional ops."""
    b, f, j, _ = x.shape
    c = sd["Spatial_patch_to_embedding.weight"].shape[0]
    depth = len({k.split(".")[1] for k in sd if k.startswith("STEblocks.")})
    h = F.linear(x, sd["Spatial_patch_to_embedding.weight"], sd["Spatial_patch_to_embedding.bias"])
    h = rearrange(h, "b f j c -> (b f) j c") + sd["Spatial_pos_embed"]
    prev = None
    for i in range(depth):
        h, _ = _block(sd, f"STEblocks.{i}.", h, heads, family, False, None)
        h = F.layer_norm(h, (c,), sd["Spatial_norm.weight"], sd["Spatial_norm.bias"], BLOCK_EPS)
        h = rearrange(h, "(b f) j c -> (b j) f c", b=b)
        if i == 0:
            h = h + sd["Temporal_pos_embed"]
        h, prev = _block(sd, f"TTEblocks.{i}.", h, heads, family, True, prev)
        h = F.layer_norm(h, (c,), sd["Temporal_norm.weight"], sd["Temporal_norm.bias"], BLOCK_EPS)
        if family == "rtpca" and i >= 1:
            h = h * 2
        h = rearrange(h, "(b j) f c -> (b f) j c", j=j)
    h = F.layer_norm(h, (c,), sd["head.0.weight"], sd["head.0.bias"], INNER_EPS)
    return rearrange(F.linear(h, sd["head.1.weight"], sd["head.1.bias"]), "(b f) j c -> b f j c", b=b)


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=("rtpca", "mixste"), default="rtpca")
    parser.add_argument("--frames", type=int, default=243)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cls = RTPCA if args.family == "rtpca" else MixSTE
    extra = {"xlr_memory_len": 30} if args.family == "rtpca" else {}
    model = (
        cls(num_frames=args.frames, dim=args.dim, depth=args.depth, num_heads=args.heads, official_compat=True, **extra)
        .eval()
        .to(args.device)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    sd = to_official(model, args.family)
    x = (torch.rand(args.batch, args.frames, 17, 2) * 2 - 1).to(args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    def run_posezoo():
        with torch.inference_mode():
            out = model(x)
        sync()
        return out

    def run_functional():
        with torch.inference_mode():
            out = functional_forward(sd, x, args.heads, args.family)
        sync()
        return out

    diff = (run_posezoo() - run_functional()).abs().max().item()
    t_pz = _median_time(run_posezoo, args.repeats)
    t_fn = _median_time(run_functional, args.repeats)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.family}: frames={args.frames} dim={args.dim} depth={args.depth} batch={args.batch} "
        f"params={params:,} device={args.device} threads={torch.get_num_threads()} posezoo={posezoo.__version__}"
    )
    print(f"  posezoo     median {t_pz * 1e3:9.2f} ms")
    print(f"  functional  median {t_fn * 1e3:9.2f} ms")
    print(f"  ratio posezoo/functional {t_pz / t_fn:.3f}   max |difference| {diff:.2e}")


if __name__ == "__main__":
    main()

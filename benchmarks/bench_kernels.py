"""Micro-benchmarks behind the choices in posezoo/inference/_fast_ops.py and posezoo/layers.

    python benchmarks/bench_kernels.py linear      # F.linear (MKL addmm) vs oneDNN packed linear, by size
    python benchmarks/bench_kernels.py convt       # depthwise ConvTranspose1d vs strided multiply-adds
    python benchmarks/bench_kernels.py attention   # SDPA vs two bmm calls, float32 / bfloat16
    python benchmarks/bench_kernels.py pool        # TPCA's time pooling: adaptive_avg_pool1d vs strided sums
    python benchmarks/bench_kernels.py peak        # one large GEMM per path: the achievable FLOP/s

Each line times the alternatives interleaved (medians) on the shapes of the registered models.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from posezoo.layers.tpca import average_pool_time, depthwise_conv_transpose1d


def interleaved(fns: dict, repeats: int = 7, inner: int = 1) -> dict[str, float]:
    """Median seconds per call of each function, the functions called in turn."""
    times = {k: [] for k in fns}
    with torch.inference_mode():
        for f in fns.values():
            f()
        for _ in range(repeats):
            for k, f in fns.items():
                start = time.perf_counter()
                for _ in range(inner):
                    f()
                times[k].append((time.perf_counter() - start) / inner)
    return {k: statistics.median(v) for k, v in times.items()}


def linear() -> None:
    for m, k, n in (
        (54, 32, 96),
        (202, 64, 128),
        (459, 64, 128),
        (918, 64, 192),
        (1836, 64, 128),
        (4131, 64, 128),
        (459, 512, 1024),
        (4131, 128, 256),
        (2000, 384, 768),
        (4131, 512, 1536),
    ):
        x, w, b = torch.randn(m, k), torch.randn(n, k), torch.randn(n)
        packed = torch.ops.mkldnn._reorder_linear_weight(w, None)
        t = interleaved(
            {
                "addmm": lambda: F.linear(x, w, b),
                "onednn": lambda: torch.ops.mkldnn._linear_pointwise(x, packed, b, "none", [], ""),
            },
            inner=max(1, int(2e8 / (m * k * n))),
        )
        print(
            f"M={m:5d} K={k:4d} N={n:5d} {m * k * n / 1e6:8.1f} M MACs: addmm {t['addmm'] * 1e6:9.0f} us, "
            f"oneDNN {t['onednn'] * 1e6:9.0f} us, ratio {t['onednn'] / t['addmm']:.2f}"
        )


def convt() -> None:
    for n in (17, 136):
        for length, kernel in ((30, 2), (60, 3), (121, 3)):
            c = 512
            x, w, b = torch.randn(n, c, length), torch.randn(c, 1, kernel), torch.randn(c)
            xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
            t = interleaved(
                {
                    "conv fp32": lambda: F.conv_transpose1d(x, w, b, stride=2, groups=c),
                    "ours fp32": lambda: depthwise_conv_transpose1d(x, w, b, 2),
                    "conv bf16": lambda: F.conv_transpose1d(xb, wb, bb, stride=2, groups=c),
                    "ours bf16": lambda: depthwise_conv_transpose1d(xb, wb, bb, 2),
                }
            )
            print(f"N={n} C={c} L={length} K={kernel}: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in t.items()))


def pool() -> None:
    for n in (17, 136):
        for length_in, length_out in ((243, 121), (121, 60), (60, 30)):
            x = torch.randn(n, 512, length_in)
            t = interleaved(
                {
                    "adaptive_avg_pool1d": lambda: F.adaptive_avg_pool1d(x, length_out),
                    "strided sums": lambda: average_pool_time(x, length_out),
                }
            )
            same = torch.equal(F.adaptive_avg_pool1d(x, length_out), average_pool_time(x, length_out))
            print(
                f"N={n} C=512 L={length_in}->{length_out}: "
                + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in t.items())
                + f", ratio {t['strided sums'] / t['adaptive_avg_pool1d']:.2f}, identical {same}"
            )


def _bmm_attention(q, k, v):
    b, h, lq, d = q.shape
    logits = torch.bmm(q.reshape(b * h, lq, d) * d**-0.5, k.reshape(b * h, -1, d).transpose(1, 2))
    return torch.bmm(logits.softmax(-1), v.reshape(b * h, -1, v.shape[-1])).view(b, h, lq, -1)


def attention() -> None:
    shapes = (
        (243, 8, 17, 17, 64),
        (17, 8, 243, 273, 64),
        (27 * 128, 4, 17, 17, 16),
        (17 * 128, 4, 27, 27, 16),
        (128, 8, 27, 27, 48),
    )
    for n, h, lq, lk, d in shapes:
        for dtype in (torch.float32, torch.bfloat16):
            q = torch.randn(n, lq, h, d).to(dtype).transpose(1, 2)  # the layout a Linear produces
            k, v = (torch.randn(n, lk, h, d).to(dtype).transpose(1, 2) for _ in range(2))
            t = interleaved(
                {"sdpa": lambda: F.scaled_dot_product_attention(q, k, v), "bmm": lambda: _bmm_attention(q, k, v)}
            )
            print(
                f"(N, H, Lq, Lk, d)=({n}, {h}, {lq}, {lk}, {d}) {str(dtype)[6:]:9s}: sdpa {t['sdpa'] * 1e3:7.2f} ms, "
                f"bmm {t['bmm'] * 1e3:7.2f} ms, ratio {t['bmm'] / t['sdpa']:.2f}"
            )


def peak() -> None:
    m = k = n = 2048
    x, w = torch.randn(m, k), torch.randn(n, k)
    xb, wb = x.bfloat16(), w.bfloat16()
    packed = torch.ops.mkldnn._reorder_linear_weight(w, None)
    packed_b = torch.ops.mkldnn._reorder_linear_weight(wb, None)
    t = interleaved(
        {
            "fp32 MKL (F.linear)": lambda: F.linear(x, w),
            "fp32 oneDNN": lambda: torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], ""),
            "bf16 oneDNN": lambda: torch.ops.mkldnn._linear_pointwise(xb, packed_b, None, "none", [], ""),
        },
        repeats=5,
    )
    for key, seconds in t.items():
        print(f"{key:22s} {2 * m * k * n / seconds / 1e9:7.1f} GFLOP/s ({seconds * 1e3:.1f} ms, {m}^3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["linear", "convt", "attention", "pool", "peak"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    {"linear": linear, "convt": convt, "attention": attention, "pool": pool, "peak": peak}[args.what]()


if __name__ == "__main__":
    main()

"""Uplift-and-Upsample variants: parameters, FLOPs and forward latency (medians over repeats).

    python benchmarks/bench_uplift_upsample.py [--device cpu|cuda] [--batch 1 64] [--repeats 20]

FLOPs per clip do not depend on s_in: the spatial transformer runs on all N
frames (as in the official code), only the mask changes. ``per output frame``
divides by N (the tokens of the full-sequence output).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import posezoo


def median_ms(fn, repeats: int, device: str) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(
        "| model | params | GFLOPs/clip | MFLOPs/output frame | " + " | ".join(f"ms @ B={b}" for b in args.batch) + " |"
    )
    print("|---|---|---|---|" + "---|" * len(args.batch))
    for name in posezoo.list_models("uplift_upsample*"):
        info = posezoo.model_info(name, flops=True)
        model = posezoo.create_model(name).eval().to(args.device)
        cells = []
        for batch in args.batch:
            x, mask = model.example_inputs(batch)
            with torch.inference_mode():
                cells.append(f"{median_ms(lambda: model(x, mask), args.repeats, args.device):.2f}")  # noqa: B023 - called within this iteration
        print(
            f"| `{name}` | {info['params']:,} | {info['flops']['per_clip'] / 1e9:.3f} | "
            f"{info['flops']['per_output_frame'] / 1e6:.1f} | " + " | ".join(cells) + " |"
        )


if __name__ == "__main__":
    main()

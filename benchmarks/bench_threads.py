"""Forward latency with 1 and 2 (or --threads) CPU threads, calls interleaved, medians.

    python benchmarks/bench_threads.py
    python benchmarks/bench_threads.py --threads 1 4 --repeats 9

Behind ``threads="auto"`` of ``posezoo.optimize_for_inference`` (docs/speed.md). The result depends
on how busy the machine is: report it with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import posezoo

CASES = (
    ("rtpca_small", 2),
    ("rtpca_small", 32),
    ("mixsynthformer_h36m_3d", 64),
    ("uplift_upsample_small", 16),
    ("mixste_81", 1),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {load:.1f}")
    print("| model | batch | " + " | ".join(f"{n} thread(s)" for n in args.threads) + " |")
    print("|---|---:|" + "---:|" * len(args.threads))
    for name, batch in CASES:
        model = posezoo.create_model(name).eval()
        inputs = posezoo.utils.example_input(model, batch)
        times = {n: [] for n in args.threads}
        with torch.inference_mode():
            model(*inputs)
            for _ in range(args.repeats):
                for n in args.threads:
                    torch.set_num_threads(n)
                    start = time.perf_counter()
                    model(*inputs)
                    times[n].append(time.perf_counter() - start)
        print(
            f"| {name} | {batch} | "
            + " | ".join(f"{statistics.median(times[n]) * 1e3:.0f} ms" for n in args.threads)
            + " |"
        )


if __name__ == "__main__":
    main()

"""Import cost of posezoo on top of torch (medians of fresh interpreters).

    python benchmarks/bench_import.py [--repeats 7]

Prints the median wall time of `import torch` and `import posezoo` in fresh
processes and posezoo's own share (the difference). posezoo must not import
timm, huggingface_hub, h5py or matplotlib at import time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys


def _median_seconds(statement: str, repeats: int) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(repeats)]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch_s = _median_seconds("import torch", args.repeats)
    posezoo_s = _median_seconds("import posezoo", args.repeats)
    print(f"import torch   : {torch_s:.3f} s (median of {args.repeats})")
    print(f"import posezoo : {posezoo_s:.3f} s (median of {args.repeats}, includes torch)")
    print(f"posezoo's own  : {posezoo_s - torch_s:.3f} s  (ratio {posezoo_s / torch_s:.2f}x torch)")


if __name__ == "__main__":
    main()

"""The default (eager) forward of this checkout against the same model at another git commit.

The other commit's ``posezoo`` package is extracted with ``git archive`` into a temporary folder,
renamed so both import side by side, and both models get the same weights; calls are interleaved.

    python benchmarks/bench_vs_commit.py 6cc6c60 rtpca_small:4 mixsynthformer_h36m_3d:64 --repeats 15
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

import posezoo

REPO = Path(__file__).resolve().parent.parent


def import_commit(commit: str, folder: Path):
    """``posezoo`` as of ``commit``, importable as ``posezoo_at_commit``."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "posezoo"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "posezoo").rename(folder / "posezoo_at_commit")
    sys.path.insert(0, str(folder))
    return importlib.import_module("posezoo_at_commit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commit")
    parser.add_argument("cases", nargs="+", help="NAME:BATCH")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        old_pkg = import_commit(args.commit, Path(tmp))
        print(
            f"this checkout vs {args.commit}, {torch.get_num_threads()} thread(s), {args.repeats} interleaved repeats"
        )
        print("| model | batch | at commit ms | now ms | now / commit | max abs diff |")
        print("|---|---:|---:|---:|---:|---:|")
        for case in args.cases:
            name, batch = case.split(":")
            torch.manual_seed(0)
            new = posezoo.create_model(name).eval()
            old = old_pkg.create_model(name).eval()
            old.load_state_dict(new.state_dict())
            inputs = posezoo.utils.example_input(new, int(batch))
            out = lambda o: o.central if hasattr(o, "central") else o  # noqa: E731
            times = {"old": [], "new": []}
            with torch.inference_mode():
                diff = (out(new(*inputs)) - out(old(*inputs))).abs().max().item()
                for _ in range(args.repeats):
                    for key, model in (("old", old), ("new", new)):
                        start = time.perf_counter()
                        model(*inputs)
                        times[key].append(time.perf_counter() - start)
            a, b = statistics.median(times["old"]), statistics.median(times["new"])
            print(f"| {name} | {batch} | {a * 1e3:.1f} | {b * 1e3:.1f} | {b / a:.3f} | {diff:.1e} |")


if __name__ == "__main__":
    main()

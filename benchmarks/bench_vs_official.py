"""posezoo (eager and optimised) side by side with a re-run of the official forward pass.

Same weights (the official side reads them in the official key layout, see ``official_reference.py``),
same input, same process; the calls are interleaved (official, eager, optimised fp32, optimised bf16,
then again) and each variant's median is reported with its ratio to the official time measured in the
same run. Outputs are compared before timing.

Two clocks are kept per call: wall time and the process's CPU time (``time.process_time``). On a
machine shared with other work the CPU time is the robust one (time slices given to other processes
do not count; contention for caches and memory bandwidth still does), so the ratios are taken from
it; the wall-clock medians are reported beside them.

    python benchmarks/bench_vs_official.py rtpca_243 --batch 1 --repeats 5 --threads 1
    python benchmarks/bench_vs_official.py mixste_243 --batch 1
    python benchmarks/bench_vs_official.py mixsynthformer_h36m_3d --batch 256 --repeats 15
    python benchmarks/bench_vs_official.py rtpca_243 --batch 8 --repeats 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import official_reference as ref  # noqa: E402

import posezoo  # noqa: E402
from posezoo.utils import example_input  # noqa: E402


def build(name: str) -> tuple[torch.nn.Module, callable]:
    """A perturbed model of ``name`` (official_compat, as converted official weights are) and the
    official forward bound to its weights."""
    entry_family = posezoo.model_info(name)["family"]
    extra = {"official_compat": True} if entry_family in ("rtpca", "mixste") else {}
    torch.manual_seed(0)
    model = posezoo.create_model(name, **extra).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    if entry_family in ("rtpca", "mixste"):
        sd = ref.as_parameters(ref.to_official_ste(model, entry_family))
        memory = getattr(model, "xlr_memory_len", 30)
        return model, lambda x: ref.ste_official_forward(sd, x, model.num_heads, entry_family, memory)
    if entry_family == "mixsynthformer":
        sd = ref.as_parameters(ref.to_official_msf(model))
        return model, lambda x: ref.msf_official_forward(sd, x.flatten(2), model.sample_interval).unflatten(
            2, (model.num_joints, model.in_channels)
        )
    raise SystemExit(f"no official re-run for family {entry_family!r}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-bf16", action="store_true", help="skip the bfloat16 variant")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, official = build(args.name)
    (x,) = example_input(model, args.batch)
    if model.in_channels == 2:  # lifting input: normalised screen coordinates
        x = torch.rand_like(x) * 2 - 1
    t0 = time.perf_counter()
    opt32 = posezoo.optimize_for_inference(model)
    prep = time.perf_counter() - t0
    variants = {"official": official, "posezoo eager": model, "optimized fp32": opt32}
    if not args.no_bf16:
        variants["optimized bf16"] = posezoo.optimize_for_inference(model, torch.bfloat16)
    with torch.inference_mode():
        want = official(x)
        outputs = {k: f(x) for k, f in variants.items()}
        scale = want.abs().max().item()
        diffs = {k: (o.float() - want).abs().max().item() for k, o in outputs.items()}
        times = {k: [] for k in variants}
        walls = {k: [] for k in variants}
        for _ in range(args.repeats):
            for k, f in variants.items():
                start, wall = time.process_time(), time.perf_counter()
                f(x)
                times[k].append(time.process_time() - start)
                walls[k].append(time.perf_counter() - wall)
    med = {k: statistics.median(v) for k, v in times.items()}
    wall_med = {k: statistics.median(v) for k, v in walls.items()}
    result = {
        "model": args.name,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "torch": torch.__version__,
        "output_scale": scale,
        "optimize_seconds": round(prep, 3),
        "variants": {
            k: {
                "cpu_median_ms": round(med[k] * 1e3, 2),
                "wall_median_ms": round(wall_med[k] * 1e3, 2),
                "ratio_vs_official": round(med[k] / med["official"], 3),
                "wall_ratio_vs_official": round(wall_med[k] / wall_med["official"], 3),
                "max_abs_diff_vs_official": diffs[k],
            }
            for k in variants
        },
    }
    print(
        f"{args.name} batch {args.batch}, {result['threads']} thread(s), {args.repeats} interleaved repeats, "
        f"torch {torch.__version__}; output scale {scale:.3g}; optimize_for_inference {prep:.2f} s"
    )
    print("| variant | CPU ms (median) | x official | wall ms (median) | x official (wall) | max abs diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, v in result["variants"].items():
        print(
            f"| {k} | {v['cpu_median_ms']:.1f} | {v['ratio_vs_official']:.3f} | {v['wall_median_ms']:.1f} | "
            f"{v['wall_ratio_vs_official']:.3f} | {v['max_abs_diff_vs_official']:.1e} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()

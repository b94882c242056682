"""Evaluate a training run on the test split and bundle its best weights into the package.

    python tools/bundle_run.py runs/rtpca_small rtpca_small [--views 2] [--json docs/results/rtpca_small.json]

Runs :func:`posezoo.training.evaluate` on ``cmu_mocap("test")`` (clean and
detector-like noisy 2D through static cameras; MixSynthFormer: refinement of
noisy keyframes vs interpolation), writes the JSON, then
:func:`posezoo.models.bundle_weights` with those metrics, the run's exact
command and its resolved configuration (``run.json``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import posezoo
from posezoo.models import bundle_weights
from posezoo.training import evaluate


def _run_summary(folder: Path) -> dict:
    """Command, steps and best validation record of an earlier run (provenance of a fine-tuned run)."""
    run = json.loads((folder / "run.json").read_text())
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
    val = [r for r in records if r.get("split") == "val"]
    return {
        "run": str(folder),
        "command": run.get("command"),
        "steps": run["train"]["steps"],
        "best_val": min(val, key=lambda r: r["mpjpe"]) if val else {},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder of posezoo train (holds best/ and run.json)")
    parser.add_argument("name", help="registered model name")
    parser.add_argument("--tag", default="cmu")
    parser.add_argument("--views", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--json", type=Path, default=None, help="write the evaluation here")
    parser.add_argument("--no-bundle", action="store_true", help="only evaluate")
    parser.add_argument(
        "--parent",
        type=Path,
        action="append",
        default=[],
        help="run folder(s) this run was initialised from (--pretrained), oldest first: recorded as provenance",
    )
    args = parser.parse_args()

    torch.set_num_threads(1)
    model = posezoo.from_pretrained(args.run / "best").eval()
    results = evaluate(model, "test", views=args.views, seed=args.seed)
    run = json.loads((args.run / "run.json").read_text())
    records = [json.loads(line) for line in (args.run / "metrics.jsonl").read_text().splitlines() if line]
    val = [r for r in records if r.get("split") == "val"]
    best_val = min(val, key=lambda r: r["mpjpe"]) if val else {}
    parents = [_run_summary(p) for p in args.parent]
    report = {
        "model": args.name,
        "run": str(args.run),
        "test": results,
        "best_val": best_val,
        "command": run.get("command"),
        "steps": run["train"]["steps"],
    }
    if parents:
        report["initialised_from"] = parents
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.no_bundle:
        return
    if "refine" in results:
        r = results["refine"]
        metrics = {
            "mpjpe_mm": r["mpjpe"],
            "p_mpjpe_mm": r["p_mpjpe"],
            "accel_mm": r["accel"],
            "linear_mpjpe_mm": r["linear_mpjpe"],
            "cubic_mpjpe_mm": r["cubic_mpjpe"],
            "noise_sigma_m": r["sigma_m"],
            "outlier_prob": r["outlier_prob"],
        }
    else:
        c, n = results["clean"], results["noisy"]
        metrics = {
            "mpjpe_mm": c["mpjpe"],
            "mpjpe_noisy_mm": n["mpjpe"],
            "p_mpjpe_mm": c["p_mpjpe"],
            "p_mpjpe_noisy_mm": n["p_mpjpe"],
            "mpjve_mm": c["mpjve"],
            "accel_mm": c["accel"],
            "accel_noisy_mm": n["accel"],
        }
        if "input_stride" in c:
            metrics["input_stride"] = c["input_stride"]
    folder = bundle_weights(
        args.run / "best",
        args.name,
        tag=args.tag,
        metrics=metrics,
        command=run.get("command") or "",
        extra={
            "config": {"train": run["train"], "recipe": run["recipe"]},
            "seed": run["train"]["seed"],
            "data": "CMU mocap17 train + extra (subjects 1, 2, 5, 60, 8-14); validation: 10 % of those clips "
            "held out by clip; test: subjects 6, 7 through static virtual cameras",
            "val_clips": run.get("val_clips"),
            "best_val": best_val,
            "steps": run["train"]["steps"],
            "versions": run.get("versions"),
            "evaluation": {"views": args.views, "seed": args.seed},
            **({"initialised_from": parents} if parents else {}),
        },
        description=f"posezoo's own {args.name} weights trained on CMU motion capture with `posezoo train` "
        "(static virtual cameras, detector-like noise, bone-length augmentation); see docs/results.md",
        overwrite=True,
    )
    print(f"bundled -> {folder}")


if __name__ == "__main__":
    main()

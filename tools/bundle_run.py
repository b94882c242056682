"""Evaluate a training run on the test split and bundle its best weights into the package.

    python tools/bundle_run.py runs/rtpca_small rtpca_small [--views 2] [--json docs/results/rtpca_small.json]
    python tools/bundle_run.py runs/mixste_small_causal mixste_small --tag cmu-causal \
        --latency-json docs/results/latency_mixste_small_causal.json     # streaming weights

Runs :func:`posezoo.training.evaluate` on ``cmu_mocap("test")`` (clean and
detector-like noisy 2D through static cameras; MixSynthFormer: refinement of
noisy keyframes vs interpolation), writes the JSON, then
:func:`posezoo.models.bundle_weights` with those metrics, the run's exact
command and its resolved configuration (``run.json``). With ``--latency-json`` (the output of
``tools/eval_latency.py`` for this run's weights) the weights are bundled with those streaming-latency
metrics instead, without a second evaluation.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import posezoo
from posezoo.models import bundle_weights
from posezoo.training import evaluate


def _best_val(folder: Path) -> dict:
    """The validation record with the lowest MPJPE in a run's ``metrics.jsonl`` (``{}`` without one)."""
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
    val = [r for r in records if r.get("split") == "val"]
    return min(val, key=lambda r: r["mpjpe"]) if val else {}


def _run_summary(folder: Path) -> dict:
    """Command, steps and best validation record of an earlier run (provenance of a fine-tuned run)."""
    run = json.loads((folder / "run.json").read_text())
    return {
        "run": str(folder),
        "command": run.get("command"),
        "steps": run["train"]["steps"],
        "best_val": _best_val(folder),
    }


def _latency_metrics(report: dict, weights: Path) -> dict:
    """``mpjpe_latency{L}_mm`` / ``accel_latency{L}_mm`` of an eval_latency.py report made for ``weights``."""
    if Path(report.get("weights", "")).resolve() != weights.resolve():
        raise SystemExit(f"--latency-json was measured for weights {report.get('weights')!r}, not {str(weights)!r}")
    metrics = {}
    for latency, values in sorted(report["latency"].items(), key=lambda kv: int(kv[0])):
        metrics[f"mpjpe_latency{latency}_mm"] = values["mpjpe"]
        metrics[f"accel_latency{latency}_mm"] = values["accel"]
    return metrics


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
    parser.add_argument(
        "--latency-json",
        type=Path,
        default=None,
        help="bundle with the metrics of tools/eval_latency.py (this JSON, for this run's weights) instead of evaluating",
    )
    args = parser.parse_args()

    torch.set_num_threads(1)
    if args.latency_json is not None:
        results = {"latency": json.loads(args.latency_json.read_text())}
    else:
        model = posezoo.from_pretrained(args.run / "best").eval()
        results = evaluate(model, "test", views=args.views, seed=args.seed)
    run = json.loads((args.run / "run.json").read_text())
    best_val = _best_val(args.run)
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
    description = (
        f"posezoo's own {args.name} weights trained on CMU motion capture with `posezoo train` "
        "(static virtual cameras, detector-like noise, bone-length augmentation); see docs/results.md"
    )
    evaluation = {"views": args.views, "seed": args.seed}
    if "latency" in results:
        metrics = _latency_metrics(results["latency"], args.run / "best")
        latency = results["latency"]
        evaluation = {
            "tool": "tools/eval_latency.py (the StreamingLifter definition, clean 2D, no flip TTA)",
            "views": latency.get("views"),
            "seed": latency.get("seed"),
        }
        description = (
            f"{args.name} fine-tuned for streaming: accurate at low latency with posezoo.StreamingLifter; "
            "see docs/results.md and docs/deploy.md"
        )
    elif "refine" in results:
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
            "evaluation": evaluation,
            **({"initialised_from": parents} if parents else {}),
        },
        description=description,
        overwrite=True,
    )
    print(f"bundled -> {folder}")


if __name__ == "__main__":
    main()

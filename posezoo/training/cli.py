"""``posezoo train`` and ``posezoo eval`` (registered with :mod:`posezoo.cli`)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = ["register_commands"]


def _cmd_train(args: argparse.Namespace) -> int:
    from .api import fit
    from .config import parse_overrides

    overrides: dict[str, Any] = {}
    if args.config:
        loaded = json.loads(Path(args.config).read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.config}: expected a JSON object of settings, got {type(loaded).__name__}")
        overrides.update(loaded)
    overrides.update(parse_overrides(args.set or []))
    model_kwargs = json.loads(args.model_kwargs) if args.model_kwargs else {}
    pretrained: Any = args.pretrained if args.pretrained is not None else False
    if not args.data and not args.h36m:
        raise ValueError("give the training data: --data (mocap clips or CMU split) or --h36m DIR (VideoPose3D files)")
    h36m = (
        {
            "h36m": args.h36m,
            "h36m_2d": args.h36m_2d,
            "h36m_subjects": args.h36m_subjects,
            "h36m_actions": args.h36m_actions,
            "h36m_noise": args.h36m_noise,
        }
        if args.h36m
        else {}
    )
    trainer = fit(
        args.model,
        args.data,
        args.val,
        **h36m,
        steps=args.steps,
        batch_size=args.batch_size,
        out_dir=args.out,
        seed=args.seed,
        resume=args.resume,
        pretrained=pretrained,
        val_fraction=args.val_fraction,
        device=args.device,
        progress=None if args.progress is None else args.progress == "on",
        overrides=overrides,
        model_kwargs=model_kwargs,
        run_info={
            "command": "posezoo train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 1 else "",
            "data": [str(d) for d in args.data or []],
            "val": [str(v) for v in args.val or []],
        },
    )
    if trainer.rank == 0:
        last = [r for r in trainer.history if r.get("split") == "val"]
        summary = {"steps": trainer.step, "best": trainer.best, "out": args.out, **(last[-1] if last else {})}
        print(json.dumps(summary))
    return 0


def _print_table(results: dict[str, dict[str, Any]]) -> None:
    keys = ["mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "accel"]
    print(f"{'setting':<10}" + "".join(f"{k:>10}" for k in keys))
    for setting, values in results.items():
        if setting == "refine":
            for prefix, label in (("", "model"), ("linear_", "linear"), ("cubic_", "cubic"), ("nearest_", "nearest")):
                print(f"{label:<10}" + "".join(f"{values.get(prefix + k, float('nan')):>10.2f}" for k in keys))
        else:
            print(f"{setting:<10}" + "".join(f"{values.get(k, float('nan')):>10.2f}" for k in keys))
    print("(millimetres; mpjve per frame, accel per frame^2)")


def _print_action_table(results: dict[str, Any]) -> None:
    keys = [k for k in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "linear_mpjpe", "cubic_mpjpe") if k in results]
    labels = {"mpjpe": "#1 mpjpe", "p_mpjpe": "#2 p_mpjpe"}
    print(f"{'action':<14}" + "".join(f"{labels.get(k, k):>14}" for k in keys) + f"{'frames':>10}")
    for action, values in results["per_action"].items():
        print(f"{action:<14}" + "".join(f"{values[k]:>14.2f}" for k in keys) + f"{values['frames']:>10}")
    print(f"{'average':<14}" + "".join(f"{results[k]:>14.2f}" for k in keys) + f"{results['frames']:>10}")
    print(
        f"(millimetres, mean over actions; subjects {', '.join(results['subjects'])}, 2D {results['source']}, "
        f"flip TTA {'on' if results['flip_tta'] else 'off'})"
    )


def _cmd_eval(args: argparse.Namespace) -> int:
    from ..models import create_model, from_pretrained
    from .api import evaluate

    extra = {"num_frames": args.num_frames} if args.num_frames else {}
    if args.weights and Path(args.weights).is_dir() and not extra:
        model = from_pretrained(args.weights)
    else:
        model = create_model(args.model, pretrained=args.weights or True, **extra)
    if not args.data and not args.h36m:
        raise ValueError(
            "give the evaluation data: --data (mocap clips or CMU split) or --h36m DIR (VideoPose3D files)"
        )
    model.eval()
    results = evaluate(
        model,
        args.data,
        views=args.views,
        seed=args.seed,
        input_stride=args.input_stride,
        flip_tta=args.flip_tta,
        h36m=args.h36m,
        h36m_2d=args.h36m_2d,
        h36m_subjects=args.h36m_subjects,
        h36m_actions=args.h36m_actions,
        noise=tuple(args.noise) if args.noise else None,
    )
    if args.h36m:
        _print_action_table(results)
    else:
        _print_table(results)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "model": args.model,
                    "weights": args.weights,
                    "data": args.data,
                    "h36m": args.h36m,
                    "num_frames": getattr(model, "num_frames", None),
                    **results,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


def _h36m_arguments(p: argparse.ArgumentParser, subjects: str) -> None:
    p.add_argument(
        "--h36m",
        default=None,
        metavar="DIR",
        help="Human3.6M: folder with VideoPose3D's data_3d_h36m.npz and data_2d_h36m_<SOURCE>.npz",
    )
    p.add_argument(
        "--h36m-2d",
        default="cpn_ft_h36m_dbb",
        metavar="SOURCE",
        help="2D file of --h36m: data_2d_h36m_<SOURCE>.npz (default cpn_ft_h36m_dbb; gt, ...)",
    )
    p.add_argument("--h36m-subjects", nargs="+", default=None, metavar="S", help=f"default: {subjects}")
    p.add_argument("--h36m-actions", nargs="+", default=None, metavar="ACTION", help="default: all 15")


def register_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``eval`` to the ``posezoo`` parser."""
    p = sub.add_parser("train", help="train or fine-tune a model (CPU/CUDA; torchrun for DDP)")
    p.add_argument("--model", required=True, help="registered model name")
    p.add_argument(
        "--data",
        action="append",
        default=None,
        help="training clips: npz file or CMU split name (train, extra); repeat for more",
    )
    _h36m_arguments(p, "S1 S5 S6 S7 S8")
    p.add_argument("--h36m-noise", action="store_true", help="add the recipe's detector noise to the H36M 2D too")
    p.add_argument(
        "--val",
        action="append",
        default=None,
        help="validation clips (npz or split name); default: hold out --val-fraction of --data by clip",
    )
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=None, help="windows per step and per process")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--pretrained", default=None, help="start from weights: tag, path or hf-hub:org/repo")
    p.add_argument("--config", default=None, help="JSON file of engine/recipe settings")
    p.add_argument("--set", action="append", default=None, metavar="KEY=VALUE", help="engine or recipe setting")
    p.add_argument("--model-kwargs", default=None, help="JSON of model constructor overrides")
    p.add_argument("--device", default=None)
    p.add_argument("--progress", choices=["on", "off"], default=None, help="progress bar (default: on a terminal)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="evaluate a model: clips through static virtual cameras, or H36M protocols #1/#2")
    p.add_argument("--model", required=True, help="registered model name")
    p.add_argument("--weights", default=None, help="save_pretrained dir, tag or file (default: bundled)")
    p.add_argument("--data", action="append", default=None, help="npz file or CMU split name (e.g. test)")
    _h36m_arguments(p, "S9 S11")
    p.add_argument("--no-flip-tta", dest="flip_tta", action="store_false", help="lift without flip TTA")
    p.add_argument("--views", type=int, default=2, help="static cameras per clip")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--input-stride", type=int, default=None, help="Uplift and Upsample: keyframe spacing")
    p.add_argument(
        "--num-frames", type=int, default=None, help="evaluate at another window length (temporal embeddings resampled)"
    )
    p.add_argument(
        "--noise",
        nargs=2,
        type=float,
        default=None,
        metavar=("SIGMA", "OUTLIERS"),
        help="the noisy pass: lifters: Gaussian sigma in px per 1000 px of image (default 3) and outlier fraction "
        "(0.02); MixSynthFormer: keyframe jitter in mm (20) and outlier fraction (0.02)",
    )
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    p.set_defaults(func=_cmd_eval)

"""The ``posezoo`` command line: ``demo``, ``list``, ``info``, ``convert``, ``train``, ``eval``, ``lift``, ``export``.

Run ``posezoo --help`` (or ``python -m posezoo --help``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
from typing import Callable, Optional, Sequence

__all__ = ["main", "build_parser"]


def _cmd_list(args: argparse.Namespace) -> int:
    from .models import get_model_entry, list_models

    names = list_models(args.pattern, pretrained=args.pretrained)
    if not names:
        print("no models match" + (f" {args.pattern!r}" if args.pattern else ""))
        return 0
    if args.markdown:
        _print_markdown_table(names)
        return 0
    width = max(len(n) for n in names)
    for name in names:
        entry = get_model_entry(name)
        print(f"{name:<{width}}  {entry.family:<16} weights: {weights_summary(name)}")
    return 0


def weights_summary(name: str, markdown: bool = False) -> str:
    """The weights of ``name`` with their test MPJPE, e.g. ``cmu* (test MPJPE 48.1 mm, noisy 2D 60.3 mm)``.

    ``*`` marks the default tag; ``-`` (``—`` in Markdown) when there are none.
    """
    from .models import get_model_entry

    entry = get_model_entry(name)
    if not entry.weights:
        return "—" if markdown else "-"
    parts = []
    for tag, meta in entry.weights.items():
        numbers = []
        if "mpjpe_mm" in meta.metrics:
            numbers.append(f"{meta.metrics['mpjpe_mm']:.1f} mm")
        if "mpjpe_noisy_mm" in meta.metrics:
            numbers.append(f"noisy 2D {meta.metrics['mpjpe_noisy_mm']:.1f} mm")
        label = f"`{tag}`" if markdown else tag + ("*" if tag == entry.default_tag and len(entry.weights) > 1 else "")
        if numbers:
            label += (": " if markdown else " (test MPJPE ") + ", ".join(numbers) + ("" if markdown else ")")
        parts.append(label)
    return "; ".join(parts)


def input_window(model: object) -> str:
    """The input window of a built model as the README's model table states it."""
    frames = getattr(model, "num_frames", None)
    if frames is None:
        return "any"
    if hasattr(model, "output_stride"):
        return f"{frames} tokens = {model.receptive_field} frames"
    if getattr(model, "num_future_frames", 0):
        return f"{frames} -> {model.num_future_frames} frames"
    if hasattr(model, "sample_interval"):
        return f"{frames} frames (K={model.sample_interval})"
    return f"{frames} frames"


MARKDOWN_HEADER = "| name | family | input window | params | weights (test MPJPE) | notes |"


def _print_markdown_table(names: list[str]) -> None:
    """One README table row per variant: name, family, window, parameters, weights, notes."""
    from .models import count_parameters, get_model_entry

    print(MARKDOWN_HEADER)
    print("|---|---|---|---|---|---|")
    for name in names:
        entry = get_model_entry(name)
        model = entry.model_cls(**entry.config)
        notes = entry.notes.split(". ")[0].replace("|", "/")
        print(
            f"| `{name}` | {entry.family} | {input_window(model)} | {count_parameters(model):,} | "
            f"{weights_summary(name, markdown=True)} | {notes} |"
        )


def _cmd_info(args: argparse.Namespace) -> int:
    from .models import model_info

    info = model_info(args.name, flops=args.flops)
    print(json.dumps(info, indent=2, default=str))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    report = run_demo(
        args.model,
        args.out,
        animate=args.animate,
        animation_out=args.animation_out,
        sample=args.sample,
        seed=args.seed,
        noise=not args.clean,
        frames=args.frames,
        input_stride=args.input_stride,
    )
    print(
        f"{report['model']} (weights {report['tag']!r}), CMU clip {report['sample']}: {report['frames']} frames "
        f"through a virtual camera ({report['image_size'][0]}x{report['image_size'][1]} px), "
        f"{'detector-like noise' if report['noise'] else 'clean 2D'}, {report['mode']}"
    )
    print(f"MPJPE   {report['mpjpe_mm']:7.1f} mm")
    print(f"P-MPJPE {report['p_mpjpe_mm']:7.1f} mm")
    if "mpjpe_interpolation_mm" in report:
        print(f"MPJPE of linear interpolation of the same keyframes: {report['mpjpe_interpolation_mm']:.1f} mm")
    print(
        f"wrote {report['figure']}"
        + (f" and {report['animation']}" if report["animation"] else "")
        + f" ({report['seconds']:.1f} s)"
    )
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    from .demo import DEFAULT_DEMO_MODEL

    p = sub.add_parser("demo", help="lift the bundled CMU clip with bundled weights and draw demo.png")
    p.add_argument(
        "--model", default=DEFAULT_DEMO_MODEL, help=f"model with bundled weights (default {DEFAULT_DEMO_MODEL})"
    )
    p.add_argument("--out", default="demo.png", help="figure path (default demo.png)")
    p.add_argument("--animate", action="store_true", help="also write an animation (demo.gif)")
    p.add_argument("--animation-out", default=None, help="animation path (.gif, or .mp4 with ffmpeg)")
    p.add_argument("--sample", default="06_01", help="bundled clip (default 06_01)")
    p.add_argument("--seed", type=int, default=0, help="seed of the virtual camera and the noise")
    p.add_argument("--clean", action="store_true", help="no detector-like noise on the 2D keypoints")
    p.add_argument("--frames", type=int, default=None, help="use only the first N frames")
    p.add_argument("--input-stride", type=int, default=None, help="Uplift-and-Upsample keyframe stride")
    p.set_defaults(func=_cmd_demo)


def _cmd_convert(args: argparse.Namespace) -> int:
    from ._validation import read_json
    from .convert import from_official
    from .models import save_pretrained

    inline = args.config and args.config.lstrip().startswith("{")
    config = read_json("", "official config", text=args.config) if inline else args.config
    model = from_official(args.family, args.checkpoint, config=config, joint_order=args.joint_order)
    out = save_pretrained(model, args.output)
    print(
        f"converted {args.checkpoint} -> {out} ({type(model).__name__}, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="posezoo", description="posezoo: video 3D human pose models")
    parser.add_argument("--version", action="version", version=f"posezoo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_demo(sub)

    p = sub.add_parser("list", help="list registered models")
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch wildcard, e.g. 'rtpca*'")
    p.add_argument("--pretrained", action="store_true", help="only models with pretrained weights")
    p.add_argument("--markdown", action="store_true", help="print the README's Markdown model table")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="show a model's family, config, parameters and weights")
    p.add_argument("name")
    p.add_argument("--flops", action="store_true", help="also count FLOPs of one clip")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("convert", help="convert an official checkpoint to a save_pretrained directory")
    p.add_argument("family", help="rtpca | mixste | uplift_upsample | mixsynthformer")
    p.add_argument("checkpoint", help="official checkpoint file")
    p.add_argument("output", help="output directory (config.json + model.safetensors)")
    p.add_argument("--config", default=None, help="official config: JSON file or inline JSON")
    p.add_argument("--joint-order", default="h36m", choices=["h36m", "official"])
    p.set_defaults(func=_cmd_convert)

    from .training.cli import register_commands as register_training

    register_training(sub)
    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


# Later modules (demo, eval, train, bench) append a function that adds their sub-parser.
_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def _add_lift_command(sub: argparse._SubParsersAction) -> None:
    """``posezoo lift``: keypoint file -> 3D (logic in posezoo/io/lift_cli.py)."""
    from .io.lift_cli import add_lift_parser

    add_lift_parser(sub)


_EXTRA_COMMANDS.append(_add_lift_command)


def _add_export_command(sub: argparse._SubParsersAction) -> None:
    """``posezoo export``: model -> ONNX (logic in posezoo/export.py)."""
    from .export import add_export_parser

    add_export_parser(sub)


_EXTRA_COMMANDS.append(_add_export_command)


def _add_bench_command(sub: argparse._SubParsersAction) -> None:
    """``posezoo bench``: speed of the models (logic in posezoo/bench.py)."""
    from .bench import add_bench_parser

    add_bench_parser(sub)


_EXTRA_COMMANDS.append(_add_bench_command)


#: Errors that mean "bad input" (WeightsError is a ValueError; FileNotFoundError an OSError).
_INPUT_ERRORS = (ValueError, TypeError, OSError, ImportError, pickle.UnpicklingError)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command. Every failure of any command prints one ``posezoo CMD: error: ...`` line on
    stderr and returns 2 (no traceback; set ``POSEZOO_TRACEBACK=1`` to see one)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that went away (`posezoo list | head`) shows up here, not at exit
        return code
    except BrokenPipeError:
        _discard_stdout()
        return 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader closed the pipe
    except KeyboardInterrupt:
        print(f"posezoo {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the command line answers every error the same way
        if os.environ.get("POSEZOO_TRACEBACK"):
            raise
        if isinstance(exc, _INPUT_ERRORS):
            print(f"posezoo {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        else:  # a bug in posezoo rather than bad input: say so, still without a traceback
            print(
                f"posezoo {args.command}: error: internal error {type(exc).__name__}: {_one_line(exc)} "
                "(please report it; POSEZOO_TRACEBACK=1 shows the traceback)",
                file=sys.stderr,
            )
        return 2


def _discard_stdout() -> None:
    """Point stdout at the null device, so the interpreter's final flush of the closed pipe is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (e.g. captured by a test)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

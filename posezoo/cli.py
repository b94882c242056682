"""The ``posezoo`` command line: ``list``, ``info``, ``convert``.

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
        tags = ", ".join(entry.weights) or "-"
        print(f"{name:<{width}}  {entry.family:<16} weights: {tags}")
    return 0


def _print_markdown_table(names: list[str]) -> None:
    """One README table row per variant: name, family, frames, parameters, notes."""
    from .models import get_model_entry, model_info

    print("| name | family | frames | params | notes |")
    print("|---|---|---|---|---|")
    for name in names:
        info = model_info(name)
        frames = info["num_frames"] if info["num_frames"] is not None else "any"
        notes = get_model_entry(name).notes.split(". ")[0].replace("|", "/")
        print(f"| `{name}` | {info['family']} | {frames} | {info['params']:,} | {notes} |")


def _cmd_info(args: argparse.Namespace) -> int:
    from .models import model_info

    info = model_info(args.name, flops=args.flops)
    print(json.dumps(info, indent=2, default=str))
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from ._validation import read_json
    from .convert import from_official
    from .models import save_pretrained

    inline = args.config and args.config.lstrip().startswith("{")
    config = read_json("", "official config", text=args.config) if inline else args.config
    model = from_official(args.family, args.checkpoint, config=config, joint_order=args.joint_order)
    out = save_pretrained(model, args.output)
    print(f"converted {args.checkpoint} -> {out} ({type(model).__name__}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="posezoo", description="posezoo: video 3D human pose models")
    parser.add_argument("--version", action="version", version=f"posezoo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered models")
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch wildcard, e.g. 'rtpca*'")
    p.add_argument("--pretrained", action="store_true", help="only models with pretrained weights")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table with parameter counts")
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

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


# Later modules (demo, eval, train, bench) append a function that adds their sub-parser.
_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


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
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"posezoo {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the command line answers every error the same way
        if os.environ.get("POSEZOO_TRACEBACK"):
            raise
        if isinstance(exc, _INPUT_ERRORS):
            print(f"posezoo {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        else:  # a bug in posezoo rather than bad input: say so, still without a traceback
            print(f"posezoo {args.command}: error: internal error {type(exc).__name__}: {_one_line(exc)} "
                  "(please report it; POSEZOO_TRACEBACK=1 shows the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

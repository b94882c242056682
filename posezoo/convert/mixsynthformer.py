"""Official MixSynthFormer checkpoints (``checkpoint.pth.tar``) -> :class:`MixSynthFormer`.

The official ``Trainer.save_model`` writes ``{'epoch', 'state_dict',
'performance', 'optimizer'}``; ``state_dict`` has no prefix. Everything about
the architecture is read from tensor shapes:

=========================================  ====================================
``encoder_emb.weight`` ``(C, P)``           width C, features P = J * D
``l_interp.weight`` ``(T, Q+1)``            window T, keyframes Q+1, K = (T-1)/Q
``encoder.layers.{i}.*``                    depth L
``...synth_token.dense.weight`` rows        T // rt  (token reduction)
``...synth_channel.dense.weight`` rows      C // rc  (channel reduction)
``...ff.fc1.weight`` rows                   FFN width (expansion factor)
=========================================  ====================================

A reduction factor is the smallest r with ``T // r`` (or ``C // r``) equal
to the row count: any such r gives the same shapes and outputs. The official
``eval.py`` hard-codes ``reduce_token=reduce_channel=1``, which is wrong for
the files ``train.py`` writes, so a ``config`` that disagrees with the shapes
only raises a warning: shapes win.

``value_reduce`` of a branch with reduction 1 is stored but never used by the
official forward pass; it is dropped (listed in ``dropped_keys``) unless
``config={"keep_unused_value_reduce": True}``.

J x D cannot be read from P alone: ``config`` may give ``num_joints`` /
``in_channels``; otherwise the paper's layouts are used (51 -> 17x3,
34 -> 17x2, 30 -> 15x2, 42 -> 14x3, 144 -> 24x6, 72 -> 24x3) and any other P
becomes ``P/3 x 3``, ``P/2 x 2`` or ``P x 1``. The choice only matters for
``(B, T, J, D)`` inputs; ``(B, T, P)`` inputs (the official layout) are
unaffected. Joint order is kept as in the checkpoint.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch

from .._validation import check_bool, check_float, check_int, check_probability, check_str_keys, read_json
from ..models._weights import WeightsError
from ._official import OfficialConversion, PathLike, register_converter
from ._safe_load import load_pickled_checkpoint, strip_prefix

__all__ = ["convert_mixsynthformer", "infer_mixsynthformer_kwargs", "rename_official_key"]

#: Feature count P -> (J, D) of the paper's data sets.
KNOWN_LAYOUTS = {51: (17, 3), 34: (17, 2), 30: (15, 2), 42: (14, 3), 144: (24, 6), 72: (24, 3)}

# official prefix/infix -> posezoo (applied in order to each key)
_RENAMES = (
    (re.compile(r"^encoder_emb\."), "embed."),
    (re.compile(r"^l_interp\."), "temporal_interp."),
    (re.compile(r"^fc\."), "head."),
    (re.compile(r"^(encoder\.layers\.\d+)\.synth_att\."), r"\1.attn."),
    (re.compile(r"^(encoder\.layers\.\d+)\.ff\."), r"\1.mlp."),
)
_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.")
_CONFIG_KEYS = {
    "sample_interval",
    "step",
    "joint_dim",
    "emb_dim",
    "num_encoder_layers",
    "expansion_factor",
    "dropout",
    "reduce_token",
    "reduce_channel",
    "device",
    "num_joints",
    "in_channels",
    "keep_unused_value_reduce",
}


def rename_official_key(key: str) -> str:
    """Official state-dict key -> posezoo key (unknown keys come back unchanged)."""
    for pattern, repl in _RENAMES:
        key = pattern.sub(repl, key)
    return key


def _read_config(config: Optional[Union[Mapping, PathLike]]) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, (str, os.PathLike)):
        config = read_json(config, "MixSynthFormer config")
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict or a JSON file path, got {type(config).__name__}")
    config = check_str_keys("config", config.get("constructor_kwargs", config))
    unknown = sorted(set(config) - _CONFIG_KEYS)
    if unknown:
        raise ValueError(f"unknown MixSynthFormer config keys {unknown}; known: {sorted(_CONFIG_KEYS)}")
    for key in (
        "sample_interval",
        "step",
        "joint_dim",
        "emb_dim",
        "num_encoder_layers",
        "reduce_token",
        "reduce_channel",
        "num_joints",
        "in_channels",
    ):
        if config.get(key) is not None:
            check_int(f"config {key}", config[key], limit="max_width")
    if "expansion_factor" in config:
        check_float("config expansion_factor", config["expansion_factor"], minimum=0.0, exclusive_minimum=True)
    if "dropout" in config:
        check_probability("config dropout", config["dropout"])
    if "keep_unused_value_reduce" in config:
        check_bool("config keep_unused_value_reduce", config["keep_unused_value_reduce"])
    return config


def _shape(sd: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in sd:
        raise WeightsError(f"official MixSynthFormer checkpoint lacks {key!r}; keys present: {sorted(sd)[:12]} ...")
    return tuple(sd[key].shape)


def _reduction(full: int, rows: int, what: str) -> int:
    """Smallest r with ``full // r == rows`` (computed, never searched: sizes come from untrusted files)."""
    if rows >= 1 and full >= rows:
        r = full // (rows + 1) + 1  # full // r == rows  <=>  full / (rows + 1) < r <= full / rows
        if full // r == rows:
            return r
    raise WeightsError(f"{what}: {rows} rows is not {full} // r for any integer r >= 1")


def _joint_layout(features: int, cfg: Mapping[str, Any]) -> tuple[int, int, str]:
    j, d = cfg.get("num_joints"), cfg.get("in_channels")
    if j is not None or d is not None:
        j = j if j is not None else features // d
        d = d if d is not None else features // j
        if j < 1 or d < 1 or j * d != features:
            raise ValueError(f"config num_joints x in_channels = {j} x {d} != {features} features in the checkpoint")
        return j, d, "config"
    if features in KNOWN_LAYOUTS:
        return (*KNOWN_LAYOUTS[features], "known data set layout")
    for d in (3, 2):
        if features % d == 0:
            return features // d, d, "guessed"
    return features, 1, "guessed"


def infer_mixsynthformer_kwargs(
    state_dict: Mapping[str, torch.Tensor], config: Optional[Mapping[str, Any]] = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(arch_kwargs, info)`` for :class:`MixSynthFormer` from an official state dict (official key names)."""
    cfg = dict(config or {})
    dim, features = _shape(state_dict, "encoder_emb.weight")
    window, keyframes = _shape(state_dict, "l_interp.weight")
    if keyframes < 2 or (window - 1) % (keyframes - 1) != 0:
        raise WeightsError(f"l_interp.weight {window}x{keyframes} is not a window of K*Q+1 frames over Q+1 keyframes")
    interval = (window - 1) // (keyframes - 1)
    layers = sorted({int(m.group(1)) for k in state_dict if (m := _LAYER.match(k))})
    if not layers or layers != list(range(len(layers))):
        raise WeightsError(f"encoder layer indices must be 0..L-1, found {layers}")
    depth = len(layers)

    per_layer = []
    for i in layers:
        p = f"encoder.layers.{i}."
        tok = _shape(state_dict, p + "synth_att.synth_token.dense.weight")[0]
        chn = _shape(state_dict, p + "synth_att.synth_channel.dense.weight")[0]
        hidden = _shape(state_dict, p + "ff.fc1.weight")[0]
        per_layer.append((tok, chn, hidden))
    if len(set(per_layer)) != 1:
        raise WeightsError(f"encoder layers differ in shape (token rows, channel rows, FFN width): {per_layer}")
    tok_rows, chn_rows, hidden = per_layer[0]
    reduce_token = _reduction(window, tok_rows, "synth_token.dense.weight")
    reduce_channel = _reduction(dim, chn_rows, "synth_channel.dense.weight")
    expansion = hidden / dim
    if int(dim * expansion) != hidden:
        raise WeightsError(f"FFN width {hidden} is not int({dim} * e) for e = {expansion}")
    if expansion == int(expansion):
        expansion = int(expansion)

    checks = {
        "joint_dim": features,
        "emb_dim": dim,
        "num_encoder_layers": depth,
        "sample_interval": interval,
        "step": keyframes - 1,
    }
    wrong = {k: (cfg[k], v) for k, v in checks.items() if k in cfg and cfg[k] != v}
    if "expansion_factor" in cfg and int(dim * cfg["expansion_factor"]) != hidden:
        wrong["expansion_factor"] = (cfg["expansion_factor"], expansion)
    if wrong:
        detail = ", ".join(f"{k}: config {a!r} vs checkpoint {b!r}" for k, (a, b) in wrong.items())
        raise ValueError(f"config does not match the checkpoint's tensor shapes ({detail})")
    for key, inferred, rows, full in (
        ("reduce_token", reduce_token, tok_rows, window),
        ("reduce_channel", reduce_channel, chn_rows, dim),
    ):
        if key in cfg and full // int(cfg[key]) != rows:
            warnings.warn(
                f"config {key}={cfg[key]} does not fit the checkpoint ({rows} rows of {full}); using "
                f"{key}={inferred} from the tensor shapes (the official eval.py hard-codes 1, which is "
                "wrong for checkpoints written by train.py)",
                stacklevel=3,
            )
        elif key in cfg:
            if key == "reduce_token":
                reduce_token = int(cfg[key])
            else:
                reduce_channel = int(cfg[key])

    num_joints, in_channels, layout_source = _joint_layout(features, cfg)
    arch = dict(
        num_joints=num_joints,
        in_channels=in_channels,
        sample_interval=interval,
        num_keyframes=keyframes,
        dim=dim,
        depth=depth,
        expansion_factor=expansion,
        reduce_token=reduce_token,
        reduce_channel=reduce_channel,
        interp="learned",
    )
    info = {"joint_layout_source": layout_source, "token_keys": tok_rows, "channel_keys": chn_rows}
    return arch, info


@register_converter("mixsynthformer", suffixes=(".pth.tar", ".pth", ".tar"))
def convert_mixsynthformer(
    path: Path, config: Optional[Union[Mapping, PathLike]] = None, joint_order: str = "h36m"
) -> OfficialConversion:
    """Convert an official ``checkpoint.pth.tar`` (see the module docstring)."""
    from ..models.mixsynthformer import MixSynthFormer

    if joint_order not in ("h36m", "official"):
        raise ValueError(
            f"joint_order must be 'h36m' or 'official' for MixSynthFormer (the checkpoint's order is kept), "
            f"got {joint_order!r}"
        )
    cfg = _read_config(config)
    ckpt = load_pickled_checkpoint(path)
    if "state_dict" in ckpt:
        sd = ckpt["state_dict"]
    elif ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        sd = ckpt  # a bare state dict
    else:
        raise WeightsError(f"{path}: no 'state_dict' entry; top-level keys: {sorted(map(str, ckpt))}")
    if not isinstance(sd, Mapping):
        raise WeightsError(f"{path}: 'state_dict' is a {type(sd).__name__}, not a mapping of names to tensors")
    non_tensor = [repr(k) for k, v in sd.items() if not isinstance(v, torch.Tensor) or not isinstance(k, str)]
    if non_tensor:
        raise WeightsError(
            f"{path}: state_dict entries that are not tensors or have non-string keys: {non_tensor[:12]}"
        )
    sd = strip_prefix(dict(sd), "module.")
    not_float = [f"{k} ({v.dtype})" for k, v in sd.items() if not v.is_floating_point()]
    if not_float:  # never cast integer/bool/complex data into float weights
        raise WeightsError(f"{path}: official weights must be floating point; non-floating tensors: {not_float[:12]}")

    arch, info = infer_mixsynthformer_kwargs(sd, cfg)
    keep_unused = bool(cfg.get("keep_unused_value_reduce", False))
    compat: dict[str, Any] = {}
    if keep_unused:
        compat["keep_unused_value_reduce"] = True
    if "dropout" in cfg:
        compat["dropout"] = float(cfg["dropout"])

    expected = MixSynthFormer(**arch, **compat).state_dict()
    converted: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    unmappable: list[str] = []
    for key, value in sd.items():
        new = rename_official_key(key)
        if new in expected:
            if tuple(expected[new].shape) != tuple(value.shape):
                unmappable.append(f"{key} {tuple(value.shape)} (posezoo {new} {tuple(expected[new].shape)})")
            else:
                converted[new] = value.detach().clone().float()
        elif not keep_unused and new.endswith((".value_reduce.weight", ".value_reduce.bias")):
            dropped.append(key)  # reduction 1: never used by the official forward pass
        else:
            unmappable.append(key)
    missing = [k for k in expected if k not in converted]
    if unmappable or missing:
        parts = []
        if unmappable:
            parts.append(f"unmappable official keys ({len(unmappable)}): {', '.join(unmappable)}")
        if missing:
            parts.append(f"posezoo keys without an official tensor ({len(missing)}): {', '.join(missing)}")
        raise WeightsError(f"{path}: " + "; ".join(parts))

    performance = ckpt.get("performance") if isinstance(ckpt.get("performance"), Mapping) else {}
    epoch = ckpt.get("epoch")
    meta = {
        "epoch": epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
        "official_metrics": {  # plain finite numbers only (this metadata is copied into config.json)
            str(k): round(float(v), 6)
            for k, v in performance.items()
            if (isinstance(v, (float, int)) and not isinstance(v, bool))
            or (isinstance(v, torch.Tensor) and v.numel() == 1 and v.is_floating_point())
            if math.isfinite(float(v))
        },
        **info,
    }
    return OfficialConversion(
        model_cls=MixSynthFormer,
        arch_kwargs=arch,
        state_dict=converted,
        compat_kwargs=compat,
        dropped_keys=dropped,
        meta=meta,
    )

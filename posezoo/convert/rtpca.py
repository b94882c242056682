"""Official RTPCA (hbing-l/RTPCA) and MixSTE (JinluZhang1126/MixSTE) checkpoints -> posezoo.

Both official ``run.py`` files save ``torch.save({'epoch', 'lr', 'random_state',
'optimizer', 'model_pos'})`` where ``model_pos`` is the state dict of an
``nn.DataParallel``-wrapped ``MixSTE2`` (keys start with ``module.``) and
``random_state`` is a pickled ``numpy.random.RandomState``. The file is read
with :func:`~posezoo.convert.load_pickled_checkpoint` (``weights_only=True``,
non-tensor globals replaced by inert placeholders); only ``model_pos`` is used.

Key mapping (official -> posezoo)::

    Spatial_patch_to_embedding.*       joint_embed.*
    Spatial_pos_embed [1, J, C]        spatial_pos_embed.weight [J, C]
    Temporal_pos_embed [1, F, C]       temporal_pos_embed.weight [F, C]
    STEblocks.i.* / TTEblocks.i.*      spatial_blocks.i.* / temporal_blocks.i.*
    Spatial_norm.* / Temporal_norm.*   spatial_norm.* / temporal_norm.*
    head.0.* / head.1.*                head_norm.* / head.*
    RTPCA STEblocks.i.attn.q + .kv     spatial_blocks.i.attn.qkv (rows stacked: q, k, v)
    RTPCA TTEblocks.i.attn.normK       temporal_blocks.i.attn.tpca.down_norms.(K-1)   (K = 1..3)
    RTPCA TTEblocks.i.attn.norm4       temporal_blocks.i.attn.tpca.out_norm
    RTPCA TTEblocks.i.attn.upK         temporal_blocks.i.attn.tpca.amplify.(K-1)
    RTPCA TTEblocks.i.attn.upnormK     temporal_blocks.i.attn.tpca.up_norms.(K-1)

The TPCA tensors of RTPCA's *spatial* blocks are never used by the official
forward pass and are dropped (listed in ``OfficialConversion.dropped_keys``).
Any other key that cannot be mapped is an error that lists it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch

from .._validation import check_bool, check_float, check_int, check_probability, check_str_keys, read_json
from ..layers.tpca import pyramid_lengths
from ._official import OfficialConversion, register_converter
from ._safe_load import load_pickled_checkpoint, strip_prefix

__all__ = ["convert_rtpca", "convert_mixste", "OFFICIAL_KWARGS", "SUFFIXES"]

SUFFIXES = (".bin", ".pth", ".pt")
#: keyword arguments of the official ``MixSTE2`` constructor (both repositories)
OFFICIAL_KWARGS = (
    "num_frame",
    "embed_dim_ratio",
    "depth",
    "num_joints",
    "in_chans",
    "num_heads",
    "mlp_ratio",
    "qkv_bias",
    "qk_scale",
    "drop_rate",
    "attn_drop_rate",
    "drop_path_rate",
    "norm_layer",
)
_OFFICIAL_DEFAULT_HEADS = 8  # run.py never changes it (nor do posezoo's classes); not visible in any shape
_OFFICIAL_XLR_MEMORY_LEN = 30  # adaptive_avg_pool1d(30) is hard-coded in the official XLR path
_TPCA_RATIO = 2  # stride of the official transposed convolutions / halving of the pyramid
_BLOCK_KEY = re.compile(r"^(STE|TTE)blocks\.(\d+)\.(.+)$")
_LIST_LIMIT = 12
_JOINT_ORDERS = ("h36m", "official")

PathLike = Union[str, os.PathLike]


def _fmt_keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LIST_LIMIT])
    return shown + (f", ... (+{len(keys) - _LIST_LIMIT} more)" if len(keys) > _LIST_LIMIT else "")


def _read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    ckpt = load_pickled_checkpoint(path)
    if "model_pos" in ckpt:
        state = ckpt["model_pos"]
    elif ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        state = ckpt  # a bare state dict
    else:
        raise ValueError(
            f"{path}: expected an official run.py checkpoint with a 'model_pos' state dict, "
            f"found top-level keys {sorted(map(str, ckpt))}"
        )
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: 'model_pos' is a {type(state).__name__}, not a state dict")
    bad = [str(k) for k, v in state.items() if not isinstance(v, torch.Tensor) or not isinstance(k, str)]
    if bad:
        raise ValueError(f"{path}: non-tensor entries or non-string keys in the state dict: {_fmt_keys(bad)}")
    not_float = [f"{k} ({v.dtype})" for k, v in state.items() if not v.is_floating_point()]
    if not_float:
        raise ValueError(
            f"{path}: official weights must be floating point; non-floating tensors: {_fmt_keys(not_float)}"
        )
    meta = {k: ckpt[k] for k in ("epoch", "lr") if isinstance(ckpt.get(k), (int, float))}
    return strip_prefix(dict(state), "module."), meta


def _read_config(config: Optional[Union[Mapping, PathLike]]) -> dict[str, Any]:
    """Official constructor kwargs from a dict, a JSON string or a JSON file.

    A fixture-style config (with ``constructor_kwargs``) is accepted as well.
    """
    if config is None:
        return {}
    if isinstance(config, (str, os.PathLike)):
        text = str(config)
        if isinstance(config, str) and text.lstrip().startswith("{"):
            config = read_json("", "official RTPCA/MixSTE config", text=text)
        else:
            config = read_json(config, "official RTPCA/MixSTE config")
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict, a JSON string or a JSON file path, got {type(config).__name__}")
    if "constructor_kwargs" in config:
        config = config["constructor_kwargs"]
    config = check_str_keys("config", config)
    unknown = sorted(set(config) - set(OFFICIAL_KWARGS))
    if unknown:
        raise ValueError(
            f"unknown official constructor arguments {unknown}; expected a subset of {list(OFFICIAL_KWARGS)}"
        )
    if config.get("qk_scale") is not None:
        raise ValueError(f"qk_scale={config['qk_scale']!r} is not supported (the official models use None = d**-0.5)")
    if config.get("norm_layer") is not None:
        raise ValueError(f"norm_layer={config['norm_layer']!r} is not supported (the official models use None)")
    for key in ("num_frame", "embed_dim_ratio", "depth", "num_joints", "in_chans", "num_heads"):
        if key in config:
            check_int(f"config {key}", config[key], limit="max_depth" if key == "depth" else "max_width")
    if "mlp_ratio" in config:
        check_float("config mlp_ratio", config["mlp_ratio"], minimum=0.0, exclusive_minimum=True)
    for key in ("drop_rate", "attn_drop_rate", "drop_path_rate"):
        if key in config:
            check_probability(f"config {key}", config[key])
    if "qkv_bias" in config:
        check_bool("config qkv_bias", config["qkv_bias"])
    return dict(config)


def _require(state: Mapping[str, torch.Tensor], key: str, ndim: int) -> torch.Tensor:
    if key not in state:
        raise ValueError(f"not an official RTPCA/MixSTE state dict: key {key!r} is missing")
    tensor = state[key]
    if tensor.ndim != ndim:
        raise ValueError(f"{key} has shape {tuple(tensor.shape)}, expected {ndim} dimensions")
    return tensor


def _infer_architecture(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> dict[str, Any]:
    """posezoo constructor kwargs from tensor shapes, cross-checked against ``config``."""
    embed = _require(state, "Spatial_patch_to_embedding.weight", 2)
    dim, in_channels = embed.shape
    num_joints = _require(state, "Spatial_pos_embed", 3).shape[1]
    num_frames = _require(state, "Temporal_pos_embed", 3).shape[1]
    out_channels = _require(state, "head.1.weight", 2).shape[0]
    depths = {}
    for prefix in ("STE", "TTE"):
        ids = sorted({int(m.group(2)) for k in state if (m := _BLOCK_KEY.match(k)) and m.group(1) == prefix})
        if ids != list(range(len(ids))) or not ids:
            raise ValueError(f"{prefix}blocks indices must be 0..depth-1, found {ids}")
        depths[prefix] = len(ids)
    if depths["STE"] != depths["TTE"]:
        raise ValueError(f"{depths['STE']} spatial blocks but {depths['TTE']} temporal blocks")
    hidden = _require(state, "STEblocks.0.mlp.fc1.weight", 2).shape[0]
    mlp_ratio = hidden / dim
    qkv_bias = any(k.startswith("STEblocks.0.attn.q") and k.endswith(".bias") for k in state)
    arch = dict(
        num_frames=num_frames,
        num_joints=num_joints,
        in_channels=in_channels,
        out_channels=out_channels,
        dim=dim,
        depth=depths["STE"],
        mlp_ratio=mlp_ratio,
        qkv_bias=qkv_bias,
    )
    # cross-check the official kwargs against the shapes
    checks = {
        "num_frame": "num_frames",
        "embed_dim_ratio": "dim",
        "depth": "depth",
        "num_joints": "num_joints",
        "in_chans": "in_channels",
        "qkv_bias": "qkv_bias",
    }
    conflicts = [
        f"{k}={config[k]!r} but the checkpoint has {arch[v]!r}"
        for k, v in checks.items()
        if k in config and config[k] != arch[v]
    ]
    if "mlp_ratio" in config and int(dim * config["mlp_ratio"]) != hidden:
        conflicts.append(
            f"mlp_ratio={config['mlp_ratio']!r} gives hidden width {int(dim * config['mlp_ratio'])} "
            f"but mlp.fc1 has {hidden} rows"
        )
    if conflicts:
        raise ValueError("config does not match the checkpoint: " + "; ".join(conflicts))
    if "mlp_ratio" in config:
        arch["mlp_ratio"] = float(config["mlp_ratio"])
    if int(dim * arch["mlp_ratio"]) != hidden:
        raise ValueError(f"cannot express MLP hidden width {hidden} for width {dim} as int(dim * mlp_ratio)")
    # the head count is not visible in any shape: it enters the architecture only when the config gives it
    # (otherwise the model's default, 8 = the official default, applies and a caller may override it)
    if "num_heads" in config:
        arch["num_heads"] = int(config["num_heads"])
    heads = arch.get("num_heads", _OFFICIAL_DEFAULT_HEADS)
    if dim % heads != 0:
        raise ValueError(f"width {dim} is not divisible by num_heads={heads}")
    return arch


def _common_mapping(key: str) -> Optional[str]:
    """posezoo name of a non-block official key (None if it is not one)."""
    simple = {
        "Spatial_patch_to_embedding.weight": "joint_embed.weight",
        "Spatial_patch_to_embedding.bias": "joint_embed.bias",
        "Spatial_pos_embed": "spatial_pos_embed.weight",
        "Temporal_pos_embed": "temporal_pos_embed.weight",
    }
    if key in simple:
        return simple[key]
    for official, ours in (
        ("Spatial_norm.", "spatial_norm."),
        ("Temporal_norm.", "temporal_norm."),
        ("head.0.", "head_norm."),
        ("head.1.", "head."),
    ):
        if key.startswith(official) and key[len(official) :] in ("weight", "bias"):
            return ours + key[len(official) :]
    return None


_PLAIN_BLOCK_PARTS = re.compile(r"^(norm1|norm2|mlp\.fc1|mlp\.fc2|attn\.proj|attn\.qkv)\.(weight|bias)$")
_SPLIT_QKV_PARTS = re.compile(r"^attn\.(q|kv)\.(weight|bias)$")
_TPCA_PARTS = re.compile(r"^attn\.(norm|up|upnorm)(\d+)\.(weight|bias)$")


def _tpca_target(kind: str, index: int, stages: int) -> Optional[str]:
    if kind == "norm" and 1 <= index <= stages:
        return f"attn.tpca.down_norms.{index - 1}"
    if kind == "norm" and index == stages + 1:
        return "attn.tpca.out_norm"
    if kind in ("up", "upnorm") and 1 <= index <= stages:
        return f"attn.tpca.{'amplify' if kind == 'up' else 'up_norms'}.{index - 1}"
    return None


def _check_pyramid(state: Mapping[str, torch.Tensor], num_frames: int, stages: int) -> None:
    """The time-axis LayerNorms must have the lengths posezoo's TPCA derives from T."""
    lengths = pyramid_lengths(num_frames, stages, _TPCA_RATIO)
    expected = {f"TTEblocks.0.attn.norm{k}.weight": lengths[k] for k in range(1, stages + 1)}
    expected.update({f"TTEblocks.0.attn.upnorm{j}.weight": lengths[stages - j] for j in range(1, stages + 1)})
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected ({n},))"
        for k, n in expected.items()
        if k in state and tuple(state[k].shape) != (n,)
    ]
    if wrong:
        raise ValueError(
            f"TPCA pyramid of the checkpoint does not follow T={num_frames} -> {lengths[1:]}: " + ", ".join(wrong)
        )


def _convert(path: Path, config: Any, joint_order: str, family: str) -> OfficialConversion:
    if joint_order not in _JOINT_ORDERS:
        raise ValueError(
            f"joint_order must be one of {_JOINT_ORDERS} for {family} (the official code uses the "
            f"VideoPose3D H36M order, which is posezoo's default), got {joint_order!r}"
        )
    state, meta = _read_state_dict(path)
    official = _read_config(config)
    arch = _infer_architecture(state, official)
    is_rtpca = any(_SPLIT_QKV_PARTS.match(k.split(".", 2)[2]) for k in state if _BLOCK_KEY.match(k))
    if is_rtpca != (family == "rtpca"):
        found = "RTPCA (split q/kv attention)" if is_rtpca else "MixSTE (fused qkv attention)"
        raise ValueError(
            f"{path} holds a {found} checkpoint, not a {family} one; use from_official("
            f"{'rtpca' if is_rtpca else 'mixste'!r}, ...)"
        )
    stages = sum(1 for k in state if re.match(r"^TTEblocks\.0\.attn\.up\d+\.weight$", k))
    if family == "rtpca":
        if stages == 0:
            raise ValueError(f"{path}: RTPCA temporal blocks hold no TPCA tensors (attn.up1 ...)")
        _check_pyramid(state, arch["num_frames"], stages)

    out: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    unmapped: list[str] = []
    qkv_parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in state.items():
        target = _common_mapping(key)
        if target is not None:
            out[target] = tensor[0] if key.endswith("_pos_embed") else tensor
            continue
        match = _BLOCK_KEY.match(key)
        if match is None:
            unmapped.append(key)
            continue
        kind, index, rest = match.groups()
        prefix = f"{'spatial' if kind == 'STE' else 'temporal'}_blocks.{index}."
        if _PLAIN_BLOCK_PARTS.match(rest):
            out[prefix + rest] = tensor
        elif family == "rtpca" and (m := _SPLIT_QKV_PARTS.match(rest)):
            if kind == "TTE":
                out[prefix + rest] = tensor
            else:  # spatial blocks use posezoo's fused qkv attention
                qkv_parts.setdefault(f"{prefix}attn.qkv.{m.group(2)}", {})[m.group(1)] = tensor
        elif family == "rtpca" and (m := _TPCA_PARTS.match(rest)):
            sub = _tpca_target(m.group(1), int(m.group(2)), stages)
            if sub is None:
                unmapped.append(key)
            elif kind == "STE":
                dropped.append(key)  # built by the official class, never used by its forward pass
            else:
                out[f"{prefix}{sub}.{m.group(3)}"] = tensor
        else:
            unmapped.append(key)
    for target, parts in qkv_parts.items():
        if set(parts) != {"q", "kv"}:
            unmapped.append(f"{target} (only attn.{'/'.join(sorted(parts))} present)")
            continue
        out[target] = torch.cat([parts["q"], parts["kv"]], dim=0)
    if unmapped:
        raise ValueError(f"{path}: {len(unmapped)} official {family} keys cannot be mapped: {_fmt_keys(unmapped)}")

    compat: dict[str, Any] = {"official_compat": True}
    if family == "rtpca":
        arch.update(
            tpca=True,
            xlr=True,
            tpca_stages=stages,
            tpca_ratio=_TPCA_RATIO,
            tpca_compress="pool",
            tpca_amplify="transconv",
        )
        compat["xlr_memory_len"] = _OFFICIAL_XLR_MEMORY_LEN
    from ..models.mixste import MixSTE
    from ..models.rtpca import RTPCA

    meta = {
        **meta,
        "official_repository": "hbing-l/RTPCA" if family == "rtpca" else "JinluZhang1126/MixSTE",
        "official_class": "common/model_cross.py::MixSTE2",
    }
    return OfficialConversion(
        model_cls=RTPCA if family == "rtpca" else MixSTE,
        arch_kwargs=arch,
        state_dict=out,
        compat_kwargs=compat,
        dropped_keys=sorted(dropped),
        meta=meta,
    )


@register_converter("rtpca", suffixes=SUFFIXES)
def convert_rtpca(path: Path, config: Optional[Union[Mapping, PathLike]], joint_order: str) -> OfficialConversion:
    """Convert an official RTPCA ``checkpoint.bin`` (``MixSTE2`` of hbing-l/RTPCA).

    ``config`` is optional: the official constructor kwargs (dict, JSON string
    or file; ``num_heads`` is the only value not visible in tensor shapes,
    default 8). The never-used TPCA tensors of the spatial blocks are dropped.
    """
    return _convert(Path(path), config, joint_order, "rtpca")


@register_converter("mixste", suffixes=SUFFIXES)
def convert_mixste(path: Path, config: Optional[Union[Mapping, PathLike]], joint_order: str) -> OfficialConversion:
    """Convert an official MixSTE ``checkpoint.bin`` (``MixSTE2`` of JinluZhang1126/MixSTE)."""
    return _convert(Path(path), config, joint_order, "mixste")

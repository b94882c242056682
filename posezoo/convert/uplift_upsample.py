"""Official Uplift-and-Upsample Keras ``.h5`` weights -> :class:`posezoo.models.uplift_upsample.UpliftUpsample`.

The official TensorFlow code (``goldbricklemon/uplift-upsample-3dhpe``) saves
weights with Keras' ``model.save_weights("*.h5")``: one HDF5 group per direct
sub-layer (``spatial_block_1``, ``temporal_pe``, ...) whose ``weight_names``
attribute lists the variables in the order Keras assigns them. The names
*inside* a group carry process-global auto-numbers (``mha_7/dense_36``) that
change with how many models were built before saving, so weights are mapped
by **(group, position in weight_names)** only; the last name component
(``kernel:0``, ``gamma:0``, ...) and the shapes are checked. Names are never
sorted.

Orientation: Dense kernels ``(in, out)`` -> ``Linear.weight = kernel.T``;
Conv1D kernels ``(k, in, out)`` -> ``Conv1d.weight = kernel.permute(2, 1, 0)``
(the size-1 conv becomes a Linear with ``kernel[0].T``); the separate
query/key/value Dense layers are fused into ``qkv`` (``[Wq^T; Wk^T; Wv^T]``).

Joint order: the file's joint-indexed weights (spatial PE rows, the input of
``spatial_to_temporal_fc``, the outputs of both heads) follow the official
17-joint order (:data:`posezoo.skeleton.UPLIFT_UPSAMPLE_17`). With
``joint_order="h36m"`` (default) they are permuted here so that the model
takes and returns H36M-17 poses; ``joint_order="official"`` keeps the file's order.

The architecture (strides, paddings, output stride) cannot be read from the
weights alone, so ``config`` is required: the official config JSON
(``config/h36m_81.json``: upper-case keys), a dict of the official
constructor kwargs (``spatial_d_model``, ``strides``, ...; may add
``sequence_stride`` and ``mask_stride``), the parity fixture's
``config.json`` (``constructor_kwargs`` + ``config_fields``), or posezoo
:class:`~posezoo.models.uplift_upsample.UpliftUpsample` kwargs (what
``create_model(variant, pretrained="file.h5")`` passes).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np
import torch

from .._validation import check_bool, check_int, check_probability, check_str_keys, read_json
from ._keras_h5 import read_keras_h5
from ._official import OfficialConversion, register_converter

__all__ = ["convert_uplift_upsample", "resolve_config", "read_keras_h5"]

FAMILY = "uplift_upsample"
OFFICIAL_LAYOUT = "uplift_upsample"  # posezoo.skeleton name of the official 17-joint order

# Defaults of the official UpliftUpsampleConfig class (a JSON config overrides them).
_OFFICIAL_CONFIG_DEFAULTS: dict[str, Any] = {
    "SPATIAL_EMBED_DIM": 32,
    "TEMPORAL_EMBED_DIM": 348,
    "MLP_RATIO": 2,
    "NUM_HEADS": 8,
    "SPATIAL_TRANSFORMER_BLOCKS": 4,
    "TEMPORAL_TRANSFORMER_BLOCKS": 4,
    "STRIDES": [3, 3, 3],
    "PADDINGS": None,
    "QKV_BIAS": True,
    "DROP_PATH_RATE": [0.1, 0.1, 0.0],
    "DROP_RATE": 0.0,
    "ATTENTION_DROP_RATE": 0.0,
    "OUTPUT_BN": False,
    "USE_REFINE": False,
    "TOKEN_MASK_RATE": 0.0,
    "LEARNABLE_MASKED_TOKEN": False,
    "NUM_KEYPOINTS": 17,
    "SEQUENCE_LENGTH": 27,
    "SEQUENCE_STRIDE": 1,
    "MASK_STRIDE": None,
    "FIRST_STRIDED_TOKEN_ATTENTION_LAYER": 0,
}
_OFFICIAL_KWARG_DEFAULTS: dict[str, Any] = {
    "full_output": True,
    "num_frames": 9,
    "num_keypoints": 17,
    "spatial_d_model": 16,
    "temporal_d_model": 256,
    "spatial_depth": 3,
    "temporal_depth": 3,
    "strides": [3, 3, 3],
    "paddings": None,
    "num_heads": 8,
    "mlp_ratio": 2.0,
    "qkv_bias": True,
    "attn_drop_rate": 0.1,
    "drop_rate": 0.1,
    "drop_path_rate": 0.0,
    "output_bn": False,
    "has_strided_input": False,
    "first_strided_token_attention_layer": 0,
    "token_mask_rate": 0.0,
    "learnable_masked_token": False,
}
_EXTRA_OFFICIAL_KWARGS = {"sequence_stride", "mask_stride", "return_attention"}

PathLike = Union[str, os.PathLike]


# ---------------------------------------------------------------------------------------------
# config


def _stride(name: str, value: Any) -> int:
    return check_int(name, value, limit="max_model_frames")


def _mask_strides(mask_stride: Any, sequence_stride: int) -> tuple[list[int], bool]:
    """(input_strides, has_strided_input) from the official MASK_STRIDE setting."""
    if mask_stride is None:
        return [sequence_stride], False
    if isinstance(mask_stride, (list, tuple)):
        if len(mask_stride) > 64:
            raise ValueError(f"MASK_STRIDE lists {len(mask_stride)} strides; expected a few")
        strides = [_stride(f"MASK_STRIDE[{i}]", s) for i, s in enumerate(mask_stride)]
    else:
        strides = [_stride("MASK_STRIDE", mask_stride)]
    if not strides:
        return [sequence_stride], False
    return strides, strides[0] != 1


def _check_unsupported(output_bn: Any, token_mask_rate: Any, learnable_masked_token: Any) -> None:
    if check_bool("OUTPUT_BN", output_bn):
        raise ValueError(
            "official configs with OUTPUT_BN=true (BatchNorm before the heads) are not supported by posezoo; "
            "none of the released configs uses it"
        )
    if check_probability("TOKEN_MASK_RATE", token_mask_rate) > 0 and check_bool(
        "LEARNABLE_MASKED_TOKEN", learnable_masked_token
    ):
        raise ValueError(
            "official configs with TOKEN_MASK_RATE > 0 and LEARNABLE_MASKED_TOKEN=true carry an extra "
            "token layer that posezoo does not implement; none of the released configs uses it"
        )


def _from_official_kwargs(kw: Mapping[str, Any], sequence_stride: Any, mask_stride: Any) -> dict[str, Any]:
    """posezoo kwargs from the official constructor kwargs; values are passed on unconverted (never
    truncated) and validated by :class:`~posezoo.models.uplift_upsample.UpliftUpsample` itself."""
    kw = check_str_keys("official constructor kwargs", kw)
    unknown = sorted(set(kw) - set(_OFFICIAL_KWARG_DEFAULTS) - _EXTRA_OFFICIAL_KWARGS)
    if unknown:
        raise ValueError(f"unknown official UpliftUpsampleTransformer kwargs: {unknown}")
    k = {**_OFFICIAL_KWARG_DEFAULTS, **kw}
    sequence_stride = _stride("sequence_stride (SEQUENCE_STRIDE)", sequence_stride)
    _check_unsupported(k["output_bn"], k["token_mask_rate"], k["learnable_masked_token"])
    strided_input = check_bool("has_strided_input", k["has_strided_input"])
    input_strides, _ = _mask_strides(mask_stride, sequence_stride)
    if not strided_input:
        input_strides = [sequence_stride]
    dpr = k["drop_path_rate"]
    temporal_depth = check_int("temporal_depth", k["temporal_depth"], 0, limit="max_depth")
    return dict(
        num_frames=k["num_frames"],
        num_joints=k["num_keypoints"],
        in_channels=2,
        spatial_dim=k["spatial_d_model"],
        temporal_dim=k["temporal_d_model"],
        spatial_depth=k["spatial_depth"],
        temporal_depth=temporal_depth,
        strides=list(k["strides"]) if isinstance(k["strides"], (list, tuple)) else k["strides"],
        paddings=k["paddings"],
        num_heads=k["num_heads"],
        mlp_ratio=k["mlp_ratio"],
        qkv_bias=k["qkv_bias"],
        output_stride=sequence_stride,
        input_strides=input_strides,
        strided_input=strided_input,
        first_strided_token_attention_layer=k["first_strided_token_attention_layer"],
        full_output=check_bool("full_output", k["full_output"]) and temporal_depth > 0,
        drop_rate=k["drop_rate"],
        attn_drop_rate=k["attn_drop_rate"],
        drop_path_rate=list(dpr) if isinstance(dpr, (list, tuple)) else dpr,
    )


def _from_official_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    c = {**_OFFICIAL_CONFIG_DEFAULTS, **cfg}
    sequence_stride = _stride("SEQUENCE_STRIDE", c["SEQUENCE_STRIDE"])
    input_strides, strided = _mask_strides(c["MASK_STRIDE"], sequence_stride)
    _check_unsupported(c["OUTPUT_BN"], c["TOKEN_MASK_RATE"], c["LEARNABLE_MASKED_TOKEN"])
    official_kwargs = dict(
        full_output=not check_bool("USE_REFINE", c["USE_REFINE"]),
        num_frames=c["SEQUENCE_LENGTH"],
        num_keypoints=c["NUM_KEYPOINTS"],
        spatial_d_model=c["SPATIAL_EMBED_DIM"],
        temporal_d_model=c["TEMPORAL_EMBED_DIM"],
        spatial_depth=c["SPATIAL_TRANSFORMER_BLOCKS"],
        temporal_depth=c["TEMPORAL_TRANSFORMER_BLOCKS"],
        strides=c["STRIDES"],
        paddings=c["PADDINGS"],
        num_heads=c["NUM_HEADS"],
        mlp_ratio=c["MLP_RATIO"],
        qkv_bias=c["QKV_BIAS"],
        attn_drop_rate=c["ATTENTION_DROP_RATE"],
        drop_rate=c["DROP_RATE"],
        drop_path_rate=c["DROP_PATH_RATE"],
        output_bn=c["OUTPUT_BN"],
        has_strided_input=strided,
        first_strided_token_attention_layer=c["FIRST_STRIDED_TOKEN_ATTENTION_LAYER"],
        token_mask_rate=c["TOKEN_MASK_RATE"],
        learnable_masked_token=c["LEARNABLE_MASKED_TOKEN"],
    )
    return _from_official_kwargs(official_kwargs, sequence_stride, c["MASK_STRIDE"])


def resolve_config(config: Union[Mapping[str, Any], PathLike, None], joint_order: str = "h36m") -> dict[str, Any]:
    """Turn any accepted ``config`` form into :class:`UpliftUpsample` kwargs.

    Accepted: a path to a JSON file or a dict holding (a) the official config
    (upper-case keys, e.g. ``SEQUENCE_LENGTH``), (b) the official constructor
    kwargs (``spatial_d_model``, ...; optional ``sequence_stride`` and
    ``mask_stride``), (c) the parity fixture's ``config.json``
    (``constructor_kwargs`` + ``config_fields``), or (d) posezoo kwargs
    (``spatial_dim``, ...), returned unchanged apart from ``joint_order``.
    """
    if config is None:
        raise ValueError(
            "uplift_upsample: `config` is required because strides, paddings and the output stride cannot "
            "be inferred from the .h5 weights. Pass the official config JSON (e.g. config/h36m_81.json), a "
            "dict of the official constructor kwargs, or use posezoo.create_model('uplift_upsample_h36m_81', "
            "pretrained='file.h5') for a released geometry"
        )
    if isinstance(config, (str, os.PathLike)):
        config = read_json(config, "uplift_upsample config")
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict or a JSON file path, got {type(config).__name__}")
    config = check_str_keys("uplift_upsample config", config)

    if "constructor_kwargs" in config:  # the parity fixture's config.json
        fields = check_str_keys("config_fields", config.get("config_fields", {}))
        kwargs = _from_official_kwargs(
            config["constructor_kwargs"], fields.get("SEQUENCE_STRIDE", 1), fields.get("MASK_STRIDE")
        )
    elif "SEQUENCE_LENGTH" in config or any(k.isupper() for k in config):
        kwargs = _from_official_config(config)
    elif "spatial_d_model" in config or "temporal_d_model" in config:
        kwargs = _from_official_kwargs(config, config.get("sequence_stride", 1), config.get("mask_stride"))
    elif "spatial_dim" in config or "temporal_dim" in config or "num_frames" in config:
        kwargs = dict(config)
        if kwargs.setdefault("joint_order", joint_order) != joint_order:
            raise ValueError(
                f"config asks for joint_order={kwargs['joint_order']!r} but joint_order={joint_order!r} was passed"
            )
        return kwargs
    else:
        raise ValueError(
            "unrecognised uplift_upsample config: expected the official config (SEQUENCE_LENGTH, STRIDES, ...), "
            f"the official constructor kwargs (spatial_d_model, ...) or posezoo kwargs; got keys {sorted(config)[:12]}"
        )
    kwargs["joint_order"] = joint_order
    return kwargs


# ---------------------------------------------------------------------------------------------
# mapping

Spec = list[tuple[str, str]]  # (expected last name component, slot)


def _block_spec(qkv_bias: bool, strided: bool) -> Spec:
    spec: Spec = [("gamma:0", "norm1.w"), ("beta:0", "norm1.b")]
    for part in ("q", "k", "v"):
        spec.append(("kernel:0", f"{part}.w"))
        if qkv_bias:
            spec.append(("bias:0", f"{part}.b"))
    spec += [("kernel:0", "proj.w"), ("bias:0", "proj.b"), ("gamma:0", "norm2.w"), ("beta:0", "norm2.b")]
    spec += [("kernel:0", "fc1.w"), ("bias:0", "fc1.b"), ("kernel:0", "fc2.w"), ("bias:0", "fc2.b")]
    return spec


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def _dense(slots: dict[str, np.ndarray], name: str) -> torch.Tensor:
    kernel = slots[name]
    if kernel.ndim != 2:
        raise ValueError(f"expected a Dense kernel (in, out), got shape {kernel.shape}")
    return _t(kernel.T)


def _block_tensors(slots: dict[str, np.ndarray], prefix: str, qkv_bias: bool, strided: bool) -> dict[str, torch.Tensor]:
    out = {
        f"{prefix}.norm1.weight": _t(slots["norm1.w"]),
        f"{prefix}.norm1.bias": _t(slots["norm1.b"]),
        f"{prefix}.attn.qkv.weight": torch.cat([_dense(slots, f"{p}.w") for p in "qkv"], 0),
        f"{prefix}.attn.proj.weight": _dense(slots, "proj.w"),
        f"{prefix}.attn.proj.bias": _t(slots["proj.b"]),
        f"{prefix}.norm2.weight": _t(slots["norm2.w"]),
        f"{prefix}.norm2.bias": _t(slots["norm2.b"]),
    }
    if qkv_bias:
        out[f"{prefix}.attn.qkv.bias"] = torch.cat([_t(slots[f"{p}.b"]) for p in "qkv"], 0)
    if strided:
        fc1, conv = slots["fc1.w"], slots["fc2.w"]
        if fc1.ndim != 3 or fc1.shape[0] != 1 or conv.ndim != 3:
            raise ValueError(f"expected Conv1D kernels (1, C, H) and (3, H, C), got {fc1.shape} and {conv.shape}")
        out.update(
            {
                f"{prefix}.mlp.fc1.weight": _t(fc1[0].T),
                f"{prefix}.mlp.fc1.bias": _t(slots["fc1.b"]),
                f"{prefix}.mlp.conv.weight": _t(conv.transpose(2, 1, 0)),
                f"{prefix}.mlp.conv.bias": _t(slots["fc2.b"]),
            }
        )
    else:
        out.update(
            {
                f"{prefix}.mlp.fc1.weight": _dense(slots, "fc1.w"),
                f"{prefix}.mlp.fc1.bias": _t(slots["fc1.b"]),
                f"{prefix}.mlp.fc2.weight": _dense(slots, "fc2.w"),
                f"{prefix}.mlp.fc2.bias": _t(slots["fc2.b"]),
            }
        )
    return out


def _group_plan(
    kw: Mapping[str, Any],
) -> dict[str, tuple[Spec, Callable[[dict[str, np.ndarray]], dict[str, torch.Tensor]]]]:
    """Every group the official model has for these kwargs: (spec, slots -> posezoo tensors)."""
    qkv_bias = bool(kw.get("qkv_bias", True))
    plan: dict[str, tuple[Spec, Callable]] = {}

    def dense(target: str) -> tuple[Spec, Callable]:
        return [("kernel:0", "w"), ("bias:0", "b")], lambda s: {
            f"{target}.weight": _dense(s, "w"),
            f"{target}.bias": _t(s["b"]),
        }

    def table(target: str, suffix: str) -> tuple[Spec, Callable]:
        return [(suffix, "x")], lambda s: {target: _t(s["x"])}

    if int(kw.get("spatial_depth", 4)) > 0:
        plan["keypoint_embedding"] = dense("keypoint_embed")
        plan["spatial_pe"] = table("spatial_pos_embed.weight", "positional_encoding_weights:0")
        for i in range(int(kw.get("spatial_depth", 4))):
            plan[f"spatial_block_{i + 1}"] = (
                _block_spec(qkv_bias, False),
                lambda s, i=i: _block_tensors(s, f"spatial_blocks.{i}", qkv_bias, False),
            )
        plan["spatial_norm"] = (
            [("gamma:0", "w"), ("beta:0", "b")],
            lambda s: {"spatial_norm.weight": _t(s["w"]), "spatial_norm.bias": _t(s["b"])},
        )
    plan["spatial_to_temporal_fc"] = dense("spatial_to_temporal")
    plan["temporal_pe"] = table("temporal_pos_embed.weight", "positional_encoding_weights:0")
    if kw.get("strided_input", True):
        plan["strided_input_token_layer"] = table("upsampling_tokens.token", "learnable_masked_token:0")
    for i in range(int(kw.get("temporal_depth", 4))):
        plan[f"temporal_block_{i + 1}"] = (
            _block_spec(qkv_bias, False),
            lambda s, i=i: _block_tensors(s, f"temporal_encoder.blocks.{i}", qkv_bias, False),
        )
    for i in range(len(kw.get("strides", []))):
        plan[f"strided_temporal_pe_{i + 1}"] = table(
            f"strided_blocks.{i}.pos_embed.weight", "positional_encoding_weights:0"
        )
        plan[f"strided_temporal_block_{i + 1}"] = (
            _block_spec(qkv_bias, True),
            lambda s, i=i: _block_tensors(s, f"strided_blocks.{i}", qkv_bias, True),
        )
    if kw.get("full_output", True) and int(kw.get("temporal_depth", 4)) > 0:
        plan["temporal_fc"] = dense("full_head")
    plan["strided_temporal_fc"] = dense("central_head")
    return plan


def _joint_index(joint_order: str) -> Optional[torch.Tensor]:
    """Index ``idx`` with ``target[j] = official[idx[j]]``; None when the target is the official order."""
    from ..models.uplift_upsample import JOINT_ORDERS
    from ..skeleton import get_skeleton

    src = get_skeleton(OFFICIAL_LAYOUT)
    dst = get_skeleton(JOINT_ORDERS.get(joint_order, joint_order))
    if dst.name == src.name:
        return None
    missing = [n for n in dst.joint_names if n not in src.joint_names]
    if missing or dst.num_joints != src.num_joints:
        raise ValueError(
            f"official Uplift-and-Upsample weights cannot be expressed in joint_order {joint_order!r} "
            f"(missing joints: {missing}); use 'h36m' or 'official'"
        )
    return torch.tensor([src.index(n) for n in dst.joint_names])


def _permute_joints(sd: dict[str, torch.Tensor], idx: torch.Tensor, num_joints: int) -> None:
    """Re-index the joint-indexed tensors in place (official order -> target order)."""

    def take(t: torch.Tensor, dim: int) -> torch.Tensor:
        return t.unflatten(dim, (num_joints, -1)).index_select(dim, idx).flatten(dim, dim + 1).contiguous()

    plan = {
        "spatial_pos_embed.weight": 0,
        "spatial_to_temporal.weight": 1,
        "full_head.weight": 0,
        "full_head.bias": 0,
        "central_head.weight": 0,
        "central_head.bias": 0,
    }
    for key, dim in plan.items():
        if key in sd:
            sd[key] = take(sd[key], dim)


@register_converter(FAMILY, suffixes=(".h5",), accepts_model_config=True)
def convert_uplift_upsample(
    path: Path, config: Union[Mapping[str, Any], PathLike, None], joint_order: str = "h36m"
) -> OfficialConversion:
    """Convert an official ``.h5`` weights file (see the module docstring for ``config``)."""
    from ..models.uplift_upsample import UpliftUpsample

    kwargs = resolve_config(config, joint_order)
    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            reference = UpliftUpsample(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"uplift_upsample config does not describe a valid model: {exc}") from exc
    num_joints = reference.num_joints
    layer_names, groups, attrs = read_keras_h5(path)
    plan = _group_plan(reference.init_kwargs)

    problems: list[str] = []
    state_dict: dict[str, torch.Tensor] = {}
    unexpected = [g for g in layer_names if g not in plan and groups[g]]
    if unexpected:
        problems.append(
            "groups with weights that this config does not have: "
            + ", ".join(f"{g} ({len(groups[g])} weights: {[n for n, _ in groups[g]][:4]})" for g in unexpected)
        )
    missing = [g for g in plan if g not in groups]
    if missing:
        problems.append(f"groups this config needs but the file lacks: {missing}")
    for group, (spec, build) in plan.items():
        if group not in groups:
            continue
        weights = groups[group]
        if len(weights) != len(spec):
            problems.append(
                f"{group}: expected {len(spec)} weights ({[s for s, _ in spec]}), found {len(weights)}: "
                f"{[n for n, _ in weights]}"
            )
            continue
        slots: dict[str, np.ndarray] = {}
        for pos, ((suffix, slot), (name, array)) in enumerate(zip(spec, weights)):
            if not name.endswith(suffix):
                problems.append(f"{group}[{pos}] = {name!r}: expected a name ending in {suffix!r}")
            slots[slot] = array
        try:
            state_dict.update(build(slots))
        except ValueError as exc:
            problems.append(f"{group}: {exc}")
    if not problems:
        expected = reference.state_dict()
        wrong = [
            f"{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
            for k, v in state_dict.items()
            if k in expected and v.shape != expected[k].shape
        ]
        unmapped = sorted(set(expected) - set(state_dict))
        extra = sorted(set(state_dict) - set(expected))
        if wrong:
            more = f"; ... and {len(wrong) - 8} more" if len(wrong) > 8 else ""
            problems.append("shape mismatches (wrong config?): " + "; ".join(wrong[:8]) + more)
        if unmapped:
            problems.append(f"model parameters not found in the file: {unmapped}")
        if extra:
            problems.append(f"converted tensors the model does not have: {extra}")
    if problems:
        raise ValueError(f"{path}: cannot convert to UpliftUpsample:\n  " + "\n  ".join(problems))

    idx = _joint_index(joint_order)
    if idx is not None:
        _permute_joints(state_dict, idx, num_joints)
    return OfficialConversion(
        model_cls=UpliftUpsample,
        arch_kwargs=kwargs,
        state_dict=state_dict,
        meta={
            "official_format": "keras_h5",
            **{("keras_version" if k == "keras_version" else f"keras_{k}"): v for k, v in attrs.items()},
        },
    )

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

from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np
import torch

from ._keras_h5 import read_keras_h5
from ._official import OfficialConversion, PathLike, register_converter
from ._uplift_upsample_config import resolve_config

__all__ = ["convert_uplift_upsample", "resolve_config", "read_keras_h5"]

FAMILY = "uplift_upsample"
OFFICIAL_LAYOUT = "uplift_upsample"  # posezoo.skeleton name of the official 17-joint order


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

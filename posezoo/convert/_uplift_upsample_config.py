"""Official Uplift-and-Upsample configurations -> :class:`~posezoo.models.uplift_upsample.UpliftUpsample` kwargs.

The architecture (strides, paddings, output stride) cannot be read from the
``.h5`` weights alone, so the converter (:mod:`posezoo.convert.uplift_upsample`)
needs a ``config``; :func:`resolve_config` accepts every form described there
and is re-exported by that module.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Union

from .._validation import check_bool, check_int, check_probability, check_str_keys, read_json
from ._official import PathLike

__all__ = ["resolve_config"]

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

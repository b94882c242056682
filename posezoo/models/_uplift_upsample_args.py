"""Constructor-argument checks of :class:`~posezoo.models.uplift_upsample.UpliftUpsample`.

:func:`check_uplift_upsample_args` validates every argument (types, ranges,
the strided-block geometry, DUTA / full-head compatibility, the joint order)
and returns the normalised lists the model is built from; :func:`strided_lengths`
gives the token counts through the strided blocks. Both, and
:data:`JOINT_ORDERS`, are importable from :mod:`posezoo.models.uplift_upsample`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

from .._validation import (
    check_bool,
    check_int,
    check_mlp_ratio,
    check_parameter_budget,
    check_probability,
    limits,
)
from ..layers import strided_output_length
from ..skeleton import Skeleton, get_skeleton

__all__ = ["JOINT_ORDERS", "UpliftUpsampleArgs", "check_uplift_upsample_args", "strided_lengths"]

#: ``joint_order`` value -> :mod:`posezoo.skeleton` layout name.
JOINT_ORDERS = {"h36m": "h36m", "official": "uplift_upsample"}


def _as_list(value, name: str) -> list:
    """A list/tuple argument as a list (a bounded number of items), else ``TypeError``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    if len(value) > limits.max_model_frames:
        raise ValueError(f"{name} has {len(value)} entries, more than posezoo.limits.max_model_frames")
    return list(value)


def _padding(value, name: str) -> list[int]:
    """``[left, right]`` from an int or a pair, each exactly 0 or 1 (no truncation of 1.5 to 1)."""
    pair = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        isinstance(pair, (str, bytes))
        or not isinstance(pair, Sequence)
        or len(pair) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) or v not in (0, 1) for v in pair)
    ):
        raise ValueError(f"{name} must be (left, right) with each side 0 or 1, got {value!r}")
    return [int(v) for v in pair]


def strided_lengths(num_frames: int, strides: Sequence[int], paddings: Sequence[Sequence[int]]) -> list[int]:
    """Token counts ``[L_1 = N, L_2, ..., L_last_out]`` through the strided blocks.

    Raises ``ValueError`` when a block receives too few tokens; the caller
    checks that the last value is 1.
    """
    lengths = [num_frames]
    for i, (s, p) in enumerate(zip(strides, paddings)):
        out = strided_output_length(lengths[-1], s, p)
        if out < 1:
            raise ValueError(
                f"strided block {i} (stride {s}, padding {list(p)}) receives only {lengths[-1]} tokens; "
                f"token counts so far: {lengths} (N={num_frames}, strides={list(strides)}, "
                f"paddings={[list(q) for q in paddings]})"
            )
        lengths.append(out)
    return lengths


@dataclass(frozen=True)
class UpliftUpsampleArgs:
    """The normalised arguments that :func:`check_uplift_upsample_args` derives.

    Attributes:
        strides: stride of each strided block.
        paddings: ``[left, right]`` (0 or 1 each) of each strided block.
        lengths: token counts ``[N, L_2, ..., 1]`` through the strided blocks.
        input_strides: supported s_in values (frames).
        drop_path: ``[spatial, temporal, strided]`` stochastic-depth rates.
        skeleton: the :class:`~posezoo.skeleton.Skeleton` of ``joint_order``.
    """

    strides: list[int]
    paddings: list[list[int]]
    lengths: list[int]
    input_strides: list[int]
    drop_path: list[float]
    skeleton: Skeleton


def check_uplift_upsample_args(
    *,
    num_frames: int,
    num_joints: int,
    in_channels: int,
    spatial_dim: int,
    temporal_dim: int,
    spatial_depth: int,
    temporal_depth: int,
    strides: Sequence[int],
    paddings: Union[Sequence[Sequence[int]], None],
    num_heads: int,
    mlp_ratio: float,
    qkv_bias: bool,
    output_stride: int,
    input_strides: Union[Sequence[int], None],
    strided_input: bool,
    first_strided_token_attention_layer: int,
    full_output: bool,
    drop_rate: float,
    attn_drop_rate: float,
    drop_path_rate: Union[float, Sequence[float]],
    joint_order: str,
) -> UpliftUpsampleArgs:
    """Validate :class:`~posezoo.models.uplift_upsample.UpliftUpsample`'s arguments (documented there).

    Raises ``TypeError`` / ``ValueError`` naming the offending argument.
    """
    check_int("num_frames", num_frames, limit="max_model_frames")
    for name, value in (
        ("num_joints", num_joints),
        ("in_channels", in_channels),
        ("spatial_dim", spatial_dim),
        ("temporal_dim", temporal_dim),
        ("num_heads", num_heads),
    ):
        check_int(name, value, limit="max_width")
    check_int("output_stride", output_stride, limit="max_model_frames")
    for name, value in (
        ("spatial_depth", spatial_depth),
        ("temporal_depth", temporal_depth),
        ("first_strided_token_attention_layer", first_strided_token_attention_layer),
    ):
        check_int(name, value, 0, limit="max_depth")
    for name, dim in (("spatial_dim", spatial_dim), ("temporal_dim", temporal_dim)):
        if dim % num_heads != 0 and (name == "temporal_dim" or spatial_depth > 0):
            raise ValueError(f"{name} ({dim}) must be divisible by num_heads ({num_heads})")
    hidden = max(check_mlp_ratio(mlp_ratio, spatial_dim), check_mlp_ratio(mlp_ratio, temporal_dim))
    check_probability("drop_rate", drop_rate)
    check_probability("attn_drop_rate", attn_drop_rate)

    strides = [
        check_int(f"strides[{i}]", s, limit="max_model_frames") for i, s in enumerate(_as_list(strides, "strides"))
    ]
    if len(strides) > limits.max_depth:
        raise ValueError(f"at most {limits.max_depth} strided blocks (posezoo.limits.max_depth), got {len(strides)}")
    if paddings is None:
        paddings = [[1, 1]] * len(strides)
    paddings = [_padding(p, f"paddings[{i}]") for i, p in enumerate(_as_list(paddings, "paddings"))]
    if len(paddings) != len(strides):
        raise ValueError(f"got {len(paddings)} paddings for {len(strides)} strides")
    lengths = strided_lengths(num_frames, strides, paddings)
    if strides and lengths[-1] != 1:
        raise ValueError(
            f"strides {strides} with paddings {paddings} reduce N={num_frames} tokens to "
            f"{lengths[-1]}, not 1 (token counts {lengths}); choose strides whose product "
            f"covers N, e.g. N=27 with strides [3, 3, 3] and paddings [1, 1]"
        )
    depth = spatial_depth + temporal_depth + len(strides)
    check_parameter_budget(
        "UpliftUpsample",
        depth * (4 + 2 * 3) * max(spatial_dim, temporal_dim) * max(hidden, spatial_dim, temporal_dim)
        + (num_frames + num_joints * spatial_dim) * temporal_dim,
    )

    input_strides = (
        [output_stride]
        if input_strides is None
        else [
            check_int(f"input_strides[{i}]", s, limit="max_model_frames")
            for i, s in enumerate(_as_list(input_strides, "input_strides"))
        ]
    )
    if not input_strides:
        raise ValueError("input_strides must not be empty")
    bad = [s for s in input_strides if s % output_stride != 0]
    if bad:
        raise ValueError(f"input_strides must be positive multiples of output_stride ({output_stride}), got {bad}")
    if not strided_input and any(s != output_stride for s in input_strides):
        raise ValueError(
            f"strided_input=False cannot upsample: input_strides must all equal output_stride "
            f"({output_stride}), got {input_strides}"
        )
    if temporal_depth == 0 and full_output:
        raise ValueError("full_output=True needs temporal_depth >= 1 (the full head follows the temporal blocks)")
    if temporal_depth == 0 and first_strided_token_attention_layer > 1:
        raise ValueError(
            "with temporal_depth=0, DUTA can only apply to the first strided block "
            f"(first_strided_token_attention_layer <= 1), got {first_strided_token_attention_layer}"
        )

    if isinstance(drop_path_rate, (int, float)):
        dpr = [check_probability("drop_path_rate", drop_path_rate)] * 3
    else:
        dpr = [
            check_probability(f"drop_path_rate[{i}]", r)
            for i, r in enumerate(_as_list(drop_path_rate, "drop_path_rate"))
        ]
        if len(dpr) != 3:
            raise ValueError(f"drop_path_rate must be a float or [spatial, temporal, strided], got {drop_path_rate}")

    for name, flag in (("qkv_bias", qkv_bias), ("strided_input", strided_input), ("full_output", full_output)):
        check_bool(name, flag)
    if not isinstance(joint_order, str):
        raise TypeError(f"joint_order must be a str such as 'h36m' or 'official', got {type(joint_order).__name__}")
    skeleton = get_skeleton(JOINT_ORDERS.get(joint_order, joint_order))
    if skeleton.num_joints != num_joints:
        raise ValueError(f"joint_order {joint_order!r} has {skeleton.num_joints} joints but num_joints={num_joints}")
    return UpliftUpsampleArgs(
        strides=strides,
        paddings=paddings,
        lengths=lengths,
        input_strides=list(input_strides),
        drop_path=dpr,
        skeleton=skeleton,
    )

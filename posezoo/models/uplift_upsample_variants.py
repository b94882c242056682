"""Registered Uplift-and-Upsample variants (:class:`~posezoo.models.uplift_upsample.UpliftUpsample`).

Geometry of the released configs (reference README section 2.5); drop-path
rates of the released configs (training only). Imported by :mod:`posezoo.models`,
which registers every family's variants.
"""

from __future__ import annotations

from typing import Any, Sequence

from ._registry import register_model
from .uplift_upsample import PAPER, UpliftUpsample

__all__: list[str] = []

_RELEASED = dict(
    num_joints=17,
    in_channels=2,
    spatial_dim=32,
    temporal_dim=384,
    spatial_depth=4,
    temporal_depth=4,
    num_heads=8,
    mlp_ratio=2.0,
    qkv_bias=True,
    strided_input=True,
    first_strided_token_attention_layer=1,
    full_output=True,
    drop_rate=0.0,
    attn_drop_rate=0.0,
    drop_path_rate=[0.1, 0.1, 0.0],
    joint_order="h36m",
)

_NOTES_OFFICIAL = "; official Keras .h5 weights load with pretrained='file.h5' (H36M-17 joint order by default)"


def _variant(
    num_frames: int,
    output_stride: int,
    input_strides: Sequence[int],
    strides: Sequence[int],
    paddings: Sequence[Sequence[int]],
    **overrides: Any,
) -> dict:
    """Constructor kwargs: the released configuration with this window geometry (and ``overrides``)."""
    return dict(
        _RELEASED,
        num_frames=num_frames,
        output_stride=output_stride,
        input_strides=list(input_strides),
        strides=list(strides),
        paddings=[list(p) for p in paddings],
        **overrides,
    )


@register_model(
    UpliftUpsample,
    family="uplift_upsample",
    paper=PAPER,
    notes="geometry of the official h36m_81 config (81 frames, s_out 2, s_in 4/10/20)" + _NOTES_OFFICIAL,
)
def uplift_upsample_h36m_81() -> dict:
    """Human3.6M 81-frame model: N=41 tokens at s_out=2, s_in in {4, 10, 20}."""
    return _variant(41, 2, [4, 10, 20], strides=[4, 4, 3], paddings=[[1, 1], [0, 0], [0, 0]])


@register_model(
    UpliftUpsample,
    family="uplift_upsample",
    paper=PAPER,
    notes="geometry of the official h36m_351/h36m_351_pt/amass_351 configs (351 frames, s_out 5, "
    "s_in 5/10/20)" + _NOTES_OFFICIAL,
)
def uplift_upsample_h36m_351() -> dict:
    """Human3.6M 351-frame model: N=71 tokens at s_out=5, s_in in {5, 10, 20}."""
    return _variant(71, 5, [5, 10, 20], strides=[3, 10, 3], paddings=[[0, 0], [0, 0], [0, 0]])


@register_model(
    UpliftUpsample,
    family="uplift_upsample",
    paper=PAPER,
    notes="small CPU-friendly variant (53 frames, s_out 2, s_in 2/4/8); posezoo's own configuration",
)
def uplift_upsample_small() -> dict:
    """27 tokens at s_out=2 (53 frames), s_in in {2, 4, 8}, Cs 16 / Ct 128, depths 2/2, 4 heads."""
    return _variant(
        27,
        2,
        [2, 4, 8],
        strides=[3, 3, 3],
        paddings=[[1, 1], [1, 1], [1, 1]],
        spatial_dim=16,
        temporal_dim=128,
        spatial_depth=2,
        temporal_depth=2,
        num_heads=4,
    )

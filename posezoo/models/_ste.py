"""The spatio-temporal encoder (STE) shared by MixSTE and RTPCA.

Both models lift a 2D pose sequence ``(B, T, J, 2)`` to a 3D sequence
``(B, T, J, 3)`` (seq2seq) with ``depth`` alternating spatial blocks (over
joints) and temporal blocks (over frames)::

    h = joint_embed(x) + spatial_pos                       (B, T, J, C)
    for i in 0 .. depth-1:
        h = spatial_norm(spatial_block_i(h))
        if i == 0: h = h + temporal_pos
        h = temporal_norm(temporal_block_i(h))             (model-specific block)
    y = head(head_norm(h))                                  (B, T, J, 3)

``spatial_norm`` and ``temporal_norm`` are single modules shared by all
depths (as in the official code). Subclasses build ``temporal_blocks`` and
implement :meth:`_temporal_step`.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from .._validation import (
    check_float,
    check_int,
    check_mlp_ratio,
    check_parameter_budget,
    check_probability,
    check_tensor,
)
from ..layers import LearnedPositionalEmbedding
from ..layers.ste import SpatialBlock
from ._base import PoseModel

__all__ = ["SpatioTemporalEncoder", "ste_variant_config"]

OFFICIAL_HEAD_NORM_EPS = 1e-5  # the official head LayerNorm uses PyTorch's default eps


def ste_variant_config(
    num_frames: int, dim: int, depth: int, num_heads: int = 8, mlp_ratio: float = 2.0
) -> dict[str, Any]:
    """Constructor kwargs of a registered RTPCA/MixSTE variant (H36M-17 joints)."""
    return dict(num_frames=num_frames, num_joints=17, dim=dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio)


class SpatioTemporalEncoder(PoseModel):
    """Base class of :class:`~posezoo.models.mixste.MixSTE` and :class:`~posezoo.models.rtpca.RTPCA`.

    Shared constructor arguments (the subclasses document them again):
    ``num_frames`` T, ``num_joints`` J, ``in_channels`` (2), ``out_channels``
    (3), ``dim`` C, ``depth``, ``num_heads``, ``mlp_ratio``, ``qkv_bias``,
    ``drop_rate``, ``attn_drop_rate``, ``drop_path_rate`` (linearly increasing
    over depth), ``norm_eps`` (every block/stream LayerNorm) and
    ``official_compat`` (head LayerNorm with eps 1e-5 as the official code).
    """

    def _build_shared(
        self,
        *,
        num_frames: int,
        num_joints: int,
        in_channels: int,
        out_channels: int,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float,
        qkv_bias: bool,
        drop_rate: float,
        attn_drop_rate: float,
        drop_path_rate: float,
        norm_eps: float,
        official_compat: bool,
    ) -> list[float]:
        check_int("num_frames", num_frames, limit="max_model_frames")
        for name, value in (
            ("num_joints", num_joints),
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("dim", dim),
            ("num_heads", num_heads),
        ):
            check_int(name, value, limit="max_width")
        check_int("depth", depth, limit="max_depth")
        if dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        hidden = check_mlp_ratio(mlp_ratio, dim)
        for name, rate in (
            ("drop_rate", drop_rate),
            ("attn_drop_rate", attn_drop_rate),
            ("drop_path_rate", drop_path_rate),
        ):
            check_probability(name, rate)
        check_float("norm_eps", norm_eps, minimum=0.0, exclusive_minimum=True)
        # two blocks per depth (attention 4 C^2, MLP 2 C H) + embeddings
        check_parameter_budget(
            type(self).__name__,
            2 * depth * (4 * dim * dim + 2 * dim * hidden + 16 * dim)
            + (num_frames + num_joints + in_channels + out_channels) * dim,
        )
        self.num_frames, self.num_joints = num_frames, num_joints
        self.in_channels, self.out_channels = in_channels, out_channels
        self.dim, self.depth, self.num_heads = dim, depth, num_heads
        self.official_compat = bool(official_compat)

        self.joint_embed = nn.Linear(in_channels, dim)
        self.spatial_pos_embed = LearnedPositionalEmbedding(num_joints, dim)
        self.temporal_pos_embed = LearnedPositionalEmbedding(num_frames, dim)
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.spatial_blocks = nn.ModuleList(
            SpatialBlock(dim, num_heads, mlp_ratio, qkv_bias, "gelu", norm_eps, drop_rate, attn_drop_rate, rates[i])
            for i in range(depth)
        )
        self.spatial_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.temporal_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.head_norm = nn.LayerNorm(dim, eps=OFFICIAL_HEAD_NORM_EPS if official_compat else norm_eps)
        self.head = nn.Linear(dim, out_channels)
        return rates

    def _init_weights(self) -> None:
        """Normal(0, 0.02) Linear weights, zero biases, unit LayerNorms.

        (The official code calls ``trunc_normal_(std=.02)`` whose default bounds
        are +-2 in absolute units, i.e. 100 standard deviations: the same
        distribution, but ``normal_`` is ~10x faster to build a 34M model.)
        """
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    # -- subclass hooks -------------------------------------------------------------
    def _temporal_step(
        self, i: int, h: torch.Tensor, state: Any, need_weights: bool
    ) -> tuple[torch.Tensor, Any, Optional[torch.Tensor]]:
        """Run temporal block ``i`` on ``(B, T, J, C)``; returns (features, state for
        the next block, attention weights ``(B, J, H, T, L)`` or None)."""
        raise NotImplementedError

    def _after_temporal(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Applied to ``temporal_norm``'s output of depth ``i`` (identity by default)."""
        return h

    # -- forward --------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor, any_length: bool = False) -> torch.Tensor:
        """Validated input cast to the parameters' dtype (float inputs of another precision only).

        ``any_length``: accept any number of frames T >= 1 (else T must be ``num_frames``)."""
        name = f"{type(self).__name__} input"
        check_tensor(name, x, floating=True, nonempty=False)
        frames = -1 if any_length else self.num_frames
        expected = (frames, self.num_joints, self.in_channels)
        got = (-1, *x.shape[2:]) if any_length else tuple(x.shape[1:])
        if x.ndim != 4 or got != expected:
            shown = "T" if any_length else f"T={frames}"
            raise ValueError(
                f"{type(self).__name__} expects input (B, {shown}, J={expected[1]}, "
                f"C={expected[2]}), got {tuple(x.shape)}"
            )
        check_tensor(name, x, finite=True)  # B >= 1 (and T >= 1), no NaN/inf
        return x.to(self.joint_embed.weight.dtype)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """The per-frame stage: joint embedding, spatial position embedding, the first spatial
        block and ``spatial_norm``.

        Frame ``t`` of the result depends on frame ``t`` of ``x`` only (the temporal position
        embedding is added by :meth:`lift_features`), so it can be computed once per frame and
        reused by every window that contains the frame (:class:`posezoo.StreamingLifter` does).

        Args:
            x: ``(B, F, J, in_channels)`` normalised 2D poses, any number of frames ``F >= 1``.

        Returns:
            ``(B, F, J, C)`` features; ``model(x) == model.lift_features(model.frame_features(x))``
            for ``F = num_frames``.
        """
        return self._features(self._check_input(x, any_length=True), None)

    def lift_features(self, h: torch.Tensor) -> torch.Tensor:
        """The rest of the forward pass after :meth:`frame_features`.

        Args:
            h: ``(B, T, J, C)`` per-frame features of one window of ``T = num_frames`` frames.

        Returns:
            ``(B, T, J, out_channels)`` 3D poses, as :meth:`forward`.
        """
        check_tensor(
            f"{type(self).__name__}.lift_features input", h, shape=(None, self.num_frames, self.num_joints, self.dim)
        )
        return self._from_features(h.to(self.joint_embed.weight.dtype), None)

    def _spatial_step(self, i: int, h: torch.Tensor, maps: Optional[dict[str, list[torch.Tensor]]]) -> torch.Tensor:
        if maps is None:
            return self.spatial_norm(self.spatial_blocks[i](h))
        h, weights = self.spatial_blocks[i](h, need_weights=True)
        maps["spatial"].append(weights)
        return self.spatial_norm(h)

    def _features(self, x: torch.Tensor, maps: Optional[dict[str, list[torch.Tensor]]]) -> torch.Tensor:
        h = self.pos_drop(self.spatial_pos_embed(self.joint_embed(x)))
        return self._spatial_step(0, h, maps)

    def _from_features(self, h: torch.Tensor, maps: Optional[dict[str, list[torch.Tensor]]]) -> torch.Tensor:
        h = self.pos_drop(h + self.temporal_pos_embed.weight[:, None, :])
        state: Any = None
        for i in range(len(self.spatial_blocks)):
            if i > 0:
                h = self._spatial_step(i, h, maps)
            h, state, weights = self._temporal_step(i, h, state, maps is not None)
            if maps is not None:
                maps["temporal"].append(weights)
            h = self._after_temporal(i, self.temporal_norm(h))
        return self.head(self.head_norm(h))

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
        """Lift 2D poses to 3D.

        Args:
            x: ``(B, T, J, in_channels)`` normalised 2D poses (screen
                coordinates, x in [-1, 1]), floating point (a precision other
                than the parameters' is cast to it; integer, bool and complex
                inputs raise ``TypeError``), finite, ``B >= 1``.
            return_attention: also return the attention maps as
                ``{"spatial": [(B, T, H, J, J)] * depth, "temporal": [(B, J, H, T, L)] * depth}``
                (``L = T``, or ``T + M`` for RTPCA blocks that attend to XLR memory).

        Returns:
            ``(B, T, J, out_channels)`` 3D poses (root-relative, metres when
            trained that way); with ``return_attention`` a tuple ``(poses, maps)``.
            The computation is ``lift_features(frame_features(x))``.
        """
        x = self._check_input(x)
        chunk = self.inference_chunk(x.shape[0]) if not return_attention else x.shape[0]
        if chunk < x.shape[0]:  # no gradients: clips in chunks whose activations stay in the CPU cache
            return torch.cat([self._from_features(self._features(part, None), None) for part in x.split(chunk)])
        maps: Optional[dict[str, list[torch.Tensor]]] = {"spatial": [], "temporal": []} if return_attention else None
        out = self._from_features(self._features(x, maps), maps)
        if maps is not None:
            return out, maps
        return out

    #: one ``(b, T, J, C)`` float32 activation of a chunk stays under 8 MiB (a quarter of a 32 MB L3 cache;
    #: RTPCA-243 batch 3 in chunks of one clip: 0.88x the time per clip, ``benchmarks/README.md``)
    chunk_bytes = 8 << 20

    def clip_activation_bytes(self) -> int:
        """``T x J x C`` elements of the joint-embedding dtype: one clip's stream activation."""
        weight = self.joint_embed.weight
        return self.num_frames * self.num_joints * self.dim * weight.element_size()

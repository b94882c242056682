"""Uplift and Upsample (Einfalt, Ludwig, Lienhart, WACV 2023).

2D keypoints are given only at *keyframes* (every ``s_in``-th video frame);
the model lifts them to 3D and upsamples to the output rate (every
``s_out``-th frame). A window has N tokens, token n showing video frame
``c + (n - N//2) * s_out`` around the central frame c, so it spans
``(N - 1) * s_out + 1`` frames. A stride mask ``(B, N)`` (``True``/1 =
keyframe) says which tokens carry 2D input; the mask stride in tokens is
``s_in / s_out``. Masks are built with :mod:`posezoo.data.stride_masks`.

Architecture (all shapes for batch B, N tokens, J joints):

1. spatial transformer per frame: keypoint embedding ``(B*N, J, Cs)`` + joint
   PE, ``spatial_depth`` pre-norm blocks (GELU), LayerNorm (eps 1e-6),
   flatten joint-major and map to a temporal token ``(B, N, Ct)``;
2. :class:`~posezoo.layers.UpsamplingTokens` replaces the non-keyframe tokens
   by a learnable token, then the temporal PE ``(N, Ct)`` is added;
3. :class:`~posezoo.layers.DUTATemporalEncoder` (ReLU MLPs, DUTA in the first
   ``first_strided_token_attention_layer`` blocks), then the full-sequence
   head ``(B, N, J, 3)``;
4. :class:`~posezoo.layers.StridedTransformerBlock` stack reducing N tokens
   to 1, then the central head ``(B, J, 3)`` (the pose of frame c).

Joint order: ``joint_order`` names the layout of the input and output
tensors (H36M-17 by default). The model itself is layout-agnostic (the joint
axis is permutation-equivariant up to the joint-indexed weights); official
checkpoints, stored in the official 17-joint order, are permuted into the
requested layout *in the converter* (:mod:`posezoo.convert.uplift_upsample`:
rows of the spatial PE, input columns of the spatial-to-temporal map, output
rows of both heads), so nothing is permuted at run time.

The registered variants (``uplift_upsample_h36m_81``, ``uplift_upsample_h36m_351``,
``uplift_upsample_small``) are defined in :mod:`posezoo.models.uplift_upsample_variants`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch
from einops import rearrange
from torch import nn

from .._validation import check_tensor
from ..layers import (
    DUTATemporalEncoder,
    LearnedPositionalEmbedding,
    StridedTransformerBlock,
    TransformerBlock,
    UpsamplingTokens,
    linear_drop_path_rates,
)
from ._base import PoseModel
from ._uplift_upsample_args import JOINT_ORDERS, check_uplift_upsample_args, strided_lengths

__all__ = ["UpliftUpsample", "UpliftUpsampleOutput", "PAPER", "JOINT_ORDERS", "strided_lengths"]

PAPER = (
    "Einfalt, Ludwig, Lienhart. Uplift and Upsample: Efficient 3D Human Pose Estimation with "
    "Uplifting Transformers. WACV 2023"
)


@dataclass
class UpliftUpsampleOutput:
    """Output of :class:`UpliftUpsample`.

    Attributes:
        full: ``(B, N, J, 3)`` 3D poses of every token (keyframes and upsampled
            frames), root-relative, in the unit of the training targets
            (metres for posezoo and the official weights); None when the model
            has no full-sequence head (``full_output=False`` or no temporal blocks).
        central: ``(B, J, 3)`` pose of the central frame (token ``N // 2``),
            predicted by the strided transformer.
    """

    full: Optional[torch.Tensor]
    central: torch.Tensor


# a pytree node, so that torch.export / torch.compile can return it
torch.export.register_dataclass(UpliftUpsampleOutput, serialized_type_name="posezoo.UpliftUpsampleOutput")


class UpliftUpsample(PoseModel):
    """Uplift-and-Upsample lifting transformer with DUTA and a strided transformer.

    Args:
        num_frames: N, tokens per window (the official ``SEQUENCE_LENGTH``).
        num_joints: J.
        in_channels: channels of the 2D input (2).
        spatial_dim: Cs, width of the per-frame spatial transformer.
        temporal_dim: Ct, width of the temporal and strided transformers.
        spatial_depth: spatial blocks (0 maps the flattened keypoints directly).
        temporal_depth: full-sequence temporal blocks.
        strides: stride of each strided block; together with ``paddings`` they
            must reduce N tokens to exactly 1 (checked here). Empty: the central
            token ``N // 2`` is read out directly.
        paddings: ``(pl, pr)`` per strided block, each side 0 or 1 (default ``(1, 1)``).
        num_heads: attention heads of every block.
        mlp_ratio: MLP hidden width = ``int(dim * mlp_ratio)``.
        qkv_bias: bias of the q/k/v projections.
        output_stride: s_out, video frames per token.
        input_strides: supported s_in values in frames (multiples of
            ``output_stride``); the model accepts any stride mask, this list
            documents the training strides and feeds :meth:`example_inputs`.
            Default ``[output_stride]``.
        strided_input: learnable upsampling token and DUTA (False: every token
            is a keyframe and stride masks with upsampling positions are refused).
        first_strided_token_attention_layer: temporal blocks before this index
            exclude upsampling tokens as attention keys (DUTA; 0 = off). With
            ``temporal_depth=0`` it applies to the first strided block instead.
        full_output: build the full-sequence head.
        drop_rate: dropout after the spatial PE and inside the blocks.
        attn_drop_rate: attention-weight dropout.
        drop_path_rate: stochastic depth, one rate for every stack or
            ``[spatial, temporal, strided]``; each grows linearly from 0 over its stack.
        joint_order: layout of inputs and outputs: ``"h36m"`` (posezoo's
            H36M-17, default), ``"official"`` (the official code's 17-joint
            order) or another :mod:`posezoo.skeleton` layout name.

    Inputs of :meth:`forward`: ``keypoints_2d`` ``(B, N, J, in_channels)``
    normalised screen coordinates and ``stride_mask`` ``(B, N)`` (bool, or 0/1
    numbers; ``True``/1 = keyframe; None = all keyframes). Values at
    non-keyframes are ignored (they may even be NaN). ``keypoints_2d`` must be
    floating point (another precision is cast to the parameters' dtype; integer,
    bool and complex inputs raise ``TypeError``) with ``B >= 1``; a complex
    ``stride_mask`` raises ``TypeError``. Returns :class:`UpliftUpsampleOutput`.
    """

    def __init__(
        self,
        num_frames: int = 41,
        num_joints: int = 17,
        in_channels: int = 2,
        spatial_dim: int = 32,
        temporal_dim: int = 384,
        spatial_depth: int = 4,
        temporal_depth: int = 4,
        strides: Sequence[int] = (4, 4, 3),
        paddings: Optional[Sequence[Sequence[int]]] = ((1, 1), (0, 0), (0, 0)),
        num_heads: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        output_stride: int = 2,
        input_strides: Optional[Sequence[int]] = (4, 10, 20),
        strided_input: bool = True,
        first_strided_token_attention_layer: int = 1,
        full_output: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: Union[float, Sequence[float]] = 0.0,
        joint_order: str = "h36m",
    ) -> None:
        super().__init__()
        args = check_uplift_upsample_args(
            num_frames=num_frames,
            num_joints=num_joints,
            in_channels=in_channels,
            spatial_dim=spatial_dim,
            temporal_dim=temporal_dim,
            spatial_depth=spatial_depth,
            temporal_depth=temporal_depth,
            strides=strides,
            paddings=paddings,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            output_stride=output_stride,
            input_strides=input_strides,
            strided_input=strided_input,
            first_strided_token_attention_layer=first_strided_token_attention_layer,
            full_output=full_output,
            drop_rate=drop_rate,
            attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate,
            joint_order=joint_order,
        )
        strides, paddings, lengths, dpr = args.strides, args.paddings, args.lengths, args.drop_path
        self.num_frames = num_frames
        self.num_output_frames = num_frames
        self.num_joints = num_joints
        self.in_channels = in_channels
        self.out_channels = 3
        self.output_stride = output_stride
        self.input_strides = args.input_strides
        self.strided_input = strided_input
        self.joint_order = joint_order
        self.skeleton_name = args.skeleton.name
        self.token_lengths = lengths
        self.strides = strides
        self.paddings = paddings
        self.temporal_depth = temporal_depth
        self.first_strided_token_attention_layer = first_strided_token_attention_layer

        # 1. spatial transformer (per frame)
        if spatial_depth > 0:
            self.keypoint_embed = nn.Linear(in_channels, spatial_dim)
            self.spatial_pos_embed = LearnedPositionalEmbedding(num_joints, spatial_dim)
            self.spatial_drop = nn.Dropout(drop_rate)
            self.spatial_blocks = nn.ModuleList(
                TransformerBlock(
                    spatial_dim,
                    num_heads,
                    mlp_ratio,
                    qkv_bias,
                    act_layer="gelu",
                    norm_eps=1e-5,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=rate,
                )
                for rate in linear_drop_path_rates(dpr[0], spatial_depth)
            )
            self.spatial_norm = nn.LayerNorm(spatial_dim, eps=1e-6)
            flat = num_joints * spatial_dim
        else:
            flat = num_joints * in_channels
        self.spatial_depth = spatial_depth
        self.spatial_to_temporal = nn.Linear(flat, temporal_dim)

        # 2. upsampling tokens + temporal PE
        self.upsampling_tokens = UpsamplingTokens(temporal_dim) if strided_input else None
        self.temporal_pos_embed = LearnedPositionalEmbedding(num_frames, temporal_dim)

        # 3. full-sequence temporal transformer with DUTA
        self.temporal_encoder = DUTATemporalEncoder(
            temporal_dim,
            temporal_depth,
            num_heads,
            mlp_ratio,
            qkv_bias,
            act_layer="relu",
            norm_eps=1e-5,
            drop=drop_rate,
            attn_drop=attn_drop_rate,
            drop_path=dpr[1],
            first_strided_token_attention_layer=first_strided_token_attention_layer if strided_input else 0,
        )
        self.full_head = nn.Linear(temporal_dim, 3 * num_joints) if full_output else None

        # 4. strided transformer and central head
        self.strided_blocks = nn.ModuleList(
            StridedTransformerBlock(
                temporal_dim,
                lengths[i],
                s,
                paddings[i],
                num_heads,
                mlp_ratio,
                qkv_bias,
                act_layer="relu",
                norm_eps=1e-5,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=rate,
            )
            for i, (s, rate) in enumerate(zip(strides, linear_drop_path_rates(dpr[2], len(strides))))
        )
        self.central_head = nn.Linear(temporal_dim, 3 * num_joints)

    @property
    def receptive_field(self) -> int:
        """Video frames spanned by one window: ``(N - 1) * s_out + 1``."""
        return (self.num_frames - 1) * self.output_stride + 1

    def example_inputs(self, batch_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Random keypoints ``(B, N, J, C)`` and a centred stride mask ``(B, N)``.

        The mask uses the first of ``input_strides`` that has upsampling
        positions (``s_in > s_out``), or ``input_strides[0]`` if none has.
        """
        from ..layers.stride_masks import stride_mask

        device = self.central_head.weight.device
        keypoints = 0.3 * torch.randn(batch_size, self.num_frames, self.num_joints, self.in_channels, device=device)
        s_in = next((s for s in self.input_strides if s > self.output_stride), self.input_strides[0])
        mask = stride_mask(self.num_frames, s_in, self.output_stride).to(device)
        return keypoints, mask.expand(batch_size, -1).clone()

    def _check_inputs(
        self, keypoints_2d: torch.Tensor, stride_mask: Optional[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check_tensor("keypoints_2d", keypoints_2d, floating=True, nonempty=False)
        expected = (self.num_frames, self.num_joints, self.in_channels)
        if keypoints_2d.ndim != 4 or tuple(keypoints_2d.shape[1:]) != expected:
            raise ValueError(
                f"keypoints_2d must have shape (B, {', '.join(map(str, expected))}) = (batch, tokens, joints, "
                f"channels), got {tuple(keypoints_2d.shape)}"
            )
        check_tensor("keypoints_2d", keypoints_2d)  # B >= 1
        keypoints_2d = keypoints_2d.to(self.central_head.weight.dtype)
        batch = keypoints_2d.shape[0]
        eager = not torch.compiler.is_compiling()
        if stride_mask is None:
            mask = torch.ones(batch, self.num_frames, dtype=torch.bool, device=keypoints_2d.device)
        else:
            check_tensor("stride_mask", stride_mask, floating=False, nonempty=False)
            if stride_mask.is_complex():
                raise TypeError(f"stride_mask must be bool or hold 0/1 real numbers, got dtype {stride_mask.dtype}")
            if tuple(stride_mask.shape) != (batch, self.num_frames):
                raise ValueError(
                    f"stride_mask must have shape (B, N) = ({batch}, {self.num_frames}), got {tuple(stride_mask.shape)}"
                )
            if stride_mask.dtype == torch.bool:
                mask = stride_mask
            else:
                if eager and not ((stride_mask == 0) | (stride_mask == 1)).all():
                    raise ValueError("a numeric stride_mask must hold only 0 (upsampling) and 1 (keyframe)")
                mask = stride_mask != 0
            mask = mask.to(keypoints_2d.device)
        if eager:
            if not mask.any(dim=1).all():
                empty = torch.nonzero(~mask.any(dim=1)).flatten().tolist()
                raise ValueError(f"every sequence needs at least one keyframe; none in batch rows {empty}")
            if not self.strided_input and not mask.all():
                raise ValueError("this model has strided_input=False: every token must be a keyframe")
        keypoints = torch.where(mask[:, :, None, None], keypoints_2d, keypoints_2d.new_zeros(()))
        if eager and not torch.isfinite(keypoints).all():
            raise ValueError("keypoints_2d holds non-finite values at keyframes")
        return keypoints, mask

    def frame_tokens(self, keypoints_2d: torch.Tensor) -> torch.Tensor:
        """Per-frame stage: ``(B, F, J, C_in)`` finite 2D keyframes (any ``F >= 1``) -> ``(B, F, Ct)``
        tokens. Token ``t`` depends on frame ``t`` only, so it can be computed once per keyframe and
        reused by every window holding it (:class:`posezoo.StreamingLifter` does)."""
        check_tensor("keypoints_2d", keypoints_2d, shape=(None, None, self.num_joints, self.in_channels), finite=True)
        return self._spatial(keypoints_2d.to(self.central_head.weight.dtype))

    def forward_tokens(self, tokens: torch.Tensor, stride_mask: torch.Tensor) -> UpliftUpsampleOutput:
        """The forward pass after :meth:`frame_tokens`: ``tokens`` ``(B, N, Ct)`` (rows at
        non-keyframes are ignored) and a bool ``stride_mask`` ``(B, N)`` -> :class:`UpliftUpsampleOutput`.
        ``forward(x, mask) == forward_tokens(frame_tokens(x), mask)`` for a bool mask."""
        check_tensor("tokens", tokens, shape=(None, self.num_frames, self.spatial_to_temporal.out_features))
        check_tensor("stride_mask", stride_mask, shape=tuple(tokens.shape[:2]), floating=False)
        if stride_mask.dtype != torch.bool:
            raise TypeError(f"stride_mask must be a bool tensor, got {stride_mask.dtype}")
        return self._from_tokens(tokens.to(self.central_head.weight.dtype), stride_mask)

    def _spatial(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, J, C_in) -> (B, N, Ct)``."""
        batch = x.shape[0]
        if self.spatial_depth == 0:
            return self.spatial_to_temporal(rearrange(x, "b n j c -> b n (j c)"))
        h = self.spatial_pos_embed(self.keypoint_embed(rearrange(x, "b n j c -> (b n) j c")))
        h = self.spatial_drop(h)
        for block in self.spatial_blocks:
            h = block(h)
        h = self.spatial_norm(h)
        return self.spatial_to_temporal(rearrange(h, "(b n) j c -> b n (j c)", b=batch))

    def forward(self, keypoints_2d: torch.Tensor, stride_mask: Optional[torch.Tensor] = None) -> UpliftUpsampleOutput:
        """Lift and upsample one batch of windows.

        Args:
            keypoints_2d: ``(B, N, J, C_in)`` 2D keypoints (normalised screen
                coordinates) in the model's ``joint_order``; only keyframes are read.
            stride_mask: ``(B, N)`` bool or 0/1, ``True``/1 = keyframe; None = all keyframes.

        Returns:
            :class:`UpliftUpsampleOutput` with ``full`` ``(B, N, J, 3)`` and
            ``central`` ``(B, J, 3)``.
        """
        keypoints, mask = self._check_inputs(keypoints_2d, stride_mask)
        return self._from_tokens(self._spatial(keypoints), mask)

    def _from_tokens(self, tokens: torch.Tensor, mask: torch.Tensor) -> UpliftUpsampleOutput:
        if self.upsampling_tokens is not None:
            tokens = self.upsampling_tokens(tokens, mask)
        z = self.temporal_pos_embed(tokens)
        z = self.temporal_encoder(z, mask if self.strided_input else None)
        full = None
        if self.full_head is not None:
            full = rearrange(self.full_head(z), "b n (j c) -> b n j c", c=3)
        for i, block in enumerate(self.strided_blocks):
            duta_here = self.temporal_depth == 0 and self.strided_input and i < self.first_strided_token_attention_layer
            z = block(z, key_mask=mask if duta_here else None)
        if not self.strided_blocks:
            centre = self.num_frames // 2
            z = z[:, centre : centre + 1]
        central = rearrange(self.central_head(z), "b 1 (j c) -> b j c", c=3)
        return UpliftUpsampleOutput(full=full, central=central)

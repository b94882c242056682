"""MixSynthFormer (Sun et al., ICCV 2023): recover and refine a pose sequence from sparse keyframes.

A sampler keeps one frame in ``K``; a pose estimator runs only on those
keyframes. MixSynthFormer reads the ``Q + 1`` keyframes of a window of
``T = K * Q + 1`` frames (frames ``0, K, ..., T - 1``), recovers all T frames
(learned linear map over time, or a fixed interpolation), embeds every frame
(Linear ``P -> C``), refines with L post-norm :class:`MixSynthEncoderLayer` s,
and adds ``head(norm(h))`` back onto the recovered poses.

Motion prediction (the paper's Section 3.6) uses the same structure: with
``num_future_frames = F > 0`` the recovery also produces F frames after the
window and the model returns only those F future frames.

Differences from the official ``PoseRefinementModel`` (outputs are identical):

* ``value_reduce`` of a branch whose reduction factor is 1 is never used by
  the official forward pass; posezoo does not create it (16,640 parameters
  in the H36M setting: official 211,003, posezoo 194,363).
  ``keep_unused_value_reduce=True`` restores the official layout.
* The official forward casts the input to float32; posezoo casts a floating
  input to the dtype of the model's parameters (float32 unless you convert the
  model), so a float64 model computes in float64 and autocast works as usual.
  Integer, bool and complex inputs raise ``TypeError``.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import (
    check_bool,
    check_float,
    check_int,
    check_mlp_ratio,
    check_parameter_budget,
    check_probability,
    check_tensor,
    limits,
)
from ..layers.keyframe_interp import INTERP_MODES, KeyframeInterpolation
from ..layers.synth_encoder import MixSynthEncoder
from ._base import PoseModel
from ._registry import register_model

__all__ = ["MixSynthFormer", "MIXSYNTHFORMER_PAPER"]

MIXSYNTHFORMER_PAPER = (
    "Sun et al., MixSynthFormer: A Transformer Encoder-like Structure with Mixed Synthetic "
    "Self-attention for Efficient Human Pose Estimation, ICCV 2023"
)


_is_compiling = getattr(torch.compiler, "is_compiling", lambda: False)


class MixSynthFormer(PoseModel):
    """Recover-and-refine model for sparsely sampled pose sequences (2D, 3D or SMPL 6D).

    Args:
        num_joints: J.
        in_channels: D, values per joint (2 for 2D, 3 for 3D, 6 for 6D rotations).
            The model works on ``P = J * D`` features per frame.
        sample_interval: K, frames between keyframes.
        num_keyframes: Q + 1, keyframes per window; the window is
            ``num_frames = K * Q + 1`` frames.
        num_future_frames: F. 0 (default) recovers and refines the window;
            F > 0 is motion-prediction mode: the window is the history and the
            model returns the F frames that follow it.
        dim: embedding width C.
        depth: number of encoder layers L.
        expansion_factor: FFN hidden width ``int(C * expansion_factor)``.
        reduce_token: rt, key reduction of the temporal branch (``(T+F) // rt`` keys).
        reduce_channel: rc, key reduction of the channel branch (``C // rc`` keys).
        dropout: dropout rate (training only).
        interp: recovery, ``"learned"`` (official), ``"linear"``, ``"cubic"`` or
            ``"nearest"`` (see :mod:`posezoo.layers.keyframe_interp`).
        attn_generation: ``"synth"`` (the paper), ``"dense"``, ``"random"`` or
            ``"vanilla"`` (Table 5 ablations).
        se: SE re-weighting of the synthesised matrices.
        mixing: ``"split"`` (split-attention weighted sum, the paper) or ``"sum"``.
        branches: ``"both"``, ``"temporal"`` or ``"channel"`` (Table 7 ablations).
        keep_unused_value_reduce: create the official, never-used ``value_reduce``
            of reduction-1 branches (only to reproduce official parameter counts
            and load every tensor of an official checkpoint).
        norm_eps: LayerNorm epsilon (1e-5 as in the official code).

    Input ``(B, T, J, D)`` or ``(B, T, J*D)`` with ``T = num_frames``; only the
    keyframes are read (non-keyframes may hold anything, NaN included).
    Output has the same layout with ``T`` frames (refinement) or ``F`` frames
    (prediction). Units are those of the input (metres for 3D).
    """

    def __init__(
        self,
        num_joints: int = 17,
        in_channels: int = 3,
        sample_interval: int = 10,
        num_keyframes: int = 11,
        num_future_frames: int = 0,
        dim: int = 64,
        depth: int = 4,
        expansion_factor: float = 2,
        reduce_token: int = 4,
        reduce_channel: int = 1,
        dropout: float = 0.1,
        interp: str = "learned",
        attn_generation: str = "synth",
        se: bool = True,
        mixing: str = "split",
        branches: str = "both",
        keep_unused_value_reduce: bool = False,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        for name, value, low in (("num_joints", num_joints, 1), ("in_channels", in_channels, 1), ("dim", dim, 1)):
            check_int(name, value, low, limit="max_width")
        for name, value, low in (
            ("sample_interval", sample_interval, 1),
            ("num_keyframes", num_keyframes, 2),
            ("num_future_frames", num_future_frames, 0),
        ):
            check_int(name, value, low, limit="max_model_frames")
        check_int("depth", depth, limit="max_depth")
        if interp not in INTERP_MODES:
            raise ValueError(f"interp must be one of {', '.join(map(repr, INTERP_MODES))}, got {interp!r}")
        window = sample_interval * (num_keyframes - 1) + 1 + num_future_frames
        if window > limits.max_model_frames:
            raise ValueError(
                f"a window of {window} frames (K * Q + 1 + F) exceeds posezoo.limits.max_model_frames "
                f"({limits.max_model_frames})"
            )
        hidden = check_mlp_ratio(expansion_factor, dim, "expansion_factor")
        check_probability("dropout", dropout)
        check_bool("se", se)
        check_bool("keep_unused_value_reduce", keep_unused_value_reduce)
        check_float("norm_eps", norm_eps, minimum=0.0, exclusive_minimum=True)
        check_parameter_budget(
            "MixSynthFormer",
            depth * (2 * window * window + 2 * dim * dim + 2 * window * dim + 2 * dim * hidden)
            + window * num_keyframes
            + 2 * num_joints * in_channels * dim,
        )
        self.num_joints = num_joints
        self.in_channels = self.out_channels = in_channels
        self.sample_interval = sample_interval
        self.num_keyframes = num_keyframes
        self.num_future_frames = num_future_frames
        self.num_frames = sample_interval * (num_keyframes - 1) + 1
        self.num_output_frames = num_future_frames or self.num_frames
        self.sequence_length = self.num_frames + num_future_frames
        self.interp = interp
        features = num_joints * in_channels

        self.temporal_interp = KeyframeInterpolation(num_keyframes, sample_interval, interp, num_future_frames)
        self.embed = nn.Linear(features, dim)
        self.encoder = MixSynthEncoder(
            depth,
            self.sequence_length,
            dim,
            reduce_token=reduce_token,
            reduce_channel=reduce_channel,
            expansion_factor=expansion_factor,
            dropout=dropout,
            norm_eps=norm_eps,
            generation=attn_generation,
            se=se,
            mixing=mixing,
            branches=branches,
            keep_unused_value_reduce=keep_unused_value_reduce,
        )
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.head = nn.Linear(dim, features)
        # Official init: xavier_uniform_ for every parameter with >= 2 dimensions.
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    @property
    def task(self) -> str:
        """``"refine"`` (F = 0) or ``"predict"`` (F > 0)."""
        return "predict" if self.num_future_frames else "refine"

    def keyframe_indices(self) -> list[int]:
        """Window frames read by :meth:`forward`: ``0, K, ..., T - 1``."""
        return list(range(0, self.num_frames, self.sample_interval))

    def _flatten(self, x: torch.Tensor, frames: int, what: str) -> tuple[torch.Tensor, bool]:
        check_tensor(f"MixSynthFormer {what}", x, floating=True, nonempty=False)
        j, d = self.num_joints, self.in_channels
        if x.ndim == 4 and x.shape[1] == frames and x.shape[2:] == (j, d):
            flat, joints_axis = x.flatten(2), True
        elif x.ndim == 3 and x.shape[1] == frames and x.shape[2] == j * d:
            flat, joints_axis = x, False
        else:
            raise ValueError(f"{what} must be (B, {frames}, {j}, {d}) or (B, {frames}, {j * d}), got {tuple(x.shape)}")
        check_tensor(f"MixSynthFormer {what}", x)  # B >= 1
        return flat, joints_axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refine a window (or predict its future) from its keyframes.

        Args:
            x: ``(B, T, J, D)`` or ``(B, T, J*D)`` with ``T = num_frames``.

        Returns:
            ``(B, T, ...)`` refined poses, or ``(B, F, ...)`` future poses in
            prediction mode, in the input's layout.
        """
        flat, joints_axis = self._flatten(x, self.num_frames, "input")
        out = self._run(flat[:, :: self.sample_interval])
        return out.unflatten(2, (self.num_joints, self.in_channels)) if joints_axis else out

    def forward_keyframes(self, keyframes: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`forward` given only the keyframes ``(B, Q+1, J, D)`` or ``(B, Q+1, J*D)``."""
        flat, joints_axis = self._flatten(keyframes, self.num_keyframes, "keyframes")
        out = self._run(flat)
        return out.unflatten(2, (self.num_joints, self.in_channels)) if joints_axis else out

    def recover(self, keyframes: torch.Tensor) -> torch.Tensor:
        """The recovered (interpolated) sequence ``(B, T+F, J*D)`` before refinement."""
        flat, _ = self._flatten(keyframes, self.num_keyframes, "keyframes")
        return self.temporal_interp(flat.to(self.embed.weight.dtype))

    #: a chunk's ``(b, T, C)`` activation stays under 1 MiB (its live tensors then fit a core's 2 MB L2
    #: cache): batch 256 of ``mixsynthformer_h36m_3d`` runs in chunks of 40 clips, faster on the CPU
    #: (``benchmarks/README.md``)
    chunk_bytes = 1 << 20

    def clip_activation_bytes(self) -> int:
        """``(T + F) x C`` elements of the embedding dtype: one clip's token activation."""
        return self.sequence_length * self.embed.weight.shape[0] * self.embed.weight.element_size()

    def _run(self, keyframes: torch.Tensor) -> torch.Tensor:
        """``(B, Q+1, P)`` keyframes -> ``(B, T, P)`` or ``(B, F, P)``."""
        keyframes = keyframes.to(self.embed.weight.dtype)
        if not _is_compiling() and not torch.isfinite(keyframes).all():
            raise ValueError("keyframes contain NaN or Inf; only non-keyframe frames may be non-finite")
        chunk = self.inference_chunk(keyframes.shape[0])
        if chunk < keyframes.shape[0]:  # no gradients: clips never interact, chunks stay in the CPU cache
            return torch.cat([self._run_chunk(part) for part in keyframes.split(chunk)])
        return self._run_chunk(keyframes)

    def _run_chunk(self, keyframes: torch.Tensor) -> torch.Tensor:
        recovered = self.temporal_interp(keyframes)  # (B, T+F, P)
        h = self.encoder(self.embed(recovered))
        out = self.head(self.norm(h)) + recovered
        return out[:, self.num_frames :] if self.num_future_frames else out


# --------------------------------------------------------------------------- variants
_NOTES = (
    "Official PoseRefinementModel layout minus the never-used value_reduce of reduction-1 branches "
    "({unused:,} parameters; keep_unused_value_reduce=True restores them). Official checkpoints "
    "(checkpoint.pth.tar) convert with posezoo.from_official('mixsynthformer', path)."
)


def _official_unused(dim: int, frames: int, reduce_token: int, reduce_channel: int, depth: int) -> int:
    unused = 0
    if reduce_channel == 1:
        unused += dim * dim + dim
    if reduce_token == 1:
        unused += frames * frames + frames
    return unused * depth


def _register(name: str, notes: str, **config):
    def config_fn() -> dict:
        return dict(config)

    config_fn.__name__ = name
    t = config["sample_interval"] * (config["num_keyframes"] - 1) + 1 + config.get("num_future_frames", 0)
    unused = _official_unused(config["dim"], t, config["reduce_token"], config["reduce_channel"], config["depth"])
    register_model(
        MixSynthFormer,
        family="mixsynthformer",
        paper=MIXSYNTHFORMER_PAPER,
        notes=notes + " " + _NOTES.format(unused=unused),
    )(config_fn)


_register(
    "mixsynthformer_h36m_3d",
    "Human3.6M 3D keypoints (17x3, H36M-17 order), K=10, Q=10 (101-frame window), width 64, 4 layers, "
    "reduce 4/1: the official train.py / config_h36m_fcn_3D setting (194,363 params; official 211,003).",
    num_joints=17,
    in_channels=3,
    sample_interval=10,
    num_keyframes=11,
    dim=64,
    depth=4,
    reduce_token=4,
    reduce_channel=1,
)
_register(
    "mixsynthformer_jhmdb_2d",
    "Sub-JHMDB 2D keypoints (15x2), K=10, Q=1 (11-frame window), width 128, 5 layers, reduce 4/1 "
    "(official config_jhmdb_simplepose_2D).",
    num_joints=15,
    in_channels=2,
    sample_interval=10,
    num_keyframes=2,
    dim=128,
    depth=5,
    reduce_token=4,
    reduce_channel=1,
)
_register(
    "mixsynthformer_3dpw_3d",
    "3DPW 3D keypoints (14x3, root-relative), K=10, Q=5 (51-frame window), width 32, 4 layers, reduce 4/1 "
    "(official config_pw3d_spin_3D).",
    num_joints=14,
    in_channels=3,
    sample_interval=10,
    num_keyframes=6,
    dim=32,
    depth=4,
    reduce_token=4,
    reduce_channel=1,
)
_register(
    "mixsynthformer_aist_3d",
    "AIST++ 3D keypoints (14x3), K=10, Q=10 (101-frame window), width 128, 5 layers, reduce 4/1 "
    "(official config_aist_spin_3D).",
    num_joints=14,
    in_channels=3,
    sample_interval=10,
    num_keyframes=11,
    dim=128,
    depth=5,
    reduce_token=4,
    reduce_channel=1,
)
_register(
    "mixsynthformer_3dpw_smpl6d",
    "3DPW SMPL pose as 6D rotations (24x6 = 144 features), K=10, Q=5, width 64, 4 layers, reduce 4/1 "
    "(official config_pw3d_pare_smpl). Only the pose is refined: as in the official evaluator, the "
    "10 shape betas are not a model input and are kept from the estimator.",
    num_joints=24,
    in_channels=6,
    sample_interval=10,
    num_keyframes=6,
    dim=64,
    depth=4,
    reduce_token=4,
    reduce_channel=1,
)
_register(
    "mixsynthformer_aist_smpl6d",
    "AIST++ SMPL pose as 6D rotations (24x6), K=10, Q=10, width 128, 5 layers, reduce 4/1 "
    "(official config_aist_spin_smpl). Shape betas are not a model input (kept from the estimator).",
    num_joints=24,
    in_channels=6,
    sample_interval=10,
    num_keyframes=11,
    dim=128,
    depth=5,
    reduce_token=4,
    reduce_channel=1,
)
_register(
    "mixsynthformer_h36m_predict",
    "Short-term motion prediction (the paper's Section 3.6): 50 history frames (every frame a keyframe, "
    "K=1) -> the next 10 frames, H36M-17 3D joints, width 64, 4 layers, reduce 4/1. The official "
    "repository releases no prediction code or config; history/future lengths follow the common H36M "
    "short-term protocol (50 observed frames at 25 fps, 400 ms ahead) and are a posezoo choice.",
    num_joints=17,
    in_channels=3,
    sample_interval=1,
    num_keyframes=50,
    num_future_frames=10,
    dim=64,
    depth=4,
    reduce_token=4,
    reduce_channel=1,
)

"""Windows over pose sequences: the window Datasets, and (re-exported) their frame indices, sources and flips.

Frame indices (:mod:`posezoo.data.window_frames`: seq2seq training windows
:func:`training_window_starts`, evaluation windows :func:`evaluation_windows` /
:func:`reassemble`, Uplift-and-Upsample keyframe windows :func:`keyframe_window_frames` /
:func:`central_frames` / :func:`interpolate_frames`, MixSynthFormer windows
:func:`mixsynth_window_starts`; edge padding by :func:`clip_frames`), sequence
sources (:mod:`posezoo.data.sequences`) and flips (:mod:`posezoo.data.flips`) are
re-exported here, so every name keeps its ``posezoo.data.windows`` import path.

Datasets (``torch.utils.data.Dataset``) draw frames from a *source* of
sequences (:mod:`posezoo.data.sequences`: :class:`PoseSequences` for arrays in memory, or
:class:`posezoo.data.mocap.VirtualCameraPairs` for 3D motion seen through random
virtual cameras) and yield dicts of tensors: ``keypoints_2d``, ``pose_3d``
(and any other per-frame field of the source, e.g. ``confidence``), masks
(``valid`` = frame inside the sequence, ``stride_mask``, ``keyframe_mask``)
and ``meta`` (ints). Randomness is drawn from ``numpy.random.default_rng([seed,
epoch, index])``, so items are reproducible and independent across DataLoader
workers; call ``set_epoch`` every epoch.

Flip augmentation (:mod:`posezoo.data.flips`: :func:`flip_sample`) mirrors a sample with the skeleton's
left/right permutation (:func:`posezoo.skeleton.flip_pose`): ``flip=True``
doubles a dataset (each window once plain, once mirrored, as separate
entries); :class:`WithinBatchFlip` is a ``collate_fn`` that puts every sample
and its mirrored copy (same stride mask and shift) next to each other in the
batch, as Uplift-and-Upsample's ``IN_BATCH_AUGMENT``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from .._validation import check_int
from ..skeleton import Skeleton, get_skeleton
from .flips import FLIP_JOINT_FIELDS, FLIP_POSE_FIELDS, FLIP_VECTOR_FIELDS, WithinBatchFlip, flip_sample  # noqa: F401
from .sequences import PoseSequences, SequenceSource
from .stride_masks import random_shift, stride_mask
from .window_frames import (
    EvalWindow,
    central_frames,
    clip_frames,
    evaluation_windows,
    interpolate_frames,
    keyframe_window_frames,
    mixsynth_keyframe_mask,
    mixsynth_window_length,
    mixsynth_window_starts,
    reassemble,
    training_window_starts,
)

__all__ = [
    "clip_frames",
    "training_window_starts",
    "EvalWindow",
    "evaluation_windows",
    "reassemble",
    "keyframe_window_frames",
    "central_frames",
    "interpolate_frames",
    "mixsynth_window_length",
    "mixsynth_keyframe_mask",
    "mixsynth_window_starts",
    "SequenceSource",
    "PoseSequences",
    "Seq2SeqWindows",
    "UpliftUpsampleWindows",
    "MixSynthWindows",
    "flip_sample",
    "WithinBatchFlip",
]


def _to_tensors(sample: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in sample.items():
        if isinstance(v, np.ndarray):
            t = torch.from_numpy(np.ascontiguousarray(v))
            out[k] = t.float() if t.is_floating_point() else t
        else:
            out[k] = v
    return out


class _WindowDataset(Dataset):
    """Shared machinery: items, flip doubling, per-item random generators, tensors out."""

    def __init__(self, source: SequenceSource, flip: bool, skeleton: Union[str, Skeleton], seed: int) -> None:
        if len(source) == 0:
            raise ValueError("the source holds no sequences")
        self.source = source
        self.flip = bool(flip)
        self.skeleton = get_skeleton(skeleton)
        self.seed = int(seed)
        self.epoch = 0
        self._items: list[tuple[int, int]] = []

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws (cameras, noise, strides, shifts) for a new epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._items) * (2 if self.flip else 1)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self._items)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        index %= len(self)
        flipped = index >= n
        sample = self._make(index % n, self._rng(index))
        sample["meta"]["flipped"] = 0
        if flipped:
            sample = flip_sample(sample, self.skeleton)
        return _to_tensors(sample)

    def _make(self, item: int, rng: np.random.Generator) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


class Seq2SeqWindows(_WindowDataset):
    """Seq2seq training windows (MixSTE / RTPCA): ``num_frames`` frames every ``stride``.

    Yields every per-frame field of the source windowed to ``(T, ...)``, plus
    ``valid`` ``(T,)`` bool (False on edge padding) and ``meta`` (``sequence``,
    ``start``, ``flipped``).
    """

    def __init__(
        self,
        source: SequenceSource,
        num_frames: int,
        stride: Optional[int] = None,
        flip: bool = False,
        skeleton: Union[str, Skeleton] = "h36m",
        seed: int = 0,
    ) -> None:
        super().__init__(source, flip, skeleton, seed)
        self.num_frames = check_int("num_frames", num_frames, numpy_ok=True, limit="max_sequence_frames")
        self.stride = (
            self.num_frames
            if stride is None
            else check_int("stride", stride, numpy_ok=True, limit="max_sequence_frames")
        )
        for seq in range(len(source)):
            for start in training_window_starts(source.sequence_length(seq), self.num_frames, self.stride):
                self._items.append((seq, int(start)))

    def _make(self, item: int, rng: np.random.Generator) -> dict[str, Any]:
        seq, start = self._items[item]
        length = self.source.sequence_length(seq)
        raw = np.arange(start, start + self.num_frames)
        sample: dict[str, Any] = dict(self.source.window(seq, clip_frames(raw, length), rng))
        sample["valid"] = (raw >= 0) & (raw < length)
        sample["meta"] = {"sequence": seq, "start": start}
        return sample


class UpliftUpsampleWindows(_WindowDataset):
    """Uplift-and-Upsample keyframe windows: N tokens every ``s_out`` frames around a centre frame.

    Every ``center_step``-th frame of every sequence is a window centre
    (default: every frame for training, every ``s_out``-th frame for
    evaluation, where centres must lie on the output-stride grid). Per item
    an input stride ``s_in`` is drawn uniformly from ``input_strides``
    (training) and a stride mask built with :func:`posezoo.data.stride_masks.stride_mask`:

    * ``train=True``: centred mask (central token is a keyframe), or a random
      phase (:func:`random_shift`) when ``random_shift=True``;
    * ``train=False``: global alignment (keyframes are the frames divisible by
      ``s_in``); ``input_strides`` must then hold one value.

    ``keypoints_2d`` is zeroed at non-keyframes (the model input is ``X * m``).
    Yields the source's fields ``(N, ...)``, ``stride_mask`` ``(N,)`` bool
    (True = keyframe), ``valid`` ``(N,)`` and ``meta`` (``sequence``,
    ``center``, ``input_stride``, ``shift``, ``flipped``). The central frame is
    token ``N // 2``.
    """

    def __init__(
        self,
        source: SequenceSource,
        num_tokens: int,
        output_stride: int,
        input_strides: Sequence[int],
        train: bool = True,
        random_shift: bool = False,
        center_step: Optional[int] = None,
        flip: bool = False,
        skeleton: Union[str, Skeleton] = "h36m",
        seed: int = 0,
    ) -> None:
        super().__init__(source, flip, skeleton, seed)
        self.num_tokens = check_int("num_tokens", num_tokens, numpy_ok=True, limit="max_sequence_frames")
        self.output_stride = check_int("output_stride", output_stride, numpy_ok=True, limit="max_sequence_frames")
        if center_step is None:
            center_step = 1 if train else self.output_stride
        self.input_strides = [
            check_int("input_strides[i]", s, numpy_ok=True, limit="max_sequence_frames") for s in input_strides
        ]
        if not self.input_strides:
            raise ValueError("input_strides must not be empty")
        for s in self.input_strides:
            stride_mask(1, s, self.output_stride)  # validates s_in % s_out == 0
        if not train and len(self.input_strides) != 1:
            raise ValueError(f"evaluation windows need exactly one input stride, got {self.input_strides}")
        self.train = bool(train)
        self.random_shift = bool(random_shift)
        step = check_int("center_step", center_step, numpy_ok=True, limit="max_sequence_frames")
        if not train and step % self.output_stride != 0:
            raise ValueError(
                f"evaluation centres must lie on the output-stride grid (global keyframes are multiples of "
                f"s_in): center_step={step} is not a multiple of output_stride={self.output_stride}"
            )
        for seq in range(len(source)):
            for c in range(0, source.sequence_length(seq), step):
                self._items.append((seq, c))

    def _make(self, item: int, rng: np.random.Generator) -> dict[str, Any]:
        seq, center = self._items[item]
        length = self.source.sequence_length(seq)
        s_in = self.input_strides[int(rng.integers(len(self.input_strides)))] if self.train else self.input_strides[0]
        shift = 0
        if self.train:
            if self.random_shift:
                gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
                shift = random_shift(s_in, self.output_stride, gen)
            mask = stride_mask(self.num_tokens, s_in, self.output_stride, shift=shift)
        else:
            mask = stride_mask(self.num_tokens, s_in, self.output_stride, center_frame=center)
        mask = mask.numpy()
        raw = keyframe_window_frames(center, self.num_tokens, self.output_stride)
        sample: dict[str, Any] = dict(self.source.window(seq, clip_frames(raw, length), rng))
        if "keypoints_2d" in sample:
            sample["keypoints_2d"] = sample["keypoints_2d"] * mask[:, None, None].astype(sample["keypoints_2d"].dtype)
        sample["stride_mask"] = mask
        sample["valid"] = (raw >= 0) & (raw < length)
        sample["meta"] = {"sequence": seq, "center": center, "input_stride": s_in, "shift": shift}
        return sample


class MixSynthWindows(_WindowDataset):
    """MixSynthFormer windows: ``W = K*Q + 1`` frames, keyframes every K frames including the last.

    Windows start every ``step`` frames (default K) with one more aligned to the
    end of the sequence; sequences shorter than ``W`` are edge-padded at the end.
    Yields ``pose_input`` (the source field ``input_key``, or a copy of the
    target when ``None``: add noise yourself), ``pose_target`` (field
    ``target_key``), both ``(W, J, C)``; ``keyframe_mask`` ``(W,)``; ``valid``
    ``(W,)``; ``meta`` (``sequence``, ``start``, ``flipped``).
    """

    def __init__(
        self,
        source: SequenceSource,
        sample_interval: int,
        num_keyframes: int,
        step: Optional[int] = None,
        target_key: str = "pose_3d",
        input_key: Optional[str] = None,
        flip: bool = False,
        skeleton: Union[str, Skeleton] = "h36m",
        seed: int = 0,
    ) -> None:
        super().__init__(source, flip, skeleton, seed)
        self.sample_interval = check_int("sample_interval", sample_interval, numpy_ok=True, limit="max_sequence_frames")
        self.window = mixsynth_window_length(sample_interval, num_keyframes)
        self.keyframe_mask = mixsynth_keyframe_mask(sample_interval, num_keyframes)
        self.step = (
            self.sample_interval
            if step is None
            else check_int("step", step, numpy_ok=True, limit="max_sequence_frames")
        )
        self.target_key, self.input_key = target_key, input_key
        for seq in range(len(source)):
            for start in mixsynth_window_starts(source.sequence_length(seq), self.window, self.step):
                self._items.append((seq, int(start)))

    def _make(self, item: int, rng: np.random.Generator) -> dict[str, Any]:
        seq, start = self._items[item]
        length = self.source.sequence_length(seq)
        raw = np.arange(start, start + self.window)
        fields = self.source.window(seq, clip_frames(raw, length), rng)
        for key in (self.target_key, self.input_key):
            if key is not None and key not in fields:
                raise KeyError(f"the source has no field {key!r}; fields: {', '.join(fields)}")
        target = fields[self.target_key]
        return {
            "pose_input": np.array(fields[self.input_key] if self.input_key else target, copy=True),
            "pose_target": target,
            "keyframe_mask": self.keyframe_mask.copy(),
            "valid": (raw >= 0) & (raw < length),
            "meta": {"sequence": seq, "start": start},
        }

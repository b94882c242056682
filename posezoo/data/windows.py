"""Windows over pose sequences: training and evaluation windows, keyframe windows, Datasets.

Frame-index helpers (numpy, no torch needed):

* :func:`training_window_starts`: seq2seq training windows (MixSTE / RTPCA) of
  ``num_frames`` every ``stride`` frames; the windows are centred on the
  sequence, the parts that stick out at the ends are edge-padded.
* :func:`evaluation_windows` + :func:`reassemble`: windows that cover every
  frame of a sequence **exactly once** and put per-window predictions back in
  order (consecutive chunks; the last one is aligned to the end of the
  sequence and contributes only its new frames; a sequence shorter than one
  window is edge-padded on both sides).
* :func:`keyframe_window_frames` / :func:`central_frames` /
  :func:`interpolate_frames`: Uplift-and-Upsample windows of N tokens every
  ``s_out`` frames centred on a frame (stride masks from
  :mod:`posezoo.data.stride_masks`), the evaluation centres and the linear
  interpolation between central predictions (official ``TEST_STRIDED_EVAL``).
* :func:`mixsynth_keyframe_mask` / :func:`mixsynth_window_starts`:
  MixSynthFormer windows ``W = K*Q + 1`` with keyframes every K frames,
  including the last.

Edge padding repeats the first / last frame (:func:`clip_frames`).

Datasets (``torch.utils.data.Dataset``) draw frames from a *source* of
sequences (:class:`PoseSequences` for arrays in memory, or
:class:`posezoo.data.mocap.VirtualCameraPairs` for 3D motion seen through random
virtual cameras) and yield dicts of tensors: ``keypoints_2d``, ``pose_3d``
(and any other per-frame field of the source, e.g. ``confidence``), masks
(``valid`` = frame inside the sequence, ``stride_mask``, ``keyframe_mask``)
and ``meta`` (ints). Randomness is drawn from ``numpy.random.default_rng([seed,
epoch, index])``, so items are reproducible and independent across DataLoader
workers; call ``set_epoch`` every epoch.

Flip augmentation (:func:`flip_sample`) mirrors a sample with the skeleton's
left/right permutation (:func:`posezoo.skeleton.flip_pose`): ``flip=True``
doubles a dataset (each window once plain, once mirrored, as separate
entries); :class:`WithinBatchFlip` is a ``collate_fn`` that puts every sample
and its mirrored copy (same stride mask and shift) next to each other in the
batch, as Uplift-and-Upsample's ``IN_BATCH_AUGMENT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Protocol, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from .._validation import check_int
from ..skeleton import Skeleton, flip_pose, get_skeleton
from .stride_masks import random_shift, stride_mask, token_offsets

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

#: Per-frame fields with joints and x as the first coordinate: mirrored by ``flip_pose``.
FLIP_POSE_FIELDS = ("keypoints_2d", "pose_3d", "pose_input", "pose_target")
#: Per-frame ``(T, J)`` fields: joints permuted by a flip.
FLIP_JOINT_FIELDS = ("confidence",)
#: Per-frame ``(T, 3)`` fields: x negated by a flip.
FLIP_VECTOR_FIELDS = ("trajectory",)


# --------------------------------------------------------------------------- frame indices


def clip_frames(frames: np.ndarray, length: int) -> np.ndarray:
    """Clip frame indices to ``[0, length - 1]``: edge padding by repetition."""
    length = check_int("length", length, numpy_ok=True, limit="max_sequence_frames")
    return np.clip(np.asarray(frames, dtype=np.int64), 0, length - 1)


def training_window_starts(length: int, num_frames: int, stride: Optional[int] = None) -> np.ndarray:
    """Start frames of seq2seq training windows (may be < 0 or run past the end: edge-pad).

    ``n = ceil((length - num_frames) / stride) + 1`` windows (1 when the
    sequence is shorter than a window), every ``stride`` frames, with the
    overhang split evenly between the two ends (as the chunked generators of
    VideoPose3D / MixSTE). ``stride`` defaults to ``num_frames``.
    """
    length = check_int("length", length, numpy_ok=True, limit="max_sequence_frames")
    num_frames = check_int("num_frames", num_frames, numpy_ok=True, limit="max_sequence_frames")
    stride = num_frames if stride is None else check_int("stride", stride, numpy_ok=True, limit="max_sequence_frames")
    n = 1 if length <= num_frames else -(-(length - num_frames) // stride) + 1
    check_int("number of training windows", n, limit="max_windows")
    span = (n - 1) * stride + num_frames
    offset = (span - length) // 2
    return np.arange(n, dtype=np.int64) * stride - offset


@dataclass(frozen=True)
class EvalWindow:
    """One evaluation window.

    Attributes:
        frames: ``(num_frames,)`` sequence frame of each window position (edge-padded).
        window_slice: positions of the window whose predictions are kept.
        sequence_slice: the sequence frames they fill (same length).
    """

    frames: np.ndarray
    window_slice: slice
    sequence_slice: slice


def evaluation_windows(length: int, num_frames: int) -> list[EvalWindow]:
    """Windows of ``num_frames`` covering frames ``0 .. length-1`` exactly once.

    Consecutive chunks ``[0, T), [T, 2T), ...``; if ``length`` is not a multiple
    of ``T`` the last window is ``[length - T, length)`` and keeps only its last
    ``length % T`` positions. A sequence shorter than ``T`` gets one window,
    edge-padded by ``(T - length) // 2`` frames before and the rest after.
    """
    length = check_int("length", length, numpy_ok=True, limit="max_sequence_frames")
    t = check_int("num_frames", num_frames, numpy_ok=True, limit="max_sequence_frames")
    check_int("number of evaluation windows", -(-length // t), limit="max_windows")
    if length < t:
        before = (t - length) // 2
        frames = clip_frames(np.arange(t) - before, length)
        return [EvalWindow(frames, slice(before, before + length), slice(0, length))]
    windows = [
        EvalWindow(np.arange(s, s + t, dtype=np.int64), slice(0, t), slice(s, s + t))
        for s in range(0, length - t + 1, t)
    ]
    rest = length % t
    if rest:
        windows.append(
            EvalWindow(np.arange(length - t, length, dtype=np.int64), slice(t - rest, t), slice(length - rest, length))
        )
    return windows


def reassemble(predictions: Any, windows: Sequence[EvalWindow], length: int) -> Any:
    """Put per-window predictions ``(num_windows, T, ...)`` back into a ``(length, ...)`` sequence.

    Works for numpy arrays and torch tensors; each output frame is taken from
    exactly one window (see :func:`evaluation_windows`).
    """
    if not isinstance(predictions, (np.ndarray, torch.Tensor)) and not isinstance(predictions, (list, tuple)):
        raise TypeError(f"predictions must be an array, tensor or list, got {type(predictions).__name__}")
    if len(predictions) != len(windows):
        raise ValueError(f"got predictions for {len(predictions)} windows, expected {len(windows)}")
    parts = []
    for pred, win in zip(predictions, windows):
        if pred.shape[0] != len(win.frames):
            raise ValueError(f"a window prediction has {pred.shape[0]} frames, expected {len(win.frames)}")
        parts.append(pred[win.window_slice])
    out = torch.cat(parts, 0) if isinstance(parts[0], torch.Tensor) else np.concatenate(parts, 0)
    if out.shape[0] != length:
        raise ValueError(f"windows cover {out.shape[0]} frames, expected {length}")
    return out


def keyframe_window_frames(center: int, num_tokens: int, output_stride: int = 1) -> np.ndarray:
    """Frames ``center + (n - N//2) * s_out`` of an Uplift-and-Upsample window (unclipped)."""
    return int(center) + token_offsets(num_tokens, output_stride).numpy()


def central_frames(length: int, output_stride: int = 1) -> np.ndarray:
    """Evaluation centres on the output-stride grid: ``0, s_out, 2 s_out, ...`` up to the first >= ``length - 1``.

    Every centre is a multiple of ``s_out``, so every window's tokens fall on
    frames where global keyframes (multiples of ``s_in``) can be. When
    ``length - 1`` is off the grid, the last centre lies past the end of the
    sequence (its window is edge-padded) and :func:`interpolate_frames` covers
    the frames after the last on-grid centre.
    """
    length = check_int("length", length, numpy_ok=True, limit="max_sequence_frames")
    output_stride = check_int("output_stride", output_stride, numpy_ok=True, limit="max_sequence_frames")
    check_int("number of window centres", -(-length // output_stride) + 1, limit="max_windows")
    return np.arange(0, length - 1 + output_stride, output_stride, dtype=np.int64)


def interpolate_frames(values: Any, positions: np.ndarray, length: int) -> Any:
    """Linear interpolation of per-frame values known at ``positions`` to frames ``0 .. length-1``.

    Args:
        values: ``(C, ...)`` numpy array or tensor, one entry per position.
        positions: ``(C,)`` strictly increasing frame indices, first 0 and last
            ``>= length-1`` (a position past the end only anchors the interpolation).
    """
    positions = np.asarray(positions, dtype=np.int64)
    if positions.ndim != 1 or len(positions) != len(values) or len(positions) == 0:
        raise ValueError(f"need one position per value, got {positions.shape} for {len(values)} values")
    if positions[0] != 0 or positions[-1] < length - 1 or np.any(np.diff(positions) <= 0):
        raise ValueError("positions must increase strictly from 0 to at least length - 1")
    if len(positions) == 1:
        return (
            values[[0] * length]
            if isinstance(values, np.ndarray)
            else values[torch.zeros(length, dtype=torch.long, device=values.device)]
        )
    frames = np.arange(length)
    left = np.clip(np.searchsorted(positions, frames, side="right") - 1, 0, len(positions) - 2)
    weight = (frames - positions[left]) / (positions[left + 1] - positions[left])
    if isinstance(values, torch.Tensor):
        li = torch.as_tensor(left, device=values.device)
        w = torch.as_tensor(weight, dtype=values.dtype, device=values.device).reshape(-1, *[1] * (values.ndim - 1))
        return values[li] * (1 - w) + values[li + 1] * w
    w = weight.reshape(-1, *[1] * (values.ndim - 1)).astype(values.dtype)
    return values[left] * (1 - w) + values[left + 1] * w


def mixsynth_window_length(sample_interval: int, num_keyframes: int) -> int:
    """``W = K * Q + 1`` for K = ``sample_interval`` and Q + 1 = ``num_keyframes``."""
    k = check_int("sample_interval", sample_interval, numpy_ok=True, limit="max_sequence_frames")
    q1 = check_int("num_keyframes", num_keyframes, 2, numpy_ok=True, limit="max_sequence_frames")
    return k * (q1 - 1) + 1


def mixsynth_keyframe_mask(sample_interval: int, num_keyframes: int) -> np.ndarray:
    """Bool ``(W,)``: True at frames ``0, K, 2K, ..., W-1`` (the keyframes MixSynthFormer reads)."""
    w = mixsynth_window_length(sample_interval, num_keyframes)
    mask = np.zeros(w, dtype=bool)
    mask[::sample_interval] = True
    return mask


def mixsynth_window_starts(length: int, window: int, step: int) -> np.ndarray:
    """Window starts ``0, step, 2*step, ...`` plus one aligned to the end; ``[0]`` if shorter than a window."""
    length = check_int("length", length, numpy_ok=True, limit="max_sequence_frames")
    window = check_int("window", window, numpy_ok=True, limit="max_sequence_frames")
    step = check_int("step", step, numpy_ok=True, limit="max_sequence_frames")
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    check_int("number of windows", (length - window) // step + 2, limit="max_windows")
    starts = np.arange(0, length - window + 1, step, dtype=np.int64)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


# --------------------------------------------------------------------------- sources


class SequenceSource(Protocol):
    """What the window datasets read frames from."""

    def __len__(self) -> int: ...

    def sequence_length(self, index: int) -> int: ...

    def window(self, index: int, frames: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Per-frame fields of sequence ``index`` at ``frames`` (already clipped to the sequence)."""
        ...


class PoseSequences:
    """In-memory sequences: a list of dicts of per-frame arrays ``(T, ...)`` (e.g. :func:`h36m_sequences`).

    Every array field whose first axis has the sequence length is windowed
    (``keypoints_2d``, ``pose_3d``, ``confidence``, ...); other entries (names,
    camera ids) are ignored by the datasets. All sequences must hold the same
    per-frame fields.
    """

    def __init__(self, sequences: Sequence[Mapping[str, Any]], length_key: Optional[str] = None) -> None:
        if len(sequences) == 0:
            raise ValueError("PoseSequences needs at least one sequence")
        self._fields: list[dict[str, np.ndarray]] = []
        self._lengths: list[int] = []
        keys = None
        for i, seq in enumerate(sequences):
            arrays = {k: np.asarray(v) for k, v in seq.items() if isinstance(v, (np.ndarray, torch.Tensor))}
            if not arrays:
                raise ValueError(f"sequence {i} holds no arrays")
            key = length_key or next(iter(arrays))
            if key not in arrays:
                raise ValueError(f"sequence {i} has no field {key!r}")
            length = int(arrays[key].shape[0])
            if length < 1:
                raise ValueError(f"sequence {i} is empty")
            for k, v in arrays.items():
                if v.ndim == 0 or v.shape[0] != length:
                    raise ValueError(
                        f"sequence {i}: field {k!r} has shape {v.shape}, expected {length} frames like {key!r}"
                    )
            if keys is None:
                keys = set(arrays)
            elif set(arrays) != keys:
                raise ValueError(f"sequence {i} has fields {sorted(arrays)}, sequence 0 has {sorted(keys)}")
            self._fields.append(arrays)
            self._lengths.append(length)

    def __len__(self) -> int:
        return len(self._fields)

    def sequence_length(self, index: int) -> int:
        return self._lengths[index]

    def window(self, index: int, frames: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {k: v[frames] for k, v in self._fields[index].items()}


# --------------------------------------------------------------------------- flips


def flip_sample(sample: Mapping[str, Any], skeleton: Union[str, Skeleton] = "h36m") -> dict[str, Any]:
    """Mirror a sample: pose fields via ``flip_pose``, ``confidence`` joints permuted, ``trajectory`` x negated.

    Masks are unchanged; ``meta["flipped"]`` is toggled. Works on numpy arrays and tensors.
    """
    skel = get_skeleton(skeleton)
    perm = list(skel.flip_permutation)
    out = dict(sample)
    for key in FLIP_POSE_FIELDS:
        if key in out:  # a data transform: missing joints (NaN) stay missing, masks say where
            out[key] = flip_pose(out[key], skel, allow_nonfinite=True)
    for key in FLIP_JOINT_FIELDS:
        if key in out:
            v = out[key]
            out[key] = v[..., torch.as_tensor(perm, device=v.device)] if isinstance(v, torch.Tensor) else v[..., perm]
    for key in FLIP_VECTOR_FIELDS:
        if key in out:
            v = out[key].clone() if isinstance(out[key], torch.Tensor) else np.array(out[key], copy=True)
            v[..., 0] = -v[..., 0]
            out[key] = v
    if "meta" in out:
        meta = dict(out["meta"])
        meta["flipped"] = 1 - int(meta.get("flipped", 0))
        out["meta"] = meta
    return out


class WithinBatchFlip:
    """``collate_fn`` that emits each sample followed by its mirrored copy (batch of 2B).

    The copy keeps the sample's masks, stride and shift: Uplift-and-Upsample's
    ``IN_BATCH_AUGMENT``. Use with a dataset built with ``flip=False``.
    """

    def __init__(self, skeleton: Union[str, Skeleton] = "h36m") -> None:
        self.skeleton = get_skeleton(skeleton)

    def __call__(self, batch: Sequence[Mapping[str, Any]]) -> Any:
        doubled: list[Any] = []
        for sample in batch:
            doubled.append(sample)
            doubled.append(flip_sample(sample, self.skeleton))
        return default_collate(doubled)


# --------------------------------------------------------------------------- datasets


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

""":class:`StreamingLifter`: real-time 2D -> 3D lifting, one frame at a time, with bounded latency."""

from __future__ import annotations

import warnings
from typing import Any, Optional, Union

import numpy as np
import torch

from .._validation import check_bool, check_float, check_int
from ..skeleton import Skeleton, get_skeleton, list_conversions
from ._common import (
    ArrayOrTensor,
    ModelArg,
    _checked_device,
    _inference,
    _load_model,
    _model_dtype,
)
from ._keypoints_2d import _convert_2d, _normalise_2d
from ._stream_engines import LifterEngine, UpliftEngine
from ._windowed import _joint_order_adapters, _uplift_input_stride

__all__ = ["StreamingLifter"]

FramePose = tuple[int, np.ndarray]


class StreamingLifter:
    """Lift a live stream of 2D keypoints to 3D, one frame per :meth:`push`, with a fixed latency.

    Seq2seq lifters (RTPCA, MixSTE; ``model.num_frames = T``): after pushing frame ``t`` (frames
    count from 0), frame ``t - latency`` is final and :meth:`push` returns it; :meth:`flush`
    returns the last ``latency`` frames at the end of the stream. Definition: frame ``i``'s pose
    is the model's output at position ``T - 1 - latency`` of the window of frames
    ``i + latency - T + 1 ... i + latency``, each index clamped to the frames that exist (edge
    padding: frame 0 repeats at the start; on :meth:`flush`, the last frame repeats at the end).
    ``latency = 0`` is causal, ``T // 2`` the centred evaluation, ``T - 1`` the longest.

    Uplift and Upsample (``model.output_stride = s_out``, ``model.num_frames = N`` tokens):
    every :meth:`push` is a **keyframe**, ``input_stride`` video frames after the previous one
    (push ``k`` shows video frame ``k * input_stride``; the model uses every ``every``-th push as
    ``lift()`` does when ``input_stride`` is not one of ``model.input_strides``, so keyframes are
    at video frames ``m * s_in``). Output is at full video rate, with ``latency`` counted in steps
    of the output grid (grid point ``g`` = video frame ``g * s_out``, ``0 <= latency <= N - 1``):
    grid point ``g``'s pose is the model output at token ``p = N - 1 - latency`` (the ``central``
    head when ``p == N // 2``, else ``full[:, p]``) of the window of grid points
    ``g + latency - N + 1 ... g + latency``; a token at video frame ``f`` is a keyframe iff
    ``f % s_in == 0`` and then shows keyframe ``clip(f // s_in, 0, M - 1)`` (``M`` keyframes so
    far; edge padding that keeps the stride pattern, as ``lift()``). Video frame ``f`` between grid
    points is the linear interpolation of grid points ``f // s_out`` and ``ceil(f / s_out)``.
    Frame ``f`` is returned by the first push after which the stream has reached it
    (``f < pushes * input_stride``) and the keyframe at video frame
    ``((ceil(f / s_out) + latency) * s_out // s_in) * s_in`` has been pushed (with a small latency,
    frames after the newest keyframe come from upsampling tokens at the end of the window: an
    extrapolation). :meth:`flush` returns the rest up to video frame ``pushes * input_stride - 1``.
    ``latency = N // 2`` reproduces ``lift(..., input_stride=s, output_length=pushes * s)``.

    Args:
        model: a registered model name (built with ``pretrained``) or a module: a seq2seq lifter
            or an Uplift-and-Upsample model (refinement models raise ``ValueError``).
        latency: see above; an int from 0 to ``T - 1`` (``N - 1`` tokens for Uplift and Upsample).
        flip_tta: average with the mirrored prediction of the mirrored input (twice the work).
        image_size: ``(w, h)`` in pixels: frames are pixel coordinates, normalised with
            :func:`posezoo.data.normalize_screen_coordinates`; ``None``: normalised already.
        layout: joint layout of the pushed frames, as :func:`posezoo.lift` (``"h36m"``, ``"coco"``,
            ``"halpe26"``, ...); converted layouts come out as H36M-17.
        min_confidence: keypoints whose confidence is ``<= min_confidence`` are missing (they may
            be NaN). A missing joint keeps its last seen position (causal hold: ``lift()``
            interpolates, which needs the future); a joint never seen yet takes the mean of the
            frame's other joints. A frame without any confident joint, before any was seen,
            raises ``ValueError``.
        input_stride: Uplift and Upsample only: video frames between pushed keyframes.
        device: where the model runs (default: the module's device, CPU for a name). The model
            is moved there and stays.
        pretrained: weights for a model given by name (see ``create_model``).
        optimize: run the model through ``posezoo.optimize_for_inference`` (a dict: its keyword
            arguments) when this posezoo has it; otherwise a warning and the eager model.

    Work reused across frames: the normalised input of every frame is computed once and kept in
    a ring buffer of one window; for RTPCA / MixSTE the per-frame stage
    (:meth:`~posezoo.models.mixste.MixSTE.frame_features`: joint embedding and the *first* spatial
    block; the later spatial blocks follow temporal blocks, so they depend on the whole window
    and are recomputed), for Uplift and Upsample the whole spatial transformer
    (:meth:`~posezoo.models.uplift_upsample.UpliftUpsample.frame_tokens`) is computed once per
    frame. Each push then runs one window (two with ``flip_tta``) through the rest of the model.

    Poses come back as ``(frame_index, pose)`` with ``pose`` a float32 numpy array ``(J, 3)``
    (``(17, 3)`` for H36M-17), root-relative metres in the camera frame, as :func:`posezoo.lift`.
    """

    def __init__(
        self,
        model: ModelArg,
        *,
        latency: int,
        flip_tta: bool = False,
        image_size: Optional[tuple[float, float]] = None,
        layout: Union[str, Skeleton] = "h36m",
        min_confidence: float = 0.0,
        input_stride: int = 1,
        device: Union[str, torch.device, None] = None,
        pretrained: Union[bool, str] = True,
        optimize: Union[bool, dict[str, Any]] = False,
    ) -> None:
        net, from_name = _load_model(model, pretrained)
        if hasattr(net, "sample_interval") and not hasattr(net, "output_stride"):
            raise ValueError(f"{type(net).__name__} is a refinement model (has sample_interval), not a lifter")
        window = getattr(net, "num_frames", None)
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"{type(net).__name__} has no fixed window (num_frames); streaming needs one")
        self.window = window
        self.latency = check_int("latency", latency, 0, maximum=window - 1, numpy_ok=True)
        self.flip_tta = check_bool("flip_tta", flip_tta)
        self.min_confidence = check_float("min_confidence", min_confidence)
        self.image_size = image_size
        if image_size is not None:
            _normalise_2d(torch.zeros(1, 1, 2), image_size, "image_size check")  # validates (w, h) now
        self.layout = get_skeleton(layout)
        conversion = self.layout.name != "h36m" and (self.layout.name, "h36m") in list_conversions()
        self.skeleton = get_skeleton("h36m") if conversion else self.layout
        joints = getattr(net, "num_joints", None)
        if joints is not None and joints != self.skeleton.num_joints:
            raise ValueError(
                f"the model expects {joints} joints, the stream has {self.skeleton.num_joints} "
                f"({self.skeleton.name} layout)"
            )
        self.device = _checked_device(device, net, from_name, [])
        net.to(self.device)
        self.model = net
        self._dtype = _model_dtype(net)
        runner = self._optimized(net, optimize)
        to_model, from_model = _joint_order_adapters(net, self.skeleton)
        common = dict(
            skel=self.skeleton, flip_tta=self.flip_tta, latency=self.latency, to_model=to_model, from_model=from_model
        )
        input_stride = check_int("input_stride", input_stride, numpy_ok=True)
        if hasattr(net, "output_stride"):
            s_out = int(net.output_stride)
            s_in, every = _uplift_input_stride(net, input_stride)
            if window * s_out < s_in:
                raise ValueError(f"a window of {window} tokens at s_out={s_out} can miss every keyframe at s_in={s_in}")
            if self.latency != window - 1 - window // 2 and getattr(net, "full_head", True) is None:
                raise ValueError(
                    f"this model has no full-sequence head: only latency={window - 1 - window // 2} "
                    "(the central token) is available"
                )
            self._engine: Any = UpliftEngine(runner, window, s_out, s_in, every, input_stride, **common)
        else:
            if input_stride != 1:
                raise ValueError(f"input_stride={input_stride} needs an Uplift-and-Upsample model (with output_stride)")
            self._engine = LifterEngine(runner, window, **common)
        self._input_stride = input_stride
        self.reset()

    @staticmethod
    def _optimized(net: torch.nn.Module, optimize: Union[bool, dict[str, Any]]) -> torch.nn.Module:
        if not isinstance(optimize, (bool, dict)):
            raise TypeError(
                f"optimize must be a bool or a dict of optimize_for_inference arguments, got {type(optimize).__name__}"
            )
        if not optimize:
            return net
        import posezoo

        optimizer = getattr(posezoo, "optimize_for_inference", None)
        if optimizer is None:
            warnings.warn(
                "optimize= has no effect: this version of posezoo has no optimize_for_inference",
                UserWarning,
                stacklevel=3,
            )
            return net
        return optimizer(net, **(optimize if isinstance(optimize, dict) else {}))

    # -- stream ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the stream: the next push is frame 0 again (the model and settings stay)."""
        self._engine.reset()
        self._next = 0  # next output frame
        self._last = torch.zeros(self.skeleton.num_joints, 2, dtype=torch.float64)
        self._seen = torch.zeros(self.skeleton.num_joints, dtype=torch.bool)
        self._closed = False

    @property
    def frames_pushed(self) -> int:
        """Number of frames (keyframes for Uplift and Upsample) pushed since the start or :meth:`reset`."""
        return self._engine.frames_in // self._input_stride

    @property
    def frames_returned(self) -> int:
        """Number of output frames returned so far (the next returned frame has this index)."""
        return self._next

    def push(self, frame: ArrayOrTensor, confidence: Optional[ArrayOrTensor] = None) -> list[FramePose]:
        """Add one frame of 2D keypoints.

        Args:
            frame: ``(J, 2)`` keypoints of one frame (pixels with ``image_size``, else normalised),
                in the stream's ``layout``.
            confidence: optional ``(J,)`` scores; ``<= min_confidence`` marks a keypoint missing.

        Returns:
            ``[(frame_index, pose (J, 3) float32), ...]`` for every frame that became final, in
            order (often one; none while the first ``latency`` frames arrive).
        """
        if self._closed:
            raise RuntimeError("this stream was flushed; call reset() to start a new one")
        x = self._prepare(frame, confidence)
        with _inference(self.model, self.device, False):
            self._engine.add(x.to(device=self.device, dtype=self._dtype))
            return self._emit(final=False)

    def flush(self) -> list[FramePose]:
        """End the stream: the remaining frames, with the last frame (keyframe) repeated as padding.

        After a flush, :meth:`push` raises until :meth:`reset`."""
        if self._closed:
            return []
        self._closed = True
        if self._engine.frames_in == 0:
            return []
        with _inference(self.model, self.device, False):
            return self._emit(final=True)

    def _emit(self, final: bool) -> list[FramePose]:
        frames = self._engine.ready(self._next, final)
        if not frames:
            return []
        poses = self._engine.compute(frames, final)
        self._next = frames[-1] + 1
        return [(f, poses[f].detach().to("cpu", torch.float32).numpy()) for f in frames]

    def _prepare(self, frame: ArrayOrTensor, confidence: Optional[ArrayOrTensor]) -> torch.Tensor:
        """Validate, convert the layout, fill missing keypoints causally, normalise: ``(J, 2)`` float64."""
        for name, value, ndim in (("frame", frame, 2), ("confidence", confidence, 1)):
            if value is None and name == "confidence":
                continue
            if not isinstance(value, (np.ndarray, torch.Tensor)):
                raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(value).__name__}")
            if value.ndim != ndim:
                want = "(J, 2)" if ndim == 2 else "(J,)"
                raise ValueError(f"{name} must have shape {want} (one frame), got {tuple(value.shape)}")
        conf = None if confidence is None else confidence[None]
        x, _, missing, _ = _convert_2d(frame[None], conf, "frame", self.layout, self.min_confidence)
        x, missing = x[0], missing[0]
        if missing.any():
            x = torch.where((missing & self._seen)[:, None], self._last, x)  # hold the last seen position
            known = ~missing | self._seen
            if not known.any():
                raise ValueError(
                    "the frame has no confident keypoint and none was seen before; "
                    "push frames once a person is detected"
                )
            x = torch.where(known[:, None], x, x[known].mean(0))
        self._last = torch.where(missing[:, None], self._last, x)
        self._seen |= ~missing
        return _normalise_2d(x, self.image_size, "frame", stacklevel=4)

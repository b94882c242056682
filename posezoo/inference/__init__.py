"""Inference on sequences of any length: :func:`lift` (2D -> 3D), :func:`refine` (MixSynthFormer)
and :func:`root_trajectory` (where the person is in the camera frame); :func:`optimize_for_inference`
makes a faster inference-only copy of a model (``docs/speed.md``).

Both take numpy arrays or torch tensors and return the same kind on the same
device, run the model under ``torch.inference_mode`` (and autocast on CUDA),
cut the sequence into the model's windows, batch them and stitch the outputs
back to exactly the input length. See ``docs/data_inference.md``.
"""

from .lift import lift
from .optimize import OptimizedModel, optimize_for_inference
from .refine import refine
from .root_trajectory import Intrinsics, default_intrinsics, root_trajectory
from .streaming import StreamingLifter

__all__ = [
    "lift",
    "refine",
    "root_trajectory",
    "Intrinsics",
    "default_intrinsics",
    "StreamingLifter",
    "optimize_for_inference",
    "OptimizedModel",
]

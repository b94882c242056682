"""posezoo: a PyTorch model zoo for video 3D human pose estimation.

Public API re-exports only; see the docs for each sub-module.
"""

__version__ = "0.1.0.dev0"

from . import data, export, io, losses, metrics, skeleton
from ._validation import Limits, limits
from .convert import from_official
from .inference import StreamingLifter, lift, optimize_for_inference, refine, root_trajectory
from .models import (
    PoseModel,
    WeightsError,
    create_model,
    from_pretrained,
    list_families,
    list_models,
    load_weights,
    model_info,
    register_model,
    save_pretrained,
)
from .utils import count_flops

__all__ = [
    "__version__",
    "data",
    "export",
    "io",
    "skeleton",
    "losses",
    "metrics",
    "from_official",
    "PoseModel",
    "WeightsError",
    "create_model",
    "from_pretrained",
    "list_families",
    "list_models",
    "load_weights",
    "model_info",
    "register_model",
    "save_pretrained",
    "count_flops",
    "Limits",
    "limits",
    "lift",
    "optimize_for_inference",
    "refine",
    "root_trajectory",
    "StreamingLifter",
]

"""posezoo: a PyTorch model zoo for video 3D human pose estimation.

Public API re-exports only; see the docs for each sub-module.
"""

__version__ = "0.1.0.dev0"

from . import data, io, losses, metrics, skeleton
from ._validation import Limits, limits
from .convert import from_official
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
from .inference import lift, optimize_for_inference, refine, root_trajectory
from .utils import count_flops

__all__ = [
    "__version__",
    "data",
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
]

"""Model registry, builder and the model families.

Importing this package registers every family's variants.
"""

from ._base import PoseModel
from ._builder import create_model, from_pretrained, load_weights, save_pretrained
from ._registry import (
    ModelEntry,
    WeightsMeta,
    count_parameters,
    get_model_entry,
    list_families,
    list_models,
    model_info,
    register_model,
)
from ._weights import LoadResult, WeightsError, load_state_dict_checked

# Families register their variants on import (one line each).
from . import mixsynthformer, mixste, rtpca, uplift_upsample  # noqa: E402,F401

__all__ = [
    "PoseModel",
    "create_model",
    "from_pretrained",
    "load_weights",
    "save_pretrained",
    "ModelEntry",
    "WeightsMeta",
    "count_parameters",
    "get_model_entry",
    "list_families",
    "list_models",
    "model_info",
    "register_model",
    "LoadResult",
    "WeightsError",
    "load_state_dict_checked",
]

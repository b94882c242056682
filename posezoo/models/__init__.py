"""Model registry, builder and the model families.

Importing this package registers every family's variants, then attaches the
weights bundled in ``posezoo/weights/<name>/<tag>/`` (see ``_bundled``).
"""

# Families register their variants on import (one line each).
from . import mixste, mixsynthformer, rtpca, uplift_upsample, uplift_upsample_variants  # noqa: E402,F401
from ._base import PoseModel
from ._builder import create_model, from_pretrained, load_weights, save_pretrained

# posezoo's own weights (posezoo/weights/<name>/<tag>/), attached once every family is registered.
from ._bundled import bundle_weights, discover_bundled_weights
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
from ._resample import resample_temporal_embeddings
from ._weights import LoadResult, WeightsError, load_state_dict_checked

discover_bundled_weights()

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
    "resample_temporal_embeddings",
    "bundle_weights",
    "discover_bundled_weights",
]

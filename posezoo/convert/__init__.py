"""Official checkpoint -> posezoo conversion, one module per family."""

from ._official import (
    OfficialConversion,
    convert_official,
    from_official,
    is_official_checkpoint,
    list_converters,
    register_converter,
)
from ._safe_load import UnsafeCheckpointError, load_pickled_checkpoint, strip_prefix

# Families register their converters on import (one line each).
from . import mixsynthformer, rtpca, uplift_upsample  # noqa: E402,F401

__all__ = [
    "OfficialConversion",
    "convert_official",
    "from_official",
    "is_official_checkpoint",
    "list_converters",
    "register_converter",
    "load_pickled_checkpoint",
    "strip_prefix",
    "UnsafeCheckpointError",
]

"""Official checkpoint -> posezoo conversion, one module per family."""

from ..models._official_hook import OfficialLoader, register_official_loader  # noqa: E402

# Families register their converters on import (one line each).
from . import mixsynthformer, rtpca, uplift_upsample  # noqa: E402,F401
from ._official import (
    OfficialConversion,
    convert_official,
    converter_accepts_model_config,  # noqa: E402
    from_official,
    is_official_checkpoint,
    list_converters,
    register_converter,
)
from ._safe_load import UnsafeCheckpointError, load_pickled_checkpoint, strip_prefix

# The builder (models/) never imports this package: it calls what is registered here.
register_official_loader(
    OfficialLoader(
        is_official=is_official_checkpoint,
        convert=convert_official,
        accepts_model_config=converter_accepts_model_config,
    )
)

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

"""One recipe per family: the paper's objective, defaults and data pipeline for the training engine.

- :class:`LiftingRecipe` (``"rtpca"``): RTPCA and MixSTE, RTPCALoss (WMPJPE + TCLoss + MPJVE).
- :class:`UpliftUpsampleRecipe` (``"uplift_upsample"``): multi-stride masks, sequence + centre MPJPE.
- :class:`MixSynthRecipe` (``"mixsynthformer"``): recover + refine from noisy keyframes, L1.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .base import Recipe, WindowMetrics, training_source
from .mixsynthformer import MixSynthRecipe
from .rtpca import LiftingRecipe
from .uplift_upsample import UpliftUpsampleRecipe

__all__ = [
    "Recipe",
    "WindowMetrics",
    "training_source",
    "LiftingRecipe",
    "UpliftUpsampleRecipe",
    "MixSynthRecipe",
    "RECIPES",
    "recipe_for",
]

RECIPES: dict[str, type[Recipe]] = {
    "rtpca": LiftingRecipe,
    "mixste": LiftingRecipe,
    "uplift_upsample": UpliftUpsampleRecipe,
    "mixsynthformer": MixSynthRecipe,
}


def recipe_for(family: str, model: nn.Module, **options: Any) -> Recipe:
    """The recipe of a model family (``posezoo.get_model_entry(name).family``)."""
    if family not in RECIPES:
        raise ValueError(f"no training recipe for family {family!r}; recipes: {', '.join(sorted(RECIPES))}")
    return RECIPES[family](model, **options)

"""Training losses of the field, as ``nn.Module`` classes and functions.

- :class:`MPJPELoss` / :func:`mpjpe_loss`: mean joint distance (the Uplift-and-Upsample terms).
- :class:`WMPJPE` / :func:`wmpjpe_loss`: weighted MPJPE (RTPCA, MixSTE).
- :class:`TCLoss` / :func:`tc_loss`: temporal consistency of the prediction (RTPCA, MixSTE).
- :class:`MPJVE` / :func:`mpjve_loss`: velocity error (RTPCA, MixSTE).
- :class:`RTPCALoss` / :func:`rtpca_loss`: the RTPCA/MixSTE composite.
- :class:`UpliftUpsampleLoss` / :func:`uplift_upsample_loss`: sequence + centre MPJPE (Uplift and Upsample).
- :class:`PoseL1Loss` / :func:`pose_l1_loss`: L1 over the recovered window (MixSynthFormer).
- :class:`FutureMPJPE` / :func:`future_mpjpe_loss`: MPJPE on future frames (motion prediction).

All take numpy arrays or tensors ``(..., J, C)`` (sequences ``(..., T, J, C)``)
and a ``reduction`` of ``"mean"``, ``"sum"`` or ``"none"``; see ``docs/losses_metrics.md``.
"""

from .composite import RTPCALoss, UpliftUpsampleLoss, rtpca_loss, uplift_upsample_loss
from .position import (
    WMPJPE,
    FutureMPJPE,
    MPJPELoss,
    PoseL1Loss,
    future_mpjpe_loss,
    mpjpe_loss,
    pose_l1_loss,
    wmpjpe_loss,
)
from .temporal import MPJVE, TCLoss, mpjve_loss, tc_loss

__all__ = [
    "MPJPELoss",
    "WMPJPE",
    "TCLoss",
    "MPJVE",
    "RTPCALoss",
    "UpliftUpsampleLoss",
    "PoseL1Loss",
    "FutureMPJPE",
    "mpjpe_loss",
    "wmpjpe_loss",
    "tc_loss",
    "mpjve_loss",
    "rtpca_loss",
    "uplift_upsample_loss",
    "pose_l1_loss",
    "future_mpjpe_loss",
]

"""Data conventions: stride masks, cameras, datasets, windows and samples."""

from .bundled import Sample, list_samples, load_sample
from .camera import (
    Camera,
    VirtualCameraSampler,
    camera_to_world,
    image_coordinates,
    normalize_screen_coordinates,
    project_points,
    project_to_2d,
    world_to_camera,
)
from .cmu import CMU_SPLITS, cmu_mocap, cmu_mocap_path
from .keyframe_windows import (
    keyframe_frame_indices,
    merge_windows,
    pad_edge,
    padded_length,
    sliding_windows,
    window_starts,
    window_stride,
)
from .mocap import DetectorNoise, VirtualCameraPairs, load_clip_meta, load_clips
from .stride_masks import (
    random_shift,
    receptive_field,
    sample_stride_masks,
    stride_mask,
    token_offsets,
)
from .windows import (
    MixSynthWindows,
    PoseSequences,
    Seq2SeqWindows,
    UpliftUpsampleWindows,
    WithinBatchFlip,
    evaluation_windows,
    flip_sample,
    reassemble,
    training_window_starts,
)

__all__ = [
    "keyframe_frame_indices",
    "merge_windows",
    "pad_edge",
    "padded_length",
    "sliding_windows",
    "window_starts",
    "window_stride",
    "random_shift",
    "receptive_field",
    "sample_stride_masks",
    "stride_mask",
    "token_offsets",
    # cameras
    "Camera",
    "VirtualCameraSampler",
    "camera_to_world",
    "image_coordinates",
    "normalize_screen_coordinates",
    "project_points",
    "project_to_2d",
    "world_to_camera",
    # motion capture and samples
    "DetectorNoise",
    "VirtualCameraPairs",
    "load_clip_meta",
    "load_clips",
    "CMU_SPLITS",
    "cmu_mocap",
    "cmu_mocap_path",
    "Sample",
    "list_samples",
    "load_sample",
    # windows and datasets
    "MixSynthWindows",
    "PoseSequences",
    "Seq2SeqWindows",
    "UpliftUpsampleWindows",
    "WithinBatchFlip",
    "evaluation_windows",
    "flip_sample",
    "reassemble",
    "training_window_starts",
]

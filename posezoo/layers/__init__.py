"""Reusable building blocks; every layer works on its own, outside posezoo's models."""

from .attention import Attention, attend, key_mask_to_bias, merge_heads, split_heads
from .block import TransformerBlock, make_drop_path
from .duta import DUTATemporalEncoder, UpsamplingTokens, linear_drop_path_rates
from .keyframe_interp import KeyframeInterpolation, interpolation_matrix
from .mlp import Mlp, get_activation
from .pos_embed import LearnedPositionalEmbedding, resize_positional_embedding
from .ste import SpatialBlock, TemporalBlock
from .strided import StridedConvMlp, StridedTransformerBlock, strided_output_length
from .synth import MixSynthAttention, SELayer, SynthAttention
from .synth_encoder import MixSynthEncoder, MixSynthEncoderLayer
from .tpca import TPCA, pyramid_lengths
from .xlr import KeyValue, XLRAttention, XLRBlock, XLROutput, pool_key_value

__all__ = [
    "Attention",
    "attend",
    "key_mask_to_bias",
    "merge_heads",
    "split_heads",
    "TransformerBlock",
    "make_drop_path",
    "DUTATemporalEncoder",
    "UpsamplingTokens",
    "linear_drop_path_rates",
    "Mlp",
    "get_activation",
    "LearnedPositionalEmbedding",
    "resize_positional_embedding",
    "KeyframeInterpolation",
    "interpolation_matrix",
    "SELayer",
    "SynthAttention",
    "MixSynthAttention",
    "MixSynthEncoderLayer",
    "MixSynthEncoder",
    "StridedConvMlp",
    "StridedTransformerBlock",
    "strided_output_length",
    "SpatialBlock",
    "TemporalBlock",
    "TPCA",
    "pyramid_lengths",
    "KeyValue",
    "XLRAttention",
    "XLRBlock",
    "XLROutput",
    "pool_key_value",
]

"""Reusable building blocks; every layer works on its own, outside posezoo's models."""

from .attention import Attention, attend, key_mask_to_bias, merge_heads, split_heads
from .block import TransformerBlock, make_drop_path
from .mlp import Mlp, get_activation
from .pos_embed import LearnedPositionalEmbedding, resize_positional_embedding
from .ste import SpatialBlock, TemporalBlock
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
    "Mlp",
    "get_activation",
    "LearnedPositionalEmbedding",
    "resize_positional_embedding",
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

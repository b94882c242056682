"""Reading Keras ``save_weights`` HDF5 files defensively (official Uplift-and-Upsample weights).

A weights file must only ever yield its own bytes: HDF5 can point a dataset at
another file (external storage, virtual datasets) or link to other groups and
files (soft and external links), and a ``weight_names`` entry can name any
path. All of these are refused here; see ``docs/security.md``.
"""

from __future__ import annotations

import os
from typing import Any, Union

import numpy as np

from .._validation import check_expansion
from ..models._weights import WeightsError

__all__ = ["read_keras_h5"]

PathLike = Union[str, os.PathLike]


def _decode(names: Any) -> list[str]:
    if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
        names = [names]
    return [n.decode("utf8", "replace") if isinstance(n, bytes) else str(n) for n in names]


def _hard_link_path(group: Any, name: str, where: str, h5py: Any) -> Any:
    """Follow ``name`` (relative, ``a/b/c``) from ``group`` through hard links only.

    Soft links, external links and absolute or escaping names are refused:
    they could make a weights file read another group or another file.
    """
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise WeightsError(f"{where}: name {name!r} is not a relative path inside its group; refusing to follow it")
    node = group
    for part in parts:
        link = node.get(part, default=None, getlink=True)
        if link is None:
            raise WeightsError(f"{where}: {name!r} does not exist in the file")
        if not isinstance(link, h5py.HardLink):
            kind = type(link).__name__
            raise WeightsError(
                f"{where}: {name!r} is reached through a {kind} (HDF5 soft or external link); "
                "refusing to follow links out of the weights file"
            )
        node = node[part]
    return node


def _read_dataset(node: Any, where: str, h5py: Any, budget: list[int]) -> np.ndarray:
    """A weight array, refusing external storage, virtual datasets, non-floating data and bombs."""
    if not isinstance(node, h5py.Dataset):
        raise WeightsError(f"{where}: expected a dataset of weights, found a {type(node).__name__}")
    if node.external:
        raise WeightsError(
            f"{where}: the dataset uses HDF5 external storage (its bytes live in {node.external[0][0]!r}); "
            "refusing to read data from outside the weights file"
        )
    if node.is_virtual:
        raise WeightsError(f"{where}: the dataset is an HDF5 virtual dataset mapping other files; refusing it")
    if node.dtype.kind != "f":
        raise WeightsError(f"{where}: weights must be floating point, the dataset holds {node.dtype}")
    expanded = int(np.prod(node.shape, dtype=np.float64)) * node.dtype.itemsize if node.shape else node.dtype.itemsize
    try:
        stored = int(node.id.get_storage_size())
    except Exception:  # noqa: BLE001 - storage size unavailable: count it as compressed to nothing
        stored = 0
    budget[0] = check_expansion(where, stored, expanded, budget[0])
    return np.asarray(node[()], dtype=np.float32)


def read_keras_h5(path: PathLike) -> tuple[list[str], dict[str, list[tuple[str, np.ndarray]]], dict[str, str]]:
    """Read a Keras ``save_weights`` HDF5 file.

    Returns ``(layer_names, groups, attrs)``: ``groups`` maps each top-level
    group to its ``[(weight name, array), ...]`` in ``weight_names`` order.
    Full-model files (``model.save``) are read from their ``model_weights`` group.

    Untrusted files are read defensively: only hard links inside the file are
    followed (soft links, external links and names outside a layer's group are
    refused), datasets with external storage or virtual mappings are refused,
    weights must be floating point, and the expanded size is bounded by
    ``posezoo.limits``. Any problem raises :class:`~posezoo.WeightsError`.
    """
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "reading official Uplift-and-Upsample .h5 weights needs h5py: pip install posezoo[h5]"
        ) from None
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise WeightsError(f"{path}: not a readable HDF5 file (corrupt, truncated or another format?): {exc}") from None
    budget = [0]
    with f:
        try:
            return _read_keras_groups(f, path, h5py, budget)
        except WeightsError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError, AttributeError, IndexError) as exc:
            raise WeightsError(f"{path}: unreadable Keras weights file: {type(exc).__name__}: {exc}") from None


def _read_keras_groups(f: Any, path: PathLike, h5py: Any, budget: list[int]):
    root = f
    if "layer_names" not in f.attrs and f.get("model_weights", default=None, getlink=True) is not None:
        root = _hard_link_path(f, "model_weights", str(path), h5py)
    if "layer_names" in root.attrs:
        layer_names = _decode(root.attrs["layer_names"])
    else:
        layer_names = list(root.keys())
    if len(layer_names) > 10_000:
        raise WeightsError(f"{path}: {len(layer_names)} layer groups is not a Keras weights file of this family")
    missing = [g for g in layer_names if root.get(g, default=None, getlink=True) is None]
    if missing:
        raise ValueError(f"{path}: layer_names lists groups that are missing from the file: {missing}")
    groups: dict[str, list[tuple[str, np.ndarray]]] = {}
    for g in layer_names:
        group = _hard_link_path(root, g, f"{path}: layer {g!r}", h5py)
        if not isinstance(group, h5py.Group) or "weight_names" not in group.attrs:
            raise ValueError(f"{path}: group {g!r} has no 'weight_names' attribute; not a Keras weights file")
        names = _decode(group.attrs["weight_names"])
        groups[g] = [
            (n, _read_dataset(_hard_link_path(group, n, f"{path}: {g}/{n}", h5py), f"{path}: {g}/{n}", h5py, budget))
            for n in names
        ]
    attrs = {k: _decode(root.attrs[k])[0] for k in ("backend", "keras_version") if k in root.attrs}
    return layer_names, groups, attrs

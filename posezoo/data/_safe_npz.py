"""Read ``.npz`` files that hold pickled object arrays without executing pickled code.

VideoPose3D's ``data_3d_h36m.npz`` / ``data_2d_h36m_*.npz`` store nested dicts
as 0-d object arrays, which ``np.load`` only opens with ``allow_pickle=True``
(arbitrary code execution for an untrusted file). Here the pickle stream is read
by an unpickler that resolves only the few globals needed to rebuild numpy
arrays, dtypes and scalars; any other global raises ``pickle.UnpicklingError``.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
import zlib
from typing import Any, Union

import numpy as np

from .._validation import check_expansion, limits

__all__ = ["load_npz_safe", "load_npy_safe"]

_RECONSTRUCT = np.zeros(1).__reduce__()[0]  # numpy's array reconstructor, whatever its module path
_SCALAR = np.float32(0).__reduce__()[0]

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only numpy arrays, dtypes, scalars and "
                "plain containers may appear in a data file"
            ) from None


def _read_member(raw: bytes, name: str, allow_objects: bool) -> Any:
    fp = io.BytesIO(raw)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"{name}: unsupported .npy format version {version}")
    if dtype.hasobject:
        if not allow_objects:
            raise ValueError(f"{name}: holds Python objects (a pickle); expected plain numeric arrays")
        array = _NumpyOnlyUnpickler(fp).load()
        if not isinstance(array, np.ndarray):
            raise ValueError(f"{name}: expected a pickled numpy array, got {type(array).__name__}")
        return array
    declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    available = len(raw) - fp.tell()
    if declared > available:  # the header may claim any shape: check it against the bytes present
        raise ValueError(f"{name}: header declares {shape} {dtype} ({declared:,} bytes) but only {available:,} follow")
    fp.seek(0)
    return np.lib.format.read_array(fp, allow_pickle=False)


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Member bytes, never more than the size its header declares (already checked against the limits)."""
    with zf.open(info) as fh:
        data = fh.read(info.file_size + 1)
    if len(data) > info.file_size:  # pragma: no cover - zipfile stops at the declared size
        raise ValueError(f"member {info.filename!r} is longer than declared")
    return data


def load_npz_safe(path: Union[str, os.PathLike], *, allow_objects: bool = True) -> dict[str, Any]:
    """All arrays of an ``.npz`` file; 0-d object arrays are unwrapped to their object.

    Pickled object arrays are rebuilt by an unpickler that allows only numpy
    arrays, dtypes, scalars and plain containers (``allow_objects=False``
    refuses them altogether). Members expanding beyond
    ``posezoo.limits.max_decompressed_bytes`` (in total) or by more than
    ``posezoo.limits.max_compression_ratio`` are refused before they are
    decompressed. Any unreadable or hostile file raises ``ValueError`` naming
    the file (``FileNotFoundError`` when it does not exist).

    Returns:
        ``{key: value}`` with ``value`` an ``np.ndarray`` or, for a 0-d object
        array (a pickled dict), the dict itself.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path}")
    out: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = [i for i in zf.infolist() if i.filename.endswith(".npy")]
            total = 0
            for info in members:
                total = check_expansion(f"{path}: member {info.filename!r}", info.compress_size, info.file_size, total)
            for info in members:
                key = info.filename[: -len(".npy")]
                value = _read_member(_read_limited(zf, info), f"{path}:{info.filename}", allow_objects)
                if isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0:
                    value = value.item()
                out[key] = value
    except ValueError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        RecursionError,
        MemoryError,
        NotImplementedError,
        pickle.UnpicklingError,
        RuntimeError,
        struct.error,
        zlib.error,
    ) as exc:
        raise ValueError(
            f"{path}: not a readable .npz file (corrupt, truncated or hostile?): {type(exc).__name__}: {exc}"
        ) from None
    return out


def load_npy_safe(path: Union[str, os.PathLike]) -> np.ndarray:
    """The plain numeric array of a ``.npy`` file, never unpickling anything.

    Files larger than ``posezoo.limits.max_decompressed_bytes``, headers that
    declare more data than the file holds, and object (pickled) arrays raise
    ``ValueError`` naming the file (``FileNotFoundError`` when it does not exist).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path}")
    size = os.path.getsize(path)
    if size > limits.max_decompressed_bytes:
        raise ValueError(
            f"{path}: {size:,} bytes is more than {limits.max_decompressed_bytes:,} "
            "(posezoo.limits.max_decompressed_bytes); refusing to read it. Raise the limit if the file "
            "is trusted"
        )
    try:
        with open(path, "rb") as fh:
            return _read_member(fh.read(), str(path), allow_objects=False)
    except ValueError as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(f"{path}: not a readable .npy file: {exc}") from None
    except (OSError, EOFError, TypeError, MemoryError, struct.error) as exc:
        raise ValueError(
            f"{path}: not a readable .npy file (corrupt or truncated?): {type(exc).__name__}: {exc}"
        ) from None

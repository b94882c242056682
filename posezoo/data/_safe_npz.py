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
import zipfile
from typing import Any, Union

import numpy as np

__all__ = ["load_npz_safe"]

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


def _read_member(raw: bytes, name: str) -> Any:
    fp = io.BytesIO(raw)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"{name}: unsupported .npy format version {version}")
    if dtype.hasobject:
        array = _NumpyOnlyUnpickler(fp).load()
        if not isinstance(array, np.ndarray):
            raise ValueError(f"{name}: expected a pickled numpy array, got {type(array).__name__}")
        return array
    fp.seek(0)
    return np.lib.format.read_array(fp, allow_pickle=False)


def load_npz_safe(path: Union[str, os.PathLike]) -> dict[str, Any]:
    """All arrays of an ``.npz`` file; 0-d object arrays are unwrapped to their object.

    Returns:
        ``{key: value}`` with ``value`` an ``np.ndarray`` or, for a 0-d object
        array (a pickled dict), the dict itself.
    """
    out: dict[str, Any] = {}
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            if not member.endswith(".npy"):
                continue
            key = member[: -len(".npy")]
            value = _read_member(zf.read(member), f"{path}:{member}")
            if isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0:
                value = value.item()
            out[key] = value
    return out

"""Loading state dicts strictly, verifying files, and reaching the Hugging Face Hub."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

import torch
from torch import nn

__all__ = [
    "LoadResult",
    "WeightsError",
    "load_state_dict_checked",
    "sha256_file",
    "verify_sha256",
    "hub_download",
]

_LIST_LIMIT = 10


class WeightsError(RuntimeError):
    """A weight file does not fit the model, or fails verification."""


@dataclass
class LoadResult:
    """Keys that did not load cleanly (all empty after a perfect load)."""

    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    mismatched_keys: list[tuple[str, tuple, tuple]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing_keys or self.unexpected_keys or self.mismatched_keys)

    def describe(self) -> str:
        def fmt(items: list[str]) -> str:
            shown = ", ".join(items[:_LIST_LIMIT])
            more = len(items) - _LIST_LIMIT
            return shown + (f", ... (+{more} more)" if more > 0 else "")

        parts = []
        if self.missing_keys:
            parts.append(f"missing keys ({len(self.missing_keys)}): {fmt(self.missing_keys)}")
        if self.unexpected_keys:
            parts.append(f"unexpected keys ({len(self.unexpected_keys)}): {fmt(self.unexpected_keys)}")
        if self.mismatched_keys:
            mm = [f"{k} (file {tuple(a)} vs model {tuple(b)})" for k, a, b in self.mismatched_keys]
            parts.append(f"shape-mismatched keys ({len(mm)}): {fmt(mm)}")
        return "; ".join(parts)


def load_state_dict_checked(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True
) -> LoadResult:
    """Load ``state_dict`` into ``model``, reporting every key that does not fit.

    With ``strict=True`` (default) any missing, unexpected or shape-mismatched
    key raises :class:`WeightsError` naming them (long lists truncated), and
    the model is left unchanged. With ``strict=False`` the matching tensors
    are loaded and the :class:`LoadResult` is returned.
    """
    own = model.state_dict()
    result = LoadResult()
    loadable: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"state dict entry {key!r} is a {type(value).__name__}, not a tensor")
        if key not in own:
            result.unexpected_keys.append(key)
        elif tuple(value.shape) != tuple(own[key].shape):
            result.mismatched_keys.append((key, tuple(value.shape), tuple(own[key].shape)))
        else:
            loadable[key] = value
    result.missing_keys = [k for k in own if k not in state_dict]
    if strict and not result.ok:
        raise WeightsError(f"weights do not fit {type(model).__name__}: {result.describe()}")
    model.load_state_dict(loadable, strict=False)
    return result


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`WeightsError` unless ``path`` hashes to ``expected``."""
    actual = sha256_file(path)
    if actual.lower() != expected.lower():
        raise WeightsError(
            f"sha256 mismatch for {path}: expected {expected}, got {actual}. "
            "The file is corrupt or not the registered one; delete it and obtain it again."
        )


def _offline_from_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_download(
    repo_id: str,
    filename: str,
    *,
    revision: Optional[str] = None,
    cache_dir: Optional[str | os.PathLike] = None,
    local_files_only: Optional[bool] = None,
) -> Path:
    """Fetch ``filename`` of Hub repo ``repo_id`` (or find it in the local cache).

    Offline mode is on when ``local_files_only=True`` or the environment sets
    ``HF_HUB_OFFLINE=1``; then only the local cache (``cache_dir`` or the
    default Hugging Face cache) is read. A file that is not available raises
    ``FileNotFoundError`` explaining how to obtain it.
    """
    from huggingface_hub import hf_hub_download

    offline = _offline_from_env() if local_files_only is None else local_files_only
    try:
        path = hf_hub_download(
            repo_id=repo_id,
            filename=filename,
            revision=revision,
            cache_dir=str(cache_dir) if cache_dir is not None else None,
            local_files_only=offline,
        )
    except Exception as exc:  # huggingface_hub raises several error types here
        where = f"cache {cache_dir}" if cache_dir else "the Hugging Face cache"
        how = (
            f"Download it once with network access: `huggingface-cli download {repo_id} {filename}`"
            + (f" --cache-dir {cache_dir}" if cache_dir else "")
            + ", or pass a local directory/file instead."
        )
        mode = " (offline mode is on)" if offline else ""
        raise FileNotFoundError(
            f"could not obtain {filename!r} of hf-hub:{repo_id}{mode} from {where}: "
            f"{type(exc).__name__}: {exc}. {how}"
        ) from exc
    return Path(path)

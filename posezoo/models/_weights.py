"""Loading state dicts strictly, verifying files, and reaching the Hugging Face Hub."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urlsplit

import torch
from torch import nn

__all__ = [
    "LoadResult",
    "WeightsError",
    "load_state_dict_checked",
    "sha256_file",
    "verify_sha256",
    "hub_download",
    "read_safetensors",
]

_LIST_LIMIT = 10


class WeightsError(ValueError):
    """A weight file is unreadable, does not fit the model, or fails verification.

    A ``ValueError`` subclass: ``except ValueError`` catches it together with
    posezoo's other bad-input errors. Messages name the file and what was expected.
    """


def _fmt(items: list[str]) -> str:
    shown = ", ".join(items[:_LIST_LIMIT])
    more = len(items) - _LIST_LIMIT
    return shown + (f", ... (+{more} more)" if more > 0 else "")


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
        fmt = _fmt
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
    if not isinstance(state_dict, Mapping):
        raise WeightsError(f"a state dict must be a mapping of names to tensors, got {type(state_dict).__name__}")
    own = model.state_dict()
    result = LoadResult()
    loadable: dict[str, torch.Tensor] = {}
    wrong_dtype: list[str] = []
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise WeightsError(f"state dict keys must be strings, got {type(key).__name__} {key!r}")
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"state dict entry {key!r} is a {type(value).__name__}, not a tensor")
        if key not in own:
            result.unexpected_keys.append(key)
        elif tuple(value.shape) != tuple(own[key].shape):
            result.mismatched_keys.append((key, tuple(value.shape), tuple(own[key].shape)))
        elif own[key].is_floating_point() and not value.is_floating_point():
            wrong_dtype.append(f"{key} ({value.dtype})")
        else:
            loadable[key] = value
    if wrong_dtype:  # never silently cast integer/bool/complex data into float weights
        raise WeightsError(
            f"weights for {type(model).__name__} hold non-floating tensors for floating parameters "
            f"({len(wrong_dtype)}): {_fmt(wrong_dtype)}"
        )
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


def read_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a ``.safetensors`` file on the CPU.

    A missing file raises ``FileNotFoundError``; anything that is not a
    readable safetensors file (corrupt, truncated, another format) raises
    :class:`WeightsError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises SafetensorError, OSError, ValueError, ... on bad files
        raise WeightsError(
            f"{path}: not a readable .safetensors file (corrupt, truncated or another format?): "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _offline_from_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


#: Seconds to wait for the Hub to answer before a download is declared impossible (no retries).
HUB_CONNECT_TIMEOUT_S = 3.0
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def _hub_endpoint() -> str:
    """The Hub endpoint, read from ``HF_ENDPOINT`` at call time (huggingface_hub reads it at import)."""
    env = os.environ.get("HF_ENDPOINT", "").strip()
    if env:
        return env.rstrip("/")
    from huggingface_hub import constants

    return constants.ENDPOINT


def _hub_unreachable(endpoint: str, timeout: float = HUB_CONNECT_TIMEOUT_S) -> Optional[str]:
    """Why ``endpoint`` cannot be reached (one TCP connection attempt, bounded in time), or None.

    Skipped (None) when a proxy is configured: the proxy decides what is reachable.
    """
    if any(os.environ.get(v) for v in _PROXY_VARS):
        return None
    parts = urlsplit(endpoint)
    host = parts.hostname
    if not host:
        return f"HF endpoint {endpoint!r} is not a URL"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        return f"HF endpoint {endpoint!r}: {exc}"
    outcome: dict[str, BaseException] = {}

    def probe() -> None:  # in a thread: name resolution has no timeout of its own
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=probe, daemon=True, name="posezoo-hub-probe")
    thread.start()
    thread.join(timeout + 1.0)
    if thread.is_alive():
        return f"the Hub at {endpoint} did not answer within {timeout:g} s"
    if "error" in outcome:
        return f"the Hub at {endpoint} is unreachable ({type(outcome['error']).__name__}: {outcome['error']})"
    return None


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
    default Hugging Face cache) is read. Otherwise one connection attempt to
    the Hub (``HF_ENDPOINT``, bounded by :data:`HUB_CONNECT_TIMEOUT_S`) decides
    whether to download; an unreachable Hub is treated as offline mode at once
    (no retries). A file that is not available raises ``FileNotFoundError``
    explaining how to obtain it.
    """
    from huggingface_hub import hf_hub_download

    offline = _offline_from_env() if local_files_only is None else local_files_only
    endpoint = _hub_endpoint()
    mode = " (offline mode is on)" if offline else ""
    if not offline:
        # fail fast without network: one bounded connection attempt instead of huggingface_hub's
        # retries with back-off (~25 s); the local cache is still used when the Hub is unreachable
        reason = _hub_unreachable(endpoint)
        if reason is not None:
            offline, mode = True, f" ({reason}; only the local cache was searched)"
    try:
        path = hf_hub_download(
            repo_id=repo_id,
            filename=filename,
            revision=revision,
            cache_dir=str(cache_dir) if cache_dir is not None else None,
            local_files_only=offline,
            endpoint=endpoint,
            etag_timeout=HUB_CONNECT_TIMEOUT_S * 3,
        )
    except Exception as exc:  # huggingface_hub raises several error types here
        where = f"cache {cache_dir}" if cache_dir else "the Hugging Face cache"
        how = (
            f"Download it once with network access: `huggingface-cli download {repo_id} {filename}`"
            + (f" --cache-dir {cache_dir}" if cache_dir else "")
            + ", or pass a local directory/file instead."
        )
        raise FileNotFoundError(
            f"could not obtain {filename!r} of hf-hub:{repo_id}{mode} from {where}: {type(exc).__name__}: {exc}. {how}"
        ) from exc
    return Path(path)

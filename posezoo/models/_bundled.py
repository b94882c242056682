"""posezoo's own weights, shipped inside the package: discovery, metadata and bundling.

Layout (one folder per model and weight tag)::

    posezoo/weights/<model name>/<tag>/model.safetensors
    posezoo/weights/<model name>/<tag>/meta.json

``meta.json`` holds the :class:`~posezoo.models.WeightsMeta` fields (``tag``,
``sha256``, ``license``, ``training_data``, ``metrics`` on the test split,
``input_spec``, ``description``), the ``model`` name, and ``extra``
provenance (training command, training config, seed, data, date, ...).

When :mod:`posezoo.models` is imported, :func:`discover_bundled_weights`
attaches every folder to its registered model as
``WeightsMeta(source="bundled:weights/<name>/<tag>/model.safetensors", ...)``;
the tag ``"cmu"`` becomes the model's default for ``pretrained=True``. The
sha256 is verified when the weights are loaded. A folder of an unregistered
model or with an incomplete ``meta.json`` is an error naming the folder.

:func:`bundle_weights` turns a ``save_pretrained`` directory (e.g. the best
checkpoint of a training run) into such a folder.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from ._registry import _MODEL_REGISTRY, WeightsMeta, _attach_weights, get_model_entry

__all__ = [
    "WEIGHTS_DIR",
    "DEFAULT_BUNDLED_TAG",
    "REQUIRED_META_FIELDS",
    "read_weights_meta",
    "discover_bundled_weights",
    "bundle_weights",
]

PathLike = Union[str, os.PathLike]
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = _PACKAGE_ROOT / "weights"
WEIGHTS_FILE = "model.safetensors"
META_FILE = "meta.json"
META_FORMAT = "posezoo-weights/1"
DEFAULT_BUNDLED_TAG = "cmu"
REQUIRED_META_FIELDS = (
    "model",
    "tag",
    "sha256",
    "license",
    "training_data",
    "metrics",
    "input_spec",
    "description",
)
_FIELD_TYPES: dict[str, type] = {
    "model": str,
    "tag": str,
    "sha256": str,
    "license": str,
    "training_data": str,
    "metrics": dict,
    "input_spec": dict,
    "description": str,
}
#: constructor kwargs that only matter in training (dropout, stochastic depth):
#: a run may differ from the registered variant in these and still be bundled.
TRAINING_ONLY_KWARGS = frozenset({"drop_rate", "attn_drop_rate", "drop_path_rate", "dropout"})
DEFAULT_LICENSE = "Apache-2.0"
CMU_TRAINING_DATA = (
    "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu; created with funding from NSF "
    "EIA-0196217), H36M-17 joints, datasets/cmu_mocap17 splits train + extra (subjects 1, 2, 5, 60, "
    "8-14), 2D from random virtual cameras; test split: subjects 6 and 7"
)
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_RUN_SUBDIRS = ("best", "final", "model")


def _source_of(file: Path) -> str:
    """``bundled:`` source string: package-relative inside posezoo/, else absolute."""
    file = file.resolve()
    try:
        return "bundled:" + file.relative_to(_PACKAGE_ROOT).as_posix()
    except ValueError:
        return "bundled:" + str(file)


def _check_metrics(metrics: Any, where: str) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise ValueError(f"{where}: metrics must be a dict of metric name -> number, got {type(metrics).__name__}")
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where}: metric {key!r} must be a finite number, got {value!r}")
        out[str(key)] = float(value)
    return out


def read_weights_meta(folder: PathLike) -> tuple[str, WeightsMeta]:
    """Validate one ``<root>/<model name>/<tag>/`` folder; returns ``(model name, WeightsMeta)``.

    Raises ``ValueError`` naming the folder when ``meta.json`` is missing or
    unreadable, lacks a required field (:data:`REQUIRED_META_FIELDS`), has a
    field of the wrong type, or disagrees with the folder names, and
    ``FileNotFoundError`` when ``model.safetensors`` is missing.
    """
    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise ValueError(f"bundled weights folder {folder} holds no {META_FILE}")
    try:
        raw = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"bundled weights folder {folder}: {META_FILE} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"bundled weights folder {folder}: {META_FILE} must hold a JSON object")
    missing = [k for k in REQUIRED_META_FIELDS if k not in raw]
    if missing:
        raise ValueError(
            f"bundled weights folder {folder}: {META_FILE} lacks the field(s) {', '.join(missing)} "
            f"(required: {', '.join(REQUIRED_META_FIELDS)})"
        )
    for key, kind in _FIELD_TYPES.items():
        if not isinstance(raw[key], kind):
            raise ValueError(
                f"bundled weights folder {folder}: {META_FILE} field {key!r} must be a {kind.__name__}, "
                f"got {type(raw[key]).__name__}"
            )
    if raw["model"] != folder.parent.name or raw["tag"] != folder.name:
        raise ValueError(
            f"bundled weights folder {folder}: {META_FILE} says model {raw['model']!r}, tag {raw['tag']!r}; "
            f"the folder must be <root>/{raw['model']}/{raw['tag']}/"
        )
    if not _SHA_RE.match(raw["sha256"]):
        raise ValueError(
            f"bundled weights folder {folder}: sha256 must be 64 lower-case hex digits, got {raw['sha256']!r}"
        )
    metrics = _check_metrics(raw["metrics"], f"bundled weights folder {folder}")
    extra = raw.get("extra", {})
    if not isinstance(extra, dict):
        raise ValueError(f"bundled weights folder {folder}: {META_FILE} field 'extra' must be a dict")
    weights_file = folder / WEIGHTS_FILE
    if not weights_file.is_file():
        raise FileNotFoundError(f"bundled weights folder {folder} holds {META_FILE} but no {WEIGHTS_FILE}")
    meta = WeightsMeta(
        tag=raw["tag"],
        source=_source_of(weights_file),
        sha256=raw["sha256"],
        license=raw["license"],
        training_data=raw["training_data"],
        metrics=metrics,
        input_spec=dict(raw["input_spec"]),
        description=raw["description"],
        extra=dict(extra),
    )
    return raw["model"], meta


def discover_bundled_weights(root: Optional[PathLike] = None, *, attach: bool = True) -> list[tuple[str, WeightsMeta]]:
    """Find every ``<root>/<model name>/<tag>/`` weights folder and attach it to its model.

    Args:
        root: the weights root (default :data:`WEIGHTS_DIR`, ``posezoo/weights``).
            Files directly under the root or a model folder (READMEs) and
            folders starting with ``.`` or ``_`` are ignored.
        attach: register the weights with their models (tag ``"cmu"`` becomes
            the default of ``pretrained=True``). Nothing is attached unless
            every folder is valid.

    Returns:
        ``[(model name, WeightsMeta), ...]`` sorted by folder.

    Raises:
        ValueError: a folder's ``meta.json`` is missing or incomplete, or its
            model name is not registered (the message names the folder).
    """
    root = WEIGHTS_DIR if root is None else Path(root)
    if not root.is_dir():
        return []
    found: list[tuple[str, WeightsMeta]] = []
    for model_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))):
        for tag_dir in sorted(p for p in model_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))):
            name, meta = read_weights_meta(tag_dir)
            if name not in _MODEL_REGISTRY:
                raise ValueError(
                    f"bundled weights folder {tag_dir} is for {name!r}, which is not a registered model; "
                    "rename the folder to a registered name (posezoo.list_models()) or remove it"
                )
            found.append((name, meta))
    if attach:
        for name, meta in found:
            _attach_weights(name, meta, make_default=meta.tag == DEFAULT_BUNDLED_TAG)
    return found


def _locate_run_weights(source: Path) -> Path:
    """The ``model.safetensors`` of a save_pretrained directory, its file, or a run's best/final/model/."""
    if source.is_file():
        if source.suffix != ".safetensors":
            raise ValueError(f"{source}: expected a .safetensors file or a save_pretrained directory")
        return source
    if not source.is_dir():
        raise FileNotFoundError(f"{source} does not exist")
    for sub in ("",) + _RUN_SUBDIRS:
        candidate = source / sub / WEIGHTS_FILE if sub else source / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{source} holds no {WEIGHTS_FILE} (looked in it and in its {', '.join(_RUN_SUBDIRS)} sub-folders); "
        "pass the save_pretrained directory of the checkpoint to bundle"
    )


def _check_config(config_path: Path, name: str) -> Optional[dict[str, Any]]:
    """Compare a save_pretrained config.json with the registered variant; returns its kwargs."""
    if not config_path.is_file():
        return None
    config = json.loads(config_path.read_text(encoding="utf-8"))
    arch = config.get("architecture")
    kwargs = config.get("config", {})
    registered = get_model_entry(name).config
    diffs = {
        k: (v, registered.get(k, "(not set)"))
        for k, v in kwargs.items()
        if k not in TRAINING_ONLY_KWARGS and k in registered and _plain(v) != _plain(registered[k])
    }
    if diffs:
        detail = "; ".join(f"{k}: run {a!r} vs {name} {b!r}" for k, (a, b) in sorted(diffs.items()))
        raise ValueError(
            f"{config_path}: the checkpoint ({arch}) was built with other constructor kwargs than the "
            f"registered {name} ({detail}); bundled weights load into the registered configuration"
        )
    return kwargs


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def bundle_weights(
    source: PathLike,
    name: str,
    tag: str = DEFAULT_BUNDLED_TAG,
    *,
    metrics: Mapping[str, float],
    command: str,
    extra: Optional[Mapping[str, Any]] = None,
    license: str = DEFAULT_LICENSE,
    training_data: str = CMU_TRAINING_DATA,
    description: str = "",
    input_spec: Optional[Mapping[str, Any]] = None,
    root: Optional[PathLike] = None,
    max_size_mb: float = 15.0,
    overwrite: bool = False,
    attach: bool = True,
) -> Path:
    """Copy a trained checkpoint into the package as ``<root>/<name>/<tag>/`` with its ``meta.json``.

    Args:
        source: a ``save_pretrained`` directory (``config.json`` +
            ``model.safetensors``), its ``.safetensors`` file, or a run
            directory whose ``best/``, ``final/`` or ``model/`` sub-folder is one.
        name: registered model name; the weights must load strictly into
            ``create_model(name)`` and ``config.json`` (when present) must
            match the registered kwargs except dropout / drop-path rates.
        tag: weight tag (``"cmu"``, the default tag of ``pretrained=True``).
        metrics: test-split numbers, e.g. ``{"mpjpe_mm": 48.1,
            "mpjpe_noisy_mm": 60.3, "p_mpjpe_mm": 35.0}`` (finite numbers;
            ``mpjpe_mm`` / ``mpjpe_noisy_mm`` are shown by ``posezoo list``).
        command: the exact command that trained the weights.
        extra: more provenance stored under ``meta.json["extra"]``: at least
            ``config`` (training config), ``seed`` and ``data`` are expected.
        license, training_data, description, input_spec: the
            :class:`~posezoo.models.WeightsMeta` fields (``input_spec`` is
            completed from the registered config).
        root: weights root (default ``posezoo/weights`` of this package).
        max_size_mb: refuse files larger than this (the wheel stays small).
        overwrite: replace an existing ``<name>/<tag>/`` folder.
        attach: attach the new weights to the registry of this process.

    Returns:
        The folder written.
    """
    import torch

    from ._builder import _input_spec, _read_safetensors
    from ._weights import load_state_dict_checked, sha256_file

    entry = get_model_entry(name)
    if not isinstance(tag, str) or not _TAG_RE.match(tag):
        raise ValueError(f"tag must be a simple name (letters, digits, '_', '-', '.'), got {tag!r}")
    if not isinstance(command, str) or not command.strip():
        raise ValueError("command must be the non-empty command line that trained the weights")
    metrics = _check_metrics(metrics, "bundle_weights")
    if not metrics:
        raise ValueError("metrics must report at least one test-split number, e.g. {'mpjpe_mm': 48.1}")
    weights_src = _locate_run_weights(Path(source))
    size = weights_src.stat().st_size
    if size > max_size_mb * 1e6:
        raise ValueError(f"{weights_src} is {size / 1e6:.1f} MB, above max_size_mb={max_size_mb}")
    run_kwargs = _check_config(weights_src.with_name("config.json"), name)
    with torch.device("cpu"):
        model = entry.model_cls(**entry.config)
    load_state_dict_checked(model, _read_safetensors(weights_src), strict=True)

    folder = (WEIGHTS_DIR if root is None else Path(root)) / name / tag
    if folder.exists():
        if not overwrite:
            raise FileExistsError(f"{folder} exists; pass overwrite=True to replace it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    target = folder / WEIGHTS_FILE
    shutil.copyfile(weights_src, target)
    from .. import __version__

    provenance: dict[str, Any] = {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "model_config": entry.config if run_kwargs is None else run_kwargs,
        "size_bytes": size,
        "posezoo_version": __version__,
    }
    provenance.update(dict(extra or {}))
    meta = {
        "format": META_FORMAT,
        "model": name,
        "tag": tag,
        "sha256": sha256_file(target),
        "license": license,
        "training_data": training_data,
        "metrics": metrics,
        "input_spec": {**_input_spec(entry.config), **dict(input_spec or {})},
        "description": description,
        "extra": provenance,
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    _, weights_meta = read_weights_meta(folder)
    if attach:
        _attach_weights(name, weights_meta, make_default=tag == DEFAULT_BUNDLED_TAG)
    return folder

"""``create_model``, ``save_pretrained`` and ``from_pretrained``.

Resolution order of ``create_model(name, pretrained=X)``:

1. ``False`` / ``None``: random initialisation.
2. ``True``: the variant's default weight tag.
3. a string that is one of the variant's registered tags: that weight
   (bundled with the package or on the Hub), sha256-verified.
4. ``"hf-hub:org/repo"``: ``model.safetensors`` of that Hub repo.
5. an existing local path: a ``save_pretrained`` directory, a
   ``.safetensors`` file, or an official checkpoint of the model's family
   (recognised by its file ending and converted).

Anything else raises ``ValueError``.

Other window lengths: ``create_model(name, pretrained=..., num_frames=N)``
builds the model at N frames (tokens) and resamples the loaded weights'
length-dependent tensors (temporal position embeddings, TPCA time-axis
norms and kernels) with :func:`~posezoo.models.resample_temporal_embeddings`.
MixSynthFormer variants refuse ``num_frames`` (their window is fixed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
from torch import nn

from .._validation import check_str_keys, read_json
from ._official_hook import official_loader
from ._registry import ModelEntry, WeightsMeta, get_model_entry
from ._resample import FIXED_WINDOW_FAMILIES, resample_temporal_embeddings
from ._weights import (
    LoadResult,
    WeightsError,
    hub_download,
    load_state_dict_checked,
    read_safetensors,
    verify_sha256,
)

__all__ = ["create_model", "save_pretrained", "from_pretrained", "load_weights"]

PathLike = Union[str, os.PathLike]
HUB_PREFIX = "hf-hub:"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    return read_safetensors(path)  # WeightsError for corrupt / truncated files


def _base_cfg(entry: ModelEntry, config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": entry.name,
        "family": entry.family,
        "tag": None,
        "source": None,
        "sha256": None,
        "license": None,
        "training_data": None,
        "metrics": {},
        "input_spec": _input_spec(config),
    }


def _input_spec(config: Mapping[str, Any]) -> dict[str, Any]:
    spec = {k: config[k] for k in ("num_frames", "num_joints", "in_channels") if k in config}
    spec.setdefault("joint_layout", "h36m")
    spec.setdefault("normalisation_2d", "screen coordinates, x in [-1, 1], aspect kept (VideoPose3D)")
    return spec


def _weights_cfg(entry: ModelEntry, meta: WeightsMeta, config: Mapping[str, Any]) -> dict[str, Any]:
    cfg = _base_cfg(entry, config)
    cfg.update(
        tag=meta.tag,
        source=meta.source,
        sha256=meta.sha256,
        license=meta.license,
        training_data=meta.training_data,
        metrics=dict(meta.metrics),
        input_spec={**cfg["input_spec"], **meta.input_spec},
        description=meta.description,
    )
    return cfg


def _resolve_registered(meta: WeightsMeta, cache_dir: Optional[PathLike]) -> Path:
    if meta.source.startswith("bundled:"):
        # relative to the posezoo package directory, or absolute (a weights root elsewhere)
        path = _PACKAGE_ROOT / meta.source[len("bundled:") :]
        if not path.is_file():
            raise FileNotFoundError(f"bundled weight file {path} is missing from the installation")
    elif meta.source.startswith(HUB_PREFIX):
        path = hub_download(meta.source[len(HUB_PREFIX) :], WEIGHTS_NAME, cache_dir=cache_dir)
    else:
        raise ValueError(f"weight {meta.tag!r} has an unsupported source {meta.source!r}")
    verify_sha256(path, meta.sha256)
    return path


def _split_hub_id(source: str) -> tuple[str, Optional[str]]:
    repo = source[len(HUB_PREFIX) :]
    revision = None
    if "@" in repo:
        repo, revision = repo.split("@", 1)
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ValueError(f"hub ids look like 'hf-hub:org/repo[@revision]', got {source!r}")
    return repo, revision


def _fit_window(
    state_dict: Mapping[str, torch.Tensor], model: nn.Module, cfg: dict[str, Any]
) -> dict[str, torch.Tensor]:
    """Resample length-dependent weights to ``model``'s window (others pass through unchanged,
    so that loading reports them); records the change in ``cfg``."""
    fitted = resample_temporal_embeddings(state_dict, model, strict=False)
    changed = sorted(k for k, v in fitted.items() if v is not state_dict[k])
    if changed:
        source = state_dict.get("temporal_pos_embed.weight")
        cfg["resampled_window"] = {
            "from_num_frames": int(source.shape[0]) if source is not None else None,
            "to_num_frames": getattr(model, "num_frames", None),
            "keys": changed,
        }
    cfg["input_spec"] = {**cfg["input_spec"], "num_frames": getattr(model, "num_frames", None)}
    return fitted


def _load_official_into(
    model: nn.Module, entry: ModelEntry, path: Path, kwargs: dict[str, Any], strict: bool
) -> tuple[nn.Module, LoadResult]:
    hooks = official_loader()
    convert_official = hooks.convert
    if hooks.accepts_model_config(entry.family):
        # the architecture is not in the checkpoint: describe it by the variant's own kwargs
        conv = convert_official(entry.family, path, config=dict(kwargs), joint_order=kwargs.get("joint_order", "h36m"))
    else:
        conv = convert_official(entry.family, path)
    conflicts = {k: (v, kwargs[k]) for k, v in conv.arch_kwargs.items() if k in kwargs and kwargs[k] != v}
    if conflicts:
        detail = ", ".join(f"{k}: checkpoint {a!r} vs {entry.name} {b!r}" for k, (a, b) in conflicts.items())
        raise WeightsError(
            f"{path} does not match {entry.name} ({detail}); use posezoo.from_official("
            f"{entry.family!r}, path) to build the checkpoint's own architecture"
        )
    if conv.compat_kwargs:
        model = entry.model_cls(**{**kwargs, **conv.kwargs})
    return model, load_state_dict_checked(model, conv.state_dict, strict=strict)


def create_model(
    name: str,
    pretrained: Union[bool, str, os.PathLike, None] = False,
    *,
    strict: bool = True,
    cache_dir: Optional[PathLike] = None,
    **overrides: Any,
) -> nn.Module:
    """Instantiate a registered model, optionally with pretrained weights.

    Args:
        name: registered name (see :func:`posezoo.list_models`).
        pretrained: ``False``, ``True``, a weight tag, ``"hf-hub:org/repo"``
            or a local path (see the module docstring for the order).
        strict: require every weight key to match (the error lists the
            offending keys). With ``strict=False`` the mismatches are stored in
            ``model.pretrained_cfg["load_result"]``.
        cache_dir: Hugging Face cache directory for hub weights.
        **overrides: constructor kwargs replacing the variant's defaults.
            ``num_frames=N`` with pretrained weights of another length
            resamples the length-dependent weights (see the module docstring;
            ``pretrained_cfg["resampled_window"]`` lists the keys).

    Returns:
        The model (train mode, like timm) with ``model.pretrained_cfg`` set.
    """
    entry = get_model_entry(name)
    if "num_frames" in overrides and entry.family in FIXED_WINDOW_FAMILIES:
        raise ValueError(f"{name}: num_frames cannot be changed: {FIXED_WINDOW_FAMILIES[entry.family]}")
    kwargs = {**entry.config, **overrides}
    resize = "num_frames" in overrides

    def load(state_dict: Mapping[str, torch.Tensor]) -> LoadResult:
        if not resize:
            return load_state_dict_checked(model, state_dict, strict=strict)
        try:
            return load_state_dict_checked(model, _fit_window(state_dict, model, cfg), strict=strict)
        except WeightsError as exc:
            raise WeightsError(
                f"{exc}. num_frames={overrides['num_frames']}: the mismatched tensors are not window-length "
                "dependent tensors that posezoo resamples (see posezoo.models.resample_temporal_embeddings)"
            ) from exc

    try:
        model = entry.model_cls(**kwargs)
    except TypeError as exc:
        raise TypeError(f"{name}: invalid constructor arguments {sorted(overrides)}: {exc}") from exc
    except (OverflowError, ZeroDivisionError, KeyError, IndexError, RuntimeError) as exc:  # absurd sizes/values
        raise ValueError(
            f"{name}: invalid constructor arguments {sorted(overrides)}: {type(exc).__name__}: {exc}"
        ) from exc
    cfg = _base_cfg(entry, kwargs)
    result: Optional[LoadResult] = None

    if pretrained is None or pretrained is False:
        pass
    elif pretrained is True or (isinstance(pretrained, str) and pretrained in entry.weights):
        tag = entry.default_tag if pretrained is True else pretrained
        if tag is None:
            raise ValueError(
                f"{name} has no pretrained weights registered; pass a local path, an official "
                f"checkpoint or 'hf-hub:org/repo'. Models with weights: posezoo.list_models(pretrained=True)"
            )
        meta = entry.weights[tag]
        path = _resolve_registered(meta, cache_dir)
        cfg = _weights_cfg(entry, meta, kwargs)
        result = load(_read_safetensors(path))
    elif isinstance(pretrained, str) and pretrained.startswith(HUB_PREFIX):
        repo, revision = _split_hub_id(pretrained)
        path = hub_download(repo, WEIGHTS_NAME, revision=revision, cache_dir=cache_dir)
        result = load(_read_safetensors(path))
        cfg["source"] = pretrained
    elif isinstance(pretrained, (str, os.PathLike)) and Path(pretrained).exists():
        path = Path(pretrained)
        if path.is_dir():
            path = path / WEIGHTS_NAME
            if not path.is_file():
                raise FileNotFoundError(f"{pretrained} holds no {WEIGHTS_NAME}")
        if path.suffix == ".safetensors":
            result = load(_read_safetensors(path))
        elif official_loader().is_official(path, entry.family):
            model, result = _load_official_into(model, entry, path, kwargs, strict)
            kwargs = dict(model.init_kwargs)
        else:
            raise ValueError(f"{path}: not a .safetensors file nor an official {entry.family} checkpoint")
        cfg["source"] = str(path)
    else:
        tags = ", ".join(entry.weights) or "none"
        raise ValueError(
            f"pretrained={pretrained!r} is neither a bool, a weight tag of {name} (tags: {tags}), "
            f"'hf-hub:org/repo', nor an existing path"
        )
    if result is not None and not result.ok:
        cfg["load_result"] = result
    model.pretrained_cfg = cfg
    model.posezoo_name = name
    return model


def _model_name(model: nn.Module) -> str:
    name = getattr(model, "posezoo_name", None) or getattr(model, "pretrained_cfg", {}).get("name")
    if name is None:
        from ._registry import _MODEL_REGISTRY

        matches = [n for n, e in _MODEL_REGISTRY.items() if type(model) is e.model_cls]
        if not matches:
            raise ValueError(
                f"{type(model).__name__} is not a registered posezoo model class; cannot save a config for it"
            )
        kwargs = getattr(model, "init_kwargs", {})

        def agreement(candidate: str) -> int:
            config = _MODEL_REGISTRY[candidate].config
            return sum(1 for k, v in config.items() if k in kwargs and _jsonable(kwargs[k]) == _jsonable(v))

        # the registered variant closest to the model's own kwargs (all kwargs are saved anyway)
        name = max(sorted(matches), key=agreement)
    return name


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, LoadResult):
        return {
            "missing": value.missing_keys,
            "unexpected": value.unexpected_keys,
            "mismatched": [k for k, _, _ in value.mismatched_keys],
        }
    raise TypeError(f"cannot store {type(value).__name__} in config.json: {value!r}")


def save_pretrained(model: nn.Module, directory: PathLike) -> Path:
    """Write ``config.json`` and ``model.safetensors`` (Hub-compatible layout).

    ``config.json`` holds the registry name (``architecture``), the
    constructor kwargs (``config``) and the ``pretrained_cfg``.
    """
    from safetensors.torch import save_file

    init_kwargs = getattr(model, "init_kwargs", None)
    if init_kwargs is None:
        raise TypeError(f"{type(model).__name__} is not a posezoo PoseModel (no init_kwargs)")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "architecture": _model_name(model),
        "posezoo_class": type(model).__name__,
        "config": _jsonable(init_kwargs),
        "pretrained_cfg": _jsonable(getattr(model, "pretrained_cfg", {})),
    }
    (out / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(out / WEIGHTS_NAME), metadata={"format": "pt", "posezoo": "1"})
    return out


def _locate(source: PathLike) -> tuple[Path, Path]:
    """(config.json, model.safetensors) for a local directory or file."""
    path = Path(source)
    if path.is_dir():
        return path / CONFIG_NAME, path / WEIGHTS_NAME
    if path.is_file() and path.suffix == ".safetensors":
        return path.with_name(CONFIG_NAME), path
    if path.is_file() and path.name == CONFIG_NAME:
        return path, path.with_name(WEIGHTS_NAME)
    raise FileNotFoundError(f"{source}: expected a save_pretrained directory, its config.json or a .safetensors file")


def load_weights(model: nn.Module, source: PathLike, strict: bool = True) -> LoadResult:
    """Load a ``.safetensors`` file (or directory holding one) into ``model``."""
    _, weights = _locate(source)
    return load_state_dict_checked(model, _read_safetensors(weights), strict=strict)


def from_pretrained(
    source: PathLike,
    *,
    strict: bool = True,
    cache_dir: Optional[PathLike] = None,
    local_files_only: Optional[bool] = None,
) -> nn.Module:
    """Rebuild a model saved by :func:`save_pretrained`.

    Args:
        source: a directory, its ``config.json`` / ``model.safetensors``, or
            ``"hf-hub:org/repo[@revision]"`` (``config.json`` and
            ``model.safetensors`` are fetched; offline mode reads the cache only).
        strict: see :func:`create_model`.
        cache_dir: Hugging Face cache directory.
        local_files_only: force offline mode (default: ``HF_HUB_OFFLINE``).

    Returns:
        The model in eval mode.
    """
    if isinstance(source, str) and source.startswith(HUB_PREFIX):
        repo, revision = _split_hub_id(source)
        kw = dict(revision=revision, cache_dir=cache_dir, local_files_only=local_files_only)
        weights_path = hub_download(repo, WEIGHTS_NAME, **kw)
        config_path = hub_download(repo, CONFIG_NAME, **kw)
        origin = source
    else:
        config_path, weights_path = _locate(source)
        origin = str(source)
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{config_path} not found: from_pretrained needs the config.json written by save_pretrained"
        )
    config = read_json(config_path, "posezoo config.json")
    if (
        not isinstance(config, dict)
        or not isinstance(config.get("architecture"), str)
        or not isinstance(config.get("config"), dict)
        or not isinstance(config.get("pretrained_cfg", {}), dict)
    ):
        raise ValueError(
            f"{config_path} is not a posezoo config.json: expected an object with 'architecture' (str), "
            f"'config' (object) and 'pretrained_cfg' (object), got "
            f"{sorted(map(str, config))[:8] if isinstance(config, dict) else type(config).__name__}"
        )
    name, kwargs = config["architecture"], check_str_keys(f"{config_path}: 'config'", config["config"])
    try:
        model = create_model(name, pretrained=False, **kwargs)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{config_path}: {exc}") from exc
    result = load_state_dict_checked(model, _read_safetensors(weights_path), strict=strict)
    cfg = dict(config.get("pretrained_cfg") or {})
    cfg["source"] = origin
    if not result.ok:
        cfg["load_result"] = result
    model.pretrained_cfg = cfg
    return model.eval()

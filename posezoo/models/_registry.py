"""Model registry: names, default configurations and pretrained-weight metadata.

A model is registered by decorating a function that returns its constructor
keyword arguments::

    @register_model(RTPCA, family="rtpca", paper=RTPCA_PAPER, weights=[...])
    def rtpca_243() -> dict:
        return dict(num_frames=243, dim=512, depth=8, num_heads=8, mlp_ratio=2.0)

The function's name is the model name. ``create_model`` (in ``_builder``)
instantiates ``model_cls(**{**config, **overrides})``.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable, Optional

from torch import nn

__all__ = [
    "WeightsMeta",
    "ModelEntry",
    "register_model",
    "list_models",
    "list_families",
    "get_model_entry",
    "model_info",
    "count_parameters",
]


@dataclass(frozen=True)
class WeightsMeta:
    """Metadata of one pretrained weight file (torchvision-style).

    Attributes:
        tag: short name, e.g. ``"cmu_mocap"``; ``create_model(name, pretrained=tag)``.
        source: where the file lives: ``"bundled:<path>"`` (relative to the
            ``posezoo/`` package directory, e.g. ``"bundled:weights/rtpca_small/cmu/model.safetensors"``,
            or absolute for a weights root outside the package) or
            ``"hf-hub:org/repo"`` (the Hub repo holds ``model.safetensors``).
        sha256: hex digest of the weight file, verified on load.
        license: licence of the weights.
        training_data: what the weights were trained on.
        metrics: reported metrics, e.g. ``{"mpjpe_mm": 45.2}``.
        input_spec: frames, joint layout and 2D normalisation the weights expect.
        description: free text (how trained, caveats).
        extra: provenance beyond the fields above: training command, training
            config, seed, data, date, file size (free-form, JSON-serialisable).
    """

    tag: str
    source: str
    sha256: str
    license: str
    training_data: str
    metrics: dict[str, float] = field(default_factory=dict)
    input_spec: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelEntry:
    """Everything the registry knows about one model name."""

    name: str
    family: str
    paper: str
    model_cls: type
    config_fn: Callable[[], dict]
    weights: dict[str, WeightsMeta]
    default_tag: Optional[str]
    notes: str = ""

    @property
    def config(self) -> dict[str, Any]:
        """Constructor kwargs of the registered variant (a fresh copy)."""
        return dict(self.config_fn())


_MODEL_REGISTRY: dict[str, ModelEntry] = {}

#: metric keys of ``WeightsMeta.metrics`` shown by ``posezoo list`` and ``model_info``:
#: test-split MPJPE (mm) from clean 2D and from detector-like noisy 2D.
HEADLINE_METRICS = ("mpjpe_mm", "mpjpe_noisy_mm")


def register_model(
    model_cls: type,
    *,
    family: str,
    paper: str,
    weights: Iterable[WeightsMeta] = (),
    default_tag: Optional[str] = None,
    notes: str = "",
) -> Callable[[Callable[[], dict]], Callable[[], dict]]:
    """Decorator registering ``fn.__name__`` as a model built from ``fn()``'s kwargs.

    Args:
        model_cls: the ``nn.Module`` class to instantiate.
        family: model family (``"rtpca"``, ``"mixste"``, ...); official
            checkpoints are converted with this family's converter.
        paper: citation of the source paper.
        weights: pretrained weights available for this variant.
        default_tag: tag used for ``pretrained=True`` (first weight if None).
        notes: anything a user should know (e.g. dropped official parameters).
    """

    def decorator(fn: Callable[[], dict]) -> Callable[[], dict]:
        name = fn.__name__
        if name in _MODEL_REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        wmap = {w.tag: w for w in weights}
        tag = default_tag if default_tag is not None else next(iter(wmap), None)
        if tag is not None and tag not in wmap:
            raise ValueError(f"{name}: default_tag {tag!r} is not among its weights {list(wmap)}")
        _MODEL_REGISTRY[name] = ModelEntry(
            name=name,
            family=family,
            paper=paper,
            model_cls=model_cls,
            config_fn=fn,
            weights=wmap,
            default_tag=tag,
            notes=notes,
        )
        return fn

    return decorator


def _unregister(name: str) -> None:
    """Remove a model (for tests that register temporary models)."""
    _MODEL_REGISTRY.pop(name, None)


def _attach_weights(name: str, meta: WeightsMeta, *, make_default: bool = False) -> None:
    """Add (or replace) the weight ``meta.tag`` of the registered model ``name``.

    ``make_default`` makes it the tag of ``pretrained=True``; a model without a
    default tag gets this one either way.
    """
    entry = get_model_entry(name)
    weights = {**entry.weights, meta.tag: meta}
    default = meta.tag if (make_default or entry.default_tag is None) else entry.default_tag
    _MODEL_REGISTRY[name] = replace(entry, weights=weights, default_tag=default)


def _detach_weights(name: str, tag: str) -> None:
    """Remove the weight ``tag`` of ``name`` (for tests that attach temporary weights)."""
    entry = _MODEL_REGISTRY.get(name)
    if entry is None or tag not in entry.weights:
        return
    weights = {t: w for t, w in entry.weights.items() if t != tag}
    default = entry.default_tag if entry.default_tag != tag else next(iter(weights), None)
    _MODEL_REGISTRY[name] = replace(entry, weights=weights, default_tag=default)


def list_models(pattern: Optional[str] = None, pretrained: bool = False) -> list[str]:
    """Sorted registered model names.

    Args:
        pattern: fnmatch wildcard, e.g. ``"rtpca*"`` (case-insensitive).
        pretrained: only models with at least one pretrained weight.
    """
    names = sorted(_MODEL_REGISTRY)
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatch(n.lower(), pattern.lower())]
    if pretrained:
        names = [n for n in names if _MODEL_REGISTRY[n].weights]
    return names


def list_families() -> list[str]:
    """Sorted names of the registered model families."""
    return sorted({e.family for e in _MODEL_REGISTRY.values()})


def get_model_entry(name: str) -> ModelEntry:
    """Registry entry for ``name``; unknown names raise ``ValueError`` with close matches."""
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {type(name).__name__}")
    try:
        return _MODEL_REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_MODEL_REGISTRY), n=5, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown model {name!r}.{hint} `posezoo.list_models()` lists all {len(_MODEL_REGISTRY)} registered models."
        ) from None


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def model_info(name: str, flops: bool = False) -> dict[str, Any]:
    """Describe a registered model.

    Returns a dict with ``name``, ``family``, ``paper``, ``config``
    (constructor kwargs), ``params`` (int, counted on a freshly built model),
    ``num_frames`` (the model's input window, None if any length works),
    ``weights`` (tag -> metadata dict), ``default_tag``, ``notes`` and the
    headline test-split numbers of the default weight, ``test_mpjpe_mm`` and
    ``test_mpjpe_noisy_mm`` (None without weights or when not reported); with
    ``flops=True`` also ``flops`` (see :func:`posezoo.utils.count_flops`) for
    one clip of the model's default input.
    """
    entry = get_model_entry(name)
    model = entry.model_cls(**entry.config)
    info: dict[str, Any] = {
        "name": entry.name,
        "family": entry.family,
        "paper": entry.paper,
        "config": entry.config,
        "params": count_parameters(model),
        "num_frames": getattr(model, "num_frames", None),
        "weights": {tag: w.to_dict() for tag, w in entry.weights.items()},
        "default_tag": entry.default_tag,
        "notes": entry.notes,
    }
    default = entry.weights.get(entry.default_tag) if entry.default_tag is not None else None
    for key in HEADLINE_METRICS:
        info[f"test_{key}"] = default.metrics.get(key) if default is not None else None
    if flops:
        from ..utils import count_flops, example_input

        model.eval()
        inputs = example_input(model, batch_size=1)
        total = count_flops(model, *inputs)
        frames = getattr(model, "num_output_frames", None) or getattr(model, "num_frames", None) or 1
        info["flops"] = {
            "per_clip": total,
            "per_output_frame": total / frames,
            "macs_per_clip": total // 2,
            "note": "FLOPs as counted by torch.utils.flop_counter (1 multiply-add = 2 FLOPs)",
        }
    return info

"""Layout conversion by rules: each target joint is an affine combination of source joints.

A :class:`Conversion` maps a source layout (a detector's) to a target layout
(H36M-17). Every target joint has one or more :class:`Rule` s in priority
order; a rule is a weighted sum of named source joints whose weights sum to 1
(an affine combination, so it commutes with translation, rotation and scaling
of the image and holds exactly under an affine camera when it holds in 3D).
With confidences, each target joint of each frame takes the first rule whose
sources are all confident (``> min_confidence``) and finite; its confidence is
the smallest confidence of the sources used. A target that no rule can make is
NaN with confidence 0.

The conversions posezoo ships, and how their weights were fitted, are in
:mod:`posezoo.skeleton.conversions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, TypeVar, Union

import numpy as np
import torch

from .._validation import check_float, check_real_array
from ._core import Skeleton, _check_pose, _take_joints, get_skeleton

Array = TypeVar("Array", np.ndarray, torch.Tensor)

__all__ = [
    "Rule",
    "Conversion",
    "register_conversion",
    "get_conversion",
    "list_conversions",
    "convert_layout",
    "to_h36m",
    "coco_to_h36m",
]


def _swap_side(name: str) -> str:
    return name.replace("left", "\0").replace("right", "left").replace("\0", "right")


@dataclass(frozen=True)
class Rule:
    """``target = sum_i weights[i] * source[i]``, an affine combination (weights sum to 1).

    Attributes:
        sources: joint names of the source layout, or ``"@name"`` for a target
            joint computed earlier in the same conversion.
        weights: one weight per source; renormalised to sum exactly to 1 (a sum
            further than 1e-3 from 1 is an error).
    """

    sources: tuple[str, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.sources or len(self.sources) != len(self.weights):
            raise ValueError(f"a rule needs one weight per source, got {self.sources} / {self.weights}")
        if len(set(self.sources)) != len(self.sources):
            raise ValueError(f"duplicate sources in rule {self.sources}")
        total = float(sum(self.weights))
        if abs(total - 1.0) > 1e-3:
            raise ValueError(f"rule weights must sum to 1 (affine combination), got {total:.6f} for {self.sources}")
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "weights", tuple(float(w) / total for w in self.weights))

    @classmethod
    def copy(cls, name: str) -> Rule:
        """The rule that copies one joint."""
        return cls((name,), (1.0,))

    def mirrored(self) -> Rule:
        """The same rule with ``left`` and ``right`` swapped in every source name."""
        return Rule(tuple(_swap_side(s) for s in self.sources), self.weights)


@dataclass(frozen=True)
class Conversion:
    """Rules that turn keypoints of layout ``src`` into layout ``dst``.

    Attributes:
        src, dst: layout names (see :func:`posezoo.skeleton.list_skeletons`).
        rules: ``(target joint name, rules in priority order)`` for every joint
            of ``dst``, in evaluation order (a ``"@name"`` source must name an
            earlier target).
        notes: how the rules were made (shown in the docs and errors).
    """

    src: str
    dst: str
    rules: tuple[tuple[str, tuple[Rule, ...]], ...]
    notes: str = ""

    def __post_init__(self) -> None:
        s, d = get_skeleton(self.src), get_skeleton(self.dst)
        object.__setattr__(self, "src", s.name)
        object.__setattr__(self, "dst", d.name)
        seen: list[str] = []
        for target, rules in self.rules:
            if target not in d.joint_names:
                raise ValueError(f"{s.name} -> {d.name}: {d.name} has no joint {target!r}")
            if target in seen:
                raise ValueError(f"{s.name} -> {d.name}: joint {target!r} has rules twice")
            if not rules:
                raise ValueError(f"{s.name} -> {d.name}: no rule for {target!r}")
            for rule in rules:
                for src in rule.sources:
                    if src.startswith("@"):
                        if src[1:] not in seen:
                            raise ValueError(f"{s.name} -> {d.name}: {target!r} uses {src} before it is computed")
                    elif src not in s.joint_names:
                        raise ValueError(f"{s.name} -> {d.name}: {s.name} has no joint {src!r}")
            seen.append(target)
        lacking = [n for n in d.joint_names if n not in seen]
        if lacking:
            raise ValueError(f"{s.name} -> {d.name}: no rules for {', '.join(lacking)}")

    def rules_for(self, target: str) -> tuple[Rule, ...]:
        for name, rules in self.rules:
            if name == target:
                return rules
        raise ValueError(f"{self.src} -> {self.dst} has no joint {target!r}")


_CONVERSIONS: dict[tuple[str, str], Conversion] = {}


def register_conversion(conversion: Conversion) -> Conversion:
    """Make ``conversion`` the one :func:`convert_layout` uses for its ``(src, dst)`` pair."""
    if not isinstance(conversion, Conversion):
        raise TypeError(f"expected a Conversion, got {type(conversion).__name__}")
    _CONVERSIONS[(conversion.src, conversion.dst)] = conversion
    return conversion


def get_conversion(src: Union[str, Skeleton], dst: Union[str, Skeleton] = "h36m") -> Conversion:
    """The registered :class:`Conversion` from ``src`` to ``dst``; ``ValueError`` if there is none."""
    key = (get_skeleton(src).name, get_skeleton(dst).name)
    if key not in _CONVERSIONS:
        known = ", ".join(f"{a}->{b}" for a, b in sorted(_CONVERSIONS))
        raise ValueError(f"no conversion registered for {key[0]} -> {key[1]}; registered: {known}")
    return _CONVERSIONS[key]


def list_conversions() -> list[tuple[str, str]]:
    """``(src, dst)`` pairs with a registered conversion."""
    return sorted(_CONVERSIONS)


# ----------------------------------------------------------------------------- evaluation


def _where(mask: Array, a: Array, b: Array) -> Array:
    return torch.where(mask, a, b) if isinstance(a, torch.Tensor) else np.where(mask, a, b)


def _isfinite(x: Array) -> Array:
    return torch.isfinite(x) if isinstance(x, torch.Tensor) else np.isfinite(x)


def _stack(items: list, axis: int) -> Array:
    return torch.stack(items, dim=axis) if isinstance(items[0], torch.Tensor) else np.stack(items, axis=axis)


def _as_float(x: Array) -> Array:
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.float()
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def convert_layout(
    keypoints: Array,
    src: Union[str, Skeleton],
    dst: Union[str, Skeleton] = "h36m",
    confidence: Optional[Array] = None,
    *,
    min_confidence: float = 0.0,
) -> Union[Array, tuple[Array, Array]]:
    """Convert keypoints from layout ``src`` to layout ``dst`` (default H36M-17).

    Uses the registered :class:`Conversion`; without one, joints are reordered
    by name when ``dst``'s joints all exist in ``src`` (same layout: a copy).

    Args:
        keypoints: ``(..., J_src, C)`` numpy array or torch tensor (pixels,
            normalised coordinates or metres: rules are affine, any unit works).
        src, dst: layout names or :class:`~posezoo.skeleton.Skeleton` s.
            Integer or floating dtype (bool, complex and object arrays raise
            ``TypeError``). NaN/inf raise ``ValueError`` unless ``confidence``
            marks those joints missing.
        confidence: optional ``(..., J_src)`` finite real scores, the same kind
            (numpy / torch, and device) as ``keypoints``. With it, each target
            joint takes the first rule whose sources all score ``> min_confidence``
            (and are finite); without it, always the first rule. A keypoint scored
            ``<= max(0, min_confidence)`` is missing and may be NaN/inf (a frame
            without a detection: NaN with score 0, as :mod:`posezoo.io` reads it).
        min_confidence: threshold for a usable source keypoint.

    Returns:
        ``(..., J_dst, C)`` keypoints of the same kind (floating dtype), and the
        ``(..., J_dst)`` confidences when ``confidence`` was given (the minimum
        over the sources used; 0 with NaN coordinates where no rule applies).
        Missing input joints are NaN in the output, never inf.
    """
    s, d = get_skeleton(src), get_skeleton(dst)
    min_confidence = check_float("min_confidence", min_confidence)
    _check_pose(
        keypoints,
        s.num_joints,
        "keypoints",
        finite=confidence is None,
        hint="pass confidence= with a score <= 0 at the missing joints to let them through",
    )
    if confidence is not None:
        _check_confidence(keypoints, confidence, min_confidence)
    x = _as_float(keypoints)
    if confidence is not None:  # missing joints (validated above) as NaN, never inf: they come out NaN
        x = _where(_isfinite(x), x, x * float("nan"))
    if (s.name, d.name) not in _CONVERSIONS:
        missing = [n for n in d.joint_names if n not in s.joint_names]
        if missing:
            known = ", ".join(f"{a}->{b}" for a, b in sorted(_CONVERSIONS))
            raise ValueError(
                f"cannot convert {s.name} -> {d.name}: no conversion registered and {s.name} lacks "
                f"{', '.join(missing)}; registered conversions: {known}"
            )
        index = [s.index(n) for n in d.joint_names]
        out = _take_joints(x, index)
        out = out.clone() if isinstance(out, torch.Tensor) else out.copy()
        if confidence is None:
            return out
        conf = confidence[..., index]
        return out, (conf.clone() if isinstance(conf, torch.Tensor) else conf.copy())
    return _apply(get_conversion(s, d), x, confidence, float(min_confidence))


def _check_confidence(keypoints: Array, confidence: Array, min_confidence: float) -> None:
    """Validate ``confidence`` against ``keypoints``: finite real scores of shape ``(..., J)``, same
    kind and device; NaN/inf keypoints only where the score marks them missing (``<= max(0, min_confidence)``)."""
    check_real_array("confidence", confidence)
    if isinstance(confidence, torch.Tensor) != isinstance(keypoints, torch.Tensor):
        raise TypeError(
            f"keypoints and confidence must both be numpy arrays or both torch tensors, got "
            f"{type(keypoints).__name__} and {type(confidence).__name__}"
        )
    if isinstance(confidence, torch.Tensor) and confidence.device != keypoints.device:
        raise ValueError(f"confidence is on {confidence.device}, keypoints on {keypoints.device}; use one device")
    if tuple(confidence.shape) != tuple(keypoints.shape[:-1]):
        raise ValueError(f"confidence must have shape {tuple(keypoints.shape[:-1])}, got {tuple(confidence.shape)}")
    threshold = max(0.0, min_confidence)
    bad = ~_isfinite(keypoints).all(-1) & (confidence > threshold)
    if bool(bad.any()):
        first = tuple(int(i) for i in (bad.nonzero()[0] if isinstance(bad, torch.Tensor) else np.argwhere(bad)[0]))
        raise ValueError(
            f"keypoints hold NaN or inf values at {int(bad.sum())} joints whose confidence is > {threshold:g} "
            f"(first at index {first}); give missing joints a confidence <= {threshold:g}"
        )


def _apply(conv: Conversion, x: Array, confidence: Optional[Array], min_confidence: float):
    s, d = get_skeleton(conv.src), get_skeleton(conv.dst)
    conf = _as_float(confidence) if confidence is not None else None
    values: dict[str, Array] = {}
    confs: dict[str, Array] = {}

    def point(name: str) -> Array:
        return values[name[1:]] if name.startswith("@") else x[..., s.index(name), :]

    def score(name: str) -> Array:
        return confs[name[1:]] if name.startswith("@") else conf[..., s.index(name)]

    def combine(rule: Rule) -> Array:
        out = point(rule.sources[0]) * rule.weights[0]
        for name, w in zip(rule.sources[1:], rule.weights[1:]):
            out = out + point(name) * w
        return out

    for target, rules in conv.rules:
        if conf is None:
            values[target] = combine(rules[0])
            continue
        value = x[..., 0, :] * float("nan")
        best = conf[..., 0] * 0.0
        done = None
        for rule in rules:
            v = combine(rule)
            c = score(rule.sources[0])
            for name in rule.sources[1:]:
                c = torch.minimum(c, score(name)) if isinstance(c, torch.Tensor) else np.minimum(c, score(name))
            ok = (c > min_confidence) & _isfinite(v).all(-1)
            take = ok if done is None else ok & ~done
            value = _where(take[..., None], v, value)
            best = _where(take, c, best)
            done = ok if done is None else done | ok
        values[target], confs[target] = value, best
    out = _stack([values[n] for n in d.joint_names], -2)
    if conf is None:
        return out
    return out, _stack([confs[n] for n in d.joint_names], -1)


def to_h36m(
    keypoints: Array,
    layout: Union[str, Skeleton],
    confidence: Optional[Array] = None,
    *,
    min_confidence: float = 0.0,
) -> Union[Array, tuple[Array, Array]]:
    """Keypoints of any layout with a conversion (or H36M itself) -> H36M-17; see :func:`convert_layout`."""
    return convert_layout(keypoints, layout, "h36m", confidence, min_confidence=min_confidence)


def coco_to_h36m(
    keypoints: Array, confidence: Optional[Array] = None, *, min_confidence: float = 0.0
) -> Union[Array, tuple[Array, Array]]:
    """Convert COCO-17 keypoints ``(..., 17, C)`` to H36M-17 (and ``(..., 17)`` confidences).

    Uses the fitted rules of :mod:`posezoo.skeleton.conversions` (pelvis = mean
    of the hips; the H36M hips 15 % closer together than the detector's; thorax
    above the shoulders along the torso; nose and head top from the face
    points); see :func:`convert_layout` and ``docs/in_the_wild.md``. NaN/inf
    keypoints are refused (``ValueError``) unless ``confidence`` marks them
    missing (a score ``<= max(0, min_confidence)``); H36M joints no rule can
    make from the confident joints come out NaN with confidence 0.
    """
    return convert_layout(keypoints, "coco", "h36m", confidence, min_confidence=min_confidence)


def copy_rules(names: Sequence[str]) -> tuple[tuple[str, tuple[Rule, ...]], ...]:
    """``(name, (Rule.copy(name),))`` for each name: joints a layout shares with the target."""
    return tuple((n, (Rule.copy(n),)) for n in names)

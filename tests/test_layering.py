"""The house rules of the package layout: layers <- models <- convert / inference / training / cli."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "posezoo"
#: sub-package -> sub-packages of posezoo it must never import
FORBIDDEN = {
    "layers": {"models", "convert", "training", "inference", "data", "cli", "io", "demo", "viz"},
    "models": {"convert", "training", "inference", "data", "cli", "io", "demo"},
}


def _imported_posezoo_modules(path: Path) -> set[str]:
    """Top-level posezoo sub-packages a file imports (absolute or relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["posezoo", *path.relative_to(PACKAGE).parts[:-1]]  # the file's own package
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = [*base, *(node.module.split(".") if node.module else [])]
                names = [".".join(module)] if node.module else [".".join([*module, a.name]) for a in node.names]
            elif node.module:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "posezoo" and len(parts) > 1:
                out.add(parts[1])
    return out


def test_layers_and_models_never_import_upper_layers() -> None:
    offenders = []
    for sub, banned in FORBIDDEN.items():
        for path in sorted((PACKAGE / sub).rglob("*.py")):
            bad = _imported_posezoo_modules(path) & banned
            if bad:
                offenders.append(f"{path.relative_to(PACKAGE.parent)} imports {sorted(bad)}")
    assert not offenders, offenders


def test_the_checker_sees_relative_imports(tmp_path: Path) -> None:
    probe = PACKAGE / "models" / "_builder.py"
    assert "_validation" in _imported_posezoo_modules(probe)  # from .._validation import ...

"""Every ```python block of README.md and docs/*.md runs.

The blocks of one page run in order in one namespace, as a reader would paste them, in a
temporary working directory (files the page writes go there). Two HTML comments, on the lines
just above a block's fence, adapt a block to the test:

* ``<!-- skip-test: reason -->``: the block is only compiled, not run. For blocks that need files
  a user brings and posezoo cannot ship (the Human3.6M files, the authors' checkpoints). Rare.
* ``<!-- test-files: NAME=REPO/PATH, ... -->``: copy repository files into the working directory
  under the names the block uses (an official-format checkpoint of ``tests/fixtures/``).

The registry and ``posezoo.limits`` are restored after each page, so a page that registers a model
or raises a bound (docs/security.md) leaves no trace for the tests that run after it.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
import torch

from posezoo import limits
from posezoo.models._registry import _MODEL_REGISTRY

from .conftest import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
MAX_SKIPS = 7  # skips stay rare: each one is a block no reader can check (bundling writes into the package; two detector recipes download weights)

_FENCE = re.compile(r"^```python[ \t]*$")
_SKIP = re.compile(r"^<!--\s*skip-test:\s*(?P<reason>.*?)\s*-->$")
_FILES = re.compile(r"^<!--\s*test-files:\s*(?P<files>.*?)\s*-->$")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    code: str
    skip_reason: str | None
    files: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO_ROOT)}:{self.line}"


def python_blocks(page: Path) -> list[Block]:
    """The ```python blocks of a Markdown page, with the test comments just above each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if not _FENCE.match(lines[i]):
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise ValueError(f"{page}:{i + 1}: unterminated ```python block")
        skip, files, k = None, {}, i - 1
        while k >= 0 and lines[k].strip().startswith("<!--"):
            comment = lines[k].strip()
            if m := _SKIP.match(comment):
                skip = m["reason"]
            elif m := _FILES.match(comment):
                files.update(item.strip().split("=", 1) for item in m["files"].split(","))
            k -= 1
        blocks.append(Block(page, i + 1, "\n".join(lines[i + 1 : end]) + "\n", skip, files))
        i = end + 1
    return blocks


ALL_BLOCKS = [block for page in PAGES for block in python_blocks(page)]


def test_blocks_are_found_and_skips_are_rare_and_explained() -> None:
    assert len(ALL_BLOCKS) >= 30
    assert {b.page.name for b in ALL_BLOCKS} >= {"README.md", "data_inference.md", "rtpca.md"}
    skipped = [b for b in ALL_BLOCKS if b.skip_reason is not None]
    assert all(len(b.skip_reason) >= 20 for b in skipped), [b.where for b in skipped]
    assert len(skipped) <= MAX_SKIPS, [f"{b.where}: {b.skip_reason}" for b in skipped]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(page)
    monkeypatch.chdir(tmp_path)
    for field in fields(limits):  # restored by monkeypatch when the page is done
        monkeypatch.setattr(limits, field.name, getattr(limits, field.name))
    registry = dict(_MODEL_REGISTRY)
    namespace: dict = {"__name__": f"doc_{page.stem}"}
    torch.manual_seed(0)
    try:
        for block in blocks:
            code = compile(block.code, block.where, "exec")  # skipped blocks must still be valid Python
            if block.skip_reason is not None:
                continue
            for name, source in block.files.items():
                target = tmp_path / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(REPO_ROOT / source, target)
            try:
                exec(code, namespace)
            except Exception as exc:
                raise AssertionError(f"the block at {block.where} fails: {type(exc).__name__}: {exc}") from exc
    finally:
        _MODEL_REGISTRY.clear()
        _MODEL_REGISTRY.update(registry)


def test_parser_reads_comments_and_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n<!-- skip-test: needs a file nobody has here -->\n```python\nimport nope\n```\n\n"
        "<!-- test-files: a.bin=tests/fixtures/x.bin, b/c.h5=y.h5 -->\n```python\nx = 1\ny = 2\n```\n"
        "```bash\nls\n```\n```python\nprint(x)\n```\n",
        encoding="utf-8",
    )
    first, second, third = (Block(b.page, b.line, b.code, b.skip_reason, b.files) for b in python_blocks(page))
    assert (first.line, first.code, first.skip_reason, first.files) == (
        4,
        "import nope\n",
        "needs a file nobody has here",
        {},
    )
    assert (second.line, second.code, second.skip_reason) == (9, "x = 1\ny = 2\n", None)
    assert second.files == {"a.bin": "tests/fixtures/x.bin", "b/c.h5": "y.h5"}
    assert (third.code, third.skip_reason, third.files) == ("print(x)\n", None, {})

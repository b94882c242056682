"""The posezoo command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

import posezoo
from posezoo.cli import MARKDOWN_HEADER, main, weights_summary
from posezoo.models import bundle_weights
from posezoo.models._registry import _detach_weights, get_model_entry

from .conftest import REPO_ROOT


def test_list_and_info(capsys, tiny_name: str) -> None:
    assert main(["list"]) == 0
    assert tiny_name in capsys.readouterr().out
    assert main(["list", "_test_*"]) == 0
    assert capsys.readouterr().out.split()[0] == tiny_name
    assert main(["info", tiny_name]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == tiny_name and info["params"] == 81


def test_list_markdown_table(capsys, tiny_name: str) -> None:
    assert main(["list", "_test_*", "--markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| name | family | input window | params | weights (test MPJPE) | notes |"
    assert lines[2] == f"| `{tiny_name}` | _test | 5 frames | 81 | — |  |"


def test_list_shows_bundled_weights_and_test_mpjpe(capsys, tiny_name: str, tmp_path) -> None:
    torch.manual_seed(0)
    posezoo.save_pretrained(posezoo.create_model(tiny_name), tmp_path / "run")
    try:
        bundle_weights(
            tmp_path / "run",
            tiny_name,
            metrics={"mpjpe_mm": 48.25, "mpjpe_noisy_mm": 61.5},
            command="test",
            root=tmp_path / "w",
        )
        assert main(["list", "_test_*"]) == 0
        assert capsys.readouterr().out.split("weights: ")[1].strip() == "cmu (test MPJPE 48.2 mm, noisy 2D 61.5 mm)"
        assert main(["list", "--pretrained", "_test_*"]) == 0
        assert capsys.readouterr().out.split()[0] == tiny_name
        assert main(["list", "_test_*", "--markdown"]) == 0
        row = capsys.readouterr().out.splitlines()[2]
        assert row == f"| `{tiny_name}` | _test | 5 frames | 81 | `cmu`: 48.2 mm, noisy 2D 61.5 mm |  |"
        assert main(["info", tiny_name]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["test_mpjpe_mm"] == 48.25 and info["default_tag"] == "cmu"
    finally:
        _detach_weights(tiny_name, "cmu")
    assert main(["list", "--pretrained", "_test_*"]) == 0
    assert capsys.readouterr().out.startswith("no models match")


def test_readme_model_table_matches_the_registry() -> None:
    """README's table has a row per registered variant and its weights column is `posezoo list --markdown`'s."""
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(MARKDOWN_HEADER)
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    assert sorted(rows) == [n for n in posezoo.list_models() if not n.startswith("_")]
    for name, cells in rows.items():
        assert cells[1] == get_model_entry(name).family, name
        assert cells[4] == weights_summary(name, markdown=True), name


def test_unknown_model_is_a_clean_error(capsys) -> None:
    assert main(["info", "no_such_model"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_convert_unknown_family(capsys, tmp_path) -> None:
    (tmp_path / "x.bin").write_bytes(b"")
    assert main(["convert", "nope", str(tmp_path / "x.bin"), str(tmp_path / "out")]) == 2
    assert "no official-checkpoint converter" in capsys.readouterr().err


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "posezoo", "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("posezoo 0.1.0.dev0")
    with pytest.raises(SystemExit):
        main(["--help"])


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_closed_pipe_is_not_a_traceback(unbuffered: str) -> None:
    """`posezoo list | head`: the reader closes the pipe early; the command stops quietly with 141."""
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    proc = subprocess.Popen(
        [sys.executable, "-m", "posezoo", "list"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the only reader is gone before the command writes anything
    _, err = proc.communicate(timeout=120)
    assert err.decode() == ""  # no BrokenPipeError traceback, no "Exception ignored" at exit
    assert proc.returncode == 141

"""The posezoo command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from posezoo.cli import main

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
    assert lines[0] == "| name | family | frames | params | notes |"
    assert lines[2] == f"| `{tiny_name}` | _test | 5 | 81 |  |"


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
    proc = subprocess.Popen([sys.executable, "-m", "posezoo", "list"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the only reader is gone before the command writes anything
    _, err = proc.communicate(timeout=120)
    assert err.decode() == ""  # no BrokenPipeError traceback, no "Exception ignored" at exit
    assert proc.returncode == 141

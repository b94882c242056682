"""posezoo's bundled weights: bundle -> discover -> create_model(pretrained=True), sha256, metadata errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import posezoo
from posezoo.models import WeightsError, bundle_weights, discover_bundled_weights
from posezoo.models._bundled import (
    REQUIRED_META_FIELDS,
    WEIGHTS_DIR,
    _source_of,
    read_weights_meta,
)
from posezoo.models._registry import _detach_weights, get_model_entry
from posezoo.models._weights import sha256_file

from .conftest import REPO_ROOT

METRICS = {"mpjpe_mm": 48.25, "mpjpe_noisy_mm": 61.5, "p_mpjpe_mm": 35.0}
COMMAND = "posezoo train _test_tiny_lifter --seed 3"


@pytest.fixture
def detach(tiny_name: str):
    """Remove every tag the test attaches to the tiny model."""
    before = set(get_model_entry(tiny_name).weights)
    yield
    for tag in set(get_model_entry(tiny_name).weights) - before:
        _detach_weights(tiny_name, tag)


def _saved_model(tiny_name: str, directory: Path, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = posezoo.create_model(tiny_name).eval()
    posezoo.save_pretrained(model, directory)
    return model


def _bundle(tiny_name: str, tmp_path: Path, tag: str = "cmu", **kw) -> Path:
    return bundle_weights(
        tmp_path / "run",
        tiny_name,
        tag,
        metrics=METRICS,
        command=COMMAND,
        extra={"seed": 3, "data": "cmu_mocap17 train+extra", "config": {"lr": 1e-3}},
        root=tmp_path / "weights",
        **kw,
    )


def test_bundle_discover_and_load_round_trip(tiny_name: str, tmp_path: Path, detach) -> None:
    model = _saved_model(tiny_name, tmp_path / "run")
    folder = _bundle(tiny_name, tmp_path)
    assert folder == tmp_path / "weights" / tiny_name / "cmu"
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "model.safetensors"]
    meta = json.loads((folder / "meta.json").read_text())
    assert set(REQUIRED_META_FIELDS) <= set(meta)
    assert meta["sha256"] == sha256_file(folder / "model.safetensors")
    assert meta["metrics"] == METRICS and meta["model"] == tiny_name and meta["tag"] == "cmu"
    assert meta["extra"]["command"] == COMMAND and meta["extra"]["seed"] == 3
    assert meta["extra"]["model_config"] == {"num_frames": 5, "num_joints": 17, "dim": 8, "in_channels": 2}
    assert meta["input_spec"]["num_frames"] == 5 and meta["input_spec"]["joint_layout"] == "h36m"

    found = discover_bundled_weights(tmp_path / "weights")
    assert [name for name, _ in found] == [tiny_name]
    assert found[0][1].source == "bundled:" + str((folder / "model.safetensors").resolve())
    assert get_model_entry(tiny_name).default_tag == "cmu"
    assert tiny_name in posezoo.list_models(pretrained=True)

    for pretrained in (True, "cmu"):
        loaded = posezoo.create_model(tiny_name, pretrained=pretrained).eval()
        for key, value in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), key
        x = torch.randn(2, 5, 17, 2)
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
        assert loaded.pretrained_cfg["tag"] == "cmu"
        assert loaded.pretrained_cfg["sha256"] == meta["sha256"]
        assert loaded.pretrained_cfg["metrics"] == METRICS

    info = posezoo.model_info(tiny_name)
    assert info["test_mpjpe_mm"] == 48.25 and info["test_mpjpe_noisy_mm"] == 61.5
    assert info["weights"]["cmu"]["extra"]["command"] == COMMAND


def test_corrupted_bundled_file_fails_sha256(tiny_name: str, tmp_path: Path, detach) -> None:
    _saved_model(tiny_name, tmp_path / "run")
    folder = _bundle(tiny_name, tmp_path)
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip the last byte of the last tensor
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 mismatch") as err:
        posezoo.create_model(tiny_name, pretrained=True)
    assert str(path.resolve()) in str(err.value)


def test_cmu_becomes_the_default_tag(tiny_name: str, tmp_path: Path, detach) -> None:
    _saved_model(tiny_name, tmp_path / "run")
    _bundle(tiny_name, tmp_path, tag="v0")
    assert get_model_entry(tiny_name).default_tag == "v0"
    _bundle(tiny_name, tmp_path, tag="cmu")
    _bundle(tiny_name, tmp_path, tag="v1")
    entry = get_model_entry(tiny_name)
    assert entry.default_tag == "cmu" and sorted(entry.weights) == ["cmu", "v0", "v1"]


def test_bundle_takes_a_run_directory_and_refuses_overwrite(tiny_name: str, tmp_path: Path, detach) -> None:
    model = _saved_model(tiny_name, tmp_path / "run" / "best")
    folder = _bundle(tiny_name, tmp_path)
    assert (folder / "model.safetensors").read_bytes() == (tmp_path / "run" / "best" / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _bundle(tiny_name, tmp_path)
    _saved_model(tiny_name, tmp_path / "run", seed=1)  # run/model.safetensors now wins over run/best/
    _bundle(tiny_name, tmp_path, overwrite=True)
    loaded = posezoo.create_model(tiny_name, pretrained=True)
    assert not torch.equal(loaded.head.weight, model.head.weight)


def test_bundle_validates_its_inputs(tiny_name: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run does not exist"):
        _bundle(tiny_name, tmp_path, attach=False)
    (tmp_path / "run").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no model.safetensors"):
        _bundle(tiny_name, tmp_path, attach=False)
    torch.manual_seed(0)
    posezoo.save_pretrained(posezoo.create_model(tiny_name, num_frames=6), tmp_path / "run")
    with pytest.raises(ValueError, match=r"num_frames: run 6 vs _test_tiny_lifter 5"):
        _bundle(tiny_name, tmp_path, attach=False)
    _saved_model(tiny_name, tmp_path / "run")
    with pytest.raises(ValueError, match="command"):
        bundle_weights(tmp_path / "run", tiny_name, metrics=METRICS, command=" ", root=tmp_path / "w")
    with pytest.raises(ValueError, match="finite number"):
        bundle_weights(
            tmp_path / "run", tiny_name, metrics={"mpjpe_mm": float("nan")}, command="x", root=tmp_path / "w"
        )
    with pytest.raises(ValueError, match="max_size_mb"):
        _bundle(tiny_name, tmp_path, max_size_mb=1e-6, attach=False)
    assert not (tmp_path / "weights").exists()


def _valid_folder(tiny_name: str, tmp_path: Path) -> Path:
    _saved_model(tiny_name, tmp_path / "run")
    return _bundle(tiny_name, tmp_path, attach=False)


def test_weights_of_an_unregistered_model_name_the_folder(tiny_name: str, tmp_path: Path) -> None:
    folder = _valid_folder(tiny_name, tmp_path)
    stray = tmp_path / "weights" / "no_such_model" / "cmu"
    stray.mkdir(parents=True)
    meta = json.loads((folder / "meta.json").read_text())
    (stray / "meta.json").write_text(json.dumps({**meta, "model": "no_such_model"}))
    (stray / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="not a registered model") as err:
        discover_bundled_weights(tmp_path / "weights")
    assert str(stray) in str(err.value)
    assert "cmu" not in get_model_entry(tiny_name).weights  # nothing attached when a folder is bad


@pytest.mark.parametrize("field", ["license", "sha256", "metrics", "description"])
def test_meta_json_missing_a_field_names_the_folder(tiny_name: str, tmp_path: Path, field: str) -> None:
    folder = _valid_folder(tiny_name, tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    del meta[field]
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=f"lacks the field\\(s\\) {field}") as err:
        discover_bundled_weights(tmp_path / "weights")
    assert str(folder) in str(err.value)


def test_meta_json_other_defects(tiny_name: str, tmp_path: Path) -> None:
    folder = _valid_folder(tiny_name, tmp_path)
    good = json.loads((folder / "meta.json").read_text())
    cases = [
        ({**good, "tag": "other"}, "the folder must be"),
        ({**good, "metrics": [48.0]}, "field 'metrics' must be a dict"),
        ({**good, "metrics": {"mpjpe_mm": "48"}}, "must be a finite number"),
        ({**good, "sha256": "abc"}, "64 lower-case hex"),
    ]
    for meta, message in cases:
        (folder / "meta.json").write_text(json.dumps(meta))
        with pytest.raises(ValueError, match=message):
            read_weights_meta(folder)
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_weights_meta(folder)
    (folder / "meta.json").unlink()
    with pytest.raises(ValueError, match=f"{folder} holds no meta.json"):
        discover_bundled_weights(tmp_path / "weights")


def test_sources_inside_the_package_are_relative() -> None:
    file = WEIGHTS_DIR / "rtpca_small" / "cmu" / "model.safetensors"
    assert _source_of(file) == "bundled:weights/rtpca_small/cmu/model.safetensors"


def test_the_package_weights_are_valid_and_packaged() -> None:
    """Every folder under posezoo/weights/ (once weights land) is registered, complete and intact."""
    for name, meta in discover_bundled_weights(attach=False):
        path = WEIGHTS_DIR / name / meta.tag / "model.safetensors"
        assert meta.source == f"bundled:weights/{name}/{meta.tag}/model.safetensors"
        assert sha256_file(path) == meta.sha256, path
        assert path.stat().st_size <= 15e6
        assert get_model_entry(name).weights[meta.tag] == meta
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    package_data = pyproject.split("[tool.setuptools.package-data]")[1].split("\n[")[0]
    assert '"weights/*/*/model.safetensors"' in package_data and '"weights/*/*/meta.json"' in package_data

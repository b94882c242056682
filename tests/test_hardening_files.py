"""Issue 13 reproducers for untrusted files: hostile .h5, corrupt checkpoints, bombs, configs, CLI, hub."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import posezoo
from posezoo._validation import limits
from posezoo.cli import main
from posezoo.convert import UnsafeCheckpointError, from_official
from posezoo.data import load_clips
from posezoo.data._safe_npz import load_npz_safe
from posezoo.data.h36m import load_h36m_2d, load_h36m_3d
from posezoo.models import WeightsError

from .conftest import FIXTURES

UU = FIXTURES / "uplift_upsample" / "n27_s333_duta"
RTPCA_CKPT = FIXTURES / "rtpca" / "f243_d32_depth3_b2" / "checkpoint.bin"
MSF_CKPT = FIXTURES / "mixsynthformer" / "h36m3d_si10_step10_e64_l4_rt4_rc1_b2" / "checkpoint.pth.tar"
GROUP, KERNEL = "spatial_to_temporal_fc", "spatial_to_temporal_fc/kernel:0"


def _copy_h5(dst: Path) -> None:
    with h5py.File(UU / "weights.h5", "r") as fin, h5py.File(dst, "w") as fout:
        for key, value in fin.attrs.items():
            fout.attrs[key] = value
        for name in fin:
            fin.copy(fin[name], fout, name=name)


def _secret(tmp_path: Path, nbytes: int) -> Path:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(nbytes // 4, dtype=np.float32).tobytes())
    return secret


def _kernel_shape() -> tuple[int, ...]:
    with h5py.File(UU / "weights.h5", "r") as f:
        return f[GROUP][KERNEL].shape


def _refused(path: Path, match: str, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=match):
        from_official("uplift_upsample", path, config=UU / "config.json")
    out = tmp_path / "converted"
    assert main(["convert", "uplift_upsample", str(path), str(out), "--config", str(UU / "config.json")]) == 2
    assert not (out / "model.safetensors").exists()


# ---------------------------------------------------------------- hostile Keras .h5


def test_h5_external_storage_is_refused(tmp_path: Path, capsys) -> None:
    shape = _kernel_shape()
    secret = _secret(tmp_path, int(np.prod(shape)) * 4)
    path = tmp_path / "external.h5"
    _copy_h5(path)
    with h5py.File(path, "a") as f:
        del f[GROUP][KERNEL]
        f[GROUP].create_dataset(KERNEL, shape=shape, dtype="f4", external=[(str(secret), 0, secret.stat().st_size)])
    _refused(path, "external storage", tmp_path)
    assert "external storage" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["external_link", "soft_link", "absolute_name"])
def test_h5_links_and_names_outside_the_group_are_refused(kind: str, tmp_path: Path) -> None:
    shape = _kernel_shape()
    path = tmp_path / f"{kind}.h5"
    _copy_h5(path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("stolen", data=np.ones(shape, np.float32))
    with h5py.File(path, "a") as f:
        if kind == "absolute_name":  # weight_names pointing into another group of the file
            f.create_dataset("elsewhere/kernel:0", data=np.ones(shape, np.float32))
            names = [n.decode() for n in f[GROUP].attrs["weight_names"]]
            f[GROUP].attrs["weight_names"] = [b"/elsewhere/kernel:0"] + [n.encode() for n in names[1:]]
        else:
            del f[GROUP][KERNEL]
            link = h5py.ExternalLink(str(other), "/stolen") if kind == "external_link" else h5py.SoftLink("/elsewhere")
            if kind == "soft_link":
                f.create_dataset("elsewhere", data=np.ones(shape, np.float32))
            f[GROUP][KERNEL] = link
    _refused(path, "not a relative path" if kind == "absolute_name" else "link", tmp_path)


def test_h5_integer_weights_and_non_hdf5_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ints.h5"
    _copy_h5(path)
    with h5py.File(path, "a") as f:
        shape = f[GROUP][KERNEL].shape
        del f[GROUP][KERNEL]
        f[GROUP].create_dataset(KERNEL, data=np.ones(shape, np.int32))
    with pytest.raises(WeightsError, match="floating point"):
        from_official("uplift_upsample", path, config=UU / "config.json")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(WeightsError, match="not a readable HDF5 file"):
        from_official("uplift_upsample", junk, config=UU / "config.json")


# ---------------------------------------------------------------- corrupt checkpoints and safetensors


@pytest.mark.parametrize("family,source", [("rtpca", RTPCA_CKPT), ("mixsynthformer", MSF_CKPT)])
def test_truncated_and_corrupt_checkpoints_raise_weights_error(family: str, source: Path, tmp_path: Path) -> None:
    data = source.read_bytes()
    rng = np.random.default_rng(0)
    cases = [data[:n] for n in (0, 10, 100, 1000, len(data) // 2, len(data) - 1)]
    for _ in range(6):  # flip a few bytes in place
        b = bytearray(data)
        for i in rng.integers(0, len(b), size=8):
            b[i] ^= 0xFF
        cases.append(bytes(b))
    cases.append(rng.bytes(5000))
    for i, blob in enumerate(cases):
        path = tmp_path / f"c{i}{''.join(source.suffixes)}"
        path.write_bytes(blob)
        try:
            from_official(family, path)
        except (WeightsError, ValueError, TypeError) as exc:
            assert str(exc), f"case {i}: empty message"
        # a flipped byte inside a float payload may still load: that is fine, the file stays a checkpoint


def test_unsafe_pickle_is_a_weights_error_too(tmp_path: Path) -> None:
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"payload": Exploit()}, tmp_path / "evil.bin")
    with pytest.raises(UnsafeCheckpointError) as info:
        from_official("rtpca", tmp_path / "evil.bin")
    assert isinstance(info.value, WeightsError) and isinstance(info.value, pickle.UnpicklingError)


def test_non_floating_official_tensors_are_refused(tmp_path: Path) -> None:
    ckpt = torch.load(RTPCA_CKPT, map_location="cpu", weights_only=False)
    state = ckpt["model_pos"]
    key = next(k for k in state if k.endswith("head.1.weight"))
    state[key] = state[key].to(torch.int64)
    torch.save(ckpt, tmp_path / "ints.bin")
    with pytest.raises(WeightsError, match=r"non-floating tensors: .*head\.1\.weight \(torch\.int64\)"):
        from_official("rtpca", tmp_path / "ints.bin")


def test_safetensors_corrupt_and_integer_weights(tiny_name: str, tmp_path: Path) -> None:
    model = posezoo.create_model(tiny_name)
    good = tmp_path / "good.safetensors"
    save_file(model.state_dict(), str(good))
    (tmp_path / "trunc.safetensors").write_bytes(good.read_bytes()[:50])
    with pytest.raises(WeightsError, match="not a readable .safetensors file"):
        posezoo.load_weights(model, tmp_path / "trunc.safetensors")
    ints = {k: v.to(torch.int32) if k == "head.weight" else v for k, v in model.state_dict().items()}
    save_file(ints, str(tmp_path / "ints.safetensors"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(WeightsError, match=r"non-floating tensors for floating parameters \(1\): head.weight"):
        posezoo.load_weights(model, tmp_path / "ints.safetensors")
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


# ---------------------------------------------------------------- sizes from files


def _saved_config(tmp_path: Path, name: str, config) -> Path:
    d = tmp_path / "saved"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(
        json.dumps({"architecture": name, "config": config}) if not isinstance(config, str) else config
    )
    return d


@pytest.mark.parametrize(
    "override,match",
    [
        ({"tpca_stages": 10**12}, "tpca_stages must be a positive int <= 256"),
        ({"depth": 10**7}, "depth must be a positive int <= 256"),
        ({"num_joints": "17"}, "num_joints must be a positive int"),
    ],
)
def test_huge_or_mistyped_sizes_in_config_json_fail_fast(override: dict, match: str, tmp_path: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        posezoo.from_pretrained(_saved_config(tmp_path, "rtpca_small", override))
    assert time.perf_counter() - start < 5


def test_deeply_nested_config_json_is_refused(tmp_path: Path) -> None:
    nested = '{"architecture": "rtpca_small", "config": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(ValueError, match="nested deeper than"):
        posezoo.from_pretrained(_saved_config(tmp_path, "", nested))


def test_mixsynthformer_checkpoint_with_a_huge_empty_tensor_fails_fast(tmp_path: Path) -> None:
    layer = "encoder.layers.0."
    state = {
        "encoder_emb.weight": torch.empty(10**12, 0),  # width 10**12, no elements
        "l_interp.weight": torch.zeros(11, 2),
        layer + "synth_att.synth_token.dense.weight": torch.zeros(3, 1),
        layer + "synth_att.synth_channel.dense.weight": torch.zeros(1, 11),
        layer + "ff.fc1.weight": torch.zeros(2, 1),
    }
    torch.save({"state_dict": state}, tmp_path / "tiny.pth.tar")
    start = time.perf_counter()
    with pytest.raises(WeightsError):
        from_official("mixsynthformer", tmp_path / "tiny.pth.tar")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    "family,config,error",
    [
        ("mixsynthformer", {"in_channels": 0}, ValueError),
        ("rtpca", {"num_heads": 0}, ValueError),
        ("rtpca", {"mlp_ratio": float("inf")}, ValueError),
        ("uplift_upsample", {1: 2}, TypeError),
        ("uplift_upsample", {"SEQUENCE_LENGTH": 27, "STRIDES": [0, 0, 0]}, ValueError),
        ("uplift_upsample", {"SEQUENCE_LENGTH": 27, "SEQUENCE_STRIDE": 0}, ValueError),
    ],
)
def test_converter_configs_with_zeros_or_odd_keys(family: str, config: dict, error: type) -> None:
    ckpt = {"mixsynthformer": MSF_CKPT, "rtpca": RTPCA_CKPT, "uplift_upsample": UU / "weights.h5"}[family]
    with pytest.raises(error) as info:
        from_official(family, ckpt, config=config)
    assert str(info.value)


def test_npz_decompression_bomb_is_refused_and_the_limit_configurable(tmp_path: Path, monkeypatch) -> None:
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, positions_3d=np.zeros((48 << 20) // 4, np.float32))  # 48 MiB of zeros
    assert bomb.stat().st_size < 400_000
    start = time.perf_counter()
    with pytest.raises(ValueError, match="decompression bomb"):
        load_npz_safe(bomb)
    with pytest.raises(ValueError, match="max_compression_ratio"):
        load_h36m_3d(bomb)
    assert time.perf_counter() - start < 5
    monkeypatch.setattr(limits, "max_compression_ratio", 10**6)
    assert load_npz_safe(bomb)["positions_3d"].shape == ((48 << 20) // 4,)
    monkeypatch.setattr(limits, "max_decompressed_bytes", 1 << 20)
    with pytest.raises(ValueError, match="max_decompressed_bytes"):
        load_npz_safe(bomb)


def test_npz_header_claiming_a_huge_shape_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("clip.npy", buf.getvalue() + b"\0" * 64)
    with pytest.raises(ValueError, match="header declares"):
        load_clips(path)


def _pickled_npz(path: Path, **entries) -> None:
    np.savez(path, **{k: np.array(v, dtype=object) for k, v in entries.items()})


@pytest.mark.parametrize(
    "positions,match",
    [
        ({"S1": {"Walking": np.full((5, 32, 3), np.nan)}}, "NaN or inf"),
        ({"S1": {"Walking": np.zeros((5, 32, 3), np.complex64)}}, "real numbers"),
        ({"S1": {"Walking": np.full((5, 32, 3), "x")}}, "real numbers"),
        ({"S1": [np.zeros((5, 32, 3))]}, r"positions_3d\['S1'\] \(a dict of actions\) must be a dict"),
        ([1, 2], "must be a dict"),
    ],
)
def test_h36m_reader_refuses_bad_arrays_and_nesting(positions, match: str, tmp_path: Path) -> None:
    _pickled_npz(tmp_path / "d.npz", positions_3d=positions)
    with pytest.raises(ValueError, match=match):
        load_h36m_3d(tmp_path / "d.npz")


def test_h36m_2d_num_joints_must_be_an_int(tmp_path: Path) -> None:
    cams = [np.zeros((4, 17, 2), np.float32)] * 4
    _pickled_npz(tmp_path / "d.npz", positions_2d={"S1": {"Walking": cams}}, metadata={"num_joints": "17"})
    with pytest.raises(ValueError, match="metadata num_joints must be a positive int, got '17'"):
        load_h36m_2d(tmp_path / "d.npz")


# ---------------------------------------------------------------- CLI and hub


def test_cli_answers_every_error_with_one_line_and_status_2(tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "bad.bin").write_bytes(b"\x80\x04garbage")
    assert main(["convert", "rtpca", str(tmp_path / "bad.bin"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("posezoo convert: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert main(["convert", "rtpca", str(tmp_path / "missing.bin"), str(tmp_path / "out")]) == 2
    assert "not found" in capsys.readouterr().err

    def broken(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("posezoo.cli._cmd_info", broken)
    assert main(["info", "rtpca_small"]) == 2
    err = capsys.readouterr().err
    assert (
        err == "posezoo info: error: internal error RuntimeError: boom second line "
        "(please report it; POSEZOO_TRACEBACK=1 shows the traceback)\n"
    )


def test_cli_subprocess_prints_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "x.h5").write_bytes(b"junk")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "posezoo",
            "convert",
            "uplift_upsample",
            str(tmp_path / "x.h5"),
            str(tmp_path / "o"),
            "--config",
            '{"SEQUENCE_LENGTH": 27}',
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("posezoo convert: error: ") and proc.stderr.count("\n") == 1


def test_hub_without_network_fails_fast_with_the_offline_message(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match=r"127\.0\.0\.1:9 is unreachable.*huggingface-cli download org/absent"):
        posezoo.from_pretrained("hf-hub:org/absent", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="only the local cache was searched"):
        posezoo.create_model("rtpca_small", pretrained="hf-hub:org/absent", cache_dir=tmp_path)
    assert time.perf_counter() - start < 8

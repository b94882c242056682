"""Deployment export: torch.export programs with a dynamic batch for every family, ONNX files that
onnxruntime runs to within 1e-4 of PyTorch, and the ``posezoo export`` command."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import posezoo
from posezoo.cli import main
from posezoo.export import example_inputs, export_onnx, export_program, io_names, load_model

FAMILIES = ["rtpca_small", "mixste_small", "uplift_upsample_small", "mixsynthformer_h36m_3d"]
_PROGRAMS: dict[str, tuple[torch.nn.Module, torch.export.ExportedProgram]] = {}


def _program(name: str) -> tuple[torch.nn.Module, torch.export.ExportedProgram]:
    """One random-init model and its dynamic-batch program per name, shared by the tests of this file."""
    if name not in _PROGRAMS:
        torch.manual_seed(0)
        model = posezoo.create_model(name).eval()
        _PROGRAMS[name] = model, export_program(model)
    return _PROGRAMS[name]


def _outputs(out) -> list[torch.Tensor]:
    return [out] if isinstance(out, torch.Tensor) else [t for t in (out.full, out.central) if t is not None]


@pytest.mark.parametrize("name", FAMILIES)
def test_torch_export_program_has_a_dynamic_batch(name: str) -> None:
    model, program = _program(name)
    for batch in (1, 5):  # a program with a fixed batch would refuse batch 1 or 5 (it was traced at 2)
        torch.manual_seed(batch)
        inputs = example_inputs(model, batch)
        with torch.no_grad():
            got, expected = _outputs(program.module()(*inputs)), _outputs(model(*inputs))
        assert len(got) == len(expected) == len(io_names(model)[1])
        for g, e in zip(got, expected):
            assert g.shape == e.shape and g.shape[0] == batch
            torch.testing.assert_close(g, e, atol=1e-5, rtol=0)
            assert e.abs().max() > 1e-3


def _ort_run(path, inputs: tuple[torch.Tensor, ...]) -> list[np.ndarray]:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)})


# the ONNX path of RTPCA (TPCA, XLR) was checked as well (max |diff| 2e-7); the suite exports
# MixSTE, whose blocks RTPCA shares, to stay fast. A fixed batch here (half the export time); the
# CLI test below exports a dynamic batch.
@pytest.mark.parametrize("name", ["mixste_small", "uplift_upsample_small"])
def test_onnxruntime_reproduces_pytorch(name: str, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    model = _program(name)[0]
    path = export_onnx(model, tmp_path / f"{name}.onnx", batch_size=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.onnx"]  # weights inside the file
    torch.manual_seed(7)
    inputs = example_inputs(model, 2)
    got = _ort_run(path, inputs)
    with torch.no_grad():
        expected = _outputs(model(*inputs))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == tuple(e.shape)
        np.testing.assert_allclose(g, e.numpy(), atol=1e-4, rtol=0)
    if name.startswith("uplift"):  # the stride mask is a real input: another mask changes the result
        other = (inputs[0], torch.ones_like(inputs[1]))
        changed = _ort_run(path, other)[1]
        with torch.no_grad():
            np.testing.assert_allclose(changed, model(*other).central.numpy(), atol=1e-4, rtol=0)
        assert np.abs(changed - got[1]).max() > 1e-4


def test_cli_export_of_a_saved_model_with_dynamic_batch(tmp_path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    torch.manual_seed(3)
    model = posezoo.create_model("mixsynthformer_h36m_3d").eval()
    saved = posezoo.save_pretrained(model, tmp_path / "saved")
    out = tmp_path / "refiner.onnx"
    assert main(["export", str(saved), str(out), "--dynamic-batch", "--opset", "18"]) == 0
    text = capsys.readouterr().out
    assert "opset 18, batch dynamic" in text and "onnxruntime agrees with PyTorch" in text
    import onnx

    graph = onnx.load(str(out))
    assert [i.name for i in graph.graph.input] == ["poses"] and [o.name for o in graph.graph.output] == ["refined"]
    assert graph.opset_import[0].version == 18 and len(graph.graph.initializer) > 0  # weights in the file
    x = 0.3 * torch.randn(6, 101, 17, 3)  # another batch size than the check's
    with torch.no_grad():
        np.testing.assert_allclose(_ort_run(out, (x,))[0], model(x).numpy(), atol=1e-4, rtol=0)


def test_load_model_and_cli_errors(tmp_path, capsys) -> None:
    with pytest.raises(ValueError, match="neither a registered model"):
        load_model("no_such_model")
    with pytest.raises(ValueError, match="drop --weights"):
        load_model(str(tmp_path), weights=tmp_path)
    bundled = load_model("uplift_upsample_small")  # bundled weights, no warning
    assert bundled.pretrained_cfg["tag"] == "cmu"
    with pytest.warns(UserWarning, match="no bundled weights: exporting a randomly initialised model"):
        assert load_model("mixsynthformer_3dpw_3d").pretrained_cfg.get("tag") is None  # a variant without weights
    assert main(["export", "no_such_model", str(tmp_path / "x.onnx")]) == 2
    assert "neither a registered model" in capsys.readouterr().err
    assert main(["export", "mixste_small", str(tmp_path / "x.txt"), "--no-check"]) == 2
    assert "must end in .onnx" in capsys.readouterr().err
    assert main(["export", "mixste_small", str(tmp_path / "x.onnx"), "--dynamic-batch", "--batch-size", "2"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
    assert main(["export", "mixste_small", str(tmp_path / "x.onnx"), "--opset", "17"]) == 2
    assert "--opset must be" in capsys.readouterr().err
    with pytest.raises(TypeError, match="nn.Module"):
        export_program("rtpca_small")
    static = export_program(_program("mixste_small")[0], dynamic_batch=False)
    with pytest.raises(Exception, match="size"):
        static.module()(torch.randn(2, 27, 17, 2))  # traced at batch 1

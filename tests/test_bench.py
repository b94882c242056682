"""``posezoo bench``: runs on tiny configurations and writes the documented JSON (no timing asserted)."""

from __future__ import annotations

import json

import pytest

from posezoo import bench
from posezoo.cli import main

RUN_KEYS = {
    "batch",
    "variant",
    "dtype",
    "median_ms",
    "output_frames_per_s",
    "achieved_gflops",
    "peak_fraction",
    "peak_memory_mb",
    "max_abs_diff_vs_eager_float32",
    "prepare_s",
    "first_call_s",
}


def test_bench_command_writes_json_and_markdown(tmp_path, capsys, tiny_name: str) -> None:
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            tiny_name,
            "uplift_upsample_small",
            "--batch",
            "1",
            "3",
            "--repeats",
            "1",
            "--dtype",
            "float32",
            "bfloat16",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "| model | batch | variant |" in text and "optimized bfloat16" in text and f"wrote {out}" in text
    data = json.loads(out.read_text())
    assert set(data["environment"]) == {"torch", "device", "threads", "cpu", "cpu_count", "device_name"}
    assert [m["name"] for m in data["models"]] == [tiny_name, "uplift_upsample_small"]
    for model in data["models"]:
        assert {
            "name",
            "family",
            "params",
            "output_frames_per_clip",
            "flops_per_clip",
            "flops_per_output_frame",
            "runs",
            "train",
        } <= set(model)
        assert model["flops_per_clip"] > 0 and model["params"] > 0
        variants = {(r["batch"], r["variant"]) for r in model["runs"]}
        assert variants == {
            (b, v)
            for b in (1, 3)
            for v in ("eager float32", "optimized float32", "eager bfloat16 (autocast)", "optimized bfloat16")
        }
        for run in model["runs"]:
            assert set(run) == RUN_KEYS
            assert run["median_ms"] > 0 and run["peak_memory_mb"] >= 0
            assert run["output_frames_per_s"] == pytest.approx(
                run["batch"] * model["output_frames_per_clip"] / (run["median_ms"] / 1e3)
            )
            if run["variant"] == "eager float32":
                assert run["max_abs_diff_vs_eager_float32"] == 0.0
            elif run["variant"] == "optimized float32":
                assert run["max_abs_diff_vs_eager_float32"] <= 1e-4 and run["prepare_s"] > 0
        assert model["train"]["batch"] == 3 and model["train"]["clips_per_s"] > 0


def test_bench_uplift_flops_are_per_output_frame() -> None:
    result = bench.benchmark_model("uplift_upsample_small", batches=[1], dtypes=["float32"], repeats=1, train=False)
    assert "train" not in result
    assert result["flops_per_output_frame"] == pytest.approx(
        result["flops_per_clip"] / result["output_frames_per_clip"]
    )
    assert {r["variant"] for r in result["runs"]} == {"eager float32", "optimized float32"}


def test_default_throughput_batch() -> None:
    assert bench.default_throughput_batch(3e11) == 2  # paper-size RTPCA: ~300 GFLOP per clip
    assert bench.default_throughput_batch(1e8) == 200
    assert bench.default_throughput_batch(1e3) == 256


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bench", "no_such_model_*", "--repeats", "1"], "no registered model matches"),
        (["bench", "rtpca_small", "--device", "cuda:7"], "device"),
    ],
)
def test_bench_errors_are_one_line(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bench_rejects_bad_batch(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "rtpca_small", "--batch", "0"])
    assert "batch must be 1..4096" in capsys.readouterr().err

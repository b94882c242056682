"""``posezoo bench``: latency, throughput, memory and FLOP/s of registered models, eager vs optimised.

For every model and batch size the variants (eager / :func:`posezoo.optimize_for_inference` /
``torch.compile``, each in float32 and reduced precision) are timed **interleaved** (one call of each,
repeated), so that their ratios come from the same conditions; each reports its median. Eager reduced
precision is autocast; the optimised one converts the weights once. Also reported: FLOPs per output
frame (:func:`posezoo.count_flops`), achieved FLOP/s (and the fraction of the device's peak where it is
known), peak memory of a call (CUDA allocator; on the CPU from ``torch.profiler``'s memory events), the largest difference from eager float32, and the throughput of a
training step (forward + backward + AdamW, float32).

Wall-clock numbers depend on the machine and its load; compare ratios measured in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import torch
from torch import nn

from ._validation import check_device

__all__ = ["benchmark_models", "benchmark_model", "format_markdown", "add_bench_parser", "PEAK_TFLOPS"]

DTYPE_NAMES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: dense peak TFLOP/s of some accelerators (vendor data sheets, SXM parts): {name fragment: {dtype: peak}}
PEAK_TFLOPS = {
    "H200": {"float32": 67.0, "bfloat16": 989.0, "float16": 989.0},
    "H100": {"float32": 67.0, "bfloat16": 989.0, "float16": 989.0},
    "A100": {"float32": 19.5, "bfloat16": 312.0, "float16": 312.0},
}
#: FLOPs of one "throughput" call that picks the default large batch
THROUGHPUT_CALL_FLOPS = 2e10


def _outputs(out: Any) -> list[torch.Tensor]:
    """The tensors of a model output (a tensor, or Uplift-and-Upsample's ``full`` / ``central``)."""
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for t in (getattr(out, "full", None), getattr(out, "central", None)) if isinstance(t, torch.Tensor)]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at the null device for the block: the profiler's native start/stop log
    lines (written by C++, not through ``sys.stderr``) would otherwise interleave with the table."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stderr (e.g. captured by a test)
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _peak_memory_mb(fn: Callable, inputs: tuple, device: torch.device) -> Optional[float]:
    """Memory one call allocates at its peak, in MiB, beyond what existed before it: the CUDA allocator's
    peak, or on the CPU the running sum of the allocations and frees that ``torch.profiler`` records
    (``profile_memory=True``) in the order they happen."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn(*inputs)
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    from torch.profiler import ProfilerActivity, profile

    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn(*inputs)
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    current = peak = 0
    for event in events:
        current += event.self_cpu_memory_usage
        peak = max(peak, current)
    return peak / 2**20


def _peak_flops(device: torch.device, dtype: str) -> Optional[float]:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for fragment, peaks in PEAK_TFLOPS.items():
        if fragment in name:
            return peaks[dtype] * 1e12
    return None


def _variants(model: nn.Module, dtypes: Sequence[str], compile_too: bool, device: torch.device) -> dict[str, Callable]:
    from .inference.optimize import optimize_for_inference

    out: dict[str, Callable] = {}
    prepare: dict[str, float] = {}
    for dtype_name in dtypes:
        dtype = DTYPE_NAMES[dtype_name]
        if dtype == torch.float32:
            out["eager float32"] = model
        else:

            def autocast_call(*x: Any, _dtype: torch.dtype = dtype) -> Any:
                with torch.autocast(device.type, dtype=_dtype):
                    return model(*x)

            out[f"eager {dtype_name} (autocast)"] = autocast_call
        start = time.perf_counter()
        out[f"optimized {dtype_name}"] = optimize_for_inference(model, dtype, device=device)
        prepare[f"optimized {dtype_name}"] = time.perf_counter() - start
        if compile_too:
            out[f"compiled {dtype_name}"] = optimize_for_inference(model, dtype, backend="compile", device=device)
    out["_prepare"] = prepare  # type: ignore[assignment]
    return out


def default_throughput_batch(flops_per_clip: float) -> int:
    """Clips per call for the throughput run: about :data:`THROUGHPUT_CALL_FLOPS` per call, 2 to 256."""
    return int(max(2, min(256, THROUGHPUT_CALL_FLOPS // max(flops_per_clip, 1.0))))


def benchmark_model(
    name: str,
    *,
    batches: Sequence[Optional[int]] = (1, None),
    dtypes: Sequence[str] = ("float32", "bfloat16"),
    device: str = "cpu",
    repeats: int = 5,
    compile_too: bool = False,
    train: bool = True,
) -> dict[str, Any]:
    """Benchmark one registered model (random weights). ``None`` in ``batches`` = the throughput batch
    (:func:`default_throughput_batch`). Returns the JSON-ready dict described in ``docs/speed.md``."""
    from .models import count_parameters, create_model, get_model_entry
    from .utils import count_flops, example_input

    dev = check_device(device)
    model = create_model(name).to(dev).eval()
    frames = getattr(model, "num_output_frames", None) or getattr(model, "num_frames", None) or 1
    flops = count_flops(model, *example_input(model, 1))
    result: dict[str, Any] = {
        "name": name,
        "family": get_model_entry(name).family,
        "params": count_parameters(model),
        "output_frames_per_clip": frames,
        "flops_per_clip": flops,
        "flops_per_output_frame": flops / frames,
        "runs": [],
    }
    variants = _variants(model, dtypes, compile_too, dev)
    prepare = variants.pop("_prepare")
    sizes = sorted({b if b is not None else default_throughput_batch(flops) for b in batches})
    for batch in sizes:
        torch.manual_seed(0)
        inputs = example_input(model, batch)
        times: dict[str, list[float]] = {k: [] for k in variants}
        memory: dict[str, Optional[float]] = {}
        first: dict[str, float] = {}
        diffs: dict[str, float] = {}
        with torch.inference_mode():
            reference = [t.float() for t in _outputs(model(*inputs))]
            for key, fn in variants.items():  # warm-up (compiles), accuracy, memory
                start = time.perf_counter()
                out = _outputs(fn(*inputs))
                _sync(dev)
                first[key] = time.perf_counter() - start
                memory[key] = _peak_memory_mb(fn, inputs, dev)
                diffs[key] = max((o.float() - r).abs().max().item() for o, r in zip(out, reference))
            for _ in range(repeats):
                for key, fn in variants.items():
                    start = time.perf_counter()
                    fn(*inputs)
                    _sync(dev)
                    times[key].append(time.perf_counter() - start)
        for key in variants:
            seconds = statistics.median(times[key])
            dtype = next(d for d in DTYPE_NAMES if d in key)
            peak = _peak_flops(dev, dtype)
            achieved = flops * batch / seconds
            result["runs"].append(
                {
                    "batch": batch,
                    "variant": key,
                    "dtype": dtype,
                    "median_ms": seconds * 1e3,
                    "output_frames_per_s": batch * frames / seconds,
                    "achieved_gflops": achieved / 1e9,
                    "peak_fraction": achieved / peak if peak else None,
                    "peak_memory_mb": memory[key],
                    "max_abs_diff_vs_eager_float32": diffs[key],
                    "prepare_s": prepare.get(key),
                    "first_call_s": first[key],
                }
            )
    if train:
        result["train"] = _train_step_throughput(model, max(sizes), repeats, dev)
    return result


def _train_step_throughput(model: nn.Module, batch: int, repeats: int, dev: torch.device) -> dict[str, Any]:
    """Forward + backward + AdamW step in float32 on a copy of the model (the benchmarked one is kept)."""
    import copy

    from .utils import example_input

    net = copy.deepcopy(model).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-5)
    inputs = example_input(net, batch)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = sum(t.float().pow(2).mean() for t in _outputs(net(*inputs)))
        loss.backward()
        optimizer.step()
        _sync(dev)

    step()
    times = []
    for _ in range(max(1, min(repeats, 3))):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"batch": batch, "dtype": "float32", "median_ms": seconds * 1e3, "clips_per_s": batch / seconds}


def benchmark_models(names: Sequence[str], **kwargs: Any) -> dict[str, Any]:
    """:func:`benchmark_model` for each name, with a description of the machine."""
    device = check_device(kwargs.get("device", "cpu"))
    env = {
        "torch": torch.__version__,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }
    return {"environment": env, "models": [benchmark_model(n, **kwargs) for n in names]}


def format_markdown(results: dict[str, Any]) -> str:
    """The results as Markdown tables (inference, then training)."""
    env = results["environment"]
    lines = [
        f"torch {env['torch']}, {env['device']}"
        + (f" ({env['device_name']})" if env["device_name"] else "")
        + f", {env['threads']} thread(s)",
        "",
        "| model | batch | variant | ms / call | x eager fp32 | output frames/s | GFLOP/s | % peak | "
        "peak MB | max diff |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results["models"]:
        base = {r["batch"]: r["median_ms"] for r in m["runs"] if r["variant"] == "eager float32"}
        for r in m["runs"]:
            ratio = r["median_ms"] / base[r["batch"]] if r["batch"] in base else float("nan")
            peak = f"{100 * r['peak_fraction']:.1f}" if r["peak_fraction"] else "—"
            mem = f"{r['peak_memory_mb']:.1f}" if r["peak_memory_mb"] is not None else "—"
            lines.append(
                f"| {m['name']} | {r['batch']} | {r['variant']} | {r['median_ms']:.1f} | {ratio:.2f} | "
                f"{r['output_frames_per_s']:,.0f} | {r['achieved_gflops']:.1f} | {peak} | {mem} | "
                f"{r['max_abs_diff_vs_eager_float32']:.1e} |"
            )
    lines += [
        "",
        "| model | params | GFLOP / output frame | train batch | train step ms | train clips/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in results["models"]:
        t = m.get("train")
        train = f"{t['batch']} | {t['median_ms']:.1f} | {t['clips_per_s']:.2f}" if t else "— | — | —"
        lines.append(f"| {m['name']} | {m['params']:,} | {m['flops_per_output_frame'] / 1e9:.3g} | {train} |")
    return "\n".join(lines)


def _cmd_bench(args: argparse.Namespace) -> int:
    from .models import list_models

    names: list[str] = []
    for pattern in args.names or ["*"]:
        found = list_models(pattern)
        if not found:
            raise ValueError(f"no registered model matches {pattern!r} (see posezoo list)")
        names += [n for n in found if n not in names]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    results = benchmark_models(
        names,
        batches=args.batch or [1, None],
        dtypes=args.dtype or ["float32", "bfloat16"],
        device=args.device,
        repeats=args.repeats,
        compile_too=args.compile,
        train=not args.no_train,
    )
    print(format_markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return 0


def _batch(text: str) -> Optional[int]:
    if text == "auto":
        return None
    value = int(text)
    if not 1 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"batch must be 1..4096 or 'auto', got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``posezoo bench``."""
    p = sub.add_parser("bench", help="time models: latency, throughput, memory, FLOP/s, eager vs optimized")
    p.add_argument("names", nargs="*", help="model names or wildcards (default: every registered model)")
    p.add_argument(
        "--batch",
        nargs="+",
        type=_batch,
        default=None,
        help="batch sizes; 'auto' = a throughput batch of about 20 GFLOP per call (default: 1 auto)",
    )
    p.add_argument(
        "--dtype", nargs="+", choices=sorted(DTYPE_NAMES), default=None, help="precisions (default: float32 bfloat16)"
    )
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow to prepare on CPU)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--repeats", type=_positive, default=5, help="interleaved timed calls per variant (median)")
    p.add_argument("--threads", type=_positive, default=None, help="torch.set_num_threads for the run")
    p.add_argument("--no-train", action="store_true", help="skip the training-step measurement")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the results as JSON")
    p.set_defaults(func=_cmd_bench)

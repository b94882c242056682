"""Training throughput per family on this machine: steps/s and samples/s of the real recipes.

Each family's CPU-size variant trains for ``--steps`` steps (after ``--warmup``
untimed steps) on the repository's CMU mocap with its recipe (static cameras,
noise, bone lengths, the family's loss, AdamW), in one process; the median
step time is reported. Run on an otherwise idle machine for meaningful numbers::

    python benchmarks/bench_training.py --threads 1 --steps 20 --json benchmarks/results/training.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import posezoo
from posezoo.data import cmu_mocap
from posezoo.training import TrainConfig, Trainer, recipe_for

MODELS = {
    "rtpca_small": 16,
    "mixste_small": 16,
    "uplift_upsample_small": 8,
    "mixsynthformer_h36m_3d": 32,
}


def bench(name: str, batch_size: int, steps: int, warmup: int) -> dict:
    torch.manual_seed(0)
    model = posezoo.create_model(name)
    family = posezoo.models.get_model_entry(name).family
    recipe = recipe_for(family, model)
    train_set, _ = recipe.datasets(cmu_mocap("train"), None, 0)
    trainer = Trainer(
        model, recipe, train_set, None, TrainConfig(steps=steps + warmup, batch_size=batch_size), progress=False
    )
    batches = trainer._epoch_batches(0)[: steps + warmup]
    times, load_times = [], []
    loader = iter(trainer._loader(train_set, batches))
    for i in range(steps + warmup):
        t0 = time.perf_counter()
        batch = next(loader)
        t1 = time.perf_counter()
        trainer.train_step(batch)
        t2 = time.perf_counter()
        if i >= warmup:
            times.append(t2 - t0)
            load_times.append(t1 - t0)
    step = statistics.median(times)
    sequences = batch_size * (2 if family == "uplift_upsample" else 1)  # within-batch flips double UU batches
    return {
        "model": name,
        "batch_size": batch_size,
        "sequences_per_step": sequences,
        "median_step_s": round(step, 4),
        "steps_per_s": round(1 / step, 3),
        "samples_per_s": round(sequences / step, 1),
        "data_share": round(statistics.median(load_times) / step, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [bench(m, MODELS.get(m, 16), args.steps, args.warmup) for m in args.models]
    print(f"torch {torch.__version__}, {args.threads} thread(s), CPU")
    print("| model | batch (sequences) | steps/s | samples/s | data loading share |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| `{r['model']}` | {r['batch_size']} ({r['sequences_per_step']}) | {r['steps_per_s']} | "
            f"{r['samples_per_s']} | {r['data_share']:.0%} |"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps({"threads": args.threads, "torch": torch.__version__, "rows": rows}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()

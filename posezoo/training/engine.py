"""The training engine: one loop for every family, on one CPU, one GPU or many (torchrun + DDP).

:class:`Trainer` runs AdamW with warm-up and the chosen schedule, gradient
clipping, optional AMP and EMA, periodic validation, and writes a run folder:

* ``last/`` and ``best/``: :func:`posezoo.from_pretrained` directories
  (``best/`` holds the EMA weights when EMA is on); ``last/trainer_state.pt``
  holds optimizer, scheduler, EMA, RNG and data-position state, so that
  ``resume=True`` continues exactly where the run stopped;
* ``metrics.jsonl``: one JSON record per logged step and per validation;
* ``run.json``: the resolved configuration, versions, seed and ``world_size``.

Under ``torchrun`` (``WORLD_SIZE > 1``) the engine initialises the process
group (gloo on CPU, nccl on CUDA), wraps the model in
``DistributedDataParallel``, shards windows with ``DistributedSampler`` and
logs / checkpoints on rank 0 only. ``batch_size`` is per process.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from copy import deepcopy
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler

from ..models import save_pretrained
from ..models._builder import load_weights
from .config import TrainConfig, lr_factor

__all__ = ["Trainer", "dist_info"]

STATE_FILE = "trainer_state.pt"


def dist_info() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's environment (``(0, 1, 0)`` without it)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class Trainer:
    """Train ``model`` with ``recipe`` on ``train_set``, validating on ``val_set``.

    Args:
        model: the model (built by the caller, e.g. ``posezoo.create_model``).
        recipe: a :class:`posezoo.training.recipes.Recipe` (objective, batches, validation).
        train_set: a map-style dataset of windows with ``set_epoch(epoch)``.
        val_set: validation windows (``None``: no validation, ``best/`` follows the loss).
        config: engine settings.
        out_dir: run folder (``None``: nothing written, e.g. in notebooks).
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA when available).
        progress: tqdm bar (``None``: only when stderr is a terminal).
        run_info: extra entries for ``run.json`` (model name, data files, command).
    """

    def __init__(
        self,
        model: nn.Module,
        recipe: Any,
        train_set: Any,
        val_set: Any = None,
        config: Optional[TrainConfig] = None,
        out_dir: Optional[Union[str, os.PathLike]] = None,
        device: Union[str, torch.device, None] = None,
        progress: Optional[bool] = None,
        run_info: Optional[dict[str, Any]] = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        self.config = config or TrainConfig()
        self.recipe, self.train_set, self.val_set = recipe, train_set, val_set
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.rank, self.world_size, local_rank = dist_info()
        if device is None:
            device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        torch.manual_seed(self.config.seed + self.rank)
        self.model = model.to(self.device)
        self.ddp = (
            nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
            if self.world_size > 1
            else self.model
        )
        c = self.config
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay, betas=tuple(c.betas), eps=c.eps
        )
        self.steps_per_epoch = len(self._epoch_batches(0))
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"the training set has {len(train_set)} windows: fewer than one batch of {c.batch_size} "
                f"per process ({self.world_size} processes)"
            )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(c, self.steps_per_epoch))
        self.ema = self._make_ema() if c.ema else None
        self.scaler = torch.amp.GradScaler("cuda") if c.amp == "fp16" and self.device.type == "cuda" else None
        self.progress = progress if progress is not None else sys.stderr.isatty()
        self.run_info = dict(run_info or {})
        self.step, self.epoch, self.position = 0, 0, 0
        self.best: Optional[float] = None
        self.history: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ pieces
    def _make_ema(self) -> nn.Module:
        ema = deepcopy(self.model).eval()
        for p in ema.parameters():
            p.requires_grad_(False)
        return ema

    @torch.no_grad()
    def _update_ema(self) -> None:
        assert self.ema is not None
        decay = min(self.config.ema, (1 + self.step) / (10 + self.step))
        for e, p in zip(self.ema.parameters(), self.model.parameters(), strict=True):
            e.lerp_(p.detach(), 1 - decay)
        for e, b in zip(self.ema.buffers(), self.model.buffers(), strict=True):
            e.copy_(b)

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        sampler = DistributedSampler(
            self.train_set,
            num_replicas=self.world_size,
            rank=self.rank,
            shuffle=True,
            seed=self.config.seed,
            drop_last=True,
        )
        sampler.set_epoch(epoch)
        return list(BatchSampler(sampler, self.config.batch_size, drop_last=True))

    def _loader(self, dataset: Any, batches: list[list[int]]) -> DataLoader:
        return DataLoader(
            dataset,
            batch_sampler=batches,
            collate_fn=self.recipe.collate,
            num_workers=self.config.workers,
        )

    def _autocast(self) -> Any:
        if self.config.amp == "none":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    # ------------------------------------------------------------------ one step
    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One optimisation step on a collated batch; returns its log values."""
        self.model.train()
        batch = self._to_device(batch)
        with self._autocast():
            loss, logs = self.recipe.loss(self.ddp, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss {float(loss)} at step {self.step}")
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        grad_norm = (
            float(nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip))
            if self.config.grad_clip
            else float("nan")
        )
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        self.step += 1
        if self.ema is not None:
            self._update_ema()
        return {
            "loss": float(loss.detach()),
            "lr": lr,
            "grad_norm": grad_norm,
            **{k: float(v) for k, v in logs.items()},
        }

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """The recipe's window metrics on ``val_set`` with the evaluated model (EMA when on)."""
        if self.val_set is None:
            return {}
        net = self.ema if self.ema is not None else self.model
        was = net.training
        net.eval()
        n = len(self.val_set)
        keep = n if not self.config.val_windows or n <= self.config.val_windows else self.config.val_windows
        index = np.linspace(0, n - 1, keep).round().astype(int).tolist()
        batches = [index[i : i + self.config.batch_size] for i in range(0, keep, self.config.batch_size)]
        try:
            return self.recipe.validate(net, (self._to_device(b) for b in self._loader(self.val_set, batches)))
        finally:
            net.train(was)

    # ------------------------------------------------------------------ the loop
    def fit(self, resume: bool = False, callback: Optional[Callable[[dict[str, Any]], None]] = None) -> dict[str, Any]:
        """Train until ``config.steps``; returns the last validation record (or the last log)."""
        c = self.config
        if resume:
            self.load_state()
        elif self.out_dir is not None and self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "metrics.jsonl").write_text("")
        self._write_run_json()
        bar = self._progress_bar()
        last: dict[str, Any] = {}
        window_t, window_samples = time.perf_counter(), 0
        try:
            while self.step < c.steps:
                self.train_set.set_epoch(self.epoch)
                batches = self._epoch_batches(self.epoch)[self.position :]
                for batch in self._loader(self.train_set, batches):
                    logs = self.train_step(batch)
                    self.position += 1
                    window_samples += c.batch_size * self.world_size
                    if bar is not None:
                        bar.update(1)
                    if self.step % c.log_every == 0 or self.step == c.steps:
                        now = time.perf_counter()
                        logs["samples_per_s"] = window_samples / max(now - window_t, 1e-9)
                        window_t, window_samples = now, 0
                        last = self._record({"step": self.step, "epoch": self.epoch, **logs}, bar)
                        if callback is not None:
                            callback(last)
                    if (c.val_every and self.step % c.val_every == 0) or self.step == c.steps:
                        last = self._validate_and_save(logs, bar)
                    if self.step >= c.steps:
                        break
                else:
                    self.epoch, self.position = self.epoch + 1, 0
                    continue
                if self.position >= self.steps_per_epoch:
                    self.epoch, self.position = self.epoch + 1, 0
        finally:
            if bar is not None:
                bar.close()
        return last

    def _progress_bar(self) -> Any:
        if not self.progress or self.rank != 0:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self.config.steps, initial=self.step, desc="train", dynamic_ncols=True)

    def _record(self, record: dict[str, Any], bar: Any) -> dict[str, Any]:
        record = {k: (round(v, 7) if isinstance(v, float) else v) for k, v in record.items()}
        self.history.append(record)
        if self.rank == 0:
            if bar is not None:
                shown = {k: record[k] for k in ("loss", "lr", "samples_per_s", "mpjpe") if k in record}
                bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()})
            elif self.progress is False and os.environ.get("POSEZOO_TRAIN_LOG", "1") != "0":
                print(json.dumps(record), file=sys.stderr, flush=True)
            if self.out_dir is not None:
                with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
        return record

    def _validate_and_save(self, logs: dict[str, float], bar: Any) -> dict[str, Any]:
        metrics = self.validate()
        key = getattr(self.recipe, "select_metric", "mpjpe")
        score = metrics.get(key, logs.get("loss"))
        record = self._record({"step": self.step, "split": "val", **metrics}, bar) if metrics else dict(logs)
        improved = score is not None and (self.best is None or score < self.best)
        if improved:
            self.best = float(score)
        if self.rank == 0 and self.out_dir is not None:
            if improved:
                save_pretrained(self.ema if self.ema is not None else self.model, self.out_dir / "best")
            self.save_state()
        if self.world_size > 1:
            dist.barrier()
        return record

    # ------------------------------------------------------------------ state
    def save_state(self) -> Path:
        """Write ``last/`` (weights + trainer state); rank 0 only."""
        assert self.out_dir is not None
        last = self.out_dir / "last"
        save_pretrained(self.model, last)
        state = {
            "step": self.step,
            "epoch": self.epoch,
            "position": self.position,
            "best": -1.0 if self.best is None else self.best,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else {},
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "torch_rng": torch.get_rng_state(),
            "world_size": self.world_size,
        }
        tmp = last / (STATE_FILE + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, last / STATE_FILE)
        return last

    def load_state(self) -> None:
        """Restore ``last/`` of ``out_dir`` (weights, optimizer, scheduler, EMA, RNG, data position)."""
        if self.out_dir is None:
            raise ValueError("resume needs an out_dir")
        last = self.out_dir / "last"
        if not (last / STATE_FILE).is_file():
            raise FileNotFoundError(f"nothing to resume: {last / STATE_FILE} does not exist")
        load_weights(self.model, last)
        state = torch.load(last / STATE_FILE, map_location=self.device, weights_only=True)
        if int(state["world_size"]) != self.world_size:
            raise ValueError(
                f"{last} was written by {state['world_size']} processes; resume with the same number (got {self.world_size})"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.ema is not None and state["ema"]:
            self.ema.load_state_dict(state["ema"])
        if self.scaler is not None and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"].cpu())
        self.step, self.epoch, self.position = int(state["step"]), int(state["epoch"]), int(state["position"])
        self.best = None if float(state["best"]) < 0 else float(state["best"])
        if self.rank == 0:
            self._truncate_metrics()

    def _truncate_metrics(self) -> None:
        path = self.out_dir / "metrics.jsonl" if self.out_dir is not None else None
        if path is None or not path.is_file():
            return
        kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= self.step]
        path.write_text("".join(line + "\n" for line in kept))

    def _write_run_json(self) -> None:
        if self.rank != 0 or self.out_dir is None:
            return
        import platform

        import posezoo

        info = {
            **self.run_info,
            "train": self.config.to_dict(),
            "recipe": {
                "name": getattr(self.recipe, "name", type(self.recipe).__name__),
                "options": dict(getattr(self.recipe, "options", {})),
            },
            "world_size": self.world_size,
            "device": str(self.device),
            "versions": {
                "posezoo": posezoo.__version__,
                "torch": torch.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
            "steps_per_epoch": self.steps_per_epoch,
        }
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "run.json").write_text(json.dumps(info, indent=2, default=str) + "\n")

"""Training loop: batches, optimisers, schedules, validation, checkpoints, resume.

The recipe follows DCLS-Delays (Hammouamri et al., ICLR 2024): Adam on the
weights (weight decay on projection weights only) with a one-cycle learning
rate stepped once per epoch, a second Adam on the delays (learning rate in
steps) with cosine annealing, delays clamped after every optimiser step, and
the model's ``end_epoch`` hook (the sigma schedule) after each epoch.
Validation runs in ``eval()`` mode, i.e. with rounded integer delays.

Determinism: weights come from the model's seed; batch order of epoch ``e``
from ``numpy.random.default_rng([seed, e])``; dropout from PyTorch's global
generator, seeded once and saved in every checkpoint, so that stopping and
resuming gives bit-identical weights to an uninterrupted run.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..atomic import atomic_path
from .models import model_loss, model_predict

CHECKPOINT_FORMAT = "neurosim-checkpoint-1"


@dataclasses.dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit` (learning rates of delays are in steps)."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 5e-3
    lr_delay: float = 0.1
    weight_decay: float = 1e-5
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainConfig: '{name}' must be >= 1, got {getattr(self, name)!r}")
        for name in ("lr", "lr_delay", "weight_decay"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"TrainConfig: '{name}' must be >= 0, got {getattr(self, name)!r}")


def as_batch(x: np.ndarray) -> torch.Tensor:
    """``(batch, T, C)`` counts (any numeric dtype) -> float32 ``(T, batch, C)``."""
    return torch.from_numpy(np.ascontiguousarray(np.swapaxes(x, 0, 1))).float()


def _check_split(name: str, split) -> tuple[np.ndarray, np.ndarray]:
    try:
        x, y = split
    except (TypeError, ValueError):
        raise ValueError(f"'{name}' must be a pair (X, y) with X of shape (n, T, channels)") from None
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 3 or y.shape != (x.shape[0],):
        raise ValueError(f"'{name}': X must have shape (n, T, channels) and y shape (n,), "
                         f"got {x.shape} and {y.shape}")
    return x, y.astype(np.int64)


@torch.no_grad()
def evaluate(model: nn.Module, data: tuple[np.ndarray, np.ndarray], batch_size: int = 256, n_classes: int | None = None) -> dict[str, Any]:
    """Accuracy, mean loss and per-class accuracy of ``model`` on ``data = (X, y)``."""
    x, y = _check_split("data", data)
    was_training = model.training
    model.eval()
    preds, loss_sum = [], 0.0
    for lo in range(0, len(y), batch_size):
        u = model(as_batch(x[lo:lo + batch_size]))
        yb = torch.from_numpy(y[lo:lo + batch_size])
        loss_sum += float(model_loss(model, u, yb)) * len(yb)
        preds.append(model_predict(model, u).numpy())
    model.train(was_training)
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    k = int(n_classes if n_classes is not None else max(int(y.max(initial=-1)), int(pred.max(initial=-1))) + 1)
    per_class = [float(np.mean(pred[y == c] == c)) if np.any(y == c) else None for c in range(k)]
    return {"n": int(len(y)), "accuracy": float(np.mean(pred == y)) if len(y) else float("nan"),
            "loss": loss_sum / max(len(y), 1), "per_class_accuracy": per_class,
            "predictions": pred.tolist()}


def _param_groups(model: nn.Module, weight_decay: float):
    delays, decayed, plain = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.endswith("delay"):
            delays.append(p)
        elif name.endswith("weight") and p.dim() >= 2:
            decayed.append(p)
        else:
            plain.append(p)
    groups = [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]], delays


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def fit(model: nn.Module, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], config: TrainConfig, out_dir: str | os.PathLike,
        meta: dict | None = None, resume: bool = False,
        on_epoch: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Train ``model`` on ``train = (X, y)``, validating on ``val`` after each epoch.

    Writes to ``out_dir``: ``metrics.jsonl`` (one JSON line per epoch),
    ``last.pt`` (everything needed to resume) and ``best.pt`` (the model with
    the best validation accuracy so far).  ``meta`` (model and data
    configuration) is stored in both checkpoints.  With ``resume=True``
    training continues from ``last.pt``.

    Returns ``{"best_epoch", "best_val_accuracy", "history"}``.
    """
    x_tr, y_tr = _check_split("train", train)
    val = _check_split("val", val)
    for name, labels in (("train", y_tr), ("val", val[1])):
        if not len(labels):
            raise ValueError(f"'{name}' has no samples; check the split (e.g. a larger val_fraction)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups, delays = _param_groups(model, config.weight_decay)
    opt_w = torch.optim.Adam(groups, lr=config.lr)
    sched_w = torch.optim.lr_scheduler.OneCycleLR(opt_w, max_lr=config.lr, total_steps=config.epochs)
    opt_d = torch.optim.Adam(delays, lr=config.lr_delay) if delays else None
    sched_d = (torch.optim.lr_scheduler.CosineAnnealingLR(opt_d, T_max=config.epochs) if opt_d else None)
    history: list[dict] = []
    start, best_acc, best_epoch = 0, -1.0, -1
    if resume:
        state = torch.load(out / "last.pt", weights_only=False)
        model.load_state_dict(state["model_state"])
        opt_w.load_state_dict(state["opt_w"])
        sched_w.load_state_dict(state["sched_w"])
        if opt_d is not None:
            opt_d.load_state_dict(state["opt_d"])
            sched_d.load_state_dict(state["sched_d"])
        torch.set_rng_state(state["torch_rng"])
        start, best_acc, best_epoch = state["epoch"] + 1, state["best_val_accuracy"], state["best_epoch"]
        history = state["history"]
    else:
        torch.manual_seed(config.seed)
        (out / "metrics.jsonl").unlink(missing_ok=True)
    n_batches = (len(y_tr) + config.batch_size - 1) // config.batch_size
    for epoch in range(start, config.epochs):
        t0 = time.perf_counter()
        model.train()
        order = np.random.default_rng([config.seed, epoch]).permutation(len(y_tr))
        loss_sum, correct = 0.0, 0
        bar = tqdm(range(n_batches), desc=f"epoch {epoch + 1}/{config.epochs}",
                   disable=not config.progress, leave=False)
        for b in bar:
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            yb = torch.from_numpy(y_tr[idx])
            u = model(as_batch(x_tr[idx]))
            loss = model_loss(model, u, yb)
            opt_w.zero_grad(set_to_none=True)
            if opt_d is not None:
                opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_w.step()
            if opt_d is not None:
                opt_d.step()
            if hasattr(model, "after_step"):
                model.after_step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((model_predict(model, u.detach()) == yb).sum())
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        lr_now = opt_w.param_groups[0]["lr"]
        sched_w.step()
        if sched_d is not None:
            sched_d.step()
        if hasattr(model, "end_epoch"):
            model.end_epoch(epoch, config.epochs)
        v = evaluate(model, val, batch_size=max(config.batch_size, 256))
        row = {"epoch": epoch, "train_loss": loss_sum / len(y_tr), "train_accuracy": correct / len(y_tr),
               "val_loss": v["loss"], "val_accuracy": v["accuracy"], "lr": lr_now,
               "seconds": time.perf_counter() - t0}
        sig = [float(p.sigma) for p in getattr(model, "projections", []) if getattr(p, "mode", "") == "learned"]
        if sig:
            row["sigma"] = sig[0]
        history.append(row)
        with open(out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        if v["accuracy"] > best_acc:
            best_acc, best_epoch = v["accuracy"], epoch
            atomic_torch_save({"format": CHECKPOINT_FORMAT, "meta": meta or {}, "epoch": epoch,
                               "val_accuracy": best_acc, "model_state": model.state_dict()}, out / "best.pt")
        state = {"format": CHECKPOINT_FORMAT, "meta": meta or {}, "epoch": epoch,
                 "model_state": model.state_dict(), "opt_w": opt_w.state_dict(),
                 "sched_w": sched_w.state_dict(), "torch_rng": torch.get_rng_state(),
                 "best_val_accuracy": best_acc, "best_epoch": best_epoch, "history": history}
        if opt_d is not None:
            state["opt_d"], state["sched_d"] = opt_d.state_dict(), sched_d.state_dict()
        atomic_torch_save(state, out / "last.pt")
        if on_epoch is not None:
            on_epoch(row)
    return {"best_epoch": best_epoch, "best_val_accuracy": best_acc, "history": history}

"""``neurosim train`` and ``neurosim evaluate`` (imported only when used: they need PyTorch).

A *training script* is a Python file that defines::

    PARAMS = {...}                      # defaults; every key can be overridden with --set
    def load_data(p) -> dict            # {"train": (X, y), "val": (X, y), "test": (X, y),
                                        #  "spec": SpikeInputSpec, "n_classes": int}
    def build_model(p) -> DelaySNN

``spec`` may be left out when the script builds its own inputs (image
scripts); ``neurosim evaluate`` then needs the script's data
(``neurosim compare``).
``epochs``, ``batch_size``, ``lr``, ``lr_delay``, ``weight_decay`` and ``seed``
in ``PARAMS`` set the :class:`~neurosim.train.trainer.TrainConfig`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import torch

from ..scripts import load_script, parse_overrides
from .models import MODEL_CLASSES, DelaySNN
from .pipeline import SpikeInputSpec
from .trainer import TrainConfig, evaluate, fit


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _merge_params(module, overrides: dict) -> dict:
    params = dict(module.PARAMS)
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for {module.__name__}; "
                         f"it takes {', '.join(params)}")
    params.update(overrides)
    return {k: _jsonable(v) for k, v in params.items()}


def train_model(model: torch.nn.Module, data: dict, p: dict, out: Path, *, script: str, resume: bool = False,
                progress: bool = True, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Fit ``model`` on ``data`` (a script's ``load_data`` result, or its ``"ann"`` view),
    reload the best checkpoint and test it; writes ``out/test.json`` and returns its summary."""
    fields = {f for f in TrainConfig.__dataclass_fields__} - {"progress"}
    config = TrainConfig(**{k: p[k] for k in fields if k in p}, progress=progress)
    spec: SpikeInputSpec | None = data.get("spec")
    meta = {"script": str(script), "params": p, "model_class": type(model).__name__,
            "model_config": model.config, "input": spec.to_dict() if spec is not None else None,
            "n_classes": int(data["n_classes"])}
    result = fit(model, data["train"], data["val"], config, out, meta=meta, resume=resume, on_epoch=on_epoch)
    best = torch.load(out / "best.pt", weights_only=False)
    model.load_state_dict(best["model_state"])
    test = evaluate(model, data["test"], n_classes=meta["n_classes"])
    summary = {"out_dir": str(out), "best_epoch": result["best_epoch"],
               "best_val_accuracy": result["best_val_accuracy"], "test_accuracy": test["accuracy"],
               "test_per_class_accuracy": test["per_class_accuracy"], "n_test": test["n"], "params": p}
    (out / "test.json").write_text(json.dumps(summary, indent=2))
    return summary


def script_params(script: str | Path, overrides: dict) -> tuple[object, dict]:
    """The training script module and its ``PARAMS`` with ``overrides`` applied."""
    module = load_script(script, required=("PARAMS", "load_data", "build_model"))
    return module, _merge_params(module, overrides)


def train_command(args: argparse.Namespace) -> int:
    module, p = script_params(args.script, parse_overrides(args.set))
    data = module.load_data(p)
    model = module.build_model(p)
    out = Path(args.out or Path("runs") / Path(args.script).stem)

    def report(row: dict) -> None:
        if not args.json:
            print(f"epoch {row['epoch'] + 1:>3}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.3f}"
                  f" | val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.3f} ({row['seconds']:.1f} s)",
                  flush=True)

    summary = train_model(model, data, p, out, script=args.script, resume=args.resume,
                          progress=not args.no_progress, on_epoch=report)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"best epoch {summary['best_epoch'] + 1}: val accuracy {summary['best_val_accuracy']:.4f}; "
              f"test accuracy {summary['test_accuracy']:.4f} ({summary['n_test']} samples); "
              f"checkpoint {out / 'best.pt'}")
    return 0


def load_checkpoint(path: str | Path) -> tuple[DelaySNN, dict]:
    """The model stored in a checkpoint written by ``fit`` (in eval mode) and its metadata."""
    state = torch.load(path, weights_only=False)
    if not isinstance(state, dict) or state.get("format") != "neurosim-checkpoint-1":
        raise ValueError(f"{path} is not a neurosim checkpoint (written by neurosim train)")
    meta = state["meta"]
    name = meta.get("model_class", "DelaySNN")
    if name not in MODEL_CLASSES:
        raise ValueError(f"{path} holds a {name!r}; this version reads {', '.join(MODEL_CLASSES)}")
    model = MODEL_CLASSES[name].from_config(meta["model_config"])
    model.load_state_dict(state["model_state"])
    return model.eval(), meta


def evaluate_command(args: argparse.Namespace) -> int:
    model, meta = load_checkpoint(args.checkpoint)
    if not meta.get("input"):
        raise ValueError(f"{args.checkpoint} was trained on inputs built by its script "
                         f"({meta.get('script')}), not from audio files: use neurosim compare")
    spec = SpikeInputSpec(**meta["input"])
    x, y = spec.load(args.data)
    res = evaluate(model, (x, y), n_classes=meta.get("n_classes"))
    res.pop("predictions")
    res.update(checkpoint=str(args.checkpoint), data=str(args.data))
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"{args.checkpoint} on {args.data}: accuracy {res['accuracy']:.4f} ({res['n']} samples)")
        for c, acc in enumerate(res["per_class_accuracy"]):
            print(f"  class {c}: {'-' if acc is None else f'{acc:.3f}'}")
    return 0

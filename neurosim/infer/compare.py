"""``neurosim compare MODEL``: a spiking model beside the ANN of its topology.

For a training script (``models/*.py``: ``PARAMS``, ``load_data``,
``build_model``) this trains, or reloads, the SNN and its ANN twin
(:func:`neurosim.baselines.ann_of`) on the same data, then reports on the
test split:

- accuracy: the ANN; the SNN at its full length (every sample runs all ``T``
  steps) and with dynamic-confidence exits (threshold and scale chosen on the
  validation split, :func:`~neurosim.infer.choose_threshold`), and the oracle
  bound;
- time steps: ``T``, the mean exit step, the oracle's mean step;
- operations counted from real activity (:mod:`neurosim.infer.costs`):
  synaptic accumulates (ACs) of the SNN, dense and non-zero-input MACs of the ANN;
- energy: arithmetic energy at 45 nm (Horowitz, ISSCC 2014: a 32-bit float
  add 0.9 pJ per AC, multiply + add 4.6 pJ per MAC), and, for a hardware
  target, the SNN's estimate on it (:func:`neurosim.hardware.energy.estimate`:
  per-operation energies of the target file plus static power over the run);
- latency: time steps, the target's time per inference, and measured CPU
  wall-clock per sample of both PyTorch models (batch inference, this machine).

The exit rule reads the SNN's per-step evidence ``softmax(u[t])`` of its
read-out ``u`` (:func:`~neurosim.infer.softmax_evidence`): a ``DelaySNN``
decides by the sum of these, so the full-length row is the model's own
decision and the exits stop that same sum early.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..atomic import atomic_path
from ..baselines import ann_of, convert_ann
from ..hardware.energy import ANN_PLATFORMS
from ..train.commands import script_params, train_model
from ..train.models import model_predict
from ..train.trainer import _check_split, as_batch, evaluate
from .confidence import (choose_threshold, dynamic_confidence, fixed_step_curve, oracle, pareto_curve,
                         softmax_evidence)
from .costs import ann_activity, neuron_counts, ops_until, snn_activity

DEFAULT_SCALES = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
ARITHMETIC_PLATFORM = "fp32_45nm"


def _trained(kind: str, model: torch.nn.Module, data: dict, p: dict, out: Path, script: str,
             retrain: bool, progress: bool, log: Callable[[str], None]) -> torch.nn.Module:
    """``model`` with the weights of ``out/best.pt`` when that was trained from these
    parameters (and ``retrain`` is false); otherwise trained now into ``out``."""
    ckpt = out / "best.pt"
    if ckpt.exists() and not retrain:
        state = torch.load(ckpt, weights_only=False)
        meta = state.get("meta", {})
        if meta.get("params") == p and meta.get("model_class", "DelaySNN") == type(model).__name__:
            log(f"{kind}: reusing {ckpt}")
            model.load_state_dict(state["model_state"])
            return model.eval()
        log(f"{kind}: {ckpt} was trained with other parameters; training again")
    log(f"{kind}: training into {out}")
    train_model(model, data, p, out, script=script, progress=progress)
    return model.eval()


def _wall_per_sample(model: torch.nn.Module, x: np.ndarray, batch_size: int = 256) -> float:
    """Measured CPU seconds per sample of a batched forward pass (best of 3)."""
    best = np.inf
    with torch.no_grad():
        for _ in range(3):
            t0 = time.perf_counter()
            for lo in range(0, len(x), batch_size):
                model(as_batch(x[lo:lo + batch_size]))
            best = min(best, time.perf_counter() - t0)
    return float(best / max(len(x), 1))


def _split(data: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    return _check_split(name, data[name])


def _hardware_model(snn, dt_ms: float, n_steps_in: int, target: str):
    """``snn`` as a simulator network, built, and the target it will be placed on."""
    from ..hardware.targets import load_target
    from ..train.convert import to_network
    structure = to_network(snn, np.zeros((n_steps_in, snn.config["n_in"]), dtype=np.uint8), dt_ms,
                           align_bias=False)
    structure.net.build(seed=0)
    return structure, load_target(target)


def _target_estimate(snn, structure, tgt, x: np.ndarray, exit_steps: np.ndarray | None) -> dict:
    """Energy and latency per inference of ``snn`` (built as ``structure``) on ``tgt`` from
    its mean activity on ``x`` (each sample's spikes up to its exit step)."""
    from ..hardware.energy import estimate
    from ..hardware.placement import place
    counts = neuron_counts(snn, x, exit_steps)
    activity = {"input": counts[0]}
    activity.update({pop.name: c for pop, c in zip(structure.hidden, counts[1:])})
    placement = place(structure.net, tgt, activity=activity)
    fill = len(structure.hidden) + 2       # the simulator's pipeline: one step per layer
    steps = float(np.mean(exit_steps)) if exit_steps is not None else float(structure.n_steps)
    report = estimate(placement, activity, max(int(round(steps)), 1) + fill).as_dict()
    return {"target": tgt.name, "steps": steps + fill, "cores": placement.report()["cores_used"],
            "energy_uj": report["energy_per_inference_uj"],
            "dynamic_energy_uj": report["dynamic_energy_per_inference_uj"],
            "latency_us": report["time_per_inference_us"], "estimated_figures": report["energy_estimated"]}


def _measure_snn(label: str, snn, data: dict, pick_rule: dict, scales, dt_ms: float | None, target: str | None,
                 ac_pj: float) -> tuple[list[dict], dict]:
    """Rows (full length, exits, oracle) and the exit choice and curves of one SNN."""
    x_val, y_val = _split(data, "val")
    x_test, y_test = _split(data, "test")
    val, test = snn_activity(snn, x_val), snn_activity(snn, x_test)
    for rec in (val, test):          # the SNN's per-step evidence: what its decision rule sums
        rec["outputs"] = softmax_evidence(rec["outputs"])
    n_steps = test["outputs"].shape[0]
    pick = choose_threshold(val["outputs"], y_val, scale=scales, **pick_rule)
    dc = dynamic_confidence(test["outputs"], y_test, pick["threshold"], pick["scale"])
    orc = oracle(test["outputs"], y_test, pick["scale"])
    curve = fixed_step_curve(test["outputs"], y_test)
    front = pareto_curve(test["outputs"], y_test, scale=pick["scale"])
    front_ops = [float(ops_until(test["synaptic_ops"],
                                 dynamic_confidence(test["outputs"], None, th, pick["scale"])["exit_steps"]).mean())
                 for th in front["threshold"]]
    rows = []
    hardware = _hardware_model(snn, dt_ms, x_test.shape[1], target) if target is not None else None
    for kind, acc, steps, exits in (("fixed steps", curve[-1], n_steps, None),
                                    ("dynamic confidence", dc["accuracy"], dc["mean_steps"], dc["exit_steps"]),
                                    ("oracle bound", orc["accuracy"], orc["mean_steps"], orc["exit_steps"])):
        ops = ops_until(test["synaptic_ops"], exits)
        row = {"model": f"SNN ({label}), {kind}", "snn": label, "kind": kind, "accuracy": float(acc),
               "time_steps": float(steps), "synaptic_ops": float(np.mean(ops)),
               "neuron_updates": float(steps) * test["neurons"],
               "arithmetic_energy_uj": float(np.mean(ops)) * ac_pj * 1e-6}
        if target is not None:
            row["hardware"] = _target_estimate(snn, *hardware, x_test, exits)
        rows.append(row)
    rows[0]["cpu_ms_per_sample"] = 1e3 * _wall_per_sample(snn, x_test)
    info = {"exit": {"threshold": pick["threshold"], "scale": pick["scale"], **pick_rule,
                     "validation_accuracy": pick["accuracy"], "validation_mean_steps": pick["mean_steps"],
                     "validation_full_accuracy": pick["full_accuracy"],
                     "step_reduction": 1.0 - dc["mean_steps"] / n_steps,
                     "accuracy_change": dc["accuracy"] - float(curve[-1])},
            "steps": int(n_steps), "pytorch_accuracy": evaluate(snn, (x_test, y_test))["accuracy"],
            "curves": {"fixed_steps_accuracy": curve.tolist(),
                       "fixed_steps_ops": np.cumsum(test["synaptic_ops"], axis=0).mean(1).tolist(),
                       "dc_threshold": front["threshold"].tolist(), "dc_accuracy": front["accuracy"].tolist(),
                       "dc_mean_steps": front["mean_steps"].tolist(), "dc_ops": front_ops}}
    return rows, info


def compare(script: str | os.PathLike, *, overrides: dict | None = None, out_dir: str | os.PathLike | None = None,
            max_accuracy_loss: float | None = 0.005, step_budget: float | None = None,
            scales=DEFAULT_SCALES, target: str | None = "loihi2", convert: bool = True, percentile: float = 99.9,
            retrain: bool = False, progress: bool = False, log: Callable[[str], None] = print) -> dict:
    """Train or reload the SNN of ``script`` and its ANN twin; measure both (see the module docstring).

    Args:
        script: a training script (``models/digits_snn.py``).
        overrides: entries of the script's ``PARAMS`` to change.  Entries named
            ``ann_<name>`` (e.g. ``ann_epochs``) set ``<name>`` for the ANN's training only.
        out_dir: where checkpoints and reports go (default ``runs/compare/<script name>``);
            ``snn/best.pt`` and ``ann/best.pt`` there are reused when their parameters match.
        max_accuracy_loss: accuracy (a fraction) the exits may lose on validation.
        step_budget: instead, the most accurate exits whose mean steps on validation fit
            this budget (give ``max_accuracy_loss=None``).
        scales: candidate confidence scales for the threshold search.
        target: hardware target for the SNN's energy and latency estimate (``None``: skip).
        convert: also convert the trained ANN into an SNN (static-input scripts only:
            :func:`neurosim.baselines.convert_ann`) and measure it on the SNN's inputs.
        percentile: the conversion's activation percentile.
        retrain: train both models even if checkpoints exist.

    Returns the report; also writes ``compare.json`` and ``compare.md`` to ``out_dir``.
    """
    module, p = script_params(script, overrides or {})
    out = Path(out_dir or Path("runs") / "compare" / Path(script).stem)
    out.mkdir(parents=True, exist_ok=True)
    data = module.load_data(p)
    static = "ann" in data
    ann_data = {**data, **data["ann"]} if static else data
    snn = _trained("SNN", module.build_model(p), data, p, out / "snn", str(script), retrain, progress, log)
    ann_p = {**p, **{k[len("ann_"):]: v for k, v in p.items() if k.startswith("ann_")}}   # e.g. ann_epochs
    ann = _trained("ANN", ann_of(module.build_model(p), static_input=static), ann_data, ann_p,
                   out / "ann", str(script), retrain, progress, log)
    y_test = _split(data, "test")[1]
    xa_test, ya_test = _split(ann_data, "test")
    if not np.array_equal(y_test, ya_test):
        raise ValueError("the script's 'ann' test split must hold the same samples as its 'test' split")
    platform = ANN_PLATFORMS[ARITHMETIC_PLATFORM]
    pick_rule = ({"step_budget": step_budget} if step_budget is not None
                 else {"max_accuracy_loss": max_accuracy_loss})
    dt_ms = data.get("dt_ms") or getattr(data.get("spec"), "dt_ms", None)
    if dt_ms is None and target is not None:
        raise ValueError(f"{script}: load_data must return 'dt_ms' or a 'spec' with dt_ms for the hardware "
                         "estimate (or run with target=None / --target none)")
    rows, snns = [], {}
    routes = [("trained", snn)]
    if convert and static:
        converted, lambdas = convert_ann(ann, _split(ann_data, "train")[0], percentile=percentile)
        routes.append(("converted", converted))
    for label, model in routes:
        r, info = _measure_snn(label, model, data, pick_rule, scales, dt_ms, target, platform.add_pj)
        rows += r
        snns[label] = info
    if "converted" in snns:
        snns["converted"].update(percentile=percentile, activation_scales=lambdas)
    a = ann_activity(ann, xa_test)
    ann_pred = model_predict(ann, torch.from_numpy(a["outputs"])).numpy()
    rows.append({"model": "ANN (same topology)", "snn": None, "kind": "ANN", "accuracy": float(np.mean(ann_pred == y_test)),
                 "time_steps": float(a["outputs"].shape[0]), "dense_macs": float(a["dense_macs"].mean()),
                 "effective_macs": float(a["effective_macs"].mean()),
                 "arithmetic_energy_uj": float(a["dense_macs"].mean()) * platform.mac_pj * 1e-6,
                 "cpu_ms_per_sample": 1e3 * _wall_per_sample(ann, xa_test)})
    report = {"script": str(script), "params": p, "out_dir": str(out), "n_test": int(len(y_test)),
              "rows": rows, "snns": snns,
              "energy_basis": {"ac_pj": platform.add_pj, "mac_pj": platform.mac_pj, "source": platform.source}}
    _write_text(out / "compare.json", json.dumps(report, indent=2))
    _write_text(out / "compare.md", to_markdown(report))
    return report


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def to_markdown(report: dict) -> str:
    """The comparison as a Markdown table."""
    hw = next((r["hardware"] for r in report["rows"] if "hardware" in r), None)
    head = ["model", "accuracy [%]", "time steps", "SNN ACs / ANN MACs", "energy, 45 nm arithmetic [µJ]"]
    if hw:
        head += [f"energy on {hw['target']}: total (dynamic) [µJ]", f"latency on {hw['target']} [µs]"]
    head += ["CPU time per sample [ms]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["rows"]:
        ops = r.get("synaptic_ops", r.get("dense_macs"))
        cells = [r["model"], f"{100 * r['accuracy']:.2f}", f"{r['time_steps']:.1f}", f"{ops:,.0f}",
                 f"{r['arithmetic_energy_uj']:.3f}"]
        if hw:
            h = r.get("hardware")
            cells += [f"{h['energy_uj']:.1f} ({h['dynamic_energy_uj']:.3f})" if h else "–",
                      _fmt(h and h["latency_us"], ".1f")]
        cells.append(_fmt(r.get("cpu_ms_per_sample"), ".3f"))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for label, info in report["snns"].items():
        e = info["exit"]
        rule = (f"mean steps at most {e['step_budget']:g}" if e.get("step_budget") is not None
                else f"accuracy loss allowed {100 * e['max_accuracy_loss']:.1f} points")
        lines.append(f"SNN ({label}): exit threshold {e['threshold']:.4g} at scale {e['scale']:g}, chosen on "
                     f"validation ({rule}): {100 * e['step_reduction']:.1f} % fewer steps, accuracy change "
                     f"{100 * e['accuracy_change']:+.2f} points on {report['n_test']} test samples.")
    lines += ["", f"Energy basis: {report['energy_basis']['source']}."]
    return "\n".join(lines) + "\n"

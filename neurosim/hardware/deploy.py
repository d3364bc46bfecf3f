"""``neurosim deploy``: a trained model to a Loihi-style target, with files and a report.

Steps (each also usable on its own):

1. rebuild the trained ``DelaySNN`` from its checkpoint and convert it into a
   simulator network (:func:`neurosim.train.convert.to_network`, static
   biases as hardware has them);
2. quantise it for the target (:func:`neurosim.hardware.quantize`; bias
   exponent 6, as lava-dl netx files require, with the voltage headroom raised
   until every bias fits);
3. write ``quantized.npz`` (the fixed-point layers), ``model.nir`` (NIR),
   ``model.net`` (lava-dl netx HDF5) and ``quantization.json``;
4. with data: run every sample through the float simulator and the
   fixed-point emulator (the same network graph, ``backend=target``) and count
   spikes, synaptic operations and neuron updates;
5. place the network on cores and estimate energy and latency per inference
   beside an ANN of the same topology;
6. write ``report.json`` and ``report.md``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_text
from .netx import write_netx
from .quantize import quantize
from .targets import load_target


def _save_layers(path: Path, layers) -> None:
    arrays = {}
    for k, (proj, params) in enumerate(layers, start=1):
        arrays[f"layer{k}_weight_mantissa"] = proj.quantized_weights
        arrays[f"layer{k}_weight_exp"] = np.int64(proj.weight_exp)
        arrays[f"layer{k}_delay"] = proj.delays if proj.delays is not None else np.zeros_like(proj.weights)
        for name in ("du", "dv", "vth", "bias_exp"):
            arrays[f"layer{k}_{name}"] = np.int64(getattr(params, name))
        arrays[f"layer{k}_bias_mant"] = np.asarray(params.bias_mant, dtype=np.int64)
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, **arrays)


def quantize_for_netx(net, target) -> tuple:
    """Quantise within what lava-dl netx files can hold: bias exponent 6, weight
    exponents <= 0; the voltage headroom is raised until every bias fits."""
    for headroom in range(2, 9):
        options = {"headroom_bits": headroom, "bias_exp": 6, "max_weight_exp": 0}
        q = quantize(net, target, **options)
        if not any(p.errors["bias_clipped"] for p in q.populations):
            break
    return q, options


def _predict(output: np.ndarray) -> int:
    """The trained model's decision rule on one sample's output membranes ``(T, classes)``."""
    import torch

    from ..train.models import predict
    return int(predict(torch.from_numpy(output[:, None, :]))[0])


def evaluate_on_hardware(model, x: np.ndarray, y: np.ndarray, dt_ms: float, target: str,
                         options: dict) -> dict:
    """Run each sample ``x[i]`` (counts ``(T, n_in)``) on the float simulator and on the
    fixed-point emulator of ``target``; accuracies, agreement and activity per inference.

    Activity (from the emulator): per-neuron spike counts of every node summed over
    samples (``{node name: counts}``, the input's counts per channel), and totals of
    spikes, synaptic events and neuron updates.
    """
    from ..train.convert import to_network
    pred_float, pred_fixed = [], []
    counts: dict[str, np.ndarray] = {}
    totals = {"steps": 0, "spikes": 0, "synaptic_events": 0, "neuron_updates": 0}
    for sample in x:
        pred_float.append(_predict(to_network(model, sample, dt_ms, align_bias=False).run(backend="numba")["output"]))
        conv = to_network(model, sample, dt_ms, align_bias=False)
        conv.net.quantize_options = dict(options)
        out = conv.run(backend=target)
        pred_fixed.append(_predict(out["output"]))
        stats = out["stats"]
        n_neurons = sum(p.n for p in conv.net.populations)
        totals["steps"] += stats.steps
        totals["spikes"] += stats.spikes
        totals["synaptic_events"] += stats.synaptic_events
        totals["neuron_updates"] += stats.steps * n_neurons
        per_node = {"input": np.asarray(sample, dtype=np.float64).sum(0)}
        per_node.update({pop.name: np.bincount(mon.indices, minlength=pop.n).astype(np.float64)
                         for pop, mon in zip(conv.hidden, conv.spike_monitors)})
        for name, c in per_node.items():
            counts[name] = counts.get(name, 0.0) + c
    y = np.asarray(y)
    n = max(len(y), 1)
    return {"n_samples": int(len(y)),
            "accuracy_float": float(np.mean(np.array(pred_float) == y)),
            "accuracy_fixed": float(np.mean(np.array(pred_fixed) == y)),
            "agreement": float(np.mean(np.array(pred_float) == np.array(pred_fixed))),
            "spike_counts": counts,
            "per_inference": {k: v / n for k, v in totals.items()}}


def deploy(checkpoint: str | os.PathLike, target: str = "loihi2", out_dir: str | os.PathLike = "deploy",
           data: str | os.PathLike | None = None, max_samples: int = 100) -> dict:
    """Quantise, export, place and evaluate a trained model (see the module docstring).

    Args:
        checkpoint: ``best.pt`` / ``last.pt`` written by ``neurosim train``.
        target: hardware target name or TOML path.
        out_dir: folder for the files (created).
        data: a WAV folder or SHD-schema file to measure accuracy and activity on.
        max_samples: at most this many samples of ``data``, evenly spaced through it.

    Returns the report (also written as ``report.json`` and ``report.md``).
    """
    from ..nir_io import save_nir
    from ..train.commands import load_checkpoint
    from ..train.convert import to_network
    from ..train.pipeline import SpikeInputSpec
    from ..train.trainer import evaluate
    from .energy import ann_counterpart, estimate, network_macs
    from .placement import place

    tgt = load_target(target)
    if int(max_samples) < 1:
        raise ValueError(f"max_samples must be >= 1, got {max_samples!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, meta = load_checkpoint(checkpoint)
    model = model.double().eval()
    spec = SpikeInputSpec(**meta["input"])
    n_in = model.config["n_in"]
    structure = to_network(model, np.zeros((spec.n_steps, n_in), dtype=np.uint8), spec.dt_ms, align_bias=False)
    net = structure.net
    net.build(seed=0)
    q, options = quantize_for_netx(net, tgt)
    layers = q.fixed_layers(net)
    _save_layers(out / "quantized.npz", layers)
    write_text(out / "quantization.json", json.dumps({"options": options, **q.report()}, indent=2))
    save_nir(net, out / "model.nir")
    write_netx(out / "model.net", layers)
    report = {"checkpoint": str(checkpoint), "target": tgt.name, "dt_ms": spec.dt_ms,
              "steps_per_inference": structure.n_steps + len(structure.hidden) + 2,
              "neurons": sum(p.n for p in net.populations), "synapses": int(net.n_synapses),
              "quantization": {"options": options,
                               "weight_rms_relative_error": {p["name"]: p["rms_relative_error"]
                                                             for p in q.proj_errors},
                               "clipped_weights": int(sum(p["clipped"] for p in q.proj_errors))},
              "files": ["quantized.npz", "quantization.json", "model.nir", "model.net"]}
    activity = None
    if data is not None:
        x, y = spec.load(data)
        pick = np.unique(np.linspace(0, len(y) - 1, min(int(max_samples), len(y))).round().astype(np.int64))
        x, y = x[pick], y[pick]
        torch_acc = evaluate(model.float(), (x, y))["accuracy"]
        model = model.double()
        hw = evaluate_on_hardware(model, x, y, spec.dt_ms, tgt.name, options)
        report["accuracy"] = {"trained_model": torch_acc, "simulator_float": hw["accuracy_float"],
                              "emulator_fixed_point": hw["accuracy_fixed"],
                              "float_fixed_agreement": hw["agreement"], "samples": hw["n_samples"]}
        report["activity_per_inference"] = hw["per_inference"]
        activity = {name: c / hw["n_samples"] for name, c in hw["spike_counts"].items()}
    placement = place(net, tgt, activity=activity)
    report["placement"] = placement.report()
    steps = report["steps_per_inference"]
    if activity is not None:
        energy = estimate(placement, activity, steps)
        report["energy"] = energy.as_dict()
    ann = ann_counterpart(network_macs(net, dense=True, time_steps=1) * structure.n_steps, "fp32_45nm")
    ann8 = ann_counterpart(network_macs(net, dense=True, time_steps=1) * structure.n_steps, "int8_45nm")
    report["ann_counterpart"] = {"macs_per_inference": ann.macs, "fp32_energy_uj": ann.energy_uj,
                                 "int8_energy_uj": ann8.energy_uj, "source": ann.source,
                                 "basis": "the same layers evaluated densely at every time step "
                                          "(one tap per synapse), arithmetic energy only"}
    write_text(out / "report.json", json.dumps(report, indent=2, default=_jsonable))
    write_text(out / "report.md", to_markdown(report, placement, energy if activity is not None else None))
    return report


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_markdown(report: dict, placement, energy) -> str:
    """The deployment report as Markdown."""
    lines = [f"# Deployment of `{report['checkpoint']}` to {report['target']}", "",
             f"{report['neurons']} neurons, {report['synapses']} synapses, {report['steps_per_inference']} "
             f"steps of {report['dt_ms']:g} ms per inference.", ""]
    if "accuracy" in report:
        a = report["accuracy"]
        lines += ["## Accuracy", "", "| trained model (PyTorch) | simulator, float | emulator, fixed point | "
                  "float/fixed agreement | samples |", "|---|---|---|---|---|",
                  f"| {a['trained_model']:.4f} | {a['simulator_float']:.4f} | {a['emulator_fixed_point']:.4f} | "
                  f"{a['float_fixed_agreement']:.4f} | {a['samples']} |", ""]
    qz = report["quantization"]
    lines += ["## Quantisation", "", f"Options: {qz['options']}; clipped weights: {qz['clipped_weights']}.", "",
              "| projection | weight RMS relative error |", "|---|---|"]
    lines += [f"| {k} | {v:.2e} |" for k, v in qz["weight_rms_relative_error"].items()]
    lines += ["", "## Placement", "", placement.to_markdown(), ""]
    if energy is not None:
        lines += ["## Energy and latency", "", energy.to_markdown(), ""]
    ann = report["ann_counterpart"]
    lines += ["## ANN of the same topology", "",
              f"{ann['macs_per_inference']:,} MACs per inference ({ann['basis']}): "
              f"{ann['fp32_energy_uj']:.3f} uJ at fp32, {ann['int8_energy_uj']:.3f} uJ at int8. "
              f"Source: {ann['source']}.", ""]
    return "\n".join(lines)

"""Operation counts of a trained SNN and of its ANN twin, from real activity.

SNN (:class:`~neurosim.train.models.DelaySNN`): a spike of a neuron at step
``t`` costs one synaptic accumulate (AC) per outgoing synapse with a
non-zero weight (its fan-out); input spikes count as spikes of the input
layer (a count of ``k`` in a step is ``k`` spikes).  Operations are charged
at the step the spike is emitted; with delays they are delivered later, but
every one of them is eventually done.  Neuron updates (one per neuron per
step, the output layer included) are counted separately.

ANN (:class:`~neurosim.train.models.DelayANN`): ``dense`` multiply-accumulates
(MACs) are what a dense accelerator performs, ``n_in x n_out`` per layer and
step; ``effective`` MACs skip zero inputs (ReLU outputs that are exactly 0 and
zero input values), which is what a sparsity-exploiting accelerator could save.

Everything returns per-sample arrays so that early exits can be charged for
the steps each sample actually ran (:func:`ops_until`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..train.trainer import as_batch


def _fanouts(model: nn.Module) -> list[np.ndarray]:
    """Non-zero outgoing weights of each presynaptic unit, one array per projection."""
    return [(p.weight.detach() != 0).sum(0).double().numpy() for p in model.projections]


@torch.no_grad()
def _run_recorded(model: nn.Module, x: np.ndarray, batch_size: int):
    model.eval()
    model.record_layers = True
    try:
        for lo in range(0, len(x), batch_size):
            xb = as_batch(x[lo:lo + batch_size])
            out = model(xb)
            yield xb, out, model.layer_outputs
    finally:
        model.record_layers = False
        model.layer_outputs = []


def _pad_time(a: torch.Tensor, steps: int) -> torch.Tensor:
    return torch.nn.functional.pad(a, (0, 0, 0, 0, 0, steps - a.shape[0])) if a.shape[0] < steps else a


def snn_activity(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Run ``model`` (eval mode) on ``x`` ``(n, T, n_in)`` and count its work per step.

    Returns ``outputs`` ``(T', n, n_out)`` (the per-step output),
    ``synaptic_ops`` ``(T', n)`` (ACs issued at each step), ``spikes`` ``(T', n)``
    (input and hidden spikes at each step) and ``neurons`` (neurons updated per
    step: hidden and output layers).
    """
    fan = _fanouts(model)
    outs, ops, spikes = [], [], []
    for xb, out, layers in _run_recorded(model, x, batch_size):
        steps = out.shape[0]
        trains = [_pad_time(xb.double(), steps)] + [s.double() for s in layers]
        ops.append(sum(s @ torch.from_numpy(f) for s, f in zip(trains, fan)).numpy())
        spikes.append(sum(s.sum(-1) for s in trains).numpy())
        outs.append(out.double().numpy())
    neurons = sum(int(p.n_out) for p in model.projections)
    return {"outputs": np.concatenate(outs, axis=1), "synaptic_ops": np.concatenate(ops, axis=1),
            "spikes": np.concatenate(spikes, axis=1), "neurons": neurons}


def ann_activity(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Run an ANN twin (eval mode) on ``x`` ``(n, T, n_in)``.

    Returns ``outputs`` ``(T', n, n_out)`` (per-step logits), ``dense_macs``
    ``(n,)`` and ``effective_macs`` ``(n,)`` (MACs with a non-zero input).
    """
    fan = _fanouts(model)
    dense_per_step = sum(int(p.n_in) * int(p.n_out) for p in model.projections)
    outs, eff = [], []
    for xb, out, layers in _run_recorded(model, x, batch_size):
        steps = out.shape[0]
        acts = [_pad_time(xb.double(), steps)] + [a.double() for a in layers]
        eff.append(sum(((a != 0).double() @ torch.from_numpy(f)).sum(0) for a, f in zip(acts, fan)).numpy())
        outs.append(out.double().numpy())
    outputs = np.concatenate(outs, axis=1)
    return {"outputs": outputs, "dense_macs": np.full(outputs.shape[1], float(dense_per_step * outputs.shape[0])),
            "effective_macs": np.concatenate(eff)}


def neuron_counts(model: nn.Module, x: np.ndarray, exit_steps: np.ndarray | None = None,
                  batch_size: int = 256) -> list[np.ndarray]:
    """Mean spikes per inference of every input channel and hidden neuron of ``model`` on
    ``x`` ``(n, T, n_in)``, counting each sample's steps ``1 .. exit_step`` (all without
    ``exit_steps``).  One array per layer, input first."""
    sums = None
    for lo, (xb, out, layers) in zip(range(0, len(x), batch_size), _run_recorded(model, x, batch_size)):
        steps = out.shape[0]
        trains = [_pad_time(xb.double(), steps)] + [s.double() for s in layers]
        if exit_steps is not None:
            stop = torch.from_numpy(np.asarray(exit_steps[lo:lo + batch_size]))
            mask = (torch.arange(steps)[:, None] < stop[None, :]).double()[:, :, None]
            trains = [s * mask for s in trains]
        part = [s.sum((0, 1)).numpy() for s in trains]
        sums = part if sums is None else [a + b for a, b in zip(sums, part)]
    return [s / max(len(x), 1) for s in sums]


def ops_until(per_step: np.ndarray, exit_steps: np.ndarray | None = None) -> np.ndarray:
    """Per-sample totals of a ``(T, n)`` per-step count over steps ``1 .. exit_step``
    (all ``T`` steps without ``exit_steps``)."""
    per_step = np.asarray(per_step, dtype=np.float64)
    if per_step.ndim != 2:
        raise ValueError(f"per_step must have shape (T, n_samples), got {per_step.shape}")
    total = np.cumsum(per_step, axis=0)
    if exit_steps is None:
        return total[-1]
    steps = np.asarray(exit_steps)
    if steps.shape != (per_step.shape[1],) or np.any(steps < 1) or np.any(steps > per_step.shape[0]):
        raise ValueError(f"exit_steps must hold one step in [1, {per_step.shape[0]}] per sample")
    return total[steps - 1, np.arange(per_step.shape[1])]

"""Convert a trained :class:`~neurosim.train.models.DelaySNN` into a simulator network.

The trained network in ``eval()`` mode (rounded delays, BatchNorm frozen,
no dropout) is, per hidden layer and step::

    u = beta * v + a * sum_j w_ij x_j[t - d_ij] + c      (a, c: folded BatchNorm)
    s = u > theta;  v = u * (1 - s)

which is the simulator's :class:`neurosim.LIF` with delta synapses
(``tau_syn_e = tau_syn_i = 0``), ``tau_m = -dt / ln(beta)``, ``v_rest = 0``,
``v_reset = 0``, ``v_th = theta``, ``tau_ref = 0``, weights ``a * w / beta``
(the simulator lets a delta input decay with the membrane during its step)
and a constant drive ``c / (1 - beta)`` (its effect per step is
``(1 - beta) * i_ext``) that starts when the layer's shifted time starts.  The output layer is the same neuron with a
threshold that is never reached; its membrane is the network's output.

Timing: the simulator applies a spike of step ``t`` sent with delay ``d`` at
the start of step ``t + d + 1`` (Brian2's schedule), one step later than the
trained network.  Hidden layer ``l`` (1-based) therefore runs ``l`` steps
behind, the output ``L + 1``; :meth:`ConvertedNetwork.run` undoes the shift
and returns the trained model's window of ``T + tail`` steps.  Spikes agree
exactly (in float64; the two sum synaptic input in different orders, so a
membrane within ~1e-15 of threshold could in principle fall either way) and
output membranes to rounding.
Input counts above 1 in a step are sent by copies of the input neuron (one
per possible spike in a step).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..monitors import SpikeMonitor, StateMonitor
from ..network import Network, RunStats
from ..neurons import LIF
from ..populations import Population
from .layers import SequenceBatchNorm
from .models import DelaySNN

_NEVER = 1e30   # threshold of the non-spiking output neurons


def _folded_bn(norm, n: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(norm, SequenceBatchNorm):
        return np.ones(n), np.zeros(n)
    scale = (norm.weight.detach().double() / torch.sqrt(norm.running_var.double() + norm.eps)).numpy()
    shift = norm.bias.detach().double().numpy() - norm.running_mean.double().numpy() * scale
    return scale, shift


@dataclass
class ConvertedNetwork:
    """A simulator network equivalent to a trained model, for one input sample."""

    net: Network
    n_steps: int                         # steps of the trained model's output sequence
    hidden: list[Population]
    output: Population
    spike_monitors: list[SpikeMonitor]
    output_monitor: StateMonitor

    def run(self, seed: int = 0, backend: str = "auto",
            stop: Callable[[np.ndarray], bool] | None = None) -> dict[str, object]:
        """Simulate and return, aligned to the trained model's time axis,
        ``hidden_spikes`` (per layer, uint8 ``(T, n_l)``), ``output`` (``(T, n_out)``, mV) and
        ``stats`` (the simulator's :class:`~neurosim.RunStats` of the whole run).

        ``backend`` is any of ``Network.run``'s, e.g. ``"loihi2"`` for the
        fixed-point emulator.

        ``stop``: a host-side early exit, e.g. ``ConfidenceExit(...).step``.  It
        receives each step's output row ``(n_out,)`` as soon as the simulation has
        produced it and returns ``True`` to end the run there; ``output`` then
        holds the steps run (``exit_step = len(output)``) and the simulator has
        not run the remaining steps.
        """
        n_layers = len(self.hidden)
        fill = n_layers + 2                 # output step i is simulator step fill + i
        if stop is None:
            stats = self.net.run((self.n_steps + fill) * self.net.dt, seed=seed, backend=backend, progress=False)
            n_out = self.n_steps
        else:
            stats = self.net.run(fill * self.net.dt, seed=seed, backend=backend, progress=False)
            n_out = 0
            while n_out < self.n_steps:
                more = self.net.run(self.net.dt, backend=backend, progress=False)
                stats = _added(stats, more)
                n_out += 1
                if stop(self.output_monitor["v"][-1]):
                    break
        spikes = []
        for layer, mon in enumerate(self.spike_monitors, start=1):
            steps = np.rint(mon.times / self.net.dt).astype(np.int64) - layer
            keep = steps < n_out
            dense = np.zeros((n_out, mon.source.n), dtype=np.uint8)
            dense[steps[keep], mon.indices[keep]] = 1
            spikes.append(dense)
        out = self.output_monitor["v"][fill:fill + n_out]
        return {"hidden_spikes": spikes, "output": out, "stats": stats}


def _added(a: RunStats, b: RunStats) -> RunStats:
    """Statistics of two consecutive runs as one."""
    return RunStats(a.duration + b.duration, a.steps + b.steps, a.wall_time + b.wall_time, a.spikes + b.spikes,
                    a.synaptic_events + b.synaptic_events, b.backend)


def to_network(model: DelaySNN, counts: np.ndarray, dt_ms: float, align_bias: bool = True) -> ConvertedNetwork:
    """Build the simulator network of ``model`` driven by one sample.

    Args:
        model: a trained ``DelaySNN`` with fixed ``beta`` (its ``eval()`` behaviour is converted).
        counts: input spike counts of one sample, shape ``(T, n_in)``, non-negative integers.
        dt_ms: the time step the model was trained with (ms).
        align_bias: start each layer's constant drive when its shifted time starts, as
            the trained model does (exact reproduction); ``False`` applies it from
            step 0, as hardware with static biases does (the first ``l`` steps of
            layer ``l`` then differ slightly).
    """
    cfg = model.config
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != cfg["n_in"]:
        raise ValueError(f"counts must have shape (T, {cfg['n_in']}), got {counts.shape}")
    if np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise ValueError("counts must be non-negative integers (spikes per step)")
    beta = cfg["beta"]
    if not 0.0 < beta < 1.0:
        raise ValueError(f"conversion needs a membrane decay 0 < beta < 1, the model has {beta}")
    tau_m = -dt_ms / math.log(beta)
    n_steps_in = counts.shape[0]
    copies = max(int(counts.max(initial=0)), 1)
    net = Network(dt=dt_ms, name="converted_DelaySNN")
    t_idx, ch = np.nonzero(counts)
    times, idx = [], []
    for r in range(copies):
        keep = counts[t_idx, ch] > r
        times.append(t_idx[keep] * dt_ms)
        idx.append(ch[keep] + r * cfg["n_in"])
    source = net.add_spike_source("input", cfg["n_in"] * copies, np.concatenate(times), np.concatenate(idx))
    pre_node, pre_copies = source, copies
    hidden, monitors = [], []
    for layer, proj in enumerate(model.projections):
        is_out = layer == len(model.projections) - 1
        n = proj.n_out
        if is_out:
            scale, shift, theta = np.ones(n), np.zeros(n), _NEVER
        else:
            scale, shift = _folded_bn(model.norms[layer], n)
            theta = model.neurons[layer].threshold_value
        pop = net.add_population("output" if is_out else f"hidden{layer + 1}", n,
                                 LIF(tau_m=tau_m, v_rest=0.0, v_reset=0.0, v_th=theta, tau_ref=0.0,
                                     tau_syn_e=0.0, tau_syn_i=0.0), v_init=0.0)
        if np.any(shift != 0) and align_bias:   # the drive starts when the layer's time starts
            drive = np.zeros((layer + 2, n))
            drive[-1] = shift / (1.0 - beta)
            net.add_current(pop, drive, values_dt=dt_ms)
        elif np.any(shift != 0):
            net.add_current(pop, shift / (1.0 - beta))
        w = proj.weight.detach().double().numpy() * scale[:, None] / beta
        d = proj.integer_delays().numpy() if proj.mode != "none" else np.zeros_like(w, dtype=np.int64)
        post, pre = np.nonzero(w)
        for r in range(pre_copies):
            net.connect(pre_node, pop, pre=pre + r * proj.n_in, post=post, weight=w[post, pre],
                        delay=d[post, pre] * dt_ms)
        if is_out:
            out_mon = net.monitor_state(pop, "v")
        else:
            hidden.append(pop)
            monitors.append(net.monitor_spikes(pop))
        pre_node, pre_copies = pop, 1
    return ConvertedNetwork(net, n_steps_in + model.total_tail, hidden, pop, monitors, out_mon)

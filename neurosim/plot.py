"""Matplotlib figures of monitor results: rasters, population rates, state traces.

Each function draws into ``ax`` (a new figure when None) and returns the axes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .monitors import RateMonitor, SpikeMonitor, StateMonitor

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(8, 3))
    return ax


def raster(monitor: SpikeMonitor, ax: Axes | None = None, max_points: int = 200_000, **style) -> Axes:
    """Spike raster: time (ms) against neuron index (thinned to ``max_points`` dots)."""
    ax = _axes(ax)
    t, i = monitor.times, monitor.indices
    if t.size > max_points:
        keep = np.linspace(0, t.size - 1, max_points).astype(np.int64)
        t, i = t[keep], i[keep]
    ax.plot(t, i, linestyle="none", marker=style.pop("marker", "."), markersize=style.pop("markersize", 1.0),
            color=style.pop("color", "k"), **style)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"{monitor.source.name} neuron")
    return ax


def rate(monitor: RateMonitor | SpikeMonitor, ax: Axes | None = None, width: float = 5.0, duration: float | None = None,
         **style) -> Axes:
    """Population rate (Hz) smoothed over ``width`` ms.

    Accepts a :class:`RateMonitor`, or a :class:`SpikeMonitor` whose spikes are
    binned into ``width`` ms bins up to ``duration`` ms (default: last spike).
    """
    ax = _axes(ax)
    if isinstance(monitor, RateMonitor):
        ax.plot(monitor.times, monitor.smoothed(width), **style)
    else:
        end = duration if duration is not None else (monitor.times.max() + width if monitor.times.size else width)
        edges = np.arange(0.0, end + width, width)
        counts, _ = np.histogram(monitor.times, edges)
        n = monitor.record.size
        ax.plot(edges[:-1], counts / (n * width * 1e-3), drawstyle="steps-post", **style)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    return ax


def traces(monitor: StateMonitor, variable: str = "v", ax: Axes | None = None, max_traces: int = 10,
           **style) -> Axes:
    """State variable traces of up to ``max_traces`` recorded neurons."""
    ax = _axes(ax)
    values = monitor[variable]
    for k in range(min(max_traces, values.shape[1])):
        ax.plot(monitor.times, values[:, k], label=f"{monitor.source.name}[{monitor.record[k]}]", **style)
    unit = monitor.source.model.state_units.get(variable, "")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"{variable} ({unit})" if unit else variable)
    return ax


def overview(spike_monitors: list[SpikeMonitor], duration: float, width: float = 5.0) -> Figure:
    """Raster of every monitor above a shared population-rate panel; returns the figure."""
    import matplotlib.pyplot as plt
    n = len(spike_monitors)
    fig, axes = plt.subplots(n + 1, 1, figsize=(9, 2.2 * (n + 1)), sharex=True, squeeze=False)
    for ax, mon in zip(axes[:-1, 0], spike_monitors):
        raster(mon, ax=ax)
        ax.set_xlabel("")
    for mon in spike_monitors:
        rate(mon, ax=axes[-1, 0], width=width, duration=duration, label=mon.source.name)
    axes[-1, 0].legend(loc="upper right", fontsize="small")
    axes[-1, 0].set_xlim(0, duration)
    fig.tight_layout()
    return fig


def tradeoff(report: dict) -> Figure:
    """Two panels from a :func:`neurosim.infer.compare.compare` report: accuracy against
    mean time steps (each SNN at fixed length and with dynamic-confidence exits, its
    oracle bound, the ANN's accuracy as a line) and accuracy against arithmetic energy
    per inference (µJ: the Pareto front of the SNNs, their exits and the ANN).
    Returns the figure."""
    import matplotlib.pyplot as plt
    ann = next(r for r in report["rows"] if r["kind"] == "ANN")
    pj = report["energy_basis"]["ac_pj"] * 1e-6
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    lowest = 100 * ann["accuracy"]
    for (label, info), color in zip(report["snns"].items(), ("C0", "C1", "C2")):
        c = info["curves"]
        fixed_acc = 100 * np.asarray(c["fixed_steps_accuracy"])
        dc_acc = 100 * np.asarray(c["dc_accuracy"])
        orc = next(r for r in report["rows"] if r["snn"] == label and r["kind"] == "oracle bound")
        lowest = min(lowest, fixed_acc[-1])
        a1.plot(np.arange(1, fixed_acc.size + 1), fixed_acc, color=color, label=f"SNN ({label}), stop at step t")
        a1.plot(c["dc_mean_steps"], dc_acc, "o--", color=color, ms=3, label=f"SNN ({label}), dynamic confidence")
        a1.plot(orc["time_steps"], 100 * orc["accuracy"], "*", color=color, ms=11, label=f"SNN ({label}), oracle")
        a2.plot(np.asarray(c["fixed_steps_ops"]) * pj, fixed_acc, color=color, label=f"SNN ({label}), fixed steps")
        a2.plot(np.asarray(c["dc_ops"]) * pj, dc_acc, "o--", color=color, ms=3,
                label=f"SNN ({label}), dynamic confidence")
    a1.axhline(100 * ann["accuracy"], color="gray", ls=":", label="ANN")
    a2.plot(ann["arithmetic_energy_uj"], 100 * ann["accuracy"], "s", color="gray", ms=8, label="ANN")
    a1.set_xlabel("mean time steps per inference")
    a1.set_ylabel("test accuracy (%)")
    a2.set_xscale("log")
    a2.set_xlabel("arithmetic energy per inference (µJ, 45 nm)")
    for ax in (a1, a2):
        ax.set_ylim(max(lowest - 10, 0), 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="lower right")
    fig.tight_layout()
    return fig

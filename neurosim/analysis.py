"""Summary statistics of spike trains: rates and irregularity."""
from __future__ import annotations

import numpy as np

from .monitors import SpikeMonitor


def mean_rate(monitor: SpikeMonitor, duration: float) -> float:
    """Mean firing rate (Hz) of the recorded neurons over ``duration`` ms."""
    if duration <= 0:
        raise ValueError(f"duration must be > 0 ms, got {duration}")
    return monitor.times.size / (monitor.record.size * duration * 1e-3)


def isi_cv(monitor: SpikeMonitor, min_spikes: int = 3) -> float:
    """Mean coefficient of variation of inter-spike intervals.

    Averaged over neurons with at least ``min_spikes`` spikes; NaN if none has.
    """
    order = np.lexsort((monitor.times, monitor.indices))
    idx, t = monitor.indices[order], monitor.times[order]
    isi = np.diff(t)
    same = idx[1:] == idx[:-1]
    neuron = idx[1:][same]
    isi = isi[same]
    counts = np.bincount(neuron, minlength=monitor.source.n)
    ok = counts >= max(min_spikes - 1, 2)
    if not ok.any():
        return float("nan")
    s1 = np.bincount(neuron, isi, minlength=monitor.source.n)
    s2 = np.bincount(neuron, isi * isi, minlength=monitor.source.n)
    mean = s1[ok] / counts[ok]
    var = s2[ok] / counts[ok] - mean ** 2
    return float(np.mean(np.sqrt(np.maximum(var, 0.0)) / mean))

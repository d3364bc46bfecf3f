"""Monitors: explicit recorders of spikes, state variables and population rates.

Each monitor is created by the network (``net.monitor_spikes`` etc.), has a
declared neuron subset, and fills NumPy arrays as the network runs.  Recording
happens at fixed points of the step: state variables at the start of a step
(after input that arrived in the previous step, before the update: Brian2's
``start`` slot), spikes when they are emitted.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .populations import Node, Population


@dataclasses.dataclass(eq=False)
class SpikeMonitor:
    """Spikes of ``source`` (all neurons or ``indices``): ``times`` (ms), ``indices`` (int)."""

    source: Node
    record: np.ndarray
    dt: float
    _steps: list = dataclasses.field(default_factory=list, repr=False)
    _idx: list = dataclasses.field(default_factory=list, repr=False)

    def _append(self, steps: np.ndarray, local: np.ndarray) -> None:
        if self.record.size != self.source.n:
            keep = np.isin(local, self.record)
            steps, local = steps[keep], local[keep]
        self._steps.append(steps.astype(np.int64))
        self._idx.append(local.astype(np.int64))

    def _collapse(self) -> None:
        if len(self._steps) > 1:
            self._steps = [np.concatenate(self._steps)]
            self._idx = [np.concatenate(self._idx)]

    @property
    def steps(self) -> np.ndarray:
        """Step number of every recorded spike."""
        self._collapse()
        return self._steps[0] if self._steps else np.zeros(0, dtype=np.int64)

    @property
    def times(self) -> np.ndarray:
        """Time of every recorded spike (ms)."""
        return self.steps * self.dt

    @property
    def indices(self) -> np.ndarray:
        """Neuron index (within the source) of every recorded spike."""
        self._collapse()
        return self._idx[0] if self._idx else np.zeros(0, dtype=np.int64)

    @property
    def count(self) -> np.ndarray:
        """Number of spikes of each neuron of the source (shape (n,))."""
        return np.bincount(self.indices, minlength=self.source.n)

    def spike_trains(self) -> dict[int, np.ndarray]:
        """Spike times (ms) of each recorded neuron."""
        order = np.argsort(self.indices, kind="stable")
        idx, t = self.indices[order], self.times[order]
        bounds = np.searchsorted(idx, self.record, side="left"), np.searchsorted(idx, self.record, side="right")
        return {int(n): t[a:b] for n, a, b in zip(self.record, *bounds)}


@dataclasses.dataclass(eq=False)
class StateMonitor:
    """Values of state variables ``variables`` of ``indices`` every ``every`` steps.

    After a run, ``monitor.v`` (or ``monitor["v"]``) has shape
    (n_records, len(indices)) and ``monitor.times`` the record times (ms).
    """

    source: Population
    variables: tuple[str, ...]
    rows: np.ndarray
    record: np.ndarray
    every: int
    dt: float
    _data: list = dataclasses.field(default_factory=list, repr=False)
    _steps: list = dataclasses.field(default_factory=list, repr=False)

    def _append(self, steps: np.ndarray, block: np.ndarray) -> None:
        self._steps.append(steps)
        self._data.append(block.reshape(len(steps), len(self.variables), len(self.record)))

    def _stacked(self) -> np.ndarray:
        if len(self._data) != 1:
            shape = (0, len(self.variables), len(self.record))
            self._data = [np.concatenate(self._data) if self._data else np.zeros(shape)]
            self._steps = [np.concatenate(self._steps) if self._steps else np.zeros(0, dtype=np.int64)]
        return self._data[0]

    @property
    def times(self) -> np.ndarray:
        """Record times (ms)."""
        self._stacked()
        return self._steps[0] * self.dt

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.variables:
            raise KeyError(f"this monitor records {', '.join(self.variables)}, not '{name}'")
        return self._stacked()[:, self.variables.index(name), :]

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name not in self.__dict__.get("variables", ()):
            raise AttributeError(name)
        return self[name]


@dataclasses.dataclass(eq=False)
class RateMonitor:
    """Population rate of ``source``: spikes per step divided by (n * dt), in Hz."""

    source: Node
    dt: float
    _counts: list = dataclasses.field(default_factory=list, repr=False)
    _start: list = dataclasses.field(default_factory=list, repr=False)

    def _append(self, first_step: int, counts: np.ndarray) -> None:
        self._start.append(first_step)
        self._counts.append(np.asarray(counts, dtype=np.int64))

    @property
    def counts(self) -> np.ndarray:
        """Number of spikes of the whole population in each step."""
        return np.concatenate(self._counts) if self._counts else np.zeros(0, dtype=np.int64)

    @property
    def times(self) -> np.ndarray:
        """Start time of each step (ms)."""
        steps = [s + np.arange(len(c)) for s, c in zip(self._start, self._counts)]
        return (np.concatenate(steps) if steps else np.zeros(0)) * self.dt

    @property
    def rate(self) -> np.ndarray:
        """Instantaneous population rate per step (Hz)."""
        return self.counts / (self.source.n * self.dt * 1e-3)

    def smoothed(self, width: float) -> np.ndarray:
        """Rate (Hz) smoothed with a flat window of ``width`` ms."""
        k = max(1, int(round(width / self.dt)))
        return np.convolve(self.rate, np.ones(k) / k, mode="same")

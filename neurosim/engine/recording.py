"""What one chunk of steps produced, in the layout both backends fill."""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class StateRecordPlan:
    """Flattened state monitors: pairs (row, column) grouped by monitor."""

    ptr: np.ndarray    # int64 [M + 1] pair ranges per monitor
    row: np.ndarray    # int64 [pairs] state row
    col: np.ndarray    # int64 [pairs] state column (global neuron index)
    every: np.ndarray  # int64 [M] record every k steps (steps with t % k == 0)

    def steps_in(self, m: int, t0: int, n: int) -> np.ndarray:
        """Steps of ``[t0, t0 + n)`` at which monitor ``m`` records."""
        k = int(self.every[m])
        first = -(-t0 // k) * k
        return np.arange(first, t0 + n, k, dtype=np.int64)

    def offsets(self, t0: int, n: int) -> tuple[np.ndarray, int]:
        """Start of each monitor's block in the flat output, and its total size."""
        sizes = [len(self.steps_in(m, t0, n)) * int(self.ptr[m + 1] - self.ptr[m])
                 for m in range(len(self.every))]
        off = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=off[1:])
        return off, int(off[-1])


@dataclasses.dataclass
class ChunkRecord:
    """Output of steps ``t0 ... t0 + n - 1``.

    ``spike_step``/``spike_idx`` (first ``n_spikes`` entries): spikes of the
    nodes with ``record_node`` set (global indices); ``counts[k, node]``: spikes
    per node per step; ``events[k]``: synaptic events per step; ``state``: the
    flat state-monitor output laid out by :class:`StateRecordPlan`.
    """

    spike_step: np.ndarray
    spike_idx: np.ndarray
    n_spikes: int
    counts: np.ndarray
    events: np.ndarray
    state: np.ndarray
    state_offset: np.ndarray

    @classmethod
    def allocate(cls, n: int, n_nodes: int, plan: StateRecordPlan, t0: int, capacity: int) -> ChunkRecord:
        off, size = plan.offsets(t0, n)
        return cls(np.empty(capacity, np.int64), np.empty(capacity, np.int64), 0,
                   np.zeros((n, n_nodes), np.int64), np.zeros(n, np.int64), np.empty(size), off)

    def grow(self) -> None:
        """Double the spike capacity, keeping what was recorded."""
        for name in ("spike_step", "spike_idx"):
            old = getattr(self, name)
            new = np.empty(max(2 * old.size, 1024), dtype=old.dtype)
            new[:old.size] = old
            setattr(self, name, new)

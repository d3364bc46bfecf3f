"""Projections: synapses from one node to a population, stored as CSR."""
from __future__ import annotations

import dataclasses

import numpy as np

from .populations import Node, Population

#: receptor codes stored on a projection
EXC, INH, BY_SIGN = 0, 1, -1
RECEPTOR_NAMES = {"exc": EXC, "inh": INH, "auto": BY_SIGN}


@dataclasses.dataclass(eq=False)
class Projection:
    """Synapses from ``pre`` to ``post``, grouped by pre neuron (CSR).

    Storage per synapse: ``post`` (int32, local index), ``weight`` (float64, in
    the post model's weight unit, signed as given) and ``delay_steps``
    (uint16): 14 bytes.  A projection whose synapses all have one weight and
    one delay stores only ``post`` (4 bytes): its ``weight`` and
    ``delay_steps`` are then read-only views of the one value.
    ``indptr[i]:indptr[i+1]`` are the synapses of pre neuron ``i``.
    ``receptor`` is EXC, INH or BY_SIGN (weights > 0 excitatory, < 0
    inhibitory; conductance models then receive ``|w|``).

    The arrays are filled when the network is built; before that only the
    connection specification (``spec``) is held.
    """

    name: str
    pre: Node
    post: Population
    spec: dict
    receptor: int
    indptr: np.ndarray | None = None
    post_index: np.ndarray | None = None
    weight: np.ndarray | None = None
    delay_steps: np.ndarray | None = None

    @property
    def built(self) -> bool:
        return self.indptr is not None

    def _require_built(self) -> None:
        if not self.built:
            raise RuntimeError(
                f"projection '{self.name}' has no synapses yet: call net.build(seed=...) or net.run(...) first"
            )

    @property
    def n_synapses(self) -> int:
        self._require_built()
        return int(self.indptr[-1])

    @property
    def pre_index(self) -> np.ndarray:
        """Local pre index of every synapse (int64; computed on access)."""
        self._require_built()
        return np.repeat(np.arange(self.pre.n, dtype=np.int64), np.diff(self.indptr))

    def delays(self, dt: float) -> np.ndarray:
        """Delay of every synapse in ms (after quantisation to the time step)."""
        self._require_built()
        return self.delay_steps.astype(np.float64) * dt

    def to_dense(self) -> np.ndarray:
        """Weight matrix of shape (n_post, n_pre); multiple synapses per pair are summed."""
        self._require_built()
        w = np.zeros((self.post.n, self.pre.n))
        np.add.at(w, (self.post_index, self.pre_index), self.weight)
        return w

    def bytes_per_synapse(self) -> float:
        """Memory of the synapse arrays per synapse, including the CSR row pointer.

        A value shared by every synapse (a read-only view of one number) counts once.
        """
        self._require_built()
        arrays = (self.post_index, self.weight, self.delay_steps, self.indptr)
        total = sum(a.itemsize if a.ndim and a.strides[0] == 0 else a.nbytes for a in arrays)
        return total / max(self.n_synapses, 1)

"""Groups of neurons and spike sources: the nodes of a network graph."""
from __future__ import annotations

import dataclasses
from typing import Callable, Union

import numpy as np
import numpy.typing as npt

from .distributions import ValueSpec
from .neurons.base import NeuronModel


@dataclasses.dataclass(eq=False)
class Node:
    """Anything that emits spikes: a population or a source.

    ``network`` is the owning network (checked when nodes are connected or
    monitored); ``offset`` is the node's first index in the network-wide
    numbering that the engine uses.
    """

    name: str
    n: int
    network: object = dataclasses.field(repr=False)

    def __len__(self) -> int:
        return self.n

    def check_indices(self, indices: npt.ArrayLike | None, what: str) -> np.ndarray:
        """Validate a subset of this node's neuron indices (None means all)."""
        if indices is None:
            return np.arange(self.n, dtype=np.int64)
        idx = np.asarray(indices)
        if idx.ndim == 0:
            idx = idx.reshape(1)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(f"{what}: indices must be a 1-D array of integers, got {idx!r}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.n):
            raise ValueError(
                f"{what}: indices must be in [0, {self.n - 1}] for '{self.name}' "
                f"({self.n} neurons), got values in [{idx.min()}, {idx.max()}]"
            )
        return idx.astype(np.int64)


@dataclasses.dataclass(eq=False)
class Population(Node):
    """``n`` neurons of one model with initial states (scalars, arrays or distributions)."""

    model: NeuronModel = None
    init: dict[str, ValueSpec] = dataclasses.field(default_factory=dict)

    @property
    def state_vars(self) -> tuple[str, ...]:
        return self.model.state_vars


@dataclasses.dataclass(eq=False)
class SpikeSource(Node):
    """Neurons that fire at given times: ``times`` (ms) and ``indices`` arrays."""

    times: np.ndarray = None
    indices: np.ndarray = None


#: a Poisson rate: scalar or per-neuron array (Hz), or a function of time t (ms)
#: returning either, or a (steps, n) / (steps,) array sampled every ``rate_dt`` ms
RateSpec = Union[float, np.ndarray, Callable[[np.ndarray], np.ndarray]]


@dataclasses.dataclass(eq=False)
class PoissonGroup(Node):
    """``n`` independent Poisson spike trains.

    A neuron fires in a step of length dt with probability ``rate * dt``
    (rate in Hz, dt in ms, so ``rate * dt / 1000``), as Brian2's PoissonGroup.
    """

    rate: RateSpec = 0.0
    rate_dt: float | None = None

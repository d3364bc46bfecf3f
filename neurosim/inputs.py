"""Inputs that act on a population's state directly, without spiking nodes."""
from __future__ import annotations

import dataclasses

import numpy as np

from .populations import Population


@dataclasses.dataclass(eq=False)
class PoissonInput:
    """``n_inputs`` independent Poisson sources of ``rate`` (Hz) onto each target neuron.

    Every step each neuron receives ``k * weight`` on its excitatory
    (``weight > 0``) or inhibitory receptor, with ``k ~ Binomial(n_inputs,
    rate * dt)``: Brian2's ``PoissonInput``, without storing synapses.
    """

    target: Population
    n_inputs: int
    rate: float
    weight: float
    receptor: int


@dataclasses.dataclass(eq=False)
class CurrentInput:
    """External drive ``i_ext`` of a population, in the model's ``i_ext_unit``.

    ``values`` has shape (n,) for a constant drive, or (n_times,) / (n_times, n)
    for a drive that changes every ``values_dt`` ms (held after the last sample).
    """

    target: Population
    values: np.ndarray
    values_dt: float | None

    def at_steps(self, steps: np.ndarray, dt: float) -> np.ndarray:
        """Drive at the given step numbers, shape (len(steps), n)."""
        n = self.target.n
        if self.values_dt is None:
            return np.broadcast_to(self.values, (len(steps), n))
        rows = np.minimum((steps * dt / self.values_dt + 1e-9).astype(np.int64), len(self.values) - 1)
        picked = self.values[rows]
        return np.broadcast_to(picked.reshape(len(steps), -1), (len(steps), n))

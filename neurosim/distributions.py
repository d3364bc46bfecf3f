"""Random distributions for initial states, weights and delays.

Pass one wherever a value may be a scalar, an array or a distribution, e.g.
``net.add_population("exc", 100, ns.LIF(), v_init=ns.Uniform(-60.0, -50.0))``.
Values are drawn when the network is built, from the network's seeded RNG.
"""
from __future__ import annotations

import dataclasses
from typing import Union

import numpy as np


@dataclasses.dataclass(frozen=True)
class Distribution:
    """Base class: a distribution draws ``size`` values from ``rng``."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} does not define sample()")


@dataclasses.dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on [low, high) (same unit as the quantity it draws)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high)) or self.high < self.low:
            raise ValueError(f"Uniform needs finite low <= high, got low={self.low}, high={self.high}")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)


@dataclasses.dataclass(frozen=True)
class Normal(Distribution):
    """Normal with ``mean`` and standard deviation ``std``, optionally clipped to [low, high]."""

    mean: float
    std: float
    low: float = -np.inf
    high: float = np.inf

    def __post_init__(self) -> None:
        if not np.isfinite(self.mean) or not np.isfinite(self.std) or self.std < 0:
            raise ValueError(f"Normal needs a finite mean and std >= 0, got mean={self.mean}, std={self.std}")
        if self.high < self.low:
            raise ValueError(f"Normal needs low <= high, got low={self.low}, high={self.high}")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.clip(rng.normal(self.mean, self.std, size), self.low, self.high)


@dataclasses.dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal whose logarithm has mean ``mu`` and standard deviation ``sigma``."""

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        if not np.isfinite(self.mu) or not np.isfinite(self.sigma) or self.sigma < 0:
            raise ValueError(f"LogNormal needs finite mu and sigma >= 0, got mu={self.mu}, sigma={self.sigma}")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, size)


#: what a user may pass for a per-neuron or per-synapse quantity
ValueSpec = Union[float, int, np.ndarray, list, tuple, Distribution]


def realize(spec: ValueSpec, size: int, rng: np.random.Generator, what: str) -> np.ndarray:
    """Turn a scalar, array or distribution into a float64 array of ``size`` values.

    ``what`` names the quantity in error messages (e.g. "weight of exc->inh").
    A scalar gives a read-only broadcast view (no memory per value: the
    network copies values into its own arrays).
    """
    if isinstance(spec, Distribution):
        values = np.asarray(spec.sample(rng, size), dtype=np.float64)
    else:
        try:
            values = np.asarray(spec, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{what} must be a number, an array or a neurosim distribution, got {type(spec).__name__}"
            ) from None
        if values.ndim == 0:
            if not np.isfinite(values):
                raise ValueError(f"{what} must be finite, got {float(values)}")
            return np.broadcast_to(values, (size,))
        if values.shape != (size,):
            raise ValueError(f"{what} has shape {values.shape}; expected a scalar or shape ({size},)")
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"{what} must be finite, but element {bad} is {values[bad]}")
    return values

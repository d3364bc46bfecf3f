"""The contract every neuron model follows.

A model is a frozen dataclass of parameters (documented units: ms, mV, nS, pF,
nA) plus one *step function* that advances the state of neurons by one time
step.  The step function is written once and used by every backend:

* the NumPy reference calls it with ``i`` a slice, so each ``S[row, i]`` is an
  array of neurons;
* the Numba backend calls it inside a compiled loop with ``i`` an integer;
* the GPU backend translates it into a CUDA ``__device__`` function
  (:mod:`neurosim.engine.cuda_codegen`);
* so it uses only arithmetic, comparisons and the functions of
  :mod:`neurosim.neurons.mathfn` (``exp``, and ``where(cond, a, b)`` for every
  branch: one select per neuron in compiled loops, exact in every backend).

Signature: ``step(S, i, c, i_ext) -> spiked`` where ``S`` is the state matrix
(rows are the model's ``state_vars`` in order, columns are neurons), ``c`` the
coefficient vector from :meth:`NeuronModel.coefficients`, ``i_ext`` the external
drive of those neurons in the model's ``i_ext_unit`` and ``spiked`` is 1.0 where
a neuron fired this step, else 0.0.  The function updates ``S`` in place.

Synaptic input is not part of the step: the engine adds arriving weights to the
model's receptor rows (``receptors``) between steps, so a weight due at step
``t`` is seen by the update of step ``t + 1`` (Brian2's schedule: state
update, threshold, synaptic propagation, reset).
"""
from __future__ import annotations

import abc
import dataclasses
import difflib
import math
from typing import Callable, ClassVar

import numpy as np


def check_positive(model: object, name: str, allow_zero: bool = False) -> None:
    """Raise ValueError unless ``model.name`` is a finite number > 0 (or >= 0)."""
    value = getattr(model, name)
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"{type(model).__name__}: parameter '{name}' must be a finite number {bound}, "
            f"got {value!r}"
        )


def check_finite(model: object, *names: str) -> None:
    """Raise ValueError if any of the named parameters is NaN or infinite."""
    for name in names:
        value = getattr(model, name)
        if not np.isfinite(value):
            raise ValueError(
                f"{type(model).__name__}: parameter '{name}' must be finite, got {value!r}"
            )


def refractory_steps(tau_ref: float, dt: float) -> float:
    """Number of whole steps a neuron stays refractory after a spike.

    Same rule as Brian2 (``timestep(tau_ref, dt)``): ``floor(tau_ref/dt + 1e-3)``,
    so a spike at step ``s`` leaves the neuron frozen during steps
    ``s+1 ... s+n-1`` and active again from step ``s+n``.
    """
    return float(math.floor(tau_ref / dt + 1e-3))


def neuron_model(cls):
    """Class decorator for models: a frozen, keyword-only dataclass whose
    constructor names unknown parameters and suggests the closest one."""
    cls = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
    generated = cls.__init__
    names = [f.name for f in dataclasses.fields(cls)]

    def __init__(self, *args, **kwargs):
        if args:
            raise TypeError(f"{cls.__name__} takes keyword arguments only, e.g. {cls.__name__}({names[0]}=...)")
        for key in kwargs:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise TypeError(f"{cls.__name__} has no parameter '{key}'; its parameters are "
                                f"{', '.join(names)}.{hint}")
        generated(self, **kwargs)

    __init__.__doc__ = generated.__doc__
    cls.__init__ = __init__
    return cls


@dataclasses.dataclass(frozen=True)
class NeuronModel(abc.ABC):
    """Base class of neuron models; see the module docstring for the contract."""

    #: names of the state variables, in the row order of the state matrix
    state_vars: ClassVar[tuple[str, ...]] = ()
    #: unit of each state variable
    state_units: ClassVar[dict[str, str]] = {}
    #: state rows that receive excitatory and inhibitory synaptic weights
    receptors: ClassVar[tuple[str, str]] = ("", "")
    #: True when receptors hold conductances (weights must then be >= 0)
    conductance_based: ClassVar[bool] = False
    #: unit of synaptic weights onto this model
    weight_unit: ClassVar[str] = "mV"
    #: unit of the external drive ``i_ext``
    i_ext_unit: ClassVar[str] = "mV"
    #: the step function, ``step(S, i, c, i_ext) -> spiked``
    step: ClassVar[Callable]

    @abc.abstractmethod
    def coefficients(self, dt: float) -> np.ndarray:
        """Constants the step needs for time step ``dt`` (ms), as a float64 vector."""

    @abc.abstractmethod
    def initial_state(self) -> dict[str, float]:
        """Default initial value of every state variable (at rest, not refractory)."""

    def parameters(self) -> dict[str, float]:
        """The model's parameters as a plain dict (for metadata and export)."""
        return dataclasses.asdict(self)

    @classmethod
    def receptor_rows(cls) -> tuple[int, int]:
        """Row indices of the excitatory and inhibitory receptor variables."""
        return cls.state_vars.index(cls.receptors[0]), cls.state_vars.index(cls.receptors[1])

    @classmethod
    def check_state_name(cls, name: str) -> int:
        """Row of state variable ``name``; a clear error with suggestions otherwise."""
        if name in cls.state_vars:
            return cls.state_vars.index(name)
        close = difflib.get_close_matches(name, cls.state_vars, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(
            f"{cls.__name__} has no state variable '{name}'; its variables are "
            f"{', '.join(cls.state_vars)}.{hint}"
        )

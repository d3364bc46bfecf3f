"""Surrogate gradients for the spike nonlinearity.

The forward pass of a spike is the Heaviside step ``H(x)`` of ``x = v - v_th``
(mV, or threshold units in a normalised network); its derivative is zero
almost everywhere, so training replaces it in the backward pass by a smooth
pseudo-derivative ``sigma'(x)``.  Each formula below is written once, with
plain arithmetic, so the same function runs on PyTorch tensors, NumPy arrays
and inside Numba-compiled kernels.

=============== ===================================================== ===============================
name            ``sigma'(x)``                                          origin
=============== ===================================================== ===============================
``atan``        ``(a/2) / (1 + (pi a x / 2)^2)``                      SpikingJelly ``ATan`` (a=2);
                                                                      DCLS-Delays uses a=5
``fast_sigmoid````1 / (1 + a |x|)^2``                                 SuperSpike (Zenke & Ganguli
                                                                      2018); snnTorch (a=25)
``triangle``    ``a * max(0, 1 - |x|)``                               Esser et al. 2016; IIR-SNN
                                                                      (a=0.3)
=============== ===================================================== ===============================
"""
from __future__ import annotations

import dataclasses
import math

import numba

SURROGATES = ("atan", "fast_sigmoid", "triangle")
_DEFAULT_PARAM = {"atan": 2.0, "fast_sigmoid": 25.0, "triangle": 1.0}


def atan_grad(x, a, one=1.0, pi=math.pi):
    """Derivative of ``(1/pi) arctan(pi a x / 2) + 1/2``.

    ``one`` and ``pi`` in the working precision (compiled float32 kernels pass
    float32 values, so no step is promoted to float64)."""
    two = one + one
    y = pi * a * x / two
    return (a / two) / (one + y * y)


def fast_sigmoid_grad(x, a, one=1.0):
    """Derivative of the fast sigmoid ``x / (1 + a |x|)``."""
    y = one + a * abs(x)
    return one / (y * y)


def triangle_grad(x, a, one=1.0):
    """``a * max(0, 1 - |x|)`` written as an arithmetic blend."""
    y = one - abs(x)
    return a * y * (y > 0)


_GRADS = (atan_grad, fast_sigmoid_grad, triangle_grad)
_atan_grad_jit = numba.njit(cache=True, error_model="numpy")(atan_grad)
_fast_sigmoid_grad_jit = numba.njit(cache=True, error_model="numpy")(fast_sigmoid_grad)
_triangle_grad_jit = numba.njit(cache=True, error_model="numpy")(triangle_grad)


@dataclasses.dataclass(frozen=True)
class Surrogate:
    """A surrogate gradient: ``name`` (one of ``SURROGATES``) and its slope ``a``."""

    name: str = "atan"
    a: float | None = None

    def __post_init__(self) -> None:
        if self.name not in SURROGATES:
            raise ValueError(f"surrogate: unknown name {self.name!r}; choose one of {', '.join(SURROGATES)}")
        if self.a is None:
            object.__setattr__(self, "a", _DEFAULT_PARAM[self.name])
        if not (math.isfinite(self.a) and self.a > 0):
            raise ValueError(f"surrogate: slope 'a' must be a finite number > 0, got {self.a!r}")

    @property
    def kind(self) -> int:
        """Index used by compiled kernels."""
        return SURROGATES.index(self.name)

    def grad(self, x):
        """``sigma'(x)`` for a tensor, array or float ``x``."""
        return _GRADS[self.kind](x, self.a)

    def __call__(self, x):
        """Heaviside forward, surrogate backward (a PyTorch autograd function)."""
        from .autograd import spike_fn
        return spike_fn(x, self)


def as_surrogate(spec: str | Surrogate | tuple) -> Surrogate:
    """Accept ``"atan"``, ``("atan", 5.0)`` or a :class:`Surrogate`."""
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, str):
        return Surrogate(spec)
    if isinstance(spec, tuple) and len(spec) == 2:
        return Surrogate(spec[0], float(spec[1]))
    raise TypeError(f"surrogate: expected a name such as 'atan', a (name, slope) pair or a Surrogate, got {spec!r}")

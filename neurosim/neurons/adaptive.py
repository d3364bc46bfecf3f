"""Adaptive leaky integrate-and-fire neuron (spike-triggered and subthreshold adaptation)."""
from __future__ import annotations

import math

import numpy as np
from scipy.linalg import expm

from .base import NeuronModel, check_finite, check_positive, refractory_steps, neuron_model
from .mathfn import where


def adaptive_lif_step(S, i, c, i_ext):
    """Advance adaptive LIF neurons ``i`` by one step (exact integration).

    Rows of ``S``: v (mV), w (mV), i_e (mV), i_i (mV), refr (steps left).
    ``c`` holds the 2x5 propagator rows for (v - v_rest, w) over
    (v - v_rest, w, i_e, i_i, drive) in ``c[0:10]``, then
    [e_w, b_e, b_i, v_rest, v_th, v_reset, n_ref, b, a, i_offset].
    """
    v = S[0, i]
    w = S[1, i]
    i_e = S[2, i]
    i_i = S[3, i]
    refr = S[4, i]
    refr = where(refr > 0.5, refr - 1.0, 0.0)
    active = refr < 0.5
    x = v - c[13]
    drive = c[19] + i_ext
    x_free = c[0] * x + c[1] * w + c[2] * i_e + c[3] * i_i + c[4] * drive
    w_free = c[5] * x + c[6] * w + c[7] * i_e + c[8] * i_i + c[9] * drive
    w_held = c[10] * w + c[18] * x * (1.0 - c[10])
    v_new = where(active, c[13] + x_free, v)
    w_new = where(active, w_free, w_held)
    spiked = where(v_new > c[14], active, 0.0)
    S[0, i] = where(spiked, c[15], v_new)
    S[1, i] = w_new + spiked * c[17]
    S[2, i] = i_e * c[11]
    S[3, i] = i_i * c[12]
    S[4, i] = where(spiked, c[16], refr)
    return spiked


@neuron_model
class AdaptiveLIF(NeuronModel):
    """Current-based LIF neuron with an adaptation variable ``w``.

    Equations (while refractory v is held and w relaxes with v fixed)::

        tau_m dv/dt     = (v_rest - v) + i_e + i_i - w + i_offset + i_ext
        tau_w dw/dt     = a (v - v_rest) - w
        tau_syn_e di_e/dt = -i_e,   tau_syn_i di_i/dt = -i_i

    On a spike (``v > v_th``): ``v <- v_reset`` and ``w <- w + b``.  With
    ``a = 0`` this is spike-frequency adaptation by an after-hyperpolarising
    current; with ``a > 0`` it adds subthreshold adaptation (the linear part of
    Brette & Gerstner's AdEx model).  The linear system is integrated exactly
    with a matrix exponential.

    Parameters (keyword-only):
        tau_m: membrane time constant (ms).
        v_rest, v_reset, v_th: rest, reset and threshold potentials (mV).
        tau_ref: refractory period (ms).
        tau_w: adaptation time constant (ms).
        a: subthreshold coupling (dimensionless).
        b: spike-triggered increment of ``w`` (mV).
        tau_syn_e, tau_syn_i: synaptic current decays (ms).
        i_offset: constant drive (mV).
    """

    state_vars = ("v", "w", "i_e", "i_i", "refr")
    state_units = {"v": "mV", "w": "mV", "i_e": "mV", "i_i": "mV", "refr": "steps"}
    receptors = ("i_e", "i_i")
    weight_unit = "mV"
    i_ext_unit = "mV"
    step = staticmethod(adaptive_lif_step)

    tau_m: float = 20.0
    v_rest: float = -70.0
    v_reset: float = -70.0
    v_th: float = -50.0
    tau_ref: float = 2.0
    tau_w: float = 100.0
    a: float = 0.0
    b: float = 2.0
    tau_syn_e: float = 5.0
    tau_syn_i: float = 10.0
    i_offset: float = 0.0

    def __post_init__(self) -> None:
        for name in ("tau_m", "tau_w", "tau_syn_e", "tau_syn_i"):
            check_positive(self, name)
        check_positive(self, "tau_ref", allow_zero=True)
        check_finite(self, "v_rest", "v_reset", "v_th", "a", "b", "i_offset")

    def propagator(self, dt: float) -> np.ndarray:
        """Exact one-step propagator of (v - v_rest, w, i_e, i_i, drive), 5x5."""
        A = np.zeros((5, 5))
        A[0, :] = [-1.0, -1.0, 1.0, 1.0, 1.0]
        A[0, :] /= self.tau_m
        A[1, :2] = [self.a / self.tau_w, -1.0 / self.tau_w]
        A[2, 2] = -1.0 / self.tau_syn_e
        A[3, 3] = -1.0 / self.tau_syn_i
        return expm(A * dt)

    def coefficients(self, dt: float) -> np.ndarray:
        P = self.propagator(dt)
        return np.concatenate([
            P[0, :], P[1, :],
            [math.exp(-dt / self.tau_w), math.exp(-dt / self.tau_syn_e),
             math.exp(-dt / self.tau_syn_i), self.v_rest, self.v_th, self.v_reset,
             refractory_steps(self.tau_ref, dt), self.b, self.a, self.i_offset],
        ])

    def initial_state(self) -> dict[str, float]:
        return {"v": self.v_rest, "w": 0.0, "i_e": 0.0, "i_i": 0.0, "refr": 0.0}

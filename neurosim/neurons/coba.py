"""Conductance-based leaky integrate-and-fire neuron."""
from __future__ import annotations

import math

import numpy as np

from .base import NeuronModel, check_finite, check_positive, refractory_steps, neuron_model
from .mathfn import exp, where


def coba_step(S, i, c, i_ext):
    """Advance conductance-based LIF neurons ``i`` by one step (exponential Euler).

    Rows of ``S``: v (mV), g_e (nS), g_i (nS), refr (steps left).
    ``c`` = [dt, g_l, c_m, e_l, e_e, e_i, b_e, b_i, v_th, v_reset, n_ref, i_offset]
    with dt in ms, g_l in nS, c_m in pF, potentials in mV, i_offset in nA.
    ``i_ext`` (nA) is held constant over the step.

    With ``dv/dt = A + B v`` frozen at the start of the step (B < 0), the update
    is ``v' = v_inf + (v - v_inf) * exp(B dt)`` with ``v_inf = -A/B``, Brian2's
    ``exponential_euler``; the conductances decay exactly.
    """
    v = S[0, i]
    g_e = S[1, i]
    g_i = S[2, i]
    refr = S[3, i]
    refr = where(refr > 0.5, refr - 1.0, 0.0)
    active = refr < 0.5
    g_tot = c[1] + g_e + g_i
    drive = c[1] * c[3] + g_e * c[4] + g_i * c[5] + 1000.0 * (c[11] + i_ext)
    v_inf = drive / g_tot
    v_free = v_inf + (v - v_inf) * exp(-g_tot * c[0] / c[2])
    v_new = where(active, v_free, v)
    spiked = where(v_new > c[8], active, 0.0)
    S[0, i] = where(spiked, c[9], v_new)
    S[1, i] = g_e * c[6]
    S[2, i] = g_i * c[7]
    S[3, i] = where(spiked, c[10], refr)
    return spiked


@neuron_model
class ConductanceLIF(NeuronModel):
    """Conductance-based LIF neuron (the model of Brian2's COBA example).

    Equations (``unless refractory`` applies to v only)::

        c_m dv/dt = g_l (e_l - v) + g_e (e_e - v) + g_i (e_i - v) + i_offset + i_ext
        tau_e dg_e/dt = -g_e
        tau_i dg_i/dt = -g_i

    A spike through a synapse of weight ``w`` (nS) adds ``w`` to ``g_e`` when
    ``w > 0`` and ``|w|`` to ``g_i`` when ``w < 0`` (or to the receptor named
    in :meth:`Network.connect`).  Integrated with exponential Euler, as Brian2's
    COBA example, so runs agree step for step.

    Parameters (keyword-only):
        c_m: membrane capacitance (pF).
        g_l: leak conductance (nS).
        e_l, e_e, e_i: leak, excitatory and inhibitory reversal potentials (mV).
        v_th, v_reset: threshold and reset potential (mV).
        tau_ref: refractory period (ms).
        tau_e, tau_i: conductance decay time constants (ms).
        i_offset: constant injected current (nA).
    """

    state_vars = ("v", "g_e", "g_i", "refr")
    state_units = {"v": "mV", "g_e": "nS", "g_i": "nS", "refr": "steps"}
    receptors = ("g_e", "g_i")
    conductance_based = True
    weight_unit = "nS"
    i_ext_unit = "nA"
    step = staticmethod(coba_step)

    c_m: float = 200.0
    g_l: float = 10.0
    e_l: float = -60.0
    e_e: float = 0.0
    e_i: float = -80.0
    v_th: float = -50.0
    v_reset: float = -60.0
    tau_ref: float = 5.0
    tau_e: float = 5.0
    tau_i: float = 10.0
    i_offset: float = 0.0

    def __post_init__(self) -> None:
        for name in ("c_m", "g_l", "tau_e", "tau_i"):
            check_positive(self, name)
        check_positive(self, "tau_ref", allow_zero=True)
        check_finite(self, "e_l", "e_e", "e_i", "v_th", "v_reset", "i_offset")

    def coefficients(self, dt: float) -> np.ndarray:
        return np.array([
            dt, self.g_l, self.c_m, self.e_l, self.e_e, self.e_i,
            math.exp(-dt / self.tau_e), math.exp(-dt / self.tau_i),
            self.v_th, self.v_reset, refractory_steps(self.tau_ref, dt), self.i_offset,
        ])

    def initial_state(self) -> dict[str, float]:
        return {"v": self.e_l, "g_e": 0.0, "g_i": 0.0, "refr": 0.0}

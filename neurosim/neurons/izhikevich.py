"""Izhikevich (2003) simple model neuron."""
from __future__ import annotations

import math

import numpy as np

from .base import NeuronModel, check_finite, check_positive, neuron_model
from .mathfn import where


def izhikevich_step(S, i, c, i_ext):
    """Advance Izhikevich neurons ``i`` by one step (forward Euler, as the paper).

    Rows of ``S``: v (mV), u (mV/ms), i_e (mV/ms), i_i (mV/ms).
    ``c`` = [dt, a, b, c, d, v_peak, b_e, b_i, i_offset].
    """
    v = S[0, i]
    u = S[1, i]
    i_e = S[2, i]
    i_i = S[3, i]
    current = i_e + i_i + c[8] + i_ext
    v_new = v + c[0] * (0.04 * v * v + 5.0 * v + 140.0 - u + current)
    u_new = u + c[0] * c[1] * (c[2] * v - u)
    spiked = where(v_new >= c[5], 1.0, 0.0)
    S[0, i] = where(spiked, c[3], v_new)
    S[1, i] = u_new + spiked * c[4]
    S[2, i] = i_e * c[6]
    S[3, i] = i_i * c[7]
    return spiked


@neuron_model
class Izhikevich(NeuronModel):
    """Izhikevich's simple model (IEEE Trans. Neural Netw. 14:1569, 2003).

    Equations (v in mV, t in ms)::

        dv/dt = 0.04 v^2 + 5 v + 140 - u + i_e + i_i + i_offset + i_ext
        du/dt = a (b v - u)
        tau_syn_e di_e/dt = -i_e,   tau_syn_i di_i/dt = -i_i

    When ``v >= v_peak``: ``v <- c`` and ``u <- u + d``.  Defaults are the
    regular-spiking cell (a=0.02, b=0.2, c=-65, d=8).  Synaptic weights and
    currents are in mV/ms (the paper's dimensionless current).

    Parameters (keyword-only):
        a: recovery rate (1/ms).  b: sensitivity of u to v (1/ms).
        c: reset potential (mV).  d: recovery increment (mV/ms).
        v_peak: spike cut-off (mV).
        tau_syn_e, tau_syn_i: synaptic current decays (ms).
        i_offset: constant drive (mV/ms).
    """

    state_vars = ("v", "u", "i_e", "i_i")
    state_units = {"v": "mV", "u": "mV/ms", "i_e": "mV/ms", "i_i": "mV/ms"}
    receptors = ("i_e", "i_i")
    weight_unit = "mV/ms"
    i_ext_unit = "mV/ms"
    step = staticmethod(izhikevich_step)

    a: float = 0.02
    b: float = 0.2
    c: float = -65.0
    d: float = 8.0
    v_peak: float = 30.0
    tau_syn_e: float = 5.0
    tau_syn_i: float = 10.0
    i_offset: float = 0.0

    def __post_init__(self) -> None:
        for name in ("tau_syn_e", "tau_syn_i"):
            check_positive(self, name)
        check_finite(self, "a", "b", "c", "d", "v_peak", "i_offset")

    def coefficients(self, dt: float) -> np.ndarray:
        return np.array([
            dt, self.a, self.b, self.c, self.d, self.v_peak,
            math.exp(-dt / self.tau_syn_e), math.exp(-dt / self.tau_syn_i), self.i_offset,
        ])

    def initial_state(self) -> dict[str, float]:
        return {"v": self.c, "u": self.b * self.c, "i_e": 0.0, "i_i": 0.0}

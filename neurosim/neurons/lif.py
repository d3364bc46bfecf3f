"""Current-based leaky integrate-and-fire neuron with exponential synaptic currents."""
from __future__ import annotations

import math

import numpy as np

from .base import NeuronModel, check_finite, check_positive, refractory_steps, neuron_model
from .mathfn import where


def lif_step(S, i, c, i_ext):
    """Advance current-based LIF neurons ``i`` by one step (exact integration).

    Rows of ``S``: v (mV), i_e (mV), i_i (mV), refr (steps left).
    ``c`` = [a_m, b_e, b_i, k_e, k_i, v_rest, v_th, v_reset, n_ref, i_offset].
    ``i_ext`` (mV) is held constant over the step.
    """
    v = S[0, i]
    i_e = S[1, i]
    i_i = S[2, i]
    refr = S[3, i]
    refr = where(refr > 0.5, refr - 1.0, 0.0)
    active = refr < 0.5
    v_inf = c[5] + c[9] + i_ext
    v_free = v_inf + (v - v_inf) * c[0] + i_e * c[3] + i_i * c[4]
    v_new = where(active, v_free, v)
    spiked = where(v_new > c[6], active, 0.0)
    S[0, i] = where(spiked, c[7], v_new)
    S[1, i] = i_e * c[1]
    S[2, i] = i_i * c[2]
    S[3, i] = where(spiked, c[8], refr)
    return spiked


def decay_factor(tau: float, dt: float) -> float:
    """``exp(-dt/tau)``: one step of exponential decay; 0 for ``tau = 0``."""
    return math.exp(-dt / tau) if tau > 0 else 0.0


def exp_kernel_coupling(tau_syn: float, tau_m: float, dt: float) -> float:
    """Contribution to v(t+dt) of a unit exponential current i(t) (decay tau_syn).

    Exact solution of ``tau_m dv/dt = -v + i``, ``tau_syn di/dt = -i`` over one
    step: ``tau_syn/(tau_syn - tau_m) * (exp(-dt/tau_syn) - exp(-dt/tau_m))``,
    and its limit ``dt/tau_m * exp(-dt/tau_m)`` when the two are equal.  For
    ``tau_syn = 0`` (delta synapse) the input is a jump of v at the start of
    the step, which then decays with the membrane: ``exp(-dt/tau_m)``.
    """
    if tau_syn == 0.0:
        return math.exp(-dt / tau_m)
    if math.isclose(tau_syn, tau_m, rel_tol=1e-9):
        return dt / tau_m * math.exp(-dt / tau_m)
    return tau_syn / (tau_syn - tau_m) * (math.exp(-dt / tau_syn) - math.exp(-dt / tau_m))


@neuron_model
class LIF(NeuronModel):
    """Current-based LIF neuron (the model of Brian2's CUBA example).

    Equations (``unless refractory`` applies to v only)::

        tau_m   dv/dt   = (v_rest - v) + i_e + i_i + i_offset + i_ext
        tau_syn_e di_e/dt = -i_e
        tau_syn_i di_i/dt = -i_i

    A spike arriving through a synapse of weight ``w`` (mV) adds ``w`` to
    ``i_e`` when ``w > 0`` and to ``i_i`` when ``w < 0``.  With
    ``tau_syn_e = 0`` (or ``tau_syn_i = 0``) synapses are delta currents: the
    weight is a jump of ``v`` (mV); input arriving while refractory is lost.  When ``v > v_th`` the
    neuron spikes, ``v`` is set to ``v_reset`` and held there for ``tau_ref``.
    The linear system is integrated exactly over each step (currents are in
    units of voltage, i.e. already multiplied by the membrane resistance).

    Parameters (keyword-only):
        tau_m: membrane time constant (ms).
        v_rest: resting potential (mV).
        v_reset: reset potential (mV).
        v_th: threshold (mV).
        tau_ref: refractory period (ms).
        tau_syn_e: excitatory synaptic current decay (ms); 0 for delta synapses.
        tau_syn_i: inhibitory synaptic current decay (ms); 0 for delta synapses.
        i_offset: constant drive (mV).

    Example:
        >>> import neurosim as ns
        >>> ns.LIF(tau_m=20.0, v_th=-50.0, v_reset=-60.0).v_th
        -50.0
    """

    state_vars = ("v", "i_e", "i_i", "refr")
    state_units = {"v": "mV", "i_e": "mV", "i_i": "mV", "refr": "steps"}
    receptors = ("i_e", "i_i")
    weight_unit = "mV"
    i_ext_unit = "mV"
    step = staticmethod(lif_step)

    tau_m: float = 20.0
    v_rest: float = -65.0
    v_reset: float = -65.0
    v_th: float = -50.0
    tau_ref: float = 2.0
    tau_syn_e: float = 5.0
    tau_syn_i: float = 10.0
    i_offset: float = 0.0

    def __post_init__(self) -> None:
        check_positive(self, "tau_m")
        for name in ("tau_ref", "tau_syn_e", "tau_syn_i"):
            check_positive(self, name, allow_zero=True)
        check_finite(self, "v_rest", "v_reset", "v_th", "i_offset")

    def coefficients(self, dt: float) -> np.ndarray:
        return np.array([
            math.exp(-dt / self.tau_m),
            decay_factor(self.tau_syn_e, dt),
            decay_factor(self.tau_syn_i, dt),
            exp_kernel_coupling(self.tau_syn_e, self.tau_m, dt),
            exp_kernel_coupling(self.tau_syn_i, self.tau_m, dt),
            self.v_rest,
            self.v_th,
            self.v_reset,
            refractory_steps(self.tau_ref, dt),
            self.i_offset,
        ])

    def initial_state(self) -> dict[str, float]:
        return {"v": self.v_rest, "i_e": 0.0, "i_i": 0.0, "refr": 0.0}

"""The fixed-point emulator as a backend of the simulator's network graph.

``net.run(duration, backend="loihi2")`` (any target name) quantises the built
network (:func:`neurosim.hardware.quantize.quantize`) and steps it with Lava's
fixed-point LIF arithmetic (:func:`neurosim.hardware.loihi_fixed.lif_fixed_update`):
the same graph, inputs (the same random streams) and monitors as the
floating-point backends, so float, quantised and emulated runs of one
network can be compared spike for spike.

Per step ``t``: the integer input that arrived for ``t`` is read from a ring
buffer; every neuron advances (``u``, ``v`` integers; bias from the constant
and any external drive); spikes of neurons and sources are propagated: per
projection and delay, the weight mantissas of the spiking synapses are summed
per target neuron, scaled by the projection's ``2**weight_exp`` (Lava's Dense
order) and added to the slot read at ``t + 1 + delay``.  The floating-point
state ``S`` mirrors the fixed-point one in mV (``v = V / s + v_reset``,
``i_e = U / (s k)``, ``i_i = 0``) so state monitors and ``net.state()`` work
unchanged.
"""
from __future__ import annotations

import numpy as np

from ..engine.numpy_backend import record_spikes, record_state, spiking_synapses
from .loihi_fixed import VTH_SHIFT, apply_weight_exp, lif_fixed_update
from .quantize import QuantizedNetwork


class FixedPointEngine:
    """Integer state of a quantised network and its step loop."""

    def __init__(self, q: QuantizedNetwork, cn) -> None:
        self.q = q
        n = cn.n_dyn
        col = np.zeros(n, dtype=np.int64)
        for i, p in enumerate(q.populations):
            col[p.start:p.stop] = i
        pick = lambda f: np.array([f(p) for p in q.populations], dtype=np.float64)[col]
        self.scale, self.coupling, self.v_reset = pick(lambda p: p.scale), pick(lambda p: p.coupling), \
            pick(lambda p: p.v_reset)
        self.du = pick(lambda p: p.du).astype(np.int64)
        self.dv = pick(lambda p: p.dv).astype(np.int64)
        self.threshold = pick(lambda p: p.vth).astype(np.int64) << VTH_SHIFT
        self.bias_exp = pick(lambda p: p.bias_exp).astype(np.int64)
        self.bias_static = np.concatenate([p.bias_static for p in q.populations]) if n else np.zeros(0)
        self.bias_per_mv = pick(lambda p: p.bias_per_mv)
        self.v = np.rint(self.scale * (cn.S[0] - self.v_reset)).astype(np.int64)
        self.u = np.rint(self.scale * self.coupling * (cn.S[1] + cn.S[2])).astype(np.int64)
        self.ring = cn.max_delay_steps + 2
        self.a_buf = np.zeros((self.ring, n), dtype=np.int64)
        self.bias_clipped = 0

    def _bias(self, i_ext: np.ndarray) -> np.ndarray:
        raw = np.rint((self.bias_static + self.bias_per_mv * i_ext) / (1 << self.bias_exp))
        self.bias_clipped += int(np.count_nonzero((raw < -4096) | (raw > 4095)))
        return np.clip(raw, -4096, 4095).astype(np.int64) << self.bias_exp

    def _mirror(self, S: np.ndarray) -> None:
        S[0] = self.v / self.scale + self.v_reset
        S[1] = self.u / (self.scale * self.coupling)
        S[2] = 0.0
        S[3] = 0.0

    def _propagate(self, cn, spikes: np.ndarray, nodes: np.ndarray, t: int) -> None:
        n_dyn = cn.n_dyn
        for q, syn in spiking_synapses(cn, spikes, nodes):
            if not syn.size:
                continue
            key = cn.synapse_values(q, syn)[1] * n_dyn + cn.proj_post_base[q] + cn.post[syn]
            keys, inv = np.unique(key, return_inverse=True)
            sums = np.zeros(keys.size, dtype=np.int64)
            np.add.at(sums, inv, self.q.mantissa[syn])
            delay, post = np.divmod(keys, n_dyn)
            np.add.at(self.a_buf, ((t + 1 + delay) % self.ring, post),
                      apply_weight_exp(sums, int(self.q.proj_exp[q])))

    def run_chunk(self, cn, stim, plan, record_node, out) -> None:
        """Advance over the steps of ``stim``, filling ``out`` (the backends' contract)."""
        mon_steps = [plan.steps_in(m, stim.t0, stim.n) for m in range(len(plan.every))]
        self._mirror(cn.S)
        for k in range(stim.n):
            t = stim.t0 + k
            slot = t % self.ring
            a_in = self.a_buf[slot].copy()
            self.a_buf[slot] = 0
            record_state(cn.S, plan, mon_steps, t, out)
            bias = self._bias(stim.i_ext[min(k, stim.i_ext.shape[0] - 1)])
            self.u, self.v, fired = lif_fixed_update(self.u, self.v, a_in, self.du, self.dv, bias,
                                                     self.threshold)
            self._mirror(cn.S)
            spikes = np.concatenate([np.flatnonzero(fired),
                                     stim.src_idx[stim.src_ptr[k]:stim.src_ptr[k + 1]]]).astype(np.int64)
            nodes = cn.node_of[spikes]
            out.counts[k] = np.bincount(nodes, minlength=cn.n_nodes)
            out.events[k] = cn.out_degree[spikes].sum()
            self._propagate(cn, spikes, nodes, t)
            record_spikes(out, t, spikes[record_node[nodes]])

"""Reference backend: one vectorised NumPy pass per population per step.

Straightforward and slow; it defines what the fast backends must reproduce.
"""
from __future__ import annotations

import numpy as np

from .compiled import CompiledNetwork
from .recording import ChunkRecord, StateRecordPlan
from .stimulus import StimulusChunk


def run_chunk(cn: CompiledNetwork, stim: StimulusChunk, plan: StateRecordPlan,
              record_node: np.ndarray, out: ChunkRecord) -> None:
    """Advance the network over the steps of ``stim``, filling ``out``."""
    S, buf, D = cn.S, cn.buffer, cn.ring_size
    mon_steps = [plan.steps_in(m, stim.t0, stim.n) for m in range(len(plan.every))]
    for k in range(stim.n):
        t = stim.t0 + k
        record_state(S, plan, mon_steps, t, out)
        iext = stim.i_ext[min(k, stim.i_ext.shape[0] - 1)]
        spikes = []
        for p, step in enumerate(cn.pop_steps):
            a, b = cn.pop_start[p], cn.pop_stop[p]
            fired = step(S, slice(a, b), cn.pop_coef[p], iext[a:b])
            spikes.append(np.flatnonzero(fired > 0.5) + a)
        spikes.append(stim.src_idx[stim.src_ptr[k]:stim.src_ptr[k + 1]])
        spikes = np.concatenate(spikes).astype(np.int64)
        nodes = cn.node_of[spikes]
        out.counts[k] = np.bincount(nodes, minlength=cn.n_nodes)
        out.events[k] = cn.out_degree[spikes].sum()
        _propagate(cn, spikes, nodes, t)
        slot = buf[t % D].reshape(-1)
        np.add.at(slot, stim.pin_slot, stim.pin_value[k])
        _deliver(cn, buf[t % D])
        record_spikes(out, t, spikes[record_node[nodes]])


def record_state(S, plan, mon_steps, t, out) -> None:
    for m, steps in enumerate(mon_steps):
        r = np.searchsorted(steps, t)
        if r < steps.size and steps[r] == t:
            a, b = plan.ptr[m], plan.ptr[m + 1]
            start = out.state_offset[m] + r * (b - a)
            out.state[start:start + (b - a)] = S[plan.row[a:b], plan.col[a:b]]


def spiking_synapses(cn: CompiledNetwork, spikes, nodes):
    """For every projection leaving a node that spiked: ``(q, synapse ids)`` of its
    spiking neurons, in the engine's order (node, projection, spike, CSR)."""
    for nd in np.unique(nodes):
        fired = spikes[nodes == nd] - cn.node_start[nd]
        for q in cn.node_proj[cn.node_proj_ptr[nd]:cn.node_proj_ptr[nd + 1]]:
            rows = cn.indptr[cn.proj_ptr_offset[q]:]
            starts, stops = rows[fired], rows[fired + 1]
            yield q, (np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)])
                      if fired.size else np.zeros(0, dtype=np.int64))


def record_spikes(out: ChunkRecord, t: int, rec: np.ndarray) -> None:
    """Append the recorded spikes ``rec`` (global indices) of step ``t`` to ``out``."""
    while out.n_spikes + rec.size > out.spike_step.size:
        out.grow()
    out.spike_step[out.n_spikes:out.n_spikes + rec.size] = t
    out.spike_idx[out.n_spikes:out.n_spikes + rec.size] = rec
    out.n_spikes += rec.size


def _deliver(cn: CompiledNetwork, slot) -> None:
    """Add the nonzero entries of ring-buffer ``slot`` [2, n_dyn] to the receptor rows of ``cn.S``; clear it."""
    for p in range(len(cn.pop_kind)):
        a, b = cn.pop_start[p], cn.pop_stop[p]
        for r in range(2):
            arrived = slot[r, a:b]
            target = cn.S[cn.pop_receptor_rows[p, r], a:b]
            np.add(target, arrived, out=target, where=arrived != 0.0)
    slot[...] = 0.0


def _propagate(cn: CompiledNetwork, spikes, nodes, t) -> None:
    """Add every synapse of every spike, in the engine's order: delay 0 straight to ``S``, others to the ring."""
    D, n_dyn = cn.ring_size, cn.n_dyn
    flat = cn.buffer.reshape(-1)
    S_flat = cn.S.reshape(-1)
    for q, syn in spiking_synapses(cn, spikes, nodes):
        w, delay = cn.synapse_values(q, syn)
        rec = np.full(syn.size, cn.proj_receptor[q]) if cn.proj_receptor[q] >= 0 else (w < 0).astype(np.int64)
        if cn.proj_magnitude[q]:
            w = np.abs(w)
        col = cn.proj_post_base[q] + cn.post[syn]
        now = delay == 0
        np.add.at(S_flat, cn.pop_receptor_rows[cn.node_of[col[now]], rec[now]] * n_dyn + col[now], w[now])
        later = ~now
        slot = (t + delay[later]) % D
        np.add.at(flat, (slot * 2 + rec[later]) * n_dyn + col[later], w[later])

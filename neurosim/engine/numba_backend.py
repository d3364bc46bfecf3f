"""Fast CPU backend: the whole chunk of steps runs in one compiled Numba loop.

It calls the same step functions as the NumPy reference (compiled with Numba)
and visits synapses in the same order, so both give identical spikes.  Only
the built-in models of :data:`MODELS` are compiled here; a network with any
other model runs on the NumPy backend.
"""
from __future__ import annotations

import numpy as np
from numba import njit, uint64

from ..neurons import (AdaptiveLIF, ConductanceLIF, Izhikevich, LIF, adaptive_lif_step, coba_step,
                       izhikevich_step, lif_step)
from .compiled import CompiledNetwork
from .recording import ChunkRecord, StateRecordPlan
from .stimulus import StimulusChunk

#: models this backend compiles; a model's kind is its position here
MODELS = (LIF, ConductanceLIF, AdaptiveLIF, Izhikevich)

_lif = njit(lif_step, cache=True)
_coba = njit(coba_step, cache=True)
_adaptive = njit(adaptive_lif_step, cache=True)
_izhikevich = njit(izhikevich_step, cache=True)


def kind_of(model) -> int:
    """Position of the model's class in :data:`MODELS`, or -1."""
    return MODELS.index(type(model)) if type(model) in MODELS else -1


@njit(cache=True)
def _advance_population(kind, S, start, stop, c, i_ext, r_e, r_i, in_e, in_i, fired):
    """Advance neurons start..stop-1 of one population by one step.

    First the input that arrived (``in_e``/``in_i``, the ring-buffer slot) is
    added to the receptor rows ``r_e``/``r_i`` and the slot cleared; then the
    model's step runs and 1.0/0.0 is stored in ``fired``.  The dispatch
    happens once per population and the loop only stores, so LLVM vectorises
    it; spiking neurons are collected in a separate pass.  Unsigned loop
    indices spare Numba's negative-index wrap-around checks, which would
    otherwise block vectorisation (a 4x slowdown).
    """
    lo, hi = uint64(start), uint64(stop)
    for i in range(lo, hi):
        S[r_e, i] += in_e[i]
        S[r_i, i] += in_i[i]
        in_e[i] = 0.0
        in_i[i] = 0.0
    if kind == 0:
        for i in range(lo, hi):
            fired[i] = _lif(S, i, c, i_ext[i])
    elif kind == 1:
        for i in range(lo, hi):
            fired[i] = _coba(S, i, c, i_ext[i])
    elif kind == 2:
        for i in range(lo, hi):
            fired[i] = _adaptive(S, i, c, i_ext[i])
    else:
        for i in range(lo, hi):
            fired[i] = _izhikevich(S, i, c, i_ext[i])


@njit(cache=True)
def _pending_state(S, buf, prev, pop_rr, node_of, row, col):
    """State value at the start of a step, input that arrived included.

    Input is added to the receptor rows inside the neuron loop, so a state
    monitor (which records before the update) adds it here, with the same
    floating-point operation.
    """
    p = node_of[col]
    if row == pop_rr[p, 0]:
        return S[row, col] + buf[prev, 0, col]
    if row == pop_rr[p, 1]:
        return S[row, col] + buf[prev, 1, col]
    return S[row, col]


@njit(cache=True)
def _kernel(t0, n, k_start, S, buf, pop_kind, pop_start, pop_stop, pop_coef, pop_rr,
            node_start, node_proj_ptr, node_proj, proj_ptr_offset, proj_post_base, proj_receptor,
            proj_magnitude, indptr, post, weight, delay, out_degree, node_of,
            src_ptr, src_idx, pin_slot, pin_value, i_ext,
            mon_ptr, mon_row, mon_col, mon_every, state_out, state_off,
            record_node, spike_step, spike_idx, n_rec, counts, events, spikes):
    """Run steps k_start ... n-1 of the chunk; return (k reached, spikes recorded).

    Stops early (k < n) when the spike record might overflow at the next step.
    """
    D = buf.shape[0]
    n_dyn = S.shape[1]
    n_nodes = node_start.shape[0] - 1
    seg = np.zeros(n_nodes + 1, dtype=np.int64)
    fired = np.zeros(n_dyn)
    for k in range(k_start, n):
        if n_rec + spikes.shape[0] > spike_step.shape[0]:
            return k, n_rec
        t = t0 + k
        prev = (t - 1) % D
        for m in range(mon_every.shape[0]):
            ev = mon_every[m]
            if t % ev == 0:
                first = ((t0 + ev - 1) // ev) * ev
                r = (t - first) // ev
                width = mon_ptr[m + 1] - mon_ptr[m]
                base = state_off[m] + r * width
                for q in range(width):
                    state_out[base + q] = _pending_state(S, buf, prev, pop_rr, node_of, mon_row[mon_ptr[m] + q],
                                                         mon_col[mon_ptr[m] + q])
        row = k if i_ext.shape[0] > 1 else 0
        ns = 0
        for p in range(pop_kind.shape[0]):
            _advance_population(pop_kind[p], S, pop_start[p], pop_stop[p], pop_coef[p], i_ext[row],
                                pop_rr[p, 0], pop_rr[p, 1], buf[prev, 0], buf[prev, 1], fired)
        for i in range(uint64(n_dyn)):
            if fired[i] > 0.5:
                spikes[ns] = i
                ns += 1
        for j in range(src_ptr[k], src_ptr[k + 1]):
            spikes[ns] = src_idx[j]
            ns += 1
        # group spikes by node (they are in ascending global order)
        seg[:] = 0
        ev_count = 0
        for s in range(ns):
            g = spikes[s]
            nd = node_of[g]
            counts[k, nd] += 1
            seg[nd + 1] += 1
            ev_count += out_degree[g]
            if record_node[nd]:
                spike_step[n_rec] = t
                spike_idx[n_rec] = g
                n_rec += 1
        events[k] = ev_count
        for nd in range(n_nodes):
            seg[nd + 1] += seg[nd]
        for nd in range(n_nodes):
            for qq in range(node_proj_ptr[nd], node_proj_ptr[nd + 1]):
                q = node_proj[qq]
                off = proj_ptr_offset[q]
                base = proj_post_base[q]
                rec = proj_receptor[q]
                mag = proj_magnitude[q]
                for s in range(seg[nd], seg[nd + 1]):
                    local = spikes[s] - node_start[nd]
                    for syn in range(indptr[off + local], indptr[off + local + 1]):
                        w = weight[syn]
                        r = rec
                        if r < 0:
                            r = 1 if w < 0 else 0
                        if mag and w < 0:
                            w = -w
                        buf[uint64((t + delay[syn]) % D), r, uint64(base + post[syn])] += w
        slot = t % D
        for m in range(pin_slot.shape[0]):
            buf[slot, pin_slot[m] // n_dyn, pin_slot[m] % n_dyn] += pin_value[k, m]
    return n, n_rec


def run_chunk(cn: CompiledNetwork, stim: StimulusChunk, plan: StateRecordPlan,
              record_node: np.ndarray, out: ChunkRecord) -> None:
    """Advance the network over the steps of ``stim``, filling ``out``."""
    spikes = np.empty(cn.node_start[-1], dtype=np.int64)
    k = 0
    while True:
        k, out.n_spikes = _kernel(
            stim.t0, stim.n, k, cn.S, cn.buffer, cn.pop_kind, cn.pop_start, cn.pop_stop, cn.pop_coef,
            cn.pop_receptor_rows, cn.node_start, cn.node_proj_ptr, cn.node_proj, cn.proj_ptr_offset,
            cn.proj_post_base, cn.proj_receptor, cn.proj_magnitude, cn.indptr, cn.post, cn.weight,
            cn.delay, cn.out_degree, cn.node_of, stim.src_ptr, stim.src_idx, stim.pin_slot,
            stim.pin_value, stim.i_ext, plan.ptr, plan.row, plan.col, plan.every, out.state,
            out.state_offset, record_node, out.spike_step, out.spike_idx, out.n_spikes,
            out.counts, out.events, spikes)
        if k == stim.n:
            return
        out.grow()

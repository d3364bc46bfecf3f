"""Fast CPU backend: the whole chunk of steps runs in one compiled Numba loop.

It calls the same step functions as the NumPy reference (compiled with Numba)
and visits synapses in the same order, so both give identical spikes.  Only
the built-in models of :data:`MODELS` are compiled here; a network with any
other model runs on the NumPy backend.

Where the time goes, and what keeps it low:

* the neuron loop streams the state matrix once per step; it only stores, so
  LLVM vectorises it (see :func:`_advance_population`);
* a synapse of delay 0 adds its weight straight to the target's state (one
  random access per event); only delayed synapses go through the ring buffer;
* delayed input is delivered *sparsely*: each ring-buffer slot keeps a list
  of the entries written into it, so a step touches only the neurons that
  received input instead of streaming the whole buffer (see :func:`_deliver`);
* spikes are collected from a byte mask, eight neurons per 64-bit word, so the
  silent majority costs almost nothing (see :func:`_collect_spikes`);
* with ``run(threads=n)``, networks of :data:`PARALLEL_MIN_NEURONS` neurons or
  more are split into ``n`` contiguous ranges of neurons, one per thread:
  each thread advances its neurons (:func:`_advance_parallel`), and on busy
  steps delivers the synaptic events onto them (:func:`_propagate_parallel`)
  and adds the input that arrived (:func:`_deliver_parallel`); every target
  receives its input in the serial order, so results do not change with the
  thread count.  Spike collection, monitors and recording stay serial.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
import numba
from numba import get_num_threads, njit, prange, uint64

from ..neurons import (AdaptiveLIF, ConductanceLIF, Izhikevich, LIF, adaptive_lif_step, coba_step,
                       izhikevich_step, lif_step)
from .compiled import CompiledNetwork
from .recording import ChunkRecord, StateRecordPlan
from .stimulus import StimulusChunk

#: models this backend compiles; a model's kind is its position here
MODELS = (LIF, ConductanceLIF, AdaptiveLIF, Izhikevich)

#: the step functions, inlined into the neuron loop by Numba itself: the loop then has no call and
#: LLVM vectorises it.  Left to LLVM, the inlining (and so the vectorisation) happened only when the
#: kernel was loaded from Numba's disk cache, not in the process that compiled it, whose runs were
#: up to 10x slower (0.58 instead of 0.06 ms per step for 100k LIF neurons)
_lif = njit(lif_step, inline="always")
_coba = njit(coba_step, inline="always")
_adaptive = njit(adaptive_lif_step, inline="always")
_izhikevich = njit(izhikevich_step, inline="always")


def check_threads(threads: int) -> None:
    """Raise ValueError naming ``threads`` unless it is a usable number of Numba threads."""
    limit = numba.config.NUMBA_NUM_THREADS
    if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or not 1 <= threads <= limit:
        raise ValueError(f"threads must be an integer in [1, {limit}], got {threads!r} (Numba was started "
                         "with that many; set NUMBA_NUM_THREADS before importing neurosim for more)")


#: held by every run on more than one thread: Numba's fallback threading layer ("workqueue", used
#: where neither TBB nor OpenMP is installed) aborts the process when two Python threads run
#: parallel code at once, so multi-threaded runs started from several Python threads take turns
_PARALLEL_RUNS = threading.RLock()


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the enclosed chunks on ``n`` Numba threads; the previous setting is restored after.

    With ``n`` > 1 the block holds a process-wide lock (one multi-threaded run at a time); with
    one thread no parallel code runs, and runs in concurrent Python threads proceed together.
    """
    with _PARALLEL_RUNS if n > 1 else contextlib.nullcontext():
        previous = get_num_threads()
        numba.set_num_threads(int(n))
        try:
            yield
        finally:
            numba.set_num_threads(previous)


def kind_of(model) -> int:
    """Position of the model's class in :data:`MODELS`, or -1."""
    return MODELS.index(type(model)) if type(model) in MODELS else -1


@njit(cache=True)
def _advance_population(kind, S, start, stop, c, drive, fired):
    """Advance neurons start..stop-1 of one population by one step.

    The model's step stores 1/0 in the byte mask ``fired``.  The dispatch on
    ``kind`` happens once per population (dispatching per neuron prevents
    inlining) and the loop only stores, so LLVM vectorises it; spiking
    neurons are collected in a separate pass.  Unsigned loop indices spare
    Numba's negative-index wrap-around checks, which would otherwise block
    vectorisation (a 4x slowdown).  ``drive`` is the external drive per
    column, or empty when the network has none: the test is loop-invariant,
    so LLVM compiles a loop that reads no drive array (8 of the ~73 bytes a
    current-based LIF neuron moves per step).
    """
    lo, hi = uint64(start), uint64(stop)
    has = drive.shape[0] > 0
    if kind == 0:
        for i in range(lo, hi):
            fired[i] = _lif(S, i, c, drive[i] if has else 0.0)
    elif kind == 1:
        for i in range(lo, hi):
            fired[i] = _coba(S, i, c, drive[i] if has else 0.0)
    elif kind == 2:
        for i in range(lo, hi):
            fired[i] = _adaptive(S, i, c, drive[i] if has else 0.0)
    else:
        for i in range(lo, hi):
            fired[i] = _izhikevich(S, i, c, drive[i] if has else 0.0)


#: networks at least this large (in neurons) are split into one partition per thread with
#: ``run(threads=n)``, n > 1 (below it, starting the threads costs more than it saves)
PARALLEL_MIN_NEURONS = 32768


@njit(cache=True, parallel=True)
def _advance_parallel(pop_kind, S, pop_start, pop_stop, pop_coef, i_ext, fired, bounds):
    """Every population, by partition of the columns (``bounds``), one partition per thread.

    Neurons are independent within a step, so the result is identical to one
    thread's.  Interior bounds are multiples of 64 neurons (whole cache lines
    of every state row and of ``fired``), and each part keeps the serial,
    vectorised loop of :func:`_advance_population`.
    """
    for part in prange(bounds.shape[0] - 1):
        for p in range(pop_kind.shape[0]):
            lo, hi = max(pop_start[p], bounds[part]), min(pop_stop[p], bounds[part + 1])
            if hi > lo:
                _advance_population(pop_kind[p], S, lo, hi, pop_coef[p], i_ext, fired)


@njit(cache=True)
def _collect_spikes(fired, spikes):
    """Write the indices of the set bytes of ``fired`` to ``spikes``, ascending; return how many.

    ``fired`` is padded to whole 64-bit words, and a word is only unpacked
    when one of its eight neurons spiked: with ~1 % of neurons spiking per
    step the silent majority costs one test per eight neurons.
    """
    words = fired.view(np.uint64)
    ns = 0
    for w in range(uint64(words.shape[0])):
        if words[w] != 0:
            for i in range(w * uint64(8), w * uint64(8) + uint64(8)):
                if fired[i]:
                    spikes[ns] = i
                    ns += 1
    return ns


@njit(cache=True)
def _deliver(S, S_flat, slot, pend_e, pend_s, n_pending, pop_start, pop_stop, pop_rr, lo, hi):
    """Add the input that arrived in ring-buffer ``slot`` (flat [2 * n_dyn]) for columns lo..hi-1 to ``S``, clear it.

    When the slot's entry list for these columns is valid (``n_pending``
    entries: ring index ``pend_e`` and flat index into ``S`` ``pend_s``; it is
    not when it overflowed or predates this kernel call) only those entries
    are visited; otherwise the columns' part of the slot is streamed.  Only
    nonzero entries are added, in both cases and in the NumPy reference:
    adding 0.0 would change nothing but the sign of a -0.0, and skipping it
    makes the sparse visit (which neither sees untouched entries nor tells
    listed ones that summed to 0 apart) bit-identical to the dense one.
    """
    n_dyn = S.shape[1]
    if n_pending <= pend_e.shape[0]:
        for j in range(uint64(n_pending)):
            e = pend_e[j]
            x = slot[e]
            if x != 0.0:
                S_flat[pend_s[j]] += x
                slot[e] = 0.0
        return
    for p in range(pop_start.shape[0]):
        for r in range(2):
            row = pop_rr[p, r]
            off = uint64(r * n_dyn)
            for i in range(uint64(max(pop_start[p], lo)), uint64(max(min(pop_stop[p], hi), lo))):
                x = slot[off + i]
                if x != 0.0:
                    S[row, i] += x
                slot[off + i] = 0.0


@njit(cache=True)
def _receptor_and_weight(rec, mag, w):
    """The receptor row (0 excitatory, 1 inhibitory) a synapse of weight ``w`` adds to, and what it adds.

    ``rec`` >= 0 is the projection's receptor; ``rec`` < 0 means by the
    weight's sign, and then conductance models (``mag``) add ``|w|``.
    """
    if rec >= 0:
        return rec, w
    if w < 0:
        return 1, -w if mag else w
    return 0, w


@njit(cache=True)
def _propagate(spikes, shift, indptr, post, weight, delay, rec, mag, uniform, e_off, s_off, lo, width,
               S_flat, ring, slot_now, pend_e, pend_s, n_pending):
    """Add the synapses of ``spikes`` through one projection (row ``g + shift`` of ``indptr``) to their targets.

    Only synapses onto the post neurons ``lo .. lo + width - 1`` (local
    indices) are taken: the caller's partition of the columns (everything
    when one thread delivers).  ``e_off``/``s_off`` hold, per receptor, the
    offset of the post population in a ring-buffer slot and in the flattened
    ``S``.  A synapse of delay 0 adds to ``S_flat`` directly; any other adds
    to its ring-buffer slot and is appended to the slot's entry list.  The
    receptor is the projection's, or set by the weight's sign (``rec < 0``;
    conductances then take ``|w|``).  The slot of a delay is found by adding
    and wrapping once (delays are < D) rather than by a 64-bit modulo;
    unsigned indices spare Numba's wrap-around checks and make the partition
    test one comparison.  Projections whose weights and delays are all equal
    (``uniform`` >= 0 is then their first synapse) take
    :func:`_propagate_uniform`, which reads only the post indices.
    """
    D = uint64(ring.shape[0])
    cap = uint64(pend_e.shape[1])
    now = uint64(slot_now)
    if uniform >= 0:
        _propagate_uniform(spikes, shift, indptr, post, weight[uniform], delay[uniform], rec, mag, e_off, s_off,
                           lo, width, S_flat, ring, now, pend_e, pend_s, n_pending)
        return
    for g in spikes:
        row = g + shift
        for syn in range(uint64(indptr[row]), uint64(indptr[row + 1])):
            col = uint64(post[syn])
            if col - lo >= width:
                continue
            r, w = _receptor_and_weight(rec, mag, weight[syn])
            if delay[syn] == 0:
                S_flat[s_off[r] + col] += w
                continue
            d = now + delay[syn]
            if d >= D:
                d -= D
            e = e_off[r] + col
            ring[d, e] += w
            c = uint64(n_pending[d])
            if c < cap:
                pend_e[d, c] = e
                pend_s[d, c] = s_off[r] + col
            n_pending[d] = c + 1


@njit(cache=True)
def _propagate_uniform(spikes, shift, indptr, post, w, delay, rec, mag, e_off, s_off, lo, width,
                       S_flat, ring, now, pend_e, pend_s, n_pending):
    """:func:`_propagate` for a projection whose synapses all have weight ``w`` and ``delay`` steps.

    Weight, receptor and slot are the same for every synapse, so each event
    reads only its post index (4 bytes instead of 14): at large sizes the
    synapse arrays come from main memory and this is what delivery costs.
    """
    r, w = _receptor_and_weight(rec, mag, w)
    if delay == 0:
        target = S_flat[s_off[r]:]
        for g in spikes:
            row = g + shift
            for syn in range(uint64(indptr[row]), uint64(indptr[row + 1])):
                col = uint64(post[syn])
                if col - lo < width:
                    target[col] += w
        return
    d = now + delay
    if d >= uint64(ring.shape[0]):
        d -= uint64(ring.shape[0])
    cap = uint64(pend_e.shape[1])
    e0 = e_off[r]
    s0 = s_off[r]
    slot = ring[d]
    c = uint64(n_pending[d])
    for g in spikes:
        row = g + shift
        for syn in range(uint64(indptr[row]), uint64(indptr[row + 1])):
            col = uint64(post[syn])
            if col - lo >= width:
                continue
            slot[e0 + col] += w
            if c < cap:
                pend_e[d, c] = e0 + col
                pend_s[d, c] = s0 + col
            c += uint64(1)
    n_pending[d] = c


@njit(cache=True)
def _propagate_part(part, spikes, seg, node_proj_ptr, node_proj, proj_ptr_offset, node_start, indptr, post, weight,
                    delay, proj_receptor, proj_magnitude, proj_uniform, e_off, s_off, part_lo, part_width,
                    S_flat, ring, slot_now, pend_e, pend_s, n_pending):
    """The synaptic events of this step's spikes onto the columns of partition ``part``, into its entry lists.

    ``spikes`` are grouped by node (``seg``); projections are taken in node
    order, so each target receives its events in the same order whatever
    the partition, and the sums are bit-identical.
    """
    for nd in range(seg.shape[0] - 1):
        if seg[nd] == seg[nd + 1]:
            continue
        for qq in range(node_proj_ptr[nd], node_proj_ptr[nd + 1]):
            q = node_proj[qq]
            _propagate(spikes[seg[nd]:seg[nd + 1]], proj_ptr_offset[q] - node_start[nd], indptr, post, weight,
                       delay, proj_receptor[q], proj_magnitude[q], proj_uniform[q], e_off[q], s_off[q],
                       part_lo[part, q], part_width[part, q], S_flat, ring, slot_now, pend_e[part], pend_s[part],
                       n_pending[part])


#: steps with at least this many synaptic events (or arrived inputs, or Poisson-input targets) handle them on all
#: partitions' threads at once
PARALLEL_MIN_EVENTS = 4096


@njit(cache=True)
def _partition_bounds(n_dyn, n_threads):
    """Columns of the ``n_threads`` partitions: partition p owns bounds[p] ... bounds[p + 1] - 1
    (interior bounds are multiples of 64)."""
    bounds = np.empty(n_threads + 1, dtype=np.int64)
    for part in range(n_threads):
        bounds[part] = (n_dyn * part // n_threads) // 64 * 64
    bounds[n_threads] = n_dyn
    return bounds


@njit(cache=True)
def _pin_layout(pin_slot, n_dyn, pop_rr, node_of, bounds):
    """Poisson-input targets (``pin_slot``: receptor * n_dyn + column) per partition of ``bounds``:
    their flat index into S (``pin_s``), and their pin numbers grouped by partition, in pin order
    within each (partition p's are pin_order[pin_bounds[p]:pin_bounds[p + 1]]).  When the pins are
    grouped already (one partition, or one Poisson input: ascending columns), ``pin_order`` is empty
    and partition p's are the pins pin_bounds[p] ... pin_bounds[p + 1] - 1 themselves."""
    T = bounds.shape[0] - 1
    pin_s = np.empty(pin_slot.shape[0], dtype=np.int64)
    pin_part = np.zeros(pin_slot.shape[0], dtype=np.int64)
    pin_bounds = np.zeros(T + 1, dtype=np.int64)
    for m in range(pin_slot.shape[0]):
        r, col = pin_slot[m] // n_dyn, pin_slot[m] % n_dyn
        pin_s[m] = pop_rr[node_of[col], r] * n_dyn + col
        while col >= bounds[pin_part[m] + 1]:
            pin_part[m] += 1
        pin_bounds[pin_part[m] + 1] += 1
    for part in range(T):
        pin_bounds[part + 1] += pin_bounds[part]
    if np.all(pin_part[1:] >= pin_part[:-1]):
        return pin_s, np.empty(0, dtype=np.int64), pin_bounds
    pin_order = np.empty(pin_slot.shape[0], dtype=np.int64)
    filled = pin_bounds[:T].copy()
    for m in range(pin_slot.shape[0]):
        pin_order[filled[pin_part[m]]] = m
        filled[pin_part[m]] += 1
    return pin_s, pin_order, pin_bounds


@njit(cache=True)
def _add_pins(k, lo, hi, order, pin_slot, pin_s, pin_value, ring_row, pend_e, pend_s, n_pending, slot_now, cap):
    """Add the Poisson-input values of step ``k`` of one partition's targets, pins order[lo:hi] (pins
    lo ... hi - 1 when ``order`` is empty; see :func:`_pin_layout`), into ring row ``ring_row`` and
    that partition's entry list of the slot."""
    c = n_pending[slot_now]
    for j in range(lo, hi):
        m = order[j] if order.shape[0] else j
        x = pin_value[k, m]
        if x != 0.0:
            e = pin_slot[m]
            ring_row[e] += x
            if c < cap:
                pend_e[slot_now, c] = e
                pend_s[slot_now, c] = pin_s[m]
            c += 1
    n_pending[slot_now] = c


@njit(cache=True, parallel=True)
def _add_pins_parallel(k, pin_order, pin_bounds, pin_slot, pin_s, pin_value, ring_row, pend_e, pend_s, n_pending,
                       slot_now, cap):
    """:func:`_add_pins` for every partition, one per thread (their targets are disjoint columns)."""
    for part in prange(pin_bounds.shape[0] - 1):
        _add_pins(k, pin_bounds[part], pin_bounds[part + 1], pin_order, pin_slot, pin_s, pin_value, ring_row,
                  pend_e[part], pend_s[part], n_pending[part], slot_now, cap)


@njit(cache=True, parallel=True)
def _deliver_parallel(S, S_flat, slot, pend_e, pend_s, n_pending, pop_start, pop_stop, pop_rr, bounds):
    """:func:`_deliver` for every partition of the columns (``bounds``), one per thread."""
    for part in prange(bounds.shape[0] - 1):
        _deliver(S, S_flat, slot, pend_e[part], pend_s[part], n_pending[part], pop_start, pop_stop, pop_rr,
                 bounds[part], bounds[part + 1])


@njit(cache=True, parallel=True)
def _propagate_parallel(spikes, seg, node_proj_ptr, node_proj, proj_ptr_offset, node_start, indptr, post, weight,
                        delay, proj_receptor, proj_magnitude, proj_uniform, e_off, s_off, part_lo, part_width,
                        S_flat, ring, slot_now, pend_e, pend_s, n_pending):
    """:func:`_propagate_part` for every partition, one per thread (they write disjoint columns)."""
    for part in prange(part_lo.shape[0]):
        _propagate_part(part, spikes, seg, node_proj_ptr, node_proj, proj_ptr_offset, node_start, indptr, post,
                        weight, delay, proj_receptor, proj_magnitude, proj_uniform, e_off, s_off, part_lo,
                        part_width, S_flat, ring, slot_now, pend_e, pend_s, n_pending)


@njit(cache=True)
def _kernel(t0, n, k_start, S, buf, pop_kind, pop_start, pop_stop, pop_coef, pop_rr,
            node_start, node_proj_ptr, node_proj, proj_ptr_offset, proj_post_base, proj_receptor,
            proj_magnitude, proj_uniform, indptr, post, weight, delay, out_degree, node_of,
            src_ptr, src_idx, pin_slot, pin_s, pin_order, pin_bounds, pin_value, i_ext,
            mon_ptr, mon_row, mon_col, mon_every, state_out, state_off,
            record_node, spike_step, spike_idx, n_rec, counts, events, spikes, min_events):
    """Run steps k_start ... n-1 of the chunk; return (k reached, spikes recorded).

    The columns (neurons) are split into as many contiguous partitions as
    ``pin_bounds`` has (:func:`_pin_layout`; :func:`run_chunk` makes one per
    Numba thread, and one for networks under :data:`PARALLEL_MIN_NEURONS`),
    each with its own ring-buffer entry lists.  Each thread advances its
    partition's neurons; a step's synaptic events, its Poisson input and the
    input due at its end are handled by one thread per partition when there
    are ``min_events`` (:data:`PARALLEL_MIN_EVENTS`) or more, and partition
    after partition otherwise.  Each target still receives its
    events in the serial order, so the results do not depend on the thread
    count.

    Stops early (k < n) when the spike record might overflow at the next step.

    Ring-buffer slots are addressed as flat rows of ``2 * n_dyn`` entries
    (receptor * n_dyn + column, the layout of ``pin_slot``), and the slot of a
    delay is found by adding and wrapping once (delays are < D) rather than
    by a 64-bit modulo per synaptic event.  Each slot has, per partition, a
    list of the entries written to it (for :func:`_deliver`), capped at an
    eighth of the partition's columns: beyond that, streaming is cheaper.
    Lists start invalid (the buffer may hold input from an earlier call or
    from the other backend).
    """
    D = buf.shape[0]
    n_dyn = S.shape[1]
    n_nodes = node_start.shape[0] - 1
    ring = buf.reshape(D, 2 * n_dyn)
    S_flat = S.reshape(-1)
    # per projection and receptor: offset of the post population in a slot and in S_flat
    e_off = np.empty((proj_post_base.shape[0], 2), dtype=np.uint64)
    s_off = np.empty((proj_post_base.shape[0], 2), dtype=np.uint64)
    for q in range(proj_post_base.shape[0]):
        base = proj_post_base[q]
        for r in range(2):
            e_off[q, r] = r * n_dyn + base
            s_off[q, r] = pop_rr[node_of[base], r] * n_dyn + base
    # partition `part` owns columns bounds[part] .. bounds[part+1]-1; per projection, the local range of its
    # post neurons
    T = pin_bounds.shape[0] - 1
    bounds = _partition_bounds(n_dyn, T)
    part_lo = np.zeros((T, proj_post_base.shape[0]), dtype=np.uint64)
    part_width = np.zeros((T, proj_post_base.shape[0]), dtype=np.uint64)
    for q in range(proj_post_base.shape[0]):
        base = proj_post_base[q]
        top = node_start[node_of[base] + 1]
        for part in range(T):
            lo, hi = max(bounds[part], base), min(bounds[part + 1], top)
            if hi > lo:
                part_lo[part, q] = lo - base
                part_width[part, q] = hi - lo
    cap = max(n_dyn // T // 8, 16)
    pend_e = np.empty((T, D, cap), dtype=np.int64)
    pend_s = np.empty((T, D, cap), dtype=np.int64)
    n_pending = np.full((T, D), cap + 1, dtype=np.int64)
    seg = np.zeros(n_nodes + 1, dtype=np.int64)
    fired = np.zeros((n_dyn + 7) // 8 * 8, dtype=np.uint8)
    slot_now = (t0 + k_start) % D
    has_ext = i_ext.shape[0] > 1 or np.any(i_ext[0] != 0.0)
    for k in range(k_start, n):
        if n_rec + spikes.shape[0] > spike_step.shape[0]:
            return k, n_rec
        t = t0 + k
        for m in range(mon_every.shape[0]):
            ev = mon_every[m]
            if t % ev == 0:
                first = ((t0 + ev - 1) // ev) * ev
                r = (t - first) // ev
                w = mon_ptr[m + 1] - mon_ptr[m]
                base = state_off[m] + r * w
                for q in range(w):
                    state_out[base + q] = S[mon_row[mon_ptr[m] + q], mon_col[mon_ptr[m] + q]]
        row = k if i_ext.shape[0] > 1 else 0
        drive = i_ext[row] if has_ext else i_ext[row, :0]
        if T > 1:
            _advance_parallel(pop_kind, S, pop_start, pop_stop, pop_coef, drive, fired, bounds)
        else:
            for p in range(pop_kind.shape[0]):
                _advance_population(pop_kind[p], S, pop_start[p], pop_stop[p], pop_coef[p], drive, fired)
        ns = _collect_spikes(fired, spikes)
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
        if T > 1 and ev_count >= min_events:
            _propagate_parallel(spikes, seg, node_proj_ptr, node_proj, proj_ptr_offset, node_start, indptr, post,
                                weight, delay, proj_receptor, proj_magnitude, proj_uniform, e_off, s_off, part_lo,
                                part_width, S_flat, ring, slot_now, pend_e, pend_s, n_pending)
        else:
            for part in range(T):
                _propagate_part(part, spikes, seg, node_proj_ptr, node_proj, proj_ptr_offset, node_start, indptr,
                                post, weight, delay, proj_receptor, proj_magnitude, proj_uniform, e_off, s_off,
                                part_lo, part_width, S_flat, ring, slot_now, pend_e, pend_s, n_pending)
        if T > 1 and pin_slot.shape[0] >= min_events:
            _add_pins_parallel(k, pin_order, pin_bounds, pin_slot, pin_s, pin_value, ring[slot_now], pend_e, pend_s,
                               n_pending, slot_now, cap)
        else:
            for part in range(T):
                _add_pins(k, pin_bounds[part], pin_bounds[part + 1], pin_order, pin_slot, pin_s, pin_value,
                          ring[slot_now], pend_e[part], pend_s[part], n_pending[part], slot_now, cap)
        arrived = 0
        for part in range(T):
            arrived += n_pending[part, slot_now]
        if T > 1 and arrived >= min_events:
            _deliver_parallel(S, S_flat, ring[slot_now], pend_e[:, slot_now], pend_s[:, slot_now],
                              n_pending[:, slot_now], pop_start, pop_stop, pop_rr, bounds)
        else:
            for part in range(T):
                _deliver(S, S_flat, ring[slot_now], pend_e[part, slot_now], pend_s[part, slot_now],
                         n_pending[part, slot_now], pop_start, pop_stop, pop_rr, bounds[part], bounds[part + 1])
        n_pending[:, slot_now] = 0
        slot_now = slot_now + 1 if slot_now + 1 < D else 0
    return n, n_rec


def _pin_layout_of(cn: CompiledNetwork, pin_slot: np.ndarray, threads: int) -> tuple[np.ndarray, ...]:
    """:func:`_pin_layout` of the chunk's Poisson-input targets for ``threads`` partitions, computed
    once per run (every chunk of a run carries the same ``pin_slot`` array) and kept on ``cn``."""
    cache = cn.__dict__.setdefault("_pin_layouts", {})
    held = cache.get(threads)
    if held is None or held[0] is not pin_slot:
        bounds = _partition_bounds(cn.n_dyn, threads)
        held = cache[threads] = (pin_slot, _pin_layout(pin_slot, cn.n_dyn, cn.pop_receptor_rows, cn.node_of, bounds))
    return held[1]


def run_chunk(cn: CompiledNetwork, stim: StimulusChunk, plan: StateRecordPlan,
              record_node: np.ndarray, out: ChunkRecord) -> None:
    """Advance the network over the steps of ``stim``, filling ``out``."""
    spikes = np.empty(cn.node_start[-1], dtype=np.int64)
    threads = get_num_threads() if cn.n_dyn >= PARALLEL_MIN_NEURONS else 1  # read per call: tests lower it
    pin_s, pin_order, pin_bounds = _pin_layout_of(cn, stim.pin_slot, threads)
    k = 0
    while True:
        k, out.n_spikes = _kernel(
            stim.t0, stim.n, k, cn.S, cn.buffer, cn.pop_kind, cn.pop_start, cn.pop_stop, cn.pop_coef,
            cn.pop_receptor_rows, cn.node_start, cn.node_proj_ptr, cn.node_proj, cn.proj_ptr_offset,
            cn.proj_post_base, cn.proj_receptor, cn.proj_magnitude, cn.proj_uniform, cn.indptr, cn.post, cn.weight,
            cn.delay, cn.out_degree, cn.node_of, stim.src_ptr, stim.src_idx, stim.pin_slot, pin_s, pin_order,
            pin_bounds, stim.pin_value, stim.i_ext, plan.ptr, plan.row, plan.col, plan.every, out.state,
            out.state_offset, record_node, out.spike_step, out.spike_idx, out.n_spikes,
            out.counts, out.events, spikes, PARALLEL_MIN_EVENTS)
        if k == stim.n:
            return
        out.grow()

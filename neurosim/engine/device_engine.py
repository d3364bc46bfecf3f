"""Host side of the CUDA engine: which kernel runs when, on which arrays.

:class:`DeviceEngine` steps a :class:`~neurosim.engine.compiled.CompiledNetwork`
with the kernels of ``kernels/*.cu``.  It is written against a small device
interface (:class:`KernelDevice`) so that the *same* host code drives

* a GPU, through CuPy (:mod:`neurosim.engine.cupy_backend`), and
* the CPU emulation of the kernels (:mod:`neurosim.engine.cuda_emulator`: the
  same ``.cu`` files compiled with g++, threads run one after another),

which is how the kernels and this driver are tested on machines without a GPU.

Per step ``t`` (the contract of :mod:`neurosim.engine.compiled`):

1. ``gather_state`` for every state monitor due at ``t``;
2. ``advance_neurons`` (every population, one thread per neuron) writes a
   fired flag per neuron; ``mark_sources`` adds the sources' spikes of ``t``;
3. ``count_tiles``, a prefix sum, ``write_spikes``, ``finish_step``: the flags
   become an ascending spike list, per-node counts, event totals and the
   recorded spikes; then ``propagate`` once per projection, in the engine's
   (node, projection) order (delay-0 synapses add to ``S`` directly);
4. ``add_input``: the Poisson-input draws of step ``t`` into slot ``t % D``;
5. ``deliver``: ring-buffer slot ``t % D`` into the receptor rows, cleared
   (not launched when no synapse has a delay and no Poisson input exists:
   then nothing is ever written to the ring).

State, ring buffer, synapses and the spike machinery stay on the device for
the whole run (:meth:`DeviceEngine.upload_state` / :meth:`download_state` at
its ends); per chunk only the stimulus goes up and the monitors' data comes
back (spike counts, events, recorded spikes, state samples).
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np

from .compiled import CompiledNetwork
from .recording import ChunkRecord, StateRecordPlan
from .stimulus import StimulusChunk

#: neurons per compaction tile (NEUROSIM_TILE in kernels/spikes.cu)
TILE = 64

#: the kernel sources, in the order they are compiled
KERNEL_FILES = ("neuron_update.cu", "spikes.cu", "synapses.cu", "monitors.cu")


class KernelDevice(Protocol):
    """What :class:`DeviceEngine` needs from a device.

    ``xp`` is the array module (CuPy or NumPy); ``block`` the threads per
    block of every launch; ``kernel(name)`` returns ``launch(grid, block,
    args)`` (args: device arrays and NumPy scalars whose dtype gives the C
    type); ``to_device``/``to_host`` copy arrays; ``cumsum(a, out)`` is an
    inclusive prefix sum on the device; ``synchronize`` waits for the device.
    """

    xp: Any
    block: int

    def kernel(self, name: str) -> Callable[[int, int, tuple], None]: ...
    def to_device(self, a: np.ndarray) -> Any: ...
    def to_host(self, a: Any) -> np.ndarray: ...
    def cumsum(self, a: Any, out: Any) -> None: ...
    def synchronize(self) -> None: ...


_i64, _i32 = np.int64, np.int32


class DeviceEngine:
    """A compiled network held on a device, stepped chunk by chunk with the CUDA kernels.

    Recorded spikes go to a device buffer; before a step could overflow it the
    host reads how full it is (one small copy) and grows it, reserving room
    for at least ``RECORD_STEPS`` steps of every recorded neuron spiking, so
    such reads are rare.  A chunk starts with room for every recorded neuron
    spiking in every one of its steps, capped at ``RECORD_STEPS`` steps' worth
    or ``MIN_RECORD`` entries, whichever is more.
    """

    #: steps of all recorded neurons spiking that the record buffer is grown by
    RECORD_STEPS = 16
    #: entries (int32) the record buffer starts a chunk with, at most
    MIN_RECORD = 1 << 20

    def __init__(self, cn: CompiledNetwork, device: KernelDevice) -> None:
        bad = np.flatnonzero(cn.pop_kind < 0)
        if bad.size:
            raise ValueError("backend='cupy' runs only the built-in models (LIF, ConductanceLIF, AdaptiveLIF, "
                             f"Izhikevich); population #{int(bad[0])} uses another model: use backend='numpy'")
        self.dev = device
        self.xp = xp = device.xp
        self.n_dyn = n_dyn = cn.n_dyn
        self.n_total = n_total = int(cn.node_start[-1])
        if n_total >= 2 ** 31 - TILE:
            raise ValueError(f"the GPU backend indexes neurons with int32: {n_total} neurons is too many")
        self.n_nodes = cn.n_nodes
        self.D = cn.ring_size
        self.rows = cn.S.shape[0]
        up = device.to_device
        pop_of = np.zeros(n_dyn, dtype=np.int32)
        for p in range(len(cn.pop_kind)):
            pop_of[cn.pop_start[p]:cn.pop_stop[p]] = p
        rec_row = np.empty((2, n_dyn), dtype=np.int32)
        for r in range(2):
            rec_row[r] = cn.pop_receptor_rows[pop_of, r] if n_dyn else 0
        self.pop_of = up(pop_of)
        self.pop_kind = up(cn.pop_kind.astype(np.int32))
        self.n_coef = cn.pop_coef.shape[1]
        self.pop_coef = up(np.ascontiguousarray(cn.pop_coef, dtype=np.float64))
        self.rec_row = up(rec_row.reshape(-1))
        self.node_of = up(cn.node_of.astype(np.int32))
        self.out_degree = up(cn.out_degree.astype(np.int64))
        self.indptr = up(cn.indptr.astype(np.int64))
        self.post = up(cn.post.astype(np.int32))
        self.weight = up(np.ascontiguousarray(cn.weight, dtype=np.float64))
        self.delay = up(np.ascontiguousarray(cn.delay, dtype=np.uint16))
        # only delayed synapses and Poisson inputs write to the ring buffer (it is empty after
        # every step otherwise), so without them no step needs to stream it
        self.delayed = cn.max_delay_steps > 0
        # projections in the engine's order: node, then its projections
        self.projections = []
        for nd in range(cn.n_nodes):
            a, b = int(cn.node_start[nd]), int(cn.node_start[nd + 1])
            for qq in range(cn.node_proj_ptr[nd], cn.node_proj_ptr[nd + 1]):
                q = int(cn.node_proj[qq])
                off = int(cn.proj_ptr_offset[q])
                if cn.indptr[off + (b - a)] == cn.indptr[off]:
                    continue  # no synapses
                self.projections.append((_i64(a), _i64(b), _i64(off), _i32(cn.proj_receptor[q]),
                                         _i32(cn.proj_magnitude[q]), _i64(cn.proj_uniform[q]),
                                         _i64(cn.proj_post_base[q])))
        self.n_tiles = max(-(-n_total // TILE), 1)
        words = self.n_tiles * (TILE // 8)
        self.fired_words = xp.zeros(words, dtype=np.uint64)
        self.fired = self.fired_words.view(np.uint8)
        self.rec_words = xp.zeros(words, dtype=np.uint64)
        self.rec_mask = self.rec_words.view(np.uint8)
        self._rec_nodes: np.ndarray | None = None
        self.n_rec = 0
        self.tile_count = xp.zeros(self.n_tiles, dtype=np.uint64)
        self.tile_rec = xp.zeros(self.n_tiles, dtype=np.uint64)
        self.tile_end = xp.zeros(self.n_tiles, dtype=np.uint64)
        self.rec_end = xp.zeros(self.n_tiles, dtype=np.uint64)
        self.spikes = xp.zeros(self.n_tiles * TILE, dtype=np.int64)
        self.n_spikes = self.tile_end[self.n_tiles - 1:]
        self.rec_total = xp.zeros(1, dtype=np.uint64)
        self.rec_idx = xp.zeros(0, dtype=np.int32)
        self._plan_key: tuple | None = None
        self._pin_key: bytes | None = None
        self.S = self.ring = None
        self.k = {name: device.kernel(name) for name in (
            "advance_neurons", "mark_sources", "count_tiles", "write_spikes", "finish_step",
            "deliver", "propagate", "add_input", "gather_state")}

    # ------------------------------------------------------------ host <-> device
    def upload_state(self, cn: CompiledNetwork) -> None:
        """Copy the network's state matrix and ring buffer to the device."""
        self.S = self.dev.to_device(np.ascontiguousarray(cn.S))
        self.ring = self.dev.to_device(np.ascontiguousarray(cn.buffer))

    def download_state(self, cn: CompiledNetwork) -> None:
        """Copy the device's state matrix and ring buffer back into ``cn`` (in place)."""
        cn.S[...] = self.dev.to_host(self.S)
        cn.buffer[...] = self.dev.to_host(self.ring)

    def _launch(self, name: str, n: int, *args) -> None:
        if n > 0:
            block = self.dev.block
            self.k[name](-(-n // block), block, args)

    def _set_record_nodes(self, record_node: np.ndarray, node_of: np.ndarray) -> None:
        if self._rec_nodes is not None and np.array_equal(self._rec_nodes, record_node):
            return
        mask = np.zeros(self.n_tiles * TILE, dtype=np.uint8)
        mask[:self.n_total] = record_node[node_of]
        self.rec_mask[...] = self.dev.to_device(mask)
        self.n_rec = int(mask.sum())
        self._rec_nodes = record_node.copy()

    def _set_plan(self, plan: StateRecordPlan) -> None:
        key = (plan.ptr.tobytes(), plan.row.tobytes(), plan.col.tobytes())
        if key != self._plan_key:
            self.mon_row = self.dev.to_device(plan.row.astype(np.int64))
            self.mon_col = self.dev.to_device(plan.col.astype(np.int64))
            self._plan_key = key

    def _reserve_record(self, used: int, need: int) -> None:
        """Make room for ``need`` more recorded spikes after ``used`` (keeping the first ``used``)."""
        if used + need <= self.rec_idx.size:
            return
        new = self.xp.zeros(max(2 * self.rec_idx.size, used + need), dtype=np.int32)
        new[:used] = self.rec_idx[:used]
        self.rec_idx = new

    # ------------------------------------------------------------------ stepping
    def run_chunk(self, cn: CompiledNetwork, stim: StimulusChunk, plan: StateRecordPlan,
                  record_node: np.ndarray, out: ChunkRecord) -> None:
        """Advance the network over the steps of ``stim`` on the device, filling ``out``.

        The state must be on the device (:meth:`upload_state`); it stays there.
        """
        if self.S is None:
            raise RuntimeError("DeviceEngine.run_chunk before upload_state")
        xp, up, n, n_dyn = self.xp, self.dev.to_device, stim.n, self.n_dyn
        self._set_record_nodes(record_node, cn.node_of)
        self._set_plan(plan)
        if stim.pin_slot.size and stim.pin_slot.tobytes() != self._pin_key:
            self.pin_slot = up(stim.pin_slot.astype(np.int64))
            self._pin_key = stim.pin_slot.tobytes()
        i_ext = up(np.ascontiguousarray(stim.i_ext, dtype=np.float64))
        pin_value = up(np.ascontiguousarray(stim.pin_value, dtype=np.float64)) if stim.pin_slot.size else None
        src_idx = up(stim.src_idx.astype(np.int64)) if stim.src_idx.size else None
        counts = xp.zeros((n, self.n_nodes), dtype=np.uint64)
        events = xp.zeros(n, dtype=np.uint64)
        state = xp.zeros(out.state.size, dtype=np.float64)
        step_ptr = xp.zeros(n + 1, dtype=np.uint64)
        self.rec_total[...] = 0
        # enough room for n steps of every recorded neuron when that is modest;
        # otherwise the room is checked (one device read) before it could run out
        self._reserve_record(0, min(n * self.n_rec, max(self.RECORD_STEPS * self.n_rec, self.MIN_RECORD)))
        safe_steps = 0
        mon_every = [int(e) for e in plan.every]
        ring = self.ring.reshape(self.D, 2 * n_dyn)
        S, D, k_ = self.S, self.D, self.k
        slot_now = stim.t0 % D
        for k in range(n):
            t = stim.t0 + k
            if self.n_rec and safe_steps == 0:
                used = int(self.dev.to_host(self.rec_total)[0])
                self._reserve_record(used, min(n - k, self.RECORD_STEPS) * self.n_rec)
                safe_steps = (self.rec_idx.size - used) // self.n_rec
            safe_steps -= 1
            for m, every in enumerate(mon_every):
                if t % every == 0:
                    first = -(-stim.t0 // every) * every
                    a, b = int(plan.ptr[m]), int(plan.ptr[m + 1])
                    start = int(out.state_offset[m]) + (t - first) // every * (b - a)
                    self._launch("gather_state", b - a, S, _i64(n_dyn), self.mon_row[a:b], self.mon_col[a:b],
                                 _i64(b - a), state[start:start + (b - a)])
            row = k if stim.i_ext.shape[0] > 1 else 0
            self._launch("advance_neurons", n_dyn, S, _i64(n_dyn), self.pop_of, self.pop_kind, self.pop_coef,
                         _i64(self.n_coef), i_ext[row], self.fired)
            if self.n_total > n_dyn:
                self.fired[n_dyn:self.n_total] = 0
                a, b = int(stim.src_ptr[k]), int(stim.src_ptr[k + 1])
                if b > a:
                    self._launch("mark_sources", b - a, src_idx[a:b], _i64(b - a), self.fired)
            nt = _i64(self.n_tiles)
            self._launch("count_tiles", self.n_tiles, self.fired_words, self.rec_words, nt, self.tile_count,
                         self.tile_rec)
            self.dev.cumsum(self.tile_count, self.tile_end)
            self.dev.cumsum(self.tile_rec, self.rec_end)
            self._launch("write_spikes", self.n_tiles, self.fired, self.rec_mask, nt, self.tile_end, self.rec_end,
                         self.node_of, self.out_degree, self.spikes, counts[k], events[k:k + 1], self.rec_idx,
                         self.rec_total, _i64(self.rec_idx.size))
            k_["finish_step"](1, 1, (self.rec_end, nt, self.rec_total, step_ptr[k + 1:k + 2]))
            for pre_start, pre_stop, off, rec, mag, uni, base in self.projections:
                self._launch("propagate", self.n_total, self.spikes, self.n_spikes, pre_start, pre_stop, off,
                             self.indptr, self.post, self.weight, self.delay, rec, mag, uni, base, _i64(n_dyn),
                             _i64(slot_now), _i64(D), self.ring, S, self.rec_row)
            if pin_value is not None:
                self._launch("add_input", stim.pin_slot.size, ring[slot_now], self.pin_slot, pin_value[k],
                             _i64(stim.pin_slot.size))
            if self.delayed or pin_value is not None:
                self._launch("deliver", 2 * n_dyn, S, _i64(n_dyn), ring[slot_now], self.rec_row)
            slot_now = slot_now + 1 if slot_now + 1 < D else 0
        self._copy_back(stim, counts, events, state, step_ptr, out)

    def _copy_back(self, stim: StimulusChunk, counts, events, state, step_ptr, out: ChunkRecord) -> None:
        """The chunk's monitor data from the device into ``out``."""
        host = self.dev.to_host
        out.counts[...] = host(counts).astype(np.int64)
        out.events[...] = host(events).astype(np.int64)
        out.state[...] = host(state)
        ptr = host(step_ptr).astype(np.int64)
        total = int(ptr[-1])
        if total > self.rec_idx.size:  # cannot happen: room is reserved before every step
            raise RuntimeError(f"GPU spike record overflowed ({total} > {self.rec_idx.size})")
        while out.spike_step.size < total:
            out.grow()
        out.spike_idx[:total] = host(self.rec_idx[:total])
        out.spike_step[:total] = np.repeat(np.arange(stim.t0, stim.t0 + stim.n, dtype=np.int64), np.diff(ptr))
        out.n_spikes = total

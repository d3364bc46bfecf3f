"""Host side of the CUDA engine: which kernel runs when, on which arrays.

:class:`DeviceEngine` steps a :class:`~neurosim.engine.compiled.CompiledNetwork`
with the kernels of ``kernels/*.cu``.  It is written against a small device
interface (:class:`KernelDevice`) so that the *same* host code drives

* a GPU, through CuPy (:mod:`neurosim.engine.cupy_backend`), and
* the CPU emulation of the kernels (:mod:`neurosim.engine.cuda_emulator`: the
  same ``.cu`` files compiled with g++, threads run one after another),

which is how the kernels and this driver are tested on machines without a GPU.

Per step ``t`` (the contract of :mod:`neurosim.engine.compiled`):

1. ``gather_state`` for every state monitor (it writes only at the steps of
   the monitor's schedule);
2. ``advance_neurons`` (every population, one thread per neuron) appends each
   neuron that spikes to its node's segment of the spike list, with the
   per-node counts, the event total and the recorded spikes
   (``kernels/spike_list.cuh``); ``append_sources`` does the same for the
   step's source spikes drawn or listed by the host, ``poisson_group`` for
   the Poisson groups the device draws (time-varying rates);
3. ``propagate`` once per projection, in the engine's (node, projection)
   order (delay-0 synapses add to ``S`` directly);
4. ``poisson_input`` per Poisson input drawn on the device (``add_input``
   for host-drawn values): its values of step ``t`` into slot ``t % D``;
5. ``deliver``: ring-buffer slot ``t % D`` into the receptor rows, cleared
   (not launched when no synapse has a delay and no Poisson input exists:
   then nothing is ever written to the ring);
6. ``end_step`` advances the device-side clock (step of the chunk, ring slot).

Every kernel reads its step from that clock, so no launch argument changes
between the steps of a chunk: the step's launches are recorded once per chunk
as a CUDA graph (:meth:`KernelDevice.capture`) and replayed for every step,
one graph launch per step instead of one launch per kernel (where the device
cannot record graphs, the launches are issued one by one; the same kernels
and arguments either way).

State, ring buffer, synapses and the spike list stay on the device for the
whole run (:meth:`DeviceEngine.upload_state` / :meth:`download_state` at its
ends); per chunk only the stimulus goes up and the monitors' data comes back
(spike counts, events, recorded spikes, state samples).
"""
from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from typing import Any, Callable, Protocol

import numpy as np

from .compiled import CompiledNetwork
from .recording import ChunkRecord, StateRecordPlan
from .stimulus import StimulusChunk

#: the kernel sources, in the order they are compiled
KERNEL_FILES = ("neuron_update.cu", "spikes.cu", "synapses.cu", "monitors.cu", "poisson.cu")

#: threads per spike in ``propagate`` (NEUROSIM_LANES in kernels/synapses.cu)
LANES = 32
#: most spikes one ``propagate`` launch gives a group of LANES threads each; beyond,
#: each group takes a run of spikes (2^13 groups: 2^18 threads, about what an H100 holds at once)
PROPAGATE_GROUPS = 1 << 13


class KernelDevice(Protocol):
    """What :class:`DeviceEngine` needs from a device.

    ``xp`` is the array module (CuPy or NumPy); ``block`` the threads per
    block of every launch; ``kernel(name)`` returns ``launch(grid, block,
    args)`` (args: device arrays and NumPy scalars whose dtype gives the C
    type); ``to_device``/``to_host`` copy arrays; ``synchronize`` waits for
    the device.  ``capture(record)`` runs ``record()`` (which only launches
    kernels) and returns a graph of its launches, not executed, or None when
    the device cannot record one; ``replay(graph, times)`` executes that
    graph ``times`` times, in order, with the arguments it was recorded with.
    """

    xp: Any
    block: int

    def kernel(self, name: str) -> Callable[[int, int, tuple], None]: ...
    def to_device(self, a: np.ndarray) -> Any: ...
    def to_host(self, a: Any) -> np.ndarray: ...
    def synchronize(self) -> None: ...
    def activate(self) -> AbstractContextManager: ...
    def capture(self, record: Callable[[], None]) -> Any: ...
    def replay(self, graph: Any, times: int) -> None: ...


_i64, _i32 = np.int64, np.int32


class DeviceEngine:
    """A compiled network held on a device, stepped chunk by chunk with the CUDA kernels.

    Recorded spikes go to a device buffer; before a run of steps could
    overflow it the host reads how full it is (one small copy) and grows it,
    reserving room for at least ``RECORD_STEPS`` steps of every recorded
    neuron spiking, so such reads are rare.  A chunk starts with room for
    every recorded neuron spiking in every one of its steps, capped at
    ``RECORD_STEPS`` steps' worth or ``MIN_RECORD`` entries, whichever is more.
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
        if n_total >= 2 ** 31:
            raise ValueError(f"the GPU backend indexes neurons with int32: {n_total} neurons is too many")
        self.n_nodes = cn.n_nodes
        self.node_size = np.diff(cn.node_start).astype(np.int64)
        self.D = cn.ring_size
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
        self.node_of = up(np.ascontiguousarray(cn.node_of, dtype=np.int32))
        self.node_start = up(np.ascontiguousarray(cn.node_start, dtype=np.int64))
        self.out_degree = up(np.ascontiguousarray(cn.out_degree, dtype=np.int64))
        self.indptr = up(np.ascontiguousarray(cn.indptr, dtype=np.int64))
        self.post = up(np.ascontiguousarray(cn.post, dtype=np.int32))
        # only delayed synapses and Poisson inputs write to the ring buffer (it is empty after
        # every step otherwise), so without them no step needs to stream it
        self.delayed = cn.max_delay_steps > 0
        # projections in the engine's order: node, then its projections; their weights and delays
        # go up compacted: a projection whose synapses share one weight and delay sends one value
        self.projections, weights, delays, n_values = [], [], [], 0
        for nd in range(cn.n_nodes):
            a, b = int(cn.node_start[nd]), int(cn.node_start[nd + 1])
            for qq in range(cn.node_proj_ptr[nd], cn.node_proj_ptr[nd + 1]):
                q = int(cn.node_proj[qq])
                off = int(cn.proj_ptr_offset[q])
                first, last = int(cn.indptr[off]), int(cn.indptr[off + (b - a)])
                if last == first:
                    continue  # no synapses
                uniform = int(cn.proj_uniform[q]) >= 0
                lo, hi = (int(cn.proj_uniform[q]), int(cn.proj_uniform[q]) + 1) if uniform else (first, last)
                weights.append(cn.weight[lo:hi])
                delays.append(cn.delay[lo:hi])
                value_offset = n_values if uniform else n_values - first
                n_values += hi - lo
                self.projections.append((LANES * min(b - a, PROPAGATE_GROUPS), _i64(nd), _i64(a), _i64(off),
                                         _i32(cn.proj_receptor[q]), _i32(cn.proj_magnitude[q]),
                                         _i32(uniform), _i64(value_offset), _i64(cn.proj_post_base[q])))
        self.weight = up(np.concatenate(weights).astype(np.float64) if weights else np.zeros(1))
        self.delay = up(np.concatenate(delays).astype(np.uint16) if delays else np.zeros(1, dtype=np.uint16))
        self.spikes = xp.zeros(max(n_total, 1), dtype=np.int32)
        self.rec_node = up(np.zeros(cn.n_nodes, dtype=np.uint8))
        self._rec_nodes: np.ndarray | None = None
        self.n_rec = 0
        self.rec_total = xp.zeros(1, dtype=np.uint64)
        self.rec_idx = xp.zeros(0, dtype=np.int32)
        self._plan_key: tuple | None = None
        self._pin_key: bytes | None = None
        self.S = self.ring = None
        self.k = {name: device.kernel(name) for name in (
            "advance_neurons", "append_sources", "poisson_group", "propagate", "poisson_input", "add_input",
            "deliver", "end_step", "gather_state")}
        self._tables: dict[int, tuple] = {}

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

    def _set_record_nodes(self, record_node: np.ndarray) -> None:
        if self._rec_nodes is not None and np.array_equal(self._rec_nodes, record_node):
            return
        flags = np.asarray(record_node, dtype=bool)
        self.rec_node[...] = self.dev.to_device(flags.astype(np.uint8))
        self.n_rec = int(self.node_size[flags].sum())
        self._rec_nodes = flags.copy()

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
        xp, up, n = self.xp, self.dev.to_device, stim.n
        self._set_record_nodes(record_node)
        self._set_plan(plan)
        if stim.pin_slot.size and stim.pin_slot.tobytes() != self._pin_key:
            self.pin_slot = up(stim.pin_slot.astype(np.int64))
            self._pin_key = stim.pin_slot.tobytes()
        has_drive = stim.i_ext.shape[0] > 1 or bool(np.any(stim.i_ext[0] != 0.0))
        chunk = _Chunk(
            clock=up(np.array([0, stim.t0 % self.D], dtype=np.int64)),
            t0=stim.t0,
            i_ext=up(np.ascontiguousarray(stim.i_ext, dtype=np.float64)) if has_drive else up(np.zeros(1)),
            ext_stride=self.n_dyn if stim.i_ext.shape[0] > 1 else 0,
            has_drive=has_drive,
            pin_value=(up(np.ascontiguousarray(stim.pin_value, dtype=np.float64))
                       if stim.pin_slot.size and stim.pin_value.shape[1] else None),
            groups=[(np.uint32(k0), np.uint32(k1), up(p), _i64(p.shape[1]), _i64(start), int(size))
                    for (k0, k1), start, size, p in (stim.device.groups if stim.device else ())],
            inputs=[(np.uint32(k0), np.uint32(k1), *self._table(table), np.float64(w),
                     self.pin_slot[first:first + count], int(count))
                    for (k0, k1), table, w, first, count in (stim.device.inputs if stim.device else ())],
            src_idx=up(stim.src_idx.astype(np.int64)) if stim.src_idx.size else None,
            src_ptr=up(stim.src_ptr.astype(np.int64)),
            src_max=int(np.diff(stim.src_ptr).max(initial=0)),
            counts=xp.zeros((n, self.n_nodes), dtype=np.uint64),
            events=xp.zeros(n, dtype=np.uint64),
            state=xp.zeros(out.state.size, dtype=np.float64),
            step_ptr=xp.zeros(n + 1, dtype=np.uint64),
            monitors=[(int(plan.ptr[m]), int(plan.ptr[m + 1]), int(out.state_offset[m]), int(every))
                      for m, every in enumerate(plan.every)])
        self.rec_total[...] = 0
        # enough room for n steps of every recorded neuron when that is modest;
        # otherwise the room is checked (one device read) before it could run out
        self._reserve_record(0, min(n * self.n_rec, max(self.RECORD_STEPS * self.n_rec, self.MIN_RECORD)))
        graph, graph_buffer, k = None, None, 0
        while k < n:
            steps = n - k
            if self.n_rec:
                used = int(self.dev.to_host(self.rec_total)[0]) if k else 0
                self._reserve_record(used, min(steps, self.RECORD_STEPS) * self.n_rec)
                steps = min(steps, (self.rec_idx.size - used) // self.n_rec)
            if graph is None or graph_buffer is not self.rec_idx:  # the record buffer is an argument
                graph, graph_buffer = self.dev.capture(lambda: self._launch_step(chunk)), self.rec_idx
            if graph is None:  # the device records no graphs: launch kernel by kernel
                for _ in range(steps):
                    self._launch_step(chunk)
            else:
                self.dev.replay(graph, steps)
            k += steps
        self._copy_back(stim, chunk, out)

    def _launch_step(self, c: _Chunk) -> None:
        """Launch the kernels of one step; the step itself is read on the device from ``c.clock``."""
        n_dyn, clock = _i64(self.n_dyn), c.clock
        spike_list = (self.node_of, self.node_start, self.out_degree, self.spikes, c.counts, _i64(self.n_nodes),
                      c.events, self.rec_node, self.rec_idx, self.rec_total, _i64(self.rec_idx.size))
        for a, b, offset, every in c.monitors:
            first = -(-c.t0 // every) * every
            self._launch("gather_state", b - a, self.S, n_dyn, self.mon_row[a:b], self.mon_col[a:b], _i64(b - a),
                         c.state[offset:], clock, _i64(c.t0), _i64(first), _i64(every))
        self._launch("advance_neurons", self.n_dyn, self.S, n_dyn, self.pop_of, self.pop_kind, self.pop_coef,
                     _i64(self.n_coef), c.i_ext, _i64(c.ext_stride), _i32(c.has_drive), clock, *spike_list)
        if c.src_max:
            self._launch("append_sources", c.src_max, c.src_idx, c.src_ptr, clock, *spike_list)
        for k0, k1, p, p_stride, start, size in c.groups:
            self._launch("poisson_group", size, k0, k1, _i64(c.t0), clock, p, p_stride, start, _i64(size),
                         *spike_list)
        for threads, node, pre_start, off, rec, mag, uniform, value_offset, base in self.projections:
            self._launch("propagate", threads, self.spikes, c.counts, clock, _i64(self.n_nodes), node, pre_start,
                         off, self.indptr, self.post, self.weight, self.delay, rec, mag, uniform, value_offset, base,
                         n_dyn, _i64(self.D), self.ring, self.S, self.rec_row)
        for k0, k1, cdf, n_cdf, guide, n_guide, w, pins, count in c.inputs:
            self._launch("poisson_input", count, k0, k1, _i64(c.t0), clock, cdf, n_cdf, guide, n_guide, w, pins,
                         _i64(count), self.ring, n_dyn)
        if c.pin_value is not None:
            self._launch("add_input", self.pin_slot.size, self.ring, clock, n_dyn, self.pin_slot, c.pin_value,
                         _i64(self.pin_slot.size))
        if self.delayed or c.pin_value is not None or c.inputs:
            self._launch("deliver", 2 * self.n_dyn, self.S, n_dyn, self.ring, clock, self.rec_row)
        self.k["end_step"](1, 1, (clock, _i64(self.D), self.rec_total, c.step_ptr))

    def _table(self, table) -> tuple:
        """A Poisson input's binomial table on the device: (cdf, entries, guide, entries), uploaded once."""
        if id(table) not in self._tables:
            up = self.dev.to_device
            self._tables[id(table)] = (table, up(table.cdf), _i64(table.cdf.size), up(table.guide),
                                       _i64(table.guide.size))
        return self._tables[id(table)][1:]

    def _copy_back(self, stim: StimulusChunk, c: _Chunk, out: ChunkRecord) -> None:
        """The chunk's monitor data from the device into ``out``; recorded spikes ascending within each step."""
        host = self.dev.to_host
        out.counts[...] = host(c.counts).astype(np.int64)
        out.events[...] = host(c.events).astype(np.int64)
        out.state[...] = host(c.state)
        ptr = host(c.step_ptr).astype(np.int64)
        total = int(ptr[-1])
        if total > self.rec_idx.size:  # cannot happen: room is reserved before every run of steps
            raise RuntimeError(f"GPU spike record overflowed ({total} > {self.rec_idx.size})")
        while out.spike_step.size < total:
            out.grow()
        steps = np.repeat(np.arange(stim.t0, stim.t0 + stim.n, dtype=np.int64), np.diff(ptr))
        idx = host(self.rec_idx[:total]).astype(np.int64)
        order = np.lexsort((idx, steps))
        out.spike_idx[:total] = idx[order]
        out.spike_step[:total] = steps
        out.n_spikes = total


@dataclasses.dataclass
class _Chunk:
    """The device arrays and constants of one chunk, as the step's launches use them."""

    clock: Any          # int64 [2]: step of the chunk, ring slot (advanced by end_step)
    t0: int             # first step of the chunk
    i_ext: Any          # float64 [1 or n, n_dyn] drive
    ext_stride: int     # n_dyn when i_ext has a row per step, else 0
    has_drive: bool     # any nonzero drive (else i_ext is not read)
    pin_value: Any      # float64 [n, inputs] Poisson-input draws of the host, or None
    groups: list        # time-varying Poisson groups drawn on the device: keys, probabilities, neurons
    inputs: list        # Poisson inputs drawn on the device: keys, binomial table, weight, entries
    src_idx: Any        # int64 source spikes (global indices), or None
    src_ptr: Any        # int64 [n + 1] CSR of src_idx over steps
    src_max: int        # most source spikes of one step
    counts: Any         # uint64 [n, n_nodes] spikes per node and step
    events: Any         # uint64 [n] synaptic events per step
    state: Any          # float64 state-monitor samples (StateRecordPlan layout)
    step_ptr: Any       # uint64 [n + 1] end of each step's recorded spikes in rec_idx
    monitors: list      # (first, last) row of the plan, offset in state, every: per state monitor

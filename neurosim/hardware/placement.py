"""Placement of a built network onto the cores of a Loihi-style hardware target.

``place(net, target)`` assigns every neuron of every :class:`~neurosim.Population`
to one core so that every per-core limit of the target holds, and so that
few spike messages have to leave their core.  Spike sources (``SpikeSource``,
``PoissonGroup``) are off-chip inputs: they are not placed, but their spike
messages enter the chip and are counted.

Resources of a core ``k`` (``c(i)`` is the core of neuron ``i``, ``D(u)`` the set
of cores holding at least one target of a synapse of presynaptic neuron ``u``,
``n_uk`` the number of synapses from ``u`` onto neurons of core ``k``):

* neurons: ``|{i : c(i) = k}|`` <= ``neurons_per_core``;
* input axons: ``|{u : n_uk > 0}|`` (distinct presynaptic neurons, placed or
  source, with a synapse onto ``k``) <= ``input_axons_per_core``;
* output axons: ``sum_{i : c(i) = k} |D(i)|`` (one axon per neuron and
  destination core, the own core included), as nengo-loihi counts them
  (``Block.utilization``: ``sum(a.axon_slots())``, one slot per compartment
  and target block) <= ``output_axons_per_core``;
* synaptic memory: ``sum_{u : n_uk > 0} axon_bits(n_uk) / 8`` bytes <=
  ``synaptic_memory_bytes_per_core`` (see :class:`MemoryModel`);
* total memory (only where the target gives ``total_memory_bytes_per_core``):
  neuron state + synaptic memory + routing entries (see :class:`MemoryModel`).

A limit that the target leaves out (``None``) is not enforced; the report
still counts the resource and marks its limit as unknown.

Objective (loihi.md section 5.1, the connectivity-minus-one metric): the spike
messages that leave their core,

    traffic = sum_u w_u * |D(u) \\ {c(u)}|     (placed u)
            + sum_u w_u * |D(u)|              (off-chip source u)

with ``w_u`` the neuron's spike count from a run (or 1 for every neuron when no
activity is given): one multicast message per spike and destination core.

Algorithm (docs/placement.md):

1. *Baseline*: greedy fill in index order (populations in network order):
   put neurons on the current core until the next one would break a limit,
   then open the next core.  Output axons depend on where the targets end up,
   so they are checked after the fill; if a core breaks them, the fill is
   repeated with fewer neurons per core.
2. *Locality order*: the same fill in breadth-first order over the synapse
   graph (sources included, so neurons sharing inputs end up together), and
   both orders again with the neurons spread evenly over the same number of
   cores, which leaves room on every core for step 3.
3. *Refinement*: Fiduccia-Mattheyses-style single-neuron moves to the core
   with the largest positive traffic gain that keeps every limit of every
   core affected (the gain and the limits are recomputed exactly for the
   move), in seeded random order, for a few passes.
4. The placement with the least traffic wins; the baseline is one of the
   candidates, so the result never has more traffic than the baseline.

Cores are numbered chip-major: core ``k`` is on chip ``k // cores_per_chip``.
"""
from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence, TypeAlias

import numpy as np
from numba import njit

from ..monitors import SpikeMonitor
from ..populations import Node, Population
from .targets import HardwareTarget, load_target

if TYPE_CHECKING:
    from ..network import Network

#: the spikes of a run: ``{node or node name: SpikeMonitor or per-neuron spike counts}``, or SpikeMonitors
Activity: TypeAlias = "Mapping[Node | str, SpikeMonitor | np.ndarray] | Sequence[SpikeMonitor]"

__all__ = ["MemoryModel", "Placement", "place", "memory_model"]

#: stand-in for "no limit" in the compiled kernels (large, but sums cannot overflow)
_NO_LIMIT = np.int64(2 ** 60)

#: resource names as used in reports, with the CoreLimits field that bounds them
RESOURCES = {
    "neurons": "neurons_per_core",
    "synaptic_memory_bytes": "synaptic_memory_bytes_per_core",
    "input_axons": "input_axons_per_core",
    "output_axons": "output_axons_per_core",
    "total_memory_bytes": "total_memory_bytes_per_core",
}


# ----------------------------------------------------------------------- memory model


@dataclasses.dataclass(frozen=True)
class MemoryModel:
    """How many bits and bytes a core needs (docs/placement.md, "Memory").

    Synaptic memory, after nengo-loihi's ``SynapseConfig.bits_per_axon``
    (uncompressed synapses): the synapses of one input axon (one presynaptic
    neuron) on a core are stored in blocks of at most ``block_synapses``; each
    block takes ``n * synapse_bits + block_header_bits`` bits, rounded up to
    whole ``word_bits`` words::

        axon_bits(n) = sum over blocks of ceil((n_b * synapse_bits + 10) / 64) * 64
        synapse_bits = weight_field_bits + delay_bits + index_bits

    * ``weight_field_bits = weight_bits + 1``: the target's magnitude bits plus
      a sign bit (Loihi's 9-bit signed weight field, Davies et al. 2018, Table 1;
      nengo-loihi drops the lowest bit of mixed-sign weights instead, so this is
      one bit per synapse more conservative);
    * ``delay_bits = ceil(log2(d + 1))`` for the network's largest delay ``d``
      in steps (0 bits when every delay is 0; nengo-loihi sizes the delay field
      per synapse group the same way);
    * ``index_bits = ceil(log2(neurons_per_core))``: the target neuron's index
      within its core;
    * 10 header bits per block (4-bit synapse format index + 6-bit synapse
      count), 64-synapse blocks, 64-bit words: nengo-loihi's constants.

    Total memory (used only when the target gives
    ``total_memory_bytes_per_core``; an ASSUMPTION, no public layout exists):
    ``neuron_state_bytes`` per neuron = ``ceil((u_bits + v_bits +
    bias_mantissa_bits + bias_exp_bits) / 8)`` (8 bytes for Loihi 2's Lava
    widths, so 8,192 neurons take exactly the 64 KiB that the vendor's 192 KiB
    pool leaves beside 128 KiB of synapses), plus ``routing_bytes_per_axon`` per
    input and per output axon (one 32-bit entry, the size of a Loihi spike
    message; Davies et al. 2021).
    """

    weight_field_bits: int
    delay_bits: int
    index_bits: int
    block_synapses: int = 64
    block_header_bits: int = 10
    word_bits: int = 64
    neuron_state_bytes: int = 8
    routing_bytes_per_axon: int = 4

    @property
    def synapse_bits(self) -> int:
        """Bits of one synapse: weight field + delay field + index field."""
        return self.weight_field_bits + self.delay_bits + self.index_bits

    def axon_bits(self, n_synapses: int | np.ndarray) -> int | np.ndarray:
        """Bits of memory for ``n_synapses`` synapses of one input axon on one core."""
        n = np.asarray(n_synapses, dtype=np.int64)
        out = _axon_bits_vec(n, self.synapse_bits, self.block_synapses, self.block_header_bits, self.word_bits)
        return int(out) if out.ndim == 0 else out

    def describe(self) -> dict:
        return {**dataclasses.asdict(self), "synapse_bits": self.synapse_bits,
                "formula": "per input axon: blocks of <= 64 synapses, each "
                           "ceil((n*synapse_bits + 10) / 64) 64-bit words (nengo-loihi bits_per_axon)"}


def _axon_bits_vec(n, syn_bits, blk, hdr, word):
    def words(bits):
        return -(-bits // word) * word
    full, rem = n // blk, n % blk
    return full * words(blk * syn_bits + hdr) + np.where(rem > 0, words(rem * syn_bits + hdr), 0)


def memory_model(target: HardwareTarget, max_delay_steps: int = 0, **overrides: Any) -> MemoryModel:
    """The :class:`MemoryModel` of ``target`` for a network whose largest delay is ``max_delay_steps``."""
    p, c = target.precision, target.cores
    values = dict(
        weight_field_bits=p.weight_bits + 1,
        delay_bits=int(max_delay_steps).bit_length(),
        index_bits=max(1, (c.neurons_per_core - 1).bit_length()),
        neuron_state_bytes=-(-(p.u_bits + p.v_bits + p.bias_mantissa_bits + p.bias_exp_bits) // 8),
    )
    values.update(overrides)
    return MemoryModel(**values)


# ----------------------------------------------------------------------------- graph


@dataclasses.dataclass
class _Graph:
    """The synapse graph of a built network in global numbering.

    Placed neurons (populations, in network order) are ``0 .. n_placed - 1``;
    source neurons follow, ``n_placed .. n_all - 1``.  Synapses are merged into
    distinct (pre, post) pairs with a multiplicity ``mult``: by pre in
    ``optr/opost/omult`` and by post in ``iptr/ipre/imult``.
    """

    name: str
    pops: list
    sources: list
    offset: dict            # id(node) -> first global index
    n_placed: int
    n_all: int
    n_synapses: int
    max_delay_steps: int
    optr: np.ndarray
    opost: np.ndarray
    omult: np.ndarray
    iptr: np.ndarray
    ipre: np.ndarray
    imult: np.ndarray
    self_mult: np.ndarray   # synapses i -> i of each placed neuron
    fanout: np.ndarray      # synapses per presynaptic neuron (n_all)

    def locate(self, g: int) -> tuple[str, int]:
        """(node name, local index) of global neuron ``g``."""
        for node in self.pops + self.sources:
            a = self.offset[id(node)]
            if a <= g < a + node.n:
                return node.name, g - a
        raise IndexError(g)

    def describe_neuron(self, g: int) -> str:
        name, i = self.locate(g)
        return f"population '{name}' neuron {i}"


def _graph_of(net) -> _Graph:
    """Extract the synapse graph of a built network (raises if it is not built)."""
    if not getattr(net, "built", False):
        raise RuntimeError(f"network '{getattr(net, 'name', net)}' has no synapses yet: "
                           "call net.build(seed=...) (or run it) before placing it")
    pops = list(net.populations)
    if not pops:
        raise ValueError(f"network '{net.name}' has no neuron populations to place "
                         "(spike sources and Poisson groups are off-chip inputs)")
    sources = list(net.sources)
    offset, start = {}, 0
    for node in pops + sources:
        offset[id(node)] = start
        start += node.n
    n_placed = sum(p.n for p in pops)
    n_all = start
    pres, posts, max_delay = [], [], 0
    for proj in net.projections:
        if proj.n_synapses == 0:
            continue
        pres.append(proj.pre_index + offset[id(proj.pre)])
        posts.append(proj.post_index.astype(np.int64) + offset[id(proj.post)])
        max_delay = max(max_delay, int(proj.delay_steps.max()))
    pre = np.concatenate(pres) if pres else np.zeros(0, np.int64)
    post = np.concatenate(posts) if posts else np.zeros(0, np.int64)
    optr, opost, omult, iptr, ipre, imult = _merge_synapses(pre, post, n_all, n_placed)
    opre = np.repeat(np.arange(n_all), np.diff(optr))
    is_loop = opre == opost
    self_mult = np.zeros(n_placed, np.int64)
    self_mult[opost[is_loop]] = omult[is_loop]
    fanout = np.bincount(opre, weights=omult, minlength=n_all)
    return _Graph(net.name, pops, sources, offset, n_placed, n_all, int(pre.size), max_delay,
                  optr, opost, omult, iptr, ipre, imult, self_mult, fanout.astype(np.int64))


@njit(cache=True)
def _merge_synapses(pre, post, n_all, n_placed):
    """Synapses (global pre, post) -> distinct pairs with multiplicity, CSR by pre and by post.

    Counting sorts, O(synapses + neurons); posts of one pre keep their first-seen order.
    """
    n = pre.size
    start = np.zeros(n_all + 1, np.int64)
    for i in range(n):
        start[pre[i] + 1] += 1
    for u in range(n_all):
        start[u + 1] += start[u]
    fill = start[:-1].copy()
    by_pre = np.empty(n, np.int64)
    for i in range(n):
        by_pre[fill[pre[i]]] = post[i]
        fill[pre[i]] += 1
    stamp = np.full(n_placed, -1, np.int64)
    slot = np.empty(n_placed, np.int64)
    optr = np.zeros(n_all + 1, np.int64)
    opost = np.empty(n, np.int64)
    omult = np.empty(n, np.int64)
    p = 0
    for u in range(n_all):
        for i in range(start[u], start[u + 1]):
            v = by_pre[i]
            if stamp[v] != u:
                stamp[v] = u
                slot[v] = p
                opost[p] = v
                omult[p] = 1
                p += 1
            else:
                omult[slot[v]] += 1
        optr[u + 1] = p
    opost = opost[:p]
    omult = omult[:p]
    iptr = np.zeros(n_placed + 1, np.int64)
    for q in range(p):
        iptr[opost[q] + 1] += 1
    for v in range(n_placed):
        iptr[v + 1] += iptr[v]
    fill = iptr[:-1].copy()
    ipre = np.empty(p, np.int64)
    imult = np.empty(p, np.int64)
    for u in range(n_all):
        for q in range(optr[u], optr[u + 1]):
            v = opost[q]
            ipre[fill[v]] = u
            imult[fill[v]] = omult[q]
            fill[v] += 1
    return optr, opost, omult, iptr, ipre, imult


def _node_key(graph: _Graph, key) -> Node:
    nodes = graph.pops + graph.sources
    if isinstance(key, Node):
        if any(key is n for n in nodes):
            return key
        raise ValueError(f"activity given for '{key.name}', which is not a node of network '{graph.name}'")
    if isinstance(key, str):
        for n in nodes:
            if n.name == key:
                return n
        raise ValueError(f"activity given for unknown node {key!r}; nodes of '{graph.name}': "
                         f"{', '.join(n.name for n in nodes)}")
    raise TypeError(f"activity keys must be node names or nodes, got {key!r}")


def _activity_items(graph: _Graph, activity) -> list[tuple[Node, Any]]:
    """Normalise ``activity`` to (node, value) pairs; value: counts array or monitor-like object."""
    if isinstance(activity, Mapping):
        return [(_node_key(graph, k), v) for k, v in activity.items()]
    if isinstance(activity, Sequence) and not isinstance(activity, (str, bytes)):
        items = []
        for mon in activity:
            if not hasattr(mon, "source"):
                raise TypeError("a sequence of activity must hold SpikeMonitors; pass other data as a "
                                "dict {node name: spike counts}")
            items.append((_node_key(graph, mon.source), mon))
        return items
    raise TypeError("activity must be a dict {node name or node: per-neuron spike counts or SpikeMonitor} "
                    f"or a list of SpikeMonitors, got {type(activity).__name__}")


def _spikes_of(node: Node, value) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Per-neuron spike counts of ``node`` and, if ``value`` records spikes, (steps, local indices)."""
    if hasattr(value, "indices") and hasattr(value, "steps"):
        record = getattr(value, "record", None)
        if record is not None and np.asarray(record).size != node.n:
            raise ValueError(f"the spike monitor of '{node.name}' records only {np.asarray(record).size} of "
                             f"its {node.n} neurons; monitor all of them to use it as activity")
        idx = np.asarray(value.indices, dtype=np.int64)
        steps = np.asarray(value.steps, dtype=np.int64)
        if idx.shape != steps.shape or (idx.size and (idx.min() < 0 or idx.max() >= node.n)):
            raise ValueError(f"spikes of '{node.name}': steps and indices must match, indices in [0, {node.n - 1}]")
        return np.bincount(idx, minlength=node.n).astype(np.float64), (steps, idx)
    counts = np.asarray(value, dtype=np.float64)
    if counts.shape != (node.n,):
        raise ValueError(f"activity of '{node.name}' must have one spike count per neuron, shape ({node.n},), "
                         f"got {counts.shape}")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"activity of '{node.name}' must be finite, non-negative spike counts")
    return counts, None


def _read_activity(graph: _Graph, activity) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Spike counts of every neuron (n_all, global numbering) and, when every node given
    records spike times (monitors), the spikes as (steps, global neuron ids).

    Every node with outgoing synapses must be covered: a missing node would
    silently count as silent.
    """
    counts = np.zeros(graph.n_all)
    steps, ids, timed, covered = [], [], True, set()
    for node, value in _activity_items(graph, activity):
        c, record = _spikes_of(node, value)
        a = graph.offset[id(node)]
        counts[a:a + node.n] = c
        covered.add(id(node))
        if record is None:
            timed = False
        else:
            steps.append(record[0])
            ids.append(record[1] + a)
    missing = [n.name for n in graph.pops + graph.sources
               if id(n) not in covered and graph.fanout[graph.offset[id(n)]:graph.offset[id(n)] + n.n].any()]
    if missing:
        raise ValueError(f"activity has no spikes for {', '.join(repr(m) for m in missing)}, which "
                         "have outgoing synapses; monitor them too (net.monitor_spikes) or pass their spike counts")
    if not timed or not steps:
        return counts, None
    return counts, (np.concatenate(steps), np.concatenate(ids))


def _activity_weights(graph: _Graph, activity) -> tuple[np.ndarray, str]:
    """Per-neuron weights ``w_u`` (n_all) of the traffic objective and a description."""
    if activity is None:
        return np.ones(graph.n_all), "uniform: one spike per neuron"
    return _read_activity(graph, activity)[0], "spike counts"


# --------------------------------------------------------------------------- kernels


@njit(cache=True)
def _axon_bits(n, syn_bits, blk, hdr, word):
    full = n // blk
    rem = n - full * blk
    b = full * (((blk * syn_bits + hdr) + word - 1) // word) * word
    if rem > 0:
        b += (((rem * syn_bits + hdr) + word - 1) // word) * word
    return b


@njit(cache=True)
def _fill(order, cap, n_all, iptr, ipre, imult, lim_in, lim_mem_bits, lim_tot_bytes,
          syn_bits, blk, hdr, word, state_bytes, routing_bytes):
    """Greedy fill in ``order``; returns (core, n_cores, failing neuron or -1, failing limit code).

    Codes: 1 input axons, 2 synaptic memory, 3 total memory.  Output axons are
    not known during the fill (they depend on later neurons) and are checked
    by the caller.
    """
    n = order.size
    core = np.full(n, -1, np.int64)
    cnt = np.zeros(n_all, np.int64)
    touched = np.empty(n_all, np.int64)
    nt = 0
    k = 0
    used_n = 0
    used_in = 0
    used_mem = 0
    for idx in range(n):
        v = order[idx]
        for attempt in range(2):
            d_in = 0
            d_mem = 0
            for j in range(iptr[v], iptr[v + 1]):
                c = cnt[ipre[j]]
                if c == 0:
                    d_in += 1
                d_mem += _axon_bits(c + imult[j], syn_bits, blk, hdr, word) - _axon_bits(c, syn_bits, blk, hdr, word)
            new_in = used_in + d_in
            new_mem = used_mem + d_mem
            tot = (used_n + 1) * state_bytes + new_mem // 8 + routing_bytes * new_in
            code = 0
            if new_in > lim_in:
                code = 1
            elif new_mem > lim_mem_bits:
                code = 2
            elif tot > lim_tot_bytes:
                code = 3
            if code == 0 and used_n + 1 <= cap:
                break
            if used_n == 0:
                return core, k + 1, v, code
            for t in range(nt):
                cnt[touched[t]] = 0
            nt = 0
            k += 1
            used_n = 0
            used_in = 0
            used_mem = 0
        for j in range(iptr[v], iptr[v + 1]):
            u = ipre[j]
            if cnt[u] == 0:
                touched[nt] = u
                nt += 1
            cnt[u] += imult[j]
        used_n += 1
        used_in = new_in
        used_mem = new_mem
        core[v] = k
    return core, k + 1, -1, 0


@njit(cache=True)
def _pairs(core, n_cores, n_placed, optr, opost, omult):
    """Distinct (pre, core) pairs with synapse counts ``n_uk``, CSR by pre, cores ascending."""
    n_all = optr.size - 1
    cnt = np.zeros(n_cores, np.int64)
    touched = np.empty(n_cores, np.int64)
    pptr = np.zeros(n_all + 1, np.int64)
    pcore = np.empty(opost.size, np.int32)
    pcnt = np.empty(opost.size, np.int32)
    p = 0
    for u in range(n_all):
        nt = 0
        for j in range(optr[u], optr[u + 1]):
            k = core[opost[j]]
            if cnt[k] == 0:
                touched[nt] = k
                nt += 1
            cnt[k] += omult[j]
        touched[:nt].sort()
        for t in range(nt):
            k = touched[t]
            pcore[p] = k
            pcnt[p] = cnt[k]
            cnt[k] = 0
            p += 1
        pptr[u + 1] = p
    return pptr, pcore[:p], pcnt[:p]


@njit(cache=True)
def _usage(core, n_cores, n_placed, pptr, pcore, pcnt, syn_bits, blk, hdr, word):
    """Per-core neurons, input axons, synaptic memory bits and output axons."""
    used_n = np.zeros(n_cores, np.int64)
    used_in = np.zeros(n_cores, np.int64)
    used_mem = np.zeros(n_cores, np.int64)
    used_out = np.zeros(n_cores, np.int64)
    for v in range(n_placed):
        used_n[core[v]] += 1
    for u in range(pptr.size - 1):
        for s in range(pptr[u], pptr[u + 1]):
            k = pcore[s]
            used_in[k] += 1
            used_mem[k] += _axon_bits(pcnt[s], syn_bits, blk, hdr, word)
        if u < n_placed:
            used_out[core[u]] += pptr[u + 1] - pptr[u]
    return used_n, used_in, used_mem, used_out


@njit(cache=True)
def _traffic(core, n_placed, pptr, pcore, w, cores_per_chip):
    """Weighted messages: (within core, other core same chip, other chip, from off-chip inputs)."""
    within = 0.0
    same_chip = 0.0
    other_chip = 0.0
    inputs = 0.0
    for u in range(pptr.size - 1):
        wu = w[u]
        if wu == 0.0:
            continue
        if u >= n_placed:
            inputs += wu * (pptr[u + 1] - pptr[u])
            continue
        cu = core[u]
        chip = cu // cores_per_chip
        for s in range(pptr[u], pptr[u + 1]):
            k = pcore[s]
            if k == cu:
                within += wu
            elif k // cores_per_chip == chip:
                same_chip += wu
            else:
                other_chip += wu
    return within, same_chip, other_chip, inputs


@njit(cache=True)
def _bfs_order(n_placed, optr, opost, iptr, ipre):
    """Breadth-first order of the placed neurons over the undirected synapse graph.

    Sources take part in the search (a source links the neurons it drives), so
    neurons that share inputs come out close together; they are dropped from
    the returned order.  Each component starts at its lowest-numbered neuron.
    """
    n_all = optr.size - 1
    seen = np.zeros(n_all, np.bool_)
    queue = np.empty(n_all, np.int64)
    order = np.empty(n_placed, np.int64)
    n_out = 0
    for start in range(n_all):
        if seen[start]:
            continue
        seen[start] = True
        head = 0
        tail = 0
        queue[tail] = start
        tail += 1
        while head < tail:
            u = queue[head]
            head += 1
            if u < n_placed:
                order[n_out] = u
                n_out += 1
                tail = _enqueue_unseen(iptr, ipre, u, seen, queue, tail)
            tail = _enqueue_unseen(optr, opost, u, seen, queue, tail)
    return order


@njit(cache=True)
def _enqueue_unseen(ptr, idx, u, seen, queue, tail):
    """Append ``u``'s not yet seen neighbours ``idx[ptr[u]:ptr[u + 1]]`` to the queue; new tail."""
    for j in range(ptr[u], ptr[u + 1]):
        x = idx[j]
        if not seen[x]:
            seen[x] = True
            queue[tail] = x
            tail += 1
    return tail


@njit(cache=True)
def _find(lstart, llen, lcore, u, k):
    """Slot of core ``k`` in the sorted core list of net ``u``, or -1."""
    lo = lstart[u]
    hi = lo + llen[u]
    while lo < hi:
        mid = (lo + hi) >> 1
        if lcore[mid] < k:
            lo = mid + 1
        else:
            hi = mid
    if lo < lstart[u] + llen[u] and lcore[lo] == k:
        return lo
    return -1


@njit(cache=True)
def _list_add(lstart, llen, lcore, lcnt, u, k, m):
    """Add ``m`` synapses of net ``u`` on core ``k`` (the list stays sorted by core)."""
    lo = lstart[u]
    end = lo + llen[u]
    hi = end
    while lo < hi:
        mid = (lo + hi) >> 1
        if lcore[mid] < k:
            lo = mid + 1
        else:
            hi = mid
    if lo < end and lcore[lo] == k:
        lcnt[lo] += m
        if lcnt[lo] == 0:
            for s in range(lo, end - 1):
                lcore[s] = lcore[s + 1]
                lcnt[s] = lcnt[s + 1]
            llen[u] -= 1
        return
    for s in range(end, lo, -1):
        lcore[s] = lcore[s - 1]
        lcnt[s] = lcnt[s - 1]
    lcore[lo] = k
    lcnt[lo] = m
    llen[u] += 1


@njit(cache=True)
def _refine(core, n_cores, n_placed, w, perm, max_passes, max_moves,
            optr, iptr, ipre, imult, self_mult,
            lstart, llen, lcore, lcnt, used_n, used_in, used_mem, used_out,
            lim_n, lim_in, lim_out, lim_mem_bits, lim_tot_bytes,
            syn_bits, blk, hdr, word, state_bytes, routing_bytes, max_tries):
    """Single-neuron moves that keep every limit and lower the traffic (in place).

    ``gain(v: A -> B) = sum over nets e containing v of w_e ([pins_e(A) == p_ev] - [pins_e(B) == 0])``
    where net e of presynaptic neuron u holds u (if placed) and its targets,
    ``pins_e(k)`` counts them on core k (synapses, plus 1 for u itself) and
    ``p_ev`` is v's share of them.  A move is made when its gain is positive,
    or zero with a positive affinity ``sum_e w_e (pins_e(B) - (pins_e(A) - p_ev))``
    (v has more connections on B than on A), the usual tie-break that walks
    off plateaus such as interleaved clusters; every such move raises
    ``sum_e w_e p_ev pins_e``-like concentration, and each neuron moves at most
    once per pass, so passes end.  Candidate gains come from one sweep over
    v's nets; the best candidates are then checked exactly (gain and every
    limit of every affected core) before a move is made.
    Returns (passes, moves, total gain).
    """
    conn = np.zeros(n_cores)
    pins = np.zeros(n_cores)
    mark = np.zeros(n_cores, np.bool_)
    cand = np.empty(n_cores, np.int64)
    d_n = np.zeros(n_cores, np.int64)
    d_in = np.zeros(n_cores, np.int64)
    d_mem = np.zeros(n_cores, np.int64)
    d_out = np.zeros(n_cores, np.int64)
    dmark = np.zeros(n_cores, np.bool_)
    dlist = np.empty(n_cores, np.int64)
    moves = 0
    total_gain = 0.0
    passes = 0
    for _p in range(max_passes):
        passes += 1
        moved = 0
        for v in perm:
            if moves >= max_moves:
                return passes, moves, total_gain
            a = core[v]
            # ---- candidate gains: base + conn[B]
            nc = 0
            base = 0.0
            pins_at_a = 0.0
            for j in range(iptr[v], iptr[v + 1]):
                u = ipre[j]
                wu = w[u]
                if u == v or wu == 0.0:
                    continue
                cu = core[u] if u < n_placed else -1
                pins_a = 1 if cu == a else 0
                has_driver = False
                for s in range(lstart[u], lstart[u] + llen[u]):
                    k = lcore[s]
                    if k == a:
                        pins_a += lcnt[s]
                    if k == cu:
                        has_driver = True
                    if not mark[k]:
                        mark[k] = True
                        conn[k] = 0.0
                        pins[k] = 0.0
                        cand[nc] = k
                        nc += 1
                    conn[k] += wu
                    pins[k] += wu * lcnt[s]
                if cu >= 0:
                    if not mark[cu]:
                        mark[cu] = True
                        conn[cu] = 0.0
                        pins[cu] = 0.0
                        cand[nc] = cu
                        nc += 1
                    if not has_driver:
                        conn[cu] += wu
                    pins[cu] += wu
                if pins_a == imult[j]:
                    base += wu
                base -= wu
                pins_at_a += wu * (pins_a - imult[j])
            wv = w[v]
            if wv != 0.0 and llen[v] > 0:
                pins_a = 1
                for s in range(lstart[v], lstart[v] + llen[v]):
                    k = lcore[s]
                    if k == a:
                        pins_a += lcnt[s]
                    if not mark[k]:
                        mark[k] = True
                        conn[k] = 0.0
                        pins[k] = 0.0
                        cand[nc] = k
                        nc += 1
                    conn[k] += wv
                    pins[k] += wv * lcnt[s]
                if pins_a == 1 + self_mult[v]:
                    base += wv
                base -= wv
                pins_at_a += wv * (pins_a - 1 - self_mult[v])
            # ---- try the best few candidates exactly
            for _t in range(max_tries):
                # best by (gain, then affinity = weighted pins on B minus those left on A)
                best = -1
                best_gain = -1e-9
                best_aff = 1e-9
                for c in range(nc):
                    k = cand[c]
                    if k == a or not mark[k]:
                        continue
                    gk = base + conn[k]
                    ak = pins[k] - pins_at_a
                    if gk > best_gain + 1e-9 or (gk > best_gain - 1e-9 and ak > best_aff):
                        if gk > 1e-9 or ak > 1e-9:
                            best_gain = gk
                            best_aff = ak
                            best = k
                if best < 0:
                    break
                mark[best] = False  # not tried again
                b = best
                if used_n[b] + 1 > lim_n:
                    continue
                # exact deltas and gain of v: a -> b
                nd = 0
                for k in (a, b):
                    if not dmark[k]:
                        dmark[k] = True
                        dlist[nd] = k
                        nd += 1
                d_n[a] -= 1
                d_n[b] += 1
                gain = 0.0
                for j in range(iptr[v], iptr[v + 1]):
                    u = ipre[j]
                    m = imult[j]
                    sa = _find(lstart, llen, lcore, u, a)
                    sb = _find(lstart, llen, lcore, u, b)
                    na = lcnt[sa] if sa >= 0 else 0
                    nb = lcnt[sb] if sb >= 0 else 0
                    lose_a = na == m
                    gain_b = nb == 0
                    if lose_a:
                        d_in[a] -= 1
                    if gain_b:
                        d_in[b] += 1
                    d_mem[a] += _axon_bits(na - m, syn_bits, blk, hdr, word) - _axon_bits(na, syn_bits, blk, hdr, word)
                    d_mem[b] += _axon_bits(nb + m, syn_bits, blk, hdr, word) - _axon_bits(nb, syn_bits, blk, hdr, word)
                    if u != v:
                        cu = core[u] if u < n_placed else -1
                        if cu >= 0:
                            if not dmark[cu]:
                                dmark[cu] = True
                                dlist[nd] = cu
                                nd += 1
                            d_out[cu] += (1 if gain_b else 0) - (1 if lose_a else 0)
                        pa = na + (1 if cu == a else 0)
                        pb = nb + (1 if cu == b else 0)
                        gain += w[u] * ((1.0 if pa == m else 0.0) - (1.0 if pb == 0 else 0.0))
                if llen[v] > 0:
                    sa = _find(lstart, llen, lcore, v, a)
                    sb = _find(lstart, llen, lcore, v, b)
                    na = lcnt[sa] if sa >= 0 else 0
                    nb = lcnt[sb] if sb >= 0 else 0
                    d_after = llen[v]
                    if self_mult[v] > 0:
                        if na == self_mult[v]:
                            d_after -= 1
                        if nb == 0:
                            d_after += 1
                    d_out[a] -= llen[v]
                    d_out[b] += d_after
                    gain += wv * ((1.0 if na == self_mult[v] else 0.0) - (1.0 if nb == 0 else 0.0))
                ok = gain > 1e-9 or (gain > -1e-9 and best_aff > 1e-9)
                if ok:
                    # the current layout keeps every limit, so only values that grow can break one
                    for t in range(nd):
                        k = dlist[t]
                        nin = used_in[k] + d_in[k]
                        nmem = used_mem[k] + d_mem[k]
                        nout = used_out[k] + d_out[k]
                        tot = (used_n[k] + d_n[k]) * state_bytes + nmem // 8 + routing_bytes * (nin + nout)
                        if nin > lim_in or nmem > lim_mem_bits or nout > lim_out or tot > lim_tot_bytes:
                            ok = False
                            break
                if ok:
                    for j in range(iptr[v], iptr[v + 1]):
                        _list_add(lstart, llen, lcore, lcnt, ipre[j], a, -imult[j])
                        _list_add(lstart, llen, lcore, lcnt, ipre[j], b, imult[j])
                    for t in range(nd):
                        k = dlist[t]
                        used_n[k] += d_n[k]
                        used_in[k] += d_in[k]
                        used_mem[k] += d_mem[k]
                        used_out[k] += d_out[k]
                    core[v] = b
                    moves += 1
                    moved += 1
                    total_gain += gain
                for t in range(nd):
                    k = dlist[t]
                    dmark[k] = False
                    d_n[k] = 0
                    d_in[k] = 0
                    d_mem[k] = 0
                    d_out[k] = 0
                if ok:
                    break
            for c in range(nc):
                mark[cand[c]] = False
        if moved == 0:
            break
    return passes, moves, total_gain


# ------------------------------------------------------------------------- placement


@dataclasses.dataclass
class _Layout:
    """One complete assignment with its per-core usage and traffic."""

    core: np.ndarray
    n_cores: int
    pptr: np.ndarray
    pcore: np.ndarray
    pcnt: np.ndarray
    used: dict
    traffic: dict
    method: str

    @property
    def objective(self) -> float:
        return self.traffic["inter_core_total"]


@dataclasses.dataclass
class Placement:
    """A placement of a network's neurons onto the cores of a target.

    Attributes:
        target: the :class:`HardwareTarget`.
        core: core of every placed neuron, in global order (populations in
            network order, each in index order); see :meth:`core_of`.
        n_cores, n_chips: cores and chips used (chips = ceil(cores / cores_per_chip)).
        memory: the :class:`MemoryModel` used for the memory limits.
        usage: per-core use of each resource (``RESOURCES`` keys -> int arrays).
        traffic: weighted spike messages of this placement (``within_core``,
            ``between_cores_same_chip``, ``between_chips``, ``from_inputs``,
            ``inter_core_total`` = the objective).
        baseline: cores, chips and traffic of the naive greedy fill in index order
            (its assignment is ``baseline_core``).
        method: which candidate won, and refinement statistics in ``stats``.
    """

    target: HardwareTarget
    core: np.ndarray
    n_cores: int
    memory: MemoryModel
    usage: dict
    traffic: dict
    baseline: dict
    method: str
    activity: str
    stats: dict
    baseline_core: np.ndarray = dataclasses.field(repr=False)
    _graph: _Graph = dataclasses.field(repr=False)
    _weights: np.ndarray = dataclasses.field(repr=False)
    _pairs: tuple = dataclasses.field(repr=False)

    @property
    def n_chips(self) -> int:
        return -(-self.n_cores // self.target.cores.cores_per_chip)

    @property
    def n_neurons(self) -> int:
        return self._graph.n_placed

    def core_of(self, pop: Population | str) -> np.ndarray:
        """Core of every neuron of ``pop`` (a population or its name)."""
        node = _node_key(self._graph, pop)
        if not isinstance(node, Population):
            raise ValueError(f"'{node.name}' is an off-chip input ({type(node).__name__}); it has no core")
        a = self._graph.offset[id(node)]
        return self.core[a:a + node.n].copy()

    def chip_of(self, pop: Population | str) -> np.ndarray:
        """Chip of every neuron of ``pop``."""
        return self.core_of(pop) // self.target.cores.cores_per_chip

    def neurons_on(self, core: int) -> list[tuple[str, int]]:
        """(population name, index) of every neuron on ``core``."""
        return [self._graph.locate(int(g)) for g in np.flatnonzero(self.core == core)]

    def synapses_by_core(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Synapses of every presynaptic neuron grouped by destination core, CSR by neuron.

        Returns ``(ptr, core, count)``: presynaptic neuron ``u`` (global
        numbering: populations in network order, then sources) has
        ``count[ptr[u]:ptr[u+1]]`` synapses onto cores ``core[ptr[u]:ptr[u+1]]``;
        ``ptr[u+1] - ptr[u]`` is the number of spike messages one of its spikes sends.
        """
        return self._pairs

    def limits(self) -> dict:
        """The enforced limit of each resource (None: unknown, not enforced)."""
        c = self.target.cores
        return {r: getattr(c, f) for r, f in RESOURCES.items()}

    def report(self) -> dict:
        """Cores, chips, per-core utilisation of every resource and spike traffic, as plain data.

        Utilisation is use / limit per core; ``None`` where the target does not
        give the limit (reported as unknown, not enforced).  Traffic counts are
        spike messages weighted by the activity (see the module docstring).
        """
        resources = {}
        for name, limit in self.limits().items():
            per_core = self.usage[name]
            entry = {"limit": limit, "per_core": per_core.tolist(),
                     "max": int(per_core.max()), "mean": float(per_core.mean())}
            if limit is None:
                entry.update(utilisation=None, max_utilisation=None, mean_utilisation=None,
                             status="limit unknown: not enforced")
            else:
                util = per_core / limit
                entry.update(utilisation=util.tolist(), max_utilisation=float(util.max()),
                             mean_utilisation=float(util.mean()), status="enforced")
            resources[name] = entry
        base, opt = self.baseline["traffic"]["inter_core_total"], self.traffic["inter_core_total"]
        return {
            "network": self._graph.name,
            "target": self.target.name,
            "neurons": self.n_neurons,
            "synapses": self._graph.n_synapses,
            "cores_used": self.n_cores,
            "chips_used": self.n_chips,
            "cores_per_chip": self.target.cores.cores_per_chip,
            "activity": self.activity,
            "memory_model": self.memory.describe(),
            "resources": resources,
            "traffic": dict(self.traffic),
            "baseline": {"method": "greedy fill in index order", **self.baseline},
            "traffic_reduction": (1.0 - opt / base) if base > 0 else 0.0,
            "method": self.method,
            "stats": dict(self.stats),
        }

    def to_markdown(self) -> str:
        """The report as Markdown: a resource table and a traffic table."""
        rep = self.report()
        lines = [f"**{rep['network']} on {rep['target']}**: {rep['neurons']:,} neurons, "
                 f"{rep['synapses']:,} synapses on {rep['cores_used']:,} cores "
                 f"({rep['chips_used']} chip{'s' if rep['chips_used'] != 1 else ''}); "
                 f"method: {rep['method']}; activity: {rep['activity']}.", "",
                 "| resource per core | limit | max | mean | max use | mean use |",
                 "|---|---:|---:|---:|---:|---:|"]
        for name, e in rep["resources"].items():
            lim = "unknown" if e["limit"] is None else f"{e['limit']:,}"
            mx = "unknown" if e["max_utilisation"] is None else f"{100 * e['max_utilisation']:.1f} %"
            mn = "unknown" if e["mean_utilisation"] is None else f"{100 * e['mean_utilisation']:.1f} %"
            lines.append(f"| {name.replace('_', ' ')} | {lim} | {e['max']:,} | {e['mean']:,.1f} | {mx} | {mn} |")
        b = rep["baseline"]
        lines += ["", f"| spike messages | optimised ({rep['cores_used']} cores) | "
                      f"baseline: greedy, index order ({b['cores_used']} cores) |",
                  "|---|---:|---:|"]
        labels = {"within_core": "within a core", "between_cores_same_chip": "between cores, same chip",
                  "between_chips": "between chips", "from_inputs": "from off-chip inputs",
                  "inter_core_total": "**leaving their core (objective)**"}
        for key, label in labels.items():
            lines.append(f"| {label} | {rep['traffic'][key]:,.0f} | {b['traffic'][key]:,.0f} |")
        lines.append(f"\nTraffic reduction against the baseline: {100 * rep['traffic_reduction']:.1f} %.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Placement({self._graph.name!r} on {self.target.name!r}: {self.n_neurons} neurons, "
                f"{self.n_cores} cores, {self.n_chips} chips, traffic {self.traffic['inter_core_total']:g})")


class _Placer:
    """Holds the graph, limits and weights; builds and scores layouts."""

    def __init__(self, graph: _Graph, target: HardwareTarget, memory: MemoryModel, w: np.ndarray):
        self.g, self.t, self.mm, self.w = graph, target, memory, w
        c = target.cores
        self.lim = {
            "neurons": c.neurons_per_core,
            "input_axons": c.input_axons_per_core,
            "output_axons": c.output_axons_per_core,
            "synaptic_memory_bytes": c.synaptic_memory_bytes_per_core,
            "total_memory_bytes": c.total_memory_bytes_per_core,
        }
        k = lambda x: _NO_LIMIT if x is None else np.int64(x)  # noqa: E731
        self.k_n = k(c.neurons_per_core)
        self.k_in = k(c.input_axons_per_core)
        self.k_out = k(c.output_axons_per_core)
        self.k_mem_bits = k(c.synaptic_memory_bytes_per_core * 8)
        self.k_tot = k(c.total_memory_bytes_per_core)
        self.routing = memory.routing_bytes_per_axon if c.total_memory_bytes_per_core is not None else 0
        self.state = memory.neuron_state_bytes if c.total_memory_bytes_per_core is not None else 0
        self.mparams = (memory.synapse_bits, memory.block_synapses, memory.block_header_bits, memory.word_bits)

    # ---- feasibility of single neurons (a proof that no placement exists)
    def check_single_neurons(self) -> None:
        g, mm, t = self.g, self.mm, self.t
        n_pre = np.diff(g.iptr)
        bits = np.zeros(g.n_placed, np.int64)
        np.add.at(bits, np.repeat(np.arange(g.n_placed), n_pre), mm.axon_bits(g.imult))
        n_post = np.diff(g.optr)[:g.n_placed]
        min_dest = -(-n_post // t.cores.neurons_per_core)
        checks = [("input_axons_per_core", n_pre, self.lim["input_axons"],
                   "has {x:,} distinct presynaptic neurons: alone on a core it needs {x:,} input axons"),
                  ("synaptic_memory_bytes_per_core", bits // 8, self.lim["synaptic_memory_bytes"],
                   "alone on a core needs {x:,} bytes of synaptic memory for its incoming synapses "
                   f"({mm.synapse_bits} bits per synapse, blocks rounded to 64-bit words)"),
                  ("output_axons_per_core", min_dest, self.lim["output_axons"],
                   "projects to neurons that fill at least {x:,} cores: it needs at least {x:,} output axons")]
        if self.lim["total_memory_bytes"] is not None:
            tot = self.state + bits // 8 + self.routing * (n_pre + min_dest)
            checks.append(("total_memory_bytes_per_core", tot, self.lim["total_memory_bytes"],
                           "alone on a core needs at least {x:,} bytes of memory (state, synapses, routing)"))
        for field, need, limit, text in checks:
            if limit is None or need.size == 0:
                continue
            v = int(np.argmax(need - limit))
            if need[v] > limit:
                raise ValueError(
                    f"network '{g.name}' cannot be placed on '{t.name}': {g.describe_neuron(v)} "
                    + text.format(x=int(need[v]))
                    + f", {int(need[v] - limit):,} more than {field} = {limit:,}")
        if g.max_delay_steps > t.features.max_delay_steps:
            raise ValueError(f"network '{g.name}' cannot be placed on '{t.name}': a synaptic delay of "
                             f"{g.max_delay_steps} steps exceeds features.max_delay_steps = "
                             f"{t.features.max_delay_steps} by {g.max_delay_steps - t.features.max_delay_steps}")

    # ---- layouts
    def layout(self, core: np.ndarray, n_cores: int, method: str) -> _Layout:
        g = self.g
        pptr, pcore, pcnt = _pairs(core, n_cores, g.n_placed, g.optr, g.opost, g.omult)
        un, ui, um, uo = _usage(core, n_cores, g.n_placed, pptr, pcore, pcnt, *self.mparams)
        used = {"neurons": un, "synaptic_memory_bytes": um // 8, "input_axons": ui, "output_axons": uo,
                "total_memory_bytes": un * self.mm.neuron_state_bytes + um // 8
                + self.mm.routing_bytes_per_axon * (ui + uo)}
        within, same, other, inputs = _traffic(core, g.n_placed, pptr, pcore, self.w,
                                               self.t.cores.cores_per_chip)
        traffic = {"within_core": within, "between_cores_same_chip": same, "between_chips": other,
                   "from_inputs": inputs, "inter_core_total": same + other + inputs}
        return _Layout(core, n_cores, pptr, pcore, pcnt, used, traffic, method)

    def post_violation(self, lay: _Layout) -> tuple[str, int] | None:
        """The first limit a finished layout breaks that the fill could not check (or None)."""
        for name in ("output_axons", "total_memory_bytes"):
            lim = self.lim[name]
            if lim is not None and lay.used[name].max() > lim:
                return name, int(np.argmax(lay.used[name]))
        return None

    def fill(self, order: np.ndarray, cap: int, method: str) -> _Layout:
        """Greedy fill in ``order`` with at most ``cap`` neurons per core, lowering ``cap`` until
        the output-axon and total-memory limits hold too."""
        g = self.g
        while True:
            core, n_cores, bad, code = _fill(order, cap, g.n_all, g.iptr, g.ipre, g.imult, self.k_in,
                                             self.k_mem_bits, self.k_tot, *self.mparams,
                                             self.state, self.routing)
            if bad >= 0:  # cannot happen after check_single_neurons; kept as a guard
                field = {1: "input_axons_per_core", 2: "synaptic_memory_bytes_per_core",
                         3: "total_memory_bytes_per_core"}[code]
                raise ValueError(f"network '{g.name}' cannot be placed on '{self.t.name}': "
                                 f"{g.describe_neuron(bad)} alone breaks {field}")
            lay = self.layout(core, n_cores, method)
            bad = self.post_violation(lay)
            if bad is None:
                return lay
            name, k = bad
            if cap <= 1:
                v = int(np.flatnonzero(core == k)[0])
                field, lim = RESOURCES[name], self.lim[name]
                need = int(lay.used[name][k])
                raise ValueError(
                    f"network '{g.name}' cannot be placed on '{self.t.name}': {field} cannot be met even "
                    f"with one neuron per core: {g.describe_neuron(v)} then needs {need:,} "
                    f"({'one axon per destination core' if name == 'output_axons' else 'bytes'}), "
                    f"{need - lim:,} more than {field} = {lim:,}")
            biggest = int(lay.used["neurons"].max())
            cap = max(1, min(biggest - 1, int(biggest * self.lim[name] / lay.used[name].max())))

    def refine(self, lay: _Layout, seed: int, max_passes: int, max_moves: int,
               min_pass_gain: float = 0.01) -> tuple[_Layout, dict]:
        g, K = self.g, lay.n_cores
        core = lay.core.copy()
        cap = np.minimum(np.diff(g.optr), K)
        lstart = np.zeros(g.n_all + 1, np.int64)
        np.cumsum(cap, out=lstart[1:])
        llen = np.diff(lay.pptr).astype(np.int64)
        lcore = np.zeros(max(int(lstart[-1]), 1), np.int32)  # int32 halves the memory traffic
        lcnt = np.zeros_like(lcore)
        dst = np.repeat(lstart[:-1], llen) + (np.arange(lay.pcore.size) - np.repeat(lay.pptr[:-1], llen))
        lcore[dst] = lay.pcore  # cores ascending within each net, as _find expects
        lcnt[dst] = lay.pcnt
        un, ui = lay.used["neurons"].copy(), lay.used["input_axons"].copy()
        um = lay.used["synaptic_memory_bytes"].astype(np.int64) * 8
        uo = lay.used["output_axons"].copy()
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        objective, passes, moves, gain = lay.objective, 0, 0, 0.0
        while passes < max_passes and moves < max_moves:
            perm = rng.permutation(g.n_placed).astype(np.int64)
            _, m, gn = _refine(core, K, g.n_placed, self.w, perm, 1, max_moves - moves,
                               g.optr, g.iptr, g.ipre, g.imult, g.self_mult,
                               lstart, llen, lcore, lcnt, un, ui, um, uo,
                               self.k_n, self.k_in, self.k_out, self.k_mem_bits, self.k_tot,
                               *self.mparams, self.state, self.routing, 2)
            passes, moves, gain = passes + 1, moves + int(m), gain + gn
            if m == 0 or gn < min_pass_gain * objective:
                break
            objective -= gn
        stats = {"passes": passes, "moves": moves, "gain": float(gain), "seconds": time.perf_counter() - t0}
        # drop cores the moves emptied, keeping the order (and so the chip-major numbering)
        used = np.zeros(K, bool)
        used[core] = True
        new_id = np.cumsum(used) - 1
        core = new_id[core]
        return self.layout(core, int(used.sum()), lay.method + " + refinement"), stats


def place(net: Network, target: HardwareTarget | str, activity: Activity | None = None, seed: int = 0, *,
          refine: bool = True, max_passes: int = 6, max_moves: int | None = None) -> Placement:
    """Place every neuron of every population of the built ``net`` on a core of ``target``.

    Args:
        net: a built :class:`~neurosim.Network` (``net.build(seed)`` or a run).
        target: a :class:`HardwareTarget` or a name/path for :func:`load_target`.
        activity: spike counts that weight the traffic objective: a dict
            ``{node name or node: per-neuron counts array or SpikeMonitor}``, or a
            list of SpikeMonitors; every node with outgoing synapses (sources
            included) must be covered.  ``None``: one spike per neuron.
        seed: order of the refinement moves.
        refine: run the move-based refinement (step 3 of the module docstring).
        max_passes, max_moves: bounds on the refinement (passes over all
            neurons; total moves, default 20 x neurons).

    Returns:
        a :class:`Placement`; ``.report()`` and ``.to_markdown()`` summarise it.

    Raises:
        ValueError: the network cannot be placed; the message names the limit,
            the population and neuron, and by how much it is exceeded.
    """
    if isinstance(target, str) or hasattr(target, "__fspath__"):
        target = load_target(target)
    if not isinstance(target, HardwareTarget):
        raise TypeError(f"target must be a HardwareTarget or a target name such as 'loihi1', got {target!r}")
    t0 = time.perf_counter()
    graph = _graph_of(net)
    w, activity_text = _activity_weights(graph, activity)
    mm = memory_model(target, graph.max_delay_steps)
    placer = _Placer(graph, target, mm, w)
    placer.check_single_neurons()
    n_max = target.cores.neurons_per_core
    index_order = np.arange(graph.n_placed, dtype=np.int64)
    baseline = placer.fill(index_order, n_max, "greedy fill, index order")
    bfs_order = _bfs_order(graph.n_placed, graph.optr, graph.opost, graph.iptr, graph.ipre)
    local = placer.fill(bfs_order, n_max, "greedy fill, breadth-first order")
    candidates = [baseline, local]
    for lay, order, name in ((baseline, index_order, "index order"), (local, bfs_order, "breadth-first order")):
        even_cap = -(-graph.n_placed // lay.n_cores)
        if even_cap < int(lay.used["neurons"].max()):
            even = placer.fill(order, even_cap, f"even fill, {name}")
            if even.n_cores <= lay.n_cores:
                candidates.append(even)
    stats: dict = {"candidates": {c.method: c.objective for c in candidates}}
    if refine:
        moves = 20 * graph.n_placed if max_moves is None else int(max_moves)
        start = min(candidates, key=lambda c: (c.objective, c.n_cores))
        refined, stats["refinement"] = placer.refine(start, seed, max_passes, moves)
        candidates.append(refined)
    best = min(candidates, key=lambda c: (c.objective, c.n_cores))
    stats["seconds"] = time.perf_counter() - t0
    return Placement(
        target=target, core=best.core, n_cores=best.n_cores, memory=mm, usage=best.used,
        traffic=best.traffic,
        baseline={"cores_used": baseline.n_cores,
                  "chips_used": -(-baseline.n_cores // target.cores.cores_per_chip),
                  "traffic": baseline.traffic},
        method=best.method, activity=activity_text, stats=stats, baseline_core=baseline.core,
        _graph=graph, _weights=w, _pairs=(best.pptr, best.pcore, best.pcnt))


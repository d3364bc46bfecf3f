"""First-order energy and latency of a placed network, and of an ANN counterpart.

``estimate(placement, activity, n_steps)`` counts the operations a run performs
on the chip and prices them with the target's ``[energy]`` (pJ) and
``[timing]`` (ns) tables.  The model is the one assembled in loihi.md section
1.1 from Davies et al. 2018 (IEEE Micro 38(1), Table 2); it is not a published
model, and its outputs are estimates (docs/placement.md lists every figure and
assumption).  Over the activity window of ``n_steps`` time steps:

* neuron updates: every placed neuron is updated every step,
  ``N_upd = neurons x n_steps``; a fraction ``active_fraction`` (default 1) is
  priced as active (81 pJ / 8.4 ns on Loihi 1), the rest as inactive
  (52 pJ / 5.3 ns);
* synaptic operations: ``N_syn = sum_u spikes_u x fanout_u`` (one per spike
  and synapse, 23.6 pJ / 3.5 ns), counted on the core of the target neuron;
* spike messages: each spike of ``u`` sends one message to every core in
  ``D(u)`` (its own core included); each message costs
  ``spike_within_tile_pj`` plus ``hop_east_west_pj`` / ``hop_north_south_pj``
  per tile hop of X-Y dimension-order routing between the source and
  destination tiles (see :class:`MeshModel`);
* static: ``static_power_mw_per_chip x chips x time`` (mW x ns = pJ).

Energy per inference = (synaptic + neuron + message energy) / n_inferences
+ static power x chips x time per inference.

Time per step (cores work in parallel; the step ends with a barrier)::

    T_step = max_k (N_syn,k x t_syn + N_upd,k x t_upd) + max_message (t_tile + hops x t_hop) + T_barrier

With spike monitors as activity the maxima are taken in every step and
averaged over the ``n_steps`` steps ("per-step"); with spike counts only, each
core's work is averaged over the steps first ("time-averaged", which
underestimates the mean of the per-step maxima).  ``T_barrier`` is
interpolated linearly between ``barrier_sync_min_ns`` (1 tile) and
``barrier_sync_max_ns`` (a full chip) in the number of tiles used on the
busiest chip; multi-chip barriers are not modelled.

The ANN counterpart (:func:`ann_counterpart`) prices multiply-accumulates with
M. Horowitz, "Computing's energy problem (and what we can do about it)",
ISSCC 2014, 45 nm figures: 32-bit float multiply 3.7 pJ + add 0.9 pJ, 8-bit
integer multiply 0.2 pJ + add 0.03 pJ (arithmetic only, no memory access).
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Sequence

import numpy as np
from numba import njit

from .placement import Activity, Placement, _graph_of, _read_activity
from .targets import HardwareTarget

if TYPE_CHECKING:
    from ..network import Network

__all__ = [
    "ANN_PLATFORMS", "AnnEnergy", "AnnPlatform", "EnergyReport", "MeshModel", "OperationCounts",
    "ann_counterpart", "dense_macs", "estimate", "network_macs", "synaptic_ops",
]


# ------------------------------------------------------------------------------- mesh


@dataclasses.dataclass(frozen=True)
class MeshModel:
    """Where a core sits on the chip's mesh (an ASSUMPTION; no target field says it).

    ``cores_per_tile`` cores share a router (4 on Loihi 1: Davies et al. 2018,
    Table 2 lists 1-32 tiles for 128 cores, an inference noted in loihi.md;
    4 cores per router on Loihi 2: Timcheck et al., arXiv:2601.10035).  Tiles
    form a ``tiles_east_west x tiles_north_south`` grid, numbered row by row.
    Core ``k`` is on chip ``k // cores_per_chip``, tile ``(k % cores_per_chip) //
    cores_per_tile``.
    """

    cores_per_tile: int = 4
    tiles_east_west: int = 8
    tiles_north_south: int = 4

    @classmethod
    def for_target(cls, target: HardwareTarget, cores_per_tile: int = 4) -> "MeshModel":
        """The most nearly square grid (east-west >= north-south) of the target's tiles."""
        tiles = math.ceil(target.cores.cores_per_chip / cores_per_tile)
        ns = math.isqrt(tiles)
        while tiles % ns:
            ns -= 1
        return cls(cores_per_tile, tiles // ns, ns)

    @property
    def tiles_per_chip(self) -> int:
        return self.tiles_east_west * self.tiles_north_south

    def tile_of(self, core: np.ndarray, cores_per_chip: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chip, x, y) of each core; x runs east-west, y north-south."""
        core = np.asarray(core, dtype=np.int64)
        tile = (core % cores_per_chip) // self.cores_per_tile
        if np.any(tile >= self.tiles_per_chip):
            raise ValueError(f"the mesh has {self.tiles_per_chip} tiles of {self.cores_per_tile} cores, fewer than "
                             f"{cores_per_chip} cores per chip need; give a larger MeshModel")
        return core // cores_per_chip, tile % self.tiles_east_west, tile // self.tiles_east_west


# ----------------------------------------------------------------------------- counts


@dataclasses.dataclass(frozen=True)
class OperationCounts:
    """Operations of the placed network over the activity window (totals, not per inference).

    Counts derived from activity are floats: whole numbers for spike counts or
    monitors, fractional when the activity is an average (e.g. spikes per
    inference over many samples).

    Message categories are exclusive: a message goes to its source's own core,
    to another core of the same tile, to another tile of the same chip, to
    another chip, or comes from an off-chip input (a source node).
    """

    n_steps: int
    n_inferences: int
    spikes: float
    neuron_updates: int
    synaptic_ops: float
    messages: float
    messages_same_core: float
    messages_same_tile: float
    messages_other_tile: float
    messages_between_chips: float
    messages_from_inputs: float
    hops_east_west: float
    hops_north_south: float
    tiles_used_max_per_chip: int
    synaptic_ops_per_core: np.ndarray = dataclasses.field(repr=False)
    neurons_per_core: np.ndarray = dataclasses.field(repr=False)

    def as_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["synaptic_ops_per_core"] = self.synaptic_ops_per_core.tolist()
        d["neurons_per_core"] = self.neurons_per_core.tolist()
        return d


@dataclasses.dataclass(frozen=True)
class EnergyReport:
    """Energy per inference and time per step of a placed network (estimates).

    Energies are per inference, in microjoules; times in ns (per step) and us
    (per inference).  ``energy_estimated`` / ``timing_estimated`` repeat the
    target's flags: True means its tables are placeholders (Loihi 2).
    """

    target: str
    n_chips: int
    n_cores: int
    ops: OperationCounts
    synaptic_energy_per_inference_uj: float
    neuron_energy_per_inference_uj: float
    message_energy_per_inference_uj: float
    static_energy_per_inference_uj: float
    dynamic_energy_per_inference_uj: float
    energy_per_inference_uj: float
    time_per_step_ns: float
    max_time_per_step_ns: float
    barrier_ns: float
    time_per_inference_us: float
    busiest_core: int
    latency_model: str
    energy_estimated: bool
    timing_estimated: bool
    notes: tuple[str, ...]

    def as_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "ops"}
        d["ops"] = self.ops.as_dict()
        d["notes"] = list(self.notes)
        return d

    def to_markdown(self) -> str:
        o = self.ops
        flag = lambda est: " (ESTIMATED figures)" if est else ""  # noqa: E731
        lines = [f"**Energy and latency on {self.target}**: {self.n_cores} cores, {self.n_chips} chip(s), "
                 f"{o.n_steps:,} steps, {o.n_inferences} inference(s).", "",
                 "| quantity | per inference |", "|---|---:|",
                 f"| neuron updates | {o.neuron_updates / o.n_inferences:,.0f} |",
                 f"| synaptic operations | {o.synaptic_ops / o.n_inferences:,.0f} |",
                 f"| spike messages | {o.messages / o.n_inferences:,.0f} |",
                 f"| tile hops (E-W / N-S) | {o.hops_east_west / o.n_inferences:,.0f} / "
                 f"{o.hops_north_south / o.n_inferences:,.0f} |",
                 f"| synaptic energy | {self.synaptic_energy_per_inference_uj:.4g} uJ |",
                 f"| neuron energy | {self.neuron_energy_per_inference_uj:.4g} uJ |",
                 f"| message energy | {self.message_energy_per_inference_uj:.4g} uJ |",
                 f"| static energy | {self.static_energy_per_inference_uj:.4g} uJ |",
                 f"| **total energy**{flag(self.energy_estimated)} | **{self.energy_per_inference_uj:.4g} uJ** |",
                 f"| time per step{flag(self.timing_estimated)}, {self.latency_model} | "
                 f"{self.time_per_step_ns:,.0f} ns (max {self.max_time_per_step_ns:,.0f} ns) |",
                 f"| time per inference | {self.time_per_inference_us:,.1f} us |"]
        if self.notes:
            lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)


@njit(cache=True)
def _per_step(order_steps, order_ids, pptr, pcore, pcnt, pair_latency, base_ns, t_syn, n_cores):
    """Sum and max over steps with spikes of max_k(base_k + t_syn x syn ops_k) + max message latency."""
    work = np.zeros(n_cores)
    touched = np.empty(n_cores, np.int64)
    seen = np.zeros(n_cores, np.bool_)
    base_max = 0.0
    for k in range(n_cores):
        if base_ns[k] > base_max:
            base_max = base_ns[k]
    total = 0.0
    worst = 0.0
    groups = 0
    i = 0
    n = order_steps.size
    while i < n:
        step = order_steps[i]
        nt = 0
        net = 0.0
        while i < n and order_steps[i] == step:
            u = order_ids[i]
            for p in range(pptr[u], pptr[u + 1]):
                k = pcore[p]
                if not seen[k]:
                    seen[k] = True
                    touched[nt] = k
                    nt += 1
                work[k] += t_syn * pcnt[p]
                if pair_latency[p] > net:
                    net = pair_latency[p]
            i += 1
        core_max = base_max
        for t in range(nt):
            k = touched[t]
            if base_ns[k] + work[k] > core_max:
                core_max = base_ns[k] + work[k]
            work[k] = 0.0
            seen[k] = False
        step_ns = core_max + net
        total += step_ns
        if step_ns > worst:
            worst = step_ns
        groups += 1
    return total, worst, groups


def estimate(placement: Placement, activity: Activity, n_steps: int, *, n_inferences: int = 1,
             active_fraction: float = 1.0, mesh: MeshModel | None = None,
             target: HardwareTarget | None = None) -> EnergyReport:
    """Energy per inference and time per step of ``placement`` running ``activity``.

    Args:
        placement: from :func:`~neurosim.hardware.place`.
        activity: the spikes of the window: ``{node name or node: SpikeMonitor or
            per-neuron spike counts}`` or a list of SpikeMonitors, covering every
            node with outgoing synapses.  Monitors give the per-step latency
            model, counts the time-averaged one.
        n_steps: time steps in the window (the run's duration / dt).
        n_inferences: inferences the window holds (energies are divided by it).
        active_fraction: share of neuron updates priced as active.
        mesh: tile layout (default :meth:`MeshModel.for_target`).
        target: the target to price with (default: the placement's).
    """
    target = placement.target if target is None else target
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive number of time steps, got {n_steps!r}")
    if not isinstance(n_inferences, (int, np.integer)) or not 1 <= n_inferences <= n_steps:
        raise ValueError(f"n_inferences must be an integer in [1, n_steps], got {n_inferences!r}")
    if not 0.0 <= active_fraction <= 1.0:
        raise ValueError(f"active_fraction must be in [0, 1], got {active_fraction!r}")
    mesh = MeshModel.for_target(target) if mesh is None else mesh
    g = placement._graph
    cpc = target.cores.cores_per_chip
    counts, timed = _read_activity(g, activity)
    if timed is not None and np.unique(timed[0]).size > n_steps:
        raise ValueError(f"the spike monitors hold spikes in {np.unique(timed[0]).size} different steps, "
                         f"more than n_steps = {n_steps}")
    pptr, pcore, pcnt = placement.synapses_by_core()
    pcore = pcore.astype(np.int64)
    pcnt = pcnt.astype(np.int64)
    K = placement.n_cores
    pre = np.repeat(np.arange(g.n_all), np.diff(pptr))
    spikes = counts[pre]  # spikes of the sender of each (pre, core) pair
    # ---- operation counts
    syn_per_core = np.bincount(pcore, weights=spikes * pcnt, minlength=K)
    neurons = placement.usage["neurons"].astype(np.int64)
    src_placed = pre < g.n_placed
    src_core = np.where(src_placed, placement.core[np.minimum(pre, g.n_placed - 1)], -1)
    chip_d, x_d, y_d = mesh.tile_of(pcore, cpc)
    chip_s, x_s, y_s = mesh.tile_of(np.maximum(src_core, 0), cpc)
    tile_d = chip_d * mesh.tiles_per_chip + y_d * mesh.tiles_east_west + x_d
    tile_s = chip_s * mesh.tiles_per_chip + y_s * mesh.tiles_east_west + x_s
    hops_ew = np.where(src_placed, np.abs(x_d - x_s), 0)
    hops_ns = np.where(src_placed, np.abs(y_d - y_s), 0)
    same_core = src_placed & (pcore == src_core)
    same_tile = src_placed & ~same_core & (tile_d == tile_s)
    between_chips = src_placed & (chip_d != chip_s)
    other_tile = src_placed & ~same_core & ~same_tile & ~between_chips
    msg = lambda mask: float(spikes[mask].sum())  # noqa: E731
    used_cores = np.flatnonzero(neurons > 0)
    chip_u, x_u, y_u = mesh.tile_of(used_cores, cpc)
    tiles = np.unique(chip_u * mesh.tiles_per_chip + y_u * mesh.tiles_east_west + x_u)
    tiles_max = int(np.bincount(tiles // mesh.tiles_per_chip).max())
    ops = OperationCounts(
        n_steps=int(n_steps), n_inferences=int(n_inferences),
        spikes=float(counts.sum()),
        neuron_updates=int(neurons.sum()) * int(n_steps),
        synaptic_ops=float(syn_per_core.sum()),
        messages=float(spikes.sum()),
        messages_same_core=msg(same_core), messages_same_tile=msg(same_tile),
        messages_other_tile=msg(other_tile), messages_between_chips=msg(between_chips),
        messages_from_inputs=msg(~src_placed),
        hops_east_west=float((spikes * hops_ew).sum()),
        hops_north_south=float((spikes * hops_ns).sum()),
        tiles_used_max_per_chip=tiles_max,
        synaptic_ops_per_core=syn_per_core, neurons_per_core=neurons,
    )
    # ---- energy (pJ), per inference
    e, t = target.energy, target.timing
    upd_pj = active_fraction * e.neuron_update_active_pj + (1 - active_fraction) * e.neuron_update_inactive_pj
    syn_pj = ops.synaptic_ops * e.synaptic_op_pj
    neu_pj = ops.neuron_updates * upd_pj
    msg_pj = (ops.messages * e.spike_within_tile_pj + ops.hops_east_west * e.hop_east_west_pj
              + ops.hops_north_south * e.hop_north_south_pj)
    # ---- time per step (ns)
    upd_ns = active_fraction * t.neuron_update_active_ns + (1 - active_fraction) * t.neuron_update_inactive_ns
    base_ns = neurons * upd_ns
    frac = 0.0 if mesh.tiles_per_chip <= 1 else min(1.0, (tiles_max - 1) / (mesh.tiles_per_chip - 1))
    barrier = t.barrier_sync_min_ns + (t.barrier_sync_max_ns - t.barrier_sync_min_ns) * frac
    pair_latency = t.spike_within_tile_ns + hops_ew * t.hop_east_west_ns + hops_ns * t.hop_north_south_ns
    if timed is not None:
        st, ids = timed
        keep = np.diff(pptr)[ids] > 0
        st, ids = st[keep], ids[keep]
        order = np.lexsort((ids, st))
        total, worst, groups = _per_step(st[order], ids[order].astype(np.int64), pptr, pcore, pcnt,
                                         pair_latency.astype(np.float64), base_ns.astype(np.float64),
                                         float(t.synaptic_op_ns), K)
        idle = float(base_ns.max())
        mean_core_net = (total + (n_steps - groups) * idle) / n_steps
        worst = max(worst, idle) if groups < n_steps else worst
        step_ns, max_step_ns, model = mean_core_net + barrier, worst + barrier, "per-step"
        busiest = int(np.argmax(base_ns + t.synaptic_op_ns * syn_per_core / n_steps))
    else:
        core_ns = base_ns + t.synaptic_op_ns * syn_per_core / n_steps
        net_ns = float(pair_latency[spikes > 0].max()) if np.any(spikes > 0) else 0.0
        busiest = int(np.argmax(core_ns))
        step_ns = float(core_ns.max()) + net_ns + barrier
        max_step_ns, model = step_ns, "time-averaged"
    steps_per_inference = n_steps / n_inferences
    t_inf_ns = step_ns * steps_per_inference
    static_pj = e.static_power_mw_per_chip * placement.n_chips * t_inf_ns  # mW x ns = pJ
    dyn_pj = (syn_pj + neu_pj + msg_pj) / n_inferences
    notes = []
    if e.estimated:
        notes.append(f"energy figures of '{target.name}' are marked estimated (placeholders)")
    if t.estimated:
        notes.append(f"timing figures of '{target.name}' are marked estimated (placeholders)")
    notes.append("synaptic-op energy is a minimum and its time a maximum (Davies et al. 2018, Table 2)")
    if ops.messages_between_chips:
        notes.append(f"{ops.messages_between_chips:,.0f} messages cross chips: chip-to-chip link energy and latency "
                     "are unknown and not included (priced as on-chip hops)")
    if placement.n_chips > 1:
        notes.append("multi-chip barrier not modelled (Frady et al. 2020 measured 14.3 us over 256 chips)")
    if ops.messages_from_inputs:
        notes.append("messages from off-chip inputs are priced as deliveries within a tile (entry hops unknown)")
    notes.append("static energy uses the estimated, unthrottled time per step; real-time runs last longer")
    return EnergyReport(
        target=target.name, n_chips=placement.n_chips, n_cores=K, ops=ops,
        synaptic_energy_per_inference_uj=syn_pj / n_inferences * 1e-6,
        neuron_energy_per_inference_uj=neu_pj / n_inferences * 1e-6,
        message_energy_per_inference_uj=msg_pj / n_inferences * 1e-6,
        static_energy_per_inference_uj=static_pj * 1e-6,
        dynamic_energy_per_inference_uj=dyn_pj * 1e-6,
        energy_per_inference_uj=(dyn_pj + static_pj) * 1e-6,
        time_per_step_ns=step_ns, max_time_per_step_ns=max_step_ns, barrier_ns=barrier,
        time_per_inference_us=t_inf_ns * 1e-3, busiest_core=busiest, latency_model=model,
        energy_estimated=e.estimated, timing_estimated=t.estimated, notes=tuple(notes))


# -------------------------------------------------------------------------------- ANN


@dataclasses.dataclass(frozen=True)
class AnnPlatform:
    """Energy of one multiply and one add on a reference platform, pJ, with its source."""

    name: str
    mult_pj: float
    add_pj: float
    source: str

    @property
    def mac_pj(self) -> float:
        return self.mult_pj + self.add_pj


_HOROWITZ = ("M. Horowitz, \"Computing's energy problem (and what we can do about it)\", "
             "IEEE International Solid-State Circuits Conference (ISSCC) 2014; 45 nm process")

#: reference platforms for :func:`ann_counterpart` (arithmetic energy only)
ANN_PLATFORMS = {
    "fp32_45nm": AnnPlatform("fp32_45nm", 3.7, 0.9, _HOROWITZ + ": 32-bit float multiply 3.7 pJ, add 0.9 pJ"),
    "int8_45nm": AnnPlatform("int8_45nm", 0.2, 0.03, _HOROWITZ + ": 8-bit integer multiply 0.2 pJ, add 0.03 pJ"),
}


@dataclasses.dataclass(frozen=True)
class AnnEnergy:
    """Energy of ``macs`` multiply-accumulates on ``platform`` (arithmetic only)."""

    macs: int
    platform: str
    mac_pj: float
    energy_uj: float
    source: str


def ann_counterpart(macs: int, platform: str = "fp32_45nm") -> AnnEnergy:
    """Energy of an ANN doing ``macs`` multiply-accumulates: MACs x (multiply + add energy).

    ``platform``: a key of :data:`ANN_PLATFORMS` (``"fp32_45nm"``: 4.6 pJ per
    MAC; ``"int8_45nm"``: 0.23 pJ per MAC; Horowitz, ISSCC 2014).  Memory
    accesses, which dominate real accelerators, are not included, so this is
    a lower bound for the ANN.
    """
    if platform not in ANN_PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; choose one of {', '.join(ANN_PLATFORMS)}")
    if isinstance(macs, bool) or not isinstance(macs, (int, np.integer)) or macs < 0:
        raise ValueError(f"macs must be a non-negative integer, got {macs!r}")
    p = ANN_PLATFORMS[platform]
    return AnnEnergy(int(macs), p.name, p.mac_pj, int(macs) * p.mac_pj * 1e-6, p.source)


def dense_macs(layer_sizes: Sequence[int], *, time_steps: int = 1) -> int:
    """MACs of a dense feed-forward stack: ``time_steps x sum_l size_l x size_(l+1)``.

    ``layer_sizes`` lists the widths from input to output (``[784, 100, 10]``
    has 784 x 100 + 100 x 10 = 79,400 MACs).  ``time_steps=1`` counts one
    inference of a static ANN; an ANN evaluated at every one of T time steps
    (e.g. frame by frame) costs ``time_steps=T`` times as much.  Biases and
    activations are not counted.
    """
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"layer_sizes needs at least two positive widths, got {list(layer_sizes)!r}")
    if not isinstance(time_steps, (int, np.integer)) or time_steps < 1:
        raise ValueError(f"time_steps must be a positive integer, got {time_steps!r}")
    return int(time_steps) * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def network_macs(net: Network, *, dense: bool = True, time_steps: int = 1) -> int:
    """MACs of an ANN with the topology of ``net``'s projections, per time step x ``time_steps``.

    ``dense=True``: every projection as a dense layer (``pre.n x post.n``);
    ``dense=False``: one MAC per synapse (a sparse ANN with the same
    connections; the network must be built).
    """
    if not isinstance(time_steps, (int, np.integer)) or time_steps < 1:
        raise ValueError(f"time_steps must be a positive integer, got {time_steps!r}")
    if dense:
        per_step = sum(p.pre.n * p.post.n for p in net.projections)
    else:
        per_step = sum(p.n_synapses for p in net.projections)
    return int(time_steps) * int(per_step)


def synaptic_ops(net: Network, activity: Activity) -> float:
    """Synaptic operations of a run: ``sum_u spikes_u x fanout_u`` over every neuron with synapses.

    ``activity`` as for :func:`estimate` (spike counts or monitors per node);
    nodes with outgoing synapses must all be covered.  A whole number for
    recorded spikes; fractional for averaged activity.
    """
    g = _graph_of(net)
    counts, _ = _read_activity(g, activity)
    return float(counts @ g.fanout)

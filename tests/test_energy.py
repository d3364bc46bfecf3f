"""Energy and latency estimates (neurosim.hardware.energy) against hand computations."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

import neurosim as ns
from neurosim.hardware import load_target
from neurosim.hardware.energy import (
    ANN_PLATFORMS, AnnEnergy, EnergyReport, MeshModel, ann_counterpart, dense_macs, estimate,
    network_macs, synaptic_ops,
)
from neurosim.hardware.placement import place
from test_placement import make_target


def toy():
    """a0 -> a1 (2 synapses), a0 -> a0, a1 -> a0; off-chip input s0 -> a0, a1."""
    net = ns.Network(dt=1.0, name="toy")
    a = net.add_population("a", 2, ns.LIF())
    s = net.add_spike_source("s", 1, times=[], indices=[])
    net.connect(a, a, pre=[0, 0, 0, 1], post=[1, 1, 0, 0], weight=1.0)
    net.connect(s, a, pre=[0, 0], post=[0, 1], weight=1.0)
    net.build(seed=0)
    return net


COUNTS = {"a": np.array([3.0, 1.0]), "s": np.array([2.0])}
#: one core per tile, two tiles side by side: the two cores are one east-west hop apart
MESH = MeshModel(cores_per_tile=1, tiles_east_west=2, tiles_north_south=1)


def two_core_placement(cores_per_chip: int = 2):
    pl = place(toy(), make_target(neurons_per_core=1, cores_per_chip=cores_per_chip))
    assert pl.n_cores == 2
    return pl


def test_operation_counts_by_hand():
    ops = estimate(two_core_placement(), COUNTS, n_steps=10, mesh=MESH).ops
    assert ops.neuron_updates == 2 * 10
    assert ops.synaptic_ops == 3 * 3 + 1 * 1 + 2 * 2  # spikes x fan-out
    # a0: 3 spikes x 2 destination cores (own + other), a1: 1 x 1, s0: 2 x 2
    assert ops.messages == 6 + 1 + 4
    assert (ops.messages_same_core, ops.messages_same_tile, ops.messages_other_tile,
            ops.messages_between_chips, ops.messages_from_inputs) == (3, 0, 4, 0, 4)
    assert (ops.hops_east_west, ops.hops_north_south) == (4, 0)
    assert sorted(ops.synaptic_ops_per_core.tolist()) == [6, 8]  # core of a0: 3+1+2, of a1: 6+2
    assert ops.tiles_used_max_per_chip == 2
    # averaged activity (e.g. spikes per inference over many samples) keeps its fractions
    half = estimate(two_core_placement(), {k: v / 4 for k, v in COUNTS.items()}, n_steps=10, mesh=MESH).ops
    assert (half.synaptic_ops, half.messages, half.hops_east_west) == (3.5, 2.75, 1.0)


def test_energy_and_time_by_hand_time_averaged():
    rep = estimate(two_core_placement(), COUNTS, n_steps=10, mesh=MESH)
    dynamic_pj = 14 * 23.6 + 20 * 81.0 + (11 * 1.7 + 4 * 3.0)  # synaptic + neuron + messages
    # busiest core (a1's): 1 neuron x 8.4 ns + 8 synaptic ops / 10 steps x 3.5 ns = 11.2 ns;
    # longest message: 2.1 ns + 1 hop x 4.1 ns; barrier over 2 of 2 tiles: the maximum, 465 ns
    step_ns = 11.2 + 6.2 + 465.0
    static_pj = 104.0 * 1 * step_ns * 10  # mW x ns = pJ
    assert rep.latency_model == "time-averaged"
    assert rep.time_per_step_ns == pytest.approx(step_ns)
    assert rep.barrier_ns == pytest.approx(465.0)
    assert rep.time_per_inference_us == pytest.approx(step_ns * 10 * 1e-3)
    assert rep.synaptic_energy_per_inference_uj == pytest.approx(14 * 23.6e-6)
    assert rep.neuron_energy_per_inference_uj == pytest.approx(20 * 81.0e-6)
    assert rep.message_energy_per_inference_uj == pytest.approx((11 * 1.7 + 4 * 3.0) * 1e-6)
    assert rep.dynamic_energy_per_inference_uj == pytest.approx(dynamic_pj * 1e-6)
    assert rep.static_energy_per_inference_uj == pytest.approx(static_pj * 1e-6)
    assert rep.energy_per_inference_uj == pytest.approx((dynamic_pj + static_pj) * 1e-6)
    assert rep.energy_per_inference_uj == pytest.approx(0.5036771)
    assert not rep.energy_estimated and not rep.timing_estimated
    # two inferences in the window: half the dynamic energy, half the time each
    rep2 = estimate(two_core_placement(), COUNTS, n_steps=10, n_inferences=2, mesh=MESH)
    assert rep2.energy_per_inference_uj == pytest.approx((dynamic_pj / 2 + 104.0 * step_ns * 5) * 1e-6)
    # half the updates inactive: 52 pJ / 5.3 ns for those
    rep3 = estimate(two_core_placement(), COUNTS, n_steps=10, active_fraction=0.5, mesh=MESH)
    assert rep3.neuron_energy_per_inference_uj == pytest.approx(20 * 66.5e-6)
    assert rep3.time_per_step_ns == pytest.approx(6.85 + 2.8 + 6.2 + 465.0)


def test_time_per_step_by_hand_per_step():
    """Spike times give the per-step maxima: a0 fires in steps 0, 1, 5; a1 in 1; s0 in 1, 7."""
    spikes = {"a": SimpleNamespace(steps=np.array([0, 1, 5, 1]), indices=np.array([0, 0, 0, 1])),
              "s": SimpleNamespace(steps=np.array([1, 7]), indices=np.array([0, 0]))}
    rep = estimate(two_core_placement(), spikes, n_steps=10, mesh=MESH)
    # step 0 and 5: a0's core 8.4 + 3.5, a1's core 8.4 + 2 x 3.5 = 15.4, + message 6.2 -> 21.6
    # step 1: both cores 8.4 + 3 x 3.5 = 18.9, + 6.2 -> 25.1; step 7: 8.4 + 3.5 + 2.1 (input) -> 14.0
    # six idle steps: 8.4
    mean = (21.6 + 25.1 + 21.6 + 14.0 + 6 * 8.4) / 10
    assert rep.latency_model == "per-step"
    assert rep.time_per_step_ns == pytest.approx(mean + 465.0)
    assert rep.max_time_per_step_ns == pytest.approx(25.1 + 465.0)
    assert rep.ops.synaptic_ops == 14 and rep.ops.messages == 11
    static_pj = 104.0 * (mean + 465.0) * 10
    assert rep.energy_per_inference_uj == pytest.approx((1981.1 + static_pj) * 1e-6)


def test_between_chips_and_flags():
    rep = estimate(two_core_placement(cores_per_chip=1), COUNTS, n_steps=10)
    assert rep.n_chips == 2
    assert rep.ops.messages_between_chips == 3 + 1
    assert rep.ops.hops_east_west == 0  # both cores sit on tile (0, 0) of their chips
    assert rep.barrier_ns == pytest.approx(113.0)  # one tile per chip: the smallest mesh
    assert any("cross chips" in n for n in rep.notes)
    assert any("multi-chip barrier" in n for n in rep.notes)
    assert rep.static_energy_per_inference_uj == pytest.approx(104.0 * 2 * rep.time_per_step_ns * 10 * 1e-6)
    pl2 = place(toy(), "loihi2")
    rep2 = estimate(pl2, COUNTS, n_steps=10)
    assert rep2.energy_estimated and rep2.timing_estimated
    assert any("estimated" in n for n in rep2.notes)
    assert "ESTIMATED" in rep2.to_markdown()


def test_synaptic_ops_from_a_real_run():
    net = ns.Network(dt=0.1)
    a = net.add_population("a", 40, ns.LIF(i_offset=20.0))
    b = net.add_population("b", 20, ns.LIF())
    p = net.add_poisson("p", 10, rate=200.0)
    net.connect(a, b, p=0.2, weight=1.0)
    net.connect(p, a, k=3, weight=0.5)
    net.connect(b, b, p=0.1, weight=0.5)
    mons = [net.monitor_spikes(n) for n in (a, b, p)]
    stats = net.run(50.0, seed=3, progress=False, backend="numpy")
    assert stats.synaptic_events > 0
    assert synaptic_ops(net, mons) == stats.synaptic_events
    pl = place(net, make_target(neurons_per_core=16))
    rep = estimate(pl, mons, n_steps=stats.steps)
    assert rep.ops.synaptic_ops == stats.synaptic_events
    assert rep.ops.spikes == stats.spikes
    assert rep.ops.neuron_updates == 60 * stats.steps


def test_dense_macs_and_ann_energy_by_hand():
    assert dense_macs([784, 100, 10]) == 784 * 100 + 100 * 10 == 79_400
    assert dense_macs([784, 100, 10], time_steps=25) == 25 * 79_400
    fp = ann_counterpart(79_400, "fp32_45nm")
    assert fp.mac_pj == pytest.approx(3.7 + 0.9)
    assert fp.energy_uj == pytest.approx(79_400 * 4.6e-6)
    i8 = ann_counterpart(79_400, platform="int8_45nm")
    assert i8.energy_uj == pytest.approx(79_400 * 0.23e-6)
    assert "Horowitz" in fp.source and "ISSCC" in i8.source and "2014" in i8.source
    net = ns.Network(dt=1.0)
    a = net.add_population("a", 4, ns.LIF())
    b = net.add_population("b", 3, ns.LIF())
    net.connect(a, b, pre=[0, 1], post=[2, 2], weight=1.0)
    net.build(seed=0)
    assert network_macs(net) == 12 and network_macs(net, dense=False) == 2
    assert network_macs(net, dense=False, time_steps=10) == 20
    with pytest.raises(ValueError, match="unknown platform"):
        ann_counterpart(10, "gpu")
    with pytest.raises(ValueError, match="non-negative"):
        ann_counterpart(-1)
    with pytest.raises(ValueError, match="two positive widths"):
        dense_macs([5])


def test_units_are_in_the_names():
    units = ("_uj", "_ns", "_us", "_pj")
    for cls in (EnergyReport, AnnEnergy):
        for f in dataclasses.fields(cls):
            if f.type in ("float", float):
                assert f.name.endswith(units), f"{cls.__name__}.{f.name} has no unit suffix"
    for p in ANN_PLATFORMS.values():
        assert p.mult_pj > p.add_pj > 0


def test_estimate_input_errors():
    pl = two_core_placement()
    with pytest.raises(ValueError, match="n_steps"):
        estimate(pl, COUNTS, n_steps=0)
    with pytest.raises(ValueError, match="n_inferences"):
        estimate(pl, COUNTS, n_steps=5, n_inferences=6)
    with pytest.raises(ValueError, match="no spikes for 's'"):
        estimate(pl, {"a": COUNTS["a"]}, n_steps=5)
    with pytest.raises(ValueError, match="more than n_steps"):
        estimate(pl, {"a": SimpleNamespace(steps=np.arange(4), indices=np.zeros(4, int)),
                      "s": SimpleNamespace(steps=np.zeros(1, int), indices=np.zeros(1, int))}, n_steps=3)
    with pytest.raises(ValueError, match="fewer than"):
        estimate(pl, COUNTS, n_steps=5, mesh=MeshModel(1, 1, 1))
    rep = estimate(pl, COUNTS, n_steps=10, mesh=MESH)
    assert rep.as_dict()["ops"]["messages"] == 11
    assert "uJ" in rep.to_markdown()
    assert load_target("loihi1").energy.synaptic_op_pj == 23.6

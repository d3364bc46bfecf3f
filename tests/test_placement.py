"""Placement onto cores (neurosim.hardware.placement): limits, traffic, report, impossible cases.

Every check recounts from the projections' CSR arrays with plain Python,
independently of the placer's compiled bookkeeping.
"""
from __future__ import annotations

import math
import re
import tomllib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import neurosim as ns
from neurosim.hardware import load_target, target_from_dict
from neurosim.hardware.placement import RESOURCES, memory_model, place

HARDWARE = Path(__file__).resolve().parents[1] / "hardware"


def make_target(base: str = "loihi1", **cores):
    """A target like ``base`` with [cores] fields replaced (None removes an optional limit)."""
    with (HARDWARE / f"{base}.toml").open("rb") as fh:
        data = tomllib.load(fh)
    for key, value in cores.items():
        if value is None:
            data["cores"].pop(key, None)
        else:
            data["cores"][key] = value
    data["provenance"] = {"unverified": [], "secondary": []}
    return target_from_dict(data)


# ------------------------------------------------------------ independent recount


def synapse_list(net):
    """(global pre, global post) of every synapse; populations first, then sources."""
    offset, start = {}, 0
    for node in net.populations + net.sources:
        offset[node.name] = start
        start += node.n
    pairs = []
    for proj in net.projections:
        for i in range(proj.pre.n):
            for s in range(proj.indptr[i], proj.indptr[i + 1]):
                pairs.append((offset[proj.pre.name] + i, offset[proj.post.name] + int(proj.post_index[s])))
    return pairs, offset


def axon_bits(n: int, synapse_bits: int) -> int:
    """nengo-loihi bits_per_axon, written out: blocks of <= 64 synapses, 10 header bits, 64-bit words."""
    bits = 0
    while n > 0:
        m = min(n, 64)
        bits += 64 * math.ceil((m * synapse_bits + 10) / 64)
        n -= m
    return bits


def recount(net, target, core, weights):
    """Per-core resources and weighted traffic of assignment ``core``, by brute force."""
    pairs, _ = synapse_list(net)
    n_placed = sum(p.n for p in net.populations)
    n_cores = int(max(core)) + 1
    max_delay = max((int(p.delay_steps.max()) for p in net.projections if p.n_synapses), default=0)
    syn_bits = (target.precision.weight_bits + 1) + max_delay.bit_length() \
        + max(1, (target.cores.neurons_per_core - 1).bit_length())
    n_uk = defaultdict(int)
    for u, v in pairs:
        n_uk[(u, int(core[v]))] += 1
    dest = defaultdict(set)
    for (u, k) in n_uk:
        dest[u].add(k)
    neurons = np.bincount(core, minlength=n_cores)
    in_axons = np.zeros(n_cores, int)
    mem_bits = np.zeros(n_cores, int)
    for (u, k), n in n_uk.items():
        in_axons[k] += 1
        mem_bits[k] += axon_bits(n, syn_bits)
    out_axons = np.zeros(n_cores, int)
    for u in range(n_placed):
        out_axons[core[u]] += len(dest[u])
    p = target.precision
    state = math.ceil((p.u_bits + p.v_bits + p.bias_mantissa_bits + p.bias_exp_bits) / 8)
    total = neurons * state + mem_bits // 8 + 4 * (in_axons + out_axons)
    cpc = target.cores.cores_per_chip
    traffic = dict(within_core=0.0, between_cores_same_chip=0.0, between_chips=0.0, from_inputs=0.0)
    for u, ks in dest.items():
        for k in ks:
            if u >= n_placed:
                traffic["from_inputs"] += weights[u]
            elif k == core[u]:
                traffic["within_core"] += weights[u]
            elif k // cpc == core[u] // cpc:
                traffic["between_cores_same_chip"] += weights[u]
            else:
                traffic["between_chips"] += weights[u]
    traffic["inter_core_total"] = (traffic["between_cores_same_chip"] + traffic["between_chips"]
                                   + traffic["from_inputs"])
    usage = {"neurons": neurons, "synaptic_memory_bytes": mem_bits // 8, "input_axons": in_axons,
             "output_axons": out_axons, "total_memory_bytes": total}
    return usage, traffic, syn_bits


def check_placement(net, target, pl, weights):
    n_placed = sum(p.n for p in net.populations)
    # every neuron placed exactly once, on a used core; cores numbered 0..n_cores-1
    assert pl.core.shape == (n_placed,)
    assert pl.core.min() >= 0 and pl.core.max() == pl.n_cores - 1
    assert set(np.unique(pl.core)) == set(range(pl.n_cores))
    assert sum(len(pl.neurons_on(k)) for k in range(pl.n_cores)) == n_placed
    for pop in net.populations:
        assert pl.core_of(pop).shape == (pop.n,)
    assert pl.n_chips == math.ceil(pl.n_cores / target.cores.cores_per_chip)
    usage, traffic, syn_bits = recount(net, target, pl.core, weights)
    assert pl.memory.synapse_bits == syn_bits
    for name, field in RESOURCES.items():
        limit = getattr(target.cores, field)
        np.testing.assert_array_equal(pl.usage[name], usage[name], err_msg=name)
        if limit is not None:
            assert usage[name].max() <= limit, f"{name}: {usage[name].max()} > {limit}"
    for key, value in traffic.items():
        assert pl.traffic[key] == pytest.approx(value), key
    # the baseline: a greedy fill in index order (cores never decrease), recounted the same way
    assert np.all(np.diff(pl.baseline_core) >= 0)
    base_usage, base_traffic, _ = recount(net, target, pl.baseline_core, weights)
    for name, field in RESOURCES.items():
        limit = getattr(target.cores, field)
        if limit is not None:
            assert base_usage[name].max() <= limit
    for key, value in base_traffic.items():
        assert pl.baseline["traffic"][key] == pytest.approx(value), key
    assert pl.traffic["inter_core_total"] <= pl.baseline["traffic"]["inter_core_total"] + 1e-9


# -------------------------------------------------------------- random networks


@st.composite
def networks(draw):
    net = ns.Network(dt=1.0, name="random")
    nodes = []
    for i in range(draw(st.integers(1, 3))):
        nodes.append(net.add_population(f"p{i}", draw(st.integers(1, 20)), ns.LIF()))
    for i in range(draw(st.integers(0, 2))):
        nodes.append(net.add_spike_source(f"s{i}", draw(st.integers(1, 6)), times=[], indices=[]))
    pops = [n for n in nodes if isinstance(n, ns.populations.Population)]
    for _ in range(draw(st.integers(0, 5))):
        pre = draw(st.sampled_from(nodes))
        post = draw(st.sampled_from(pops))
        rule = draw(st.sampled_from(["p", "k", "explicit"]))
        delay = float(draw(st.integers(0, 3)))
        if rule == "p":
            net.connect(pre, post, p=draw(st.floats(0.0, 1.0)), weight=1.0, delay=delay)
        elif rule == "k":
            net.connect(pre, post, k=draw(st.integers(0, pre.n)), weight=1.0, delay=delay)
        else:  # repeated pairs give several synapses between the same two neurons
            m = draw(st.integers(0, 30))
            net.connect(pre, post, pre=draw(st.lists(st.integers(0, pre.n - 1), min_size=m, max_size=m)),
                        post=draw(st.lists(st.integers(0, post.n - 1), min_size=m, max_size=m)),
                        weight=1.0, delay=delay)
    net.build(seed=draw(st.integers(0, 2 ** 16)))
    activity = None
    if draw(st.booleans()):
        activity = {n.name: np.array(draw(st.lists(st.integers(0, 9), min_size=n.n, max_size=n.n)), float)
                    for n in nodes}
    return net, activity


@st.composite
def targets(draw):
    syn_bytes = draw(st.integers(8, 600))
    total = draw(st.one_of(st.none(), st.integers(syn_bytes, syn_bytes + 600)))
    return make_target(
        neurons_per_core=draw(st.integers(1, 12)),
        synaptic_memory_bytes_per_core=syn_bytes,
        input_axons_per_core=draw(st.one_of(st.none(), st.integers(1, 40))),
        output_axons_per_core=draw(st.one_of(st.none(), st.integers(1, 60))),
        total_memory_bytes_per_core=total,
        cores_per_chip=draw(st.integers(1, 6)),
    )


def weights_of(net, activity):
    n_all = sum(n.n for n in net.populations + net.sources)
    if activity is None:
        return np.ones(n_all)
    return np.concatenate([activity[n.name] for n in net.populations + net.sources])


def check_error_claim(net, target, message: str) -> None:
    """A ValueError must name a limit and a neuron for which that limit provably fails."""
    field = re.search(r"(\w+_per_core) = ([\d,]+)", message)
    where = re.search(r"population '([^']+)' neuron (\d+)", message)
    assert field and where, message
    name, limit = field.group(1), int(field.group(2).replace(",", ""))
    pairs, offset = synapse_list(net)
    v = offset[where.group(1)] + int(where.group(2))
    pres = [u for u, x in pairs if x == v]
    posts = {x for u, x in pairs if u == v}
    _, _, syn_bits = recount(net, target, np.zeros(sum(p.n for p in net.populations), int), np.zeros(1000))
    mem = sum(axon_bits(pres.count(u), syn_bits) for u in set(pres)) // 8
    if name == "input_axons_per_core":
        assert len(set(pres)) > limit
    elif name == "synaptic_memory_bytes_per_core":
        assert mem > limit
    elif name == "output_axons_per_core":
        # at least ceil(posts / neurons_per_core) destination cores; with one neuron per core, all of them
        lower = math.ceil(len(posts) / target.cores.neurons_per_core)
        assert lower > limit or ("one neuron per core" in message and len(posts) > limit)
    elif name == "total_memory_bytes_per_core":
        state = math.ceil((24 + 24 + 13 + 3) / 8)
        lower = math.ceil(len(posts) / target.cores.neurons_per_core)
        if "one neuron per core" in message:
            lower = len(posts)
        assert state + mem + 4 * (len(set(pres)) + lower) > limit
    else:
        raise AssertionError(message)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), targets(), st.integers(0, 3))
def test_random_placements_keep_every_limit(net_activity, target, seed):
    net, activity = net_activity
    try:
        pl = place(net, target, activity=activity, seed=seed)
    except ValueError as err:
        event("impossible: " + re.search(r"\w+_per_core|max_delay_steps", str(err)).group(0))
        check_error_claim(net, target, str(err))
        return
    event(f"placed on {'1 core' if pl.n_cores == 1 else 'several cores'}"
          f"{', refined' if pl.method.endswith('refinement') else ''}")
    check_placement(net, target, pl, weights_of(net, activity))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.integers(1, 8), st.integers(1, 4))
def test_generous_limits_always_place(net_activity, neurons_per_core, cores_per_chip):
    """With memory and axons to spare, every network fits, and the checks above hold."""
    net, activity = net_activity
    target = make_target(neurons_per_core=neurons_per_core, cores_per_chip=cores_per_chip,
                         synaptic_memory_bytes_per_core=1 << 20, input_axons_per_core=None,
                         output_axons_per_core=None, total_memory_bytes_per_core=None)
    pl = place(net, target, activity=activity)
    check_placement(net, target, pl, weights_of(net, activity))
    assert pl.n_cores == math.ceil(sum(p.n for p in net.populations) / neurons_per_core)


# ------------------------------------------------------------- hand-computed example


def small_network():
    """a (4 neurons) -> b (2 neurons); one input neuron s -> a0, a1.

    a0 -> b0 (two synapses), a1 -> b0, a2 -> b1, a3 -> b1, b0 -> a0, s0 -> a0, s0 -> a1.
    """
    net = ns.Network(dt=1.0, name="small")
    a = net.add_population("a", 4, ns.LIF())
    b = net.add_population("b", 2, ns.LIF())
    s = net.add_spike_source("s", 1, times=[], indices=[])
    net.connect(a, b, pre=[0, 0, 1, 2, 3], post=[0, 0, 0, 1, 1], weight=1.0)
    net.connect(b, a, pre=[0], post=[0], weight=1.0)
    net.connect(s, a, pre=[0, 0], post=[0, 1], weight=1.0)
    net.build(seed=0)
    return net


def test_hand_computed_report():
    net = small_network()
    target = make_target(neurons_per_core=2, cores_per_chip=2, synaptic_memory_bytes_per_core=1024,
                         input_axons_per_core=8, output_axons_per_core=8, total_memory_bytes_per_core=None)
    activity = {"a": np.array([3.0, 1.0, 2.0, 0.0]), "b": np.array([5.0, 0.0]), "s": np.array([4.0])}
    pl = place(net, target, activity=activity)
    # baseline (index order, 2 per core): a0 a1 | a2 a3 | b0 b1 on cores 0 | 1 | 2; chips {0, 1} and {2}
    np.testing.assert_array_equal(pl.baseline_core, [0, 0, 1, 1, 2, 2])
    bt = pl.baseline["traffic"]
    # a0 (3 spikes) -> core 2 on chip 1; a1 (1) -> core 2; a2 (2) -> core 2; b0 (5) -> core 0 on chip 0;
    # s0 (4) -> core 0 only (one message per destination core)
    assert bt == {"within_core": 0.0, "between_cores_same_chip": 0.0, "between_chips": 3 + 1 + 2 + 5,
                  "from_inputs": 4.0, "inter_core_total": 15.0}
    assert pl.baseline["cores_used"] == 3 and pl.baseline["chips_used"] == 2
    # the optimum pairs each b neuron with its inputs: {a0, b0} {a1, ?}... the best split keeps
    # a0-b0 (8 spike-messages) and a2/a3-b1 local; whatever the layout, recount agrees
    check_placement(net, target, pl, weights_of(net, activity))
    assert pl.traffic["inter_core_total"] < 15.0
    rep = pl.report()
    assert rep["cores_used"] == pl.n_cores and rep["chips_used"] == pl.n_chips
    assert rep["resources"]["neurons"]["limit"] == 2
    assert rep["resources"]["total_memory_bytes"]["limit"] is None
    assert rep["resources"]["total_memory_bytes"]["max_utilisation"] is None
    assert rep["baseline"]["traffic"]["inter_core_total"] == 15.0
    assert rep["traffic_reduction"] == pytest.approx(1 - pl.traffic["inter_core_total"] / 15.0)
    md = pl.to_markdown()
    assert "| neurons | 2 |" in md and "unknown" in md and "between chips" in md


def test_hand_computed_usage_of_one_layout():
    """Per-core numbers of a fixed layout, computed by hand (one neuron per core, 1 core per chip)."""
    net = small_network()
    target = make_target(neurons_per_core=6, cores_per_chip=4, synaptic_memory_bytes_per_core=1024,
                         input_axons_per_core=8, output_axons_per_core=8, total_memory_bytes_per_core=None)
    pl = place(net, target)  # everything fits on one core
    assert pl.n_cores == 1 and pl.n_chips == 1
    u = {k: int(v[0]) for k, v in pl.usage.items()}
    # synapse = 9-bit weight + 0 delay bits + 3 index bits (6 neurons per core) = 12 bits
    assert pl.memory.synapse_bits == 12
    # input axons: a0, a1, a2, a3, b0, s0 = 6; a0 has 2 synapses (2*12 + 10 = 34 -> 64 bits), the rest
    # 1 synapse (22 -> 64 bits) except s0 with 2 (64 bits): 6 words = 48 bytes
    assert u["input_axons"] == 6 and u["synaptic_memory_bytes"] == 48
    # output axons: a0..a3 and b0 reach one core each; b1 has no synapses
    assert u["output_axons"] == 5 and u["neurons"] == 6
    assert pl.traffic["within_core"] == 5 and pl.traffic["from_inputs"] == 1
    assert pl.traffic["inter_core_total"] == 1


def test_locality_beats_index_order():
    """a -> b one-to-one: index order puts a and b on different cores; pairing them costs nothing."""
    net = ns.Network(dt=1.0)
    a = net.add_population("a", 16, ns.LIF())
    b = net.add_population("b", 16, ns.LIF())
    net.connect(a, b, rule="one_to_one", weight=1.0)
    net.build(seed=0)
    target = make_target(neurons_per_core=4, output_axons_per_core=None, input_axons_per_core=None)
    pl = place(net, target)
    assert pl.baseline["traffic"]["inter_core_total"] == 16
    assert pl.traffic["inter_core_total"] == 0
    np.testing.assert_array_equal(pl.core_of(a), pl.core_of("b"))


def test_refinement_moves_reduce_traffic_and_keep_limits():
    """Two interleaved cliques placed in index order with room to spare: moves separate them."""
    from neurosim.hardware import placement as P

    net = ns.Network(dt=1.0)
    pop = net.add_population("p", 16, ns.LIF())
    even, odd = np.arange(0, 16, 2), np.arange(1, 16, 2)
    pre = np.concatenate([np.repeat(even, 8), np.repeat(odd, 8)])
    post = np.concatenate([np.tile(even, 8), np.tile(odd, 8)])
    net.connect(pop, pop, pre=pre, post=post, weight=1.0)
    net.build(seed=0)
    target = make_target(neurons_per_core=10, input_axons_per_core=None, output_axons_per_core=None,
                         synaptic_memory_bytes_per_core=1 << 16)
    g = P._graph_of(net)
    placer = P._Placer(g, target, memory_model(target), np.ones(g.n_all))
    start = placer.fill(np.arange(16), 8, "index order")
    assert start.objective == 16  # every neuron reaches the other core
    refined, stats = placer.refine(start, seed=0, max_passes=5, max_moves=1000)
    assert stats["moves"] > 0 and refined.objective < start.objective
    for name in ("neurons",):
        assert refined.used[name].max() <= 10
    usage, traffic, _ = recount(net, target, refined.core, np.ones(16))
    assert traffic["inter_core_total"] == refined.objective
    np.testing.assert_array_equal(refined.used["output_axons"], usage["output_axons"])


def test_loihi2_unknown_axon_limits_are_reported_not_enforced():
    net = small_network()
    pl = place(net, load_target("loihi2"))
    rep = pl.report()
    for name in ("input_axons", "output_axons"):
        assert rep["resources"][name]["limit"] is None
        assert rep["resources"][name]["status"].startswith("limit unknown")
        assert rep["resources"][name]["max"] >= 1
    assert rep["resources"]["total_memory_bytes"]["limit"] == 196608
    assert rep["resources"]["total_memory_bytes"]["status"] == "enforced"


# ------------------------------------------------------------------ impossible cases


def fan_in_network(n_inputs: int, synapses_each: int = 1):
    net = ns.Network(dt=1.0, name="fan")
    src = net.add_spike_source("src", n_inputs, times=[], indices=[])
    pop = net.add_population("pop", 3, ns.LIF())
    pre = np.repeat(np.arange(n_inputs), synapses_each)
    net.connect(src, pop, pre=pre, post=np.full(pre.size, 2), weight=1.0)
    net.build(seed=0)
    return net


def test_fan_in_beyond_input_axons_is_impossible():
    with pytest.raises(ValueError, match=r"population 'pop' neuron 2 .* 5 more than input_axons_per_core = 5"):
        place(fan_in_network(10), make_target(input_axons_per_core=5))


def test_fan_in_beyond_synaptic_memory_is_impossible():
    # 100 synapses from one input: 9 + 0 + 10 bits each; 64 per block -> 2 blocks of
    # ceil((64*19+10)/64)=20 and ceil((36*19+10)/64)=11 words: 31 words = 248 bytes
    with pytest.raises(ValueError, match=r"neuron 2 alone on a core needs 248 bytes.*48 more than "
                                         r"synaptic_memory_bytes_per_core = 200"):
        place(fan_in_network(1, 100), make_target(synaptic_memory_bytes_per_core=200))


def test_fan_out_beyond_output_axons_is_impossible():
    net = ns.Network(dt=1.0)
    a = net.add_population("a", 1, ns.LIF())
    b = net.add_population("b", 20, ns.LIF())
    net.connect(a, b, rule="all_to_all", weight=1.0)
    net.build(seed=0)
    # 21 neurons, 2 per core: a0's 20 targets need >= 10 cores, so >= 10 output axons
    with pytest.raises(ValueError, match=r"population 'a' neuron 0 .* at least 10 output axons, "
                                         r"4 more than output_axons_per_core = 6"):
        place(net, make_target(neurons_per_core=2, output_axons_per_core=6))


def test_total_memory_beyond_limit_is_impossible():
    with pytest.raises(ValueError, match=r"total_memory_bytes_per_core = 40"):
        place(fan_in_network(4), make_target(synaptic_memory_bytes_per_core=40, total_memory_bytes_per_core=40))


def test_delay_beyond_target_is_impossible():
    net = ns.Network(dt=1.0)
    a = net.add_population("a", 2, ns.LIF())
    net.connect(a, a, p=1.0, weight=1.0, delay=70.0)
    net.build(seed=0)
    with pytest.raises(ValueError, match=r"delay of 70 steps exceeds features.max_delay_steps = 62 by 8"):
        place(net, "loihi1")


def test_input_and_activity_errors():
    net = small_network()
    with pytest.raises(RuntimeError, match="build"):
        place(ns.Network(), "loihi1")
    with pytest.raises(ValueError, match="no spikes for 'b', 's'"):
        place(net, "loihi1", activity={"a": np.ones(4)})
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        place(net, "loihi1", activity={"a": np.ones(3), "b": np.ones(2), "s": np.ones(1)})
    with pytest.raises(ValueError, match="unknown node 'c'"):
        place(net, "loihi1", activity={"c": np.ones(3)})
    with pytest.raises(ValueError, match="non-negative"):
        place(net, "loihi1", activity={"a": -np.ones(4), "b": np.ones(2), "s": np.ones(1)})
    with pytest.raises(ValueError, match="off-chip input"):
        place(net, "loihi1").core_of("s")


def test_spike_monitors_as_activity():
    net = ns.Network(dt=0.1)
    a = net.add_population("a", 30, ns.LIF(i_offset=20.0))
    b = net.add_population("b", 10, ns.LIF())
    net.connect(a, b, p=0.3, weight=2.0)
    mons = [net.monitor_spikes(a), net.monitor_spikes(b)]
    net.run(50.0, seed=2, progress=False, backend="numpy")
    pl = place(net, make_target(neurons_per_core=8), activity=mons)
    weights = np.concatenate([mons[0].count, mons[1].count]).astype(float)
    check_placement(net, pl.target, pl, weights)
    assert pl.activity == "spike counts"

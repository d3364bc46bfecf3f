"""Random networks on every backend: the NumPy reference, the Numba engine with one and two
threads, and the GPU backend's host code with the real kernels/*.cu compiled for the CPU must
give bit-identical monitors, final state and ring buffer.  On a GPU (marker ``gpu``), networks
drawn with one weight per projection and no conductance-based neurons must too: their sums do
not depend on the order of the GPU's atomic additions, and they call no ``exp`` per step
(docs/gpu.md, "Where a GPU may differ").

Each seed draws a network the hand-written tests do not: one to three populations of mixed
neuron models (sizes from 1 neuron up), spike sources and Poisson groups of every rate form,
projections of every rule with scalar, distributed or per-synapse weights and delays (long
ones wrap the ring buffer), explicit receptors, Poisson inputs, constant and time-varying
currents, spike monitors on subsets, state monitors every few steps, rate monitors, and the
run split into parts down to a single step.  With two threads, every network is split into two
partitions of neurons (the size threshold is lowered), whatever its size.
"""
import numpy as np
import pytest

import neurosim as ns
from neurosim.engine import cupy_backend, numba_backend

from conftest import register_backend

SEEDS = range(12)


def _model(r: np.random.Generator, conductances: bool = True) -> tuple[ns.NeuronModel, float, float]:
    """A neuron model and excitatory / inhibitory weights that make it fire now and then
    (``conductances=False``: not ConductanceLIF)."""
    kind = r.choice([0, 1, 2, 3] if conductances else [0, 2, 3])
    if kind == 0:
        return ns.LIF(v_rest=-49.0, v_reset=-60.0, v_th=-50.0, tau_ref=float(r.choice([0.0, 2.0])),
                      tau_syn_e=float(r.choice([0.0, 5.0])), tau_syn_i=float(r.choice([0.0, 10.0]))), 1.5, -8.0
    if kind == 1:
        return ns.ConductanceLIF(), 6.0, -60.0
    if kind == 2:
        return ns.AdaptiveLIF(v_rest=-49.0, v_reset=-60.0, v_th=-50.0, a=0.1, b=1.0), 1.5, -8.0
    return ns.Izhikevich(i_offset=float(r.choice([0.0, 5.0]))), 3.0, -6.0


def _source(net: ns.Network, r: np.random.Generator, name: str):
    n = int(r.integers(1, 60))
    kind = r.integers(0, 5)
    if kind == 0:
        count = int(r.integers(0, 300))
        pairs = np.unique(r.integers(0, 1500, size=count) * n + r.integers(0, n, size=count))
        return net.add_spike_source(name, n, (pairs // n) * net.dt, pairs % n)
    if kind == 1:
        return net.add_poisson(name, n, rate=float(r.uniform(0, 80)))
    if kind == 2:
        return net.add_poisson(name, n, rate=r.uniform(0, 80, size=n))
    if kind == 3:
        return net.add_poisson(name, n, rate=r.uniform(0, 80, size=(7, n)), rate_dt=float(r.uniform(1, 30)))
    return net.add_poisson(name, n, rate=lambda t: 30.0 + 20.0 * np.sin(t / 7.0))


def _connect(net: ns.Network, r: np.random.Generator, pre, post, w: float, one_weight: bool) -> None:
    """One projection ``pre -> post`` with a random rule, weights, delays and receptor
    (``one_weight``: the same weight for all its synapses)."""
    rule = r.integers(0, 5)
    if rule == 0:
        how = dict(p=float(r.uniform(0, 0.3)))
    elif rule == 1:
        how = dict(k=int(r.integers(0, min(pre.n - 1, 20) + 1)))
    elif rule == 2:
        how = dict(rule="all_to_all")
    elif rule == 3 and pre.n == post.n:
        how = dict(rule="one_to_one")
    else:
        m = int(r.integers(0, 400))
        how = dict(pre=r.integers(0, pre.n, size=m), post=r.integers(0, post.n, size=m))
    weight = w if one_weight or r.random() < 0.5 else ns.Uniform(*sorted((0.5 * w, 1.5 * w)))
    delay = [0.0, float(r.uniform(0, 40)), ns.Uniform(0.0, float(r.uniform(0.1, 8.0)))][r.integers(0, 3)]
    if "pre" in how:
        weight = w if one_weight else w * r.uniform(0.5, 1.5, size=len(how["pre"]))
        delay = r.uniform(0.0, 6.0, size=len(how["pre"]))
    receptor = "auto"
    if not post.model.conductance_based and r.random() < 0.2:
        receptor = str(r.choice(["exc", "inh"]))
    net.connect(pre, post, weight=weight, delay=delay, receptor=receptor, allow_self=bool(r.random() < 0.5), **how)


def random_network(seed: int, gpu_exact: bool = False) -> tuple[ns.Network, list, list[float]]:
    """A random network, its monitors, and the durations (ms) of the parts of its run.
    ``gpu_exact``: one weight per projection, no conductance-based populations."""
    r = np.random.default_rng(seed)
    net = ns.Network(dt=float(r.choice([0.05, 0.1, 0.25])))
    pops = []
    for i in range(r.integers(1, 4)):
        model, w_exc, w_inh = _model(r, conductances=not gpu_exact)
        pop = net.add_population(f"p{i}", int(r.choice([1, 2, 50, 200, 600])), model, v_init=ns.Uniform(-65.0, -50.0))
        pops.append((pop, w_exc, w_inh))
    sources = [_source(net, r, f"s{j}") for j in range(r.integers(0, 4))]
    nodes = [p for p, _, _ in pops] + sources
    for _ in range(r.integers(1, 7)):
        post, w_exc, w_inh = pops[r.integers(0, len(pops))]
        _connect(net, r, nodes[r.integers(0, len(nodes))], post, w_inh if r.random() < 0.3 else w_exc, gpu_exact)
    for pop, w_exc, _ in pops:
        if r.random() < 0.5:
            net.add_poisson_input(pop, int(r.integers(0, 200)), float(r.uniform(0, 30)), w_exc)
    if r.random() < 0.5:  # an inhibitory one after them: its targets come out of column order
        pop, _, w_inh = pops[r.integers(0, len(pops))]
        net.add_poisson_input(pop, int(r.integers(0, 100)), float(r.uniform(0, 30)), w_inh)
        if r.random() < 0.4:
            if pop.model.i_ext_unit == "mV":
                net.add_current(pop, r.uniform(0, 2, size=(5, pop.n)), values_dt=float(r.uniform(1, 20)))
            else:
                net.add_current(pop, float(r.uniform(0, 0.02)))
    monitors = []
    for node in nodes:
        if r.random() < 0.7:
            subset = np.unique(r.integers(0, node.n, size=r.integers(1, node.n + 1)))
            monitors.append(net.monitor_spikes(node, indices=None if r.random() < 0.5 else subset))
        if r.random() < 0.4:
            monitors.append(net.monitor_rate(node))
    for pop, _, _ in pops:
        if r.random() < 0.6:
            variables = pop.model.state_vars[:r.integers(1, len(pop.model.state_vars) + 1)]
            cells = np.unique(r.integers(0, pop.n, size=r.integers(1, min(pop.n, 5) + 1)))
            monitors.append(net.monitor_state(pop, variables, cells, every=int(r.integers(1, 6))))
    parts = [float(x) for x in r.choice([net.dt, 2 * net.dt, 0.3, 7.0, 33.3, 80.0], size=r.integers(1, 5))]
    return net, monitors, parts


def _results(seed: int, backend: str, threads: int = 1, gpu_exact: bool = False) -> list[np.ndarray]:
    net, monitors, parts = random_network(seed, gpu_exact)
    for i, part in enumerate(parts):
        net.run(part, seed=seed if i == 0 else None, backend=backend, progress=False, threads=threads)
    out = []
    for mon in monitors:
        if isinstance(mon, ns.SpikeMonitor):
            out += [mon.times, mon.indices]
        elif isinstance(mon, ns.RateMonitor):
            out.append(mon.counts)
        else:
            out += [mon.times, mon._stacked()]
    return out + [net._compiled.S, net._compiled.buffer]


def _assert_same(reference: list[np.ndarray], results: list[np.ndarray], where: str) -> None:
    assert len(results) == len(reference)
    for i, (a, b) in enumerate(zip(reference, results)):
        np.testing.assert_array_equal(a, b, err_msg=f"{where}, result {i} of {len(results)}")


@pytest.fixture
def two_threads(monkeypatch) -> int:
    """Two threads for every network and every step (normally only from 32k neurons and busy steps)."""
    monkeypatch.setattr(numba_backend, "PARALLEL_MIN_NEURONS", 2)
    monkeypatch.setattr(numba_backend, "PARALLEL_MIN_EVENTS", 1)
    return 2


@pytest.mark.parametrize("seed", SEEDS)
def test_random_network_identical_on_every_backend(seed, emulated_device, monkeypatch, two_threads):
    gpu = register_backend(monkeypatch, "cuda-emulated", emulated_device)
    reference = _results(seed, "numpy")
    for backend, threads in (("numba", 1), ("numba", two_threads), (gpu, 1)):
        _assert_same(reference, _results(seed, backend, threads), f"seed {seed}, {backend} with {threads} thread(s)")


def test_random_networks_are_active_and_varied():
    """The seeds draw networks that spike and that cover the cases the module docstring names."""
    spikes, models, rules, sizes, unordered_inputs = 0, set(), set(), set(), 0
    for seed in SEEDS:
        net, monitors, _ = random_network(seed)
        net.run(20.0, seed=seed, backend="numba", progress=False)
        unordered_inputs += bool(np.any(np.diff(net._stimulus.pin_slot % net._compiled.n_dyn) < 0))
        spikes += sum(m.times.size for m in monitors if isinstance(m, ns.SpikeMonitor))
        models |= {type(p.model).__name__ for p in net.populations}
        rules |= {next(k for k in ("p", "k", "rule", "pre") if pr.spec[k] is not None) for pr in net.projections}
        sizes |= {p.n for p in net.populations}
    assert spikes > 1000
    assert unordered_inputs >= 2
    assert models == {"LIF", "ConductanceLIF", "AdaptiveLIF", "Izhikevich"}
    assert rules == {"p", "k", "rule", "pre"} and 1 in sizes


@pytest.mark.parametrize("seed", SEEDS)
def test_gpu_exact_networks_do_not_depend_on_the_order_of_threads(seed, reversed_device, monkeypatch):
    """The premise of the GPU test below, checked without a GPU: with every launch's threads run
    last to first (another order of the atomic additions), the networks drawn with one weight per
    projection still equal NumPy bit for bit."""
    backend = register_backend(monkeypatch, "reversed", reversed_device)
    _assert_same(_results(seed, "numpy", gpu_exact=True), _results(seed, backend, gpu_exact=True),
                 f"seed {seed}, threads reversed")


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_backend.gpu_available(), reason="needs CuPy and an NVIDIA GPU")
@pytest.mark.parametrize("seed", SEEDS)
def test_random_network_identical_on_the_gpu(seed):
    _assert_same(_results(seed, "numpy", gpu_exact=True), _results(seed, "cupy", gpu_exact=True),
                 f"seed {seed} on the GPU")


def test_gpu_exact_networks_have_one_weight_per_projection_and_no_conductances():
    for seed in SEEDS:
        net, _, _ = random_network(seed, gpu_exact=True)
        net.build(seed=seed)
        assert not any(p.model.conductance_based for p in net.populations)
        assert all(np.unique(pr.weight).size <= 1 for pr in net.projections)

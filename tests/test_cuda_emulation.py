"""The GPU backend without a GPU: the real kernels/*.cu compiled with g++ and run
thread by thread (neurosim.engine.cuda_emulator), driven by the GPU backend's
own host code, must reproduce the NumPy reference bit for bit."""
import shutil
from pathlib import Path

import numpy as np
import pytest

import neurosim as ns
from neurosim.engine import cuda_codegen, cupy_backend
from neurosim.engine.device_engine import DeviceEngine
from neurosim.engine.kernels_path import kernel_dir
from neurosim.neurons import mathfn
from neurosim.neurons.mathfn import where
from neurosim.scripts import load_script

from conftest import register_backend
from test_engine import MODELS, mixed_network, outputs

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the CUDA CPU emulation needs g++")


# ---------------------------------------------------------------- generated neuron code
def test_checked_in_header_equals_a_fresh_generation():
    text = (kernel_dir() / "neuron_models.cuh").read_text()
    assert text == cuda_codegen.generate_header(), (
        "kernels/neuron_models.cuh is stale: python -m neurosim.engine.cuda_codegen > kernels/neuron_models.cuh")


def test_translation_of_a_step():
    src = cuda_codegen.translate(ns.neurons.coba_step)
    assert src.startswith("__device__ inline double coba_step(double* S, long long n, long long i, "
                          "const double* c, double i_ext)")
    assert "S[0LL * n + i]" in src and "((double)(refr > 0.5))" in src and "exp(" in src
    assert "S[0LL * n + i] = (((spiked) != 0) ? (c[9]) : (v_new));" in src  # mathfn.where


def _bad_if(S, i, c, i_ext):
    v = S[0, i]
    if v > c[0]:
        v = c[1]
    return v


def _bad_pow(S, i, c, i_ext):
    v = S[0, i] ** 2.0
    return v


def _bad_call(S, i, c, i_ext):
    v = np.exp(S[0, i])
    return v


def _bad_chain(S, i, c, i_ext):
    v = (c[0] < S[0, i] < c[1]) * 1.0
    return v


def _bad_row(S, i, c, i_ext):
    r = 1
    v = S[r, i]
    return v


def _bad_name(S, i, c, i_ext):
    v = S[0, i] * undefined_global  # noqa: F821
    return v


@pytest.mark.parametrize("func,construct", [
    (_bad_if, "If"), (_bad_pow, "Pow"), (_bad_call, "np.exp"), (_bad_chain, "chained comparison"),
    (_bad_row, "state row"), (_bad_name, "undefined_global"),
])
def test_unsupported_constructs_are_named(func, construct):
    with pytest.raises(cuda_codegen.UnsupportedConstruct, match=construct) as err:
        cuda_codegen.translate(func)
    assert func.__name__ in str(err.value) and "line" in str(err.value)


def _bad_where(S, i, c, i_ext):
    v = np.where(S[0, i] > c[0], c[1], S[0, i])
    return v


def _where_arity(S, i, c, i_ext):
    v = where(S[0, i] > c[0], c[1])
    return v


@pytest.mark.parametrize("func,construct", [(_bad_where, "np.where"), (_where_arity, r"where\(\) with other than 3")])
def test_only_mathfn_functions_translate(func, construct):
    with pytest.raises(cuda_codegen.UnsupportedConstruct, match=construct):
        cuda_codegen.translate(func)


def test_exp_must_be_the_backend_identical_one():
    from neurosim.neurons import coba
    assert coba.exp is mathfn.exp  # the translator accepts exp only when it is this function


# ------------------------------------------------------------------- whole networks
@pytest.mark.parametrize("model,w_e,w_i", MODELS, ids=lambda m: type(m).__name__ if hasattr(m, "step") else "")
def test_emulated_kernels_identical_to_numpy_reference(emulated, emulated_device, model, w_e, w_i):
    """Poisson group (time-varying rate, drawn on the device) and Poisson input (drawn on the device),
    currents, heterogeneous delays, by-sign receptors, spike, state and rate monitors: identical
    outputs and bitwise-identical final state."""
    emulated_device.launches.clear()
    ref = _assert_identical_to_numpy(emulated, model, w_e, w_i)
    assert ref[1].times.size > 100
    assert emulated_device.launches["poisson_group"] == emulated_device.launches["poisson_input"] == 1500


def _assert_identical_to_numpy(backend, model, w_e, w_i, duration=150.0):
    """The mixed test network on ``backend`` and on NumPy: identical monitors, final state and ring."""
    ref = mixed_network(model, w_e, w_i, backend="numpy", duration=duration)
    emu = mixed_network(model, w_e, w_i, backend=backend, duration=duration)
    for a, b in zip(outputs(*ref[1:]), outputs(*emu[1:])):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ref[0]._compiled.S, emu[0]._compiled.S)
    np.testing.assert_array_equal(ref[0]._compiled.buffer, emu[0]._compiled.buffer)
    return ref


def test_split_runs_and_switching_backends_continue_exactly(emulated):
    model, w_e, w_i = MODELS[0]
    whole = mixed_network(model, w_e, w_i, duration=150.0, backend="numpy")
    parts = mixed_network(model, w_e, w_i, split=[50.0, 60.0], backend=emulated)
    parts[0].run(40.0, backend="numba", progress=False)
    for a, b in zip(outputs(*whole[1:]), outputs(*parts[1:])):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["cuba", "coba"])
def test_model_scripts_identical(emulated, name):
    """models/cuba.py and models/coba.py (uniform projections, explicit receptors), 600 neurons."""
    script = load_script(REPO / "models" / f"{name}.py")
    runs = []
    for backend in ("numpy", emulated):
        net = script.build(n=600)
        mon = net.monitor_spikes(net.nodes["exc"])
        v = net.monitor_state(net.nodes["inh"], "v", [0, 3], every=7)
        net.run(60.0, seed=4, backend=backend, progress=False)
        runs.append((mon.times, mon.indices, v._stacked(), net._compiled.S.copy()))
    assert runs[0][0].size > 50
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def counted(emulated_device, monkeypatch):
    """Backend 'counted': as 'cuda-emulated'; the test reads the device's launch counts."""
    register_backend(monkeypatch, "counted", emulated_device)
    emulated_device.launches.clear()
    return emulated_device


@pytest.mark.parametrize("extra,delivered", [(None, False), ("delay", True), ("poisson", True)])
def test_delivery_is_launched_only_when_the_ring_is_written(counted, extra, delivered):
    """CUBA has neither delayed synapses nor Poisson input: no step streams the ring buffer, and the
    results stay those of the NumPy reference; either one brings the per-step delivery back.
    Every step replays the same recorded launches: one end_step and one propagate per projection."""
    script = load_script(REPO / "models" / "cuba.py")
    runs = []
    for backend in ("numpy", "counted"):
        net = script.build(n=400)
        if extra == "delay":
            net.connect(net.nodes["inh"], net.nodes["exc"], p=0.05, weight=-1.0, delay=0.7)
        elif extra == "poisson":
            net.add_poisson_input(net.nodes["exc"], 10, rate=20.0, weight=0.5)
        mon = net.monitor_spikes(net.nodes["exc"])
        net.run(20.0, seed=2, backend=backend, progress=False)
        runs.append((mon.times, mon.indices, net._compiled.S.copy(), net._compiled.buffer.copy()))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    n_proj = 5 if extra == "delay" else 4  # exc and inh, each to exc and inh (and the delayed one)
    assert counted.launches["end_step"] == counted.launches["advance_neurons"] == 200
    assert counted.launches["propagate"] == 200 * n_proj
    assert counted.launches["deliver"] == (200 if delivered else 0)
    assert counted.launches["poisson_input"] == (200 if extra == "poisson" else 0)  # drawn on the device
    assert counted.launches["add_input"] == 0


def test_random_input_drawn_by_the_host_instead(emulated_device, monkeypatch):
    """The same backend given host-drawn Poisson inputs and time-varying Poisson groups (as when
    called without the device draws): the same results, through add_input and the source list."""
    register_backend(monkeypatch, "host-drawn", emulated_device, device_draws=False)
    emulated_device.launches.clear()
    _assert_identical_to_numpy("host-drawn", *MODELS[2], duration=60.0)
    assert emulated_device.launches["add_input"] == 600 and emulated_device.launches["poisson_input"] == 0
    assert emulated_device.launches["poisson_group"] == 0 and emulated_device.launches["append_sources"] > 0


def test_launches_one_by_one_without_graphs(emulated_device, monkeypatch):
    """A device that records no graphs gets the same launches issued step by step: same results."""
    from neurosim.engine.cuda_emulator import CpuEmulatedDevice
    device = CpuEmulatedDevice(block=emulated_device.block, library=emulated_device.library, graphs=False)
    register_backend(monkeypatch, "eager", device)
    for model, w_e, w_i in (MODELS[0], MODELS[3]):
        _assert_identical_to_numpy("eager", model, w_e, w_i, duration=60.0)
    assert device.launches["end_step"] == 2 * 600


@pytest.mark.parametrize("name", ["cuba", "coba"])
def test_threads_in_any_order_give_the_same_results(reversed_device, monkeypatch, name):
    """With every launch's threads run last to first, spikes enter each node's list (and the record
    buffer) in descending order, as a GPU may deliver them: recorded spikes, counts and, for these
    equal-weight projections, the state are still exactly the NumPy reference's."""
    register_backend(monkeypatch, "reversed", reversed_device)
    script = load_script(REPO / "models" / f"{name}.py")
    runs = []
    for backend in ("numpy", "reversed"):
        net = script.build(n=500)
        exc, inh = net.monitor_spikes(net.nodes["exc"]), net.monitor_spikes(net.nodes["inh"])
        rate = net.monitor_rate(net.nodes["exc"])
        net.run(40.0, seed=3, backend=backend, progress=False)
        runs.append((exc.times, exc.indices, inh.times, inh.indices, rate.counts, net._compiled.S.copy()))
    assert runs[0][0].size > 50 and np.any(np.diff(runs[0][0]) == 0)  # steps with several spikes
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_reordered_atomic_sums_stay_within_the_documented_bound(reversed_device, monkeypatch):
    """docs/gpu.md bounds what the order of a launch's atomic additions can change: an entry that
    receives k terms w_j differs from the in-order sum by at most k * 2^-52 * sum |w_j| (it starts
    at 0 here).  One spike with 400 synapses onto 4 neurons (multapses, weights of both signs over
    four decades, delays 0 and 5 steps): with the threads reversed, its lanes add them in another
    order than the CPU's CSR order.  Some sums must change (else nothing was reordered), none by
    more than the bound, in the state (delay 0) and in the ring buffer (delay 5)."""
    register_backend(monkeypatch, "reversed", reversed_device)
    rng = np.random.default_rng(0)
    m, n = 400, 4
    post = rng.integers(0, n, size=m)
    weight = rng.normal(0.0, 1.0, size=m) * 10.0 ** rng.uniform(-3.0, 1.0, size=m)
    delay_steps = np.where(rng.random(m) < 0.5, 0, 5)
    results = []
    for backend in ("numpy", "reversed"):
        net = ns.Network(dt=0.1)
        src = net.add_spike_source("src", 1, times=[0.0], indices=[0])
        pop = net.add_population("pop", n, ns.LIF(tau_syn_e=5.0, tau_syn_i=10.0))
        net.connect(src, pop, pre=np.zeros(m, dtype=int), post=post, weight=weight, delay=delay_steps * 0.1)
        net.run(0.1, seed=1, backend=backend, progress=False)  # the one step in which src spikes
        cn = net._compiled
        rows = [pop.model.check_state_name(r) for r in pop.model.receptors]
        results.append(np.stack([cn.S[rows], cn.buffer[5 % cn.buffer.shape[0]]]))  # [delay 0 / 5, receptor, neuron]
    ref, got = results
    receptor = (weight < 0).astype(int)  # "auto": negative weights to the inhibitory receptor
    k = np.zeros_like(ref)
    total = np.zeros_like(ref)
    np.add.at(k, (delay_steps // 5, receptor, post), 1)
    np.add.at(total, (delay_steps // 5, receptor, post), np.abs(weight))
    assert np.count_nonzero(got != ref) >= 3
    assert np.all(np.abs(got - ref) <= k * 2.0 ** -52 * total)


def test_uniform_projections_send_one_weight_and_delay_to_the_device(emulated, emulated_device):
    """CUBA's four projections share one weight and one delay each: the device holds 4 values, not
    one per synapse; a projection with its own weights sends them all."""
    net = load_script(REPO / "models" / "cuba.py").build(n=400)
    extra = net.connect(net.nodes["exc"], net.nodes["inh"], p=0.1, weight=ns.Uniform(0.1, 0.2))
    net.run(1.0, seed=1, backend=emulated, progress=False)
    engine = net._compiled._device_engines[id(emulated_device)][1]
    assert engine.weight.size == engine.delay.size == 4 + extra.post_index.size
    assert np.isin(extra.weight, engine.weight).all()


def test_thread_groups_that_take_several_spikes(emulated, monkeypatch):
    """propagate with fewer thread groups than spikes: each group takes a run of consecutive spikes
    (every projection of this network has equal weights, so the order of additions does not matter)."""
    from neurosim.engine import device_engine
    monkeypatch.setattr(device_engine, "PROPAGATE_GROUPS", 3)
    _assert_identical_to_numpy(emulated, *MODELS[1], duration=60.0)


def test_spike_record_grows_when_full(emulated, monkeypatch):
    """A record buffer that starts nearly empty is grown between steps without losing spikes."""
    monkeypatch.setattr(DeviceEngine, "MIN_RECORD", 0)
    monkeypatch.setattr(DeviceEngine, "RECORD_STEPS", 1)
    _assert_identical_to_numpy(emulated, *MODELS[3], duration=40.0)


def test_spike_sources_and_one_to_one(emulated):
    runs = []
    for backend in ("numpy", emulated):
        net = ns.Network(dt=0.1)
        pop = net.add_population("pop", 70, ns.LIF(tau_syn_e=0.0), v_init=-50.5)
        src = net.add_spike_source("src", 70, times=[0.0, 0.5, 0.5, 1.0, 3.3], indices=[0, 1, 69, 3, 68])
        net.connect(src, pop, rule="one_to_one", weight=[2.0] * 70, delay=np.linspace(0.0, 2.0, 70))
        net.connect(pop, pop, p=0.3, weight=ns.Normal(0.2, 0.3), delay=ns.Uniform(0.1, 1.0))
        s, p = net.monitor_spikes(src), net.monitor_spikes(pop)
        net.run(8.0, seed=1, backend=backend, progress=False)
        runs.append((s.times, s.indices, p.times, p.indices, net._compiled.S.copy()))
    assert runs[0][2].size > 0
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- backend selection
def test_auto_picks_cupy_only_with_a_gpu(monkeypatch):
    net = ns.Network()
    net.add_population("a", 3, ns.LIF())
    monkeypatch.setattr(cupy_backend, "gpu_available", lambda: False)
    assert net._choose_backend("auto") == "numba"
    monkeypatch.setattr(cupy_backend, "gpu_available", lambda: True)
    assert net._choose_backend("auto") == "cupy"


@pytest.mark.skipif(cupy_backend.gpu_available(), reason="a GPU is present")
def test_cupy_backend_without_gpu_is_a_clear_error():
    net = ns.Network()
    net.add_population("a", 3, ns.LIF())
    with pytest.raises(RuntimeError, match=r"backend='cupy' needs .*backend='auto'"):
        net.run(1.0, backend="cupy", progress=False)


def test_a_refused_graph_capture_falls_back_to_launches_one_by_one():
    """Where the driver refuses to record a graph, the GPU backend says so once and launches
    kernel by kernel from then on (without a GPU: a stream that refuses every capture)."""
    class RefusingStream:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def begin_capture(self):
            raise RuntimeError("cudaErrorStreamCaptureUnsupported")

    device = object.__new__(cupy_backend.CupyDevice)
    device.stream, device.graphs = RefusingStream(), True
    with pytest.warns(RuntimeWarning, match="launches its kernels one by one"):
        assert device.capture(lambda: None) is None
    assert device.graphs is False
    assert device.capture(lambda: pytest.fail("no second capture")) is None

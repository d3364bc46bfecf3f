"""The GPU backend on a real GPU (CuPy): spikes identical to the NumPy reference in float64.

Skipped where CuPy or an NVIDIA GPU is missing; the same kernels and host code
are checked on every machine by tests/test_cuda_emulation.py.  Run them on a
GPU machine with ``python -m pytest -q -m gpu tests/test_cupy_backend.py``.

States are compared with a tolerance, not bit for bit: the GPU's ``exp`` is
not the C library's (COBA), and atomic additions into one ring-buffer entry
happen in an unspecified order (docs/gpu.md bounds both).  Spikes stay
identical unless a membrane potential lands within that bound of threshold;
should a spike test fail while states agree to ~1e-12, that is the cause.
"""
import warnings
from pathlib import Path

import numpy as np
import pytest

import neurosim as ns
from neurosim.engine import cupy_backend
from neurosim.scripts import load_script

from test_engine import MODELS, mixed_network, outputs

REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cupy_backend.gpu_available(), reason="needs CuPy and an NVIDIA GPU"),
]


def test_auto_picks_the_gpu():
    net = ns.Network()
    net.add_population("a", 3, ns.LIF())
    assert net._choose_backend("auto") == "cupy"


@pytest.mark.parametrize("name", ["cuba", "coba"])
def test_cuba_coba_spikes_identical(name):
    script = load_script(REPO / "models" / f"{name}.py")
    runs = []
    for backend in ("numpy", "cupy"):
        net = script.build(n=1000)
        mon = net.monitor_spikes(net.nodes["exc"])
        net.run(100.0, seed=2, backend=backend, progress=False)
        runs.append((mon.times, mon.indices, net._compiled.S.copy()))
    assert runs[0][0].size > 100
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_allclose(runs[0][2], runs[1][2], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("model,w_e,w_i", MODELS, ids=lambda m: type(m).__name__ if hasattr(m, "step") else "")
def test_delays_poisson_input_and_state_monitors(model, w_e, w_i):
    """Heterogeneous delays, Poisson group and Poisson input, currents, spike/state/rate monitors."""
    ref = mixed_network(model, w_e, w_i, backend="numpy")
    gpu = mixed_network(model, w_e, w_i, backend="cupy")
    a, b = outputs(*ref[1:]), outputs(*gpu[1:])
    for k in (0, 1, 2, 3, 4, 6):  # spike times and indices, state-monitor times, rate counts
        np.testing.assert_array_equal(a[k], b[k])
    np.testing.assert_allclose(a[5], b[5], rtol=1e-9, atol=1e-9)  # state samples


def test_split_runs_continue_exactly():
    model, w_e, w_i = MODELS[0]
    whole = mixed_network(model, w_e, w_i, duration=150.0, backend="cupy")
    parts = mixed_network(model, w_e, w_i, split=[50.0, 60.0, 40.0], backend="cupy")
    for k, (a, b) in enumerate(zip(outputs(*whole[1:]), outputs(*parts[1:]))):
        if k != 5:
            np.testing.assert_array_equal(a, b)


def test_graph_replay_equals_kernel_by_kernel_launches(monkeypatch):
    """Each step's launches recorded once as a CUDA graph and replayed give what launching the
    kernels one by one gives (CUBA's equal weights make the sums independent of atomic order);
    the capture must succeed, not fall back with a warning."""
    device = cupy_backend.default_device()
    script = load_script(REPO / "models" / "cuba.py")
    runs = []
    for graphs in (True, False):
        monkeypatch.setattr(device, "graphs", graphs)
        net = script.build(n=2000)
        mon = net.monitor_spikes(net.nodes["exc"])
        v = net.monitor_state(net.nodes["exc"], "v", [0, 7], every=3)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            net.run(80.0, seed=5, backend="cupy", progress=False)
        assert device.graphs is graphs
        runs.append((mon.times, mon.indices, v._stacked(), net._compiled.S.copy()))
    assert runs[0][0].size > 100
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)

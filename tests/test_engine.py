"""The event-driven engine: backends agree, runs are reproducible, delays and events are exact."""
import numba
import numpy as np
import pytest

import neurosim as ns
from neurosim.engine import numba_backend

MODELS = [
    (ns.LIF(v_rest=-49.0, v_reset=-60.0, v_th=-50.0, tau_ref=5.0), 1.62, -9.0),
    (ns.ConductanceLIF(), 6.0, -67.0),
    (ns.AdaptiveLIF(v_rest=-49.0, v_reset=-60.0, v_th=-50.0, a=0.1, b=1.0), 1.62, -9.0),
    (ns.Izhikevich(i_offset=5.0), 3.0, -6.0),
]


def mixed_network(model, w_e, w_i, seed=3, duration=150.0, backend="auto", split=None):
    """Populations, Poisson group, Poisson input, currents and heterogeneous delays."""
    net = ns.Network(dt=0.1)
    exc = net.add_population("exc", 300, model, v_init=ns.Uniform(-60.0, -50.0))
    inh = net.add_population("inh", 80, model, v_init=ns.Uniform(-60.0, -50.0))
    ext = net.add_poisson("ext", 40, rate=lambda t: 20.0 + 10.0 * np.sin(t / 20.0))
    for pre, w in ((exc, w_e), (inh, w_i)):
        for post in (exc, inh):
            net.connect(pre, post, p=0.1, weight=w, delay=ns.Uniform(0.0, 3.0))
    net.connect(ext, exc, p=0.2, weight=abs(w_e))
    net.add_poisson_input(inh, 10, 5.0, abs(w_e))
    drive = np.linspace(0.0, 2.0, 300) if model.i_ext_unit == "mV" else 0.01
    net.add_current(exc, drive)
    spikes = net.monitor_spikes(exc)
    inh_spikes = net.monitor_spikes(inh, indices=[1, 5, 9])
    state = net.monitor_state(exc, [model.state_vars[0], model.receptors[0]], [0, 5, 7], every=3)
    rate = net.monitor_rate(inh)
    for part in (split or [duration]):
        net.run(part, seed=seed if part is (split or [duration])[0] else None, backend=backend, progress=False)
    return net, spikes, inh_spikes, state, rate


def outputs(spikes, inh_spikes, state, rate):
    return [spikes.times, spikes.indices, inh_spikes.times, inh_spikes.indices,
            state.times, state._stacked(), rate.counts]


@pytest.mark.parametrize("model,w_e,w_i", MODELS, ids=lambda m: type(m).__name__ if hasattr(m, "step") else "")
def test_numpy_and_numba_backends_identical(model, w_e, w_i):
    ref = mixed_network(model, w_e, w_i, backend="numpy")
    fast = mixed_network(model, w_e, w_i, backend="numba")
    assert ref[1].times.size > 100
    for a, b in zip(outputs(*ref[1:]), outputs(*fast[1:])):
        np.testing.assert_array_equal(a, b)


def test_step_functions_are_inlined_into_the_numba_kernel():
    """The neuron loop is vectorised only if the step function is inlined into it.  LLVM did that
    only for kernels loaded from Numba's disk cache, so the process that compiled the kernel (every
    user's first) ran CUBA at 256k neurons 5.8x slower (4.9 instead of 0.85 s per 300 ms).  Numba's
    own inlining does it in every process."""
    for dispatcher in (numba_backend._lif, numba_backend._coba, numba_backend._adaptive, numba_backend._izhikevich):
        assert dispatcher.targetoptions.get("inline") == "always", dispatcher


def test_same_seed_same_result_and_different_seed_differs():
    model, w_e, w_i = MODELS[0]
    a = mixed_network(model, w_e, w_i, seed=11)[1]
    b = mixed_network(model, w_e, w_i, seed=11)[1]
    c = mixed_network(model, w_e, w_i, seed=12)[1]
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert a.times.size != c.times.size or not np.array_equal(a.indices, c.indices)


def test_second_run_continues_exactly():
    model, w_e, w_i = MODELS[0]
    whole = mixed_network(model, w_e, w_i, duration=150.0)
    parts = mixed_network(model, w_e, w_i, split=[50.0, 60.0, 40.0])
    assert parts[0].t == pytest.approx(150.0)
    for a, b in zip(outputs(*whole[1:]), outputs(*parts[1:])):
        np.testing.assert_array_equal(a, b)


def test_heterogeneous_delays_arrive_on_the_right_step():
    """One source spike through synapses with delays 0 ... 2.3 ms: each target's
    current jumps at the start of step (spike step + round(delay/dt) + 1)."""
    net = ns.Network(dt=0.1)
    src = net.add_spike_source("src", 1, times=[1.0], indices=[0])
    delays = np.array([0.0, 0.1, 0.5, 1.04, 1.26, 2.3])
    tgt = net.add_population("tgt", delays.size, ns.LIF(tau_syn_e=1e9))
    net.connect(src, tgt, pre=np.zeros(delays.size, int), post=np.arange(delays.size), weight=0.5, delay=delays)
    mon = net.monitor_state(tgt, "i_e")
    net.run(5.0, progress=False)
    first = np.argmax(mon.i_e > 0, axis=0)
    expected = 10 + np.rint(delays / 0.1).astype(int) + 1
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_allclose(mon.i_e[-1], 0.5)


def test_events_are_spikes_times_out_degree():
    net = ns.Network(dt=0.1)
    src = net.add_spike_source("src", 3, times=[0.0, 0.5, 0.5, 2.0], indices=[0, 1, 2, 0])
    tgt = net.add_population("tgt", 10, ns.LIF())
    proj = net.connect(src, tgt, pre=[0, 0, 0, 1, 2, 2], post=[1, 2, 3, 4, 5, 6], weight=0.1)
    stats = net.run(3.0, progress=False)
    assert stats.spikes == 4
    assert stats.synaptic_events == 3 + 1 + 2 + 3
    assert proj.n_synapses == 6


def test_negative_weights_go_to_the_inhibitory_receptor():
    net = ns.Network(dt=0.1)
    src = net.add_spike_source("src", 1, times=[0.0], indices=[0])
    cur = net.add_population("cur", 2, ns.LIF(tau_syn_e=1e9, tau_syn_i=1e9))
    cond = net.add_population("cond", 2, ns.ConductanceLIF(tau_e=1e9, tau_i=1e9))
    net.connect(src, cur, pre=[0, 0], post=[0, 1], weight=[0.7, -0.3])
    net.connect(src, cond, pre=[0, 0], post=[0, 1], weight=[2.0, -5.0])
    net.connect(src, cond, pre=[0], post=[0], weight=4.0, receptor="inh")
    net.run(1.0, progress=False)
    np.testing.assert_allclose(net.state(cur, "i_e"), [0.7, 0.0])
    np.testing.assert_allclose(net.state(cur, "i_i"), [0.0, -0.3])
    np.testing.assert_allclose(net.state(cond, "g_e"), [2.0, 0.0])
    np.testing.assert_allclose(net.state(cond, "g_i"), [4.0, 5.0])


def test_memory_at_most_16_bytes_per_synapse():
    net = ns.Network(dt=0.1)
    a = net.add_population("a", 2000, ns.LIF())
    proj = net.connect(a, a, p=0.05, weight=ns.Normal(0.5, 0.1), delay=ns.Uniform(0.0, 5.0))
    net.build(seed=0)
    assert proj.n_synapses > 150_000
    assert proj.bytes_per_synapse() <= 16.0


def test_refractory_period_freezes_v():
    net = ns.Network(dt=0.1)
    pop = net.add_population("p", 1, ns.LIF(tau_ref=2.0, i_offset=40.0, v_reset=-70.0))
    mon = net.monitor_state(pop, "v")
    spikes = net.monitor_spikes(pop)
    net.run(50.0, progress=False)
    first = spikes.steps[0]
    v = mon.v[:, 0]
    assert np.all(v[first + 1:first + 21] == -70.0)   # reset at the end of the spike step, 20 steps frozen
    assert v[first + 21] > -70.0
    assert np.all(np.diff(spikes.steps) >= 20)


def test_time_varying_current_and_rate():
    net = ns.Network(dt=0.1)
    pop = net.add_population("p", 2, ns.LIF(tau_m=10.0, v_rest=0.0, v_th=100.0))
    net.add_current(pop, np.array([[0.0, 1.0], [10.0, 20.0]]), values_dt=5.0)
    src = net.add_poisson("src", 500, rate=np.array([0.0, 200.0]), rate_dt=50.0)
    mon = net.monitor_state(pop, "v")
    spikes = net.monitor_spikes(src)
    net.run(100.0, seed=2, progress=False)
    v = mon.v
    assert v[50, 0] == 0.0 and v[50, 1] > 0.0
    np.testing.assert_allclose(v[-1], [10.0, 20.0], rtol=1e-3)
    assert np.all(spikes.times >= 50.0)
    assert 200 * 500 * 0.05 * 0.8 < spikes.times.size < 200 * 500 * 0.05 * 1.2


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs Numba with 2 or more threads")
@pytest.mark.parametrize("model,w_e,w_i", MODELS, ids=lambda m: type(m).__name__ if hasattr(m, "step") else "")
def test_threaded_run_gives_the_single_thread_result(model, w_e, w_i, monkeypatch):
    # a population above PARALLEL_MIN_NEURONS (whose size is no multiple of 64) is advanced on
    # every thread, and the synaptic events are delivered per partition of the neurons (the
    # boundary falls inside 'big'); with PARALLEL_MIN_EVENTS lowered to 1 every step takes the
    # parallel path.  Spikes and final state must not depend on the thread count.
    n = numba_backend.PARALLEL_MIN_NEURONS + 1001
    results = []
    for threads, min_events in ((1, numba_backend.PARALLEL_MIN_EVENTS), (2, numba_backend.PARALLEL_MIN_EVENTS),
                                (2, 1)):
        monkeypatch.setattr(numba_backend, "PARALLEL_MIN_EVENTS", min_events)
        net = ns.Network(dt=0.1)
        big = net.add_population("big", n, model, v_init=ns.Uniform(-60.0, -50.0))
        inh = net.add_population("inh", 500, model, v_init=ns.Uniform(-60.0, -50.0))
        net.connect(big, big, p=5.0 / n, weight=w_e, delay=ns.Uniform(0.0, 2.0))
        net.connect(big, inh, p=0.002, weight=w_e)
        net.connect(inh, big, p=0.01, weight=ns.Uniform(w_i, -w_i), delay=0.5)   # by-sign receptors
        net.add_poisson_input(big, 5, 10.0, abs(w_e))
        net.add_current(big, np.linspace(0.0, 2.0 if model.i_ext_unit == "mV" else 0.5, n))
        spikes = net.monitor_spikes(big)
        inh_spikes = net.monitor_spikes(inh)
        net.run(20.0, seed=2, backend="numba", progress=False, threads=threads)
        results.append((spikes.times, spikes.indices, inh_spikes.times, inh_spikes.indices, net._compiled.S.copy(),
                        net._compiled.buffer.copy()))
    assert results[0][0].size > 100 and results[0][2].size > 0
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_mathfn_where_selects_exactly_in_numpy_and_numba():
    """The step functions' branch: the chosen operand bit for bit, never a NaN from the other."""
    from neurosim.neurons.mathfn import where
    cond = np.array([True, False, True, False])
    a = np.array([1.5, np.inf, -0.0, 2.0])
    b = np.array([np.nan, -3.25, 7.0, -np.inf])
    expected = np.array([1.5, -3.25, -0.0, -np.inf])
    for c in (cond, cond * 1.0):
        got = where(c, a, b)
        assert np.array_equal(got, expected) and np.signbit(got[2])
        assert np.array_equal(np.signbit(got), np.signbit(expected))

    @numba.njit
    def scalar_loop(c, a, b, out):
        for k in range(c.shape[0]):
            out[k] = where(c[k] > 0.5, a[k], b[k])

    out = np.empty(4)
    scalar_loop(cond * 1.0, a, b, out)
    assert np.array_equal(out, expected) and np.signbit(out[2])
    assert where(np.nan, 1.0, 2.0) == 1.0  # nonzero, as C's (cond != 0) in the CUDA translation

"""neurosim against closed forms and independent reference implementations.

Time grid conventions used by the expectations below (the engine's, which are
Brian2's): the state monitor's sample of step ``k`` is the state at ``t = k dt``;
the update of step ``k`` advances it to ``(k + 1) dt`` and a threshold crossing
found there is stamped step ``k``; a synaptic event from a spike in step ``s``
with a delay of ``d`` steps is in the state sampled at step ``s + d + 1``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import neurosim as ns
from conftest import assert_same_spikes

DT = 0.1
BACKENDS = ["numpy", "numba"]


# 2a: f-I curve of the LIF neuron -----------------------------------------
FI = dict(tau_m=20.0, v_rest=-65.0, v_reset=-70.0, v_th=-50.0)
DRIVES = np.array([15.5, 16.0, 17.3, 20.0, 25.0, 31.0, 40.0, 60.0])  # mV; rheobase v_th - v_rest = 15 mV


def _free_time(drive: float) -> float:
    """Time (ms) for v to climb from v_reset to v_th under constant drive (closed form)."""
    v_inf = FI["v_rest"] + drive
    return FI["tau_m"] * math.log((v_inf - FI["v_reset"]) / (v_inf - FI["v_th"]))


@pytest.mark.parametrize("tau_ref", [0.0, 2.0, 3.0])
@pytest.mark.parametrize("backend", BACKENDS)
def test_lif_f_i_curve_matches_closed_form(tau_ref, backend):
    """Rate = 1 / (tau_ref + tau_m ln((v_rest + I - v_reset) / (v_rest + I - v_th))), on the dt grid.

    On the grid: after a spike in step s the neuron is frozen for n_ref - 1
    steps (n_ref = tau_ref/dt; Brian2's rule) and then needs m = ceil(T_free/dt)
    exactly integrated steps to exceed v_th, so every ISI is exactly
    (max(n_ref, 1) - 1 + m) dt.  That is within dt of the analytic ISI
    tau_ref + T_free (it lies in (ISI - dt, ISI] for tau_ref >= dt), which
    bounds the rate error by dt / ISI.
    """
    T = 2000.0
    net = ns.Network(DT)
    pop = net.add_population("fi", DRIVES.size, ns.LIF(**FI, tau_ref=tau_ref), v_init=FI["v_reset"])
    net.add_current(pop, DRIVES)
    sub = net.add_population("sub", 4, ns.LIF(**FI, tau_ref=tau_ref), v_init=FI["v_reset"])
    net.add_current(sub, np.array([0.0, 10.0, 14.99, 15.0]))  # at and below rheobase
    mon, mon_sub = net.monitor_spikes(pop), net.monitor_spikes(sub)
    net.run(T, seed=0, backend=backend, progress=False)

    assert mon_sub.indices.size == 0
    n_ref = round(tau_ref / DT)
    trains = mon.spike_trains()
    for k, drive in enumerate(DRIVES):
        t_free = _free_time(drive)
        frac = t_free / DT - math.floor(t_free / DT)
        assert 1e-6 < frac < 1 - 1e-6, "drive too close to a grid tie for an exact expectation"
        m = math.ceil(t_free / DT)
        steps = np.rint(trains[k] / DT).astype(np.int64)
        assert steps[0] == m - 1  # starts at v_reset, not refractory
        isi_steps = np.diff(steps)
        assert np.all(isi_steps == max(n_ref, 1) - 1 + m), (drive, np.unique(isi_steps))
        analytic_isi = tau_ref + t_free
        measured_isi = (trains[k][-1] - trains[k][0]) / (trains[k].size - 1)
        assert abs(measured_isi - analytic_isi) < DT
        rate = 1000.0 / measured_isi
        assert abs(rate - 1000.0 / analytic_isi) <= 1000.0 / analytic_isi * DT / (analytic_isi - DT)
    # f-I curve is increasing
    counts = mon.count
    assert np.all(np.diff(counts) > 0)


# 2b: post-synaptic potential ----------------------------------------------
def _psp(t, w, tau_s, tau_m):
    """v - v_rest after a jump of w in an exponential current at t = 0 (closed form)."""
    t = np.maximum(t, 0.0)
    if tau_s == tau_m:
        return w * t / tau_m * np.exp(-t / tau_m)
    return w * tau_s / (tau_s - tau_m) * (np.exp(-t / tau_s) - np.exp(-t / tau_m))


@pytest.mark.parametrize("v_rest", [0.0, -65.0])
@pytest.mark.parametrize("tau_syn_e", [5.0, 20.0, 0.7])  # 20 ms = tau_m: the alpha-function limit
@pytest.mark.parametrize("backend", BACKENDS)
def test_lif_psp_matches_difference_of_exponentials(v_rest, tau_syn_e, backend):
    tau_m, tau_syn_i = 20.0, 10.0
    t_spike, delay = 5.0, 1.3       # ms: spike in step 50, delay 13 steps
    w_e, w_i = 2.5, -4.0
    T = 150.0
    net = ns.Network(DT)
    src = net.add_spike_source("src", 1, [t_spike], [0])
    model = ns.LIF(tau_m=tau_m, v_rest=v_rest, v_reset=v_rest, v_th=v_rest + 100.0,
                   tau_syn_e=tau_syn_e, tau_syn_i=tau_syn_i)
    pop = net.add_population("pop", 3, model)
    net.connect(src, pop, pre=[0, 0, 0, 0], post=[0, 1, 2, 2], weight=[w_e, w_i, w_e, w_i], delay=delay)
    st = net.monitor_state(pop, ["v", "i_e", "i_i"])
    spikes = net.monitor_spikes(pop)
    net.run(T, seed=0, backend=backend, progress=False)

    assert spikes.indices.size == 0
    t = st.times
    onset = (round(t_spike / DT) + round(delay / DT) + 1) * DT
    s = t - onset
    after = s >= -1e-9
    exc = np.where(after, _psp(s, w_e, tau_syn_e, tau_m), 0.0)
    inh = np.where(after, _psp(s, w_i, tau_syn_i, tau_m), 0.0)
    expected_v = v_rest + np.stack([exc, inh, exc + inh], axis=1)
    np.testing.assert_allclose(st.v, expected_v, rtol=0, atol=1e-12 * max(1.0, abs(v_rest)))
    np.testing.assert_allclose(st.i_e[:, 0], np.where(after, w_e * np.exp(-np.maximum(s, 0) / tau_syn_e), 0.0),
                               rtol=1e-13, atol=0)
    np.testing.assert_allclose(st.i_i[:, 1], np.where(after, w_i * np.exp(-np.maximum(s, 0) / tau_syn_i), 0.0),
                               rtol=1e-13, atol=0)
    assert np.max(np.abs(st.v[:, 0] - v_rest)) > 0.05  # a visible PSP


# 2c: Izhikevich neuron vs plain-Python forward Euler -----------------------
def _izhikevich_reference(I, dt, T, a=0.02, b=0.2, c=-65.0, d=8.0, v_peak=30.0):
    """Forward Euler of dv/dt = 0.04 v^2 + 5 v + 140 - u + I, du/dt = a (b v - u); reset at v >= v_peak."""
    v, u = c, b * c
    spikes, trace = [], []
    for k in range(int(round(T / dt))):
        trace.append(v)
        dv = 0.04 * v * v + 5.0 * v + 140.0 - u + I
        du = a * (b * v - u)
        v, u = v + dt * dv, u + dt * du
        if v >= v_peak:
            spikes.append(k)
            v, u = c, u + d
    return np.array(spikes, dtype=np.int64), np.array(trace)


@pytest.mark.parametrize("dt", [0.1, 0.25, 0.5])
@pytest.mark.parametrize("backend", BACKENDS)
def test_izhikevich_regular_spiking_matches_forward_euler(dt, backend):
    drives = [4.0, 7.0, 10.0, 15.0]
    T = 500.0
    net = ns.Network(dt)
    pops = [net.add_population(f"rs{k}", 1, ns.Izhikevich(i_offset=I)) for k, I in enumerate(drives)]
    mons = [net.monitor_spikes(p) for p in pops]
    sts = [net.monitor_state(p, "v") for p in pops]
    net.run(T, seed=0, backend=backend, progress=False)
    for I, mon, st in zip(drives, mons, sts):
        ref_steps, ref_v = _izhikevich_reference(I, dt, T)
        assert ref_steps.size >= 3  # tonic spiking
        assert_same_spikes(mon.steps, mon.indices, ref_steps, np.zeros_like(ref_steps))
        np.testing.assert_allclose(st.v[:, 0], ref_v, rtol=0, atol=1e-9)
    # regular spiking adapts: the first ISI is shorter than the last
    isi = np.diff(mons[2].steps)
    assert isi[0] < isi[-1]


# 2d: AdaptiveLIF ------------------------------------------------------------
ALIF = dict(tau_m=20.0, v_rest=-70.0, v_reset=-72.0, v_th=-50.0, tau_ref=2.0, tau_syn_e=5.0, tau_syn_i=10.0)


def _driven_net(model, drive, backend, with_synapses=True, T=400.0):
    net = ns.Network(DT)
    pop = net.add_population("pop", len(drive), model)
    net.add_current(pop, np.asarray(drive))
    if with_synapses:
        rng = np.random.default_rng(3)
        times = np.sort(rng.choice(int(T / DT), 300, replace=False)) * DT
        src = net.add_spike_source("src", 1, times, np.zeros(times.size, dtype=np.int64))
        post = np.arange(len(drive))
        net.connect(src, pop, pre=np.zeros_like(post), post=post, weight=np.where(post % 2, -3.0, 4.0),
                    delay=0.5)
    mon = net.monitor_spikes(pop)
    st = net.monitor_state(pop, "v")
    net.run(T, seed=0, backend=backend, progress=False)
    return mon, st


@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_lif_without_adaptation_equals_lif(backend):
    drive = [10.0, 19.0, 21.0, 24.0, 30.0, 45.0]
    m_lif, s_lif = _driven_net(ns.LIF(**ALIF), drive, backend)
    m_ad, s_ad = _driven_net(ns.AdaptiveLIF(**ALIF, a=0.0, b=0.0, tau_w=100.0), drive, backend)
    assert m_lif.indices.size > 40 and np.unique(m_lif.indices).size >= 4
    assert_same_spikes(m_ad.steps, m_ad.indices, m_lif.steps, m_lif.indices, ("AdaptiveLIF", "LIF"))
    # the propagators come from expm and from exp formulas: equal to rounding
    np.testing.assert_allclose(s_ad.v, s_lif.v, rtol=0, atol=1e-10)


def _adaptation_reference(drive, b, tau_w, T, p=ALIF):
    """Independent per-step closed form of the a = 0 model under constant drive.

    x = v - v_rest, tau_m dx/dt = -x + I - w, tau_w dw/dt = -w: over one step
    x' = x e_m + I (1 - e_m) - w k with k = tau_w / (tau_w - tau_m) (e_w - e_m).
    """
    e_m, e_w = math.exp(-DT / p["tau_m"]), math.exp(-DT / tau_w)
    k = tau_w / (tau_w - p["tau_m"]) * (e_w - e_m)
    n_ref = math.floor(p["tau_ref"] / DT + 1e-3)
    x, w, refr, spikes = p["v_rest"] - p["v_rest"], 0.0, 0, []
    for step in range(int(round(T / DT))):
        refr = max(refr - 1, 0)
        if refr == 0:
            x, w = x * e_m + drive * (1.0 - e_m) - w * k, w * e_w
            if x > p["v_th"] - p["v_rest"]:
                spikes.append(step)
                x, w, refr = p["v_reset"] - p["v_rest"], w + b, n_ref
        else:
            w = w * e_w
    return np.array(spikes, dtype=np.int64)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_lif_spike_frequency_adaptation(backend):
    drive, tau_w, T = [22.0, 30.0, 45.0], 100.0, 600.0
    bs = [0.0, 1.0, 3.0]
    results = {}
    for b in bs:
        mon, _ = _driven_net(ns.AdaptiveLIF(**ALIF, a=0.0, b=b, tau_w=tau_w), drive, backend,
                             with_synapses=False, T=T)
        results[b] = mon.spike_trains()
        for n, I in enumerate(drive):
            ref = _adaptation_reference(I, b, tau_w, T)
            got = np.rint(results[b][n] / DT).astype(np.int64)
            assert_same_spikes(got, np.zeros_like(got), ref, np.zeros_like(ref), ("AdaptiveLIF", "reference"))
    for n in range(len(drive)):
        isi0 = np.diff(results[0.0][n])
        assert np.ptp(isi0) < DT + 1e-9  # no adaptation: constant ISI (up to the grid)
        for b in bs[1:]:
            # ISIs lengthen monotonically.  Spike times lie on the dt grid, so increments
            # below dt can round to zero, and near the steady state consecutive ISIs
            # jitter by one step.
            isi = np.diff(results[b][n])
            transient = isi[:-1] < isi[-1] - 2 * DT
            assert transient.sum() >= 3
            assert isi[1] > isi[0]
            assert np.all(np.diff(isi)[transient] > -1e-9), f"ISIs must lengthen (b={b}, I={drive[n]}): {isi}"
            assert np.all(np.diff(isi) > -DT - 1e-9), f"ISIs must not shorten (b={b}, I={drive[n]}): {isi}"
            assert isi[-1] > isi[0] + 2 * DT
        # stronger adaptation, fewer spikes
        counts = [results[b][n].size for b in bs]
        assert counts[0] > counts[1] > counts[2]

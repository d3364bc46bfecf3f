"""Quantisation to Loihi-style fixed point and the emulator as a network backend."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import neurosim as ns
from neurosim.hardware import load_target
from neurosim.hardware.loihi_fixed import run_fixed_network
from neurosim.hardware.quantize import quantize

LIF0 = ns.LIF(tau_m=20.0, v_rest=-65.0, v_reset=-65.0, v_th=-50.0, tau_ref=0.0, tau_syn_e=5.0, tau_syn_i=5.0)


def _chain(seed: int, lif=LIF0, steps=60, delays=True):
    """input (spike source) -> A -> B, dense random weights of both signs, random delays."""
    rng = np.random.default_rng(seed)
    net = ns.Network(dt=1.0)
    n_in, n_a, n_b = 12, 9, 7
    t, i = np.nonzero(rng.random((steps, n_in)) < 0.25)
    src = net.add_spike_source("in", n_in, times=t * 1.0, indices=i)
    a = net.add_population("a", n_a, lif, v_init=lif.v_reset)       # the emulator starts at V = 0
    b = net.add_population("b", n_b, lif, v_init=lif.v_reset)
    w1 = rng.uniform(-2.0, 9.0, (n_a, n_in))
    w2 = rng.uniform(-3.0, 12.0, (n_b, n_a))
    d1 = rng.integers(0, 5, w1.shape) if delays else np.zeros(w1.shape, int)
    d2 = rng.integers(0, 4, w2.shape) if delays else np.zeros(w2.shape, int)
    for pre, post, w, d in ((src, a, w1, d1), (a, b, w2, d2)):
        po, pr = np.nonzero(np.ones_like(w))
        net.connect(pre, post, pre=pr, post=po, weight=w[po, pr], delay=d[po, pr] * 1.0)
    mons = [net.monitor_spikes(a), net.monitor_spikes(b)]
    states = [net.monitor_state(a, "v"), net.monitor_state(b, "v")]
    return net, (src, a, b), mons, states


@pytest.mark.parametrize("seed", range(4))
def test_backend_is_bit_exact_with_the_golden_checked_emulator(seed):
    lif = dataclasses.replace(LIF0, v_rest=-60.0) if seed % 2 else LIF0      # odd seeds: a bias
    net, (src, a, b), mons, states = _chain(seed, lif)
    net.run(60.0, backend="loihi2", progress=False)
    q = net.quantization
    assert [p.name for p in q.populations] == ["a", "b"]
    raster = np.zeros((src.n, 60), dtype=np.int64)
    raster[src.indices, np.rint(src.times).astype(int)] = 1
    ref = run_fixed_network(raster, q.fixed_layers(net))
    for k, mon in enumerate(mons, start=1):
        got = np.zeros((60, mon.source.n), dtype=np.int64)
        got[np.rint(mon.times).astype(int), mon.indices] = 1
        np.testing.assert_array_equal(got, ref[f"lif{k}_s_out"])
    assert ref["lif2_s_out"].sum() > 5                     # spikes reach the second layer
    # v is mirrored in mV: V / s + v_reset, recorded at the start of the next step
    for k, (st, pq) in enumerate(zip(states, q.populations), start=1):
        v_fixed = np.rint((st.v[1:] - pq.v_reset) * pq.scale).astype(np.int64)
        np.testing.assert_array_equal(v_fixed, ref[f"lif{k}_v"][:-1])


def test_emulated_network_tracks_the_float_network():
    def build():
        net = ns.Network(dt=1.0)
        inp = net.add_poisson("in", 100, rate=60.0)
        e = net.add_population("e", 200, LIF0, v_init=ns.Uniform(-65.0, -55.0))
        i = net.add_population("i", 50, LIF0)
        net.connect(inp, e, p=0.2, weight=ns.Uniform(2.0, 6.0), delay=ns.Uniform(0.0, 5.0))
        net.connect(e, i, p=0.1, weight=2.0, delay=2.0)
        net.connect(i, e, p=0.2, weight=-4.0, delay=1.0)
        net.connect(e, e, p=0.05, weight=ns.Normal(0.5, 0.5))
        return net, net.monitor_spikes(e)
    counts = {}
    for backend in ("numba", "loihi2"):
        net, mon = build()
        net.run(300.0, seed=3, backend=backend, progress=False)
        counts[backend] = mon.times.size
    assert counts["numba"] > 1000
    assert abs(counts["loihi2"] - counts["numba"]) <= 0.01 * counts["numba"]
    rep = net.quantization.report()
    for pop in rep["populations"]:
        assert abs(pop["membrane_decay"]["error"]) <= 0.5 / 4096
        assert abs(pop["current_decay"]["error"]) <= 0.5 / 4096
    assert all(p["clipped"] == 0 for p in rep["projections"])


def test_only_feed_forward_chains_export_as_layers():
    net, (src, a, b), _, _ = _chain(0)
    net.connect(b, a, p=0.5, weight=1.0)
    net.build(seed=0)
    with pytest.raises(ValueError, match="population 'a' is not fed by exactly one projection"):
        quantize(net, "loihi2").fixed_layers(net)


def test_weight_quantisation_choices():
    net, _, _, _ = _chain(0)
    net.build(seed=0)
    q = quantize(net, "loihi1")
    cn = net._compiled
    for qi, (proj, info) in enumerate(zip(net.projections, q.proj_errors)):
        lo = int(cn.indptr[cn.proj_ptr_offset[qi]])
        mant = q.mantissa[lo:lo + proj.n_synapses]
        assert info["sign_mode"] == "mixed" and np.all(mant % 2 == 0)       # mixed: 7 bits + sign
        assert -256 <= mant.min() and mant.max() <= 254
        assert max(mant.max(), -mant.min()) > 127                           # the exponent uses the range
        pq = next(p for p in q.populations if p.name == proj.post.name)
        exact = proj.weight * pq.scale * pq.coupling / 64 / 2.0 ** info["weight_exp"]
        assert np.abs(mant - exact).max() <= 1.0 + 1e-9                     # rounded to the grid (step 2)


def test_non_spiking_readout_keeps_its_resolution():
    net = ns.Network(dt=1.0)
    src = net.add_spike_source("in", 3, times=[0.0, 1.0, 2.0], indices=[0, 1, 2])
    out = net.add_population("out", 2, ns.LIF(tau_m=5.0, v_rest=0.0, v_reset=0.0, v_th=1e30, tau_ref=0.0,
                                                  tau_syn_e=0.0, tau_syn_i=0.0))
    net.connect(src, out, rule="all_to_all", weight=[0.3, -0.2, 0.5, 0.1, 0.4, -0.6])
    st = net.monitor_state(out, "v")
    net.run(6.0, backend="loihi2", progress=False)
    ref = ns.Network(dt=1.0)
    src2 = ref.add_spike_source("in", 3, times=[0.0, 1.0, 2.0], indices=[0, 1, 2])
    out2 = ref.add_population("out", 2, out.model)
    ref.connect(src2, out2, rule="all_to_all", weight=[0.3, -0.2, 0.5, 0.1, 0.4, -0.6])
    st2 = ref.monitor_state(out2, "v")
    ref.run(6.0, progress=False)
    assert np.abs(st2.v).max() > 0.1
    np.testing.assert_allclose(st.v, st2.v, atol=np.abs(st2.v).max() / 100)   # 7-bit + sign weights


@pytest.mark.parametrize("change,match", [
    (dict(tau_ref=2.0), "refractory"),
    (dict(tau_syn_i=10.0), "one synaptic current"),
    (dict(v_th=-70.0), "v_th must lie above v_reset"),
])
def test_unmappable_neurons_are_named(change, match):
    net, *_ = _chain(0, dataclasses.replace(LIF0, **change))
    with pytest.raises(ValueError, match=match):
        net.run(5.0, backend="loihi2", progress=False)


def test_other_errors():
    net, *_ = _chain(0)
    with pytest.raises(ValueError, match="needs a built network"):
        quantize(net, "loihi2")
    net.run(2.0, progress=False)
    with pytest.raises(ValueError, match="cannot continue on backend 'loihi2'"):
        net.run(2.0, backend="loihi2", progress=False)
    izh = ns.Network(dt=1.0)
    izh.add_population("z", 3, ns.Izhikevich())
    with pytest.raises(ValueError, match="Izhikevich"):
        izh.run(1.0, backend="loihi2", progress=False)
    far = ns.Network(dt=1.0)
    a = far.add_population("a", 2, LIF0)
    far.connect(a, a, p=1.0, weight=1.0, delay=70.0)
    with pytest.raises(ValueError, match="exceeds target 'loihi2''s maximum of 62"):
        far.run(1.0, backend="loihi2", progress=False)
    pin = ns.Network(dt=1.0)
    b = pin.add_population("b", 2, LIF0)
    pin.add_poisson_input(b, 10, rate=5.0, weight=1.0)
    with pytest.raises(ValueError, match="add_poisson"):
        pin.run(1.0, backend="loihi2", progress=False)
    target = load_target("loihi2")
    wide = dataclasses.replace(target, precision=dataclasses.replace(target.precision, v_bits=32))
    net2, *_ = _chain(1)
    net2.build(seed=0)
    with pytest.raises(ValueError, match="v_bits = 32"):
        quantize(net2, wide)
    with pytest.raises(ValueError, match="backend must be"):
        net2.run(1.0, backend="loihi3", progress=False)


def test_decay_constants_follow_the_documented_rounding():
    net, *_ = _chain(2)
    net.build(seed=0)
    pq = quantize(net, "loihi2").populations[0]
    assert pq.dv == round(4096 * (1 - math.exp(-1 / 20)))
    assert pq.du == round(4096 * (1 - math.exp(-1 / 5))) - 1
    assert pq.vth == (2 ** 23 - 1) >> 8

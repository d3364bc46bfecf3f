"""neurosim.train: surrogates, the fused LIF scan, layers, snnTorch equivalence, learnable delays.

Every check uses an oracle that does not share code with the part under test:
finite differences of closed-form primitives, plain-autograd reference loops,
numbers worked out by hand, snnTorch 1.0, ``nn.BatchNorm1d`` and hand-written
delay loops.  Everything is small and float64 where values are compared tightly.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from neurosim.train import (LIF, AdaptiveLIF, DelayProjection, LeakyReadout, SequenceBatchNorm,
                            SequenceDropout, Surrogate, delay_conv, dense_reference)
from neurosim.train.autograd import lif_scan, lif_scan_reference, spike_fn
from neurosim.train.autograd import _surrogate_row
from neurosim.train.surrogate import SURROGATES, as_surrogate

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def close(actual, expected, rtol=1e-12, atol=1e-12, msg=""):
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, msg=lambda m: f"{msg}\n{m}")


# --------------------------------------------------------------------------------------------
# 1. Surrogates
# --------------------------------------------------------------------------------------------

def _primitive(name: str, a: float, x: np.ndarray) -> np.ndarray:
    """The smooth step whose derivative each surrogate claims to be (closed forms)."""
    if name == "atan":
        return np.arctan(np.pi * a * x / 2.0) / np.pi + 0.5
    if name == "fast_sigmoid":
        return x / (1.0 + a * np.abs(x))
    # a * integral_{-1}^{x} max(0, 1 - |t|) dt, piecewise
    return a * np.where(x < -1, 0.0,
                        np.where(x < 0, (x + 1) ** 2 / 2,
                                 np.where(x < 1, 1.0 - (1 - x) ** 2 / 2, 1.0)))


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("a", [None, 0.3, 5.0, 25.0])
def test_surrogate_is_derivative_of_its_primitive(name, a):
    sg = Surrogate(name, a)
    slope = sg.a
    # 1201 points on [-3, 3], offset so that no point lies within h of a kink (0, +-1)
    x = np.linspace(-3.0, 3.0, 1201) + 7e-4
    h = 1e-6
    fd = (_primitive(name, slope, x + h) - _primitive(name, slope, x - h)) / (2 * h)
    got_np = sg.grad(x)
    got_t = sg.grad(torch.tensor(x, dtype=F64)).numpy()
    got_f = np.array([sg.grad(float(v)) for v in x])
    tol = 1e-7 * max(1.0, slope)
    np.testing.assert_allclose(got_np, fd, rtol=0, atol=tol)
    np.testing.assert_array_equal(got_f, got_np)
    # torch evaluates ``float / tensor`` as ``reciprocal(tensor) * float``: up to 1 ulp apart
    np.testing.assert_allclose(got_t, got_np, rtol=5e-16, atol=0)
    # fixed points of the formulas
    peak = {"atan": slope / 2, "fast_sigmoid": 1.0, "triangle": slope}[name]
    assert sg.grad(0.0) == peak
    if name == "triangle":
        assert sg.grad(1.0) == 0.0 and sg.grad(-1.0) == 0.0 and sg.grad(2.0) == 0.0


def test_surrogate_defaults_and_spec_parsing():
    assert Surrogate().name == "atan" and Surrogate().a == 2.0
    assert Surrogate("fast_sigmoid").a == 25.0
    assert Surrogate("triangle").a == 1.0
    assert as_surrogate(("atan", 5)) == Surrogate("atan", 5.0)
    assert as_surrogate("triangle") == Surrogate("triangle")
    s = Surrogate("fast_sigmoid", 3.0)
    assert as_surrogate(s) is s
    assert [Surrogate(n).kind for n in SURROGATES] == [0, 1, 2]
    with pytest.raises(TypeError, match="surrogate"):
        as_surrogate(3.0)


def _bits(v) -> bytes:
    return np.float64(v).tobytes()


@pytest.mark.parametrize("name", SURROGATES)
def test_surrogate_jit_bitwise_equal_to_python(name):
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.normal(0, 1.5, 300), rng.uniform(-1e-3, 1e-3, 50),
                         [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e-300, -1e-300, 1e300, -1e300, 7.0]])
    for a in (0.3, 2.0, 25.0):
        sg = Surrogate(name, a)
        with np.errstate(over="ignore"):                  # y*y overflows to inf for |x| = 1e300
            py_vec = sg.grad(xs)
        t_vec = sg.grad(torch.tensor(xs, dtype=F64)).numpy()
        jit_vec = np.empty_like(xs)                      # the compiled row used by the LIF scan
        with np.errstate(over="ignore"):
            _surrogate_row(sg.kind, float(a), xs, np.zeros_like(xs), jit_vec)
        for i, x in enumerate(xs):
            jit = jit_vec[i]
            py = sg.grad(float(x))
            assert _bits(jit) == _bits(py), (name, a, x, jit, py)
            assert _bits(py_vec[i]) == _bits(py), (name, a, x)
            # torch's ``float / tensor`` is ``reciprocal(tensor) * float``: 1 ulp, not bits
            assert abs(t_vec[i] - py) <= 5e-16 * abs(py), (name, a, x)


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_spike_fn_forward_is_heaviside_backward_is_surrogate(name, dtype):
    sg = Surrogate(name, 1.7)
    x = torch.randn(400, generator=gen(1), dtype=F64).to(dtype)
    x[:6] = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 1.0, -1.0], dtype=dtype)
    x.requires_grad_()
    out = spike_fn(x, sg)
    assert out.dtype == dtype
    assert torch.equal(out.detach(), (x.detach() > 0).to(dtype))
    assert out[0].item() == 0.0 and out[1].item() == 0.0 and out[2].item() == 1.0
    g_out = torch.randn(400, generator=gen(2), dtype=F64).to(dtype)
    out.backward(g_out)
    assert torch.equal(x.grad, g_out * sg.grad(x.detach()))
    # Surrogate.__call__ is the same function
    x2 = x.detach().clone().requires_grad_()
    out2 = sg(x2)
    out2.backward(g_out)
    assert torch.equal(out2.detach(), out.detach()) and torch.equal(x2.grad, x.grad)


@pytest.mark.parametrize("bad", ["relu", "ATAN", "", "sigmoid"])
def test_surrogate_bad_name(bad):
    with pytest.raises(ValueError, match="surrogate: unknown name"):
        Surrogate(bad)
    with pytest.raises(ValueError, match="surrogate"):
        LIF(3, 0.9, surrogate=bad)


@pytest.mark.parametrize("a", [0.0, -1.0, math.inf, math.nan, -math.inf])
def test_surrogate_bad_slope(a):
    with pytest.raises(ValueError, match="slope 'a'"):
        Surrogate("atan", a)
    with pytest.raises(ValueError, match="slope 'a'"):
        LIF(3, 0.9, surrogate=("fast_sigmoid", a))


# --------------------------------------------------------------------------------------------
# 2. Fused LIF scan against the plain autograd loop
# --------------------------------------------------------------------------------------------

def _scan_inputs(dtype, t=25, b=3, n=7, seed=0):
    g = gen(seed)
    z = 0.3 + 0.6 * torch.randn(t, b, n, generator=g, dtype=F64)
    beta = 0.5 + 0.45 * torch.rand(n, generator=g, dtype=F64)
    theta = 0.8 + 0.4 * torch.rand(n, generator=g, dtype=F64)
    v0 = 0.5 * torch.randn(b, n, generator=g, dtype=F64)
    cs = torch.randn(t, b, n, generator=g, dtype=F64)
    cv = torch.randn(b, n, generator=g, dtype=F64)
    return [u.to(dtype) for u in (z, beta, theta, v0, cs, cv)]


def _run_scan(fn, z, beta, theta, v0, cs, cv, subtract, detach, sg, need=(True, True, True, True)):
    leaves = [u.clone().requires_grad_(r) for u, r in zip((z, beta, theta, v0), need)]
    s, v = fn(*leaves, subtract, detach, sg)
    ((s * cs).sum() + (v * cv).sum()).backward()
    return s.detach(), v.detach(), [u.grad for u in leaves], s.grad_fn


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("subtract", [False, True])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_fused_scan_matches_reference(name, subtract, detach, dtype):
    sg = Surrogate(name, {"atan": 2.0, "fast_sigmoid": 5.0, "triangle": 1.0}[name])
    args = _scan_inputs(dtype, seed=SURROGATES.index(name) * 4 + 2 * subtract + detach)
    s1, v1, g1, fn1 = _run_scan(lif_scan, *args, subtract, detach, sg)
    s2, v2, g2, fn2 = _run_scan(lif_scan_reference, *args, subtract, detach, sg)
    assert "LIFScanFn" in type(fn1).__name__        # the compiled kernel really ran
    assert "LIFScanFn" not in type(fn2).__name__
    assert 0.05 < s1.mean().item() < 0.6             # the example exercises spikes and resets
    assert torch.equal(s1, s2)
    if dtype == F64:
        rtol, atol = 1e-12, 1e-12
    else:
        rtol, atol = 1e-5, 1e-5
    close(v1, v2, rtol, atol, "final membrane")
    for label, a, b in zip(("z", "beta", "theta", "v0"), g1, g2):
        close(a, b, rtol, atol * max(1.0, b.abs().max().item()), f"grad {label}")


def assert_partial_grads_match_reference(scan, args, sg, needs):
    """``scan`` against :func:`lif_scan_reference` when only some inputs need a gradient (subtractive reset)."""
    for need in needs:
        s1, v1, g1, _ = _run_scan(scan, *args, True, False, sg, need)
        s2, v2, g2, _ = _run_scan(lif_scan_reference, *args, True, False, sg, need)
        assert torch.equal(s1, s2)
        close(v1, v2)
        for a, b, r in zip(g1, g2, need):
            if r:
                close(a, b)
            else:
                assert a is None and b is None


def test_fused_scan_many_neurons_crosses_chunks_and_partial_grads():
    # B * n = 3 * 211 = 633 > 512 (one kernel chunk) and 211 does not divide 512
    args = _scan_inputs(F64, t=12, b=3, n=211, seed=5)
    assert_partial_grads_match_reference(lif_scan, args, Surrogate("atan", 2.0),
                                         [(True, True, True, True), (True, False, False, False),
                                          (False, True, False, True)])


def _hand_scan(subtract, detach, v0):
    """One neuron, beta = 0.5, theta = 1, triangle surrogate (a = 1), loss = sum(s) + v_final."""
    z = torch.tensor([0.7, 0.9, 0.3], dtype=F64).reshape(3, 1, 1).requires_grad_()
    beta = torch.tensor([0.5], dtype=F64, requires_grad=True)
    theta = torch.tensor([1.0], dtype=F64, requires_grad=True)
    v0 = torch.tensor([[v0]], dtype=F64, requires_grad=True)
    s, v = lif_scan(z, beta, theta, v0, subtract, detach, Surrogate("triangle", 1.0))
    (s.sum() + v.sum()).backward()
    return s.flatten().tolist(), v.item(), z.grad.flatten().tolist(), beta.grad.item(), \
        theta.grad.item(), v0.grad.item()


def test_fused_scan_hand_example_subtract_detached():
    # v0 = 0.2: u0 = 0.5*0.2 + 0.7 = 0.8 -> no spike, v = 0.8
    #           u1 = 0.4 + 0.9 = 1.3 -> spike, v = 1.3 - 1 = 0.3
    #           u2 = 0.15 + 0.3 = 0.45 -> no spike, v = 0.45
    # surrogate at u - 1: sg0 = 1 - 0.2 = 0.8, sg1 = 1 - 0.3 = 0.7, sg2 = 1 - 0.55 = 0.45
    # backward (detached subtract: dv/du = 1, dv/dtheta = -s), g_v starts at 1:
    #   t2: gu = 0.45 + 1 = 1.45; g_theta = -0.45; g_beta = 1.45*0.3 = 0.435; g_v = 0.725
    #   t1: gu = 0.7 + 0.725 = 1.425; g_theta += -0.7 - 0.725; g_beta += 1.425*0.8; g_v = 0.7125
    #   t0: gu = 0.8 + 0.7125 = 1.5125; g_theta += -0.8; g_beta += 1.5125*0.2; g_v0 = 0.75625
    s, v, gz, gb, gt, gv0 = _hand_scan(True, True, 0.2)
    assert s == [0.0, 1.0, 0.0]
    assert v == pytest.approx(0.45, abs=1e-14)
    assert gz == pytest.approx([1.5125, 1.425, 1.45], abs=1e-14)
    assert gb == pytest.approx(0.435 + 1.14 + 0.3025, abs=1e-14)          # 1.8775
    assert gt == pytest.approx(-0.45 - 1.425 - 0.8, abs=1e-14)            # -2.675
    assert gv0 == pytest.approx(0.75625, abs=1e-14)


@pytest.mark.parametrize("subtract", [False, True])
def test_fused_scan_no_spike_exactly_at_threshold(subtract):
    # u = 0.5*0.5 + 0.75 = 1.0 == theta exactly (all binary fractions): H(0) = 0, no spike;
    # the next step then integrates from v = 1.0: u = 0.5 + 0.5 = 1.0 again, still no spike.
    z = torch.tensor([0.5, 0.75, 0.5, 0.5 + 2 ** -40], dtype=F64).reshape(4, 1, 1)
    args = (torch.tensor([0.5], dtype=F64), torch.tensor([1.0], dtype=F64), torch.zeros(1, 1, dtype=F64),
            subtract, True, Surrogate("atan"))
    s, v = lif_scan(z, *args)
    s_ref, v_ref = lif_scan_reference(z, *args)
    assert s.flatten().tolist() == [0.0, 0.0, 0.0, 1.0]
    assert torch.equal(s, s_ref) and torch.equal(v, v_ref)


def test_fused_scan_hand_example_zero_not_detached():
    # Same drive, reset to zero with gradient through the reset:
    #   u = [0.8, 1.3, 0.3], s = [0, 1, 0], v after each step = [0.8, 0, 0.3]
    #   sg = [0.8, 0.7, 0.3]; dv/du = (1 - s) - u*sg, dv/dtheta = u*sg
    #   t2: dv/du = 1 - 0.09 = 0.91; gu = 0.3 + 0.91 = 1.21; g_theta = -0.3 + 0.09 = -0.21
    #       g_beta += 1.21 * 0 = 0; g_v = 0.605
    #   t1: dv/du = -1.3*0.7 = -0.91; gu = 0.7 - 0.605*0.91 = 0.14945
    #       g_theta += -0.7 + 0.605*0.91 = -0.14945; g_beta += 0.14945*0.8 = 0.11956; g_v = 0.074725
    #   t0: dv/du = 1 - 0.64 = 0.36; gu = 0.8 + 0.074725*0.36 = 0.826901
    #       g_theta += -0.8 + 0.074725*0.64 = -0.752176; g_beta += 0.826901*0.2 = 0.1653802
    #       g_v0 = 0.5 * 0.826901 = 0.4134505
    s, v, gz, gb, gt, gv0 = _hand_scan(False, False, 0.2)
    assert s == [0.0, 1.0, 0.0]
    assert v == pytest.approx(0.3, abs=1e-14)
    assert gz == pytest.approx([0.826901, 0.14945, 1.21], abs=1e-13)
    assert gb == pytest.approx(0.11956 + 0.1653802, abs=1e-13)            # 0.2849402
    assert gt == pytest.approx(-0.21 - 0.14945 - 0.752176, abs=1e-13)     # -1.111626
    assert gv0 == pytest.approx(0.4134505, abs=1e-13)


def test_lif_module_learnable_params_match_reference():
    n = 9
    lif = LIF(n, 0.8, reset="subtract", surrogate=("atan", 3.0), learn_beta=True,
              learn_threshold=True, detach_reset=False).double()
    with torch.no_grad():
        lif.beta_logit.add_(0.3 * torch.randn(n, generator=gen(3), dtype=F64))
        lif.threshold_param.add_(0.2 * torch.rand(n, generator=gen(4), dtype=F64))
    z = 0.4 + 0.7 * torch.randn(30, 2, n, generator=gen(5), dtype=F64)
    c = torch.randn(30, 2, n, generator=gen(6), dtype=F64)
    s, v = lif(z, return_state=True)
    ((s * c).sum() + v.sum()).backward()
    logit = lif.beta_logit.detach().clone().requires_grad_()
    th = lif.threshold_param.detach().clone().requires_grad_()
    s2, v2 = lif_scan_reference(z, torch.sigmoid(logit), th, torch.zeros(2, n, dtype=F64),
                                True, False, Surrogate("atan", 3.0))
    ((s2 * c).sum() + v2.sum()).backward()
    assert torch.equal(s, s2)
    close(v, v2)
    close(lif.beta_logit.grad, logit.grad)
    close(lif.threshold_param.grad, th.grad)


def test_lif_tau_m_and_argument_errors():
    lif = LIF(4, tau_m=20.0, dt=0.5)
    assert torch.equal(lif.decay(F64), torch.full((4,), math.exp(-0.5 / 20.0), dtype=F64))   # exact
    for kwargs, word in [(dict(n=0, beta=0.9), "'n'"), (dict(n=2.5, beta=0.9), "'n'"),
                         (dict(n=3, beta=0.9, reset="hard"), "'reset'"),
                         (dict(n=3, beta=0.9, threshold=0.0), "'threshold'"),
                         (dict(n=3, beta=1.5), "'beta'"), (dict(n=3, beta=-0.1), "'beta'"),
                         (dict(n=3), "'beta'"), (dict(n=3, beta=0.9, tau_m=10.0), "'tau_m'"),
                         (dict(n=3, tau_m=-1.0), "'tau_m'"), (dict(n=3, tau_m=5.0, dt=0.0), "'dt'"),
                         (dict(n=3, beta=1.0, learn_beta=True), "'beta'")]:
        with pytest.raises(ValueError, match=word):
            LIF(**kwargs)
    with pytest.raises(ValueError, match=r"LIF: expected input of shape \(T, batch, 3\)"):
        LIF(3, 0.9)(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match="expected input"):
        LIF(3, 0.9)(torch.zeros(5, 3))


def test_lif_parameters_of_wrong_shape_are_rejected():
    lif = LIF(4, 0.9)
    z = torch.rand(3, 64, 4)
    with pytest.raises(ValueError, match="'v0' must have shape"):
        lif(z, v0=torch.zeros(4))
    with pytest.raises(ValueError, match="'beta' must have shape"):
        lif_scan(z, torch.full((3,), 0.9), torch.ones(4), torch.zeros(64, 4))


# --------------------------------------------------------------------------------------------
# 3. Equivalence with snnTorch 1.0 Leaky
# --------------------------------------------------------------------------------------------
#
# snnTorch 1.0 ``Leaky.forward`` per call (threshold U_thr, spike s = H(mem - U_thr)):
#   reset = H(mem_prev - U_thr).detach()          # from the membrane it returned last step
#   subtract: mem = beta*mem_prev + x - reset*U_thr
#   zero:     mem = beta*(1 - reset)*mem_prev + x
#   spk = H(mem - U_thr)      (FastSigmoid backward: grad / (slope*|mem - U_thr| + 1)^2)
#   reset_delay=True (default): the returned mem is NOT reset; the reset of step t acts at t+1.
#   reset_delay=False: mem -= (spk - reset)*U_thr (subtract) or (spk - reset)*mem (zero), with
#   gradient through spk (not detached).
# neurosim: u = beta*v + z, s = H(u - theta), v = u - theta*s (subtract) / u*(1 - s) (zero).
# Mapping (fast_sigmoid surrogate formulas are identical: 1/(1 + a|x|)^2):
#   * zero,  reset_delay=True   == neurosim zero, detach_reset=True       (exact; u == mem)
#   * zero,  reset_delay=False  == neurosim zero, detach_reset=False      (exact)
#   * subtract, reset_delay=False == neurosim subtract, detach_reset=False, provided the membrane
#     after a reset stays below threshold (else snnTorch's "avoid double reset" changes the test
#     to mem > 2*U_thr); the test checks that proviso holds.
#   * subtract, reset_delay=True: snnTorch subtracts U_thr AFTER the decay (undecayed), neurosim
#     subtracts before it (beta*(u - theta)).  So snnTorch == neurosim(detach_reset=True) driven
#     by z[t] = x[t] - (1 - beta)*U_thr*s[t-1]; without that correction the spikes differ.
# snnTorch returns float32 spikes (``(x > 0).float()``), so its gradients pass through float32
# where the spike (and, without reset_delay, the reset) enters: those comparisons use rtol 1e-6.

BETA_SNN = 0.875     # exact in float32 (snnTorch stores beta as a float32 tensor)


def _snntorch_run(x, reset, reset_delay):
    snntorch = pytest.importorskip("snntorch")
    from snntorch import surrogate as snn_surrogate
    leaky = snntorch.Leaky(beta=BETA_SNN, threshold=1.0, reset_mechanism=reset,
                           spike_grad=snn_surrogate.fast_sigmoid(slope=25), reset_delay=reset_delay)
    mem = torch.zeros(x.shape[1:], dtype=x.dtype)
    spikes, mems = [], []
    for x_t in x.unbind(0):
        spk, mem = leaky(x_t, mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("reset_delay", [True, False])
def test_lif_equals_snntorch_leaky(reset, reset_delay):
    t, b, n = 60, 3, 6
    g = gen(10 + 2 * (reset == "zero") + reset_delay)
    x0 = -0.3 + 1.2 * torch.rand(t, b, n, generator=g, dtype=F64)     # u < beta + 0.9 < 2 thresholds
    c = torch.randn(t, b, n, generator=g).double()                     # float32-exact loss weights

    x1 = x0.clone().requires_grad_()
    s_ref, mem_ref = _snntorch_run(x1, reset, reset_delay)
    (s_ref * c).sum().backward()
    s_ref = s_ref.detach().double()
    mem_ref = mem_ref.detach()
    assert 0.1 < s_ref.mean().item() < 0.5

    lif = LIF(n, BETA_SNN, reset=reset, surrogate=("fast_sigmoid", 25.0), detach_reset=reset_delay)
    x2 = x0.clone().requires_grad_()
    z = x2
    if reset == "subtract" and reset_delay:
        prev = torch.cat([torch.zeros(1, b, n, dtype=F64), s_ref[:-1]])
        z = x2 - (1.0 - BETA_SNN) * 1.0 * prev
        assert not torch.equal(lif(x0), s_ref)        # the conventions really differ
    s, v = lif(z, return_state=True)
    (s * c).sum().backward()

    assert torch.equal(s.detach(), s_ref)
    if reset_delay:
        # snnTorch's last mem is the membrane before the reset (neurosim's u)
        expected_v = mem_ref[-1] - s_ref[-1] if reset == "subtract" else mem_ref[-1] * (1 - s_ref[-1])
        close(v.detach(), expected_v, 1e-12, 1e-12)
        close(x2.grad, x1.grad, 1e-12, 1e-12)
    else:
        if reset == "subtract":
            assert (mem_ref < 1.0).all()              # proviso: no double-threshold crossing
        close(v.detach(), mem_ref[-1], 1e-12, 1e-12)
        close(x2.grad, x1.grad, 1e-6, 1e-7)


# --------------------------------------------------------------------------------------------
# 4. AdaptiveLIF
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("detach", [True, False])
def test_adaptive_lif_without_adaptation_equals_lif(reset, detach):
    n = 5
    kw = dict(reset=reset, surrogate=("atan", 2.5), detach_reset=detach)
    lif, alif = LIF(n, 0.85, **kw), AdaptiveLIF(n, 0.85, adapt=0.0, tau_adapt=50.0, **kw)
    z0 = 0.3 + 0.6 * torch.randn(40, 2, n, generator=gen(20), dtype=F64)
    v0 = 0.3 * torch.randn(2, n, generator=gen(21), dtype=F64)
    c = torch.randn(40, 2, n, generator=gen(22), dtype=F64)
    out = []
    for layer in (lif, alif):
        z = z0.clone().requires_grad_()
        s, v = layer(z, v0=v0, return_state=True)
        ((s * c).sum() + v.sum()).backward()
        out.append((s.detach(), v.detach(), z.grad))
    assert out[0][0].sum() > 10
    assert torch.equal(out[0][0], out[1][0])
    close(out[1][1], out[0][1])
    close(out[1][2], out[0][2])


def _alif_spikes(drive, adapt=0.5, tau_adapt=100.0):
    layer = AdaptiveLIF(1, 0.0, adapt=adapt, tau_adapt=tau_adapt, reset="zero")
    return layer(torch.tensor(drive, dtype=F64).reshape(-1, 1, 1)).flatten().tolist()


def test_adaptive_lif_hand_example():
    # beta = 0 so u[t] = z[t]; threshold 1, adapt 0.5, rho = exp(-1/100).
    # a[t] = rho*a[t-1] + s[t-1]; theta[t] = 1 + 0.5*a[t]
    rho = math.exp(-0.01)
    assert AdaptiveLIF(1, 0.0, tau_adapt=100.0).rho == pytest.approx(0.9900498337491681, abs=1e-16)
    eps = 1e-9
    # t0: theta = 1 -> 1.2 spikes; t1: a = 1, theta = 1.5 exactly (raised by 'adapt')
    assert _alif_spikes([1.2, 1.5 + eps]) == [1.0, 1.0]
    assert _alif_spikes([1.2, 1.5 - eps]) == [1.0, 0.0]
    assert _alif_spikes([1.2, 1.5]) == [1.0, 0.0]                   # H(0) = 0
    # t2 (no spike at t1): a = rho, theta = 1 + 0.5*rho
    th2 = 1 + 0.5 * rho
    assert _alif_spikes([1.2, 1.4, th2 + eps]) == [1.0, 0.0, 1.0]
    assert _alif_spikes([1.2, 1.4, th2 - eps]) == [1.0, 0.0, 0.0]
    # t3 after spikes at t0 and t2: a = rho^2 + 1, theta = 1 + 0.5*(rho^2 + 1)
    th3 = 1 + 0.5 * (rho * rho + 1)
    assert _alif_spikes([1.2, 1.4, th2 + eps, th3 + eps]) == [1.0, 0.0, 1.0, 1.0]
    assert _alif_spikes([1.2, 1.4, th2 + eps, th3 - eps]) == [1.0, 0.0, 1.0, 0.0]
    # without adaptation the same drive spikes every step
    assert _alif_spikes([1.2, 1.4, th2 - eps, th3 - eps], adapt=0.0) == [1.0] * 4


def test_adaptive_lif_fires_less_under_constant_drive():
    z = torch.full((300, 1, 3), 0.6, dtype=F64)
    n_lif = LIF(3, 0.9)(z).sum().item()
    n_alif = AdaptiveLIF(3, 0.9, adapt=0.3, tau_adapt=100.0)(z).sum().item()
    assert n_alif > 0
    assert n_alif < 0.8 * n_lif


def test_adaptive_lif_argument_errors():
    with pytest.raises(ValueError, match="'tau_adapt'"):
        AdaptiveLIF(3, 0.9, tau_adapt=0.0)
    with pytest.raises(ValueError, match="'adapt'"):
        AdaptiveLIF(3, 0.9, adapt=-0.1)
    with pytest.raises(ValueError, match="AdaptiveLIF: expected input"):
        AdaptiveLIF(3, 0.9)(torch.zeros(4, 2, 2))


# --------------------------------------------------------------------------------------------
# 5. LeakyReadout
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("beta,tau_m", [(0.8, None), (None, 7.0), (0.0, None), (1.0, None)])
def test_leaky_readout_closed_form(beta, tau_m):
    ro = LeakyReadout(4, beta, tau_m=tau_m, dt=1.0)
    b = beta if beta is not None else math.exp(-1.0 / tau_m)
    assert ro.beta == b
    z = torch.randn(25, 3, 4, generator=gen(30), dtype=F64)
    t = np.arange(25)
    powers = np.where(t[:, None] >= t[None, :], float(b) ** np.clip(t[:, None] - t[None, :], 0, None), 0.0)
    expected = torch.from_numpy(np.einsum("tk,kbn->tbn", powers, z.numpy()))
    close(ro(z), expected, 1e-12, 1e-12)
    with pytest.raises(ValueError, match="LeakyReadout: expected input"):
        ro(torch.zeros(3, 4))


# --------------------------------------------------------------------------------------------
# 6. SequenceDropout and SequenceBatchNorm
# --------------------------------------------------------------------------------------------

def test_sequence_dropout_mask_statistics_and_eval():
    p = 0.3
    drop = SequenceDropout(p)
    x = torch.ones(6, 64, 256, dtype=F64)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        y = drop(x)
    assert torch.equal(y, y[:1].expand_as(y))                       # one mask for every step
    vals = torch.unique(y)
    assert torch.equal(vals, torch.tensor([0.0, 1.0 / (1.0 - p)], dtype=F64))
    kept = (y[0] > 0).double().mean().item()
    assert abs(kept - (1 - p)) < 0.02                               # sd ~ 0.0036
    assert abs(y.mean().item() - 1.0) < 0.03                        # unbiased: E = x
    assert not torch.equal(y[0, 0], y[0, 1])                        # masks differ across the batch
    # the same mask multiplies arbitrary inputs, and gradients
    xr = torch.randn(6, 64, 256, generator=gen(31), dtype=F64).requires_grad_()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        yr = drop(xr)
    close(yr, xr * y)
    yr.sum().backward()
    close(xr.grad, y)
    drop.eval()
    assert drop(xr) is xr
    assert SequenceDropout(0.0)(xr) is xr
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="'p'"):
            SequenceDropout(bad)


def test_sequence_batchnorm_equals_batchnorm1d_on_flattened():
    t, b, n = 7, 5, 4
    bn = SequenceBatchNorm(n, momentum=0.2).double()
    ref = nn.BatchNorm1d(n, momentum=0.2).double()
    with torch.no_grad():
        bn.weight.copy_(torch.randn(n, generator=gen(40), dtype=F64))
        bn.bias.copy_(torch.randn(n, generator=gen(41), dtype=F64))
    ref.load_state_dict(bn.state_dict())
    for step in range(3):
        x = 2.0 + 3.0 * torch.randn(t, b, n, generator=gen(42 + step), dtype=F64)
        y = bn(x)
        y_ref = ref(x.reshape(t * b, n)).reshape(t, b, n)
        close(y, y_ref, 1e-14, 1e-14)
        # statistics pooled over time and batch
        flat = x.reshape(t * b, n)
        manual = (flat - flat.mean(0)) / torch.sqrt(flat.var(0, unbiased=False) + bn.eps) * bn.weight + bn.bias
        close(y, manual.reshape(t, b, n).detach(), 1e-12, 1e-12)
    close(bn.running_mean, ref.running_mean, 1e-14, 1e-14)
    close(bn.running_var, ref.running_var, 1e-14, 1e-14)
    bn.eval()
    ref.eval()
    x = torch.randn(t, b, n, generator=gen(50), dtype=F64)
    close(bn(x), ref(x.reshape(t * b, n)).reshape(t, b, n), 1e-14, 1e-14)


# --------------------------------------------------------------------------------------------
# 7. Delay projection
# --------------------------------------------------------------------------------------------

def _delay_case(t, b, n_in, n_out, d_max, seed):
    g = gen(seed)
    x = torch.randn(t, b, n_in, generator=g, dtype=F64)
    w = torch.randn(n_out, n_in, generator=g, dtype=F64)
    d = torch.rand(n_out, n_in, generator=g, dtype=F64) * d_max
    if d.numel() > 2 and d_max > 0:
        d.view(-1)[0] = 0.0                                   # the ends and an exact integer
        d.view(-1)[1] = float(d_max)
        d.view(-1)[2] = float(d_max // 2)
    return x, w, d


def _value_and_grads(fn, x, w, d, c, *args):
    leaves = [u.clone().requires_grad_() for u in (x, w, d)]
    z = fn(*leaves, *args)
    (z * c).sum().backward()
    return [z.detach()] + [u.grad for u in leaves]


CONV_CASES = [(sig, d_max, tail)
              for sig in (0.5, 2.0, 12.27)
              for d_max in (0, 5, 24)
              for tail in sorted({0, d_max // 2})]


@pytest.mark.parametrize("sigma,d_max,tail", CONV_CASES)
def test_delay_conv_matches_dense_reference(sigma, d_max, tail):
    rng = np.random.default_rng(int(100 * sigma) + 7 * d_max + tail)
    for rep in range(2):
        t = int(rng.integers(3, 35))          # sometimes shorter than the longest delay
        b, n_in, n_out = (int(v) for v in rng.integers(1, 5, size=3))
        x, w, d = _delay_case(t, b, n_in, n_out, d_max, seed=int(rng.integers(1 << 30)))
        c = torch.randn(t + tail, b, n_out, generator=gen(rep), dtype=F64)
        got = _value_and_grads(delay_conv, x, w, d, c, d_max, tail, sigma)
        ref = _value_and_grads(dense_reference, x, w, d, c, d_max, tail, sigma)
        assert got[0].shape == (t + tail, b, n_out)
        for label, a, e in zip(("z", "x", "w", "d"), got, ref):
            close(a, e, 1e-12, 1e-12, f"{label}: sigma={sigma} D={d_max} tail={tail} T={t}")


@pytest.mark.parametrize("sigma,lo,hi", [(0.5, 10.0, 12.0), (0.5, 0.0, 1.5), (0.5, 21.0, 24.0),
                                         (1.0, 11.0, 11.0), (2.0, 3.0, 4.0)])
def test_delay_conv_skipped_taps_are_negligible(sigma, lo, hi):
    # Clustered delays let delay_conv skip the taps far from every synapse's Gaussian; the dense
    # kernel still sums them.  Skipped weights are < 1e-12 of the peak, so 1e-12 still holds.
    d_max, tail = 24, 12
    g = gen(int(10 * (sigma + lo + hi)))
    x = torch.randn(30, 2, 4, generator=g, dtype=F64)
    w = torch.randn(3, 4, generator=g, dtype=F64)
    d = lo + (hi - lo) * torch.rand(3, 4, generator=g, dtype=F64)
    c = torch.randn(30 + tail, 2, 3, generator=g, dtype=F64)
    got = _value_and_grads(delay_conv, x, w, d, c, d_max, tail, sigma)
    ref = _value_and_grads(dense_reference, x, w, d, c, d_max, tail, sigma)
    for label, a, e in zip(("z", "x", "w", "d"), got, ref):
        close(a, e, 1e-12, 1e-12, f"{label}: sigma={sigma} d in [{lo}, {hi}]")


def _integer_loop(x, w, d, tail):
    """z[t, b, i] = sum_j w[i, j] x[t - d[i, j], b, j] (differentiable, written out)."""
    t_in, _, n_in = x.shape
    n_out = w.shape[0]
    rows = []
    for t in range(t_in + tail):
        cols = []
        for i in range(n_out):
            acc = torch.zeros_like(x[0, :, 0])
            for j in range(n_in):
                k = int(d[i, j])
                if 0 <= t - k < t_in:
                    acc = acc + w[i, j] * x[t - k, :, j]
            cols.append(acc)
        rows.append(torch.stack(cols, -1))
    return torch.stack(rows)


@pytest.mark.parametrize("d_max,tail", [(0, 0), (5, 2), (5, 0), (9, 9)])
def test_delay_conv_integer_mode_matches_loop(d_max, tail):
    g = gen(60 + d_max + tail)
    t, b, n_in, n_out = 8, 2, 4, 3
    x = torch.randn(t, b, n_in, generator=g, dtype=F64)
    w = torch.randn(n_out, n_in, generator=g, dtype=F64)
    d = torch.randint(0, d_max + 1, (n_out, n_in), generator=g).to(F64)
    c = torch.randn(t + tail, b, n_out, generator=g, dtype=F64)
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    dg = d.clone().requires_grad_()
    z = delay_conv(xg, wg, dg, d_max, tail, None)
    (z * c).sum().backward()
    xl, wl = x.clone().requires_grad_(), w.clone().requires_grad_()
    z_loop = _integer_loop(xl, wl, d, tail)
    (z_loop * c).sum().backward()
    close(z.detach(), z_loop.detach())
    close(xg.grad, xl.grad)
    close(wg.grad, wl.grad)
    assert dg.grad is None                                # integer delays carry no gradient
    close(dense_reference(x, w, d, d_max, tail, None), z.detach())


@pytest.mark.parametrize("sigma,d_max", [(0.8, 4), (0.3, 12)])
def test_delay_conv_gradcheck(sigma, d_max):
    g = gen(70)
    x = torch.randn(6, 2, 3, generator=g, dtype=F64, requires_grad=True)
    w = torch.randn(2, 3, generator=g, dtype=F64, requires_grad=True)
    d = (0.2 + (d_max - 0.4) * torch.rand(2, 3, generator=g, dtype=F64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda x_, w_, d_: delay_conv(x_, w_, d_, d_max, 2, sigma),
                                    (x, w, d), eps=1e-6, atol=1e-6, rtol=1e-5)


def _impulse_response(d, sigma, w=2.0, d_max=8, t=12, t0=1):
    x = torch.zeros(t, 1, 1, dtype=F64)
    x[t0] = 1.0
    z = delay_conv(x, torch.tensor([[w]], dtype=F64), torch.tensor([[d]], dtype=F64), d_max, 0, sigma)
    return z.flatten()


def test_gaussian_delay_kernel_closed_form():
    t0, w = 1, 2.0
    # Narrow Gaussian (sigma_eff = 0.1): neighbours get exp(-50) ~ 2e-22, so the output is the
    # input shifted by 3 steps times w, up to the normaliser's +1e-7.
    z = _impulse_response(3.0, 0.1)
    expected = torch.zeros_like(z)
    expected[t0 + 3] = w
    close(z, expected, rtol=0, atol=1e-6 * w)
    assert z[t0 + 3].item() == pytest.approx(w / (1 + 1e-7), rel=1e-12)
    # Any input: shifted copy times w
    x = torch.randn(15, 2, 1, generator=gen(80), dtype=F64)
    zx = delay_conv(x, torch.tensor([[w]], dtype=F64), torch.tensor([[3.0]], dtype=F64), 8, 0, 0.1)
    close(zx[3:], w * x[:-3], rtol=1e-6, atol=1e-12)
    close(zx[:3], torch.zeros_like(zx[:3]), rtol=0, atol=1e-20)        # w * exp(-50) ~ 4e-22

    # sigma_eff = 0.27 (the offset alone) is NOT a one-tap kernel: each neighbour keeps
    # exp(-1/(2*0.27^2)) = 1.050267314039633e-3 of the centre tap, the next 1.2167445204274551e-12.
    g1, g2 = 1.050267314039633e-3, 1.2167445204274551e-12
    z = _impulse_response(3.0, 0.27)
    norm = 1 + 2 * g1 + 2 * g2 + 1e-7                      # taps 0..8 around d=3; rest < 1e-26
    assert z[t0 + 3].item() == pytest.approx(w / norm, rel=1e-12)        # 1.9958075375707405
    assert z[t0 + 2].item() == pytest.approx(w * g1 / norm, rel=1e-12)
    assert z[t0 + 4].item() == pytest.approx(w * g1 / norm, rel=1e-12)
    assert z[t0 + 5].item() == pytest.approx(w * g2 / norm, rel=1e-9)
    assert z.sum().item() == pytest.approx(w * (1 - 1e-7), rel=1e-9)    # unit mass

    # d = 3.5: taps 3 and 4 are equidistant, so the mass splits exactly equally; the next taps
    # keep exp(-(1.5^2 - 0.5^2)/(2*0.27^2)) = 1.1030596e-6 of it.
    z = _impulse_response(3.5, 0.27)
    assert z[t0 + 3].item() == z[t0 + 4].item()
    assert z[t0 + 3].item() == pytest.approx(w / 2, rel=3e-6)
    assert z[t0 + 2].item() == pytest.approx(z[t0 + 3].item() * math.exp(-1.0 / 0.27 ** 2), rel=1e-9)
    assert z[t0 + 5].item() == z[t0 + 2].item()
    close(torch.cat([z[:t0 + 2], z[t0 + 6:]]), torch.zeros(len(z) - 4, dtype=F64), rtol=0, atol=1e-16)


def test_delay_projection_shapes_and_modes():
    x = torch.randn(10, 2, 3, generator=gen(90), dtype=F64)
    for mode, tail, expected_tail in [("learned", None, 3), ("random", None, 3), ("none", None, 0),
                                      ("learned", 5, 5), ("random", 0, 0), ("none", 4, 4)]:
        p = DelayProjection(3, 4, max_delay=7, mode=mode, tail=tail, generator=gen(91))
        assert p.tail == expected_tail
        for training in (True, False):
            p.train(training)
            assert p(x).shape == (10 + expected_tail, 2, 4)


def test_delay_projection_learned_train_and_eval():
    d_max = 6
    p = DelayProjection(3, 2, max_delay=d_max, generator=gen(92))
    assert p.sigma_init == 3.0 and p.sigma_eff == pytest.approx(3.27, abs=1e-15)   # (D+1)//2
    with torch.no_grad():
        p.delay.copy_(torch.tensor([[0.5, 1.5, 2.5], [3.5, 4.49, 5.51]]))
    rounded = torch.tensor([[0, 2, 2], [4, 4, 6]])                # halves to even
    assert torch.equal(p.integer_delays(), rounded)
    x = torch.randn(9, 2, 3, generator=gen(93), dtype=F64)
    w = p.weight.detach().double()

    p.train()
    y = p(x)
    assert torch.equal(y.detach(), delay_conv(x, w, p.delay.detach().double(), d_max, 3, p.sigma_eff))
    y.sum().backward()
    assert p.delay.grad is not None and p.delay.grad.abs().sum() > 0

    p.zero_grad(set_to_none=True)
    p.eval()
    y = p(x)
    close(y.detach(), _integer_loop(x, w, rounded, 3))
    assert torch.equal(y.detach(), delay_conv(x, w, rounded.double(), d_max, 3, None))
    y.sum().backward()
    assert p.delay.grad is None and p.weight.grad is not None

    p_soft = DelayProjection(3, 2, max_delay=d_max, round_in_eval=False, generator=gen(92)).eval()
    p_soft.load_state_dict(p.state_dict())
    close(p_soft(x).detach(), delay_conv(x, w, p.delay.detach().double(), d_max, 3, p.sigma_eff))


def test_delay_projection_random_mode():
    d_max = 5
    p = DelayProjection(30, 40, max_delay=d_max, mode="random", generator=gen(94))
    d = p.delay
    assert not d.requires_grad and "delay" not in dict(p.named_parameters())
    assert torch.equal(d, d.round()) and d.min() >= 0 and d.max() <= d_max
    counts = torch.bincount(d.flatten().long(), minlength=d_max + 1).double()
    assert counts.numel() == d_max + 1
    assert (abs(counts / counts.sum() - 1 / (d_max + 1)) < 0.05).all()    # uniform integers (sd 0.011)
    x = torch.randn(8, 2, 30, generator=gen(95), dtype=F64)
    w = p.weight.detach().double()
    y = p(x)
    assert torch.equal(y.detach(), delay_conv(x, w, d.double(), d_max, d_max // 2, None))
    y.sum().backward()
    assert p.weight.grad is not None
    p.eval()
    assert torch.equal(p(x).detach(), y.detach())


def test_delay_projection_none_mode_is_linear():
    p = DelayProjection(5, 3, max_delay=24, mode="none", generator=gen(96))
    assert p.max_delay == 0 and p.tail == 0
    x = torch.randn(7, 2, 5, generator=gen(97), dtype=F64)
    w = p.weight.detach().double()
    close(p(x), torch.einsum("tbj,ij->tbi", x, w))
    p2 = DelayProjection(5, 3, mode="none", tail=2, generator=gen(96))
    y = p2(x)
    close(y[:7], torch.einsum("tbj,ij->tbi", x, w))
    assert torch.equal(y[7:], torch.zeros(2, 2, 3, dtype=F64))


def test_delay_projection_clamp_delays():
    p = DelayProjection(2, 2, max_delay=10, generator=gen(98))
    with torch.no_grad():
        p.delay.copy_(torch.tensor([[-3.0, 0.5], [10.2, 30.0]]))
    p.clamp_delays()
    assert torch.equal(p.delay.detach(), torch.tensor([[0.0, 0.5], [10.0, 10.0]]))


def test_delay_projection_sigma_schedule():
    p = DelayProjection(2, 2, max_delay=24, generator=gen(99))
    s0, final = 12.0, 10
    assert float(p.sigma) == s0
    for e in range(final + 6):
        p.decay_sigma(e, final)
        k = min(e + 1, final)
        expected = s0 * (0.23 / s0) ** (k / final)
        assert float(p.sigma) == pytest.approx(expected, rel=1e-12), e
        assert p.sigma_eff == pytest.approx(expected + 0.27, rel=1e-12)
    assert float(p.sigma) == pytest.approx(0.23, rel=1e-12)
    assert p.sigma_eff == pytest.approx(0.5, rel=1e-12)
    # no-ops: random mode, an initial sigma already at the floor, final_epoch <= 0
    for q, final_epoch in ((DelayProjection(2, 2, mode="random"), 10),
                           (DelayProjection(2, 2, sigma_init=0.2), 10), (DelayProjection(2, 2), 0)):
        before = float(q.sigma)
        q.decay_sigma(0, final_epoch)
        assert float(q.sigma) == before


def test_delay_projection_initial_delays_follow_paper():
    d_max = 24
    p = DelayProjection(200, 200, max_delay=d_max, generator=gen(100))
    d = p.delay.detach().double().flatten()
    n = d.numel()
    assert d.min() >= 0 and d.max() == d_max
    p_top = 1.0 / (d_max + 1)                     # mass of [D, D+1] clipped onto D
    sd = math.sqrt(p_top * (1 - p_top) / n)       # ~0.001
    assert abs((d == d_max).double().mean().item() - p_top) < 5 * sd
    below = d[d < d_max]
    # the rest is uniform on [0, D): each unit interval holds 1/(D+1)
    counts = torch.histc(below, bins=d_max, min=0, max=d_max) / n
    assert (abs(counts - p_top) < 6 * sd).all()


def test_delay_projection_initial_delays_range():
    d_max = 24
    d = DelayProjection(100, 100, max_delay=d_max, generator=gen(101)).delay.detach()
    assert d.min() >= 0 and d.max() == d_max
    frac_top = (d == d_max).double().mean().item()
    assert 0.02 < frac_top < 0.1                  # a clipped top, whatever its exact size
    w = DelayProjection(100, 100, generator=gen(101)).weight.detach()
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 100)     # Kaiming uniform, ReLU gain, fan_in 100
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound


def test_delay_projection_errors():
    p = DelayProjection(3, 2, max_delay=4)
    with pytest.raises(ValueError, match=r"DelayProjection: expected input of shape \(T, batch, 3\)"):
        p(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match="DelayProjection: expected input"):
        p(torch.zeros(5, 3))
    for kwargs, word in [(dict(n_in=0, n_out=2), "'n_in'"), (dict(n_in=2.5, n_out=2), "'n_in'"),
                         (dict(n_in=2, n_out=-1), "'n_out'"), (dict(n_in=2, n_out=2, mode="soft"), "'mode'"),
                         (dict(n_in=2, n_out=2, max_delay=-1), "'max_delay'"),
                         (dict(n_in=2, n_out=2, max_delay=2.5), "'max_delay'"),
                         (dict(n_in=2, n_out=2, tail=-1), "'tail'"),
                         (dict(n_in=2, n_out=2, sigma_init=-1.0), "'sigma_init'"),
                         (dict(n_in=2, n_out=2, sigma_init=math.nan), "'sigma_init'")]:
        with pytest.raises(ValueError, match=word):
            DelayProjection(**kwargs)
    with torch.no_grad():
        p.delay[0, 1] = math.nan  # what a diverged optimiser step leaves
    with pytest.raises(ValueError, match="delay_conv: the delays hold NaN"):
        p(torch.zeros(5, 2, 3))

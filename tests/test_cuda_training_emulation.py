"""The training kernels without a GPU: kernels/lif_scan.cu and kernels/delay_conv.cu compiled
with g++ and run thread by thread (neurosim.engine.cuda_emulator), driven by the same
autograd functions as on a GPU (neurosim.train.cuda_ops), checked against the PyTorch
references (lif_scan_reference, dense_reference) with torch.autograd, and against the
CPU paths (the Numba scan, the PyTorch delay ops).

The GPU tests at the end run the real CuPy path; they are marked ``gpu`` and skipped
without CuPy and a GPU.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from neurosim.engine import cuda_codegen, cupy_backend
from neurosim.train import cuda_ops
from neurosim.train.autograd import lif_scan, lif_scan_reference
from neurosim.train.delays import DelayProjection, delay_conv, dense_reference
from neurosim.train.surrogate import SURROGATES, Surrogate

from test_train_layers import (F64, _delay_case, _run_scan, _scan_inputs, _value_and_grads,
                               assert_partial_grads_match_reference, close, gen)

REPO = Path(__file__).resolve().parents[1]
SLOPES = {"atan": 2.0, "fast_sigmoid": 5.0, "triangle": 1.0}

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="the CUDA CPU emulation needs g++")


@pytest.fixture(scope="session")
def kernels(tmp_path_factory):
    """The training kernels compiled for the CPU, once per test session (blocks of 32 threads)."""
    if shutil.which("g++") is None:
        pytest.skip("the CUDA CPU emulation needs g++")
    from neurosim.engine.cuda_emulator import CpuEmulatedDevice, build_library
    device = CpuEmulatedDevice(block=32, library=build_library(tmp_path_factory.mktemp("cuda-train-emulator")))
    return cuda_ops.EmulatedKernels(device)


# ---------------------------------------------------------------- generated surrogate code
def test_checked_in_surrogate_header_equals_a_fresh_generation():
    text = (REPO / "kernels" / "surrogates.cuh").read_text()
    assert text == cuda_codegen.generate_surrogate_header(), (
        "kernels/surrogates.cuh is stale: python -m neurosim.engine.cuda_codegen surrogates > kernels/surrogates.cuh")


def test_scalar_translation():
    from neurosim.train.surrogate import triangle_grad
    src = cuda_codegen.translate_scalar(triangle_grad)
    assert src.startswith("template <typename T>\n__device__ inline T triangle_grad(T x, T a, T one)")
    assert "fabs(x)" in src and "((T)(y > T(0.0)))" in src


def _uses_round(x, a):
    return round(x) * a


def _uses_pow(x, a):
    return x ** a


@pytest.mark.parametrize("func,construct", [(_uses_round, "call round"), (_uses_pow, "operator Pow")])
def test_scalar_translator_names_unsupported_constructs(func, construct):
    with pytest.raises(cuda_codegen.UnsupportedConstruct, match=construct):
        cuda_codegen.translate_scalar(func)


# ---------------------------------------------------------------- LIF scan
def _kernel_scan(kernels):
    def fn(z, beta, theta, v0, subtract, detach, sg):
        return cuda_ops.lif_scan_kernel(z, beta, theta, v0, subtract, detach, sg, kernels=kernels)
    return fn


@needs_gxx
@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("subtract", [False, True])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("dtype", [F64, torch.float32])
def test_lif_kernel_matches_reference_and_numba(kernels, name, subtract, detach, dtype):
    sg = Surrogate(name, SLOPES[name])
    args = _scan_inputs(dtype, t=20, b=3, n=23, seed=SURROGATES.index(name) * 4 + 2 * subtract + detach)
    s1, v1, g1, fn1 = _run_scan(_kernel_scan(kernels), *args, subtract, detach, sg)
    s2, v2, g2, _ = _run_scan(lif_scan_reference, *args, subtract, detach, sg)
    s3, v3, g3, _ = _run_scan(lif_scan, *args, subtract, detach, sg)     # the Numba scan
    assert "LIFScanKernelFn" in type(fn1).__name__
    assert 0.05 < s1.mean().item() < 0.6             # the example exercises spikes and resets
    assert torch.equal(s1, s2)
    rtol, atol = (1e-12, 1e-12) if dtype == F64 else (1e-5, 1e-5)
    close(v1, v2, rtol, atol, "final membrane")
    for label, a, b in zip(("z", "beta", "theta", "v0"), g1, g2):
        close(a, b, rtol, atol * max(1.0, b.abs().max().item()), f"grad {label}")
    # same operations in the same order as the Numba kernels: bit-identical
    assert torch.equal(s1, s3) and torch.equal(v1, v3)
    for label, a, b in zip(("z", "beta", "theta", "v0"), g1, g3):
        assert torch.equal(a, b), f"grad {label} differs from the Numba scan"


@needs_gxx
def test_lif_kernel_partial_grads_and_odd_sizes(kernels):
    # batch * n = 3 * 37 = 111 threads: four blocks of 32, the last one partly idle
    args = _scan_inputs(F64, t=9, b=3, n=37, seed=5)
    assert_partial_grads_match_reference(_kernel_scan(kernels), args, Surrogate("atan", 2.0),
                                         [(True, True, True, True), (True, False, False, False),
                                          (False, True, False, True), (False, False, True, False)])


@needs_gxx
def test_lif_kernel_one_step_and_non_contiguous_input(kernels):
    sg = Surrogate("fast_sigmoid", 25.0)
    z, beta, theta, v0, cs, cv = _scan_inputs(F64, t=1, b=2, n=5, seed=3)
    got = _run_scan(_kernel_scan(kernels), z, beta, theta, v0, cs, cv, False, True, sg)
    ref = _run_scan(lif_scan_reference, z, beta, theta, v0, cs, cv, False, True, sg)
    for a, b in zip(got[:2] + tuple(got[2]), ref[:2] + tuple(ref[2])):
        close(a, b)
    z2 = torch.randn(4, 5, 2, dtype=F64, generator=gen(1)).permute(0, 2, 1)   # (T, batch, n), not contiguous
    s1, v1 = cuda_ops.lif_scan_kernel(z2, beta, theta, torch.zeros(2, 5, dtype=F64), kernels=kernels)
    s2, v2 = lif_scan_reference(z2, beta, theta, torch.zeros(2, 5, dtype=F64), False, True, Surrogate())
    assert torch.equal(s1, s2)
    close(v1, v2)


@needs_gxx
def test_lif_kernel_errors(kernels):
    z = torch.zeros(3, 2, 4)
    beta, theta, v0 = torch.full((4,), 0.9), torch.ones(4), torch.zeros(2, 4)
    with pytest.raises(TypeError, match="'z' of dtype torch.float16"):
        cuda_ops.lif_scan_kernel(z.half(), beta.half(), theta.half(), v0.half(), kernels=kernels)
    with pytest.raises(TypeError, match="'theta' has dtype torch.float64"):
        cuda_ops.lif_scan_kernel(z, beta, theta.double(), v0, kernels=kernels)
    with pytest.raises(ValueError, match="'v0' must have shape"):
        cuda_ops.lif_scan_kernel(z, beta, theta, v0[:1], kernels=kernels)
    with pytest.raises(ValueError, match="must be on a CUDA device"):
        cuda_ops.lif_scan_kernel(z, beta, theta, v0)
    with pytest.raises(TypeError, match="'z' must be a floating-point tensor"):
        lif_scan(z.long(), beta, theta, v0)


def test_lif_scan_dispatch_needs_cuda_and_cupy(monkeypatch):
    # without a CUDA device lif_scan never touches the kernels; the check is cheap and cached
    if not torch.cuda.is_available():
        called = []
        monkeypatch.setattr(cuda_ops, "lif_scan_kernel", lambda *a, **k: called.append(1))
        z, beta, theta, v0, _, _ = _scan_inputs(F64, t=3, b=1, n=2)
        lif_scan(z, beta, theta, v0)
        assert not called


# ---------------------------------------------------------------- delay projection
DELAY_CASES = [(sig, d_max, tail, dtype)
               for sig in (None, 0.5, 2.0)
               for d_max, tail in ((0, 0), (5, 2), (12, 6))
               for dtype in (F64, torch.float32)]


@needs_gxx
@pytest.mark.parametrize("sigma,d_max,tail,dtype", DELAY_CASES)
def test_delay_kernels_match_dense_reference_and_torch_ops(kernels, sigma, d_max, tail, dtype):
    x, w, d = _delay_case(11, 2, 5, 33, d_max, seed=int(10 * (sigma or 0)) + d_max)   # 165 synapses
    if sigma is None:
        d = d.round()
    x, w, d = (u.to(dtype) for u in (x, w, d))
    c = torch.randn(11 + tail, 2, 33, generator=gen(d_max), dtype=dtype)

    def kernel_fn(*a):
        return cuda_ops.delay_conv_kernel(*a, kernels=kernels)

    def grads(fn):
        leaves = [u.clone().requires_grad_(sigma is not None or i < 2) for i, u in enumerate((x, w, d))]
        z = fn(*leaves, d_max, tail, sigma)
        (z * c).sum().backward()
        return [z.detach()] + [u.grad for u in leaves]

    got, ref, cpu = grads(kernel_fn), grads(dense_reference), grads(delay_conv)
    assert got[0].shape == (11 + tail, 2, 33)
    rtol, atol = (1e-12, 1e-12) if dtype == F64 else (1e-5, 1e-5)
    for label, a, e, p in zip(("z", "x", "w", "d"), got, ref, cpu):
        if e is None:
            assert a is None and label == "d"
            continue
        scale = max(1.0, e.abs().max().item())
        close(a, e, rtol, atol * scale, f"{label} vs dense reference")
        close(a, p, rtol, atol * scale, f"{label} vs the PyTorch ops")


@needs_gxx
def test_delay_kernels_partial_grads(kernels):
    x, w, d = _delay_case(8, 2, 4, 3, 6, seed=2)
    c = torch.randn(11, 2, 3, generator=gen(0), dtype=F64)
    for need in [(True, False, False), (False, True, False), (False, False, True)]:
        leaves = [u.clone().requires_grad_(r) for u, r in zip((x, w, d), need)]
        (cuda_ops.delay_conv_kernel(*leaves, 6, 3, 1.3, kernels=kernels) * c).sum().backward()
        ref = _value_and_grads(dense_reference, x, w, d, c, 6, 3, 1.3)
        for u, e, r in zip(leaves, ref[1:], need):
            if r:
                close(u.grad, e)
            else:
                assert u.grad is None


@needs_gxx
def test_delay_kernel_errors(kernels):
    x, w, d = _delay_case(5, 1, 3, 2, 4, seed=0)
    with pytest.raises(ValueError, match="delays must lie in"):
        cuda_ops.delay_conv_kernel(x, w, d + 5, 4, 2, 1.0, kernels=kernels)
    with pytest.raises(TypeError, match="'w' has dtype torch.float32"):
        cuda_ops.delay_conv_kernel(x, w.float(), d, 4, 2, 1.0, kernels=kernels)
    with pytest.raises(TypeError, match="'x' of dtype torch.bfloat16"):
        cuda_ops.delay_conv_kernel(x.bfloat16(), w.bfloat16(), d.bfloat16(), 4, 2, 1.0, kernels=kernels)
    with pytest.raises(ValueError, match="must be on a CUDA device"):
        cuda_ops.delay_conv_kernel(x, w, d, 4, 2, 1.0)


# ---------------------------------------------------------------- benchmark path
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without a CUDA device")
def test_training_benchmark_on_cuda_without_a_gpu_says_so(capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location("train_vs_snntorch", REPO / "benchmarks" / "train_vs_snntorch.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--device", "cuda", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "--device cuda: cannot run" in err and "no CUDA device" in err and "Nothing was measured" in err


# ---------------------------------------------------------------- on a real GPU
@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("subtract,detach", [(False, True), (True, False)])
@pytest.mark.parametrize("dtype", [F64, torch.float32])
@pytest.mark.gpu
@pytest.mark.skipif(not (torch.cuda.is_available() and cupy_backend.gpu_available()),
                    reason="needs a CUDA build of PyTorch, CuPy and an NVIDIA GPU")
def test_gpu_lif_scan_matches_reference(name, subtract, detach, dtype):
    sg = Surrogate(name, SLOPES[name])
    args = [u.cuda() for u in _scan_inputs(dtype, t=30, b=4, n=300, seed=SURROGATES.index(name))]
    s1, v1, g1, fn1 = _run_scan(lif_scan, *args, subtract, detach, sg)     # dispatches to the kernel
    s2, v2, g2, _ = _run_scan(lif_scan_reference, *args, subtract, detach, sg)
    assert "LIFScanKernelFn" in type(fn1).__name__
    assert torch.equal(s1, s2)
    rtol, atol = (1e-12, 1e-12) if dtype == F64 else (1e-5, 1e-5)
    close(v1, v2, rtol, atol)
    for label, a, b in zip(("z", "beta", "theta", "v0"), g1, g2):
        close(a, b, rtol, atol * max(1.0, b.abs().max().item()), f"grad {label}")


@pytest.mark.parametrize("sigma", [None, 0.5, 3.0])
@pytest.mark.gpu
@pytest.mark.skipif(not (torch.cuda.is_available() and cupy_backend.gpu_available()),
                    reason="needs a CUDA build of PyTorch, CuPy and an NVIDIA GPU")
def test_gpu_delay_conv_matches_dense_reference(sigma):
    x, w, d = (u.cuda() for u in _delay_case(40, 3, 50, 60, 12, seed=4))
    if sigma is None:
        d = d.round()
    c = torch.randn(46, 3, 60, generator=gen(1), dtype=F64).cuda()
    got = _value_and_grads(delay_conv, x, w, d, c, 12, 6, sigma)      # dispatches to the kernels
    ref = _value_and_grads(dense_reference, x, w, d, c, 12, 6, sigma)
    for label, a, e in zip(("z", "x", "w", "d"), got, ref):
        if sigma is None and label == "d":
            continue
        close(a, e, 1e-10, 1e-10 * max(1.0, e.abs().max().item()), label)


@pytest.mark.gpu
@pytest.mark.skipif(not (torch.cuda.is_available() and cupy_backend.gpu_available()),
                    reason="needs a CUDA build of PyTorch, CuPy and an NVIDIA GPU")
def test_gpu_delay_projection_trains():
    proj = DelayProjection(20, 10, max_delay=8, generator=gen(0)).cuda()
    x = torch.randn(30, 4, 20, device="cuda")
    proj(x).pow(2).sum().backward()
    assert proj.weight.grad is not None and proj.delay.grad is not None
    assert torch.isfinite(proj.delay.grad).all()

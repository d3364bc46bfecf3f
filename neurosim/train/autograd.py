"""PyTorch autograd functions: the surrogate spike and the fused LIF time scan.

``lif_scan`` advances a layer of LIF neurons over all time steps in one call.
On CPU the whole scan (forward and backward) is one compiled Numba loop per
direction, so a 500-step sequence costs two kernel launches instead of
thousands of small tensor operations.  On a CUDA device, when CuPy sees the
GPU, it is one CUDA kernel per direction (``kernels/lif_scan.cu``, see
:mod:`neurosim.train.cuda_ops`; tensors shared through DLPack).  Elsewhere
(CUDA without CuPy, other devices, other dtypes) it falls back to
:func:`lif_scan_reference`, the same equations written as a plain PyTorch
loop (also the oracle in the tests).

Equations per step ``t`` (per neuron; ``beta`` is the membrane decay per
step, ``theta`` the threshold, ``z`` the input already summed over synapses)::

    u[t] = beta * v[t-1] + z[t]             # membrane before reset
    s[t] = H(u[t] - theta)                  # spike (surrogate gradient)
    v[t] = u[t] * (1 - s[t])                # reset="zero"
    v[t] = u[t] - theta * s[t]              # reset="subtract"

With ``detach_reset`` the reset term carries no gradient (SpikingJelly's
``detach_reset=True``, used by DCLS-Delays).
"""
from __future__ import annotations

import warnings

import numba
import numpy as np
import torch

from .surrogate import Surrogate, _atan_grad_jit, _fast_sigmoid_grad_jit, _triangle_grad_jit

_WARNED_NO_CUPY = False


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.grad(x), None


def spike_fn(x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
    """``H(x)`` forward (1.0 where ``x > 0``), ``surrogate.grad(x)`` backward."""
    return _SpikeFn.apply(x, surrogate)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _scan_forward(z, beta, theta, v, subtract, u_out, s_out):  # pragma: no cover - compiled
    """z, u_out, s_out: (T, batch, n); v: (batch, n), updated in place.

    Constants are made in the arrays' precision, so float32 stays float32."""
    n_steps, batch, n = z.shape
    one = v.dtype.type(1.0)
    keep = one if subtract else one - one     # reset: v = u - theta * s, or u * (1 - s)
    drop = one - keep
    for b in range(batch):
        for t in range(n_steps):
            for j in range(n):              # contiguous, branch-free: vectorises
                th = theta[j]
                u = beta[j] * v[b, j] + z[t, b, j]
                s = u > th
                u_out[t, b, j] = u
                s_out[t, b, j] = s
                v[b, j] = u - s * (keep * th + drop * u)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _surrogate_row(kind, a, u, theta, out):  # pragma: no cover - compiled
    """``out[j] = sigma'(u[j] - theta[j])``, one loop per surrogate (each vectorises)."""
    one = out.dtype.type(1.0)
    if kind == 0:
        pi = out.dtype.type(np.pi)
        for j in range(u.size):
            out[j] = _atan_grad_jit(u[j] - theta[j], a, one, pi)
    elif kind == 1:
        for j in range(u.size):
            out[j] = _fast_sigmoid_grad_jit(u[j] - theta[j], a, one)
    else:
        for j in range(u.size):
            out[j] = _triangle_grad_jit(u[j] - theta[j], a, one)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _reset_row(u, theta, sg, sub, att, out):  # pragma: no cover - compiled
    """``out[j] = d v / d u`` at one step: the membrane kept through the reset, for a
    reset by subtraction (``sub = 1``) or to zero (``sub = 0``), with the reset's own
    gradient (``att = 1``) or detached (``att = 0``)."""
    one = out.dtype.type(1.0)
    for j in range(u.size):
        s = u[j] > theta[j]
        out[j] = sub * (one - att * theta[j] * sg[j]) + (one - sub) * ((one - s) - att * u[j] * sg[j])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _scan_backward(gs, g_v, u_all, v0, beta, theta, subtract, detach, kind, a,
                   gz, g_beta, g_theta, need_params):  # pragma: no cover - compiled
    """gs, u_all, gz: (T, batch, n); g_v, v0, g_beta, g_theta: (batch, n).

    Per step, the surrogate and ``d v / d u`` are first written to row buffers
    (and, with ``need_params``, the membrane after the previous step's reset),
    so each loop over neurons is short, branch-free and vectorises.
    ``g_beta`` and ``g_theta`` are accumulated only with ``need_params``.
    Constants are made in the arrays' precision."""
    n_steps, batch, n = gs.shape
    one = g_v.dtype.type(1.0)
    sub = one if subtract else one - one      # 1: reset by subtraction, 0: to zero
    att = one - one if detach else one         # 1: the reset carries gradient
    sg = np.empty(n, dtype=g_v.dtype)
    dv_du = np.empty(n, dtype=g_v.dtype)
    v_prev = np.empty(n, dtype=g_v.dtype)
    for b in range(batch):
        gv = g_v[b]
        for t in range(n_steps - 1, -1, -1):
            u_t, gs_t, gz_t = u_all[t, b], gs[t, b], gz[t, b]
            _surrogate_row(kind, a, u_t, theta, sg)
            _reset_row(u_t, theta, sg, sub, att, dv_du)
            if need_params:
                if t == 0:
                    v_prev[:] = v0[b]
                else:
                    u_p = u_all[t - 1, b]
                    for j in range(n):
                        sp = u_p[j] > theta[j]
                        v_prev[j] = u_p[j] - sp * (sub * theta[j] + (one - sub) * u_p[j])
                gt, gb = g_theta[b], g_beta[b]
                for j in range(n):
                    s = u_t[j] > theta[j]
                    dv_dth = sub * (att * theta[j] * sg[j] - s) + (one - sub) * att * u_t[j] * sg[j]
                    gt[j] += gv[j] * dv_dth - gs_t[j] * sg[j]
            for j in range(n):
                gz_t[j] = gs_t[j] * sg[j] + gv[j] * dv_du[j]
            if need_params:
                for j in range(n):
                    gb[j] += gz_t[j] * v_prev[j]
            for j in range(n):
                gv[j] = gz_t[j] * beta[j]


class _LIFScanFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, beta, theta, v0, subtract, detach, surrogate):
        zn = z.detach().contiguous().numpy()
        b = beta.detach().contiguous().numpy()
        th = theta.detach().contiguous().numpy()
        v = v0.detach().clone().contiguous().numpy()
        u = torch.empty_like(z, memory_format=torch.contiguous_format)
        s = torch.empty_like(u)
        _scan_forward(zn, b, th, v, subtract, u.numpy(), s.numpy())
        ctx.save_for_backward(u, beta, theta, v0)
        ctx.flags = (subtract, detach, surrogate)
        return s, torch.from_numpy(v)

    @staticmethod
    def backward(ctx, gs, g_v_final):
        u, beta, theta, v0 = ctx.saved_tensors
        subtract, detach, surrogate = ctx.flags
        gs_n = gs.to(u.dtype).contiguous().numpy()
        g_v = g_v_final.to(u.dtype).clone().contiguous().numpy()
        gz = torch.empty_like(u)
        g_beta = np.zeros(v0.shape, dtype=g_v.dtype)
        g_theta = np.zeros(v0.shape, dtype=g_v.dtype)
        _scan_backward(gs_n, g_v, u.numpy(), v0.detach().contiguous().numpy(),
                       beta.detach().contiguous().numpy(), theta.detach().contiguous().numpy(),
                       subtract, detach, surrogate.kind, g_v.dtype.type(surrogate.a), gz.numpy(), g_beta, g_theta,
                       bool(ctx.needs_input_grad[1] or ctx.needs_input_grad[2]))
        gb = torch.from_numpy(g_beta).sum(0) if ctx.needs_input_grad[1] else None
        gt = torch.from_numpy(g_theta).sum(0) if ctx.needs_input_grad[2] else None
        g_v0 = torch.from_numpy(g_v) if ctx.needs_input_grad[3] else None
        return gz, gb, gt, g_v0, None, None, None


def lif_scan_reference(z: torch.Tensor, beta: torch.Tensor, theta: torch.Tensor, v0: torch.Tensor,
                       subtract: bool, detach: bool, surrogate: Surrogate
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """The LIF scan as a plain PyTorch loop (any device; differentiable by autograd)."""
    v = v0
    spikes = []
    for t in range(z.shape[0]):
        u = beta * v + z[t]
        s = spike_fn(u - theta, surrogate)
        r = s.detach() if detach else s
        v = u - theta * r if subtract else u * (1.0 - r)
        spikes.append(s)
    return torch.stack(spikes), v


def check_lif_scan_shapes(z: torch.Tensor, beta: torch.Tensor, theta: torch.Tensor, v0: torch.Tensor) -> None:
    """Raise ValueError naming the argument unless ``z`` is ``(T, batch, n)``, ``beta`` and
    ``theta`` ``(n,)`` and ``v0`` ``(batch, n)``."""
    if z.dim() != 3:
        raise ValueError(f"lif_scan: 'z' must have shape (T, batch, n), got {tuple(z.shape)}")
    n = z.shape[-1]
    for name, value, shape in (("beta", beta, (n,)), ("theta", theta, (n,)), ("v0", v0, tuple(z.shape[1:]))):
        if tuple(value.shape) != shape:
            raise ValueError(f"lif_scan: '{name}' must have shape {shape}, got {tuple(value.shape)}")


def lif_scan(z: torch.Tensor, beta: torch.Tensor, theta: torch.Tensor, v0: torch.Tensor,
             subtract: bool = False, detach: bool = True,
             surrogate: Surrogate = Surrogate()) -> tuple[torch.Tensor, torch.Tensor]:
    """Run LIF neurons over ``z`` of shape ``(T, batch, n)``; returns spikes and final ``v``.

    ``beta`` and ``theta`` have shape ``(n,)``; ``v0`` has shape ``(batch, n)``.
    Where it runs: the Numba scan on CPU tensors, the CUDA kernel on CUDA
    tensors when CuPy sees the GPU (both for float32/float64 tensors of one
    dtype and device), otherwise :func:`lif_scan_reference`.
    """
    check_lif_scan_shapes(z, beta, theta, v0)
    for name, value in (("z", z), ("beta", beta), ("theta", theta), ("v0", v0)):
        if not value.is_floating_point():
            raise TypeError(f"lif_scan: '{name}' must be a floating-point tensor, got dtype {value.dtype}")
    same = (z.dtype in (torch.float32, torch.float64)
            and all(x.device == z.device and x.dtype == z.dtype for x in (beta, theta, v0)))
    if same and z.device.type == "cpu":
        return _LIFScanFn.apply(z, beta, theta, v0, subtract, detach, surrogate)
    if same and z.device.type == "cuda":
        from .cuda_ops import cuda_kernels_available, lif_scan_kernel
        if cuda_kernels_available():
            return lif_scan_kernel(z, beta, theta, v0, subtract, detach, surrogate)
        global _WARNED_NO_CUPY
        if not _WARNED_NO_CUPY:
            _WARNED_NO_CUPY = True
            warnings.warn("lif_scan: CUDA tensors but CuPy is missing or sees no GPU, so the LIF scan runs "
                          "as a PyTorch loop over time steps (slow); pip install 'neurosim[gpu]' for the fused "
                          "CUDA kernel", RuntimeWarning, stacklevel=2)
    return lif_scan_reference(z, beta, theta, v0, subtract, detach, surrogate)

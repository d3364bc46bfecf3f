"""PyTorch autograd functions: the surrogate spike and the fused LIF time scan.

``lif_scan`` advances a layer of LIF neurons over all time steps in one call.
On CPU the whole scan (forward and backward) is one compiled Numba loop per
direction, so a 500-step sequence costs two kernel launches instead of
thousands of small tensor operations; on other devices it falls back to
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

import numba
import numpy as np
import torch

from .surrogate import Surrogate, surrogate_grad_jit

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


@numba.njit(parallel=True, cache=True)
def _scan_forward(z, beta, theta, v, subtract, u_out, s_out):  # pragma: no cover - compiled
    """z, u_out, s_out: (T, batch, n); v: (batch, n), updated in place."""
    n_steps, batch, n = z.shape
    for b in numba.prange(batch):
        for t in range(n_steps):
            for j in range(n):              # contiguous, branch-light: vectorises
                th = theta[j]
                u = beta[j] * v[b, j] + z[t, b, j]
                s = u > th
                u_out[t, b, j] = u
                s_out[t, b, j] = s
                v[b, j] = u - th * s if subtract else u * (1 - s)


@numba.njit(parallel=True, cache=True)
def _scan_backward(gs, g_v, u_all, v0, beta, theta, subtract, detach, kind, a,
                   gz, g_beta, g_theta):  # pragma: no cover - compiled
    """gs, u_all, gz: (T, batch, n); g_v, v0, g_beta, g_theta: (batch, n)."""
    n_steps, batch, n = gs.shape
    for b in numba.prange(batch):
        for t in range(n_steps - 1, -1, -1):
            for j in range(n):
                th = theta[j]
                bt = beta[j]
                u = u_all[t, b, j]
                s = 1.0 if u > th else 0.0
                sg = surrogate_grad_jit(kind, a, u - th)
                if t == 0:
                    v_prev = v0[b, j]
                else:
                    up = u_all[t - 1, b, j]
                    sp = 1.0 if up > th else 0.0
                    v_prev = up - th * sp if subtract else up * (1.0 - sp)
                if subtract:
                    dv_du = 1.0 if detach else 1.0 - th * sg
                    dv_dth = -s if detach else -s + th * sg
                else:
                    dv_du = (1.0 - s) if detach else (1.0 - s) - u * sg
                    dv_dth = 0.0 if detach else u * sg
                gu = gs[t, b, j] * sg + g_v[b, j] * dv_du
                g_theta[b, j] += -gs[t, b, j] * sg + g_v[b, j] * dv_dth
                g_beta[b, j] += gu * v_prev
                gz[t, b, j] = gu
                g_v[b, j] = gu * bt


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
                       subtract, detach, surrogate.kind, float(surrogate.a), gz.numpy(), g_beta, g_theta)
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


def lif_scan(z: torch.Tensor, beta: torch.Tensor, theta: torch.Tensor, v0: torch.Tensor,
             subtract: bool = False, detach: bool = True,
             surrogate: Surrogate = Surrogate()) -> tuple[torch.Tensor, torch.Tensor]:
    """Run LIF neurons over ``z`` of shape ``(T, batch, n)``; returns spikes and final ``v``.

    ``beta`` and ``theta`` have shape ``(n,)``; ``v0`` has shape ``(batch, n)``.
    """
    if z.dim() != 3:
        raise ValueError(f"lif_scan: 'z' must have shape (T, batch, n), got {tuple(z.shape)}")
    n = z.shape[-1]
    for name, value, shape in (("beta", beta, (n,)), ("theta", theta, (n,)), ("v0", v0, tuple(z.shape[1:]))):
        if tuple(value.shape) != shape:
            raise ValueError(f"lif_scan: '{name}' must have shape {shape}, got {tuple(value.shape)}")
    fused = (z.device.type == "cpu" and z.dtype in (torch.float32, torch.float64)
             and all(x.device.type == "cpu" and x.dtype == z.dtype for x in (beta, theta, v0)))
    if fused:
        return _LIFScanFn.apply(z, beta, theta, v0, subtract, detach, surrogate)
    return lif_scan_reference(z, beta, theta, v0, subtract, detach, surrogate)

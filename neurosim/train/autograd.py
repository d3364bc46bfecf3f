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

_CHUNK = 512


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
    n_steps, m_total = z.shape
    n = beta.shape[0]
    n_chunks = (m_total + _CHUNK - 1) // _CHUNK
    for c in numba.prange(n_chunks):
        lo = c * _CHUNK
        hi = min(lo + _CHUNK, m_total)
        for t in range(n_steps):
            j = lo % n                      # neuron index of m, advanced without a modulo
            for m in range(lo, hi):
                th = theta[j]
                u = beta[j] * v[m] + z[t, m]
                s = 1.0 if u > th else 0.0
                u_out[t, m] = u
                s_out[t, m] = s
                v[m] = u - th * s if subtract else u * (1.0 - s)
                j += 1
                if j == n:
                    j = 0


@numba.njit(parallel=True, cache=True)
def _scan_backward(gs, g_v, u_all, v0, beta, theta, subtract, detach, kind, a,
                   gz, g_beta, g_theta):  # pragma: no cover - compiled
    n_steps, m_total = gs.shape
    n = beta.shape[0]
    n_chunks = (m_total + _CHUNK - 1) // _CHUNK
    for c in numba.prange(n_chunks):
        lo = c * _CHUNK
        hi = min(lo + _CHUNK, m_total)
        for t in range(n_steps - 1, -1, -1):
            j = lo % n
            for m in range(lo, hi):
                th = theta[j]
                b = beta[j]
                j += 1
                if j == n:
                    j = 0
                u = u_all[t, m]
                s = 1.0 if u > th else 0.0
                sg = surrogate_grad_jit(kind, a, u - th)
                if t == 0:
                    v_prev = v0[m]
                else:
                    up = u_all[t - 1, m]
                    sp = 1.0 if up > th else 0.0
                    v_prev = up - th * sp if subtract else up * (1.0 - sp)
                if subtract:
                    dv_du = 1.0 if detach else 1.0 - th * sg
                    dv_dth = -s if detach else -s + th * sg
                else:
                    dv_du = (1.0 - s) if detach else (1.0 - s) - u * sg
                    dv_dth = 0.0 if detach else u * sg
                gu = gs[t, m] * sg + g_v[m] * dv_du
                g_theta[m] += -gs[t, m] * sg + g_v[m] * dv_dth
                g_beta[m] += gu * v_prev
                gz[t, m] = gu
                g_v[m] = gu * b


class _LIFScanFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, beta, theta, v0, subtract, detach, surrogate):
        n_steps = z.shape[0]
        zf = z.detach().contiguous().reshape(n_steps, -1)
        zn = zf.numpy()
        b = beta.detach().contiguous().numpy()
        th = theta.detach().contiguous().numpy()
        v = v0.detach().reshape(-1).clone().numpy()
        u = np.empty_like(zn)
        s = np.empty_like(zn)
        _scan_forward(zn, b, th, v, subtract, u, s)
        u_t = torch.from_numpy(u)
        ctx.save_for_backward(u_t, beta, theta, v0)
        ctx.flags = (subtract, detach, surrogate)
        return torch.from_numpy(s).reshape(z.shape), torch.from_numpy(v).reshape(v0.shape)

    @staticmethod
    def backward(ctx, gs, g_v_final):
        u, beta, theta, v0 = ctx.saved_tensors
        subtract, detach, surrogate = ctx.flags
        n_steps, m_total = u.shape
        n = beta.shape[0]
        gs_n = gs.contiguous().reshape(n_steps, m_total).to(u.dtype).numpy()
        g_v = g_v_final.reshape(-1).to(u.dtype).clone().numpy()
        gz = np.empty_like(gs_n)
        g_beta = np.zeros(m_total, dtype=gz.dtype)
        g_theta = np.zeros(m_total, dtype=gz.dtype)
        _scan_backward(gs_n, g_v, u.numpy(), v0.detach().reshape(-1).contiguous().numpy(),
                       beta.detach().contiguous().numpy(), theta.detach().contiguous().numpy(),
                       subtract, detach, surrogate.kind, float(surrogate.a), gz, g_beta, g_theta)
        shape = gs.shape
        gb = torch.from_numpy(g_beta).reshape(-1, n).sum(0) if ctx.needs_input_grad[1] else None
        gt = torch.from_numpy(g_theta).reshape(-1, n).sum(0) if ctx.needs_input_grad[2] else None
        g_v0 = torch.from_numpy(g_v).reshape(v0.shape) if ctx.needs_input_grad[3] else None
        return torch.from_numpy(gz).reshape(shape), gb, gt, g_v0, None, None, None


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

"""Projections with per-synapse, learnable transmission delays (DCLS-Delays).

Method: Hammouamri, Khalfaoui-Hassani & Masquelier, "Learning Delays in
Spiking Neural Networks using Dilated Convolutions with Learnable Spacings",
ICLR 2024 (arXiv:2306.17670).  Each synapse ``i <- j`` has a weight
``w[i, j]`` and a continuous delay ``d[i, j]`` in steps, ``0 <= d <= D``
(``D = max_delay``).  During training the delay is spread over the integer
taps ``k = 0 .. D`` by a Gaussian of width ``sigma_eff = |sigma| + 0.27``
normalised over the taps::

    g[i, j, k] = exp(-((k - d[i, j]) / sigma_eff)^2 / 2)
    z_i[t]     = sum_j w[i, j] sum_k g[i, j, k] / (sum_k' g[i, j, k'] + 1e-7) * x_j[t - k]

``sigma`` shrinks during training (:meth:`DelayProjection.decay_sigma`); for
inference delays are rounded (halves to even) and the kernel becomes one tap
per synapse, ``z_i[t] = sum_j w[i, j] x_j[t - round(d[i, j])]`` -- the form the
event-driven simulator runs.  The output is ``tail`` steps longer than the
input so that late input still reaches the output (the paper pads by
``D // 2``).  The paper's positions ``p`` map to delays as ``d = D/2 - p``.

How it is computed: the paper builds the dense ``(out, in, D + 1)`` kernel and
runs a 1-D convolution; autograd then keeps several kernel-sized tensors.
Here a custom autograd function sums one matrix product per tap that carries
any weight (``z[t + k] += x[t] @ A_k^T``), building each tap matrix ``A_k``
from ``w`` and ``d`` on the fly in the forward *and* the backward pass, so
nothing of kernel size is stored: memory is ``O(in * out)`` plus the
activations.  Taps beyond every synapse's Gaussian (relative weight below
1e-12) and, for integer delays, taps no synapse uses, are skipped.
:func:`dense_reference` is the straightforward kernel-plus-convolution
implementation the tests compare against.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("learned", "random", "none")
SIGMA_OFFSET = 0.27       # sigma_eff = |sigma| + 0.27 (paper's code)
SIGMA_FLOOR = 0.23        # sigma stops decaying here, sigma_eff = 0.5
NORM_EPS = 1e-7           # added to the Gaussian normaliser (paper's code)
_TAIL_CUT = math.sqrt(2.0 * math.log(1e12))   # taps with g < 1e-12 * peak are skipped


def _gauss_norm(d: torch.Tensor, sigma_eff: float, n_taps: int):
    """Normaliser ``S = sum_k g_k + eps`` and ``dS/dd`` for all synapses."""
    s = torch.full_like(d, NORM_EPS)
    ds = torch.zeros_like(d)
    for k in range(n_taps):
        off = k - d
        g = torch.exp(-0.5 * (off / sigma_eff) ** 2)
        s += g
        ds += g * off / sigma_eff ** 2
    return s, ds


def _active_taps(d: torch.Tensor, sigma_eff: float | None, n_taps: int) -> list[int]:
    if sigma_eff is None:
        return [int(k) for k in torch.unique(d).tolist()]
    reach = sigma_eff * _TAIL_CUT
    lo = max(0, math.floor(float(d.min()) - reach))
    hi = min(n_taps - 1, math.ceil(float(d.max()) + reach))
    return list(range(lo, hi + 1))


def _tap(d, k, sigma_eff, norm, dtype):
    """Weight of tap ``k`` for delays ``d``: 1 where ``d == k`` (integer delays), else the
    normalised Gaussian ``exp(-(k - d)^2 / (2 sigma^2)) / norm``."""
    if sigma_eff is None:
        return (d == k).to(dtype)
    return torch.exp(-0.5 * ((k - d) / sigma_eff) ** 2) / norm


def _tap_matrix(w, d, k, sigma_eff, norm):
    return w * _tap(d, k, sigma_eff, norm, w.dtype)


class TorchDelayOps:
    """The element-wise parts of :class:`_DelayFn` as PyTorch operations (any device).

    ``neurosim.train.cuda_ops.KernelDelayOps`` does the same with fused CUDA
    kernels; the matrix products stay in :class:`_DelayFn` either way.
    """

    def gauss_norm(self, d: torch.Tensor, sigma_eff: float, n_taps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Normaliser ``N = sum_k g_k + eps`` and ``dN/dd`` per synapse."""
        return _gauss_norm(d, sigma_eff, n_taps)

    def tap_matrix(self, w: torch.Tensor, d: torch.Tensor, k: int, sigma_eff: float | None,
                   norm: torch.Tensor | None) -> torch.Tensor:
        """``A_k = w * tap_k(d)``."""
        return _tap_matrix(w, d, k, sigma_eff, norm)

    def tap_grads(self, g_a: torch.Tensor | None, w: torch.Tensor, d: torch.Tensor, k: int,
                  sigma_eff: float | None, norm: torch.Tensor | None, dnorm: torch.Tensor | None,
                  gw: torch.Tensor | None, gd: torch.Tensor | None, want_a: bool) -> torch.Tensor | None:
        """Accumulate tap ``k``'s share of ``gw`` and ``gd`` (from ``g_a = dL/dA_k``, in place);
        return ``A_k`` when ``want_a``."""
        tap = _tap(d, k, sigma_eff, norm, w.dtype)
        if gw is not None:
            gw += g_a * tap
        if gd is not None:
            gd += g_a * w * tap * ((k - d) / sigma_eff ** 2 - dnorm / norm)
        return w * tap if want_a else None


TORCH_OPS = TorchDelayOps()


class _DelayFn(torch.autograd.Function):
    """``z = delay_conv(x; w, d)`` with tap matrices rebuilt in the backward pass.

    ``sigma_eff=None`` means integer delays (``d`` holds whole steps, no delay
    gradient).  ``ops`` does the element-wise work (:data:`TORCH_OPS`, or the
    CUDA kernels of :mod:`neurosim.train.cuda_ops`).
    """

    @staticmethod
    def forward(ctx, x, w, d, sigma_eff, n_taps, tail, ops=TORCH_OPS):
        n_steps, batch, n_in = x.shape
        n_out = w.shape[0]
        z = x.new_zeros(n_steps + tail, batch, n_out)
        if sigma_eff is not None:
            norm, dnorm = ops.gauss_norm(d, sigma_eff, n_taps)
        else:
            norm = dnorm = None
        for k in _active_taps(d, sigma_eff, n_taps):
            n = min(n_steps, n_steps + tail - k)
            if n <= 0:
                continue
            a = ops.tap_matrix(w, d, k, sigma_eff, norm)
            z[k:k + n].view(n * batch, n_out).addmm_(x[:n].reshape(n * batch, n_in), a.t())
        ctx.save_for_backward(x, w, d)
        ctx.params = (sigma_eff, n_taps, tail, norm, dnorm, ops)
        return z

    @staticmethod
    def backward(ctx, gz):
        x, w, d = ctx.saved_tensors
        sigma_eff, n_taps, tail, norm, dnorm, ops = ctx.params
        n_steps, batch, n_in = x.shape
        n_out = w.shape[0]
        gz = gz.contiguous()
        need_x, need_w, need_d = ctx.needs_input_grad[:3]
        dense = torch.contiguous_format
        gx = torch.zeros_like(x, memory_format=dense) if need_x else None
        gw = torch.zeros_like(w, memory_format=dense) if need_w else None
        gd = torch.zeros_like(d, memory_format=dense) if (need_d and sigma_eff is not None) else None
        for k in _active_taps(d, sigma_eff, n_taps):
            n = min(n_steps, n_steps + tail - k)
            if n <= 0:
                continue
            gzk = gz[k:k + n].view(n * batch, n_out)
            g_a = gzk.t() @ x[:n].reshape(n * batch, n_in) if (need_w or gd is not None) else None
            a = ops.tap_grads(g_a, w, d, k, sigma_eff, norm, dnorm, gw, gd, need_x)
            if need_x:
                gx[:n].view(n * batch, n_in).addmm_(gzk, a)
        return gx, gw, gd, None, None, None, None


def check_delay_args(x: torch.Tensor, w: torch.Tensor, d: torch.Tensor, max_delay: int, tail: int,
                     sigma_eff: float | None) -> None:
    """Raise ValueError naming the parameter unless the arguments suit :func:`delay_conv`."""
    if x.dim() != 3 or w.dim() != 2 or w.shape != d.shape or x.shape[-1] != w.shape[1]:
        raise ValueError(f"delay_conv: need x (T, batch, in), w and d (out, in); got x {tuple(x.shape)}, "
                         f"w {tuple(w.shape)}, d {tuple(d.shape)}")
    d_min, d_max = (float(d.detach().min()), float(d.detach().max())) if d.numel() else (0.0, 0.0)
    if math.isnan(d_min) or math.isnan(d_max):
        raise ValueError("delay_conv: the delays hold NaN (after a diverged training step? lower the learning rate "
                         "or clip the gradients)")
    if d_min < 0 or d_max > max_delay:
        raise ValueError(f"delay_conv: delays must lie in [0, max_delay = {max_delay}] steps, "
                         f"got [{d_min}, {d_max}]")
    if sigma_eff is None and not torch.equal(d, torch.round(d)):
        raise ValueError("delay_conv: with sigma_eff=None the delays must be whole steps (round them first)")
    if sigma_eff is not None and not sigma_eff > 0:
        raise ValueError(f"delay_conv: 'sigma_eff' must be > 0 steps or None, got {sigma_eff!r}")
    if tail < 0:
        raise ValueError(f"delay_conv: 'tail' must be >= 0 steps, got {tail!r}")


def delay_conv(x: torch.Tensor, w: torch.Tensor, d: torch.Tensor, max_delay: int, tail: int,
               sigma_eff: float | None) -> torch.Tensor:
    """Apply weights ``w (out, in)`` with delays ``d (out, in)`` (steps) to ``x (T, batch, in)``.

    ``sigma_eff=None``: ``d`` must hold whole steps; otherwise Gaussian taps of
    width ``sigma_eff`` (steps).  Returns ``(T + tail, batch, out)``.
    """
    check_delay_args(x, w, d, max_delay, tail, sigma_eff)
    if x.device.type == "cuda":
        from .cuda_ops import kernel_delay_ops
        ops = kernel_delay_ops(x, w, d)
        if ops is not None:
            return _DelayFn.apply(x, w, d, sigma_eff, max_delay + 1, tail, ops)
    return _DelayFn.apply(x, w, d, sigma_eff, max_delay + 1, tail)


def dense_reference(x: torch.Tensor, w: torch.Tensor, d: torch.Tensor, max_delay: int, tail: int,
                    sigma_eff: float | None) -> torch.Tensor:
    """The paper's formulation: build the dense ``(out, in, D+1)`` kernel, convolve in time.

    Straightforward and memory-hungry; kept as the oracle for :func:`delay_conv`.
    """
    taps = torch.arange(max_delay + 1, dtype=x.dtype, device=x.device)
    if sigma_eff is None:
        g = (taps == d[..., None]).to(x.dtype)
    else:
        g = torch.exp(-0.5 * ((taps - d[..., None]) / sigma_eff) ** 2)
        g = g / (g.sum(-1, keepdim=True) + NORM_EPS)
    kernel = (w[..., None] * g).flip(-1)                 # conv1d correlates: flip delay axis
    xp = F.pad(x.permute(1, 2, 0), (max_delay, tail))   # (batch, in, D + T + tail)
    return F.conv1d(xp, kernel).permute(2, 0, 1)


class DelayProjection(nn.Module):
    """All-to-all projection ``n_in -> n_out`` with one weight and one delay per synapse.

    Args:
        n_in, n_out: numbers of input and output neurons.
        max_delay: largest delay in steps ``D`` (delays lie in ``[0, D]``; the
            paper's SHD setting is ``D = 24``, i.e. 25 taps of 10 ms).
        mode: ``"learned"`` (Gaussian taps while training, rounded for
            evaluation), ``"random"`` (integer delays drawn once, frozen) or
            ``"none"`` (no delays: a plain linear map).
        sigma_init: initial ``sigma`` in steps (default ``(D + 1) // 2``, the paper's).
        tail: extra output steps (default ``D // 2`` with delays, 0 without).
        round_in_eval: in ``eval()`` mode use rounded integer delays (the paper
            always evaluates this way).

    Weights start Kaiming-uniform (ReLU gain); learned delays start uniform
    on ``[0, D + 1]`` clipped to ``D`` (the paper's initialisation, which puts
    about ``1/(D+1)`` of them at the maximum); random delays are uniform
    integers in ``[0, D]``.  Call :meth:`clamp_delays` after each optimiser step.
    """

    def __init__(self, n_in: int, n_out: int, max_delay: int = 24, mode: str = "learned", *,
                 sigma_init: float | None = None, tail: int | None = None,
                 round_in_eval: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if int(value) != value or value < 1:
                raise ValueError(f"DelayProjection: '{name}' must be a positive integer, got {value!r}")
        if mode not in MODES:
            raise ValueError(f"DelayProjection: 'mode' must be one of {MODES}, got {mode!r}")
        if int(max_delay) != max_delay or max_delay < 0:
            raise ValueError(f"DelayProjection: 'max_delay' must be an integer >= 0 (steps), got {max_delay!r}")
        self.n_in, self.n_out, self.mode = int(n_in), int(n_out), mode
        self.max_delay = int(max_delay) if mode != "none" else 0
        self.tail = (self.max_delay // 2 if tail is None else int(tail))
        if self.tail < 0:
            raise ValueError(f"DelayProjection: 'tail' must be >= 0 steps, got {tail!r}")
        self.round_in_eval = bool(round_in_eval)
        self.weight = nn.Parameter(torch.empty(self.n_out, self.n_in))
        nn.init.kaiming_uniform_(self.weight, nonlinearity="relu", generator=generator)
        n_taps = self.max_delay + 1
        u = torch.rand(self.n_out, self.n_in, generator=generator)
        if mode == "learned":
            self.delay = nn.Parameter((u * n_taps).clamp_(max=self.max_delay))
        elif mode == "random":
            self.register_buffer("delay", torch.floor(u * n_taps).clamp_(max=self.max_delay))
        else:
            self.register_buffer("delay", torch.zeros(self.n_out, self.n_in))
        s0 = float(n_taps // 2 if sigma_init is None else sigma_init)
        if not (math.isfinite(s0) and s0 >= 0):
            raise ValueError(f"DelayProjection: 'sigma_init' must be >= 0 steps, got {sigma_init!r}")
        self.sigma_init = s0
        self.register_buffer("sigma", torch.tensor(s0, dtype=torch.float64))

    @property
    def sigma_eff(self) -> float:
        """Gaussian width used in training, ``|sigma| + 0.27`` (steps)."""
        return abs(float(self.sigma)) + SIGMA_OFFSET

    def decay_sigma(self, epoch: int, final_epoch: int) -> None:
        """The paper's schedule, called after each epoch: ``sigma`` falls
        geometrically from ``sigma_init`` to 0.23 over ``final_epoch`` epochs."""
        if self.mode != "learned" or final_epoch <= 0 or self.sigma_init <= SIGMA_FLOOR:
            return
        if epoch < final_epoch and float(self.sigma) > SIGMA_FLOOR:
            alpha = (SIGMA_FLOOR / self.sigma_init) ** (1.0 / final_epoch)
            self.sigma.mul_(alpha)

    @torch.no_grad()
    def clamp_delays(self) -> None:
        """Keep delays inside ``[0, max_delay]`` (call after each optimiser step)."""
        self.delay.clamp_(0.0, float(self.max_delay))

    def integer_delays(self) -> torch.Tensor:
        """Delays rounded to whole steps (halves to even), as used for inference."""
        return torch.round(self.delay.detach()).clamp(0, self.max_delay).to(torch.int64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, batch, n_in)`` -> ``(T + tail, batch, n_out)``."""
        if x.dim() != 3 or x.shape[-1] != self.n_in:
            raise ValueError(f"DelayProjection: expected input of shape (T, batch, {self.n_in}), "
                             f"got {tuple(x.shape)}")
        w = self.weight.to(x.dtype)
        if self.mode == "none":
            z = x @ w.t()
            return F.pad(z, (0, 0, 0, 0, 0, self.tail)) if self.tail else z
        if self.mode == "random" or (self.round_in_eval and not self.training):
            d = self.integer_delays().to(x.dtype)
            return delay_conv(x, w, d, self.max_delay, self.tail, None)
        return delay_conv(x, w, self.delay.to(x.dtype), self.max_delay, self.tail, self.sigma_eff)

    def extra_repr(self) -> str:
        return f"{self.n_in} -> {self.n_out}, mode={self.mode!r}, max_delay={self.max_delay}, tail={self.tail}"

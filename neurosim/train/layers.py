"""Multi-step spiking layers for PyTorch.

All layers take and return sequences shaped ``(T, batch, features)`` (time
first, one step = ``dt`` ms).  The membrane decay per step is ``beta``; give
it directly or as a membrane time constant, ``beta = exp(-dt / tau_m)`` (the
exact decay the simulator's :class:`neurosim.LIF` uses, via
:func:`neurosim.neurons.lif.decay_factor`).  Membranes and thresholds are in
units of the threshold (dimensionless, threshold 1 by default).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..neurons.lif import decay_factor
from .autograd import lif_scan, spike_fn
from .surrogate import as_surrogate

RESETS = ("zero", "subtract")


def resolve_beta(beta: float | None, tau_m: float | None, dt: float) -> float:
    """The per-step decay from exactly one of ``beta`` or ``tau_m`` (ms) and ``dt`` (ms)."""
    if (beta is None) == (tau_m is None):
        raise ValueError("give exactly one of 'beta' (decay per step, 0..1) or 'tau_m' (ms)")
    if tau_m is not None:
        if not (math.isfinite(tau_m) and tau_m > 0) or not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"'tau_m' and 'dt' must be finite and > 0 (ms), got tau_m={tau_m!r}, dt={dt!r}")
        return decay_factor(tau_m, dt)
    if not (0.0 <= beta <= 1.0):
        raise ValueError(f"'beta' is the membrane decay per step and must lie in [0, 1], got {beta!r}")
    return float(beta)


def _check_sequence(x: torch.Tensor, n: int, layer: str) -> None:
    if x.dim() != 3 or x.shape[-1] != n:
        raise ValueError(f"{layer}: expected input of shape (T, batch, {n}), got {tuple(x.shape)}")


class LIF(nn.Module):
    """A layer of ``n`` leaky integrate-and-fire neurons, run over a whole sequence.

    Per step: ``u = beta * v + z``; spike ``s = H(u - threshold)``; reset to zero
    (``v = u (1 - s)``) or by subtraction (``v = u - threshold * s``).  The input
    ``z`` is the synaptic drive of the step (already weighted and summed).  On
    CPU the time loop runs in one compiled kernel forward and backward.

    Args:
        n: number of neurons.
        beta: membrane decay per step in [0, 1]; or give ``tau_m`` (ms) and ``dt`` (ms).
        threshold: firing threshold (membrane units).
        reset: ``"zero"`` or ``"subtract"``.
        surrogate: ``"atan"``, ``"fast_sigmoid"``, ``"triangle"``, a ``(name, slope)``
            pair or a :class:`~neurosim.train.surrogate.Surrogate`.
        learn_beta: learn one decay per neuron (kept in (0, 1) by a sigmoid).
        learn_threshold: learn one threshold per neuron.
        detach_reset: no gradient through the reset (as SpikingJelly's ``detach_reset``).
    """

    def __init__(self, n: int, beta: float | None = None, *, tau_m: float | None = None, dt: float = 1.0,
                 threshold: float = 1.0, reset: str = "zero", surrogate="atan",
                 learn_beta: bool = False, learn_threshold: bool = False, detach_reset: bool = True):
        super().__init__()
        if int(n) != n or n < 1:
            raise ValueError(f"LIF: 'n' must be a positive integer, got {n!r}")
        if reset not in RESETS:
            raise ValueError(f"LIF: 'reset' must be one of {RESETS}, got {reset!r}")
        if not threshold > 0:
            raise ValueError(f"LIF: 'threshold' must be > 0, got {threshold!r}")
        b = resolve_beta(beta, tau_m, dt)
        self.n = int(n)
        self.reset = reset
        self.surrogate = as_surrogate(surrogate)
        self.detach_reset = bool(detach_reset)
        # fixed values stay Python floats, so float64 runs use them exactly
        self.beta_value, self.threshold_value = b, float(threshold)
        if learn_beta:
            if not 0.0 < b < 1.0:
                raise ValueError("LIF: a learnable 'beta' must start strictly inside (0, 1)")
            self.beta_logit = nn.Parameter(torch.full((self.n,), math.log(b / (1.0 - b))))
        if learn_threshold:
            self.threshold_param = nn.Parameter(torch.full((self.n,), float(threshold)))

    def decay(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Membrane decay per step, one per neuron."""
        if hasattr(self, "beta_logit"):
            return torch.sigmoid(self.beta_logit).to(dtype)
        return torch.full((self.n,), self.beta_value, dtype=dtype)

    def thresholds(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Firing threshold, one per neuron."""
        if hasattr(self, "threshold_param"):
            return self.threshold_param.to(dtype)
        return torch.full((self.n,), self.threshold_value, dtype=dtype)

    def forward(self, z: torch.Tensor, v0: torch.Tensor | None = None,
                return_state: bool = False):
        """Spikes ``(T, batch, n)`` for drive ``z``; with ``return_state`` also the final membrane."""
        _check_sequence(z, self.n, "LIF")
        if v0 is None:
            v0 = z.new_zeros(z.shape[1:])
        spikes, v = lif_scan(z, self.decay(z.dtype).to(z.device), self.thresholds(z.dtype).to(z.device), v0,
                             self.reset == "subtract", self.detach_reset, self.surrogate)
        return (spikes, v) if return_state else spikes

    def extra_repr(self) -> str:
        return f"n={self.n}, reset={self.reset!r}, surrogate={self.surrogate.name}"


class AdaptiveLIF(LIF):
    """LIF neurons whose threshold rises after each spike (adaptive LIF, Bellec et al. 2018).

    Per step: ``a = rho * a + s_prev`` (``rho = exp(-dt / tau_adapt)``), threshold
    ``theta = threshold + adapt * a``, then as :class:`LIF` with that threshold.
    Written as a PyTorch loop (no fused kernel).

    Extra args:
        tau_adapt: adaptation time constant (ms).
        adapt: threshold increase per unit of adaptation variable (membrane units).
    """

    def __init__(self, n: int, beta: float | None = None, *, tau_adapt: float = 200.0, adapt: float = 0.2,
                 tau_m: float | None = None, dt: float = 1.0, **kwargs):
        super().__init__(n, beta, tau_m=tau_m, dt=dt, **kwargs)
        if not (math.isfinite(tau_adapt) and tau_adapt > 0):
            raise ValueError(f"AdaptiveLIF: 'tau_adapt' must be > 0 (ms), got {tau_adapt!r}")
        if not (math.isfinite(adapt) and adapt >= 0):
            raise ValueError(f"AdaptiveLIF: 'adapt' must be >= 0, got {adapt!r}")
        self.rho = decay_factor(tau_adapt, dt)
        self.adapt = float(adapt)

    def forward(self, z: torch.Tensor, v0: torch.Tensor | None = None, return_state: bool = False):
        _check_sequence(z, self.n, "AdaptiveLIF")
        v = z.new_zeros(z.shape[1:]) if v0 is None else v0
        a = z.new_zeros(z.shape[1:])
        s = z.new_zeros(z.shape[1:])
        beta, base = self.decay(z.dtype).to(z.device), self.thresholds(z.dtype).to(z.device)
        out = []
        for z_t in z.unbind(0):
            a = self.rho * a + s
            theta = base + self.adapt * a
            u = beta * v + z_t
            s = spike_fn(u - theta, self.surrogate)
            r = s.detach() if self.detach_reset else s
            v = u - theta * r if self.reset == "subtract" else u * (1.0 - r)
            out.append(s)
        spikes = torch.stack(out)
        return (spikes, v) if return_state else spikes


class LeakyReadout(nn.Module):
    """Non-spiking leaky integrators: ``u[t] = beta * u[t-1] + z[t]``; returns all ``u``."""

    def __init__(self, n: int, beta: float | None = None, *, tau_m: float | None = None, dt: float = 1.0):
        super().__init__()
        self.n = int(n)
        self.beta = resolve_beta(beta, tau_m, dt)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_sequence(z, self.n, "LeakyReadout")
        u = torch.zeros_like(z[0])
        out = []
        for z_t in z.unbind(0):
            u = self.beta * u + z_t
            out.append(u)
        return torch.stack(out)


class SequenceBatchNorm(nn.BatchNorm1d):
    """BatchNorm over features with statistics pooled over time and batch."""

    def forward(self, x: torch.Tensor, update_stats: bool = True) -> torch.Tensor:
        """Normalise ``(T, batch, n)``.  In training, ``update_stats=False`` leaves
        the running averages untouched (for recomputation under checkpointing)."""
        t, b, n = x.shape
        flat = x.reshape(t * b, n)
        if not self.training:
            return super().forward(flat).reshape(t, b, n)
        if update_stats and self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(flat.mean(0), m)
                self.running_var.lerp_(flat.var(0, unbiased=True), m)
        out = F.batch_norm(flat, None, None, self.weight, self.bias, True, 0.0, self.eps)
        return out.reshape(t, b, n)


class SequenceDropout(nn.Module):
    """Dropout with one mask per sequence: a dropped unit stays dropped at every step."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"SequenceDropout: 'p' must be in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty_like(x[:1]).bernoulli_(1.0 - self.p) / (1.0 - self.p)
        return x * keep

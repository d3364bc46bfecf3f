"""Quantise a simulator network to a Loihi-style target's fixed-point form.

Every population must be a :class:`neurosim.LIF` whose two synaptic currents
share one time constant (Loihi's CUBA neuron has one current ``u``) and whose
refractory period is 0 (the emulated neuron has none).  With ``a = exp(-dt /
tau_m)``, ``b`` the current's decay per step and ``k`` its coupling into
``v`` (the simulator's exact-integration coefficients), the simulator's step
``I = b I + w``, ``v = a v + k I + (1 - a)(v_rest + i_offset + i_ext)`` maps
onto Lava's fixed-point LIF (``neurosim.hardware.loihi_fixed``) in the
coordinates ``V = s (v - v_reset)`` and ``U = s k I``, with a per-population
scale ``s`` (integer units per mV):

==================  ==========================================================
fixed point         from
==================  ==========================================================
``dv``              ``round(4096 (1 - a))``
``du``              ``round(4096 (1 - b)) - 1`` (Lava adds 1), clipped to [0, 4095]
``vth``             ``s (v_th - v_reset) / 64``; ``s`` is chosen so that ``vth``
                    is an integer leaving ``headroom_bits`` of the 24-bit ``v``
                    register for excursions below reset, and lowered where the
                    largest incoming weight would not fit an 8-bit mantissa at
                    the largest weight exponent.  A population whose
                    threshold lies more than 1e6 mV above reset is a
                    non-spiking read-out: ``s`` then maps its largest input
                    weight to mantissa 255 at exponent 2, ``vth`` is the maximum
weight mantissa     ``s k w / 2**(6 + weight_exp)``, one ``weight_exp`` per
                    projection chosen as the smallest that fits the largest
                    weight; mantissas rounded to the grid of the sign mode
bias                ``s (1 - a)(v_rest + i_offset + i_ext - v_reset)``, 13-bit
                    mantissa and a 3-bit exponent per population
==================  ==========================================================

What was clipped or rounded, and by how much, is in
:meth:`QuantizedNetwork.report`.
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from ..neurons import LIF
from ..neurons.lif import decay_factor, exp_kernel_coupling
from .loihi_fixed import (ACTIVATION_SHIFT, CURRENT_DECAY_OFFSET, DECAY_SHIFT, MAX_DELAY, STATE_BITS,
                          VTH_SHIFT, WEIGHT_BITS, FixedPointProjection, LifFixedParams, SignMode,
                          determine_sign_mode)
from .targets import HardwareTarget, load_target

if TYPE_CHECKING:
    from ..network import Network

_LAVA_WIDTHS = {"u_bits": STATE_BITS, "v_bits": STATE_BITS, "decay_bits": DECAY_SHIFT,
                "decay_unity": 1 << DECAY_SHIFT, "threshold_shift_bits": VTH_SHIFT,
                "threshold_mantissa_bits": 17, "bias_mantissa_bits": 13, "bias_exp_bits": 3}


@dataclasses.dataclass
class PopulationQuant:
    """Fixed-point parameters of one population (arrays are per neuron)."""

    name: str
    start: int                   # first global column
    stop: int
    scale: float                 # fixed-point units per mV of v
    coupling: float              # k: contribution of the current to v per step
    v_reset: float               # mV
    du: int
    dv: int
    vth: int
    bias_exp: int
    bias_static: np.ndarray      # float bias before rounding (fixed units), excluding i_ext
    bias_per_mv: float           # fixed units of bias per mV of i_ext: s (1 - a)
    errors: dict
    drive: np.ndarray | None = None   # constant external drive per neuron (mV); None if it varies in time

    def static_bias(self) -> np.ndarray:
        """Per-neuron bias mantissas with the constant drive folded in (for static-bias hardware)."""
        if self.drive is None:
            raise ValueError(f"population '{self.name}' has a time-varying drive, which a static bias "
                             "cannot hold")
        raw = np.rint((self.bias_static + self.bias_per_mv * self.drive) / (1 << self.bias_exp))
        return np.clip(raw, -4096, 4095).astype(np.int64)


@dataclasses.dataclass
class QuantizedNetwork:
    """A built network's fixed-point form for one target."""

    target: HardwareTarget
    dt: float
    populations: list[PopulationQuant]
    mantissa: np.ndarray          # int64 per synapse, aligned with the compiled weight array
    proj_exp: np.ndarray          # int64 weight exponent per compiled projection
    proj_errors: list[dict]

    def fixed_layers(self, net: Network) -> list:
        """The network as a feed-forward chain of ``(FixedPointProjection, LifFixedParams)``
        (what :func:`~neurosim.hardware.loihi_fixed.run_fixed_network` and the netx
        exporter take): one input node, then populations each fed by exactly one
        projection from the previous node.  Constant external drives are folded into
        the static biases; a time-varying drive is an error."""
        cn = net._compiled
        layers, prev = [], None
        for pq in self.populations:
            into = [i for i, pr in enumerate(net.projections) if pr.post.name == pq.name]
            if len(into) != 1 or (prev is not None and net.projections[into[0]].pre.name != prev):
                raise ValueError(f"population '{pq.name}' is not fed by exactly one projection from the previous "
                                 "layer; only feed-forward chains export as fixed-point layers")
            qi = into[0]
            proj = net.projections[qi]
            lo = int(cn.indptr[cn.proj_ptr_offset[qi]])
            w = np.zeros((proj.post.n, proj.pre.n), dtype=np.int64)
            d = np.zeros_like(w)
            pre, post = proj.pre_index, proj.post_index.astype(np.int64)
            w[post, pre] = self.mantissa[lo:lo + proj.n_synapses]
            d[post, pre] = proj.delay_steps
            bias = pq.static_bias()
            layers.append((FixedPointProjection(w, weight_exp=int(self.proj_exp[qi]), delays=d),
                           LifFixedParams(du=pq.du, dv=pq.dv, vth=pq.vth, bias_mant=tuple(bias.tolist()),
                                          bias_exp=pq.bias_exp)))
            prev = pq.name
        return layers

    def report(self) -> dict:
        """What was rounded or clipped, per population and per projection."""
        return {"target": self.target.name, "dt_ms": self.dt,
                "populations": [{"name": p.name, "scale_per_mv": p.scale, "du": p.du, "dv": p.dv,
                                 "vth": p.vth, "bias_exp": p.bias_exp, **p.errors} for p in self.populations],
                "projections": self.proj_errors}


def _check_target(target: HardwareTarget) -> None:
    prec = target.precision
    for key, want in _LAVA_WIDTHS.items():
        if getattr(prec, key) != want:
            raise ValueError(f"target '{target.name}': precision.{key} = {getattr(prec, key)}, but the "
                             f"fixed-point emulator implements Lava's arithmetic ({key} = {want})")
    if prec.weight_bits > WEIGHT_BITS:
        raise ValueError(f"target '{target.name}': weight_bits = {prec.weight_bits} exceeds the emulator's "
                         f"{WEIGHT_BITS}-bit weights")


#: a threshold this far above reset (mV) marks a non-spiking read-out population
NON_SPIKING_SPAN_MV = 1e6


def _population(p, start: int, dt: float, currents: list, headroom_bits: int,
                max_weight: float, bias_exp: int | None, max_weight_exp: int | None) -> PopulationQuant:
    m = p.model
    if type(m) is not LIF:
        raise ValueError(f"population '{p.name}' uses {type(m).__name__}; Loihi-style targets run "
                         "current-based LIF neurons (neurosim.LIF) only")
    if not math.isclose(m.tau_syn_e, m.tau_syn_i, rel_tol=1e-12):
        raise ValueError(f"population '{p.name}': tau_syn_e = {m.tau_syn_e} ms and tau_syn_i = {m.tau_syn_i} ms "
                         "differ; a Loihi CUBA neuron has one synaptic current, so they must be equal")
    if m.tau_ref > 0:
        raise ValueError(f"population '{p.name}': tau_ref = {m.tau_ref} ms; the emulated Loihi LIF has no "
                         "refractory period, set tau_ref=0.0")
    span = m.v_th - m.v_reset
    if not span > 0:
        raise ValueError(f"population '{p.name}': v_th must lie above v_reset to map onto a Loihi "
                         f"threshold, got v_th = {m.v_th}, v_reset = {m.v_reset} mV")
    a, b = math.exp(-dt / m.tau_m), decay_factor(m.tau_syn_e, dt)
    k = exp_kernel_coupling(m.tau_syn_e, m.tau_m, dt)
    unity = 1 << DECAY_SHIFT
    dv = int(np.clip(round(unity * (1.0 - a)), 0, unity - 1))
    du = int(np.clip(round(unity * (1.0 - b)) - CURRENT_DECAY_OFFSET, 0, unity - 1))
    vth = ((1 << (STATE_BITS - 1)) - 1) >> (headroom_bits + VTH_SHIFT)
    if span < NON_SPIKING_SPAN_MV:
        scale = vth * (1 << VTH_SHIFT) / span
        if max_weight > 0:
            # the largest incoming weight must fit an 8-bit mantissa at the largest exponent
            fit = 254 * 2.0 ** (ACTIVATION_SHIFT + max_weight_exp) / (k * max_weight)
            if fit < scale:
                vth = max(1, math.floor(fit * span / (1 << VTH_SHIFT)))
                scale = vth * (1 << VTH_SHIFT) / span
    else:   # read-out neurons never fire: scale by the largest input weight instead
        scale = (254 << (ACTIVATION_SHIFT + min(2, max_weight_exp))) / max(k * max_weight, 1e-300)
        vth = (1 << 17) - 1
    bias_per_mv = scale * (1.0 - a)
    bias_static = np.full(p.n, bias_per_mv * (m.v_rest + m.i_offset - m.v_reset))
    i_max = sum(float(np.abs(c.values).max(initial=0.0)) for c in currents)
    b_max = float(np.abs(bias_static).max(initial=0.0)) + bias_per_mv * i_max
    if bias_exp is None:
        bias_exp = 0 if b_max <= 4095 else min(7, math.ceil(math.log2(b_max / 4095)))
    a_q = (unity - dv) / unity
    b_q = (unity - du - CURRENT_DECAY_OFFSET) / unity
    errors = {"membrane_decay": {"float": a, "fixed": a_q, "error": a_q - a},
              "current_decay": {"float": b, "fixed": b_q, "error": b_q - b},
              "bias_clipped": bool(b_max / (1 << bias_exp) > 4095.5),
              "bias_step_mv": (1 << bias_exp) / scale / max(1.0 - a, 1e-300)}
    constant = all(c.values_dt is None for c in currents)
    drive = sum((np.broadcast_to(c.values, (p.n,)) for c in currents), np.zeros(p.n)) if constant else None
    return PopulationQuant(p.name, start, start + p.n, scale, k, m.v_reset, du, dv, vth, bias_exp,
                           bias_static, bias_per_mv, errors, drive)


def _projection_mantissas(w_scaled: np.ndarray, weight_bits: int, exp_min: int, exp_max: int
                          ) -> tuple[np.ndarray, int, dict]:
    """Mantissas and exponent for fixed-point weights ``w_scaled`` (u units before the << 6)."""
    mode = determine_sign_mode(w_scaled) if w_scaled.size else SignMode.EXCITATORY
    step = 1 << (WEIGHT_BITS - weight_bits + int(mode is SignMode.MIXED))
    hi = ((1 << WEIGHT_BITS) - 1) // step * step
    lo = -(1 << WEIGHT_BITS) if mode is SignMode.MIXED else -hi
    need = exp_min
    for peak, limit in ((float(w_scaled.max(initial=0.0)), hi), (-float(w_scaled.min(initial=0.0)), -lo)):
        if peak > 0 and limit > 0:
            need = max(need, math.ceil(math.log2(peak / limit)))
    exp = min(need, exp_max)
    raw = w_scaled / 2.0 ** exp
    mant = np.clip(np.rint(raw / step) * step, lo, hi).astype(np.int64)
    err = mant * 2.0 ** exp - w_scaled
    rel = float(np.sqrt(np.mean(err ** 2)) / max(np.sqrt(np.mean(w_scaled ** 2)), 1e-300)) if w_scaled.size else 0.0
    return mant, exp, {"weight_exp": exp, "sign_mode": mode.value, "mantissa_step": step,
                       "clipped": int(np.count_nonzero(np.abs(raw) > np.maximum(hi, -lo) + step / 2)),
                       "zeroed": int(np.count_nonzero((mant == 0) & (w_scaled != 0))),
                       "rms_relative_error": rel}


def quantize(net: Network, target: HardwareTarget | str = "loihi2", headroom_bits: int = 2,
             bias_exp: int | None = None, max_weight_exp: int | None = None) -> QuantizedNetwork:
    """The fixed-point form of a built network for ``target`` (a name or :class:`HardwareTarget`).

    Args:
        net: a built :class:`neurosim.Network` (``net.build(seed)``) of ``neurosim.LIF`` populations.
        target: hardware target whose precision, exponent range and maximum delay apply.
        headroom_bits: bits of the 24-bit voltage register kept free below the reset
            potential (larger: fewer saturations of strongly inhibited neurons,
            coarser voltage resolution).
        bias_exp: a fixed bias exponent in [0, 7] for every population (lava-dl netx
            files always use 6); ``None`` picks the smallest that fits each population.
        max_weight_exp: largest weight exponent to use (netx loads weights with
            exponents <= 0); where the largest incoming weight would need more,
            the population's scale is lowered (a coarser threshold) so it fits.
    """
    if isinstance(target, str):
        target = load_target(target)
    _check_target(target)
    if not net.built:
        raise ValueError("quantize() needs a built network: call net.build(seed=...) first")
    if not 0 <= headroom_bits <= 8:
        raise ValueError(f"headroom_bits must be in [0, 8], got {headroom_bits!r}")
    if bias_exp is not None and bias_exp not in range(8):
        raise ValueError(f"bias_exp must be an integer in [0, 7] or None, got {bias_exp!r}")
    if net.poisson_inputs:
        raise ValueError("Poisson inputs (add_poisson_input) have no Loihi equivalent here; use add_poisson "
                         "(a spiking input population) instead")
    cn = net._compiled
    max_delay = min(target.features.max_delay_steps, MAX_DELAY)
    if cn.max_delay_steps > max_delay:
        raise ValueError(f"a synaptic delay of {cn.max_delay_steps} steps exceeds target '{target.name}''s "
                         f"maximum of {max_delay} steps")
    prec = target.precision
    pops = []
    for i, p in enumerate(net.populations):
        currents = [c for c in net.currents if c.target is p]
        incoming = [np.abs(pr.weight).max(initial=0.0) for pr in net.projections if pr.post is p]
        exp_cap = prec.weight_exp_max if max_weight_exp is None else min(prec.weight_exp_max, max_weight_exp)
        pops.append(_population(p, int(cn.pop_start[i]), net.dt, currents, headroom_bits,
                                float(max(incoming, default=0.0)), bias_exp, exp_cap))
    pop_of_col = np.repeat(np.arange(len(pops)), [q.stop - q.start for q in pops])
    mantissa = np.zeros(cn.weight.size, dtype=np.int64)
    exps = np.zeros(len(cn.node_proj), dtype=np.int64)
    errors = []
    for q, proj in enumerate(net.projections):
        lo = int(cn.indptr[cn.proj_ptr_offset[q]])
        hi = lo + proj.n_synapses
        pq = pops[pop_of_col[cn.proj_post_base[q]]]
        scaled = np.asarray(proj.weight, dtype=np.float64) * pq.scale * pq.coupling / (1 << ACTIVATION_SHIFT)
        exp_max = prec.weight_exp_max if max_weight_exp is None else min(prec.weight_exp_max, max_weight_exp)
        mant, exp, err = _projection_mantissas(scaled, prec.weight_bits, prec.weight_exp_min, exp_max)
        mantissa[lo:hi] = mant
        exps[q] = exp
        errors.append({"name": proj.name, "synapses": int(hi - lo), **err})
    return QuantizedNetwork(target, net.dt, pops, mantissa, exps, errors)

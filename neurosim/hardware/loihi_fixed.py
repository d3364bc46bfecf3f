"""Bit-exact NumPy emulator of Lava's fixed-point (Loihi-style) CUBA LIF network.

The oracle is Lava 0.10's CPU ``fixed_pt`` process models (``LIF``, ``Dense``,
``DelayDense``); silicon may differ. All state is integer and is held in
``int64`` here; the Loihi bit widths are imposed explicitly:

* weights: 8-bit mantissa, truncated to ``num_weight_bits``; the shared
  ``weight_exp`` scales the *accumulated* synaptic sum of each step;
* synaptic input ``a_in``: MSB-aligned by a left shift of 6 (x64) without any
  16-bit wrap of the shifted value (the golden traces reach |a_in| = 6944, whose
  x64 overflows int16, and match); inputs wider than 16 bits are not exercised
  by the traces and are passed through unchanged;
* decays ``du``, ``dv``: 12-bit (unity 4096), sign-magnitude rounding toward
  zero, with a +1 offset on the current decay only;
* current ``u``: 24-bit, wraps around; voltage ``v``: 24-bit, saturates at
  +/-(2**23 - 1);
* threshold: 17-bit mantissa shifted left by 6; spike when ``v > vth << 6``;
  ``v`` (not ``u``) is reset to 0 on a spike;
* bias: 13-bit signed mantissa shifted left by the 3-bit ``bias_exp``.

Timing (worked out from the golden traces): index ``t`` is the 0-based time
step (Lava step ``t + 1``). A presynaptic spike emitted at step ``t`` (by the
input raster column ``t`` or by a LIF population at step ``t``) is added to the
postsynaptic ``u`` at step ``t + 1 + d``, where ``d`` is the synaptic delay
(0 for ``Dense``). Every synaptic layer therefore adds one step of latency.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ACTIVATION_SHIFT",
    "CURRENT_DECAY_OFFSET",
    "DECAY_SHIFT",
    "MAX_DELAY",
    "STATE_BITS",
    "VOLTAGE_DECAY_OFFSET",
    "VTH_SHIFT",
    "WEIGHT_BITS",
    "FixedPointProjection",
    "LifFixedParams",
    "SignMode",
    "apply_weight_exp",
    "clip_signed",
    "decay",
    "determine_sign_mode",
    "lif_fixed_step",
    "lif_fixed_update",
    "quantize_weights",
    "run_fixed_network",
    "wrap_signed",
]

IntArray = NDArray[np.int64]

#: Width of the u and v state registers (signed).
STATE_BITS = 24
#: Decay constants are 12-bit fractions of 2**DECAY_SHIFT = 4096.
DECAY_SHIFT = 12
#: Hardware 1-bit offset added to ``du`` (lets the current decay reach 4096).
CURRENT_DECAY_OFFSET = 1
#: Offset added to ``dv`` (none).
VOLTAGE_DECAY_OFFSET = 0
#: Left shift that MSB-aligns the synaptic input with u.
ACTIVATION_SHIFT = 6
#: Left shift applied to the 17-bit threshold mantissa.
VTH_SHIFT = 6
#: Largest synaptic delay accepted (steps); 6-bit field, netx clamps to 62.
MAX_DELAY = 62
#: Bit width of the stored weight mantissa before truncation.
WEIGHT_BITS = 8

_DU_DV_MAX = 2**DECAY_SHIFT - 1
_VTH_MAX = 2**17 - 1
_BIAS_MANT_MIN, _BIAS_MANT_MAX = -(2**12), 2**12 - 1
_BIAS_EXP_MAX = 7
_WEIGHT_EXP_MIN, _WEIGHT_EXP_MAX = -7, 7


class SignMode(enum.Enum):
    """Weight sign mode of a Loihi synapse group (as Lava's ``SignMode``)."""

    MIXED = "mixed"
    EXCITATORY = "excitatory"
    INHIBITORY = "inhibitory"


# ---------------------------------------------------------------------------
# Integer primitives
# ---------------------------------------------------------------------------


def wrap_signed(x: ArrayLike, bits: int) -> IntArray:
    """Wrap integers around into the ``bits``-wide range ``(-2**(bits-1), 2**(bits-1)]``.

    This is the overflow rule Lava applies to the 24-bit current ``u``. The
    interval is half-open at the *bottom*: ``+2**(bits-1)`` is kept unchanged
    and ``-2**(bits-1)`` wraps to ``+2**(bits-1)`` (Lava's asymmetric bounds).
    Lava subtracts or adds ``2**bits`` once; that is identical to this modular
    wrap for every ``|x| < 3 * 2**(bits-1)``, i.e. for u whenever the synaptic
    input satisfies ``|a_in| < 2**18`` (always true for the nominal 16-bit
    ``a_in``).
    """
    half = 1 << (bits - 1)
    xi = np.asarray(x, dtype=np.int64)
    return np.mod(xi + (half - 1), 2 * half) - (half - 1)


def clip_signed(x: ArrayLike, bits: int) -> IntArray:
    """Saturate integers to the symmetric range ``[-(2**(bits-1) - 1), 2**(bits-1) - 1]``.

    This is the rule Lava applies to the 24-bit voltage ``v``; note that the
    most negative two's-complement value ``-2**(bits-1)`` is excluded.
    """
    limit = (1 << (bits - 1)) - 1
    return np.clip(np.asarray(x, dtype=np.int64), -limit, limit)


def decay(x: ArrayLike, d: int, offset: int = 0) -> IntArray:
    """Apply a 12-bit multiplicative decay with rounding toward zero.

    Returns ``sign(x) * ((|x| * (4096 - (d + offset))) >> 12)``, i.e.
    ``trunc(x * (4096 - d - offset) / 4096)``: the magnitude is scaled and
    shifted, so negative values round toward zero, not toward -inf.

    Args:
        x: integer state (u or v), at most 24 bits wide.
        d: 12-bit decay constant in ``[0, 4095]`` (``du`` or ``dv``).
        offset: hardware offset added to ``d``: ``CURRENT_DECAY_OFFSET`` (1)
            for u, ``VOLTAGE_DECAY_OFFSET`` (0) for v.
    """
    xi = np.asarray(x, dtype=np.int64)
    factor = (1 << DECAY_SHIFT) - (d + offset)
    return np.sign(xi) * ((np.abs(xi) * factor) >> DECAY_SHIFT)


def determine_sign_mode(weights: ArrayLike) -> SignMode:
    """Lava's default sign mode: EXCITATORY if all weights are >= 0, else
    INHIBITORY if all are <= 0, else MIXED (an all-zero matrix is EXCITATORY)."""
    w = np.asarray(weights)
    if w.min() >= 0:
        return SignMode.EXCITATORY
    if w.max() <= 0:
        return SignMode.INHIBITORY
    return SignMode.MIXED


def quantize_weights(
    weights: ArrayLike, num_weight_bits: int, sign_mode: SignMode | None = None
) -> IntArray:
    """Effective integer weight mantissas of a Lava ``Dense``/``DelayDense``.

    1. Clip to 8 bits: MIXED -> ``[-256, 255]``, EXCITATORY -> ``[0, 255]``,
       INHIBITORY -> ``[-255, 0]``.
    2. Drop ``r = 8 - num_weight_bits + m`` LSBs, where ``m = 1`` for MIXED
       and 0 otherwise: ``floor(w / 2**r) * 2**r`` (negative MIXED weights
       round toward -inf); INHIBITORY truncates the magnitude (toward zero).

    The result is still a mantissa: the shared ``weight_exp`` is applied to
    the accumulated sum by :func:`apply_weight_exp`, not per synapse.

    Args:
        weights: integer weight matrix, shape (n_post, n_pre).
        num_weight_bits: weight precision in ``[1, 8]``.
        sign_mode: sign mode; ``None`` selects it like Lava
            (:func:`determine_sign_mode`).
    """
    w = np.asarray(weights, dtype=np.int64)
    mode = determine_sign_mode(w) if sign_mode is None else sign_mode
    full = (1 << WEIGHT_BITS) - 1
    shift = WEIGHT_BITS - num_weight_bits + int(mode is SignMode.MIXED)
    if mode is SignMode.INHIBITORY:
        magnitude = np.clip(-w, 0, full)
        return -((magnitude >> shift) << shift)
    low = -(full + 1) if mode is SignMode.MIXED else 0
    return (np.clip(w, low, full) >> shift) << shift


def apply_weight_exp(acc: ArrayLike, weight_exp: int) -> IntArray:
    """Scale an accumulated synaptic sum by ``2**weight_exp``.

    ``acc << weight_exp`` for ``weight_exp >= 0``, otherwise an arithmetic right
    shift ``floor(acc / 2**-weight_exp)`` (rounds toward -inf, e.g. -6 with
    exponent -2 gives -2).
    """
    a = np.asarray(acc, dtype=np.int64)
    if weight_exp >= 0:
        return a << weight_exp
    return a >> -weight_exp


# ---------------------------------------------------------------------------
# Parameters and projections
# ---------------------------------------------------------------------------


def _check_int(name: str, value: object, low: int, high: int) -> int:
    """Return ``value`` as int if it is an integer in ``[low, high]``, else raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def _as_int_matrix(name: str, value: ArrayLike) -> IntArray:
    """Return a read-only int64 copy of a 2-D integer array, else raise."""
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 2-D (n_post, n_pre) array, got shape {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must have an integer dtype, got {arr.dtype}")
    out = arr.astype(np.int64)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class LifFixedParams:
    """Parameters of a population of Lava fixed-point CUBA LIF neurons.

    Attributes:
        du: 12-bit current decay in ``[0, 4095]``; the effective factor is
            ``(4096 - du - 1) / 4096`` (so du = 0 still decays u slightly and
            du = 4095 clears it every step).
        dv: 12-bit voltage decay in ``[0, 4095]``; factor ``(4096 - dv) / 4096``.
        vth: 17-bit unsigned threshold mantissa in ``[0, 131071]``; the
            neuron spikes when ``v > vth << 6``.
        bias_mant: 13-bit signed bias mantissa in ``[-4096, 4095]``, either one
            int shared by all neurons or one int per neuron (stored as a tuple).
        bias_exp: 3-bit bias exponent in ``[0, 7]``; bias = ``bias_mant << bias_exp``.
    """

    du: int
    dv: int
    vth: int
    bias_mant: int | tuple[int, ...] = 0
    bias_exp: int = 0

    def __post_init__(self) -> None:
        for name, high in (("du", _DU_DV_MAX), ("dv", _DU_DV_MAX), ("vth", _VTH_MAX),
                           ("bias_exp", _BIAS_EXP_MAX)):
            object.__setattr__(self, name, _check_int(name, getattr(self, name), 0, high))
        mant = np.asarray(self.bias_mant)
        if mant.ndim > 1 or mant.size == 0 or not np.issubdtype(mant.dtype, np.integer):
            raise ValueError(
                "bias_mant must be an integer or a non-empty 1-D sequence of integers in "
                f"[{_BIAS_MANT_MIN}, {_BIAS_MANT_MAX}], got {self.bias_mant!r}"
            )
        if mant.min() < _BIAS_MANT_MIN or mant.max() > _BIAS_MANT_MAX:
            raise ValueError(
                f"bias_mant must be in [{_BIAS_MANT_MIN}, {_BIAS_MANT_MAX}], "
                f"got values in [{mant.min()}, {mant.max()}]"
            )
        mant_value = int(mant) if mant.ndim == 0 else tuple(int(m) for m in mant.tolist())
        object.__setattr__(self, "bias_mant", mant_value)

    @property
    def effective_bias(self) -> IntArray:
        """Bias added to v every step: ``bias_mant << bias_exp`` (int64, up to 20 bits)."""
        return np.asarray(self.bias_mant, dtype=np.int64) << self.bias_exp

    @property
    def effective_threshold(self) -> int:
        """Threshold compared against v: ``vth << 6`` (up to 23 bits)."""
        return self.vth << VTH_SHIFT


@dataclass(frozen=True, eq=False)
class FixedPointProjection:
    """A Lava ``Dense`` (or, with ``delays``, ``DelayDense``) synaptic projection.

    Attributes:
        weights: integer weight matrix, shape (n_post, n_pre). Values outside
            the 8-bit range of the sign mode are clipped as Lava does.
        num_weight_bits: weight precision in ``[1, 8]`` (Lava default 8).
        weight_exp: shared weight exponent in ``[-7, 7]`` applied to each
            step's accumulated sum (Lava itself does not bound it).
        delays: optional integer delays in steps, shape (n_post, n_pre), each in
            ``[0, 62]``. ``None`` means a plain ``Dense`` (all delays 0).
        sign_mode: weight sign mode; ``None`` lets it be inferred like Lava.
    """

    weights: ArrayLike
    num_weight_bits: int = WEIGHT_BITS
    weight_exp: int = 0
    delays: ArrayLike | None = None
    sign_mode: SignMode | None = None
    quantized_weights: IntArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        weights = _as_int_matrix("weights", self.weights)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(
            self, "num_weight_bits",
            _check_int("num_weight_bits", self.num_weight_bits, 1, WEIGHT_BITS),
        )
        object.__setattr__(
            self, "weight_exp",
            _check_int("weight_exp", self.weight_exp, _WEIGHT_EXP_MIN, _WEIGHT_EXP_MAX),
        )
        if self.sign_mode is not None and not isinstance(self.sign_mode, SignMode):
            raise ValueError(f"sign_mode must be a SignMode or None, got {self.sign_mode!r}")
        if self.delays is not None:
            delays = _as_int_matrix("delays", self.delays)
            if delays.shape != weights.shape:
                raise ValueError(
                    f"delays must have the shape of weights {weights.shape}, got {delays.shape}"
                )
            if delays.min() < 0 or delays.max() > MAX_DELAY:
                raise ValueError(
                    f"delays must be in [0, {MAX_DELAY}], got values in "
                    f"[{delays.min()}, {delays.max()}]"
                )
            object.__setattr__(self, "delays", delays)
        q = quantize_weights(weights, self.num_weight_bits, self.sign_mode)
        q.setflags(write=False)
        object.__setattr__(self, "quantized_weights", q)

    @property
    def n_post(self) -> int:
        """Number of postsynaptic neurons."""
        return int(self.weights.shape[0])

    @property
    def n_pre(self) -> int:
        """Number of presynaptic neurons."""
        return int(self.weights.shape[1])

    @property
    def max_delay(self) -> int:
        """Largest synaptic delay in steps (0 without delays)."""
        if self.delays is None:
            return 0
        return int(self.delays.max())

    def delay_groups(self) -> tuple[IntArray, IntArray]:
        """Split the quantised weights by delay value.

        Returns:
            ``(delay_values, stacked)``: the distinct delays present (shape (K,))
            and the weight mantissas with every synapse of another delay zeroed,
            shape (K, n_post, n_pre).
        """
        if self.delays is None:
            return np.zeros(1, dtype=np.int64), self.quantized_weights[None]
        values = np.unique(self.delays)
        same_delay = self.delays[None] == values[:, None, None]
        stacked = np.where(same_delay, self.quantized_weights[None], 0)
        return values, stacked


# ---------------------------------------------------------------------------
# Dynamics
# ---------------------------------------------------------------------------


def lif_fixed_update(u: ArrayLike, v: ArrayLike, a_in: ArrayLike, du: int | ArrayLike, dv: int | ArrayLike,
                     bias: ArrayLike, threshold: int | ArrayLike) -> tuple[IntArray, IntArray, IntArray]:
    """One step of fixed-point LIF neurons from raw parameters (see :func:`lif_fixed_step`).

    ``bias`` is the effective bias (``bias_mant << bias_exp``) and ``threshold``
    the effective threshold (``vth << 6``); ``du``, ``dv`` may be per neuron.
    """
    a = np.asarray(a_in, dtype=np.int64)
    u_new = wrap_signed(decay(u, du, CURRENT_DECAY_OFFSET) + (a << ACTIVATION_SHIFT), STATE_BITS)
    v_new = clip_signed(decay(v, dv, VOLTAGE_DECAY_OFFSET) + u_new + bias, STATE_BITS)
    spikes = v_new > threshold
    v_new = np.where(spikes, 0, v_new)
    return u_new, v_new, spikes.astype(np.int64)


def lif_fixed_step(
    u: ArrayLike, v: ArrayLike, a_in: ArrayLike, params: LifFixedParams
) -> tuple[IntArray, IntArray, IntArray]:
    """Advance a fixed-point LIF population by one step.

    In order, per neuron (all integers)::

        u' = wrap24(decay(u, du, 1) + (a_in << 6))
        v' = clip24(decay(v, dv, 0) + u' + (bias_mant << bias_exp))
        s  = v' > (vth << 6)
        v' = 0 where s                      # u is not reset

    Args:
        u: current, 24-bit signed, shape (n,).
        v: voltage, 24-bit signed, shape (n,).
        a_in: synaptic input delivered this step (weight-exponent-scaled sum
            of weight mantissas), shape (n,).
        params: neuron parameters.

    Returns:
        ``(u', v', s)`` as int64 arrays; ``s`` holds 0/1 spikes.
    """
    return lif_fixed_update(u, v, a_in, params.du, params.dv, params.effective_bias,
                            params.effective_threshold)


def run_fixed_network(
    input_spikes: ArrayLike,
    layers: Sequence[tuple[FixedPointProjection, LifFixedParams]],
) -> dict[str, IntArray]:
    """Emulate a feed-forward chain input -> proj -> LIF -> proj -> LIF ...

    Each projection keeps a ring buffer of shape (max_delay + 1, n_post): a
    presynaptic spike emitted at step ``t`` through a synapse of delay ``d`` is
    accumulated (mantissas summed per delay value, then scaled by
    ``weight_exp``) into the slot that the postsynaptic LIF reads at step
    ``t + 1 + d``. All states start at zero.

    Args:
        input_spikes: binary raster of shape (n_in, steps); column ``t`` is
            emitted at step ``t`` (like Lava's ``RingBuffer``).
        layers: ``(projection, lif_params)`` pairs from input to output; the
            projection of layer k must have ``n_pre`` equal to the size of the
            previous population, and a per-neuron ``bias_mant`` must have
            ``n_post`` entries.

    Returns:
        For layer k = 1, 2, ...: ``"lif{k}_u"``, ``"lif{k}_v"`` and
        ``"lif{k}_s_out"``, int64 arrays of shape (steps, n_post) holding the
        state after each step (the naming of Lava's golden traces).
    """
    spikes_in = np.asarray(input_spikes)
    if spikes_in.ndim != 2:
        raise ValueError(f"input_spikes must be 2-D (n_in, steps), got shape {spikes_in.shape}")
    if not np.isin(spikes_in, (0, 1)).all():
        raise ValueError("input_spikes must be binary (0/1); graded spikes are not emulated")
    if not layers:
        raise ValueError("layers must contain at least one (projection, LifFixedParams) pair")
    spikes_in = spikes_in.astype(np.int64)
    n_prev, steps = spikes_in.shape
    for k, (proj, params) in enumerate(layers, start=1):
        if proj.n_pre != n_prev:
            raise ValueError(
                f"layer {k}: projection expects n_pre={proj.n_pre}, got {n_prev} inputs"
            )
        if isinstance(params.bias_mant, tuple) and len(params.bias_mant) != proj.n_post:
            raise ValueError(
                f"layer {k}: bias_mant has {len(params.bias_mant)} entries, "
                f"expected n_post={proj.n_post}"
            )
        n_prev = proj.n_post

    groups = [proj.delay_groups() for proj, _ in layers]
    buffers = [np.zeros((proj.max_delay + 1, proj.n_post), dtype=np.int64) for proj, _ in layers]
    u = [np.zeros(proj.n_post, dtype=np.int64) for proj, _ in layers]
    v = [np.zeros(proj.n_post, dtype=np.int64) for proj, _ in layers]
    records = {
        f"lif{k}_{name}": np.zeros((steps, proj.n_post), dtype=np.int64)
        for k, (proj, _) in enumerate(layers, start=1)
        for name in ("u", "v", "s_out")
    }

    for t in range(steps):
        pre = spikes_in[:, t]
        for k, ((proj, params), (delay_values, stacked), buf) in enumerate(
            zip(layers, groups, buffers), start=1
        ):
            slot = t % buf.shape[0]
            a_in = buf[slot].copy()
            buf[slot] = 0
            contrib = apply_weight_exp(stacked @ pre, proj.weight_exp)
            buf[(t + 1 + delay_values) % buf.shape[0]] += contrib
            u[k - 1], v[k - 1], pre = lif_fixed_step(u[k - 1], v[k - 1], a_in, params)
            records[f"lif{k}_u"][t] = u[k - 1]
            records[f"lif{k}_v"][t] = v[k - 1]
            records[f"lif{k}_s_out"][t] = pre
    return records

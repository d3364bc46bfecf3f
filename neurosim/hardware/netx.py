"""Read and write lava-dl netx HDF5 network descriptions of fixed-point CUBA LIF chains.

``write_netx`` stores the feed-forward chain that
:func:`neurosim.hardware.loihi_fixed.run_fixed_network` emulates (a list of
``(FixedPointProjection, LifFixedParams)``) in the layout that lava-dl's
``lava.lib.dl.netx.hdf5.Network`` loads, so that::

    from lava.lib.dl.netx import hdf5
    net = hdf5.Network(net_config="model.net")   # Lava, Python 3.10

builds ``Dense``/``DelayDense`` + ``LIF`` blocks whose ``fixed_pt`` behaviour
matches the emulator step for step. ``read_netx`` is neurosim's own reader of
that layout, applying the same field-to-parameter mapping as netx.

The mapping was read from lava-dl 0.6.0 (the release that pins lava-nc
0.10.0): ``netx/hdf5.py`` (``Network.get_neuron_params``,
``Network.create_dense``, ``Network._create``), ``netx/utils.py``
(``NetDict``, ``optimize_weight_bits``), ``netx/blocks/process.py``
(``AbstractBlock._neuron``, ``Dense``) and, for how lava-dl itself writes
files, ``slayer/block/base.py`` (``AbstractDense.export_hdf5``) and
``slayer/neuron/cuba.py`` (``device_params``). See docs/netx.md.

Per dense layer, netx configures Lava with:

* ``LIF(du = iDecay - 1, dv = vDecay, vth = vThMant, bias_mant = bias,
  bias_exp = 6)``;
* ``Dense``/``DelayDense(weights = W << s, weight_exp = -s,
  num_weight_bits = 8 - s - n)`` where ``s`` and ``n`` come from
  ``optimize_weight_bits(W)`` on the stored integer matrix ``W``; Lava then
  infers the sign mode itself. When that is lossless, each step delivers
  exactly ``sum_j W_ij s_j``: the stored weight is the *effective* integer
  weight, not a mantissa;
* ``DelayDense(delays = D, max_delay = 62)`` when a ``delay`` record exists.

The writer refuses what netx cannot reproduce exactly instead of writing a
file that would load into a different network.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from numpy.typing import NDArray

from ..atomic import atomic_path
from .loihi_fixed import FixedPointProjection, LifFixedParams, determine_sign_mode

__all__ = [
    "NETX_BIAS_EXP",
    "NETX_MAX_DELAY",
    "NetxFormatError",
    "NetxWarning",
    "read_netx",
    "write_netx",
]

#: netx always configures ``LIF(bias_exp=6)``; the stored ``bias`` is ``bias_mant``.
NETX_BIAS_EXP = 6
#: netx clamps delays to [0, 62] and builds ``DelayDense(max_delay=62)``.
NETX_MAX_DELAY = 62
#: ``refDelay`` as slayer writes it (netx does not read it).
_REF_DELAY = 1
_NEURON_TYPES = ("CUBA", "LOIHI")  # both map to Lava's LIF in netx
_STR_DTYPE_LEN = 10  # slayer writes 'type' as a (1,) dataset of dtype S10

IntArray = NDArray[np.int64]
Layers = list[tuple[FixedPointProjection, LifFixedParams]]


class NetxFormatError(ValueError):
    """A file does not follow the netx layout, or describes something the
    emulator cannot represent. The message names the file and the HDF5 key."""


class NetxWarning(UserWarning):
    """netx would silently alter a value of the file (clamp, clip or truncate);
    ``read_netx`` applies the same alteration and warns."""


# ---------------------------------------------------------------------------
# netx's weight handling (lava-dl 0.6.0 netx/utils.py::optimize_weight_bits)
# ---------------------------------------------------------------------------


class _WeightsNotLoadable(ValueError):
    """optimize_weight_bits would crash or produce a meaningless configuration."""


def _netx_weight_config(weight: IntArray) -> tuple[IntArray, int, int, bool]:
    """Mirror netx's ``optimize_weight_bits`` on an integer weight matrix.

    Returns ``(weights, num_weight_bits, weight_exp, clipped)``: what netx
    passes to Lava's ``Dense``, and whether netx clipped mixed-sign weights to
    [-256, 254] first (it prints a warning when it does).

    Raises:
        _WeightsNotLoadable: for an all-zero matrix (netx divides by the largest
            weight and fails with OverflowError) and for weights beyond 8 bits
            of one sign (netx left-shifts by a negative count; NumPy then
            returns 0 for every weight).
    """
    w = np.asarray(weight, dtype=np.int64)
    max_w, min_w = int(w.max()), int(w.min())
    clipped = False
    if max_w > 254 and min_w < 0:
        w = np.clip(w, -256, 254)
        max_w, clipped = int(w.max()), True
    if min_w < -256 and max_w > 0:
        w = np.clip(w, -256, 254)
        min_w, clipped = int(w.min()), True
    if max_w == 0 and min_w == 0:
        raise _WeightsNotLoadable(
            "all weights are zero; netx's optimize_weight_bits divides by the largest "
            "weight and fails (OverflowError)"
        )
    if max_w < 0:  # netx INHIBITORY
        is_signed, scale = 0, -256 / min_w
    elif min_w >= 0:  # netx EXCITATORY
        is_signed, scale = 0, 255 / max_w
    else:  # netx MIXED (includes max == 0 with negative weights)
        pos = 127 / max_w if max_w > 0 else math.inf
        is_signed, scale = 1, min(pos, -128 / min_w)
    scale_bits = int(np.floor(np.log2(scale))) + is_signed
    if scale_bits < 0:
        raise _WeightsNotLoadable(
            f"weights in [{min_w}, {max_w}] exceed the 8-bit range of their sign "
            "([0, 255] excitatory, [-256, -1] inhibitory); netx's optimize_weight_bits "
            "would left-shift them by a negative count, which zeroes them"
        )
    n = 8
    while n > 0 and np.any(w % (1 << n)):
        n -= 1
    n -= is_signed
    return w << scale_bits, 8 - scale_bits - n, -scale_bits, clipped


def _effective_weights(proj: FixedPointProjection) -> IntArray | None:
    """The integer matrix S with ``contribution = S @ spikes`` exactly, or None.

    The emulator delivers ``floor(2**weight_exp * sum_j w_ij s_j)`` per delay
    group. That is linear in the spikes (and equals ``S @ s`` with
    ``S = w * 2**weight_exp``) when ``weight_exp >= 0`` or when every mantissa
    is divisible by ``2**-weight_exp``; otherwise the floor of the sum cannot be
    written as one integer weight per synapse.
    """
    q, e = proj.quantized_weights, proj.weight_exp
    if e >= 0:
        return q << e
    if np.any(q % (1 << -e)):
        return None
    return q >> -e


def _projection_from_stored(
    stored: IntArray, delays: IntArray | None
) -> tuple[FixedPointProjection, bool]:
    """Build the projection Lava gets from netx for a stored weight matrix.

    Returns ``(projection, exact)``; ``exact`` is False when netx's clipping or
    Lava's truncation changes the stored weights. Raises ``_WeightsNotLoadable``
    or ValueError (from FixedPointProjection) when the configuration netx
    produces cannot be emulated.
    """
    weights, nwb, exp, clipped = _netx_weight_config(stored)
    if not 1 <= nwb <= 8 or not -7 <= exp <= 7:
        raise _WeightsNotLoadable(
            f"netx's optimize_weight_bits configures Lava's Dense with num_weight_bits={nwb}, "
            f"weight_exp={exp}, outside the emulator's ranges ([1, 8], [-7, 7])"
            + (
                "; for all-negative weights whose minimum is -2**k netx scales the minimum "
                "to -256, which Lava's inhibitory mode clips to -255"
                if nwb < 1 else ""
            )
            + ("; odd mixed-sign weights beyond [-128, 127] need 9-bit mantissas" if nwb > 8 else "")
        )
    proj = FixedPointProjection(weights=weights, num_weight_bits=nwb, weight_exp=exp, delays=delays)
    eff = _effective_weights(proj)
    # Lava re-infers the sign mode and truncates (proj.quantized_weights does the same)
    exact = not clipped and eff is not None and np.array_equal(eff, stored)
    return proj, exact


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _check_layers(layers: object) -> Layers:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not layers:
        raise ValueError(
            "layers must be a non-empty sequence of (FixedPointProjection, LifFixedParams) pairs"
        )
    out: Layers = []
    n_prev = None
    for k, item in enumerate(layers, start=1):
        if not (isinstance(item, (tuple, list)) and len(item) == 2
                and isinstance(item[0], FixedPointProjection)
                and isinstance(item[1], LifFixedParams)):
            raise ValueError(
                f"layer {k}: expected a (FixedPointProjection, LifFixedParams) pair, got {item!r}"
            )
        proj, params = item[0], item[1]
        if n_prev is not None and proj.n_pre != n_prev:
            raise ValueError(
                f"layer {k}: projection expects n_pre={proj.n_pre}, but layer {k - 1} "
                f"has {n_prev} neurons"
            )
        if isinstance(params.bias_mant, tuple) and len(params.bias_mant) != proj.n_post:
            raise ValueError(
                f"layer {k}: bias_mant has {len(params.bias_mant)} entries, "
                f"expected n_post={proj.n_post}"
            )
        n_prev = proj.n_post
        out.append((proj, params))
    return out


def _check_input_shape(input_shape: object, n_in: int) -> IntArray:
    if input_shape is None:
        return np.array([n_in], dtype=np.int64)
    shape = np.asarray(input_shape)
    if (shape.ndim != 1 or shape.size == 0 or not np.issubdtype(shape.dtype, np.integer)
            or shape.min() < 1):
        raise ValueError(f"input_shape must be a tuple of positive ints, got {input_shape!r}")
    if int(np.prod(shape)) != n_in:
        raise ValueError(
            f"input_shape {tuple(int(s) for s in shape)} has {int(np.prod(shape))} elements, "
            f"but the first projection has n_pre={n_in}"
        )
    return shape.astype(np.int64)


def _stored_weights(k: int, proj: FixedPointProjection) -> IntArray:
    """The integer weight matrix to store for layer ``k``, checked against netx."""
    stored = _effective_weights(proj)
    if stored is None:
        e = proj.weight_exp
        raise ValueError(
            f"layer {k}: weight_exp={e} with weight mantissas that are not multiples of "
            f"2**{-e}: the emulator floors each step's summed input (floor(2**{e} * sum)), "
            "but a netx file holds one integer weight per synapse and Lava then delivers "
            "the exact sum. Use weight_exp >= 0, or mantissas divisible by "
            f"{1 << -e}"
        )
    try:
        loaded, exact = _projection_from_stored(stored, proj.delays)
    except (_WeightsNotLoadable, ValueError) as err:
        raise ValueError(
            f"layer {k}: effective weights (mantissa * 2**weight_exp) in "
            f"[{int(stored.min())}, {int(stored.max())}] cannot be loaded exactly by netx: {err}"
        ) from None
    if not exact:
        eff = _effective_weights(loaded)
        raise ValueError(
            f"layer {k}: netx would not reproduce the effective weights: its "
            f"optimize_weight_bits gives num_weight_bits={loaded.num_weight_bits}, "
            f"weight_exp={loaded.weight_exp}, and Lava's Dense (which infers sign mode "
            f"{determine_sign_mode(loaded.weights).value}) then delivers different "
            f"weights{'' if eff is None else f' (e.g. {_first_diff(stored, eff)})'}"
        )
    return stored


def _first_diff(expected: IntArray, got: IntArray) -> str:
    i, j = np.argwhere(expected != got)[0]
    return f"synapse ({i}, {j}): {int(expected[i, j])} -> {int(got[i, j])}"


def _stored_bias(k: int, params: LifFixedParams) -> IntArray | None:
    """``bias`` dataset value (bias_mant for netx's fixed bias_exp=6), or None if zero."""
    eff = params.effective_bias
    if not eff.any():
        return None
    if np.any(eff % (1 << NETX_BIAS_EXP)):
        raise ValueError(
            f"layer {k}: effective bias (bias_mant << bias_exp, bias_exp={params.bias_exp}) "
            f"is not a multiple of 64: netx always configures LIF(bias_exp={NETX_BIAS_EXP}) and "
            "stores only bias_mant, so the bias must be bias_mant * 64 (use bias_exp >= 6, "
            "or a mantissa divisible by 2**(6 - bias_exp))"
        )
    mant = eff >> NETX_BIAS_EXP
    if mant.min() < -(2**12) or mant.max() > 2**12 - 1:
        raise ValueError(
            f"layer {k}: effective bias / 64 in [{int(mant.min())}, {int(mant.max())}] exceeds "
            "the 13-bit bias mantissa [-4096, 4095] that netx stores with bias_exp=6"
        )
    return mant.astype(np.int64)


def _dense_record(k: int, proj: FixedPointProjection, params: LifFixedParams) -> dict[str, Any]:
    """All datasets of one 'dense' layer group, validated (nothing written yet)."""
    if proj.delays is not None and (proj.delays.min() < 0 or proj.delays.max() > NETX_MAX_DELAY):
        raise ValueError(
            f"layer {k}: delays in [{int(proj.delays.min())}, {int(proj.delays.max())}] are "
            f"outside [0, {NETX_MAX_DELAY}]: netx clamps larger delays to {NETX_MAX_DELAY} "
            "(hdf5.py create_dense) and builds DelayDense(max_delay=62)"
        )
    record: dict[str, Any] = {
        "type": "dense",
        "shape": np.array([proj.n_post], dtype=np.int64),
        "inFeatures": np.int64(proj.n_pre),
        "outFeatures": np.int64(proj.n_post),
        "weight": _stored_weights(k, proj),
        "neuron/type": "CUBA",
        "neuron/iDecay": np.int64(params.du + 1),  # netx: du = iDecay - 1
        "neuron/vDecay": np.int64(params.dv),
        "neuron/vThMant": np.int64(params.vth),
        "neuron/refDelay": np.int64(_REF_DELAY),
        "neuron/gradedSpike": np.bool_(False),
    }
    if proj.delays is not None:
        record["delay"] = np.asarray(proj.delays, dtype=np.int64)
    bias = _stored_bias(k, params)
    if bias is not None:
        record["bias"] = bias
    return record


def _write_type(group: Any, value: str) -> None:
    """Layer 'type' as slayer writes it: shape (1,), dtype S10."""
    group.create_dataset("type", (1,), f"S{_STR_DTYPE_LEN}", [value.encode("ascii")])


def write_netx(
    path: str | os.PathLike,
    layers: Sequence[tuple[FixedPointProjection, LifFixedParams]],
    *,
    input_shape: Sequence[int] | None = None,
) -> Path:
    """Write a feed-forward fixed-point CUBA LIF chain as a lava-dl netx HDF5 file.

    Layout (see docs/netx.md)::

        /layer/0/{type='input', shape}                       # no neuron: netx makes no block
        /layer/k/{type='dense', shape=[n_post], inFeatures, outFeatures,
                  weight (n_post, n_pre), [delay (n_post, n_pre)], [bias],
                  neuron/{type='CUBA', iDecay, vDecay, vThMant, refDelay, gradedSpike}}

    ``weight`` holds the *effective* integer weights ``mantissa * 2**weight_exp``
    (netx re-derives a mantissa and exponent itself); ``iDecay = du + 1``;
    ``bias = (bias_mant << bias_exp) / 64`` (netx fixes ``bias_exp = 6``);
    ``delay`` is the per-synapse delay matrix (omitted for a plain ``Dense``).

    The file is written to a temporary name in the same folder and renamed with
    :func:`os.replace`, so ``path`` is either the old file or the complete new one.

    Args:
        path: destination file (lava-dl uses the suffix ``.net``; any name works).
        layers: ``(projection, lif_params)`` pairs from input to output, as for
            :func:`~neurosim.hardware.loihi_fixed.run_fixed_network`.
        input_shape: shape recorded for the input layer, in slayer's order
            (netx reverses it to x, y, z); its product must equal the first
            projection's ``n_pre``. Defaults to ``(n_pre,)``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: naming the layer (1-based, as ``lif{k}`` in
            ``run_fixed_network``) if the chain is inconsistent, or if netx could
            not load it into the same network: delays outside [0, 62]; an
            effective bias that is not ``bias_mant * 64`` with a 13-bit
            ``bias_mant``; a negative ``weight_exp`` whose floor-of-sum is not
            linear; effective weights that netx's ``optimize_weight_bits`` plus
            Lava's truncation would change (all-zero matrices, weights beyond 8
            bits of one sign, some all-non-positive matrices; see docs).
    """
    import h5py

    path = Path(path)
    checked = _check_layers(layers)
    shape_in = _check_input_shape(input_shape, checked[0][0].n_pre)
    records = [_dense_record(k, proj, params) for k, (proj, params) in enumerate(checked, start=1)]
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist")

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            root = f.create_group("layer")
            g0 = root.create_group("0")
            _write_type(g0, "input")
            g0.create_dataset("shape", data=shape_in)
            for i, record in enumerate(records, start=1):
                g = root.create_group(str(i))
                for key, value in record.items():
                    if key == "type":
                        _write_type(g, value)
                    else:
                        # neuron/type is a scalar variable-length string, as slayer writes it
                        g.create_dataset(key, data=value)
    return path


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


class _Reader:
    """Reads one file; every error names the file and the HDF5 key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> NetxFormatError:
        return NetxFormatError(f"{self.path}: '{key}': {problem}")

    def warn(self, key: str, problem: str) -> None:
        warnings.warn(f"{self.path}: '{key}': {problem}", NetxWarning, stacklevel=4)

    def dataset(self, group: Any, name: str, where: str, why: str = "") -> np.ndarray:
        import h5py

        key = f"{where}/{name}"
        if name not in group:
            raise self.fail(key, "missing" + (f" ({why})" if why else ""))
        obj = group[name]
        if not isinstance(obj, h5py.Dataset):
            raise self.fail(key, "is a group, expected a dataset")
        return np.asarray(obj[()])

    def string(self, group: Any, name: str, where: str) -> str:
        """A 'type' string as netx's NetDict reads it: element 0 of a (1,)
        dataset, or a scalar; bytes decoded as ASCII."""
        value = self.dataset(group, name, where)
        if value.ndim > 1 or value.size != 1:
            raise self.fail(f"{where}/{name}", f"expected one string, got shape {value.shape}")
        item = value.reshape(-1)[0]
        if isinstance(item, (bytes, np.bytes_)):
            try:
                return bytes(item).decode("ascii")
            except UnicodeDecodeError:
                raise self.fail(f"{where}/{name}", "is not ASCII (netx decodes it as ASCII)") from None
        if isinstance(item, str):
            return item
        raise self.fail(f"{where}/{name}", f"expected a string, got {value.dtype}")

    def integers(self, value: np.ndarray, key: str, truncate: bool) -> IntArray:
        """Integer copy of a numeric array; non-integral floats are truncated
        toward zero like netx's ``astype(int)`` (with a warning) if
        ``truncate``, else rejected."""
        if value.dtype == np.bool_ or not (np.issubdtype(value.dtype, np.integer)
                                           or np.issubdtype(value.dtype, np.floating)):
            raise self.fail(key, f"expected numbers, got dtype {value.dtype}")
        if np.issubdtype(value.dtype, np.floating):
            if not np.all(np.isfinite(value)):
                raise self.fail(key, "contains NaN or infinity")
            if np.any(value != np.trunc(value)):
                if not truncate:
                    raise self.fail(key, "must hold integers")
                self.warn(key, "non-integer values truncated toward zero, as netx's astype(int) does")
        return value.astype(np.int64)

    def uniform_int(self, group: Any, name: str, where: str, why: str) -> int:
        """A neuron parameter: a scalar, or a per-neuron array with one value."""
        key = f"{where}/{name}"
        value = self.integers(self.dataset(group, name, where, why), key, truncate=False)
        if value.size == 0:
            raise self.fail(key, "is empty")
        if np.unique(value).size != 1:
            raise self.fail(
                key, f"per-neuron values {np.unique(value)[:5].tolist()}... are not supported: "
                "the emulator shares du, dv and vth across a population"
            )
        return int(value.reshape(-1)[0])

    # -- layers -------------------------------------------------------------

    def read(self) -> Layers:
        import h5py

        if not self.path.exists():
            raise FileNotFoundError(f"no netx file at {self.path}")
        try:
            f = h5py.File(self.path, "r")
        except OSError as err:
            raise NetxFormatError(f"{self.path}: not an HDF5 file ({err})") from None
        with f:
            if "layer" not in f or not isinstance(f["layer"], h5py.Group):
                raise self.fail("layer", "missing group (netx reads the network from /layer)")
            root = f["layer"]
            expected = [str(i) for i in range(len(root))]
            missing = [k for k in expected if k not in root]
            if missing:
                raise self.fail(
                    f"layer/{missing[0]}", f"missing: netx reads layers 'layer/0' ... "
                    f"'layer/{len(root) - 1}' by index; found {sorted(root.keys())}"
                )
            layers: Layers = []
            n_prev: int | None = None
            for i in range(len(root)):
                where = f"layer/{i}"
                group = root[str(i)]
                if not isinstance(group, h5py.Group):
                    raise self.fail(where, "is a dataset, expected a group")
                kind = self.string(group, "type", where)
                if kind == "input":
                    n_prev = self.input_layer(group, where, i)
                elif kind == "flatten" and not layers:
                    continue  # before the first dense layer netx only sets a flag
                elif kind == "dense":
                    proj, params = self.dense_layer(group, where, n_prev)
                    layers.append((proj, params))
                    n_prev = proj.n_post
                else:
                    raise self.fail(
                        f"{where}/type", f"layer type '{kind}' is not supported: the emulator "
                        "runs chains of 'dense' layers (an optional shape-only 'input' layer "
                        "and 'flatten' before the first dense layer are accepted)"
                    )
            if not layers:
                raise self.fail("layer", "no 'dense' layer found")
            return layers

    def input_layer(self, group: Any, where: str, index: int) -> int | None:
        if index != 0:
            raise self.fail(f"{where}/type", "an 'input' layer is only supported as layer 0")
        if "neuron" in group:
            raise self.fail(
                f"{where}/neuron", "an input layer with a neuron makes netx build an Input "
                "block (LIF neurons driven by a bias transform), which the emulator does not "
                "model; write the input layer with 'type' and 'shape' only"
            )
        if "shape" not in group:
            return None
        shape = self.integers(self.dataset(group, "shape", where), f"{where}/shape", truncate=False)
        if shape.ndim > 1 or shape.size == 0 or shape.min() < 1:
            raise self.fail(f"{where}/shape", f"expected positive sizes, got {shape.tolist()}")
        return int(np.prod(shape))

    def dense_layer(
        self, group: Any, where: str, n_prev: int | None
    ) -> tuple[FixedPointProjection, LifFixedParams]:
        import h5py

        shape = self.integers(self.dataset(group, "shape", where, "netx sizes the layer from it"),
                              f"{where}/shape", truncate=False)
        if shape.ndim > 1 or shape.size == 0 or shape.min() < 1:
            raise self.fail(f"{where}/shape", f"expected positive sizes, got {shape.tolist()}")
        n_post = int(np.prod(shape))

        if "weight" in group and isinstance(group["weight"], h5py.Group):
            raise self.fail(f"{where}/weight", "complex weights (weight/real, weight/imag) "
                            "are not supported")
        weight = self.integers(self.dataset(group, "weight", where), f"{where}/weight",
                               truncate=True)
        if weight.ndim == 1:  # netx: weight.reshape(shape[0], -1)
            if weight.size % n_post:
                raise self.fail(f"{where}/weight", f"{weight.size} values cannot be reshaped "
                                f"to ({n_post}, -1)")
            weight = weight.reshape(n_post, -1)
        if weight.ndim != 2 or weight.shape[0] != n_post or weight.shape[1] == 0:
            raise self.fail(f"{where}/weight", f"shape {weight.shape} does not match "
                            f"(n_post={n_post}, n_pre) from '{where}/shape'")
        n_pre = weight.shape[1]
        if n_prev is not None and n_pre != n_prev:
            raise self.fail(f"{where}/weight", f"has {n_pre} inputs but the previous layer "
                            f"has {n_prev} neurons")
        for name, expect in (("inFeatures", n_pre), ("outFeatures", n_post)):
            if name in group:  # written by slayer; netx does not read them
                value = self.integers(self.dataset(group, name, where), f"{where}/{name}",
                                      truncate=False)
                if value.size != 1 or int(value.reshape(-1)[0]) != expect:
                    raise self.fail(f"{where}/{name}", f"is {value.tolist()}, but the weight "
                                    f"matrix implies {expect}")

        delays = self.delays(group, where, weight.shape) if "delay" in group else None
        params = self.neuron(group, where, n_post)
        try:
            proj, exact = _projection_from_stored(weight, delays)
        except (_WeightsNotLoadable, ValueError) as err:
            raise self.fail(f"{where}/weight", f"cannot be emulated: {err}") from None
        if not exact:
            self.warn(f"{where}/weight", "netx/Lava will not deliver these weights exactly "
                      f"(num_weight_bits={proj.num_weight_bits}, weight_exp={proj.weight_exp}); "
                      "the layers returned reproduce what Lava runs")
        return proj, params

    def delays(self, group: Any, where: str, shape: tuple[int, int]) -> IntArray:
        key = f"{where}/delay"
        delay = self.integers(self.dataset(group, "delay", where), key, truncate=True)
        if delay.size and delay.max() > NETX_MAX_DELAY:
            self.warn(key, f"delays up to {int(delay.max())} clamped to [0, {NETX_MAX_DELAY}], "
                      "as netx does")
            delay = np.clip(delay, 0, NETX_MAX_DELAY)
        if delay.size and delay.min() < 0:
            raise self.fail(key, f"negative delay {int(delay.min())}")
        n_post, n_pre = shape
        if delay.ndim == 0:
            return np.full(shape, int(delay), dtype=np.int64)
        if delay.ndim == 1:  # netx: length n_post first, then length n_pre
            if delay.size == n_post:
                return np.repeat(delay.reshape(-1, 1), n_pre, axis=1)
            if delay.size == n_pre:
                return np.repeat(delay.reshape(1, -1), n_post, axis=0)
        elif delay.shape == shape:
            return delay
        raise self.fail(key, f"shape {delay.shape} fits neither a scalar, ({n_post},) "
                        f"per neuron, ({n_pre},) per input nor ({n_post}, {n_pre}) per synapse")

    def neuron(self, group: Any, where: str, n_post: int) -> LifFixedParams:
        import h5py

        key = f"{where}/neuron"
        if "neuron" not in group or not isinstance(group["neuron"], h5py.Group):
            raise self.fail(key, "missing: netx would use its default non-leaky integrator "
                            "(iDecay=0, vDecay=4096, vThMant=1<<17), which the emulator's "
                            "parameter ranges do not include")
        neuron = group["neuron"]
        kind = self.string(neuron, "type", key)
        if kind not in _NEURON_TYPES:
            raise self.fail(f"{key}/type", f"neuron type '{kind}' is not supported; netx maps "
                            "only 'CUBA' and 'LOIHI' to Lava's LIF")
        if "messageBits" in neuron:
            bits = self.uniform_int(neuron, "messageBits", key, "")
            if bits != 0:
                raise self.fail(f"{key}/messageBits", f"graded spikes ({bits} message bits) "
                                "are not emulated")
        why = "netx reads it for CUBA neurons"
        i_decay = self.uniform_int(neuron, "iDecay", key, why)
        v_decay = self.uniform_int(neuron, "vDecay", key, why)
        v_th = self.uniform_int(neuron, "vThMant", key, why)
        bias_mant: int | tuple[int, ...] = 0
        bias_exp = 0
        if "bias" in group:
            bkey = f"{where}/bias"
            bias = self.integers(self.dataset(group, "bias", where), bkey, truncate=True)
            if bias.ndim == 0 or (bias.shape == (1,) and n_post == 1):
                bias_mant = int(bias.reshape(-1)[0])
            elif bias.shape == (n_post,):
                bias_mant = tuple(int(b) for b in bias)
            else:
                raise self.fail(bkey, f"shape {bias.shape} is neither a scalar nor ({n_post},)")
            bias_exp = NETX_BIAS_EXP
        for name, value in (("iDecay", i_decay), ("vDecay", v_decay), ("vThMant", v_th)):
            low, high = (1, 4096) if name == "iDecay" else (0, 4095) if name == "vDecay" \
                else (0, 2**17 - 1)
            if not low <= value <= high:
                raise self.fail(f"{key}/{name}", f"{value} is outside [{low}, {high}], the "
                                "range the emulator supports (du = iDecay - 1 in [0, 4095], "
                                "dv = vDecay in [0, 4095], vth = vThMant < 2**17)")
        try:
            return LifFixedParams(du=i_decay - 1, dv=v_decay, vth=v_th,
                                  bias_mant=bias_mant, bias_exp=bias_exp)
        except ValueError as err:
            raise self.fail(f"{where}/bias", str(err)) from None


def read_netx(path: str | os.PathLike) -> Layers:
    """Read a netx HDF5 file of dense CUBA layers into emulator layers.

    Applies netx's own mapping (lava-dl 0.6.0 ``hdf5.Network``): ``du =
    iDecay - 1``, ``dv = vDecay``, ``vth = vThMant``, ``bias_mant = bias`` with
    ``bias_exp = 6`` (``bias_mant = 0, bias_exp = 0`` when there is no
    ``bias``, the same zero bias); the weights as netx's
    ``optimize_weight_bits`` hands them to Lava's ``Dense`` (scaled mantissas,
    ``num_weight_bits``, negative ``weight_exp``); ``delay`` broadcast like
    netx (scalar; ``(n_post,)`` per neuron; ``(n_pre,)`` per input;
    ``(n_post, n_pre)`` per synapse) and clamped to [0, 62] with a warning.

    ``run_fixed_network(spikes, read_netx(path))`` therefore emulates what
    ``hdf5.Network(net_config=path)`` runs under ``fixed_pt`` when its ``inp``
    port is driven by ``spikes``.

    Returns:
        ``[(FixedPointProjection, LifFixedParams), ...]`` for the dense layers.

    Raises:
        FileNotFoundError: no file at ``path``.
        NetxFormatError: (a ValueError) naming the file and the HDF5 key: a
            missing key, a wrong shape, or something the emulator cannot
            represent (other layer or neuron types, graded spikes, per-neuron
            decays or thresholds, parameters outside the emulator's ranges).
    """
    return _Reader(Path(path)).read()

"""lava-dl netx HDF5 exchange (neurosim.hardware.netx): layout, round trip, files
written the way lava-dl writes them, and errors.

The expected layout below is transcribed from lava-dl's documentation and
exporter, not from neurosim's writer:

* ``src/lava/lib/dl/netx/README.md`` ("HDF5 description protocol"): ``/layer/<i>``
  for i = 0 .. n-1; ``dense: {shape, type, neuron, inFeatures, outFeatures,
  weight, delay (if available)}``; ``neuron: {iDecay, vDecay, vThMant, refDelay, ...}``.
* ``src/lava/lib/dl/slayer/block/base.py`` (``AbstractDense.export_hdf5``) and
  ``slayer/neuron/cuba.py`` (``device_params``): ``type`` is a (1,) ``S10``
  dataset, ``shape`` an integer vector, ``weight`` (out, in), ``neuron/type`` a
  string, ``gradedSpike`` a bool.
* ``src/lava/lib/dl/netx/utils.py`` (``NetDict``): strings are read as
  ``ds[0]`` (shape (1,)) or ``ds[()]`` and decoded as ASCII.
* ``src/lava/lib/dl/netx/hdf5.py``: du = iDecay - 1, dv = vDecay, vth = vThMant,
  bias_mant = bias with bias_exp = 6.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurosim.hardware.loihi_fixed import (
    FixedPointProjection,
    LifFixedParams,
    run_fixed_network,
)
from neurosim.hardware.netx import NetxFormatError, NetxWarning, read_netx, write_netx

Layers = list[tuple[FixedPointProjection, LifFixedParams]]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _effective(proj: FixedPointProjection) -> np.ndarray:
    """Per-step integer contribution matrix of a projection whose exponent is exact."""
    q = proj.quantized_weights.astype(np.int64)
    if proj.weight_exp >= 0:
        return q * 2**proj.weight_exp
    assert not np.any(q % 2 ** -proj.weight_exp)
    return q // 2 ** -proj.weight_exp


def _assert_same_run(a: Layers, b: Layers, spikes: np.ndarray) -> dict:
    ra, rb = run_fixed_network(spikes, a), run_fixed_network(spikes, b)
    assert ra.keys() == rb.keys()
    for key in ra:
        assert np.array_equal(ra[key], rb[key]), key
    return ra


def _random_layers(rng: np.random.Generator, sizes: list[int], *, max_delay: int = 6,
                   nwb: int = 8, weight_exp: int = 0, per_neuron_bias: bool = True) -> Layers:
    layers = []
    for k, (n_pre, n_post) in enumerate(zip(sizes[:-1], sizes[1:])):
        amp = int(rng.choice([8, 32, 63]))
        w = rng.integers(-amp, amp + 1, size=(n_post, n_pre)) * 2
        w[0, 0], w[-1, -1] = 2 * amp, -2 * amp  # mixed sign
        delays = rng.integers(0, max_delay + 1, size=w.shape) if k == 0 else None
        proj = FixedPointProjection(w, num_weight_bits=nwb, weight_exp=weight_exp, delays=delays)
        if per_neuron_bias and k == 0:
            bias: int | tuple[int, ...] = tuple(int(b) for b in rng.integers(-20, 21, n_post))
            bias_exp = 6
        else:
            bias, bias_exp = 0, 0
        params = LifFixedParams(du=int(rng.integers(0, 2000)), dv=int(rng.integers(0, 600)),
                                vth=int(rng.integers(20, 100)), bias_mant=bias, bias_exp=bias_exp)
        layers.append((proj, params))
    return layers


def _walk(path: Path) -> dict[str, h5py.Dataset | None]:
    """Independent walk: every object of the file, groups mapped to None."""
    items: dict[str, object] = {}
    with h5py.File(path, "r") as f:
        def visit(name: str, obj: object) -> None:
            items[name] = (
                None if isinstance(obj, h5py.Group)
                else (obj.dtype, obj.shape, obj[()])
            )
        f.visititems(visit)
    return items


def _netdict_str(value: object) -> str:
    """How netx's NetDict reads a 'type' record: value[0] if 1-D, then .decode('ascii')."""
    value = value[0] if np.ndim(value) > 0 else value
    return value.decode("ascii")


def _is_int(dtype: np.dtype) -> bool:
    return dtype.kind in "iu"


# ---------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------

#: dense-layer records, from the netx README and slayer's exporter
DENSE_REQUIRED = {"type", "shape", "neuron", "inFeatures", "outFeatures", "weight"}
DENSE_OPTIONAL = {"delay", "bias"}
NEURON_REQUIRED = {"type", "iDecay", "vDecay", "vThMant", "refDelay"}
NEURON_OPTIONAL = {"gradedSpike"}


def test_layout_matches_netx_schema(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    layers = _random_layers(rng, [6, 5, 3])
    path = write_netx(tmp_path / "net.net", layers)
    items = _walk(path)

    assert {name for name in items if "/" not in name} == {"layer"}
    layer_keys = {name.split("/")[1] for name in items if name.count("/") == 1}
    assert layer_keys == {"0", "1", "2"}  # netx reads layer/0 .. layer/n-1 by index

    # layer 0: shape-only input record (no neuron, so netx builds no block for it)
    children0 = {name.split("/", 2)[2] for name in items if name.startswith("layer/0/")}
    assert children0 == {"type", "shape"}
    dtype, shape, value = items["layer/0/type"]
    assert dtype.kind == "S" and shape == (1,) and _netdict_str(value) == "input"
    dtype, shape, value = items["layer/0/shape"]
    assert _is_int(dtype) and len(shape) == 1 and int(np.prod(value)) == 6

    for i, (proj, params) in enumerate(layers, start=1):
        prefix = f"layer/{i}/"
        children = {n[len(prefix):] for n in items if n.startswith(prefix) and
                    "/" not in n[len(prefix):]}
        assert DENSE_REQUIRED <= children <= DENSE_REQUIRED | DENSE_OPTIONAL, children
        assert items[prefix + "neuron"] is None  # a group
        neuron = {n[len(prefix) + 7:] for n in items if n.startswith(prefix + "neuron/")}
        assert NEURON_REQUIRED <= neuron <= NEURON_REQUIRED | NEURON_OPTIONAL, neuron

        dtype, shape, value = items[prefix + "type"]
        assert dtype.kind == "S" and dtype.itemsize == 10 and shape == (1,)
        assert _netdict_str(value) == "dense"
        dtype, shape, value = items[prefix + "shape"]
        assert _is_int(dtype) and len(shape) == 1 and int(np.prod(value)) == proj.n_post
        for name, expect in (("inFeatures", proj.n_pre), ("outFeatures", proj.n_post)):
            dtype, shape, value = items[prefix + name]
            assert _is_int(dtype) and shape == () and int(value) == expect

        dtype, shape, value = items[prefix + "weight"]
        assert dtype.kind in "iuf" and shape == (proj.n_post, proj.n_pre)
        assert np.array_equal(value, _effective(proj))  # integers: netx casts with astype(int)

        dtype, shape, value = items[prefix + "neuron/type"]
        assert shape == () and (h5py.check_string_dtype(dtype) is not None or dtype.kind == "S")
        assert _netdict_str(value) == "CUBA"
        for name, expect in (("iDecay", params.du + 1), ("vDecay", params.dv),
                             ("vThMant", params.vth), ("refDelay", 1)):
            dtype, shape, value = items[prefix + "neuron/" + name]
            assert _is_int(dtype) and shape == () and int(value) == expect, name
        dtype, shape, value = items[prefix + "neuron/gradedSpike"]
        assert dtype == np.bool_ and shape == () and not value

        if proj.delays is None:
            assert "delay" not in children
        else:
            dtype, shape, value = items[prefix + "delay"]
            assert _is_int(dtype) and shape == (proj.n_post, proj.n_pre)
            assert np.array_equal(value, proj.delays)
        if not np.any(params.effective_bias):
            assert "bias" not in children
        else:
            dtype, shape, value = items[prefix + "bias"]
            assert _is_int(dtype) and shape in ((), (proj.n_post,))
            assert np.array_equal(np.asarray(value) * 64,
                                  np.broadcast_to(params.effective_bias, np.shape(value)))


def test_scalar_bias_is_a_scalar_dataset_and_input_shape_recorded(tmp_path: Path) -> None:
    proj = FixedPointProjection(np.array([[10, -4, 6, 8]] * 3))
    params = LifFixedParams(du=10, dv=20, vth=30, bias_mant=5, bias_exp=6)
    path = write_netx(tmp_path / "a.net", [(proj, params)], input_shape=(1, 2, 2))
    items = _walk(path)
    dtype, shape, value = items["layer/1/bias"]
    assert shape == () and int(value) == 5
    assert list(items["layer/0/shape"][2]) == [1, 2, 2]


# ---------------------------------------------------------------------------
# round trip
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "kwargs"),
    [
        (0, {}),
        (1, {"max_delay": 62}),
        (2, {"nwb": 6}),                   # emulator truncates; the truncated weights are stored
        (3, {"weight_exp": 1}),            # effective weights = mantissa * 2
        (4, {"weight_exp": -1}),           # mixed mantissas are even: exact halves (odd ones too)
        (5, {"per_neuron_bias": False}),
    ],
)
def test_round_trip_is_identical_and_bit_exact(tmp_path: Path, seed: int, kwargs: dict) -> None:
    rng = np.random.default_rng(seed)
    layers = _random_layers(rng, [8, 6, 5, 3], **kwargs)
    path = write_netx(tmp_path / "rt.net", layers)
    back = read_netx(path)

    assert len(back) == len(layers)
    for (p0, n0), (p1, n1) in zip(layers, back):
        assert n1 == n0  # du, dv, vth, bias_mant, bias_exp all identical
        assert np.array_equal(_effective(p1), _effective(p0))
        assert (p1.delays is None) == (p0.delays is None)
        if p0.delays is not None:
            assert np.array_equal(p1.delays, p0.delays)

    spikes = (rng.random((8, 80)) < 0.35).astype(np.int64)
    rec = _assert_same_run(layers, back, spikes)
    assert rec["lif1_s_out"].sum() > 0 and rec["lif3_s_out"].sum() > 0  # the run is not trivial

    # writing what was read gives the same file content again
    again = read_netx(write_netx(tmp_path / "rt2.net", back))
    for (p1, n1), (p2, n2) in zip(back, again):
        assert n2 == n1 and np.array_equal(p2.weights, p1.weights)
        assert (p2.num_weight_bits, p2.weight_exp) == (p1.num_weight_bits, p1.weight_exp)


def test_round_trip_rescales_bias_to_netx_exponent(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    layers = _random_layers(rng, [5, 4, 2], per_neuron_bias=False)
    proj, params = layers[0]
    layers[0] = (proj, LifFixedParams(params.du, params.dv, params.vth, bias_mant=3, bias_exp=7))
    back = read_netx(write_netx(tmp_path / "b.net", layers))
    assert (back[0][1].bias_mant, back[0][1].bias_exp) == (6, 6)  # 3 << 7 == 6 << 6
    assert np.array_equal(back[0][1].effective_bias, layers[0][1].effective_bias)
    _assert_same_run(layers, back, (rng.random((5, 50)) < 0.4).astype(np.int64))


# ---------------------------------------------------------------------------
# files written the way lava-dl writes them
# ---------------------------------------------------------------------------


def _slayer_dense(group: h5py.Group, weight: np.ndarray, *, i_decay: int, v_decay: int,
                  vth: int, delay: np.ndarray | None = None, bias: np.ndarray | None = None) -> None:
    """Mirror of slayer's AbstractDense.export_hdf5 + cuba.Neuron.device_params."""
    group.create_dataset("type", (1,), "S10", ["dense".encode("ascii", "ignore")])
    group.create_dataset("shape", data=np.array([weight.shape[0]]))
    group.create_dataset("inFeatures", data=weight.shape[1])
    group.create_dataset("outFeatures", data=weight.shape[0])
    group.create_dataset("weight", data=weight.astype(np.float32))  # slayer: float tensor
    if bias is not None:
        group.create_dataset("bias", data=bias.astype(np.float32))
    if delay is not None:
        group.create_dataset("delay", data=np.floor(delay).astype(np.float32))
    for key, value in {"type": "CUBA", "iDecay": np.int64(i_decay), "vDecay": np.int64(v_decay),
                       "vThMant": vth, "refDelay": 1, "gradedSpike": False}.items():
        group.create_dataset(f"neuron/{key}", data=value)


# input(4) -> dense(3; iDecay 1024, vDecay 128, vThMant 80) -> dense(2; iDecay 4096, vDecay 0,
# vThMant 50): the network of the verified example in the Loihi reference sheet, section 3.3.
W1 = np.array([[100, -90, 2, 6], [-34, 18, 40, -2], [10, 50, -60, 22]])
W2 = np.array([[100, -88, 4], [-40, 60, 12]])


def _handmade(path: Path, *, delay1: np.ndarray | None = None,
              bias1: np.ndarray | None = None) -> Path:
    with h5py.File(path, "w") as f:
        layer = f.create_group("layer")
        g0 = layer.create_group("0")
        g0.create_dataset("type", (1,), "S10", ["input".encode("ascii", "ignore")])
        g0.create_dataset("shape", data=np.array([4]))
        _slayer_dense(layer.create_group("1"), W1, i_decay=1024, v_decay=128, vth=80,
                      delay=delay1, bias=bias1)
        _slayer_dense(layer.create_group("2"), W2, i_decay=4096, v_decay=0, vth=50)
        f.create_dataset("simulation/Ts", data=1)  # README: not used for exchange
        f.create_dataset("simulation/tSample", data=30)
    return path


def test_handmade_lava_dl_file_reads_with_netx_mapping(tmp_path: Path) -> None:
    delay1 = np.array([0.0, 2.0, 5.0])  # slayer: floor(axonal delay), one per output neuron
    bias1 = np.array([3.0, -2.0, 0.0])
    layers = read_netx(_handmade(tmp_path / "lavadl.net", delay1=delay1, bias1=bias1))
    (p1, n1), (p2, n2) = layers

    # neuron mapping (netx hdf5.py get_neuron_params)
    assert n1 == LifFixedParams(du=1023, dv=128, vth=80, bias_mant=(3, -2, 0), bias_exp=6)
    assert n2 == LifFixedParams(du=4095, dv=0, vth=50)

    # weights as netx's optimize_weight_bits hands them to Lava, derived by hand:
    # W1: mixed, max 100, min -90: scale = min(127/100, 128/90) = 1.27, floor(log2) = 0,
    #     +1 (signed) -> 1; all even, not all multiples of 4 -> n = 1 - 1 = 0;
    #     num_weight_bits = 8 - 1 - 0 = 7, weight_exp = -1, weights 2*W1.
    # W2: scale = min(127/100, 128/88) -> 1 again; all multiples of 4 -> n = 2 - 1 = 1;
    #     num_weight_bits = 6, weight_exp = -1.  (The reference reports 7/-1 and 6/-1.)
    assert (p1.num_weight_bits, p1.weight_exp) == (7, -1)
    assert (p2.num_weight_bits, p2.weight_exp) == (6, -1)
    assert np.array_equal(p1.weights, 2 * W1) and np.array_equal(p2.weights, 2 * W2)
    assert np.array_equal(_effective(p1), W1) and np.array_equal(_effective(p2), W2)

    # a (n_out,) delay applies to every synapse of that output neuron (netx create_dense)
    assert np.array_equal(p1.delays, np.repeat([[0], [2], [5]], 4, axis=1))
    assert p2.delays is None

    # Lava's result equals the raw integer weights with weight_exp 0 (reference 2.5/3.3)
    expected = [
        (FixedPointProjection(W1, delays=np.repeat([[0], [2], [5]], 4, axis=1)),
         LifFixedParams(du=1023, dv=128, vth=80, bias_mant=(3, -2, 0), bias_exp=6)),
        (FixedPointProjection(W2), LifFixedParams(du=4095, dv=0, vth=50)),
    ]
    spikes = (np.random.default_rng(11).random((4, 30)) < 0.5).astype(np.int64)
    rec = _assert_same_run(layers, expected, spikes)
    assert rec["lif1_s_out"].sum() > 0


def test_handmade_delay_forms(tmp_path: Path) -> None:
    # (n_in,) delays: one per input, broadcast down the rows
    layers = read_netx(_handmade(tmp_path / "d_in.net", delay1=np.array([1.0, 0.0, 3.0, 4.0])))
    assert np.array_equal(layers[0][0].delays, np.tile([1, 0, 3, 4], (3, 1)))
    # scalar delay: every synapse
    path = _handmade(tmp_path / "d_scalar.net")
    with h5py.File(path, "a") as f:
        f["layer/1"].create_dataset("delay", data=np.float32(7.0))
    assert np.array_equal(read_netx(path)[0][0].delays, np.full((3, 4), 7))
    # beyond 62: netx clamps with a warning; so does read_netx
    with pytest.warns(NetxWarning, match="layer/1/delay"):
        layers = read_netx(_handmade(tmp_path / "d_big.net", delay1=np.array([70.0, 1.0, 62.0])))
    assert np.array_equal(layers[0][0].delays[:, 0], [62, 1, 62])


def test_handmade_file_without_input_layer_and_with_flatten(tmp_path: Path) -> None:
    path = tmp_path / "noinput.net"
    with h5py.File(path, "w") as f:
        f.create_dataset("layer/0/type", (1,), "S10", [b"flatten"])
        f.create_dataset("layer/0/shape", data=np.array([4, 1, 1]))
        _slayer_dense(f.create_group("layer/1"), W1, i_decay=1, v_decay=0, vth=10)
    (proj, params), = read_netx(path)
    assert proj.n_pre == 4 and params.du == 0


# ---------------------------------------------------------------------------
# atomic write
# ---------------------------------------------------------------------------


def _small() -> Layers:
    return [(FixedPointProjection(np.array([[4, -2], [6, 8]])), LifFixedParams(1, 2, 3))]


def test_failed_validation_leaves_existing_file(tmp_path: Path) -> None:
    path = write_netx(tmp_path / "keep.net", _small())
    before = path.read_bytes()
    bad = [(FixedPointProjection(np.array([[4, -2], [6, 8]])),
            LifFixedParams(1, 2, 3, bias_mant=1, bias_exp=0))]
    with pytest.raises(ValueError, match="bias"):
        write_netx(path, bad)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.net"]


def test_failure_during_write_leaves_existing_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_netx(tmp_path / "keep.net", _small())
    before = path.read_bytes()
    original = h5py.Group.create_dataset

    def failing(self: h5py.Group, name: str, *args: object, **kwargs: object) -> object:
        if name == "weight":
            raise OSError("disk full (simulated)")
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(OSError, match="simulated"):
        write_netx(path, _small())
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.net"]


# ---------------------------------------------------------------------------
# write errors
# ---------------------------------------------------------------------------


def _params() -> LifFixedParams:
    return LifFixedParams(du=100, dv=100, vth=100)


def _with_delays_63() -> Layers:
    proj = FixedPointProjection(np.array([[4, -2], [6, 8]]), delays=np.array([[0, 1], [2, 3]]))
    bad = np.array([[0, 1], [63, 3]])  # bypass the emulator's own check to test the writer's
    object.__setattr__(proj, "delays", bad)
    return [(proj, _params())]


@pytest.mark.parametrize(
    ("layers", "match"),
    [
        ([], "non-empty"),
        ([(np.eye(2), _params())], "layer 1: expected a"),
        ([(FixedPointProjection(np.array([[2, -2]])), _params()),
          (FixedPointProjection(np.array([[2, -2]])), _params())], "layer 2: projection expects"),
        (_with_delays_63(), r"layer 1: delays .* outside \[0, 62\]"),
        ([(FixedPointProjection(np.array([[4, -2]])),
           LifFixedParams(1, 2, 3, bias_mant=5, bias_exp=3))], "layer 1: effective bias"),
        ([(FixedPointProjection(np.array([[4, -2]])),
           LifFixedParams(1, 2, 3, bias_mant=4095, bias_exp=7))], "13-bit"),
        ([(FixedPointProjection(np.array([[6, -4]]), weight_exp=-2), _params())],
         "layer 1: weight_exp=-2"),
        ([(FixedPointProjection(np.zeros((2, 2), dtype=int)), _params())], "all weights are zero"),
        ([(FixedPointProjection(np.array([[255, 3]]), weight_exp=1), _params())], "8-bit range"),
        ([(FixedPointProjection(np.array([[-2, 0]])), _params())], "netx would not reproduce"),
        ([(FixedPointProjection(np.array([[-1, -1]])), _params())], "num_weight_bits=0"),
    ],
)
def test_write_rejects_what_netx_cannot_reproduce(tmp_path: Path, layers: Layers,
                                                  match: str) -> None:
    with pytest.raises(ValueError, match=match):
        write_netx(tmp_path / "x.net", layers)
    assert not any(tmp_path.iterdir())


def test_write_rejects_bad_input_shape(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="input_shape"):
        write_netx(tmp_path / "x.net", _small(), input_shape=(3,))


# ---------------------------------------------------------------------------
# read errors name the key and the file
# ---------------------------------------------------------------------------


def _valid(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    return write_netx(tmp_path / "v.net", _random_layers(rng, [4, 3, 2]))


def _delete(key: str):
    def mutate(f: h5py.File) -> None:
        del f[key]
    return mutate


def _replace(key: str, value: object, dtype: str | None = None):
    def mutate(f: h5py.File) -> None:
        del f[key]
        if dtype is None:
            f.create_dataset(key, data=value)
        else:
            f.create_dataset(key, (1,), dtype, [value])
    return mutate


def _rename_layer(f: h5py.File) -> None:
    f.move("layer/2", "layer/5")


@pytest.mark.parametrize(
    ("mutate", "key", "match"),
    [
        (_delete("layer"), "layer", "missing"),
        (_delete("layer/1/weight"), "layer/1/weight", "missing"),
        (_delete("layer/2/shape"), "layer/2/shape", "missing"),
        (_delete("layer/2/neuron/vThMant"), "layer/2/neuron/vThMant", "missing"),
        (_delete("layer/1/neuron/iDecay"), "layer/1/neuron/iDecay", "missing"),
        (_delete("layer/1/neuron/type"), "layer/1/neuron/type", "missing"),
        (_delete("layer/2/neuron"), "layer/2/neuron", "default non-leaky"),
        (_delete("layer/1/type"), "layer/1/type", "missing"),
        (_rename_layer, "layer/2", "by index"),
        (_replace("layer/1/neuron/iDecay", 0), "layer/1/neuron/iDecay", r"outside \[1, 4096\]"),
        (_replace("layer/2/neuron/vDecay", 4096), "layer/2/neuron/vDecay", "outside"),
        (_replace("layer/1/neuron/vDecay", np.array([1, 2, 3])), "layer/1/neuron/vDecay",
         "per-neuron"),
        (_replace("layer/1/neuron/type", "SDNN"), "layer/1/neuron/type", "'SDNN'"),
        (_replace("layer/2/type", b"conv", "S10"), "layer/2/type", "'conv'"),
        (_replace("layer/1/weight", np.ones((2, 4))), "layer/1/weight", "does not match"),
        (_replace("layer/2/weight", np.ones((2, 5))), "layer/2/weight", "previous layer"),
        (_replace("layer/1/delay", np.zeros((2, 2))), "layer/1/delay", "fits neither"),
        (_replace("layer/1/delay", np.array([-1, 0, 0])), "layer/1/delay", "negative"),
        (_replace("layer/1/bias", np.zeros(5)), "layer/1/bias", "neither a scalar"),
        (_replace("layer/2/inFeatures", 7), "layer/2/inFeatures", "implies 3"),
        (_replace("layer/2/weight", np.zeros((2, 3))), "layer/2/weight", "all weights are zero"),
        (_replace("layer/2/weight", np.array([[510, 2, 0], [4, 6, 8]])), "layer/2/weight",
         "8-bit range"),
    ],
)
def test_read_errors_name_key_and_file(tmp_path: Path, mutate, key: str, match: str) -> None:
    path = _valid(tmp_path)
    with h5py.File(path, "a") as f:
        mutate(f)
    with pytest.raises(NetxFormatError, match=match) as info:
        read_netx(path)
    assert f"'{key}'" in str(info.value) and str(path) in str(info.value)


def test_read_graded_spikes_and_input_neuron_rejected(tmp_path: Path) -> None:
    path = _valid(tmp_path)
    with h5py.File(path, "a") as f:
        f.create_dataset("layer/1/neuron/messageBits", data=16)
    with pytest.raises(NetxFormatError, match="layer/1/neuron/messageBits"):
        read_netx(path)
    path = _valid(tmp_path)
    with h5py.File(path, "a") as f:
        f.create_dataset("layer/0/neuron/type", data="CUBA")
    with pytest.raises(NetxFormatError, match="layer/0/neuron"):
        read_netx(path)


def test_read_missing_file_and_non_hdf5(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_netx(tmp_path / "absent.net")
    junk = tmp_path / "junk.net"
    junk.write_text("not hdf5")
    with pytest.raises(NetxFormatError, match="not an HDF5 file"):
        read_netx(junk)


def test_read_warns_when_netx_alters_weights(tmp_path: Path) -> None:
    # Inhibitory-only with zeros: netx calls it MIXED and scales -2 to -256, Lava's
    # inhibitory truncation keeps -255 >> 7 << 7 = -128: the layer Lava runs differs.
    path = _handmade(tmp_path / "lossy.net")
    with h5py.File(path, "a") as f:
        del f["layer/2/weight"]
        f.create_dataset("layer/2/weight", data=np.array([[-2.0, 0.0, -2.0], [0.0, -2.0, 0.0]]))
    with pytest.warns(NetxWarning, match="layer/2/weight"):
        layers = read_netx(path)
    assert np.array_equal(_effective(layers[1][0]), [[-1, 0, -1], [0, -1, 0]])

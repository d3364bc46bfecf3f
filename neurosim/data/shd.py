"""Spike data sets in the Spiking Heidelberg Digits (SHD/SSC) HDF5 schema.

Layout (one HDF5 file per split, every ``spikes`` entry a variable-length
array per sample)::

    /spikes/times    vlen float16  spike times of each sample, in seconds
    /spikes/units    vlen uint16   channel index of each spike
    /labels          uint          class index per sample
    /extra/speaker   uint          speaker id per sample (optional)

Files written here add, all optional for reading: ``/extra/speaker_names``
(UTF-8 name of each speaker id), ``/extra/filenames`` (source file of each
sample) and the file attribute ``n_units``.

Time binning uses a fixed grid anchored at t = 0: a spike at ``t`` seconds
falls in step ``floor(t / dt)``, so a spike exactly on an edge ``k * dt``
belongs to step ``k``.  The rule is applied to the stored float16 value,
e.g. 30 ms is stored as 0.029998779 s and lands in step 2 for dt = 10 ms.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..atomic import atomic_path

__all__ = ["SpikeDataset", "read_shd", "write_shd"]

_REQUIRED = ("spikes/times", "spikes/units", "labels")


@dataclass(frozen=True)
class SpikeDataset:
    """Ragged spike trains with one label per sample.

    Attributes:
        times: per sample, 1-D float32 spike times in seconds (>= 0).
        units: per sample, 1-D uint16 channel indices, same length as ``times``.
        labels: int64 class index per sample, shape (n_samples,).
        n_units: number of input channels; every unit index is below it.
        speakers: optional int64 speaker id per sample, shape (n_samples,).
        speaker_names: optional name of each speaker id (index = id).
    """

    times: list[np.ndarray]
    units: list[np.ndarray]
    labels: np.ndarray
    n_units: int
    speakers: np.ndarray | None = None
    speaker_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.labels)
        if len(self.times) != n or len(self.units) != n:
            raise ValueError(
                f"mismatched lengths: {len(self.times)} spike-time arrays, "
                f"{len(self.units)} unit arrays, {n} labels")
        if np.ndim(self.labels) != 1:
            raise ValueError(f"labels must be 1-D, got shape {np.shape(self.labels)}")
        if self.speakers is not None and np.shape(self.speakers) != (n,):
            raise ValueError(f"speakers must have shape ({n},), got {np.shape(self.speakers)}")
        if self.n_units < 1:
            raise ValueError(f"n_units must be >= 1, got {self.n_units}")
        for i, (t, u) in enumerate(zip(self.times, self.units)):
            if t.ndim != 1 or u.ndim != 1 or t.shape != u.shape:
                raise ValueError(
                    f"sample {i}: times and units must be 1-D of equal length, "
                    f"got shapes {t.shape} and {u.shape}")
            if t.size and not (np.all(np.isfinite(t)) and t.min() >= 0):
                raise ValueError(f"sample {i}: spike times must be finite and >= 0 s")
            if u.size and int(u.max()) >= self.n_units:
                raise ValueError(
                    f"sample {i}: unit index {int(u.max())} >= n_units = {self.n_units}")

    def __len__(self) -> int:
        return len(self.labels)

    def n_steps_for(self, dt_ms: float) -> int:
        """Steps of ``dt_ms`` milliseconds needed to hold the latest spike."""
        t_max_ms = max((float(t.max()) * 1e3 for t in self.times if t.size), default=0.0)
        return int(np.floor(t_max_ms / dt_ms)) + 1

    def bin(self, dt_ms: float, n_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Spike counts on a fixed time grid.

        A spike at ``t`` seconds goes to step ``floor(t * 1000 / dt_ms)``.
        Spikes at or beyond ``n_steps * dt_ms`` are dropped; counts above
        255 in one bin saturate at 255.

        Args:
            dt_ms: bin width in milliseconds (> 0).
            n_steps: number of bins; default: enough for the latest spike of
                the whole data set (``n_steps_for(dt_ms)``).

        Returns:
            ``X``, uint8 counts of shape (n_samples, n_steps, n_units), and
            ``y``, the int64 labels of shape (n_samples,).
        """
        if not dt_ms > 0:
            raise ValueError(f"dt_ms must be > 0, got {dt_ms}")
        if n_steps is None:
            n_steps = self.n_steps_for(dt_ms)
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        counts = np.zeros((len(self), n_steps, self.n_units), dtype=np.int64)
        for i, (t, u) in enumerate(zip(self.times, self.units)):
            steps = np.floor(t.astype(np.float64) * 1e3 / dt_ms).astype(np.int64)
            keep = steps < n_steps
            np.add.at(counts[i], (steps[keep], u[keep].astype(np.int64)), 1)
        return np.minimum(counts, 255).astype(np.uint8), self.labels.copy()

    def subset(self, indices: Sequence[int] | np.ndarray) -> SpikeDataset:
        """The samples at ``indices`` (e.g. from :mod:`neurosim.data.splits`)."""
        idx = np.asarray(indices, dtype=np.int64)
        return SpikeDataset(
            times=[self.times[i] for i in idx],
            units=[self.units[i] for i in idx],
            labels=self.labels[idx],
            n_units=self.n_units,
            speakers=None if self.speakers is None else self.speakers[idx],
            speaker_names=self.speaker_names,
        )


def read_shd(path: str | os.PathLike, n_units: int | None = None) -> SpikeDataset:
    """Read an SHD/SSC-schema HDF5 file.

    Args:
        path: the ``.h5`` file (uncompressed).
        n_units: number of channels; default: the file's ``n_units``
            attribute, else the largest unit index + 1 (official SHD files
            carry no such attribute and have 700 channels: pass 700).

    Raises:
        ValueError: a required dataset is missing, or lengths/shapes disagree.
    """
    path = Path(path)
    with h5py.File(path, "r") as f:
        for key in _REQUIRED:
            if key not in f:
                raise ValueError(
                    f"{path}: missing dataset '/{key}' (the SHD schema needs "
                    f"{', '.join('/' + k for k in _REQUIRED)})")
        raw_times, raw_units = f["spikes/times"][()], f["spikes/units"][()]
        labels = f["labels"][()]
        speakers = f["extra/speaker"][()] if "extra/speaker" in f else None
        names = (tuple(s.decode() for s in f["extra/speaker_names"][()])
                 if "extra/speaker_names" in f else None)
        stored_units = f.attrs.get("n_units")
    for key, arr in (("spikes/times", raw_times), ("spikes/units", raw_units), ("labels", labels)):
        if arr.ndim != 1:
            raise ValueError(f"{path}: '/{key}' must be 1-D (one entry per sample), "
                             f"got shape {arr.shape}")
    times = [np.asarray(t, dtype=np.float32) for t in raw_times]
    units = [np.asarray(u, dtype=np.uint16) for u in raw_units]
    if n_units is None:
        n_units = (int(stored_units) if stored_units is not None
                   else max((int(u.max()) + 1 for u in units if u.size), default=1))
    try:
        return SpikeDataset(
            times=times, units=units, labels=labels.astype(np.int64), n_units=n_units,
            speakers=None if speakers is None else np.asarray(speakers, dtype=np.int64),
            speaker_names=names)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def write_shd(path: str | os.PathLike, times_list: Sequence[np.ndarray],
              units_list: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray,
              speakers: Sequence[int] | np.ndarray | None = None, n_units: int = 700,
              speaker_names: Sequence[str] | None = None,
              filenames: Sequence[str] | None = None,
              attrs: Mapping[str, str | int | float] | None = None) -> Path:
    """Write spike trains in the SHD schema, atomically.

    Times (seconds) are stored as vlen float16, like the official files, so
    they are rounded to float16 (about 0.5 ms resolution near 1 s).  The
    file is written to a temporary name in the same folder, then moved onto
    ``path`` with :func:`os.replace`, so readers never see a partial file.

    Args:
        path: destination ``.h5`` file.
        times_list: per sample, spike times in seconds.
        units_list: per sample, channel index of each spike (< ``n_units``).
        labels: class index per sample.
        speakers: optional speaker id per sample (``/extra/speaker``).
        n_units: number of channels, stored as the ``n_units`` attribute.
        speaker_names: optional name of each speaker id.
        filenames: optional source file name of each sample.
        attrs: extra file attributes (e.g. encoder parameters).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    data = SpikeDataset(
        times=[np.asarray(t, dtype=np.float16).astype(np.float32) for t in times_list],
        units=[np.asarray(u).astype(np.uint16) for u in units_list],
        labels=np.asarray(labels, dtype=np.int64), n_units=n_units,
        speakers=None if speakers is None else np.asarray(speakers, dtype=np.int64))
    for name, values in (("labels", data.labels), ("speakers", data.speakers)):
        if values is not None and values.size and not 0 <= values.min() <= values.max() <= 65535:
            raise ValueError(f"{name} must lie in [0, 65535]")
    if filenames is not None and len(filenames) != len(data):
        raise ValueError(f"{len(filenames)} filenames for {len(data)} samples")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            n = len(data)
            times_ds = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float16))
            units_ds = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            for i, (t, u) in enumerate(zip(data.times, data.units)):
                times_ds[i] = t.astype(np.float16)
                units_ds[i] = u
            f.create_dataset("labels", data=data.labels.astype(np.uint16))
            if data.speakers is not None:
                f.create_dataset("extra/speaker", data=data.speakers.astype(np.uint16))
            if speaker_names is not None:
                f.create_dataset("extra/speaker_names", data=list(speaker_names),
                                 dtype=h5py.string_dtype())
            if filenames is not None:
                f.create_dataset("extra/filenames", data=list(filenames),
                                 dtype=h5py.string_dtype())
            f.attrs["n_units"] = n_units
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
    return path

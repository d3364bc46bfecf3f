"""Auditory front end: mono waveform -> spike trains, and FSDD -> SHD file.

Stages, per channel (channel 0 = lowest frequency):

1. **Filterbank.** ``n_channels`` Butterworth band-pass filters (order
   ``filter_order`` per band edge, second-order sections) tiling
   ``[f_lo_hz, f_hi_hz]`` on the ERB-rate scale (Glasberg & Moore 1990):
   band edges are equally spaced in ERB-rate, the centre frequency is the
   ERB-rate midpoint of each band.
2. **Half-wave rectification** of each band signal.
3. **Envelope low-pass**: Butterworth, order 2, cut-off ``envelope_cutoff_hz``.
4. **Log compression** to a drive in [0, 1]:
   ``c = clip(1 + 20 log10(env) / dynamic_range_db, 0, 1)``, i.e. 0 at or
   below ``-dynamic_range_db`` dB re full scale and 1 at full scale (0 dB).
5. **Spike encoding**: a non-leaky integrate-and-fire neuron per channel
   with rate ``c * max_rate_hz`` and subtractive reset: the k-th spike is
   at the time (linearly interpolated between samples) where the integral
   of the rate reaches k.  Silence gives no spikes; a channel never fires
   faster than ``max_rate_hz``.

Units: frequencies in Hz, times in seconds, waveforms in full-scale units
(int16 PCM is divided by 32768).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import h5py
import numpy as np
from scipy.io import wavfile
from scipy.signal import butter, sosfilt

from .shd import write_shd

__all__ = ["FrontEnd", "erb_rate", "inverse_erb_rate", "load_wav", "encode_folder"]

_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


def erb_rate(f_hz: np.ndarray | float) -> np.ndarray:
    """ERB-rate (number of ERBs below ``f_hz``), Glasberg & Moore 1990."""
    return 21.4 * np.log10(1.0 + 4.37e-3 * np.asarray(f_hz, dtype=np.float64))


def inverse_erb_rate(e: np.ndarray | float) -> np.ndarray:
    """Frequency in Hz of ERB-rate ``e``."""
    return (10.0 ** (np.asarray(e, dtype=np.float64) / 21.4) - 1.0) / 4.37e-3


@lru_cache(maxsize=16)
def _filterbank(n_channels: int, f_lo_hz: float, f_hi_hz: float, order: int,
                envelope_cutoff_hz: float, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Band-pass SOS per channel, stacked (n_channels, n_sections, 6), and the envelope SOS."""
    edges = inverse_erb_rate(np.linspace(erb_rate(f_lo_hz), erb_rate(f_hi_hz), n_channels + 1))
    bands = np.stack([butter(order, (lo, hi), btype="bandpass", fs=fs_hz, output="sos")
                      for lo, hi in zip(edges[:-1], edges[1:])])
    envelope = butter(2, envelope_cutoff_hz, btype="lowpass", fs=fs_hz, output="sos")
    return bands, envelope


@dataclass(frozen=True)
class FrontEnd:
    """Cochlea-like encoder from a mono waveform to spike times.

    Attributes:
        n_channels: number of frequency channels (= spike units).
        f_lo_hz: lower edge of the lowest band, Hz.
        f_hi_hz: upper edge of the highest band, Hz (< half the sample rate).
        filter_order: Butterworth order of each band-pass (per edge).
        envelope_cutoff_hz: cut-off of the envelope low-pass, Hz.
        dynamic_range_db: envelope range mapped onto drive 0..1, dB.
        max_rate_hz: firing rate at full-scale envelope, Hz.
    """

    n_channels: int = 64
    f_lo_hz: float = 100.0
    f_hi_hz: float = 3800.0
    filter_order: int = 2
    envelope_cutoff_hz: float = 100.0
    dynamic_range_db: float = 60.0
    max_rate_hz: float = 200.0

    def __post_init__(self) -> None:
        if self.n_channels < 1:
            raise ValueError(f"n_channels must be >= 1, got {self.n_channels}")
        if not 0 < self.f_lo_hz < self.f_hi_hz:
            raise ValueError(f"need 0 < f_lo_hz < f_hi_hz, got {self.f_lo_hz}, {self.f_hi_hz}")
        for name in ("filter_order", "envelope_cutoff_hz", "dynamic_range_db", "max_rate_hz"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")

    def centre_frequencies(self) -> np.ndarray:
        """Centre frequency of each channel in Hz (ERB-rate midpoints of the bands)."""
        e = np.linspace(erb_rate(self.f_lo_hz), erb_rate(self.f_hi_hz), self.n_channels + 1)
        return inverse_erb_rate(0.5 * (e[:-1] + e[1:]))

    def drive(self, waveform: np.ndarray, fs_hz: float) -> np.ndarray:
        """Compressed envelopes in [0, 1], shape (n_channels, n_samples) (stages 1-4)."""
        x = np.asarray(waveform, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"waveform must be mono (1-D), got shape {x.shape}")
        if not self.f_hi_hz < fs_hz / 2 or not self.envelope_cutoff_hz < fs_hz / 2:
            raise ValueError(f"f_hi_hz ({self.f_hi_hz}) and envelope_cutoff_hz "
                             f"({self.envelope_cutoff_hz}) must be below fs_hz / 2 = {fs_hz / 2}")
        bands, envelope = _filterbank(self.n_channels, self.f_lo_hz, self.f_hi_hz,
                                      self.filter_order, self.envelope_cutoff_hz, float(fs_hz))
        bank = np.stack([sosfilt(sos, x) for sos in bands])
        env = np.maximum(sosfilt(envelope, np.maximum(bank, 0.0), axis=1), 0.0)
        with np.errstate(divide="ignore"):
            level_db = 20.0 * np.log10(env)
        return np.clip(1.0 + level_db / self.dynamic_range_db, 0.0, 1.0)

    def encode(self, waveform: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
        """Spike times (s, float64) and units (uint16) of ``waveform``, sorted by time.

        Args:
            waveform: mono signal in full-scale units, shape (n_samples,).
            fs_hz: its sample rate in Hz.
        """
        drive = self.drive(waveform, fs_hz)
        dt_s = 1.0 / fs_hz
        # integral of the rate at the end of each sample; spike k where it reaches k
        integral = np.cumsum(drive * (self.max_rate_hz * dt_s), axis=1)
        times, units = [], []
        for ch, acc in enumerate(integral):
            ks = np.arange(1, int(np.floor(acc[-1])) + 1)
            if not ks.size:
                continue
            n = np.searchsorted(acc, ks, side="left")
            prev = np.where(n > 0, acc[n - 1], 0.0)
            frac = (ks - prev) / (acc[n] - prev)
            times.append((n + frac) * dt_s)
            units.append(np.full(ks.size, ch, dtype=np.uint16))
        if not times:
            return np.zeros(0), np.zeros(0, dtype=np.uint16)
        t, u = np.concatenate(times), np.concatenate(units)
        order = np.argsort(t, kind="stable")
        return t[order], u[order]


def load_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A mono WAV as float64 peak-normalised to 1 (silence stays 0), and its rate in Hz."""
    fs, data = wavfile.read(path)
    x = data.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    peak = np.abs(x).max(initial=0.0)
    return (x / peak if peak > 0 else x), int(fs)


def _stored_params(path: Path) -> str | None:
    try:
        with h5py.File(path, "r") as f:
            value = f.attrs.get("frontend_params")
    except OSError:
        return None
    return value.decode() if isinstance(value, bytes) else value


def encode_folder(folder: str | os.PathLike, out_h5: str | os.PathLike,
                  n_channels: int = 64, **frontend_kwargs: float) -> Path:
    """Encode every ``{digit}_{speaker}_{index}.wav`` of ``folder`` into an SHD file.

    Labels are the digits, ``/extra/speaker`` the speaker ids (speakers
    sorted by name; names in ``/extra/speaker_names``), ``/extra/filenames``
    the source files.  Samples are in sorted file-name order.  Each WAV is
    peak-normalised (:func:`load_wav`) before the front end.

    Cache: if ``out_h5`` exists and its ``frontend_params`` attribute (the
    front end's parameters plus the name and size of every source file)
    matches, it is returned untouched.

    Args:
        folder: folder of FSDD-style recordings.
        out_h5: destination HDF5 file.
        n_channels: number of frequency channels.
        **frontend_kwargs: other :class:`FrontEnd` fields (``f_lo_hz``, ...).
    """
    folder, out_h5 = Path(folder), Path(out_h5)
    files = sorted(p for p in folder.iterdir() if _FSDD_NAME.match(p.name)) if folder.is_dir() else []
    if not files:
        raise ValueError(f"no '{{digit}}_{{speaker}}_{{index}}.wav' files in {folder}")
    front = FrontEnd(n_channels=n_channels, **frontend_kwargs)
    params = json.dumps({"frontend": asdict(front),
                         "files": [[p.name, p.stat().st_size] for p in files]}, sort_keys=True)
    if out_h5.exists() and _stored_params(out_h5) == params:
        return out_h5
    parsed = [_FSDD_NAME.match(p.name).groups() for p in files]  # type: ignore[union-attr]
    speaker_names = sorted({speaker for _, speaker, _ in parsed})
    times, units = [], []
    for p in files:
        t, u = front.encode(*load_wav(p))
        times.append(t)
        units.append(u)
    return write_shd(
        out_h5, times, units, labels=[int(d) for d, _, _ in parsed],
        speakers=[speaker_names.index(s) for _, s, _ in parsed], n_units=n_channels,
        speaker_names=speaker_names, filenames=[p.name for p in files],
        attrs={"frontend_params": params})

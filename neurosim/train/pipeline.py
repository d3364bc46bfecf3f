"""From a data source to the binned input tensors a trained model expects.

A :class:`SpikeInputSpec` records how a model's inputs were made (time step,
number of steps, channels, and the auditory front end for audio), is stored
in every checkpoint, and turns *any* compatible source into ``(X, y)``:

* a folder of ``{digit}_{speaker}_{index}.wav`` recordings: encoded with the
  stored front end (:func:`neurosim.data.encode_folder`, cached on disk under
  ``$NEUROSIM_CACHE`` or ``~/.cache/neurosim``), then binned;
* an SHD-schema HDF5 file: read and binned.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..data import SpikeDataset, encode_folder, read_shd


def cache_dir() -> Path:
    """Where encoded data sets are cached: ``$NEUROSIM_CACHE`` or ``~/.cache/neurosim``."""
    return Path(os.environ.get("NEUROSIM_CACHE", Path.home() / ".cache" / "neurosim"))


@dataclasses.dataclass(frozen=True)
class SpikeInputSpec:
    """How input spike trains are binned: ``dt_ms`` ms steps, ``n_steps`` of them,
    ``n_units`` channels of the source summed in groups of ``channel_group``
    neighbours (DCLS-Delays sums SHD's 700 channels in groups of 5 to 140
    inputs), and, for audio, the front-end parameters that made them.
    The model sees ``n_inputs = n_units // channel_group`` channels."""

    dt_ms: float
    n_steps: int
    n_units: int
    front_end: dict | None = None
    channel_group: int = 1

    def __post_init__(self) -> None:
        if not self.dt_ms > 0:
            raise ValueError(f"SpikeInputSpec: 'dt_ms' must be > 0 ms, got {self.dt_ms!r}")
        if int(self.n_steps) < 1 or int(self.n_units) < 1:
            raise ValueError("SpikeInputSpec: 'n_steps' and 'n_units' must be >= 1")
        if int(self.channel_group) < 1 or self.n_units % int(self.channel_group):
            raise ValueError(f"SpikeInputSpec: 'channel_group' must divide n_units = {self.n_units}, "
                             f"got {self.channel_group!r}")

    @property
    def n_inputs(self) -> int:
        """Input channels of the model."""
        return self.n_units // self.channel_group

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def dataset(self, source: str | os.PathLike) -> SpikeDataset:
        """The spike data set at ``source`` (WAV folder or SHD-schema file)."""
        source = Path(source)
        if source.is_dir():
            if self.front_end is None:
                raise ValueError(f"{source} is a folder of recordings, but this model was trained on "
                                 "spike files without an audio front end; pass an SHD-schema .h5 file")
            fe = dict(self.front_end)
            key = hashlib.sha256(json.dumps([str(source.resolve()), fe], sort_keys=True).encode()).hexdigest()[:16]
            cache_dir().mkdir(parents=True, exist_ok=True)
            path = encode_folder(source, cache_dir() / f"encoded_{key}.h5", **fe)
            ds = read_shd(path)
        elif source.is_file():
            ds = read_shd(source)
        else:
            raise FileNotFoundError(f"data source not found: {source} (give a folder of WAV files or an .h5 file)")
        if ds.n_units > self.n_units:
            raise ValueError(f"{source} has {ds.n_units} channels; the model expects {self.n_units}")
        return ds

    def bin(self, ds: SpikeDataset) -> tuple[np.ndarray, np.ndarray]:
        """``(X uint8 (n, n_steps, n_inputs), y)``; later spikes are dropped, counts saturate at 255."""
        full = SpikeDataset(ds.times, ds.units, ds.labels, self.n_units, ds.speakers, ds.speaker_names)
        x, y = full.bin(self.dt_ms, self.n_steps)
        if self.channel_group > 1:
            grouped = x.reshape(*x.shape[:2], self.n_inputs, self.channel_group).sum(-1, dtype=np.int64)
            x = np.minimum(grouped, 255).astype(np.uint8)
        return x, y

    def load(self, source: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
        """Binned ``(X, y)`` from a WAV folder or SHD-schema file."""
        return self.bin(self.dataset(source))

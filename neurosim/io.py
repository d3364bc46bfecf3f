"""Save and load monitor results with the network's parameters as metadata.

Two formats, chosen by file extension: ``.npz`` (NumPy) and ``.h5``/``.hdf5``
(HDF5).  Files are written to a temporary name and renamed, so a file on disk
is always complete.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import atomic_path

if TYPE_CHECKING:
    from .network import Network

FORMAT_VERSION = 1


def _arrays(net) -> dict[str, np.ndarray]:
    out = {}
    for i, mon in enumerate(net.spike_monitors):
        out[f"spikes/{i}/{mon.source.name}/times"] = mon.times
        out[f"spikes/{i}/{mon.source.name}/indices"] = mon.indices
    for i, mon in enumerate(net.state_monitors):
        out[f"state/{i}/{mon.source.name}/times"] = mon.times
        out[f"state/{i}/{mon.source.name}/indices"] = mon.record
        for var in mon.variables:
            out[f"state/{i}/{mon.source.name}/{var}"] = mon[var]
    for i, mon in enumerate(net.rate_monitors):
        out[f"rate/{i}/{mon.source.name}/times"] = mon.times
        out[f"rate/{i}/{mon.source.name}/rate"] = mon.rate
    return out


def save_results(net: Network, path: str | os.PathLike) -> Path:
    """Write every monitor of ``net`` and ``net.describe()`` to ``path`` (.npz or .h5)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".h5", ".hdf5"):
        raise ValueError(f"results file must end in .npz, .h5 or .hdf5, got '{path.name}'")
    meta = json.dumps({"format_version": FORMAT_VERSION, "t_ms": net.t, "network": net.describe()})
    arrays = _arrays(net)
    with atomic_path(path, suffix) as tmp:
        if suffix == ".npz":
            np.savez_compressed(tmp, __metadata__=np.array(meta), **{k.replace("/", "|"): v for k, v in arrays.items()})
        else:
            import h5py
            with h5py.File(tmp, "w") as f:
                f.attrs["metadata"] = meta
                for key, value in arrays.items():
                    f.create_dataset(key, data=value, compression="gzip")
    return path


def load_results(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a results file: ``(metadata, arrays)`` with keys like ``"spikes/0/exc/times"``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results file at {path}")
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["__metadata__"]))
            arrays = {k.replace("|", "/"): data[k] for k in data.files if k != "__metadata__"}
    else:
        import h5py
        with h5py.File(path, "r") as f:
            meta = json.loads(f.attrs["metadata"])
            arrays = {}
            f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if hasattr(obj, "shape") else None)
    return meta, arrays

"""Shared helpers of the proof tests (Brian2 agreement and analytic checks)."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def _numba_cache_for_this_source() -> str:
    """A Numba cache folder keyed by the package's source.

    Numba's on-disk cache of the engine kernel is keyed by the kernel's own
    file only, so an edited neuron step function in another file could run
    as stale compiled code.  Tests therefore use a cache folder named after a
    hash of every source file of the package.
    """
    package = Path(__file__).resolve().parents[1] / "neurosim"
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return str(Path(tempfile.gettempdir()) / "neurosim-numba-cache" / digest.hexdigest()[:16])


os.environ.setdefault("NUMBA_CACHE_DIR", _numba_cache_for_this_source())

import numpy as np  # noqa: E402  (after NUMBA_CACHE_DIR is set)
import pytest  # noqa: E402


def spike_table(steps, indices) -> np.ndarray:
    """Spikes as an (n, 2) int array of (step, neuron), sorted by step then neuron."""
    steps = np.asarray(steps, dtype=np.int64).reshape(-1)
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    order = np.lexsort((indices, steps))
    return np.stack([steps[order], indices[order]], axis=1)


def assert_same_spikes(steps_a, idx_a, steps_b, idx_b, names=("neurosim", "reference")) -> None:
    """Assert that two spike lists hold the same (step, neuron) pairs; show the first difference."""
    a, b = spike_table(steps_a, idx_a), spike_table(steps_b, idx_b)
    if a.shape == b.shape and np.array_equal(a, b):
        return
    n = min(len(a), len(b))
    diff = np.flatnonzero(np.any(a[:n] != b[:n], axis=1))
    first = int(diff[0]) if diff.size else n
    lo = max(first - 2, 0)
    pytest.fail(
        f"spike trains differ: {names[0]} has {len(a)} spikes, {names[1]} {len(b)}; "
        f"first difference at spike #{first}:\n"
        f"  {names[0]} (step, neuron): {a[lo:first + 3].tolist()}\n"
        f"  {names[1]} (step, neuron): {b[lo:first + 3].tolist()}"
    )


def isi_cv_per_neuron(times, indices, min_spikes: int = 3) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals of every neuron with >= min_spikes spikes."""
    times = np.asarray(times, dtype=np.float64)
    indices = np.asarray(indices, dtype=np.int64)
    order = np.lexsort((times, indices))
    t, i = times[order], indices[order]
    bounds = np.flatnonzero(np.diff(i)) + 1
    cvs = []
    for tk in np.split(t, bounds):
        if tk.size >= min_spikes:
            d = np.diff(tk)
            cvs.append(d.std() / d.mean())
    return np.asarray(cvs)


# ------------------------------------------------ the GPU backend on the CPU (kernels/*.cu via g++)
def _cpu_device(folder, reverse_order: bool = False):
    """The kernels compiled for the CPU into ``folder`` (blocks of 32 threads); skips without g++."""
    import shutil
    if shutil.which("g++") is None:
        pytest.skip("the CUDA CPU emulation needs g++")
    from neurosim.engine.cuda_emulator import CpuEmulatedDevice, build_library
    return CpuEmulatedDevice(block=32, library=build_library(folder, reverse_order=reverse_order))


@pytest.fixture(scope="session")
def emulated_device(tmp_path_factory):
    """The kernels compiled for the CPU, once per test session."""
    return _cpu_device(tmp_path_factory.mktemp("cuda-emulator"))


@pytest.fixture(scope="session")
def reversed_device(tmp_path_factory):
    """The kernels built to run every launch's threads from last to first (another order of every
    launch's atomic additions, as a GPU may take)."""
    return _cpu_device(tmp_path_factory.mktemp("reverse"), reverse_order=True)


def register_backend(monkeypatch, name, device, device_draws=True):
    """Backend ``name`` for this test: the GPU backend's host code on ``device``; ``device_draws``:
    the device draws the counter-based random input itself, as on a GPU."""
    import functools

    from neurosim import network
    from neurosim.engine import cupy_backend
    monkeypatch.setitem(network.BACKENDS, name, cupy_backend.run_chunk)
    monkeypatch.setitem(network.SESSIONS, name, functools.partial(cupy_backend.session, device=device))
    monkeypatch.setattr(network, "DEVICE_DRAWS", network.DEVICE_DRAWS | ({name} if device_draws else set()))
    return name


@pytest.fixture
def emulated(emulated_device, monkeypatch):
    """Backend 'cuda-emulated' for this test: the GPU backend's host code on the CPU-compiled kernels."""
    return register_backend(monkeypatch, "cuda-emulated", emulated_device)

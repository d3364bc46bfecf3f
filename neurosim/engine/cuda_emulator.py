"""The CUDA kernels run on the CPU: a test harness for machines without a GPU.

The real ``kernels/*.cu`` files are compiled with the host C++ compiler
(``g++``), with ``kernels/cuda_cpu_shim.h`` force-included: it turns
``__global__``/``__device__`` into plain functions, makes ``threadIdx`` and
friends globals and exports one launcher per kernel that runs every
(block, thread) one after another, in index order.  :class:`CpuEmulatedDevice`
loads that library with :mod:`ctypes` and implements the device interface of
:class:`neurosim.engine.device_engine.DeviceEngine` on NumPy arrays, so the
GPU backend's host code and kernels run unchanged on the CPU.

What this verifies: the kernels' arithmetic (the generated neuron code with
the C library's ``exp``, the same one :func:`neurosim.neurons.mathfn.exp`
uses), their indexing, the spike lists, the ring-buffer and monitor layouts
and the driver's launch sequence, recorded as a graph and replayed as on a
GPU (so a launch argument that wrongly changes between steps shows up); with
threads serialised, atomic additions happen in thread-index order, which is
the CPU backends' order, so results are bit-identical to the NumPy
reference.  What it cannot verify: timing, concurrency between threads, and
the GPU's own ``exp`` (see docs/gpu.md).

Usage::

    dev = CpuEmulatedDevice()                 # compiles once, cached by source hash
    net.run(10.0, backend="cuda-emulated")    # after register_emulated_backend()
"""
from __future__ import annotations

import collections
import contextlib
import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from .device_engine import KERNEL_FILES
from .kernels_path import TRAINING_KERNEL_FILES, kernel_dir

#: flags of the CPU build: no floating-point contraction, so every operation
#: is the IEEE double operation NumPy performs
CXX_FLAGS = ("-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math", "-fPIC", "-shared",
             "-DNEUROSIM_CPU_SHIM")

_SCALARS = {
    np.dtype(np.int64): ctypes.c_int64, np.dtype(np.int32): ctypes.c_int32, np.dtype(np.uint32): ctypes.c_uint32,
    np.dtype(np.uint64): ctypes.c_uint64, np.dtype(np.float64): ctypes.c_double,
    np.dtype(np.float32): ctypes.c_float,
}


def build_library(out_dir: str | os.PathLike | None = None, cxx: str | None = None,
                  reverse_order: bool = False) -> Path:
    """Compile ``kernels/*.cu`` (the simulator's and the training kernels) for the CPU
    into one shared library; return its path.

    The library is named after a hash of the sources and flags and reused when
    it exists.  ``out_dir`` defaults to ``$TMPDIR/neurosim-cuda-emulator``;
    ``cxx`` to ``$CXX`` or ``g++``.  ``reverse_order``: run each launch's
    threads from the last to the first (a test that results do not depend on
    the threads' order, which a GPU does not fix).  Raises RuntimeError with
    the compiler's output when compilation fails.
    """
    cxx = cxx or os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise RuntimeError(f"the CUDA CPU emulator needs a C++17 compiler: '{cxx}' not found (set cxx or $CXX)")
    flags = CXX_FLAGS + (("-DNEUROSIM_CPU_REVERSE_ORDER",) if reverse_order else ())
    src = kernel_dir()
    files = [src / f for f in KERNEL_FILES + TRAINING_KERNEL_FILES]
    digest = hashlib.sha256(" ".join(flags).encode())
    for path in sorted(src.iterdir()):
        if path.suffix in (".cu", ".cuh", ".h"):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    out_dir = Path(out_dir) if out_dir is not None else Path(tempfile.gettempdir()) / "neurosim-cuda-emulator"
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = out_dir / f"kernels-{digest.hexdigest()[:16]}.so"
    if lib.exists():
        return lib
    tmp = lib.with_suffix(f".{os.getpid()}.tmp")
    cmd = [cxx, *flags, "-I", str(src), "-include", str(src / "cuda_cpu_shim.h"), "-x", "c++",
           *map(str, files), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"compiling the CUDA kernels for the CPU failed:\n{' '.join(cmd)}\n{proc.stderr}")
    os.replace(tmp, lib)
    return lib


class CpuEmulatedDevice:
    """The device interface of :class:`~neurosim.engine.device_engine.DeviceEngine` on the CPU.

    ``block``: threads per block of every launch (small, so launches span
    several blocks); ``library``: a library from :func:`build_library`
    (built on first use by default); ``graphs``: record graphs
    (:meth:`capture`) as a GPU does, or decline them as a device without
    graph support does (the engine then launches kernel by kernel).
    ``launches`` counts the kernels executed, by name.
    """

    xp = np

    def __init__(self, block: int = 32, library: str | os.PathLike | None = None, graphs: bool = True) -> None:
        if not isinstance(block, (int, np.integer)) or block < 1:
            raise ValueError(f"block must be a positive number of threads, got {block!r}")
        self.block = int(block)
        self.library = Path(library) if library is not None else build_library()
        self.graphs = bool(graphs)
        self.launches: collections.Counter[str] = collections.Counter()
        self._lib = ctypes.CDLL(str(self.library))
        self._recording: list | None = None

    def kernel(self, name: str) -> Callable[[int, int, tuple], None]:
        """``launch(grid, block, args)`` for the kernel ``name`` (args as for CuPy: arrays and NumPy scalars).

        While :meth:`capture` records, a launch is appended to the graph instead of run.
        """
        try:
            fn = getattr(self._lib, f"launch_{name}")
        except AttributeError:
            raise ValueError(f"no kernel named {name!r} in {self.library}") from None
        fn.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p)]
        fn.restype = None

        def launch(grid: int, block: int, args: tuple) -> None:
            holders = []
            for a in args:
                if isinstance(a, np.ndarray):
                    if not a.flags.c_contiguous:
                        raise ValueError(f"kernel {name}: array arguments must be contiguous")
                    holders.append(ctypes.c_void_p(a.ctypes.data))
                elif isinstance(a, np.generic) and a.dtype in _SCALARS:
                    holders.append(_SCALARS[a.dtype](a.item()))
                else:
                    raise TypeError(f"kernel {name}: pass arrays or NumPy scalars (int32, uint32, int64, uint64, float32, float64), "
                                    f"got {type(a).__name__}")
            ptrs = (ctypes.c_void_p * len(holders))(*[ctypes.addressof(h) for h in holders])
            # like a CUDA graph, a recorded launch keeps the argument values (array addresses) it was given
            node = (name, fn, grid, block, ptrs, holders)
            if self._recording is not None:
                self._recording.append(node)
            else:
                self._execute(node)

        return launch

    def _execute(self, node: tuple) -> None:
        name, fn, grid, block, ptrs, _ = node
        self.launches[name] += 1
        fn(grid, block, ptrs)

    def capture(self, record: Callable[[], None]) -> list | None:
        """The launches ``record()`` makes, recorded and not run (None when ``graphs`` is off)."""
        if not self.graphs:
            return None
        self._recording = graph = []
        try:
            record()
        finally:
            self._recording = None
        return graph

    def replay(self, graph: list, times: int) -> None:
        """Run the recorded launches ``times`` times, in order."""
        for _ in range(times):
            for node in graph:
                self._execute(node)

    def to_device(self, a: np.ndarray) -> np.ndarray:
        """A contiguous copy of ``a`` (the "device" is host memory)."""
        return np.array(a, copy=True, order="C")

    def to_host(self, a: np.ndarray) -> np.ndarray:
        """A copy of ``a``."""
        return np.array(a, copy=True)

    def synchronize(self) -> None:
        """Nothing to wait for: launches run to completion."""

    def activate(self) -> contextlib.AbstractContextManager:
        """Nothing to select: one host, no streams."""
        return contextlib.nullcontext()

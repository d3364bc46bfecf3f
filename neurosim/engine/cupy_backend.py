"""GPU backend: the network stepped on an NVIDIA GPU with CuPy (``backend="cupy"``).

The kernels are the CUDA sources of ``kernels/`` (see
:mod:`neurosim.engine.kernels_path`), compiled at run time by CuPy's
``RawModule`` (NVRTC, cached on disk by CuPy) with ``--fmad=false`` so that no
multiply-add is fused and each operation is the IEEE double operation of the
CPU backends.  :class:`~neurosim.engine.device_engine.DeviceEngine` holds the
state, ring buffer and synapses on the GPU for a whole ``run`` and launches
the kernels; only stimuli go up and monitor data come back, once per chunk.

Random input gives the same bits as on the CPU backends: Poisson inputs and
time-varying Poisson groups are drawn on the device from the host's
counter-based generator (``kernels/poisson.cu``); spike sources and
constant-rate Poisson groups are drawn (or listed) by the network's
``StimulusGenerator`` and copied up per chunk as spike lists.

CuPy is an optional dependency (``pip install neurosim[gpu]``).  Differences
from the CPU backends, and their bound, are in docs/gpu.md.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
import warnings
from typing import Callable, Iterator

import numpy as np

from .compiled import CompiledNetwork
from .device_engine import KERNEL_FILES, DeviceEngine, KernelDevice
from .kernels_path import kernel_dir
from .recording import ChunkRecord, StateRecordPlan
from .stimulus import StimulusChunk

#: NVRTC options of every kernel file
NVRTC_OPTIONS = ("--std=c++17", "--fmad=false")

_DEVICE = None

#: the NVIDIA driver's library, present wherever a CUDA device can be used
_DRIVER_LIBRARY = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"


@functools.lru_cache(maxsize=None)
def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device (any error: False).

    Probed once per process.  Importing CuPy takes about 0.1 s, so machines
    without the NVIDIA driver library are told apart first, by trying to
    load it.
    """
    try:
        ctypes.CDLL(_DRIVER_LIBRARY)
    except OSError:
        return False
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no CuPy, no driver, no device: all mean "no GPU"
        return False


def require_gpu() -> None:
    """Raise a clear error unless :func:`gpu_available`."""
    try:
        import cupy  # noqa: F401
    except ImportError:
        raise RuntimeError("backend='cupy' needs CuPy: pip install 'neurosim[gpu]' (or cupy-cuda12x / "
                           "cupy-cuda13x matching your CUDA driver), or use backend='auto' to run on the CPU") \
            from None
    if not gpu_available():
        raise RuntimeError("backend='cupy' needs an NVIDIA GPU, and CuPy finds none (no device or no driver); "
                           "use backend='auto' or backend='numba' to run on the CPU")


class CupyDevice:
    """The device interface of :class:`DeviceEngine` on the current CUDA device, via CuPy.

    ``files``: the kernel sources to compile (default: the simulator's,
    ``KERNEL_FILES``; the training ops pass ``TRAINING_KERNEL_FILES``).
    The engine's work runs on the device's own stream (:meth:`activate`),
    where one step's launches are recorded as a CUDA graph (:meth:`capture`)
    and replayed (:meth:`replay`).
    """

    block = 256

    def __init__(self, files: tuple[str, ...] = KERNEL_FILES) -> None:
        require_gpu()
        import cupy
        self.xp = cupy
        self.files = tuple(files)
        folder = kernel_dir()
        options = NVRTC_OPTIONS + (f"-I{folder}",)
        self._kernels = {}
        for name in self.files:
            module = cupy.RawModule(code=(folder / name).read_text(), options=options)
            self._kernels[name] = module
        self._functions: dict[str, object] = {}
        self.stream = cupy.cuda.Stream(non_blocking=True)
        #: record CUDA graphs (False on ROCm, or after a capture failed)
        self.graphs = not cupy.cuda.runtime.is_hip

    def kernel(self, name: str) -> Callable[[int, int, tuple], None]:
        """``launch(grid, block, args)`` for kernel ``name``, on the current stream."""
        if name not in self._functions:
            for module in self._kernels.values():
                try:
                    self._functions[name] = module.get_function(name)
                    break
                except Exception:  # noqa: BLE001 - not in this module
                    continue
            else:
                raise ValueError(f"no CUDA kernel named {name!r} in {', '.join(self.files)}")
        fn = self._functions[name]
        return lambda grid, block, args: fn((grid,), (block,), args)

    def activate(self) -> contextlib.AbstractContextManager:
        """Make the device's stream CuPy's current one (a ``with`` block)."""
        return self.stream

    def capture(self, record: Callable[[], None]):
        """``record()``'s launches as a CUDA graph (not run), or None where graphs cannot be recorded.

        A failed capture is reported once (RuntimeWarning) and turns graphs
        off: the engine then launches kernel by kernel, with the same results.
        """
        if not self.graphs:
            return None
        stream = self.stream
        try:
            with stream:
                stream.begin_capture()
                try:
                    record()
                finally:
                    graph = stream.end_capture()
        except Exception as err:  # noqa: BLE001 - any capture failure: fall back to plain launches
            self.graphs = False
            warnings.warn(f"recording a CUDA graph failed ({type(err).__name__}: {err}); the GPU backend now "
                          "launches its kernels one by one (same results, more launch overhead per step)",
                          RuntimeWarning, stacklevel=2)
            return None
        return graph

    def replay(self, graph, times: int) -> None:
        """Launch ``graph`` ``times`` times on the device's stream."""
        for _ in range(times):
            graph.launch(self.stream)

    def to_device(self, a: np.ndarray):
        return self.xp.asarray(a)

    def to_host(self, a) -> np.ndarray:
        return self.xp.asnumpy(a)

    def synchronize(self) -> None:
        self.stream.synchronize()


def default_device() -> CupyDevice:
    """The process-wide :class:`CupyDevice` (kernels compiled once)."""
    global _DEVICE
    if _DEVICE is None:
        _DEVICE = CupyDevice()
    return _DEVICE


def _engine(cn: CompiledNetwork, device: KernelDevice) -> DeviceEngine:
    """The engine of ``cn`` on ``device``, built once per network and device (synapses uploaded once)."""
    cache = cn.__dict__.setdefault("_device_engines", {})
    key = id(device)
    if key not in cache:
        cache[key] = (device, DeviceEngine(cn, device))  # the device is kept alive with its engine
    return cache[key][1]


@contextlib.contextmanager
def session(cn: CompiledNetwork, device: KernelDevice | None = None) -> Iterator[Callable]:
    """Hold ``cn`` on the device for a run: yields the chunk function.

    On entry the state matrix and ring buffer go to the device, on exit (also
    after an error) they come back into ``cn``, so the host arrays are current
    between runs and another backend can continue the network.
    """
    dev = default_device() if device is None else device
    with dev.activate():
        engine = _engine(cn, dev)
        engine.upload_state(cn)
        try:
            yield engine.run_chunk
        finally:
            engine.download_state(cn)


def run_chunk(cn: CompiledNetwork, stim: StimulusChunk, plan: StateRecordPlan,
              record_node: np.ndarray, out: ChunkRecord) -> None:
    """Advance the network over the steps of ``stim`` on the GPU, filling ``out``.

    Self-contained (state up, chunk, state down); ``Network.run`` uses
    :func:`session` instead, which keeps the state on the GPU between chunks.
    """
    with session(cn) as chunk:
        chunk(cn, stim, plan, record_node, out)

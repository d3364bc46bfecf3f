"""CUDA kernels for training: the fused LIF scan and the delay projection's element-wise passes.

The kernels are ``kernels/lif_scan.cu`` and ``kernels/delay_conv.cu``
(surrogate gradients generated from :mod:`neurosim.train.surrogate` into
``kernels/surrogates.cuh``).  They run on PyTorch tensors without copies:

* on a CUDA device through CuPy (:class:`CupyKernels`): each tensor is handed
  to CuPy with DLPack (``cupy.from_dlpack``), the output tensors are
  allocated by PyTorch, and kernels are launched on PyTorch's current CUDA
  stream, so they are ordered with PyTorch's own work;
* on the CPU through the CUDA emulator (:class:`EmulatedKernels`): the same
  ``.cu`` files compiled with g++ and run thread by thread
  (:mod:`neurosim.engine.cuda_emulator`), on CPU tensors' memory.  This is
  how the kernels are tested on machines without a GPU.

:func:`neurosim.train.autograd.lif_scan` and
:func:`neurosim.train.delays.delay_conv` pick these kernels by themselves for
CUDA tensors when CuPy sees a GPU; :func:`lif_scan_kernel` and
:func:`delay_conv_kernel` call them explicitly (with ``kernels=`` a runner).
"""
from __future__ import annotations

import contextlib
import functools
from typing import Callable, Iterator, Protocol

import numpy as np
import torch

from ..engine.kernels_path import TRAINING_KERNEL_FILES
from .autograd import check_lif_scan_shapes
from .delays import NORM_EPS, _DelayFn, check_delay_args
from .surrogate import Surrogate

_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_NP_FLOAT = {torch.float32: np.float32, torch.float64: np.float64}


class KernelRunner(Protocol):
    """Launches the training kernels on the memory of PyTorch tensors."""

    def array(self, t: torch.Tensor):
        """A zero-copy view of the contiguous tensor ``t`` for kernel arguments."""

    def launch(self, name: str, n_threads: int, args: tuple) -> None:
        """Run kernel ``name`` with one thread per element of ``range(n_threads)``."""

    def accepts(self, t: torch.Tensor) -> bool:
        """Whether tensors on ``t``'s device can be passed to this runner."""


class _DeviceRunner:
    """Shared part of the runners: a kernel device (CuPy or emulated) with ``kernel(name)`` and ``block``."""

    def __init__(self, device) -> None:
        self.device = device
        self._launchers: dict[str, Callable] = {}

    def _launcher(self, name: str) -> Callable:
        if name not in self._launchers:
            self._launchers[name] = self.device.kernel(name)
        return self._launchers[name]

    def launch(self, name: str, n_threads: int, args: tuple) -> None:
        """Run kernel ``name`` with ``n_threads`` threads in blocks of ``device.block``."""
        if n_threads <= 0:
            return
        block = self.device.block
        self._launcher(name)((n_threads + block - 1) // block, block, args)


class EmulatedKernels(_DeviceRunner):
    """The training kernels compiled for the CPU, on CPU tensors (tests without a GPU).

    ``device``: a :class:`~neurosim.engine.cuda_emulator.CpuEmulatedDevice`
    (default: a new one, blocks of 32 threads, library built or reused).
    """

    def __init__(self, device=None) -> None:
        if device is None:
            from ..engine.cuda_emulator import CpuEmulatedDevice
            device = CpuEmulatedDevice()
        super().__init__(device)

    def array(self, t: torch.Tensor) -> np.ndarray:
        """The tensor's memory as a NumPy array (no copy)."""
        return t.numpy()

    def accepts(self, t: torch.Tensor) -> bool:
        return t.device.type == "cpu"


class CupyKernels(_DeviceRunner):
    """The training kernels on CUDA device ``index`` via CuPy (NVRTC, compiled once per process).

    Launches go to PyTorch's current stream on that device.
    """

    def __init__(self, index: int) -> None:
        import cupy

        from ..engine.cupy_backend import CupyDevice
        self._cupy = cupy
        self.index = int(index)
        with cupy.cuda.Device(self.index):
            super().__init__(CupyDevice(files=TRAINING_KERNEL_FILES))

    @contextlib.contextmanager
    def _on_torch_stream(self) -> Iterator[None]:
        """This device, with PyTorch's current stream as CuPy's current stream."""
        cupy = self._cupy
        stream = torch.cuda.current_stream(self.index).cuda_stream
        with cupy.cuda.Device(self.index), cupy.cuda.ExternalStream(stream):
            yield

    def array(self, t: torch.Tensor):
        """The tensor as a CuPy array through DLPack (no copy; exported for PyTorch's current
        stream, so the hand-over needs no synchronisation)."""
        with self._on_torch_stream():
            return self._cupy.from_dlpack(t)

    def accepts(self, t: torch.Tensor) -> bool:
        return t.device.type == "cuda" and t.device.index == self.index

    def launch(self, name: str, n_threads: int, args: tuple) -> None:
        """Launch on PyTorch's current stream of this device."""
        with self._on_torch_stream():
            super().launch(name, n_threads, args)


def cuda_kernels_available() -> bool:
    """True when CuPy imports and sees a CUDA device (probed once per process)."""
    from ..engine.cupy_backend import gpu_available
    return gpu_available()


@functools.lru_cache(maxsize=None)
def cuda_kernels(index: int) -> CupyKernels:
    """The process-wide :class:`CupyKernels` of CUDA device ``index``."""
    return CupyKernels(index)


def _default_runner(t: torch.Tensor, who: str) -> KernelRunner:
    if t.device.type != "cuda":
        raise ValueError(f"{who}: without 'kernels' the tensors must be on a CUDA device, got {t.device} "
                         "(pass kernels=EmulatedKernels() to run the kernels on the CPU)")
    if not cuda_kernels_available():
        raise RuntimeError(f"{who}: the CUDA kernels need CuPy and a GPU it can see: pip install 'neurosim[gpu]'")
    return cuda_kernels(t.device.index if t.device.index is not None else torch.cuda.current_device())


def _check_tensors(who: str, runner: KernelRunner, **tensors: torch.Tensor) -> torch.dtype:
    """All tensors float32 or float64, of one dtype, on a device ``runner`` accepts; returns the dtype."""
    (first, t0), *rest = tensors.items()
    if t0.dtype not in _SUFFIX:
        raise TypeError(f"{who}: the CUDA kernels support float32 and float64, got '{first}' of dtype {t0.dtype} "
                        f"(convert with .float() or .double())")
    for name, t in rest:
        if t.dtype != t0.dtype:
            raise TypeError(f"{who}: '{name}' has dtype {t.dtype} but '{first}' has {t0.dtype}; "
                            "the CUDA kernels need one dtype")
    for name, t in tensors.items():
        if not runner.accepts(t):
            raise ValueError(f"{who}: '{name}' is on {t.device}, which these kernels cannot reach "
                             f"({type(runner).__name__})")
    return t0.dtype


# ----------------------------------------------------------------------------- LIF scan
class _LIFScanKernelFn(torch.autograd.Function):
    """The LIF scan of :func:`neurosim.train.autograd.lif_scan` with kernels/lif_scan.cu."""

    @staticmethod
    def forward(ctx, z, beta, theta, v0, subtract, detach, surrogate, runner):
        n_steps, batch, n = z.shape
        bn = batch * n
        zc = z.detach().contiguous()
        v = v0.detach().clone(memory_format=torch.contiguous_format)
        u = torch.empty_like(zc)
        s = torch.empty_like(zc)
        A = runner.array
        runner.launch(f"lif_scan_forward_{_SUFFIX[z.dtype]}", bn,
                      (A(zc), A(beta.detach().contiguous()), A(theta.detach().contiguous()), A(v),
                       np.int64(n_steps), np.int64(bn), np.int64(n), np.int32(subtract), A(u), A(s)))
        ctx.save_for_backward(u, beta, theta, v0)
        ctx.flags = (subtract, detach, surrogate, runner)
        return s, v

    @staticmethod
    def backward(ctx, gs, g_v_final):
        u, beta, theta, v0 = ctx.saved_tensors
        subtract, detach, surrogate, runner = ctx.flags
        n_steps, batch, n = u.shape
        bn = batch * n
        gs = gs.to(u.dtype).contiguous()
        g_v = g_v_final.to(u.dtype).clone(memory_format=torch.contiguous_format)
        gz = torch.empty_like(u)
        need_params = bool(ctx.needs_input_grad[1] or ctx.needs_input_grad[2])
        shape = (batch, n) if need_params else (1,)
        g_beta = torch.empty(shape, dtype=u.dtype, device=u.device)
        g_theta = torch.empty(shape, dtype=u.dtype, device=u.device)
        A = runner.array
        runner.launch(f"lif_scan_backward_{_SUFFIX[u.dtype]}", bn,
                      (A(gs), A(g_v), A(u), A(v0.detach().contiguous()), A(beta.detach().contiguous()),
                       A(theta.detach().contiguous()), np.int64(n_steps), np.int64(bn), np.int64(n),
                       np.int32(subtract), np.int32(detach), np.int32(surrogate.kind),
                       _NP_FLOAT[u.dtype](surrogate.a), A(gz), A(g_beta), A(g_theta), np.int32(need_params)))
        gb = g_beta.sum(0) if ctx.needs_input_grad[1] else None
        gt = g_theta.sum(0) if ctx.needs_input_grad[2] else None
        g_v0 = g_v if ctx.needs_input_grad[3] else None
        return gz, gb, gt, g_v0, None, None, None, None


def lif_scan_kernel(z: torch.Tensor, beta: torch.Tensor, theta: torch.Tensor, v0: torch.Tensor,
                    subtract: bool = False, detach: bool = True, surrogate: Surrogate = Surrogate(),
                    kernels: KernelRunner | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`~neurosim.train.autograd.lif_scan` with the CUDA kernels of ``kernels/lif_scan.cu``.

    Same arguments, shapes and results (spikes ``(T, batch, n)`` and the final
    membrane ``(batch, n)``, differentiable in ``z``, ``beta``, ``theta`` and
    ``v0``).  ``kernels``: where to run them, by default the CuPy runner of
    the tensors' CUDA device; :class:`EmulatedKernels` runs them on the CPU.
    All tensors must share one dtype, float32 or float64.
    """
    check_lif_scan_shapes(z, beta, theta, v0)
    if not isinstance(surrogate, Surrogate):
        raise TypeError(f"lif_scan: 'surrogate' must be a Surrogate, got {surrogate!r}")
    runner = kernels if kernels is not None else _default_runner(z, "lif_scan")
    _check_tensors("lif_scan", runner, z=z, beta=beta, theta=theta, v0=v0)
    return _LIFScanKernelFn.apply(z, beta, theta, v0, bool(subtract), bool(detach), surrogate, runner)


# ----------------------------------------------------------------------------- delays
class KernelDelayOps:
    """The element-wise parts of the delay projection with ``kernels/delay_conv.cu``.

    Interchangeable with :class:`neurosim.train.delays.TorchDelayOps`; the
    tap matrices' matrix products stay PyTorch's (cuBLAS on a GPU).
    """

    def __init__(self, runner: KernelRunner) -> None:
        self.runner = runner

    @staticmethod
    def _scalars(t: torch.Tensor, sigma_eff: float | None):
        f = _NP_FLOAT[t.dtype]
        sigma = 1.0 if sigma_eff is None else float(sigma_eff)
        return f, f(sigma), f(sigma * sigma)

    def gauss_norm(self, d: torch.Tensor, sigma_eff: float, n_taps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Normaliser ``N = sum_k g_k + eps`` and ``dN/dd`` per synapse (one pass over ``d``)."""
        f, sigma, sig2 = self._scalars(d, sigma_eff)
        dc = d.detach().contiguous()
        norm, dnorm = torch.empty_like(dc), torch.empty_like(dc)
        A = self.runner.array
        self.runner.launch(f"delay_gauss_norm_{_SUFFIX[d.dtype]}", dc.numel(),
                           (A(dc), np.int64(dc.numel()), np.int64(n_taps), sigma, sig2, f(NORM_EPS),
                            A(norm), A(dnorm)))
        return norm, dnorm

    def tap_matrix(self, w: torch.Tensor, d: torch.Tensor, k: int, sigma_eff: float | None,
                   norm: torch.Tensor | None) -> torch.Tensor:
        """``A_k = w * tap_k(d)`` (one pass)."""
        f, sigma, _ = self._scalars(w, sigma_eff)
        wc, dc = w.detach().contiguous(), d.detach().contiguous()
        a = torch.empty_like(wc)
        A = self.runner.array
        self.runner.launch(f"delay_tap_matrix_{_SUFFIX[w.dtype]}", wc.numel(),
                           (A(wc), A(dc), np.int64(wc.numel()), f(k), sigma,
                            A(norm if norm is not None else wc), np.int32(sigma_eff is None), A(a)))
        return a

    def tap_grads(self, g_a: torch.Tensor | None, w: torch.Tensor, d: torch.Tensor, k: int,
                  sigma_eff: float | None, norm: torch.Tensor | None, dnorm: torch.Tensor | None,
                  gw: torch.Tensor | None, gd: torch.Tensor | None, want_a: bool) -> torch.Tensor | None:
        """Accumulate tap ``k``'s share of ``gw`` and ``gd`` in place, return ``A_k`` if ``want_a`` (one pass)."""
        f, sigma, sig2 = self._scalars(w, sigma_eff)
        wc, dc = w.detach().contiguous(), d.detach().contiguous()
        a = torch.empty_like(wc) if want_a else wc
        need = (1 if want_a else 0) | (2 if gw is not None else 0) | (4 if gd is not None else 0)
        if need == 0:
            return None
        for name, t in (("gw", gw), ("gd", gd)):
            if t is not None and not t.is_contiguous():
                raise ValueError(f"delay_conv: '{name}' must be contiguous")
        A = self.runner.array
        self.runner.launch(f"delay_tap_grads_{_SUFFIX[w.dtype]}", wc.numel(),
                           (A(g_a.contiguous() if g_a is not None else wc), A(wc), A(dc), np.int64(wc.numel()),
                            f(k), sigma, sig2, A(norm if norm is not None else wc),
                            A(dnorm if dnorm is not None else wc), np.int32(sigma_eff is None), np.int32(need),
                            A(a), A(gw if gw is not None else wc), A(gd if gd is not None else wc)))
        return a if want_a else None


def kernel_delay_ops(x: torch.Tensor, w: torch.Tensor, d: torch.Tensor) -> KernelDelayOps | None:
    """The kernel ops for CUDA tensors ``x, w, d`` when CuPy sees a GPU and all share one
    float32/float64 dtype; else None (``delay_conv`` then uses PyTorch's operations)."""
    if not (x.device.type == "cuda" and x.dtype in _SUFFIX and w.dtype == x.dtype == d.dtype
            and w.device == x.device == d.device and cuda_kernels_available()):
        return None
    return KernelDelayOps(cuda_kernels(x.device.index if x.device.index is not None
                                       else torch.cuda.current_device()))


def delay_conv_kernel(x: torch.Tensor, w: torch.Tensor, d: torch.Tensor, max_delay: int, tail: int,
                      sigma_eff: float | None, kernels: KernelRunner | None = None) -> torch.Tensor:
    """:func:`~neurosim.train.delays.delay_conv` with the element-wise passes in ``kernels/delay_conv.cu``.

    Same arguments and result; ``kernels`` as for :func:`lif_scan_kernel`.
    """
    check_delay_args(x, w, d, max_delay, tail, sigma_eff)
    runner = kernels if kernels is not None else _default_runner(x, "delay_conv")
    _check_tensors("delay_conv", runner, x=x, w=w, d=d)
    if not isinstance(max_delay, (int, np.integer)) or max_delay < 0:
        raise ValueError(f"delay_conv: 'max_delay' must be an integer >= 0, got {max_delay!r}")
    return _DelayFn.apply(x, w, d, sigma_eff, int(max_delay) + 1, tail, KernelDelayOps(runner))

"""Every CUDA source compiles with NVRTC, the compiler CuPy uses at run time, with the
GPU backend's own options (CI also compiles them with nvcc; neither needs a GPU)."""
from __future__ import annotations

import re

import pytest

from neurosim.engine.cupy_backend import NVRTC_OPTIONS
from neurosim.engine.kernels_path import kernel_dir


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
    except Exception:  # noqa: BLE001 - no CuPy, or no NVRTC library
        return None
    return nvrtc


NVRTC = _nvrtc()
KERNELS = sorted(p.name for p in kernel_dir().glob("*.cu"))


@pytest.mark.skipif(NVRTC is None, reason="needs CuPy and the NVRTC library "
                                          "(pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12)")
@pytest.mark.parametrize("name", KERNELS)
def test_kernel_compiles_with_nvrtc_and_exports_its_kernels(name):
    folder = kernel_dir()
    source = (folder / name).read_text()
    program = NVRTC.createProgram(source, name, [], [])
    try:
        NVRTC.compileProgram(program, [*NVRTC_OPTIONS, f"-I{folder}", "-arch=compute_70"])
    except Exception as err:  # noqa: BLE001 - report the compiler's log
        pytest.fail(f"{name} does not compile with NVRTC: {err}\n{NVRTC.getProgramLog(program)}")
    ptx = NVRTC.getPTX(program)
    entries = set(re.findall(r"\.entry\s+(\w+)", ptx.decode() if isinstance(ptx, bytes) else ptx))
    assert _launched(source) <= entries, f"kernels not exported under their C names: {_launched(source) - entries}"


def _launched(source: str) -> set[str]:
    """The kernels a file declares a CPU launcher for (the ones the host code calls), with
    ``name_##SUFFIX`` expanded for every ``..._ENTRY_POINTS(type, suffix)`` line."""
    names = set(re.findall(r"NEUROSIM_CPU_LAUNCHER\((\w+)\)", source))
    templated = re.findall(r"NEUROSIM_CPU_LAUNCHER\((\w+)_##SUFFIX\)", source)
    suffixes = re.findall(r"^NEUROSIM_\w+_ENTRY_POINTS\(\w+, (\w+)\)", source, flags=re.M)
    names |= {f"{base}_{suffix}" for base in templated for suffix in suffixes}
    assert names, "no kernels found"
    return names

"""Where the CUDA sources (``kernels/*.cu``, ``*.cuh``, ``*.h``) are.

In a source checkout they are the repository's top-level ``kernels/`` folder
(where CI compiles them with nvcc).  A wheel ships the same files as the
package data of ``neurosim.kernels`` (``pyproject.toml`` maps that package to
the ``kernels/`` folder), i.e. in ``site-packages/neurosim/kernels/``.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]

#: the training kernels (neurosim.train.cuda_ops): the LIF scan and the delay projection
TRAINING_KERNEL_FILES = ("lif_scan.cu", "delay_conv.cu")


def kernel_dir() -> Path:
    """The folder holding the kernel sources: ``neurosim/kernels`` when installed, else ``<repo>/kernels``."""
    candidates = (_PACKAGE / "kernels", _PACKAGE.parent / "kernels")
    for folder in candidates:
        if (folder / "neuron_models.cuh").is_file():
            return folder
    raise FileNotFoundError("CUDA kernel sources not found; looked in "
                            + " and ".join(str(c) for c in candidates)
                            + " (reinstall neurosim, or run from a source checkout)")

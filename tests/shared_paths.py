"""The one place tests and benchmarks learn where ``../shared`` is.

``$NEUROSIM_SHARED`` overrides the default, the ``shared`` folder beside the
repository.  Users of the package never need it; tests that read it skip,
saying why, when it is absent.
"""
from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(os.environ.get("NEUROSIM_SHARED", Path(__file__).resolve().parents[2] / "shared"))
FSDD_RECORDINGS = SHARED / "data" / "fsdd" / "recordings"
GOLDEN_LAVA = Path(os.environ.get("NEUROSIM_GOLDEN_DIR", SHARED / "golden" / "lava"))

"""Elementary functions that give bit-identical results in every backend.

NumPy's SIMD ``np.exp`` and the C library's ``exp`` (used by Numba) differ in
the last bit for a few percent of inputs; a neuron model that calls ``exp`` per
step would then drift apart between backends.  :func:`exp` is a Numba ufunc of
the C library's ``exp``, so NumPy arrays, NumPy scalars and compiled Numba code
all get the same bits.
"""
import math

from numba import vectorize


@vectorize(["float64(float64)", "float32(float32)"], cache=True)
def exp(x):  # pragma: no cover - compiled
    """e**x, computed with the C library (identical in NumPy and Numba code)."""
    return math.exp(x)

"""Elementary functions that give bit-identical results in every backend.

They are the only calls a step function may make (see
:mod:`neurosim.neurons.base`); each is a Numba ufunc, so it takes NumPy arrays
(the reference backend), scalars in compiled Numba code, and the CUDA
translator maps it to one C expression.

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


@vectorize(["float64(float64, float64, float64)", "float32(float32, float32, float32)"], cache=True)
def where(condition, if_true, if_false):  # pragma: no cover - compiled
    """``if_true`` where ``condition`` is nonzero (or True), else ``if_false``.

    A step function's branch: one select instruction in compiled loops (an
    arithmetic 0/1 blend ``m * a + (1 - m) * b`` costs three), the exact value
    of the chosen operand, and no NaN from the other one (``0 * inf``).
    """
    return if_true if condition != 0.0 else if_false

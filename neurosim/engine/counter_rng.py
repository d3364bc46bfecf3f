"""Counter-based random numbers: Philox4x32-10, the same bits on the host and on a GPU.

Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy
as 1, 2, 3", SC 2011) maps a 128-bit counter and a 64-bit key to 128 random
bits with ten rounds of 32 x 32 -> 64-bit multiplications.  A value depends
only on (key, counter), so it can be computed anywhere, in any order: here
by Numba on the host, and by ``kernels/philox.cuh`` on the device, which
implements the same function (both are checked against the published
known-answer vectors of the Random123 library, and against each other).

neurosim's input uses one counter per (step, element): the uniform of
element ``i`` (a target or a neuron) at step ``t`` of a stream with key
``(k0, k1)`` is :func:`uniform` ``(k0, k1, t, i)``: words 0 and 1 of
Philox4x32-10 of the counter (i, t mod 2^32, t div 2^32, 0), as a 64-bit
integer x, give ``(x >> 11) * 2^-53`` in [0, 1).
"""
from __future__ import annotations

import numba
import numpy as np

_U32 = numba.uint32
_U64 = numba.uint64


@numba.njit(inline="always")
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter (c0, c1, c2, c3) and key (k0, k1) (all uint32): four uint32."""
    for r in range(10):
        if r > 0:  # the key is bumped between rounds by the Weyl constants
            k0 = _U32(k0 + _U32(0x9E3779B9))
            k1 = _U32(k1 + _U32(0xBB67AE85))
        p0 = _U64(0xD2511F53) * _U64(c0)
        p1 = _U64(0xCD9E8D57) * _U64(c2)
        c0, c1, c2, c3 = (_U32(_U32(p1 >> _U64(32)) ^ c1 ^ k0), _U32(p1 & _U64(0xFFFFFFFF)),
                          _U32(_U32(p0 >> _U64(32)) ^ c3 ^ k1), _U32(p0 & _U64(0xFFFFFFFF)))
    return c0, c1, c2, c3


@numba.njit(inline="always")
def uniform(k0, k1, step, index):
    """The uniform in [0, 1) of element ``index`` (< 2^32) at ``step`` (>= 0) of stream (k0, k1)."""
    t = _U64(step)
    w0, w1, _, _ = philox4x32(_U32(index), _U32(t & _U64(0xFFFFFFFF)), _U32(t >> _U64(32)), _U32(0),
                              _U32(k0), _U32(k1))
    x = (_U64(w0) << _U64(32)) | _U64(w1)
    return np.float64(x >> _U64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def philox_block(counter: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Philox4x32-10 of one counter (uint32 [4]) and key (uint32 [2]): uint32 [4] (for tests)."""
    out = np.empty(4, dtype=np.uint32)
    out[0], out[1], out[2], out[3] = philox4x32(counter[0], counter[1], counter[2], counter[3], key[0], key[1])
    return out


@numba.njit(cache=True)
def uniforms(k0: np.uint32, k1: np.uint32, t0: int, n_steps: int, n: int) -> np.ndarray:
    """``uniform(k0, k1, t, i)`` for steps t0 ... t0 + n_steps - 1 and elements 0 ... n - 1: [n_steps, n]."""
    out = np.empty((n_steps, n))
    for k in range(n_steps):
        for i in range(n):
            out[k, i] = uniform(k0, k1, t0 + k, i)
    return out


def stream_key(seed_sequence: np.random.SeedSequence) -> tuple[np.uint32, np.uint32]:
    """A stream's Philox key, from its seed sequence."""
    k0, k1 = seed_sequence.generate_state(2, dtype=np.uint32)
    return np.uint32(k0), np.uint32(k1)

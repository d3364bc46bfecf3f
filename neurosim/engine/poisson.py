"""Random input drawn in bulk: Poisson spike trains and Poisson input counts.

The stimulus generator (:mod:`neurosim.engine.stimulus`) draws all
randomness of a run from the network's run streams, so every backend sees
the same input for the same seed.  Drawing is often the largest part of
a run (one uniform per Poisson neuron and step, one binomial per Poisson
input target and step), so the two common cases are sampled here in less
work than one library call per value:

* :class:`SparseBernoulli`: a Poisson group with constant rates.  Its cells
  (step, neuron) spike independently with probability ``p[neuron]``; the
  spikes are laid out by geometric gaps over the grid, so the work is
  proportional to the number of spikes, not of cells.
* :class:`BinomialTable`: the number of a Poisson input's ``n`` sources that
  fire in one step, Binomial(n, p), drawn from one uniform by inverting the
  tabulated distribution function (with a guide table: O(1) per draw).

Poisson inputs and Poisson groups with time-varying rates draw one uniform
per cell (step, target or neuron), from the counter-based generator of
:mod:`neurosim.engine.counter_rng` (:func:`poisson_input_values`,
:func:`bernoulli_cells`): a cell's value depends only on the stream's key,
the step and the index, so blocks of cells can be drawn on Numba's threads
(as many as ``run(threads=...)`` sets) and the GPU backend can compute the
same values on the device.

Both keep the properties the engine promises: the result of steps
``a ... b`` does not depend on how they are split into chunks or ``run``
calls, and the draws are exact up to the rounding of the probabilities in
double precision (below 1e-15 per value).
"""
from __future__ import annotations

import numba
import numpy as np
from scipy import stats

from .counter_rng import uniform

#: values per draw from a generator: fixed, so a stream is consumed the same way however
#: the steps are split into chunks
BLOCK = 1 << 14


class _BlockStream:
    """Values of ``draw(BLOCK)`` calls handed out in order, whatever the sizes asked for."""

    def __init__(self, draw) -> None:
        self._draw = draw
        self._left = np.empty(0)

    def take(self, count: int) -> np.ndarray:
        """The next ``count`` values."""
        if count == 0:
            return self._left[:0]
        parts, have = [], 0
        while have < count:
            if self._left.size == 0:
                self._left = self._draw(BLOCK)
            part = self._left[:count - have]
            self._left = self._left[part.size:]
            parts.append(part)
            have += part.size
        return np.concatenate(parts) if len(parts) != 1 else parts[0]

    def peek_all(self) -> np.ndarray:
        """The values drawn and not yet taken (at least one)."""
        if self._left.size == 0:
            self._left = self._draw(BLOCK)
        return self._left


class SparseBernoulli:
    """Spikes of ``p.size`` neurons firing independently with constant probabilities ``p`` per step.

    Cell (t, i) of the grid of steps x neurons spikes with probability
    ``p[i]``.  Candidate cells form a Bernoulli(p_max) process over the grid
    flattened step by step (position ``t * n + i``): the gaps between
    candidates are Geometric(p_max) draws.  Each candidate is kept with
    probability ``p[i] / p_max`` (no draw when all ``p`` are equal), so every
    cell spikes with probability ``p[i]``, independently of the others.  The
    work per step is proportional to ``n * p_max``.

    ``rng`` gives two child generators (gaps, thinning), consumed in fixed
    blocks, so the spikes of a step do not depend on how steps are split
    into calls of :meth:`draw`, which must cover consecutive steps from
    ``t0`` on.
    """

    #: below this p_max, gaps could overflow int64: draw one uniform per cell (:func:`bernoulli_cells`)
    MIN_P = 2.0 ** -40

    def __init__(self, p: np.ndarray, rng: np.random.Generator, t0: int) -> None:
        self.p = np.array(p, dtype=np.float64)
        if self.p.ndim != 1 or not np.all((self.p >= 0) & (self.p <= 1)):
            raise ValueError("SparseBernoulli needs one probability per neuron, each in [0, 1]")
        self.n = self.p.size
        self.p_max = float(self.p.max()) if self.n else 0.0
        if 0 < self.p_max < self.MIN_P:
            raise ValueError(f"SparseBernoulli needs p_max = 0 or >= {self.MIN_P:g}, got {self.p_max:g}")
        gap_rng, keep_rng = rng.spawn(2)
        self._gaps = _BlockStream(lambda size: gap_rng.geometric(self.p_max, size))
        self._keep = _BlockStream(keep_rng.random)
        self._ratio = self.p / self.p_max if self.p_max > 0 else self.p
        self._thin = bool(np.any(self.p != self.p_max))
        self._origin = t0          # grid positions count from cell (t0, 0)
        self.next_step = t0        # first step not drawn yet
        self._next = None          # position of the next candidate (drawn on first use)

    def draw(self, t0: int, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Spikes of steps ``t0 ... t0 + n_steps - 1``: (step - t0, neuron), ordered by step, then neuron."""
        if t0 != self.next_step:
            raise ValueError(f"SparseBernoulli.draw: steps must follow on ({self.next_step}), got {t0}")
        self.next_step = t0 + n_steps
        if self.p_max == 0 or n_steps == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        end = (self.next_step - self._origin) * self.n
        if self._next is None:
            self._next = int(self._gaps.take(1)[0]) - 1
        found = []
        while self._next < end:
            gaps = self._gaps.peek_all()
            pos = self._next + np.concatenate(([0], np.cumsum(gaps)))
            inside = int(np.searchsorted(pos, end))  # candidates pos[:inside] lie before end
            used = min(inside, gaps.size)
            found.append(pos[:used])
            self._gaps.take(used)
            self._next = int(pos[used])
        pos = np.concatenate(found) if found else np.zeros(0, np.int64)
        if self._thin and pos.size:
            idx = pos % self.n
            pos = pos[self._keep.take(pos.size) < self._ratio[idx]]
        step = pos // self.n + (self._origin - t0)
        return step, pos % self.n


class BinomialTable:
    """Binomial(n, p) counts drawn from uniforms by inverting the tabulated distribution function.

    ``cdf[k]`` = P(X <= k) for k = 0 ... K, K = n or the mean plus 40
    standard deviations plus 40, beyond which the probability is negligible
    (SciPy's binomial distribution function, through the incomplete beta
    function, so large ``n * p`` do not underflow); a uniform u gives the
    smallest k with u < cdf[k].  A
    guide table indexed by ``floor(u * m)`` gives the search its start, so
    each draw costs O(1) comparisons on average.
    """

    def __init__(self, n: int, p: float) -> None:
        if n < 0 or not 0.0 <= p <= 1.0:
            raise ValueError(f"BinomialTable needs n >= 0 and 0 <= p <= 1, got n={n}, p={p}")
        mean, sd = n * p, np.sqrt(n * p * (1.0 - p))
        top = int(min(n, np.ceil(mean + 40.0 * sd + 40.0)))
        self.n, self.p = int(n), float(p)
        self.cdf = stats.binom.cdf(np.arange(top + 1), n, p)
        self.cdf[-1] = 1.0  # the tail beyond K (if any) and rounding fold into K
        m = max(1, min(self.cdf.size, 1 << 12))
        self.guide = np.searchsorted(self.cdf, np.arange(m) / m, side="right").astype(np.int64)

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Counts for uniforms ``u`` in [0, 1) (any shape): int64 of the same shape."""
        u = np.ascontiguousarray(u, dtype=np.float64)
        out = np.empty(u.shape, dtype=np.int64)
        _invert_all(u.reshape(-1), self.cdf, self.guide, out.reshape(-1))
        return out


@numba.njit(inline="always")
def invert(x, cdf, guide):
    """The smallest k with x < cdf[k] (the last k if none), searched from guide[floor(x m)]."""
    m, last = guide.size, cdf.size - 1
    k = guide[min(int(x * m), m - 1)]
    while k < last and cdf[k] <= x:
        k += 1
    return k


@numba.njit(cache=True, nogil=True)
def _invert_all(u, cdf, guide, out):
    for j in range(u.size):
        out[j] = invert(u[j], cdf, guide)


#: cells (one step, consecutive indices) per task of the per-cell samplers: a block of
#: uniforms stays in the L1 cache, and a step of a large input splits over the threads
CELL_BLOCK = 2048


def _threaded() -> bool:
    """Whether the per-cell samplers run their blocks on Numba's threads (more than one set, as
    ``run(threads=n)`` does).  On one thread they never enter Numba's threading layer, so runs
    in concurrent Python threads stay safe with any layer (Numba's fallback, "workqueue", is not
    thread-safe; runs on several threads take turns, see ``numba_backend.threads``)."""
    return numba.get_num_threads() > 1


@numba.njit(inline="always")
def _block_uniforms(k0, k1, t0, task, blocks, n):
    """Block ``task`` of a [steps, n] grid of cells (``blocks`` per step): its step k, first index
    lo, and the uniforms of its cells."""
    k, lo = task // blocks, task % blocks * CELL_BLOCK
    u = np.empty(min(CELL_BLOCK, n - lo))
    for i in range(u.size):  # a loop of its own, so that the compiler vectorises Philox
        u[i] = uniform(k0, k1, t0 + k, lo + i)
    return k, lo, u


@numba.njit(inline="always")
def _input_block(k0, k1, t0, cdf, guide, weight, out, task, blocks):
    k, lo, u = _block_uniforms(k0, k1, t0, task, blocks, out.shape[1])
    for i in range(u.size):
        out[k, lo + i] = invert(u[i], cdf, guide) * weight


@numba.njit(cache=True, nogil=True)
def _input_serial(k0, k1, t0, cdf, guide, weight, out, blocks):
    for task in range(out.shape[0] * blocks):
        _input_block(k0, k1, t0, cdf, guide, weight, out, task, blocks)


@numba.njit(cache=True, nogil=True, parallel=True)
def _input_parallel(k0, k1, t0, cdf, guide, weight, out, blocks):
    for task in numba.prange(out.shape[0] * blocks):
        _input_block(k0, k1, t0, cdf, guide, weight, out, task, blocks)


def poisson_input_values(k0: np.uint32, k1: np.uint32, t0: int, cdf: np.ndarray, guide: np.ndarray,
                         weight: float, out: np.ndarray) -> None:
    """A Poisson input's values of steps t0 ... t0 + out.shape[0] - 1 into ``out`` [steps, targets]:
    the count of target i at step t, Binomial by :func:`invert` of ``uniform(k0, k1, t, i)``, times
    ``weight``.  Blocks of :data:`CELL_BLOCK` cells run on Numba's threads when there are several
    (each cell's value is its own, so the result does not depend on the number of threads)."""
    run = _input_parallel if _threaded() else _input_serial
    run(k0, k1, t0, cdf, guide, weight, out, -(-out.shape[1] // CELL_BLOCK))


@numba.njit(inline="always")
def _mark_block(k0, k1, t0, p, fired, count, task, blocks):
    """Mark the cells of block ``task`` that fire (u < p) in ``fired``; their number in count[task + 1]."""
    k, lo, u = _block_uniforms(k0, k1, t0, task, blocks, fired.shape[1])
    per_neuron, c = p.shape[1] > 1, 0
    for i in range(u.size):
        f = u[i] < p[k, lo + i if per_neuron else 0]
        fired[k, lo + i] = f
        c += f
    count[task + 1] = c


@numba.njit(cache=True, nogil=True)
def _mark_serial(k0, k1, t0, p, fired, count, blocks):
    for task in range(count.size - 1):
        _mark_block(k0, k1, t0, p, fired, count, task, blocks)


@numba.njit(cache=True, nogil=True, parallel=True)
def _mark_parallel(k0, k1, t0, p, fired, count, blocks):
    for task in numba.prange(count.size - 1):
        _mark_block(k0, k1, t0, p, fired, count, task, blocks)


@numba.njit(inline="always")
def _list_block(fired, start, step_of, neuron, task, blocks):
    """Write the (step, neuron) of block ``task``'s fired cells from position start[task] on."""
    k, lo = task // blocks, task % blocks * CELL_BLOCK
    j = start[task]
    for i in range(lo, min(lo + CELL_BLOCK, fired.shape[1])):
        if fired[k, i]:
            step_of[j], neuron[j] = k, i
            j += 1


@numba.njit(cache=True, nogil=True)
def _list_serial(fired, start, step_of, neuron, blocks):
    for task in range(start.size - 1):
        _list_block(fired, start, step_of, neuron, task, blocks)


@numba.njit(cache=True, nogil=True, parallel=True)
def _list_parallel(fired, start, step_of, neuron, blocks):
    for task in numba.prange(start.size - 1):
        _list_block(fired, start, step_of, neuron, task, blocks)


def bernoulli_cells(key: tuple, t0: int, p: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Spikes (step - t0, neuron) of cells with probabilities ``p`` [steps, 1 or n]: neuron i fires at
    step t when ``uniform(*key, t, i) < p``; ordered by step, then neuron.

    In blocks of :data:`CELL_BLOCK` cells, on Numba's threads when there are several: one pass
    marks and counts each block's spikes, a second writes them at the block's offset.
    """
    p = np.ascontiguousarray(p, dtype=np.float64)
    blocks = -(-n // CELL_BLOCK)
    fired = np.empty((p.shape[0], n), dtype=np.bool_)
    count = np.zeros(p.shape[0] * blocks + 1, dtype=np.int64)
    threaded = _threaded()
    (_mark_parallel if threaded else _mark_serial)(key[0], key[1], t0, p, fired, count, blocks)
    start = np.cumsum(count)
    step_of, neuron = np.empty(start[-1], dtype=np.int64), np.empty(start[-1], dtype=np.int64)
    (_list_parallel if threaded else _list_serial)(fired, start, step_of, neuron, blocks)
    return step_of, neuron

"""Connection rules: which (pre, post) pairs a projection has.

The generating rules return the pairs in CSR form, ``(indptr, post)``:
``indptr`` (int64, ``n_pre + 1``) and ``post`` (int32), the targets of pre
neuron ``i`` being ``post[indptr[i]:indptr[i + 1]]``, ascending.  Each draws
from the ``rng`` it is given.  :func:`explicit` checks user-given pairs and
:func:`sort_by_pre` puts them in that form.
"""
from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

#: fixed-probability rules draw a dense Bernoulli mask for dense connectivity or
#: few candidate pairs, and skip through each row with geometric gaps otherwise
_DENSE_P = 0.1
_DENSE_PAIR_LIMIT = 1_000_000
#: rows of the dense mask drawn at a time
_DENSE_CHUNK = 20_000_000
#: uniform numbers drawn at a time by the sparse fixed-probability sampler
_UNIFORM_CHUNK = 1 << 20


def _csr(counts: np.ndarray) -> np.ndarray:
    """Row pointers (int64, ``counts.size + 1``) of rows with ``counts`` entries."""
    indptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr


def all_to_all(n_pre: int, n_post: int, allow_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every pre to every post (without i -> i if ``allow_self`` is False)."""
    post = np.tile(np.arange(n_post, dtype=np.int32), n_pre)
    counts = np.full(n_pre, n_post, dtype=np.int64)
    if not allow_self:
        keep = np.repeat(np.arange(n_pre), n_post) != post
        post = post[keep]
        counts -= np.arange(n_pre) < n_post
    return _csr(counts), post


def one_to_one(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """Pre i to post i; both populations must have the same size."""
    if n_pre != n_post:
        raise ValueError(
            f"rule='one_to_one' needs populations of equal size, got {n_pre} pre and {n_post} post neurons"
        )
    return np.arange(n_pre + 1, dtype=np.int64), np.arange(n_post, dtype=np.int32)


def _distinct_rows(rng: np.random.Generator, n_rows: int, k: int, n_choices: int) -> np.ndarray:
    """``n_rows`` rows of ``k`` distinct values in [0, n_choices), each row a uniform subset.

    Values are drawn one by one and a value the row already has is drawn
    again (:func:`_distinct_walk`): sampling without replacement, so each
    k-subset is equally likely; rows are not sorted.  For ``k`` above half
    of ``n_choices`` the values left out are drawn instead (then at least
    half of all draws are kept).  Returns an int64 array ``[n_rows, k]``.
    """
    if 2 * k > n_choices:
        keep = np.ones((n_rows, n_choices), dtype=bool)
        left_out = _distinct_rows(rng, n_rows, n_choices - k, n_choices)
        keep[np.arange(n_rows)[:, None], left_out] = False
        return np.nonzero(keep)[1].reshape(n_rows, k).astype(np.int64)
    out = np.empty((n_rows, k), dtype=np.int64)
    taken = np.zeros(n_choices, dtype=np.bool_)
    row = filled = 0
    while row < n_rows and k > 0:
        draws = rng.integers(0, n_choices, _UNIFORM_CHUNK, dtype=np.int64)
        row, filled = _distinct_walk(draws, k, taken, out, row, filled)
    return out


@njit(cache=True)
def _distinct_walk(draws, k, taken, out, row, filled):
    """Continue filling ``out`` row by row with the ``draws`` not yet in the row (``taken`` marks them).

    The walk is at ``row``, with ``filled`` values of it chosen; returns
    where it stopped (out of draws, or past the last row).  A finished
    row's marks are cleared, so ``taken`` costs O(k) per row, not O(n_choices).
    """
    for x in draws:
        if row == out.shape[0]:
            break
        if not taken[x]:
            taken[x] = True
            out[row, filled] = x
            filled += 1
            if filled == k:
                for t in range(k):
                    taken[out[row, t]] = False
                row += 1
                filled = 0
    return row, filled


@njit(cache=True)
def _group_by_pre(pre, n_pre, indptr, post):
    """CSR by pre of the pairs (``pre[j, :]``, j): counting sort, posts ascending within each pre."""
    for j in range(pre.shape[0]):
        for i in range(pre.shape[1]):
            indptr[pre[j, i] + 1] += 1
    for i in range(n_pre):
        indptr[i + 1] += indptr[i]
    cursor = indptr[:-1].copy()
    for j in range(pre.shape[0]):
        for i in range(pre.shape[1]):
            v = pre[j, i]
            post[cursor[v]] = j
            cursor[v] += 1


@njit(cache=True)
def _skip_rows(u, inv_log_q, n_rows, n_choices, skip_self, post, indptr, r, j, m):
    """Continue the geometric-gap walk of :func:`fixed_probability` with the uniforms ``u`` in (0, 1].

    The walk is at row ``r``, candidate ``j`` (the last one taken or skipped
    in that row, -1 at a row's start), with ``m`` targets written so far.
    Each uniform gives the number of candidates skipped before the next
    connected one, ``floor(log(u) / log(1 - p))`` (geometric: P(skip >= g) =
    (1 - p)^g); a candidate past ``n_choices`` ends the row (tested before
    the conversion to an integer, which could overflow for tiny ``p``).  With
    ``skip_self`` candidate ``j`` of row ``r`` is post ``j + (j >= r)``.
    Returns ``(r, j, m)`` where it stopped: out of uniforms, out of room in
    ``post``, or at the end.
    """
    k = 0
    while r < n_rows:
        if k == u.shape[0] or m == post.shape[0]:
            return r, j, m
        skip = math.log(u[k]) * inv_log_q
        k += 1
        if skip >= n_choices - 1 - j:
            r += 1
            indptr[r] = m
            j = -1
        else:
            j += 1 + int(skip)
            post[m] = j + 1 if skip_self and j >= r else j
            m += 1
    return r, j, m


def fixed_probability(
    n_pre: int, n_post: int, p: float, allow_self: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each (pre, post) pair is connected independently with probability ``p``.

    Sparse connectivity is drawn row by row with geometric gaps between
    connected candidates (one uniform number per synapse, no sort), dense
    connectivity (``p`` > 0.1 or at most a million pairs) with a Bernoulli mask.
    """
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"connection probability p must be in [0, 1], got {p}")
    n_choices = n_post if allow_self else n_post - 1
    if p == 0.0:
        return np.zeros(n_pre + 1, dtype=np.int64), np.zeros(0, dtype=np.int32)
    if p > _DENSE_P or n_pre * n_post <= _DENSE_PAIR_LIMIT:
        posts, counts = [], []
        rows_per_chunk = max(1, _DENSE_CHUNK // max(n_post, 1))
        for start in range(0, n_pre, rows_per_chunk):
            stop = min(n_pre, start + rows_per_chunk)
            mask = rng.random((stop - start, n_post)) < p
            if not allow_self:
                local = np.arange(start, stop)
                inside = local < n_post
                mask[(local - start)[inside], local[inside]] = False
            posts.append(np.nonzero(mask)[1].astype(np.int32))
            counts.append(np.count_nonzero(mask, axis=1))
        return _csr(np.concatenate(counts)), np.concatenate(posts)
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    mean = n_pre * n_choices * p
    post = np.empty(int(mean + 8 * math.sqrt(mean) + 16), dtype=np.int32)
    inv_log_q = 1.0 / math.log1p(-p)
    u = np.empty(_UNIFORM_CHUNK)
    r, j, m = 0, -1, 0
    while r < n_pre:
        if m == post.size:
            post = np.concatenate([post, np.empty(post.size // 2 + 16, dtype=np.int32)])
        rng.random(out=u)
        np.subtract(1.0, u, out=u)  # in (0, 1]
        r, j, m = _skip_rows(u, inv_log_q, n_pre, n_choices, not allow_self, post, indptr, r, j, m)
    return indptr, post[:m]


def fixed_indegree(
    n_pre: int, n_post: int, k: int, allow_self: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each post neuron receives exactly ``k`` distinct pre neurons, chosen uniformly."""
    n_choices = n_pre if allow_self else n_pre - 1
    if not (0 <= k <= n_choices):
        raise ValueError(
            f"fixed in-degree k must be in [0, {n_choices}] for {n_pre} pre neurons"
            f"{'' if allow_self else ' without self-connections'}, got {k}"
        )
    pre = _distinct_rows(rng, n_post, k, n_choices)
    if not allow_self:
        pre += pre >= np.arange(n_post)[:, None]
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    post = np.empty(n_post * k, dtype=np.int32)
    _group_by_pre(pre, n_pre, indptr, post)
    return indptr, post


def sort_by_pre(pre: np.ndarray, post: np.ndarray, n_pre: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(pre, post)`` in CSR form: ``(indptr, post as int32, order)``.

    ``order`` is the stable permutation that sorts the pairs by pre (so
    per-pair values given in the same order as the pairs follow with
    ``values[order]``); within a pre neuron, the pairs keep their order.
    """
    order = np.argsort(pre, kind="stable")
    return _csr(np.bincount(pre, minlength=n_pre)), post[order].astype(np.int32), order


def explicit(pre: npt.ArrayLike, post: npt.ArrayLike, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """User-given index arrays, checked for shape and range."""
    pre = np.asarray(pre)
    post = np.asarray(post)
    for name, arr, n in (("pre", pre, n_pre), ("post", post, n_post)):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of neuron indices, got shape {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.mod(arr, 1) == 0):
                raise ValueError(f"{name} must hold integer neuron indices")
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(
                f"{name} indices must be in [0, {n - 1}] (the population has {n} neurons), "
                f"got values in [{arr.min()}, {arr.max()}]"
            )
    if pre.shape != post.shape:
        raise ValueError(f"pre and post must have the same length, got {pre.size} and {post.size}")
    return pre.astype(np.int64), post.astype(np.int64)

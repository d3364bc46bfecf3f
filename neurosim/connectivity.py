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


def _distinct_per_row(rng: np.random.Generator, counts: np.ndarray, n_choices: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """For row r draw counts[r] distinct values in [0, n_choices), uniformly.

    Draws with replacement, then redraws each duplicate until none is left:
    exact rejection sampling of a uniform subset.  Rows and values are packed
    into one int64 key per draw so a single (stable, nearly linear on the
    row-sorted keys) sort groups rows and exposes duplicates.  Returns
    ``(rows, values)``: the row of each value and the values grouped by row,
    ascending within rows.
    """
    rows = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    base = rows * n_choices
    key = rng.integers(0, n_choices, rows.size, dtype=np.int64)
    key += base
    key.sort(kind="stable")
    while True:
        dup = np.flatnonzero(key[1:] == key[:-1]) + 1
        if dup.size == 0:
            key -= base
            return rows, key
        key[dup] = (key[dup] // n_choices) * n_choices + rng.integers(0, n_choices, dup.size, dtype=np.int64)
        key.sort(kind="stable")


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
    counts = np.full(n_post, k, dtype=np.int64)
    post, pre = _distinct_per_row(rng, counts, n_choices)
    if not allow_self:
        pre += pre >= post
    indptr, post, _ = sort_by_pre(pre, post, n_pre)
    return indptr, post


def sort_by_pre(pre: np.ndarray, post: np.ndarray, n_pre: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(pre, post)`` in CSR form: ``(indptr, post as int32, order)``.

    ``order`` is the stable permutation that sorts the pairs by pre (so
    per-pair values given in the same order as the pairs follow with
    ``values[order]``); within a pre neuron, the pairs keep their order.
    """
    order = np.argsort(pre, kind="stable")
    return _csr(np.bincount(pre, minlength=n_pre)), post[order].astype(np.int32), order


def explicit(pre, post, n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
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

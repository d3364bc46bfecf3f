"""Connection rules: which (pre, post) pairs a projection has.

Every rule returns two int64 arrays ``(pre, post)`` of local indices, drawn
from the ``rng`` it is given, and sorted by ``pre`` then ``post``.
"""
from __future__ import annotations

import numpy as np

#: fixed-probability rules draw a dense Bernoulli mask for dense connectivity or
#: few candidate pairs, and sample each row's targets sparsely otherwise
_DENSE_P = 0.1
_DENSE_PAIR_LIMIT = 1_000_000
#: rows of the dense mask drawn at a time
_DENSE_CHUNK = 20_000_000


def all_to_all(n_pre: int, n_post: int, allow_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every pre to every post (without i -> i if ``allow_self`` is False)."""
    pre = np.repeat(np.arange(n_pre, dtype=np.int64), n_post)
    post = np.tile(np.arange(n_post, dtype=np.int64), n_pre)
    if not allow_self:
        keep = pre != post
        pre, post = pre[keep], post[keep]
    return pre, post


def one_to_one(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """Pre i to post i; both populations must have the same size."""
    if n_pre != n_post:
        raise ValueError(
            f"rule='one_to_one' needs populations of equal size, got {n_pre} pre and {n_post} post neurons"
        )
    idx = np.arange(n_pre, dtype=np.int64)
    return idx, idx.copy()


def _distinct_per_row(rng: np.random.Generator, counts: np.ndarray, n_choices: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """For row r draw counts[r] distinct values in [0, n_choices), uniformly.

    Draws with replacement, then redraws each duplicate until none is left:
    exact rejection sampling of a uniform subset.  Rows and values are packed
    into one int64 key per draw so a single (stable, nearly linear on the
    row-sorted keys) sort groups rows and exposes duplicates.  Returns
    ``(rows, values)``: the row of each value and the values grouped by row,
    ascending within rows.  The arithmetic is done in place: at tens of
    millions of synapses every temporary array costs as much as the sort.
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


def fixed_probability(
    n_pre: int, n_post: int, p: float, allow_self: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each (pre, post) pair is connected independently with probability ``p``."""
    if not (0.0 <= p <= 1.0):
        raise ValueError(f"connection probability p must be in [0, 1], got {p}")
    n_choices = n_post if allow_self else n_post - 1
    if p > _DENSE_P or n_pre * n_post <= _DENSE_PAIR_LIMIT:
        pres, posts = [], []
        rows_per_chunk = max(1, _DENSE_CHUNK // max(n_post, 1))
        for start in range(0, n_pre, rows_per_chunk):
            stop = min(n_pre, start + rows_per_chunk)
            mask = rng.random((stop - start, n_post)) < p
            if not allow_self:
                local = np.arange(start, stop)
                inside = local < n_post
                mask[(local - start)[inside], local[inside]] = False
            r, c = np.nonzero(mask)
            pres.append(r + start)
            posts.append(c)
        return np.concatenate(pres).astype(np.int64), np.concatenate(posts).astype(np.int64)
    counts = rng.binomial(n_choices, p, n_pre)
    pre, post = _distinct_per_row(rng, counts, n_choices)
    if not allow_self:
        post += post >= pre
    return pre, post


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
    order = np.lexsort((post, pre))
    return pre[order], post[order]


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

"""Connection rules draw the right statistics and respect their constraints."""
import numpy as np
import pytest
from scipy import stats

import neurosim as ns
from neurosim import connectivity


def _pairs(indptr, post):
    """(pre, post) int64 arrays of a rule's CSR output, after checking its form."""
    assert indptr.dtype == np.int64 and post.dtype == np.int32
    assert indptr[0] == 0 and indptr[-1] == post.size and np.all(np.diff(indptr) >= 0)
    pre = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    # ascending within each row, hence distinct
    assert np.all((post[1:] > post[:-1]) | (pre[1:] != pre[:-1]))
    return pre, post.astype(np.int64)


@pytest.mark.parametrize("n_pre,n_post,p", [(200, 300, 0.05), (6000, 6000, 0.002), (3000, 40000, 0.001)])
def test_fixed_probability_counts_are_binomial(n_pre, n_post, p):
    rng = np.random.default_rng(0)
    pre, post = _pairs(*connectivity.fixed_probability(n_pre, n_post, p, True, rng))
    n = n_pre * n_post
    z = (pre.size - n * p) / np.sqrt(n * p * (1 - p))
    assert abs(z) < 4
    # every row's count is Binomial(n_post, p): its variance too (index of dispersion)
    counts = np.bincount(pre, minlength=n_pre)
    dispersion = counts.var(ddof=1) / (n_post * p * (1 - p))
    assert abs(dispersion - 1) < 4 * np.sqrt(2 / (n_pre - 1))
    # post indices are uniform: chi-square over 10 bins
    bins = np.bincount(post * 10 // n_post, minlength=10)
    assert stats.chisquare(bins).pvalue > 1e-4


def test_sparse_fixed_probability_gaps_are_geometric():
    """Within a row, the gaps between connected posts are Geometric(p) (the Bernoulli process)."""
    p, n_post = 0.002, 200_000
    indptr, post = connectivity.fixed_probability(300, n_post, p, True, np.random.default_rng(3))
    gaps = np.concatenate([np.diff(post[a:b]) for a, b in zip(indptr[:-1], indptr[1:])])
    assert gaps.min() >= 1
    # P(gap > g) = (1 - p)^g: compare the empirical tail at a few quantiles
    for g in (100, 500, 1500):
        expected = (1 - p) ** g
        se = np.sqrt(expected * (1 - expected) / gaps.size)
        assert abs(np.mean(gaps > g) - expected) < 5 * se
    assert stats.kstest(gaps, stats.geom(p).cdf).statistic < 0.02


def test_sparse_fixed_probability_does_not_depend_on_the_uniform_chunk(monkeypatch):
    """The row walk resumes exactly where a block of uniform numbers ran out."""
    first = connectivity.fixed_probability(700, 9000, 0.003, False, np.random.default_rng(5))
    monkeypatch.setattr(connectivity, "_UNIFORM_CHUNK", 7)
    second = connectivity.fixed_probability(700, 9000, 0.003, False, np.random.default_rng(5))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("p", [0.0, 1e-300, 1e-9])
def test_sparse_fixed_probability_with_vanishing_p(p):
    """No synapse (and no overflow of the gap) when p is 0 or far below 1 / (number of pairs)."""
    indptr, post = connectivity.fixed_probability(2000, 3000, p, True, np.random.default_rng(0))
    assert indptr.shape == (2001,) and not indptr.any() and post.size == 0


@pytest.mark.parametrize("n", [50, 5000])
def test_no_self_connections(n):
    rng = np.random.default_rng(1)
    pre, post = _pairs(*connectivity.fixed_probability(n, n, 0.3 if n == 50 else 0.004, False, rng))
    assert not np.any(pre == post)
    # the candidate after a neuron's own index is still reachable: targets are uniform over the others
    if n == 5000:
        above = np.mean(post > pre) / np.mean((n - 1 - pre) / (n - 1))
        assert abs(above - 1) < 0.05
    pre, post = _pairs(*connectivity.fixed_indegree(n, n, 7, False, rng))
    assert not np.any(pre == post)
    assert np.all(np.bincount(post, minlength=n) == 7)


def test_fixed_indegree_distinct_sources():
    pre, post = _pairs(*connectivity.fixed_indegree(30, 100, 30, True, np.random.default_rng(2)))
    for j in range(100):
        assert sorted(pre[post == j]) == list(range(30))
    with pytest.raises(ValueError, match=r"fixed in-degree k must be in \[0, 29\]"):
        connectivity.fixed_indegree(30, 10, 30, False, np.random.default_rng(0))


@pytest.mark.parametrize("k", [10, 40])
def test_fixed_indegree_sources_are_uniform_subsets(k):
    """Each post's k sources are a uniform k-subset of the 50 pre neurons (k = 40 draws the 10 left out):
    every pre neuron is chosen equally often, and a given pair of pre neurons feeds the same post with
    probability k (k - 1) / (50 * 49)."""
    n_pre, n_post = 50, 6000
    pre, post = _pairs(*connectivity.fixed_indegree(n_pre, n_post, k, True, np.random.default_rng(7)))
    assert np.all(np.bincount(post, minlength=n_post) == k)
    assert stats.chisquare(np.bincount(pre, minlength=n_pre)).pvalue > 1e-4
    has = np.zeros((n_post, n_pre), dtype=bool)
    has[post, pre] = True
    both = np.mean(has[:, 3] & has[:, 17])
    expected = k * (k - 1) / (n_pre * (n_pre - 1))
    assert abs(both - expected) < 5 * np.sqrt(expected * (1 - expected) / n_post)


def test_all_to_all_and_one_to_one():
    pre, post = _pairs(*connectivity.all_to_all(3, 4, True))
    assert pre.size == 12
    pre, post = _pairs(*connectivity.all_to_all(4, 4, False))
    assert pre.size == 12 and not np.any(pre == post)
    pre, post = _pairs(*connectivity.all_to_all(5, 3, False))
    assert pre.size == 12 and not np.any(pre == post)
    pre, post = _pairs(*connectivity.one_to_one(4, 4))
    np.testing.assert_array_equal(pre, post)
    with pytest.raises(ValueError, match="one_to_one' needs populations of equal size"):
        connectivity.one_to_one(3, 4)


def test_network_projection_views_and_dense_matrix():
    net = ns.Network(dt=0.1)
    a = net.add_population("a", 4, ns.LIF())
    b = net.add_population("b", 3, ns.LIF())
    pre, post = [3, 0, 1, 0], [2, 1, 0, 1]
    proj = net.connect(a, b, pre=pre, post=post, weight=[1.0, 2.0, 3.0, 4.0], delay=[0.0, 0.2, 0.31, 1.0])
    net.connect(b, a, rule="all_to_all", weight=ns.Normal(0.0, 1.0))
    net.build(seed=0)
    assert list(proj.pre_index) == [0, 0, 1, 3]
    assert list(proj.post_index) == [1, 1, 0, 2]
    np.testing.assert_allclose(proj.delays(0.1), [0.2, 1.0, 0.3, 0.0])
    dense = proj.to_dense()
    assert dense.shape == (3, 4) and dense[1, 0] == 6.0 and dense[2, 3] == 1.0


def test_weights_and_delays_from_distributions():
    net = ns.Network(dt=0.1)
    a = net.add_population("a", 500, ns.LIF())
    proj = net.connect(a, a, k=20, weight=ns.Uniform(1.0, 2.0), delay=ns.Uniform(1.0, 3.0))
    net.build(seed=4)
    assert 1.0 <= proj.weight.min() and proj.weight.max() < 2.0
    assert abs(proj.weight.mean() - 1.5) < 0.02
    assert proj.delays(0.1).min() >= 1.0 and proj.delays(0.1).max() <= 3.0


def test_uniform_projection_stores_only_its_targets():
    """One weight and one delay for every synapse: 4 bytes per synapse (plus the row pointer),
    read-only views of the two values, and the same dense matrix as the values say."""
    net = ns.Network(dt=0.1)
    a = net.add_population("a", 300, ns.LIF())
    uniform = net.connect(a, a, p=0.1, weight=0.5, delay=1.0)
    varied = net.connect(a, a, p=0.1, weight=ns.Uniform(0.1, 0.2), delay=1.0)
    net.build(seed=3)
    n = uniform.n_synapses
    assert uniform.bytes_per_synapse() == pytest.approx((4 * n + 8 + 2 + 8 * 301) / n)
    assert varied.bytes_per_synapse() == pytest.approx((14 * varied.n_synapses + 8 * 301) / varied.n_synapses)
    assert uniform.weight.shape == (n,) and np.all(uniform.weight == 0.5)
    np.testing.assert_array_equal(uniform.delays(0.1), np.full(n, 1.0))
    dense = uniform.to_dense()
    assert dense.sum() == pytest.approx(0.5 * n) and set(np.unique(dense)) <= {0.0, 0.5}
    with pytest.raises(ValueError, match="read-only"):
        uniform.weight[0] = 1.0   # would be ignored by the engine: refused instead
    # per-synapse values stay writable views of the network's arrays
    assert np.shares_memory(varied.weight, net._compiled.weight)
    assert not np.shares_memory(uniform.weight, varied.weight)

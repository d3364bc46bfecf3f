"""Connection rules draw the right statistics and respect their constraints."""
import numpy as np
import pytest
from scipy import stats

import neurosim as ns
from neurosim import connectivity


@pytest.mark.parametrize("n_pre,n_post,p", [(200, 300, 0.05), (6000, 6000, 0.002)])
def test_fixed_probability_counts_are_binomial(n_pre, n_post, p):
    rng = np.random.default_rng(0)
    pre, post = connectivity.fixed_probability(n_pre, n_post, p, True, rng)
    n = n_pre * n_post
    z = (pre.size - n * p) / np.sqrt(n * p * (1 - p))
    assert abs(z) < 4
    pairs = pre * n_post + post
    assert np.unique(pairs).size == pairs.size
    # post indices are uniform: chi-square over 10 bins
    counts = np.bincount(post * 10 // n_post, minlength=10)
    assert stats.chisquare(counts).pvalue > 1e-4


@pytest.mark.parametrize("n", [50, 5000])
def test_no_self_connections(n):
    rng = np.random.default_rng(1)
    pre, post = connectivity.fixed_probability(n, n, 0.3 if n == 50 else 0.004, False, rng)
    assert not np.any(pre == post)
    pre, post = connectivity.fixed_indegree(n, n, 7, False, rng)
    assert not np.any(pre == post)
    assert np.all(np.bincount(post, minlength=n) == 7)


def test_fixed_indegree_distinct_sources():
    pre, post = connectivity.fixed_indegree(30, 100, 30, True, np.random.default_rng(2))
    for j in range(100):
        assert sorted(pre[post == j]) == list(range(30))
    with pytest.raises(ValueError, match=r"fixed in-degree k must be in \[0, 29\]"):
        connectivity.fixed_indegree(30, 10, 30, False, np.random.default_rng(0))


def test_all_to_all_and_one_to_one():
    pre, post = connectivity.all_to_all(3, 4, True)
    assert pre.size == 12
    pre, post = connectivity.all_to_all(4, 4, False)
    assert pre.size == 12 and not np.any(pre == post)
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

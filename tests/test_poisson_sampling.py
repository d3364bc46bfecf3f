"""Bulk sampling of random input (neurosim.engine.poisson): the distributions against their exact
laws (binomial probabilities from SciPy, Bernoulli cells), and the same spikes however the steps
are split into chunks or runs."""
import numpy as np
import pytest
from scipy import stats

import neurosim as ns
from neurosim.engine.poisson import BLOCK, BinomialTable, SparseBernoulli


def _split_draw(process, t0, sizes):
    steps, idx, at = [], [], t0
    for size in sizes:
        k, i = process.draw(at, size)
        steps.append(k + at - t0)
        idx.append(i)
        at += size
    return np.concatenate(steps), np.concatenate(idx)


def test_equal_rates_give_independent_bernoulli_cells():
    n, p, steps = 200, 0.05, 20_000
    k, i = SparseBernoulli(np.full(n, p), np.random.default_rng(1), t0=0).draw(0, steps)
    assert np.all(np.diff(k * n + i) > 0)                      # ordered by step, then neuron; no repeats
    counts = np.bincount(i, minlength=n)
    mean, var = steps * p, steps * p * (1 - p)
    assert abs(counts.mean() - mean) < 5 * np.sqrt(var / n)
    assert 0.7 < counts.var(ddof=1) / var < 1.3                 # binomial dispersion across neurons
    grid = np.zeros((steps, n), dtype=bool)
    grid[k, i] = True
    both = np.mean(grid[1:] & grid[:-1])                        # no correlation between consecutive steps
    assert abs(both - p * p) < 5 * np.sqrt(p * p / grid[1:].size)
    neighbours = np.mean(grid[:, 1:] & grid[:, :-1])            # nor between neighbouring neurons
    assert abs(neighbours - p * p) < 5 * np.sqrt(p * p / grid[:, 1:].size)


def test_unequal_rates_are_thinned_to_each_neurons_probability():
    p = np.linspace(0.0, 0.1, 50)
    steps = 40_000
    k, i = SparseBernoulli(p, np.random.default_rng(2), t0=7).draw(7, steps)
    counts = np.bincount(i, minlength=p.size)
    assert counts[0] == 0
    z = (counts[1:] - steps * p[1:]) / np.sqrt(steps * p[1:] * (1 - p[1:]))
    assert np.all(np.abs(z) < 5)
    assert abs(np.sum(z ** 2) / z.size - 1.0) < 0.5              # z-scores of unit variance


@pytest.mark.parametrize("p", [np.full(30, 0.2), np.linspace(0.0, 0.3, 30), np.full(30, 1.0)])
def test_spikes_do_not_depend_on_how_steps_are_split(p):
    whole = SparseBernoulli(p, np.random.default_rng(3), t0=100).draw(100, 3000)
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 400, size=40)
    sizes = sizes[np.cumsum(sizes) <= 3000]
    sizes = np.append(sizes, 3000 - sizes.sum())
    parts = _split_draw(SparseBernoulli(p, np.random.default_rng(3), t0=100), 100, sizes)
    np.testing.assert_array_equal(whole[0], parts[0])
    np.testing.assert_array_equal(whole[1], parts[1])
    assert 30 * 3000 * p.max() > BLOCK                          # the candidates span several blocks of gaps


def test_probability_one_fires_every_cell_and_zero_none():
    k, i = SparseBernoulli(np.ones(4), np.random.default_rng(0), t0=0).draw(0, 5)
    np.testing.assert_array_equal(k, np.repeat(np.arange(5), 4))
    np.testing.assert_array_equal(i, np.tile(np.arange(4), 5))
    k, i = SparseBernoulli(np.zeros(4), np.random.default_rng(0), t0=0).draw(0, 5)
    assert k.size == i.size == 0


def test_steps_must_follow_on():
    process = SparseBernoulli(np.full(3, 0.5), np.random.default_rng(0), t0=0)
    process.draw(0, 10)
    with pytest.raises(ValueError, match="steps must follow on"):
        process.draw(11, 5)


@pytest.mark.parametrize("n,p", [(1000, 0.002), (50, 0.5), (100_000, 0.01), (40, 0.97), (10, 0.0), (7, 1.0)])
def test_binomial_table_matches_the_binomial_law(n, p):
    table = BinomialTable(n, p)
    draws = table.sample(np.random.default_rng(4).random(200_000))
    values, counts = np.unique(draws, return_counts=True)
    freq = counts / draws.size
    pmf = stats.binom.pmf(values, n, p)
    assert np.all(np.abs(freq - pmf) < 5 * np.sqrt(pmf * (1 - pmf) / draws.size) + 1e-4)
    assert pmf[freq > 0].min() > 0                              # no value the law excludes


def test_binomial_table_inverts_its_distribution_function_exactly():
    table = BinomialTable(300, 0.03)
    u = np.concatenate([np.random.default_rng(5).random(10_000), table.cdf[:-1], np.nextafter(table.cdf[:-1], 0),
                        [0.0, np.nextafter(1.0, 0.0)]])
    u = u[u < 1.0]
    expected = np.minimum(np.searchsorted(table.cdf, u, side="right"), table.cdf.size - 1)
    np.testing.assert_array_equal(table.sample(u), expected)


def test_constant_rate_group_split_runs_and_backends_agree():
    """A network level check: constant (equal and unequal) rates take the sparse path; one run and
    the same steps in several runs, on NumPy and on Numba, give the same spikes."""
    def run(backend, parts):
        net = ns.Network(dt=0.1)
        a = net.add_poisson("a", 300, rate=40.0)
        b = net.add_poisson("b", 100, rate=np.linspace(0.0, 80.0, 100))
        pop = net.add_population("pop", 50, ns.LIF())
        net.connect(a, pop, p=0.1, weight=0.5)
        net.connect(b, pop, p=0.1, weight=0.5)
        ma, mb, mp = net.monitor_spikes(a), net.monitor_spikes(b), net.monitor_spikes(pop)
        for k, part in enumerate(parts):
            net.run(part, seed=9 if k == 0 else None, backend=backend, progress=False)
        return [m.times for m in (ma, mb, mp)] + [m.indices for m in (ma, mb, mp)]
    whole = run("numpy", [300.0])
    assert whole[0].size == pytest.approx(300 * 40.0 * 0.3, rel=0.1)
    for backend, parts in (("numba", [300.0]), ("numpy", [0.1, 120.0, 179.9]), ("numba", [50.0, 250.0])):
        for a, b in zip(whole, run(backend, parts)):
            np.testing.assert_array_equal(a, b)


def test_changing_a_constant_rate_between_runs_takes_effect():
    net = ns.Network(dt=0.1)
    src = net.add_poisson("src", 1000, rate=5.0)
    rate = net.monitor_rate(src)
    net.run(200.0, seed=1, progress=False)
    src.rate = np.float64(50.0)
    net.run(200.0, progress=False)
    counts = rate.counts.reshape(2, -1).sum(axis=1)
    assert counts[0] == pytest.approx(1000 * 5.0 * 0.2, rel=0.15)
    assert counts[1] == pytest.approx(1000 * 50.0 * 0.2, rel=0.05)


def test_poisson_input_values_follow_the_binomial_law_and_the_counter():
    from neurosim.engine.counter_rng import stream_key, uniforms
    from neurosim.engine.poisson import poisson_input_values
    table = BinomialTable(1000, 0.002)
    key = stream_key(np.random.SeedSequence(3))
    out = np.empty((400, 500))
    poisson_input_values(key[0], key[1], 50, table.cdf, table.guide, 0.25, out)
    np.testing.assert_array_equal(out, table.sample(uniforms(*key, 50, 400, 500)) * 0.25)
    values, counts = np.unique(out / 0.25, return_counts=True)
    pmf = stats.binom.pmf(values, 1000, 0.002)
    assert np.all(np.abs(counts / out.size - pmf) < 5 * np.sqrt(pmf * (1 - pmf) / out.size) + 1e-4)
    part = np.empty((100, 500))                                  # any block of steps: the same values
    poisson_input_values(key[0], key[1], 250, table.cdf, table.guide, 0.25, part)
    np.testing.assert_array_equal(part, out[200:300])


def test_time_varying_cells_fire_with_their_step_probability():
    from neurosim.engine.counter_rng import stream_key
    from neurosim.engine.poisson import bernoulli_cells
    p = np.linspace(0.0, 0.2, 3000)[:, None]                      # one probability per step
    k, i = bernoulli_cells(stream_key(np.random.SeedSequence(4)), 0, p, 400)
    assert np.all(np.diff(k * 400 + i) > 0)
    per_step = np.bincount(k, minlength=3000)
    expected = 400 * p[:, 0]
    z = (per_step.reshape(30, 100).sum(1) - expected.reshape(30, 100).sum(1)) / \
        np.sqrt((400 * p[:, 0] * (1 - p[:, 0])).reshape(30, 100).sum(1))
    assert per_step[0] == 0 and np.all(np.abs(z) < 5)


@pytest.mark.parametrize("threads", [1, 2])
def test_per_cell_samplers_split_steps_into_blocks_on_any_number_of_threads(threads):
    """Rows wider than CELL_BLOCK are drawn in blocks, on Numba's threads: every cell still gets its
    own counter's value (per-neuron probabilities included), in step-then-neuron order."""
    import numba

    from neurosim.engine.counter_rng import stream_key, uniforms
    from neurosim.engine.poisson import CELL_BLOCK, bernoulli_cells, poisson_input_values
    n = 2 * CELL_BLOCK + 37
    key = stream_key(np.random.SeedSequence(5))
    u = uniforms(*key, 7, 3, n)
    table = BinomialTable(1000, 0.002)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        out = np.full((3, n + 5), -1.0)
        poisson_input_values(key[0], key[1], 7, table.cdf, table.guide, 0.5, out[:, 2:n + 2])  # a strided view
        p = np.random.default_rng(1).uniform(0.0, 0.3, size=(3, n))
        k, i = bernoulli_cells(key, 7, p, n)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(out[:, 2:n + 2], table.sample(u) * 0.5)
    assert np.all(out[:, :2] == -1.0) and np.all(out[:, n + 2:] == -1.0)
    expected_k, expected_i = np.nonzero(u < p)
    np.testing.assert_array_equal(k, expected_k)
    np.testing.assert_array_equal(i, expected_i)


CONCURRENT_RUNS = """
import sys
import threading
import numpy as np
import neurosim as ns
from neurosim.engine import numba_backend

numba_backend.PARALLEL_MIN_NEURONS = 2    # with threads > 1, the engine's partitions too
THREADS = int(sys.argv[1])

def run(seed, out):
    net = ns.Network(dt=0.1)
    pop = net.add_population("pop", 3000, ns.LIF(tau_syn_e=0.0))
    net.add_poisson_input(pop, 100, 20.0, 2.0)
    group = net.add_poisson("group", 3000, rate=lambda t: 10.0 + 5.0 * np.sin(t))
    net.connect(group, pop, rule="one_to_one", weight=5.0)
    mon = net.monitor_spikes(pop)
    net.run(100.0, seed=seed, progress=False, backend="numba", threads=THREADS)
    out[seed] = mon.times.size

alone, together = {}, {}
for seed in range(3):
    run(seed, alone)
threads = [threading.Thread(target=run, args=(seed, together)) for seed in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert together == alone and min(alone.values()) > 100, (together, alone)
print("ok", alone)
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_runs_in_concurrent_python_threads_with_numbas_workqueue_layer(threads):
    """Networks run at once in Python threads (the engine releases the GIL) under the threading layer
    that is not thread-safe ("workqueue", the one Numba falls back to without TBB or OpenMP): on one
    thread they never enter it and run together; on two they take turns (a process-wide lock).
    Neither aborts the process, and every network gets the results it gets alone."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue", NUMBA_NUM_THREADS="2")
    done = subprocess.run([sys.executable, "-c", CONCURRENT_RUNS, str(threads)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")

"""Bad input gets a clear error that names the parameter."""
import re

import numpy as np
import pytest

import neurosim as ns


@pytest.fixture
def net():
    return ns.Network(dt=0.1)


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan"), float("inf")])
def test_non_positive_dt(dt):
    with pytest.raises(ValueError, match="dt must be a positive time step"):
        ns.Network(dt=dt)


def test_negative_and_nan_delays(net):
    a = net.add_population("a", 5, ns.LIF())
    with pytest.raises(ValueError, match="delay must be >= 0 ms"):
        net.connect(a, a, p=0.5, weight=1.0, delay=-1.0)
    with pytest.raises(ValueError, match="delay contains NaN"):
        net.connect(a, a, p=0.5, weight=1.0, delay=float("nan"))
    with pytest.raises(ValueError, match="delay must be finite"):
        net.connect(a, a, p=0.5, weight=1.0, delay=float("inf"))
    with pytest.raises(ValueError, match="delay must be finite"):
        net.connect(a, a, pre=[0, 1], post=[1, 2], weight=1.0, delay=[1.0, float("inf")])
    with pytest.raises(ValueError, match=r"delay of .* must be >= 0 ms"):
        net.connect(a, a, p=1.0, weight=1.0, delay=ns.Uniform(-2.0, -1.0))
        net.build(seed=0)


def test_nan_weight(net):
    a = net.add_population("a", 5, ns.LIF())
    net.connect(a, a, pre=[0, 1], post=[1, 2], weight=[1.0, float("nan")])
    with pytest.raises(ValueError, match=r"weight of 'a->a' must be finite, but element 1 is nan"):
        net.build(seed=0)


def test_infinite_scalar_weight_and_initial_state():
    net = ns.Network(dt=0.1)
    a = net.add_population("a", 5, ns.LIF())
    net.connect(a, a, p=0.5, weight=float("inf"))
    with pytest.raises(ValueError, match=r"weight of 'a->a' must be finite, got inf"):
        net.build(seed=0)
    net = ns.Network(dt=0.1)
    net.add_population("a", 5, ns.LIF(), v_init=float("-inf"))
    with pytest.raises(ValueError, match=r"initial v of 'a' must be finite, got -inf"):
        net.build(seed=0)


def test_negative_conductance_with_explicit_receptor(net):
    a = net.add_population("a", 5, ns.ConductanceLIF())
    with pytest.raises(ValueError, match=r"conductances and must be >= 0 when receptor='exc'"):
        net.connect(a, a, p=0.5, weight=-1.0, receptor="exc")


def test_delay_beyond_buffer():
    net = ns.Network(dt=0.1, max_delay=5.0)
    a = net.add_population("a", 5, ns.LIF())
    with pytest.raises(ValueError, match=r"exceeds max_delay=5.0 ms"):
        net.connect(a, a, p=0.5, weight=1.0, delay=6.0)
    net2 = ns.Network(dt=0.1)
    b = net2.add_population("b", 5, ns.LIF())
    with pytest.raises(ValueError, match="beyond the delay buffer's limit of 65534 steps"):
        net2.connect(b, b, p=0.5, weight=1.0, delay=1e5)


def test_shape_mismatches(net):
    a = net.add_population("a", 5, ns.LIF())
    with pytest.raises(ValueError, match="pre and post must have the same length, got 2 and 3"):
        net.connect(a, a, pre=[0, 1], post=[0, 1, 2], weight=1.0)
    with pytest.raises(ValueError, match=r"post indices must be in \[0, 4\]"):
        net.connect(a, a, pre=[0], post=[7], weight=1.0)
    net.connect(a, a, pre=[0, 1], post=[1, 2], weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"weight of 'a->a' has shape \(3,\); expected a scalar or shape \(2,\)"):
        net.build(seed=0)


def test_initial_state_shape(net):
    net.add_population("a", 5, ns.LIF(), v_init=np.zeros(4))
    with pytest.raises(ValueError, match=r"initial v of 'a' has shape \(4,\); expected a scalar or shape \(5,\)"):
        net.build()


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_probability_outside_unit_interval(net, p):
    a = net.add_population("a", 5, ns.LIF())
    with pytest.raises(ValueError, match="connection probability p must be in \\[0, 1\\]"):
        net.connect(a, a, p=p, weight=1.0)


def test_unknown_parameter_names(net):
    with pytest.raises(TypeError, match=r"LIF has no parameter 'tau_mem'.*Did you mean 'tau_m'"):
        ns.LIF(tau_mem=10.0)
    with pytest.raises(TypeError, match="keyword arguments only"):
        ns.LIF(20.0)
    with pytest.raises(TypeError, match=r"unknown keyword 'v_int'.*Did you mean 'v_init'"):
        net.add_population("a", 5, ns.LIF(), v_int=-60.0)
    with pytest.raises(ValueError, match=r"LIF has no state variable 'u'; its variables are v, i_e, i_i, refr"):
        net.add_population("b", 5, ns.LIF(), u_init=0.0)
    pop = net.add_population("c", 5, ns.LIF())
    with pytest.raises(ValueError, match="Did you mean 'i_e'"):
        net.monitor_state(pop, "i_ee")


def test_invalid_model_parameters():
    with pytest.raises(ValueError, match=r"LIF: parameter 'tau_m' must be a finite number > 0, got -1"):
        ns.LIF(tau_m=-1.0)
    with pytest.raises(ValueError, match=r"ConductanceLIF: parameter 'c_m'"):
        ns.ConductanceLIF(c_m=0.0)


def test_monitoring_a_population_of_another_network(net):
    other = ns.Network()
    foreign = other.add_population("x", 3, ns.LIF())
    net.add_population("x", 3, ns.LIF())
    with pytest.raises(ValueError, match="belongs to another network"):
        net.monitor_spikes(foreign)
    with pytest.raises(ValueError, match="belongs to another network"):
        net.connect(foreign, net.nodes["x"], p=0.1, weight=1.0)


def test_connection_rule_must_be_unique(net):
    a = net.add_population("a", 5, ns.LIF())
    with pytest.raises(ValueError, match="exactly one connection rule.*got p, k"):
        net.connect(a, a, p=0.1, k=2, weight=1.0)
    with pytest.raises(ValueError, match="got none"):
        net.connect(a, a, weight=1.0)


def test_changes_after_build_are_refused(net):
    a = net.add_population("a", 5, ns.LIF())
    net.run(1.0, progress=False)
    with pytest.raises(RuntimeError, match="already built"):
        net.add_population("b", 5, ns.LIF())
    with pytest.raises(RuntimeError, match="already built"):
        net.connect(a, a, p=0.1, weight=1.0)


def test_spike_source_errors(net):
    with pytest.raises(ValueError, match="times and indices must have the same length"):
        net.add_spike_source("s", 2, times=[1.0, 2.0], indices=[0])
    with pytest.raises(ValueError, match=r"indices must be integers in \[0, 1\]"):
        net.add_spike_source("s", 2, times=[1.0], indices=[5])
    with pytest.raises(ValueError, match="two spikes in the same time step"):
        net.add_spike_source("s", 2, times=[1.0, 1.01], indices=[0, 0])


def test_poisson_rate_errors(net):
    with pytest.raises(ValueError, match="exceeds 1/dt = 10000 Hz"):
        net.add_poisson("p", 3, rate=2e4)
    with pytest.raises(ValueError, match=r"must be a scalar or have shape \(3,\)"):
        net.add_poisson("p", 3, rate=[1.0, 2.0])


@pytest.mark.parametrize("shape", [(2, 2), (7,), (10, 4)])
def test_rate_function_of_the_wrong_shape(net, shape):
    """A rate function must return one value per time (or per time and neuron): anything else is
    named, instead of being read out of bounds by the sampler."""
    group = net.add_poisson("p", 3, rate=lambda t: np.ones(shape))
    net.connect(group, net.add_population("a", 3, ns.LIF()), p=1.0, weight=1.0)
    with pytest.raises(ValueError, match=r"rate function of 'p' must return .*\(shape \(10,\)\).*\(shape \(10, 3\)\), "
                                         + re.escape(f"got shape {shape} for 10 times")):
        net.run(1.0, progress=False)


def test_rate_function_may_return_one_rate_for_all(net):
    group = net.add_poisson("p", 200, rate=lambda t: 500.0)
    spikes = net.monitor_spikes(group)
    net.run(100.0, seed=1, progress=False)
    assert spikes.times.size == pytest.approx(200 * 500.0 * 0.1, rel=0.1)


def test_unknown_backend(net):
    net.add_population("a", 5, ns.LIF())
    with pytest.raises(ValueError, match="backend must be 'auto', one of numpy, numba, cupy or a hardware target \\(loihi1, loihi2\\)"):
        net.run(1.0, backend="fortran")


def test_bad_duration_and_seed(net):
    net.add_population("a", 5, ns.LIF())
    with pytest.raises(ValueError, match="duration must be a non-negative number of ms"):
        net.run(-1.0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        net.run(1.0, seed=-3)
    for threads in (0, 2.0, True, 100_000):
        with pytest.raises(ValueError, match=r"threads must be an integer in \[1, \d+\], got .* NUMBA_NUM_THREADS"):
            net.run(1.0, threads=threads)

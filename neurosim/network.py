"""The network graph: populations, sources, projections, inputs and monitors.

A :class:`Network` is an object you hold; building it draws connectivity and
initial states from its seed, running it advances time and fills monitors.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import time
from typing import TYPE_CHECKING, Sequence

import numpy as np
from tqdm.auto import tqdm

from . import connectivity
from .distributions import ValueSpec, realize
from .engine import cupy_backend, numba_backend, numpy_backend
from .engine.compiled import CompiledNetwork, concatenate_projections
from .engine.recording import ChunkRecord, StateRecordPlan
from .engine.stimulus import InputStreams, StimulusGenerator, spike_steps
from .inputs import CurrentInput, PoissonInput
from .monitors import RateMonitor, SpikeMonitor, StateMonitor
from .neurons.base import NeuronModel
from .populations import Node, PoissonGroup, Population, RateSpec, SpikeSource
from .projection import BY_SIGN, EXC, INH, RECEPTOR_NAMES, Projection

if TYPE_CHECKING:
    from .hardware.quantize import QuantizedNetwork

#: backends by name; "auto" picks cupy when a GPU is present, else numba, when
#: every model is compiled there
BACKENDS = {"numpy": numpy_backend.run_chunk, "numba": numba_backend.run_chunk, "cupy": cupy_backend.run_chunk}
#: backends that hold the network on a device for a whole run: name -> session(cn)
#: (a context manager yielding the chunk function, see cupy_backend.session)
SESSIONS = {"cupy": cupy_backend.session}
#: backends that draw the counter-based random input themselves (Poisson inputs and
#: time-varying Poisson groups: StimulusChunk.device); the others get it drawn by the host
DEVICE_DRAWS = {"cupy"}
#: largest delay the uint16 delay field holds, in steps
MAX_DELAY_STEPS = np.iinfo(np.uint16).max - 1
#: values drawn per chunk of steps (bounds the memory of pre-drawn input)
_CHUNK_VALUES = 4_000_000
_MAX_CHUNK_STEPS = 2_000


@dataclasses.dataclass
class RunStats:
    """Summary of one call to :meth:`Network.run`.

    ``duration`` (ms of biological time), ``wall_time`` (s), ``spikes``,
    ``synaptic_events`` (sum over spikes of the spiking neuron's out-degree),
    ``backend``.
    """

    duration: float
    steps: int
    wall_time: float
    spikes: int
    synaptic_events: int
    backend: str

    @property
    def events_per_second(self) -> float:
        """Synaptic events per second of wall time."""
        return self.synaptic_events / self.wall_time if self.wall_time > 0 else float("nan")


class Network:
    """A spiking network: nodes, projections, inputs and monitors, plus its state.

    Args:
        dt: time step (ms), > 0.
        max_delay: largest synaptic delay allowed (ms); None allows up to
            65,534 steps.  Delays are rounded to the nearest whole step
            (``round(delay / dt)``, ties to even, as Brian2).
        name: used in messages.

    Example:
        >>> import neurosim as ns
        >>> net = ns.Network(dt=0.1)
        >>> pop = net.add_population("pop", 10, ns.LIF(i_offset=20.0))
        >>> spikes = net.monitor_spikes(pop)
        >>> _ = net.run(100.0, seed=1, progress=False)
        >>> bool(spikes.times.size > 0)
        True
    """

    def __init__(self, dt: float = 0.1, *, max_delay: float | None = None, name: str = "network") -> None:
        if not isinstance(dt, (int, float)) or not np.isfinite(dt) or dt <= 0:
            raise ValueError(f"dt must be a positive time step in ms, got {dt!r}")
        if max_delay is not None and (not np.isfinite(max_delay) or max_delay < 0):
            raise ValueError(f"max_delay must be a non-negative number of ms, got {max_delay!r}")
        self.dt = float(dt)
        self.max_delay = max_delay
        self.name = name
        self.nodes: dict[str, Node] = {}
        self.projections: list[Projection] = []
        self.poisson_inputs: list[PoissonInput] = []
        self.currents: list[CurrentInput] = []
        self.spike_monitors: list[SpikeMonitor] = []
        self.state_monitors: list[StateMonitor] = []
        self.rate_monitors: list[RateMonitor] = []
        self.step = 0
        self._compiled: CompiledNetwork | None = None
        self._fixed = None            # FixedPointEngine once run on a hardware target
        #: keyword options for :func:`neurosim.hardware.quantize` on the first hardware-target run
        self.quantize_options: dict = {}
        self._input_streams: InputStreams | None = None  # random state of the input, set at build

    # ------------------------------------------------------------------ nodes
    @property
    def t(self) -> float:
        """Current time (ms)."""
        return self.step * self.dt

    @property
    def populations(self) -> list[Population]:
        return [n for n in self.nodes.values() if isinstance(n, Population)]

    @property
    def sources(self) -> list[Node]:
        return [n for n in self.nodes.values() if not isinstance(n, Population)]

    @property
    def built(self) -> bool:
        return self._compiled is not None

    def _check_unbuilt(self, what: str) -> None:
        if self.built:
            raise RuntimeError(
                f"cannot {what}: network '{self.name}' is already built (it has run). "
                "Add every population, input and connection before the first run, or make a new Network."
            )

    def _add_node(self, node: Node) -> Node:
        self._check_unbuilt(f"add '{node.name}'")
        if not isinstance(node.name, str) or not node.name:
            raise ValueError(f"a node name must be a non-empty string, got {node.name!r}")
        if node.name in self.nodes:
            raise ValueError(f"network '{self.name}' already has a node named '{node.name}'")
        if not isinstance(node.n, (int, np.integer)) or node.n <= 0:
            raise ValueError(f"size of '{node.name}' must be a positive integer, got {node.n!r}")
        node.n = int(node.n)
        self.nodes[node.name] = node
        return node

    def add_population(self, name: str, n: int, model: NeuronModel,
                       init: dict[str, ValueSpec] | None = None, **var_init: ValueSpec) -> Population:
        """Add ``n`` neurons of ``model``.

        Initial states are given as ``<variable>_init=value`` keywords (e.g.
        ``v_init=-60.0``) or an ``init`` dict keyed by variable name; each value
        is a scalar, an array of length ``n`` or a distribution.  Unset
        variables start at ``model.initial_state()``.
        """
        if not isinstance(model, NeuronModel):
            raise TypeError(f"model of '{name}' must be a neurosim neuron model such as ns.LIF(), got {model!r}")
        values = dict(init or {})
        for key, value in var_init.items():
            if not key.endswith("_init"):
                options = [f"{v}_init" for v in model.state_vars]
                close = difflib.get_close_matches(key, options, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise TypeError(
                    f"add_population() got an unknown keyword '{key}'; initial states are given as "
                    f"{', '.join(options)}.{hint}"
                )
            values[key[:-len("_init")]] = value
        for var in values:
            model.check_state_name(var)
        return self._add_node(Population(name, n, self, model=model, init=values))

    def add_spike_source(self, name: str, n: int, times: Sequence[float], indices: Sequence[int]) -> SpikeSource:
        """Add ``n`` neurons that fire at ``times`` (ms) as neurons ``indices``.

        A spike at time t fires in step ``floor(t / dt + 0.001)`` (the step
        that contains t, with Brian2's guard against rounding just below a
        multiple of dt), like Brian2's ``SpikeGeneratorGroup``.
        """
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        idx = np.asarray(indices).reshape(-1)
        if times.shape != idx.shape:
            raise ValueError(f"spike source '{name}': times and indices must have the same length, "
                             f"got {times.size} and {idx.size}")
        if not np.all(np.isfinite(times)) or np.any(times < 0):
            raise ValueError(f"spike source '{name}': times must be finite and >= 0 ms")
        if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"spike source '{name}': indices must be integers in [0, {n - 1}]")
        steps = spike_steps(times, self.dt)
        pairs = steps * max(n, 1) + idx.astype(np.int64)
        if np.unique(pairs).size != pairs.size:
            raise ValueError(f"spike source '{name}': a neuron has two spikes in the same time step "
                             f"(dt = {self.dt} ms); remove duplicates or use a smaller dt")
        return self._add_node(SpikeSource(name, n, self, times=times, indices=idx.astype(np.int64)))

    def add_poisson(self, name: str, n: int, rate: RateSpec, rate_dt: float | None = None) -> PoissonGroup:
        """Add ``n`` independent Poisson neurons firing at ``rate`` (Hz).

        ``rate``: a scalar, a per-neuron array of length ``n``, a function of
        time (ms array -> rates per step, shape (steps,) or (steps, n)), or an
        array of shape (n_times,) or (n_times, n) sampled every ``rate_dt`` ms.
        """
        if callable(rate):
            if rate_dt is not None:
                raise ValueError("give either a rate function or rate_dt with a rate array, not both")
        else:
            arr = np.asarray(rate, dtype=np.float64)
            if rate_dt is not None:
                if not np.isfinite(rate_dt) or rate_dt <= 0:
                    raise ValueError(f"rate_dt must be a positive number of ms, got {rate_dt!r}")
                if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] != n):
                    raise ValueError(f"a time-varying rate needs shape (n_times,) or (n_times, {n}), got {arr.shape}")
            elif arr.ndim > 1 or (arr.ndim == 1 and arr.shape != (n,)):
                raise ValueError(f"rate of '{name}' must be a scalar or have shape ({n},), got {arr.shape}; "
                                 "for a time-varying rate pass rate_dt")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"rate of '{name}' must be finite and >= 0 Hz")
            if np.any(arr * self.dt * 1e-3 > 1.0):
                raise ValueError(f"rate of '{name}' exceeds 1/dt = {1e3 / self.dt:g} Hz")
            rate = arr
        return self._add_node(PoissonGroup(name, n, self, rate=rate, rate_dt=rate_dt))

    # ----------------------------------------------------------------- inputs
    def _own(self, node, what: str):
        if not isinstance(node, Node):
            raise TypeError(f"{what} must be a population or source of this network, got {node!r}")
        if node.network is not self or self.nodes.get(node.name) is not node:
            raise ValueError(
                f"{what} '{node.name}' belongs to another network; monitor and connect only "
                f"populations created by network '{self.name}'"
            )
        return node

    def _own_population(self, pop, what: str) -> Population:
        self._own(pop, what)
        if not isinstance(pop, Population):
            raise TypeError(f"{what} must be a neuron population (it receives input), "
                            f"but '{pop.name}' is a {type(pop).__name__}")
        return pop

    def add_poisson_input(self, target: Population, n_inputs: int, rate: float, weight: float,
                          receptor: str = "auto") -> PoissonInput:
        """Drive each neuron of ``target`` with ``n_inputs`` Poisson sources of ``rate`` (Hz).

        Equivalent to that many Poisson neurons connected one-to-many with
        ``weight`` (the target model's weight unit) and no delay, without
        storing the synapses (Brian2's ``PoissonInput``).
        """
        self._check_unbuilt("add a Poisson input")
        self._own_population(target, "target")
        if not isinstance(n_inputs, (int, np.integer)) or n_inputs < 0:
            raise ValueError(f"n_inputs must be a non-negative integer, got {n_inputs!r}")
        if not np.isfinite(rate) or rate < 0 or rate * self.dt * 1e-3 > 1:
            raise ValueError(f"rate must be in [0, {1e3 / self.dt:g}] Hz, got {rate!r}")
        if not np.isfinite(weight):
            raise ValueError(f"weight must be finite, got {weight!r}")
        code = self._receptor_code(receptor, target, np.array([weight]))
        rec = code if code != BY_SIGN else int(weight < 0)
        pi = PoissonInput(target, int(n_inputs), float(rate), float(weight), rec)
        self.poisson_inputs.append(pi)
        return pi

    def add_current(self, target: Population, values: ValueSpec, values_dt: float | None = None) -> CurrentInput:
        """Inject an external drive into ``target`` (the model's ``i_ext_unit``).

        ``values``: a scalar or per-neuron array for a constant drive, or an
        array of shape (n_times,) or (n_times, n) holding the drive every
        ``values_dt`` ms (the last value is held after the end).
        """
        self._check_unbuilt("add a current")
        self._own_population(target, "target")
        arr = np.asarray(values, dtype=np.float64)
        n = target.n
        if values_dt is None:
            if arr.ndim == 0:
                arr = np.full(n, float(arr))
            if arr.shape != (n,):
                raise ValueError(f"a constant current needs a scalar or shape ({n},), got {arr.shape}; "
                                 "for a time-varying current pass values_dt")
        else:
            if not np.isfinite(values_dt) or values_dt <= 0:
                raise ValueError(f"values_dt must be a positive number of ms, got {values_dt!r}")
            if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] != n) or len(arr) == 0:
                raise ValueError(f"a time-varying current needs shape (n_times,) or (n_times, {n}), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("current values must be finite")
        cur = CurrentInput(target, arr, values_dt)
        self.currents.append(cur)
        return cur

    # ------------------------------------------------------------ projections
    def _receptor_code(self, receptor: str, target: Population, weights: np.ndarray) -> int:
        if receptor not in RECEPTOR_NAMES:
            raise ValueError(f"receptor must be one of {', '.join(RECEPTOR_NAMES)}, got {receptor!r}")
        code = RECEPTOR_NAMES[receptor]
        if code != BY_SIGN and target.model.conductance_based and np.any(weights < 0):
            raise ValueError(
                f"weights onto '{target.name}' ({type(target.model).__name__}) are conductances and must be "
                f">= 0 when receptor='{receptor}'; use receptor='auto' to send negative weights to the "
                "inhibitory conductance"
            )
        return code

    def connect(self, source: Node, target: Population, *, p: float | None = None,
                rule: str | None = None, k: int | None = None,
                pre: Sequence[int] | None = None, post: Sequence[int] | None = None,
                weight: ValueSpec, delay: ValueSpec = 0.0, receptor: str = "auto",
                allow_self: bool = True, name: str | None = None) -> Projection:
        """Connect ``source`` to ``target`` with one connection rule.

        Rules (give exactly one): ``p`` (each pair independently with
        probability p), ``k`` (fixed in-degree: every target neuron gets k
        distinct sources), ``rule="all_to_all"`` or ``rule="one_to_one"``, or
        explicit ``pre``/``post`` index arrays.

        ``weight`` (target model's ``weight_unit``, e.g. mV or nS) and
        ``delay`` (ms, >= 0) are scalars, arrays with one value per synapse or
        distributions.  ``receptor``: "auto" (positive weights excitatory,
        negative inhibitory), "exc" or "inh".  ``allow_self=False`` removes
        i -> i synapses when source is target.  Synapses are drawn when the
        network is built.
        """
        self._check_unbuilt("connect")
        self._own(source, "source")
        self._own_population(target, "target")
        given = {"p": p is not None, "k": k is not None, "rule": rule is not None,
                 "pre/post": pre is not None or post is not None}
        if sum(given.values()) != 1:
            chosen = [n for n, g in given.items() if g]
            raise ValueError(
                "connect() needs exactly one connection rule: p=, k=, rule='all_to_all'|'one_to_one' "
                f"or pre=/post= arrays; got {', '.join(chosen) if chosen else 'none'}"
            )
        if p is not None and (not isinstance(p, (int, float, np.floating)) or not (0.0 <= p <= 1.0)):
            raise ValueError(f"connection probability p must be in [0, 1], got {p!r}")
        if rule is not None and rule not in ("all_to_all", "one_to_one"):
            raise ValueError(f"rule must be 'all_to_all' or 'one_to_one', got {rule!r}")
        if (pre is None) != (post is None):
            raise ValueError("explicit connections need both pre= and post= index arrays")
        if pre is not None:
            connectivity.explicit(pre, post, source.n, target.n)
        if k is not None and (not isinstance(k, (int, np.integer)) or k < 0):
            raise ValueError(f"in-degree k must be a non-negative integer, got {k!r}")
        if receptor not in RECEPTOR_NAMES:
            raise ValueError(f"receptor must be one of {', '.join(RECEPTOR_NAMES)}, got {receptor!r}")
        if isinstance(weight, (int, float)) or isinstance(weight, np.ndarray):
            self._receptor_code(receptor, target, np.atleast_1d(np.asarray(weight, dtype=float)))
        self._check_delay_spec(delay)
        proj_name = name or f"{source.name}->{target.name}"
        if any(pr.name == proj_name for pr in self.projections):
            proj_name = f"{proj_name}#{len(self.projections)}"
        spec = dict(p=p, rule=rule, k=k, pre=pre, post=post, weight=weight, delay=delay,
                    allow_self=allow_self or source is not target)
        proj = Projection(proj_name, source, target, spec, RECEPTOR_NAMES[receptor])
        self.projections.append(proj)
        return proj

    def _check_delay_spec(self, delay: ValueSpec) -> None:
        if isinstance(delay, (int, float, np.ndarray, list, tuple)):
            d = np.asarray(delay, dtype=np.float64)
            self._delay_steps(d, "delay")

    def _delay_steps(self, delay: np.ndarray, what: str) -> np.ndarray:
        """Delays (ms) as whole steps (nearest, ties to even), validated."""
        delay = np.asarray(delay, dtype=np.float64)
        if delay.size == 0:
            return np.zeros(delay.shape, dtype=np.uint16)
        lo, hi = float(np.min(delay)), float(np.max(delay))
        if np.isnan(lo):
            raise ValueError(f"{what} contains NaN; delays must be numbers >= 0 ms")
        if not np.isfinite(hi):
            raise ValueError(f"{what} must be finite; delays are numbers of ms >= 0")
        if lo < 0:
            raise ValueError(f"{what} must be >= 0 ms, got a minimum of {lo} ms")
        if self.max_delay is not None and hi > self.max_delay + 1e-12:
            raise ValueError(f"{what} of up to {hi} ms exceeds max_delay={self.max_delay} ms "
                             "of this network; raise Network(max_delay=...)")
        if round(hi / self.dt) > MAX_DELAY_STEPS:
            raise ValueError(f"{what} of {hi} ms is {round(hi / self.dt)} steps, beyond the delay "
                             f"buffer's limit of {MAX_DELAY_STEPS} steps; use a larger dt or shorter delays")
        if lo == hi:
            return np.broadcast_to(np.uint16(round(lo / self.dt)), delay.shape)
        return np.rint(delay / self.dt).astype(np.uint16)

    # --------------------------------------------------------------- monitors
    def monitor_spikes(self, node: Node, indices: Sequence[int] | None = None) -> SpikeMonitor:
        """Record the spikes of ``node`` (all neurons, or ``indices``)."""
        self._own(node, "monitored node")
        mon = SpikeMonitor(node, node.check_indices(indices, "monitor_spikes"), self.dt)
        self.spike_monitors.append(mon)
        return mon

    def monitor_state(self, pop: Population, variables: str | Sequence[str] = "v",
                      indices: Sequence[int] | None = None, every: int = 1) -> StateMonitor:
        """Record state ``variables`` of ``indices`` of ``pop`` every ``every`` steps."""
        self._own_population(pop, "monitored population")
        variables = (variables,) if isinstance(variables, str) else tuple(variables)
        rows = np.array([pop.model.check_state_name(v) for v in variables], dtype=np.int64)
        if not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer number of steps, got {every!r}")
        mon = StateMonitor(pop, variables, rows, pop.check_indices(indices, "monitor_state"), int(every), self.dt)
        self.state_monitors.append(mon)
        return mon

    def monitor_rate(self, node: Node) -> RateMonitor:
        """Record the population rate (Hz) of ``node`` every step."""
        self._own(node, "monitored node")
        mon = RateMonitor(node, self.dt)
        self.rate_monitors.append(mon)
        return mon

    # ------------------------------------------------------------------ build
    def build(self, seed: int | None = None) -> None:
        """Draw connectivity and initial states (from ``seed``) and lay out the engine's arrays.

        Called by the first :meth:`run`; call it yourself to inspect synapses
        before running.  Building twice is an error.
        """
        self._check_unbuilt("build again")
        if not self.populations and not self.sources:
            raise ValueError(f"network '{self.name}' is empty: add populations before running it")
        build_seq, _ = np.random.SeedSequence(seed).spawn(2)
        rng = np.random.default_rng(build_seq)
        pops, sources = self.populations, self.sources
        order = pops + sources
        node_ids = {id(n): i for i, n in enumerate(order)}
        node_start = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum([n.n for n in order], out=node_start[1:])
        n_dyn = int(node_start[len(pops)])
        n_total = int(node_start[-1])
        rows = max((len(p.model.state_vars) for p in pops), default=1)
        S = np.zeros((rows, n_dyn))
        for p in pops:
            a = node_start[node_ids[id(p)]]
            defaults = p.model.initial_state()
            for r, var in enumerate(p.model.state_vars):
                spec = p.init.get(var, defaults[var])
                S[r, a:a + p.n] = realize(spec, p.n, rng, f"initial {var} of '{p.name}'")
        for proj in self.projections:
            self._build_projection(proj, rng)
        syn, self.projections = concatenate_projections(self.projections, node_ids, node_start,
                                                        len(order), n_total)
        max_delay = max((int(pr.delay_steps.max()) for pr in self.projections if pr.n_synapses), default=0)
        C = max((len(p.model.coefficients(self.dt)) for p in pops), default=1)
        coef = np.zeros((len(pops), C))
        for i, p in enumerate(pops):
            c = p.model.coefficients(self.dt)
            coef[i, :len(c)] = c
        self._compiled = CompiledNetwork(
            S=S, buffer=np.zeros((max_delay + 1, 2, n_dyn)),
            pop_kind=np.array([numba_backend.kind_of(p.model) for p in pops], dtype=np.int64),
            pop_start=node_start[:len(pops)].copy(), pop_stop=node_start[1:len(pops) + 1].copy(),
            pop_coef=coef,
            pop_receptor_rows=np.array([p.model.receptor_rows() for p in pops], dtype=np.int64).reshape(-1, 2),
            pop_steps=[p.model.step for p in pops], node_start=node_start,
            node_of=np.repeat(np.arange(len(order), dtype=np.int32), [n.n for n in order]), **syn,
        )
        self._node_ids = node_ids
        self._stimulus = StimulusGenerator(
            self.dt, n_dyn, sources, [int(node_start[node_ids[id(s)]]) for s in sources],
            self.poisson_inputs, self.currents, lambda pop: int(node_start[node_ids[id(pop)]]))
        self._seed_input(build_seq.entropy if seed is None else seed)

    def _seed_input(self, seed) -> None:
        """One generator per random input stream, from the run's seed."""
        self._input_streams = self._stimulus.new_streams(np.random.SeedSequence(seed).spawn(2)[1])

    def _build_projection(self, proj: Projection, rng: np.random.Generator) -> None:
        spec, n_pre, n_post = proj.spec, proj.pre.n, proj.post.n
        order = None  # explicit pairs: the permutation that sorts them (and their values) by pre
        if spec["p"] is not None:
            indptr, post = connectivity.fixed_probability(n_pre, n_post, spec["p"], spec["allow_self"], rng)
        elif spec["k"] is not None:
            indptr, post = connectivity.fixed_indegree(n_pre, n_post, spec["k"], spec["allow_self"], rng)
        elif spec["rule"] == "all_to_all":
            indptr, post = connectivity.all_to_all(n_pre, n_post, spec["allow_self"])
        elif spec["rule"] == "one_to_one":
            indptr, post = connectivity.one_to_one(n_pre, n_post)
        else:
            indptr, post, order = connectivity.sort_by_pre(
                *connectivity.explicit(spec["pre"], spec["post"], n_pre, n_post), n_pre)
        n = post.size
        weight = realize(spec["weight"], n, rng, f"weight of '{proj.name}'")
        delay = realize(spec["delay"], n, rng, f"delay of '{proj.name}'")
        self._receptor_code({EXC: "exc", INH: "inh", BY_SIGN: "auto"}[proj.receptor], proj.post, weight)
        steps = self._delay_steps(delay, f"delay of '{proj.name}'")
        if order is not None:
            weight, steps = weight[order], steps[order]
        proj.indptr, proj.post_index, proj.weight, proj.delay_steps = indptr, post, weight, steps

    # -------------------------------------------------------------------- run
    def _choose_backend(self, backend: str) -> str:
        if backend == "auto":
            if not all(numba_backend.kind_of(p.model) >= 0 for p in self.populations):
                return "numpy"
            return "cupy" if cupy_backend.gpu_available() else "numba"
        if backend not in BACKENDS:
            from .hardware.targets import list_targets   # imported on demand: the hardware package is large
            if backend in list_targets():
                return backend
            raise ValueError(f"backend must be 'auto', one of {', '.join(BACKENDS)} or a hardware target "
                             f"({', '.join(list_targets())}), got {backend!r}")
        if backend == "cupy":
            cupy_backend.require_gpu()
        if backend in ("numba", "cupy"):
            for p in self.populations:
                if numba_backend.kind_of(p.model) < 0:
                    raise ValueError(f"backend={backend!r} compiles only {', '.join(m.__name__ for m in numba_backend.MODELS)}; "
                                     f"population '{p.name}' uses {type(p.model).__name__}: use backend='numpy'")
        return backend

    def run(self, duration: float, *, seed: int | None = None, backend: str = "auto",
            progress: bool = True, threads: int = 1) -> RunStats:
        """Advance the network by ``duration`` ms (rounded to whole steps).

        The first run builds the network from ``seed``; later runs continue
        from the current state (a new ``seed`` re-seeds only the input).
        Same seed, same result, whatever the backend.  ``progress`` shows a
        progress bar for runs that take longer than a second.  ``threads``:
        on the Numba backend, networks of at least
        ``numba_backend.PARALLEL_MIN_NEURONS`` neurons are split into that
        many ranges of neurons, one per thread (neuron update, synaptic
        events of busy steps, arriving input); on every backend that takes
        its random input from the host, Poisson inputs and time-varying
        Poisson groups are drawn on that many threads.  Results are
        identical; it pays on large networks on otherwise idle cores
        (``docs/benchmarks.md``) and costs on busy ones.  Runs with
        ``threads`` > 1 started from several Python threads take turns;
        runs on one thread proceed together.
        """
        if not isinstance(duration, (int, float, np.number)) or not np.isfinite(duration) or duration < 0:
            raise ValueError(f"duration must be a non-negative number of ms, got {duration!r}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        name = self._choose_backend(backend)
        numba_backend.check_threads(threads)
        if not self.built:
            self.build(seed)
        elif seed is not None:
            self._seed_input(seed)
        n_steps = int(round(duration / self.dt))
        runner = self._runner(name)
        cn = self._compiled
        session = SESSIONS[name](cn) if name in SESSIONS else contextlib.nullcontext(runner)
        plan = self._state_plan()
        record_node = self._record_nodes()
        chunk = max(1, min(_MAX_CHUNK_STEPS, _CHUNK_VALUES // self._stimulus.width))
        spikes = events = 0
        start = time.perf_counter()
        with session as runner, numba_backend.threads(threads), \
                tqdm(total=n_steps, unit="step", delay=1.0, disable=not progress,
                     desc=f"{self.name} [{name}]", leave=False) as bar:
            done = 0
            while done < n_steps:
                n = min(chunk, n_steps - done)
                stim = self._stimulus.chunk(self.step, n, self._input_streams, on_device=name in DEVICE_DRAWS)
                out = ChunkRecord.allocate(n, cn.n_nodes, plan, self.step, max(4 * cn.node_start[-1], 1 << 16))
                runner(cn, stim, plan, record_node, out)
                self._dispatch(out, plan, self.step, n)
                spikes += int(out.counts.sum())
                events += int(out.events.sum())
                self.step += n
                done += n
                bar.update(n)
        wall = time.perf_counter() - start
        return RunStats(n_steps * self.dt, n_steps, wall, spikes, events, name)

    def _runner(self, name: str):
        """The chunk function of backend ``name``; a hardware target gets the
        fixed-point emulator of this network, quantised on its first run."""
        fixed = name not in BACKENDS
        if self.step > 0 and fixed != (self._fixed is not None):
            raise ValueError(f"this network has run on a {'fixed' if self._fixed else 'floating'}-point "
                             f"backend; it cannot continue on backend {name!r}: build a new network")
        if not fixed:
            return BACKENDS[name]
        if self._fixed is None:
            from .hardware.emulator_backend import FixedPointEngine
            from .hardware.quantize import quantize
            self._fixed = FixedPointEngine(quantize(self, name, **self.quantize_options), self._compiled)
        elif self._fixed.q.target.name != name:
            raise ValueError(f"this network runs on target {self._fixed.q.target.name!r}, not {name!r}")
        return self._fixed.run_chunk

    @property
    def quantization(self) -> QuantizedNetwork | None:
        """The fixed-point form used by the last hardware-target run (None before one)."""
        return None if self._fixed is None else self._fixed.q

    def _state_plan(self) -> StateRecordPlan:
        ptr, row, col, every = [0], [], [], []
        for mon in self.state_monitors:
            a = self._compiled.node_start[self._node_ids[id(mon.source)]]
            r, c = np.meshgrid(mon.rows, mon.record + a, indexing="ij")
            row.append(r.ravel())
            col.append(c.ravel())
            ptr.append(ptr[-1] + r.size)
            every.append(mon.every)
        cat = lambda xs: np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, dtype=np.int64)
        return StateRecordPlan(np.array(ptr, dtype=np.int64), cat(row), cat(col), np.array(every, dtype=np.int64))

    def _record_nodes(self) -> np.ndarray:
        flags = np.zeros(self._compiled.n_nodes, dtype=np.bool_)
        for mon in self.spike_monitors:
            flags[self._node_ids[id(mon.source)]] = True
        return flags

    def _dispatch(self, out: ChunkRecord, plan: StateRecordPlan, t0: int, n: int) -> None:
        steps = out.spike_step[:out.n_spikes]
        idx = out.spike_idx[:out.n_spikes]
        cn = self._compiled
        for mon in self.spike_monitors:
            nid = self._node_ids[id(mon.source)]
            a, b = cn.node_start[nid], cn.node_start[nid + 1]
            keep = (idx >= a) & (idx < b)
            mon._append(steps[keep], idx[keep] - a)
        for m, mon in enumerate(self.state_monitors):
            rec_steps = plan.steps_in(m, t0, n)
            block = out.state[out.state_offset[m]:out.state_offset[m + 1]]
            mon._append(rec_steps, block)
        for mon in self.rate_monitors:
            mon._append(t0, out.counts[:, self._node_ids[id(mon.source)]])

    # ------------------------------------------------------------- inspection
    def state(self, pop: Population, variable: str) -> np.ndarray:
        """Current values of ``variable`` for every neuron of ``pop`` (a copy)."""
        self._own_population(pop, "population")
        if not self.built:
            raise RuntimeError("the network has no state yet: call build() or run() first")
        row = pop.model.check_state_name(variable)
        a = self._compiled.node_start[self._node_ids[id(pop)]]
        return self._compiled.S[row, a:a + pop.n].copy()

    @property
    def n_synapses(self) -> int:
        return sum(p.n_synapses for p in self.projections) if self.built else 0

    def describe(self) -> dict:
        """The network's parameters as plain data (for metadata and reports)."""
        return {
            "name": self.name, "dt_ms": self.dt, "max_delay_ms": self.max_delay,
            "populations": [{"name": p.name, "n": p.n, "model": type(p.model).__name__,
                             "parameters": p.model.parameters()} for p in self.populations],
            "sources": [{"name": s.name, "n": s.n, "type": type(s).__name__} for s in self.sources],
            "projections": [{"name": pr.name, "pre": pr.pre.name, "post": pr.post.name,
                             "n_synapses": pr.n_synapses if pr.built else None} for pr in self.projections],
        }

"""Input drawn ahead of the engine, one chunk of steps at a time.

All randomness of a run (Poisson sources and Poisson inputs) comes from the
network's run streams, one per random source, so every backend sees the same
input bits for the same seed.  It is sampled in bulk by
:mod:`neurosim.engine.poisson`: constant-rate Poisson groups from a NumPy
generator, Poisson inputs and time-varying Poisson groups from a
counter-based generator (:mod:`neurosim.engine.counter_rng`), which a GPU
backend evaluates itself (``StimulusChunk.device``).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..inputs import CurrentInput, PoissonInput
from ..populations import PoissonGroup, SpikeSource
from .counter_rng import stream_key
from .poisson import BinomialTable, SparseBernoulli, bernoulli_cells, poisson_input_values


def spike_steps(times: np.ndarray, dt: float) -> np.ndarray:
    """Step in which a spike at ``times`` (ms) fires: ``floor(t/dt + 1e-3)``, as Brian2."""
    return np.floor(np.asarray(times) / dt + 1e-3).astype(np.int64)


@dataclasses.dataclass
class StimulusChunk:
    """Input for steps ``t0 ... t0 + n - 1``.

    ``src_ptr``/``src_idx``: global indices of source spikes of each step (CSR
    over steps, ascending within a step).  ``pin_slot``/``pin_value``: value
    added to ring-buffer entry ``pin_slot`` (flattened receptor x column) in
    each step.  ``i_ext``: drive per column, one row (constant) or one per step.
    ``device``: the random input left to a device that draws it itself (then
    absent from ``src_idx``, and ``pin_value`` has no columns); None when the
    host drew everything.
    """

    t0: int
    n: int
    src_ptr: np.ndarray
    src_idx: np.ndarray
    pin_slot: np.ndarray
    pin_value: np.ndarray
    i_ext: np.ndarray
    device: DeviceDraws | None = None


@dataclasses.dataclass
class DeviceDraws:
    """Random input a device draws from the same counters as the host (``kernels/poisson.cu``).

    ``groups``: per Poisson group with time-varying rates, (key, first global
    index, neurons, probabilities [steps, 1 or neurons]); ``inputs``: per
    Poisson input, (key, :class:`BinomialTable`, weight, first entry of
    ``pin_slot``, targets).
    """

    groups: list = dataclasses.field(default_factory=list)
    inputs: list = dataclasses.field(default_factory=list)


class InputStreams:
    """The random state of a run's input, per random stream (Poisson groups, then Poisson
    inputs): a NumPy generator (``rngs``) and a Philox key (``keys``, for the values drawn
    by counter); and the spike processes of the constant-rate Poisson groups, made from
    their generators as the run reaches them."""

    def __init__(self, sequences: list[np.random.SeedSequence]) -> None:
        self.keys = [stream_key(seq.spawn(1)[0]) for seq in sequences]
        self.rngs = [np.random.default_rng(seq) for seq in sequences]
        self.sparse: dict[int, SparseBernoulli] = {}


class StimulusGenerator:
    """Draws :class:`StimulusChunk` s for a built network."""

    def __init__(self, dt, n_dyn, sources, source_start, poisson_inputs, currents, column_of):
        self.dt = dt
        self.n_dyn = n_dyn
        self.sources = list(zip(sources, source_start))
        self.poisson_inputs: list[PoissonInput] = poisson_inputs
        self.currents: list[CurrentInput] = currents
        self.column_of = column_of
        self._timed = [self._spike_table(src, start) for src, start in self.sources
                       if isinstance(src, SpikeSource)]
        self.pin_slot = np.concatenate(
            [pi.receptor * n_dyn + column_of(pi.target) + np.arange(pi.target.n)
             for pi in poisson_inputs]
        ).astype(np.int64) if poisson_inputs else np.zeros(0, dtype=np.int64)
        self.varying_current = any(c.values_dt is not None for c in currents)
        self._tables: dict[tuple[int, float], BinomialTable] = {}

    def _spike_table(self, src: SpikeSource, start: int):
        steps = spike_steps(src.times, self.dt)
        order = np.lexsort((src.indices, steps))
        return steps[order], src.indices[order].astype(np.int64) + start

    @property
    def width(self) -> int:
        """Values drawn per step: sets how many steps fit in one chunk."""
        w = sum(self._group_width(src) for src, _ in self.sources if isinstance(src, PoissonGroup))
        w += self.pin_slot.size + (self.n_dyn if self.varying_current else 0)
        return max(w, 1)

    def _group_width(self, src: PoissonGroup) -> int:
        """Values a Poisson group draws per step: one per neuron, or, with constant rates, about
        two per candidate spike (gap and thinning draw)."""
        if callable(src.rate) or src.rate_dt is not None:
            return src.n
        p_max = float(np.max(src.rate, initial=0.0)) * self.dt * 1e-3
        return min(src.n, int(np.ceil(2.0 * src.n * p_max)) + 1)

    def new_streams(self, seed_sequence: np.random.SeedSequence) -> InputStreams:
        """A run's input state, seeded by ``seed_sequence`` (one child per random stream)."""
        return InputStreams(seed_sequence.spawn(self.n_random))

    @property
    def n_random(self) -> int:
        """Number of random streams: one per Poisson group and per Poisson input."""
        return sum(isinstance(src, PoissonGroup) for src, _ in self.sources) + len(self.poisson_inputs)

    def chunk(self, t0: int, n: int, streams: InputStreams, on_device: bool = False) -> StimulusChunk:
        """Input for steps t0 ... t0+n-1.

        ``streams`` holds one generator per random stream (:attr:`n_random`), so
        each source draws its own sequence, and a run split into chunks (or
        into several calls of ``run``) draws exactly what one long run would.
        ``on_device``: leave the counter-based draws (Poisson inputs, Poisson
        groups with time-varying rates) to the device (``StimulusChunk.device``).
        """
        device = DeviceDraws() if on_device else None
        rngs, keys = iter(streams.rngs), iter(streams.keys)
        steps_all, idx_all = [], []
        for steps, idx in self._timed:
            a, b = np.searchsorted(steps, [t0, t0 + n])
            steps_all.append(steps[a:b] - t0)
            idx_all.append(idx[a:b])
        for number, (src, start) in enumerate(self.sources):
            if isinstance(src, PoissonGroup):
                p = self._poisson_rates(src, t0, n) * (self.dt * 1e-3)
                rng, key = next(rngs), next(keys)
                if device is not None and p.ndim == 2:
                    device.groups.append((key, start, src.n, np.ascontiguousarray(p)))
                    continue
                k, i = self._group_spikes(streams, number, src, p, rng, key, t0, n)
                steps_all.append(k)
                idx_all.append(i + start)
        if len(steps_all) == 1:  # each source's spikes come ordered by step, then index
            steps, idx = steps_all[0], idx_all[0]
        elif steps_all:
            steps = np.concatenate(steps_all)
            idx = np.concatenate(idx_all)
            order = np.lexsort((idx, steps))
            steps, idx = steps[order], idx[order]
        else:
            steps = idx = np.zeros(0, dtype=np.int64)
        src_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(steps, minlength=n), out=src_ptr[1:])
        pin_value = np.empty((n, 0 if device is not None else self.pin_slot.size))
        col = 0
        for pi in self.poisson_inputs:
            table = self._binomial_table(pi.n_inputs, pi.rate * self.dt * 1e-3)
            w = float(abs(pi.weight) if pi.target.model.conductance_based else pi.weight)
            key = next(keys)
            if device is not None:
                device.inputs.append((key, table, w, col, pi.target.n))
            else:
                poisson_input_values(key[0], key[1], t0, table.cdf, table.guide, w, pin_value[:, col:col + pi.target.n])
            col += pi.target.n
        return StimulusChunk(t0, n, src_ptr, idx.astype(np.int64), self.pin_slot, pin_value,
                             self._currents(t0, n), device)

    @staticmethod
    def _group_spikes(streams: InputStreams, number: int, src: PoissonGroup, p: np.ndarray,
                      rng: np.random.Generator, key: tuple, t0: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Spikes (step - t0, neuron) of Poisson group ``src`` (source ``number``) with per-step
        probabilities ``p``: constant ones (``p.ndim <= 1``) by its sparse process (``rng``), made
        anew when the run starts or the rates changed; time-varying ones (and rates too low for
        the sparse process) with one counter-based uniform per cell (``key``)."""
        if p.ndim <= 1:
            p = np.broadcast_to(p, (src.n,))
            process = streams.sparse.get(number)
            if process is None or process.next_step != t0 or not np.array_equal(process.p, p):
                if 0.0 < float(p.max(initial=0.0)) < SparseBernoulli.MIN_P:
                    streams.sparse.pop(number, None)
                    return bernoulli_cells(key, t0, np.broadcast_to(p, (n, src.n)), src.n)
                process = streams.sparse[number] = SparseBernoulli(p, rng, t0)
            return process.draw(t0, n)
        streams.sparse.pop(number, None)
        return bernoulli_cells(key, t0, p, src.n)

    def _binomial_table(self, n_inputs: int, p: float) -> BinomialTable:
        """The sampler of Binomial(n_inputs, p), built once per pair."""
        key = (int(n_inputs), float(p))
        if key not in self._tables:
            self._tables[key] = BinomialTable(*key)
        return self._tables[key]

    def _poisson_rates(self, src: PoissonGroup, t0: int, n: int) -> np.ndarray:
        rate = src.rate
        steps = np.arange(t0, t0 + n)
        if callable(rate):
            values = np.asarray(rate(steps * self.dt), dtype=np.float64)
            if values.shape not in ((), (n,), (n, src.n)):
                raise ValueError(f"the rate function of '{src.name}' must return one rate per time it is given "
                                 f"(shape ({n},)) or per time and neuron (shape ({n}, {src.n})), got shape "
                                 f"{values.shape} for {n} times")
        elif src.rate_dt is not None:
            rows = np.minimum((steps * self.dt / src.rate_dt + 1e-9).astype(np.int64), len(rate) - 1)
            values = rate[rows]
        else:
            values = np.asarray(rate, dtype=np.float64)
        if (callable(rate) or src.rate_dt is not None) and values.ndim == 1:
            values = values[:, None]  # one population-wide rate per step
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"Poisson rate of '{src.name}' must be finite and >= 0 Hz")
        if np.any(values * self.dt * 1e-3 > 1.0):
            raise ValueError(
                f"Poisson rate of '{src.name}' exceeds 1/dt = {1e3 / self.dt:g} Hz; "
                "lower the rate or the time step"
            )
        return values

    def _currents(self, t0: int, n: int) -> np.ndarray:
        rows = n if self.varying_current else 1
        i_ext = np.zeros((rows, self.n_dyn))
        steps = np.arange(t0, t0 + rows)
        for cur in self.currents:
            c = self.column_of(cur.target)
            i_ext[:, c:c + cur.target.n] += cur.at_steps(steps, self.dt)
        return i_ext

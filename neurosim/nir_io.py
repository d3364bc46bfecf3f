"""Exchange networks with NIR, the Neuromorphic Intermediate Representation.

:func:`to_nir` turns a :class:`~neurosim.Network` of :class:`~neurosim.LIF`
populations, spike sources and projections into a ``nir.NIRGraph``;
:func:`from_nir` builds the equivalent network from a graph (ours or one
written by snnTorch, Norse, ...); :func:`save_nir` / :func:`load_nir` write
and read ``.nir`` files (HDF5, atomic write).  The mapping, what is preserved
and what is lost are in ``docs/nir.md``; the essentials:

* NIR is continuous-time with time in seconds; neurosim works in ms.
  Voltages (thresholds, leak, reset, weights) keep neurosim's mV.
* Spikes follow the convention of existing exporters: a spike is a unit
  pulse that lasts one step ``dt``, and ``r = tau / dt`` (``w_in = tau_syn / dt``)
  so that the discrete gain of a synapse is 1.  ``dt`` is not part of NIR:
  it is stored in the graph's metadata and passed explicitly on import.
* ``method="exact"`` writes the continuous system neurosim integrates
  (``tau = tau_m``); ``method="euler"`` writes the parameters for which a
  forward-Euler importer with step ``dt`` (snnTorch: ``beta = 1 - dt/tau``,
  ``dt = 1e-4 s``) reproduces neurosim's per-step update exactly
  (``tau = dt / (1 - exp(-dt/tau_m))``).

Installing: ``pip install nir`` (or ``pip install neurosim[deploy]``).
"""
from __future__ import annotations

import math
import os
import warnings
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np

from .atomic import atomic_path
from .network import Network

if TYPE_CHECKING:
    import nir
from .neurons.base import refractory_steps
from .neurons.lif import LIF, exp_kernel_coupling
from .populations import Node, Population

#: the two readings of a graph's time constants (see the module docstring)
METHODS = ("exact", "euler")
#: NIR node types that :func:`from_nir` reads
SUPPORTED_NODES = ("Input", "Output", "Linear", "Affine", "Scale", "Delay", "Flatten", "Identity",
                   "LIF", "CubaLIF", "NIRGraph (nested, one Input and one Output)")
_INSTALL_HINT = "pip install nir   (or: pip install 'neurosim[deploy]')"
_MS_PER_S = 1000.0


class NIRConversionWarning(UserWarning):
    """Something that a NIR graph cannot carry was left out or approximated."""


def _nir():
    try:
        import nir
    except ImportError as err:    # pragma: no cover - exercised only without nir
        raise ImportError(
            f"NIR export and import need the 'nir' package, which is not installed: {_INSTALL_HINT}"
        ) from err
    return nir


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(repr(m) for m in METHODS)}, got {method!r}")


def _check_step(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number of ms, got {value!r}")
    return float(value)


def _warn(message: str) -> None:
    warnings.warn(message, NIRConversionWarning, stacklevel=3)


# ---------------------------------------------------------------- latency
def latency_steps(net: Network) -> dict[str, int]:
    """Synaptic hops from the nearest source to every population.

    neurosim delivers a spike one step after it is emitted (Brian2's
    schedule), frameworks such as snnTorch in the same step.  A population
    ``h`` hops from the input therefore spikes ``h`` steps later in neurosim
    than in such a framework: neurosim step ``t + h`` is their step ``t``.
    Populations that no source reaches get 0.
    """
    post_of: dict[str, list[str]] = {}
    for proj in net.projections:
        post_of.setdefault(proj.pre.name, []).append(proj.post.name)
    depth = {s.name: 0 for s in net.sources}
    queue = deque(depth)
    while queue:
        name = queue.popleft()
        for post in post_of.get(name, ()):
            if post not in depth:
                depth[post] = depth[name] + 1
                queue.append(post)
    return {p.name: depth.get(p.name, 0) for p in net.populations}


# ------------------------------------------------------------------ export
def _neuron_kind(pop: Population, step: float, refractory: str) -> str:
    """'lif' (delta synapses) or 'cuba'; a clear error for anything NIR cannot hold."""
    model = pop.model
    if not isinstance(model, LIF):
        raise ValueError(
            f"population '{pop.name}' uses {type(model).__name__}; to_nir exports only ns.LIF populations "
            "(nir.LIF for delta synapses, nir.CubaLIF for exponential current synapses)"
        )
    if refractory_steps(model.tau_ref, step) > 1:
        msg = (f"population '{pop.name}' has a refractory period (tau_ref = {model.tau_ref} ms), "
               "which NIR's LIF and CubaLIF do not have")
        if refractory == "error":
            raise ValueError(msg + "; set tau_ref=0 (or below two steps), or pass refractory='drop' "
                                   "to export without it")
        _warn(msg + "; exported without it (refractory='drop')")
    if model.tau_syn_e != model.tau_syn_i:
        raise ValueError(
            f"population '{pop.name}': NIR's CubaLIF has one synaptic time constant, but tau_syn_e = "
            f"{model.tau_syn_e} ms differs from tau_syn_i = {model.tau_syn_i} ms; make them equal "
            "(or both 0 for delta synapses)"
        )
    return "lif" if model.tau_syn_e == 0.0 else "cuba"


def _drive(net: Network, pop: Population, method: str, depth: int) -> tuple[np.ndarray, int]:
    """Constant drive of ``pop`` (mV, per neuron) and the step it starts at."""
    parts = []     # (values, onset)
    if pop.model.i_offset != 0.0:
        parts.append((np.full(pop.n, pop.model.i_offset), 0))
    step = net.dt
    for cur in net.currents:
        if cur.target is not pop:
            continue
        if cur.values_dt is None:
            parts.append((np.broadcast_to(cur.values, (pop.n,)).astype(np.float64), 0))
            continue
        vals = np.broadcast_to(cur.values.reshape(len(cur.values), -1), (len(cur.values), pop.n))
        nonzero = np.flatnonzero(np.any(vals != 0.0, axis=1))
        first = int(nonzero[0]) if nonzero.size else len(vals) - 1
        onset = first * cur.values_dt / step
        constant_after = np.all(vals[first:] == vals[-1]) and not np.any(vals[:first])
        if not constant_after or abs(onset - round(onset)) > 1e-9 or (round(onset) > 0 and method == "exact"):
            raise ValueError(
                f"population '{pop.name}' has a time-varying current; NIR has no time-varying drive "
                "(only a constant bias, and with method='euler' a constant bias that starts when the "
                "population's input starts)"
            )
        parts.append((vals[-1].astype(np.float64), int(round(onset))))
    parts = [(v, o) for v, o in parts if np.any(v != 0.0)]
    if not parts:
        return np.zeros(pop.n), 0
    onsets = {o for _, o in parts}
    if len(onsets) > 1:
        raise ValueError(f"population '{pop.name}': constant drives that start at different steps "
                         f"({sorted(onsets)}) cannot be one NIR bias")
    onset = onsets.pop()
    if method == "euler" and onset != depth:
        _warn(f"population '{pop.name}' is {depth} synaptic hop(s) from the input, so a zero-latency importer "
              f"(snnTorch) runs it {depth} step(s) behind neurosim, but its drive starts at step {onset}: "
              f"its first {abs(depth - onset)} step(s) will differ there (a drive that starts at step {depth} "
              "matches exactly)")
    return sum(v for v, _ in parts), onset


def _unique_name(name: str, taken: Mapping) -> str:
    out, k = name, 1
    while out in taken:
        out, k = f"{name}#{k}", k + 1
    return out


def to_nir(net: Network, dt: float | None = None, *, method: str = "exact", outputs: Iterable | None = None,
           refractory: str = "error", seed: int | None = None) -> nir.NIRGraph:
    """The NIR graph of ``net`` (a ``nir.NIRGraph``).

    Args:
        net: a network of ``ns.LIF`` populations, spike sources / Poisson
            groups and projections.  It is built (connectivity drawn from
            ``seed``) if it has not been built yet.
        dt: time step (ms) of the graph's spike convention (a spike is a unit
            pulse of length ``dt``; ``r = tau/dt``, ``w_in = tau_syn/dt``); with
            ``method="euler"``, the step of the importer (one importer step =
            one neurosim step).  Default ``net.dt``.  snnTorch assumes 0.1 ms.
        method: ``"exact"``: the continuous-time system neurosim integrates
            (``tau = tau_m``); ``"euler"``: parameters for which a forward-Euler
            importer with step ``dt`` (snnTorch) reproduces neurosim's spikes
            step for step (see ``docs/nir.md``).
        outputs: populations (or names) that also get an ``Output`` node.  The
            populations that feed no other node always get one (NIR ends every
            leaf of a graph in an Output); in a network where every population
            feeds another, all do.
        refractory: ``"error"`` (default) raises for populations with a
            refractory period of two steps or more; ``"drop"`` exports them
            without it and warns.
        seed: build seed, used only when ``net`` is not built yet.

    Node names: sources and populations keep their names (sources that
    feed nothing are left out); projection ``p`` becomes ``Linear``/``Affine``
    ``p`` (plus ``p.delay`` for a ``Delay``, or ``p.d<k>`` branches for mixed
    per-synapse delays); the output is ``output`` (one) or
    ``<population>.output``.  Weight matrices are dense, ``(n_post, n_pre)``.
    """
    nir = _nir()
    _check_method(method)
    if refractory not in ("error", "drop"):
        raise ValueError(f"refractory must be 'error' or 'drop', got {refractory!r}")
    if not isinstance(net, Network):
        raise TypeError(f"to_nir needs a neurosim Network, got {type(net).__name__}")
    step = net.dt
    dt = step if dt is None else _check_step(dt, "dt")
    q = dt / _MS_PER_S                                   # the spike convention's step, in s
    if net.poisson_inputs:
        raise ValueError(
            f"the Poisson input onto '{net.poisson_inputs[0].target.name}' (add_poisson_input) has no NIR "
            "equivalent; use net.add_poisson(...) and net.connect(...), which export as an Input node"
        )
    kinds = {p.name: _neuron_kind(p, step, refractory) for p in net.populations}
    depth = latency_steps(net)
    drives = {p.name: _drive(net, p, method, depth[p.name]) for p in net.populations}
    for p in net.populations:
        _warn_initial_state(p)
    if method == "euler":
        for p in net.populations:
            for name in ("tau_m", "tau_syn_e"):
                tau = getattr(p.model, name)
                if tau > 0 and math.exp(-step / tau) >= 1.0:
                    raise ValueError(f"population '{p.name}': {name} = {tau} ms is too long for method='euler' at "
                                     f"dt = {step} ms (its decay per step rounds to 1)")
    has_input = {pr.post.name for pr in net.projections}
    for p in net.populations:
        onset = drives[p.name][1]
        if onset > 0 and (kinds[p.name] != "lif" or p.name not in has_input):
            raise ValueError(f"population '{p.name}': a drive that starts at step {onset} needs a bias, which "
                             "NIR has only on a projection into a LIF (delta-synapse) population")
    if not net.built:       # every check is done: only now draw the synapses
        net.build(seed)

    nodes, edges, gain, bias_gain, bias = {}, [], {}, {}, {}
    used = {pr.pre.name for pr in net.projections}
    for src in net.sources:
        if src.name in used:       # a source that feeds nothing would be a leaf without meaning
            nodes[src.name] = nir.Input(input_type={"input": np.array([src.n])})
    for pop in net.populations:
        m, n, kind = pop.model, pop.n, kinds[pop.name]
        c, onset = drives[pop.name]
        a = math.exp(-step / m.tau_m)
        tau_mem = m.tau_m / _MS_PER_S if method == "exact" else q / (1.0 - a)
        full = lambda x: np.full(n, float(x))            # noqa: E731
        v_leak = full(m.v_rest)
        use_bias = kind == "lif" and pop.name in has_input
        if np.any(c != 0.0) and not use_bias:
            v_leak = v_leak + c                            # the drive moves the resting point
            _warn(f"population '{pop.name}': its constant drive is exported in v_leak (NIR has a bias only on "
                  "a projection into a LIF population); importers start the membrane at v_leak or 0, "
                  f"not at v_rest = {m.v_rest} mV")
        if kind == "lif":
            nodes[pop.name] = nir.LIF(tau=full(tau_mem), r=full(tau_mem / q), v_leak=v_leak,
                                      v_threshold=full(m.v_th), v_reset=full(m.v_reset))
            gain[pop.name] = 1.0 if method == "exact" else a
            bias_gain[pop.name] = q / tau_mem if method == "exact" else 1.0 - a
        else:
            b = math.exp(-step / m.tau_syn_e)
            tau_syn = m.tau_syn_e / _MS_PER_S if method == "exact" else q / (1.0 - b)
            nodes[pop.name] = nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / q),
                                          v_leak=v_leak, v_threshold=full(m.v_th), v_reset=full(m.v_reset),
                                          w_in=full(tau_syn / q))
            gain[pop.name] = (q / tau_mem if method == "exact"
                              else exp_kernel_coupling(m.tau_syn_e, m.tau_m, step))
        if use_bias and np.any(c != 0.0):
            bias[pop.name] = c * bias_gain[pop.name]

    for proj in net.projections:
        _export_projection(nir, proj, nodes, edges, gain[proj.post.name], bias.pop(proj.post.name, None),
                           q if method == "euler" else step / _MS_PER_S)

    out_pops = _output_populations(net, outputs)
    for pop in out_pops:
        name = _unique_name("output" if len(out_pops) == 1 else f"{pop.name}.output", nodes)
        nodes[name] = nir.Output(output_type={"output": np.array([pop.n])})
        edges.append((pop.name, name))
    from . import __version__
    metadata = {"generator": f"neurosim {__version__}", "method": method, "dt_s": q,
                "neurosim_dt_ms": step, "time_unit": "s", "voltage_unit": "mV"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def _warn_initial_state(pop: Population) -> None:
    defaults = pop.model.initial_state()
    for var, spec in pop.init.items():
        if not (np.ndim(spec) == 0 and isinstance(spec, (int, float, np.number)) and float(spec) == defaults[var]):
            _warn(f"population '{pop.name}': the initial value of '{var}' is not exported (NIR has no initial "
                  "states; from_nir starts v at v_leak, snnTorch at 0)")


def _export_projection(nir, proj, nodes: dict, edges: list, gain: float, bias, delay_unit_s: float) -> None:
    """Linear/Affine (and Delay) nodes for one projection; weights are (n_post, n_pre)."""
    pre, post = proj.pre, proj.post
    steps = proj.delay_steps.astype(np.int64)
    pre_idx = proj.pre_index
    w = proj.weight * gain

    def dense(mask):
        mat = np.zeros((post.n, pre.n))
        np.add.at(mat, (proj.post_index[mask], pre_idx[mask]), w[mask])
        return mat

    def linear(name, mat, b):
        if b is None:
            return nir.Linear(weight=mat)
        return nir.Affine(weight=mat, bias=np.asarray(b, dtype=np.float64))

    values = np.unique(steps)
    per_pre = np.zeros(pre.n, dtype=np.int64)
    per_pre[pre_idx] = steps
    if values.size == 0 or (values.size == 1 and values[0] == 0):
        name = _unique_name(proj.name, nodes)
        nodes[name] = linear(name, dense(np.ones(steps.size, bool)), bias)
        edges += [(pre.name, name), (name, post.name)]
    elif np.array_equal(per_pre[pre_idx], steps):      # one delay per presynaptic neuron: axonal
        dname = _unique_name(f"{proj.name}.delay", nodes)
        nodes[dname] = nir.Delay(delay=per_pre * delay_unit_s)
        name = _unique_name(proj.name, nodes)
        nodes[name] = linear(name, dense(np.ones(steps.size, bool)), bias)
        edges += [(pre.name, dname), (dname, name), (name, post.name)]
    else:                                                # one branch per delay value
        for k in values:
            name = _unique_name(f"{proj.name}.d{k}", nodes)
            nodes[name] = linear(name, dense(steps == k), bias)
            bias = None
            edges.append((pre.name, name))
            if k == 0:
                edges.append((name, post.name))
                continue
            dname = _unique_name(f"{name}.delay", nodes)
            nodes[dname] = nir.Delay(delay=np.full(post.n, k * delay_unit_s))
            edges += [(name, dname), (dname, post.name)]


def _output_populations(net: Network, outputs) -> list[Population]:
    """Populations that feed no other node (NIR ends every leaf in an Output), then ``outputs``."""
    feeds = {pr.pre.name for pr in net.projections if pr.pre is not pr.post}
    chosen = [p for p in net.populations if p.name not in feeds] or list(net.populations)
    if outputs is None:
        return chosen
    for item in ([outputs] if isinstance(outputs, (str, Node)) else outputs):
        name = item.name if isinstance(item, Node) else item
        node = net.nodes.get(name)
        if not isinstance(node, Population):
            raise ValueError(f"output '{name}' is not a population of network '{net.name}'; "
                             f"its populations are {', '.join(p.name for p in net.populations)}")
        if node not in chosen:
            chosen.append(node)
    return chosen


# ------------------------------------------------------------------ import
_LINEAR_TYPES = ("Linear", "Affine", "Scale", "Delay", "Flatten", "Identity", "_Pass")
_NEURON_TYPES = ("LIF", "CubaLIF")


class _Pass:
    """Stand-in for the Input/Output node of an inlined nested graph."""


def _flatten(nir, graph, prefix: str = "") -> tuple[dict, list]:
    """Nodes and edges of ``graph`` with nested graphs inlined (names ``outer.inner``)."""
    nodes, edges, ends = {}, [], {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(nir, node, full + ".")
            ins = [k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise ValueError(f"nested NIR graph '{full}' has {len(ins)} Input and {len(outs)} Output nodes; "
                                 "from_nir inlines nested graphs with exactly one of each")
            for k in (ins[0], outs[0]):
                sub_nodes[f"{full}.{k}"] = _Pass()
            ends[full] = (f"{full}.{ins[0]}", f"{full}.{outs[0]}")
            nodes.update(sub_nodes)
            edges += sub_edges
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        if a not in nodes and a not in ends or b not in nodes and b not in ends:
            raise ValueError(f"NIR edge ({a!r}, {b!r}) names a node that the graph does not have")
        edges.append((ends[a][1] if a in ends else a, ends[b][0] if b in ends else b))
    return nodes, edges


def _type_name(node) -> str:
    return "_Pass" if isinstance(node, _Pass) else type(node).__name__


def _size(name: str, node) -> int:
    kind = _type_name(node)
    if kind == "Input":
        return int(np.prod(node.input_type["input"]))
    if kind in ("LIF", "CubaLIF"):
        return int(np.asarray(node.v_threshold).size)
    raise AssertionError(kind)


def _uniform(node_name: str, kind: str, param: str, values) -> float:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"NIR node '{node_name}' ({kind}) has an empty '{param}'")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"NIR node '{node_name}' ({kind}): '{param}' must be finite")
    if np.any(arr != arr[0]):
        raise ValueError(
            f"NIR node '{node_name}' ({kind}): '{param}' varies across neurons (from {arr.min()} to {arr.max()}), "
            "but a neurosim population has one value; split the node into one node per value"
        )
    return float(arr[0])


def _decay_tau(node_name: str, kind: str, param: str, tau_s: float, q: float, step: float, method: str) -> float:
    """neurosim time constant (ms) for NIR's ``tau_s`` (s)."""
    if not tau_s > 0:
        raise ValueError(f"NIR node '{node_name}' ({kind}): '{param}' must be > 0 s, got {tau_s}")
    if method == "exact":
        return tau_s * _MS_PER_S
    beta = 1.0 - q / tau_s
    if not 0.0 < beta < 1.0:
        raise ValueError(
            f"NIR node '{node_name}' ({kind}): {param} = {tau_s} s gives an Euler decay 1 - dt/{param} = {beta} "
            f"per step of {q} s, outside (0, 1); neurosim's exact decay exp(-dt/tau) cannot equal it"
        )
    return -step / math.log(beta)


def _neuron(name: str, node, step: float, q: float, method: str):
    """(LIF model, per-neuron input gain, per-neuron bias gain, v_leak array)."""
    kind = type(node).__name__
    flat = lambda x: np.asarray(x, dtype=np.float64).reshape(-1)      # noqa: E731
    v_th = _uniform(name, kind, "v_threshold", node.v_threshold)
    v_reset = _uniform(name, kind, "v_reset", node.v_reset)
    r, v_leak = flat(node.r), flat(node.v_leak)
    if not np.all(np.isfinite(v_leak)) or not np.all(np.isfinite(r)):
        raise ValueError(f"NIR node '{name}' ({kind}): 'r' and 'v_leak' must be finite")
    if kind == "LIF":
        tau = _uniform(name, kind, "tau", node.tau)
        tau_m = _decay_tau(name, kind, "tau", tau, q, step, method)
        g = r * q / tau                                   # Euler gain of one spike on v
        model = LIF(tau_m=tau_m, v_rest=0.0, v_th=v_th, v_reset=v_reset, tau_ref=0.0,
                    tau_syn_e=0.0, tau_syn_i=0.0)
        a = math.exp(-step / tau_m)
        if method == "exact":
            return model, g, r, v_leak
        return model, g / a, g / (1.0 - a), v_leak
    tau_mem = _uniform(name, kind, "tau_mem", node.tau_mem)
    tau_syn = _uniform(name, kind, "tau_syn", node.tau_syn)
    tau_m = _decay_tau(name, kind, "tau_mem", tau_mem, q, step, method)
    tau_s = _decay_tau(name, kind, "tau_syn", tau_syn, q, step, method)
    w_in = flat(node.w_in)
    model = LIF(tau_m=tau_m, v_rest=0.0, v_th=v_th, v_reset=v_reset, tau_ref=0.0, tau_syn_e=tau_s, tau_syn_i=tau_s)
    if method == "exact":
        return model, r * w_in * q / tau_syn, None, v_leak
    k = exp_kernel_coupling(tau_s, tau_m, step)
    return model, (r * q / tau_mem) * (w_in * q / tau_syn) / k, None, v_leak


def _delay_steps(name: str, delay, q: float, step: float, method: str) -> np.ndarray:
    d = np.asarray(delay, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError(f"NIR Delay '{name}': delays must be finite and >= 0 s")
    x = d / q if method == "euler" else d * _MS_PER_S / step
    steps = np.rint(x)
    if np.any(np.abs(x - steps) > 1e-6 * np.maximum(1.0, x)):
        _warn(f"NIR Delay '{name}': delays are not whole steps of {step} ms; rounded to the nearest step")
    return steps.astype(np.int64)


class _Eye:
    """The identity matrix of size ``n``, kept implicit (a spiking node's own output)."""

    def __init__(self, n: int):
        self.n = n


def _dense(m) -> np.ndarray:
    return np.eye(m.n) if isinstance(m, _Eye) else m


class _Signals:
    """What reaches each node: per spiking source, per delay (steps), a dense matrix; plus a bias."""

    def __init__(self, nodes, preds, q, step, method):
        self.nodes, self.preds, self.q, self.step, self.method = nodes, preds, q, step, method
        self.memo, self.active = {}, set()

    def into(self, name: str, n: int) -> tuple[dict, np.ndarray]:
        """The summed input of node ``name`` (all its incoming edges), of size ``n``."""
        total, bias = {}, np.zeros(n)
        for p in self.preds.get(name, ()):
            sig, b = self.output(p)
            if b.size != n:
                raise ValueError(f"NIR edge ('{p}', '{name}'): '{p}' sends {b.size} values, '{name}' takes {n}")
            bias = bias + b
            for src, by_delay in sig.items():
                acc = total.setdefault(src, {})
                for k, mat in by_delay.items():
                    acc[k] = _dense(acc[k]) + _dense(mat) if k in acc else mat
        return total, bias

    def output(self, name: str) -> tuple[dict, np.ndarray]:
        if name in self.memo:
            return self.memo[name]
        node = self.nodes[name]
        kind = _type_name(node)
        if kind == "Input" or kind in _NEURON_TYPES:
            n = _size(name, node)
            result = ({name: {0: _Eye(n)}}, np.zeros(n))
            self.memo[name] = result
            return result
        if name in self.active:
            raise ValueError(f"NIR node '{name}' lies on a cycle without a neuron; from_nir needs every "
                             "loop to pass through a LIF or CubaLIF node")
        self.active.add(name)
        if kind in ("Linear", "Affine"):
            w = np.asarray(node.weight, dtype=np.float64)
            if w.ndim != 2:
                raise ValueError(f"NIR node '{name}' ({kind}): weight must be 2-D (out, in), got shape {w.shape}")
            sig, bias = self.into(name, w.shape[1])
            sig = {s: {k: w.copy() if isinstance(m, _Eye) else w @ m for k, m in d.items()} for s, d in sig.items()}
            bias = w @ bias
            if kind == "Affine":
                bias = bias + np.asarray(node.bias, dtype=np.float64).reshape(-1)
        elif kind == "Scale":
            s = np.asarray(node.scale, dtype=np.float64).reshape(-1)
            sig, bias = self.into(name, s.size)
            sig = {src: {k: s[:, None] * _dense(m) for k, m in d.items()} for src, d in sig.items()}
            bias = s * bias
        elif kind == "Delay":
            steps = _delay_steps(name, node.delay, self.q, self.step, self.method)
            sig, bias = self.into(name, steps.size)
            moved = {}
            for src, d in sig.items():
                acc = moved.setdefault(src, {})
                for k, m in d.items():
                    m = _dense(m)
                    for s in np.unique(steps):
                        rows = np.zeros_like(m)
                        rows[steps == s] = m[steps == s]
                        key = k + int(s)
                        acc[key] = acc[key] + rows if key in acc else rows
            sig = moved
        elif kind in ("Flatten", "Identity", "_Pass"):
            preds = self.preds.get(name, ())
            if not preds:
                raise ValueError(f"NIR node '{name}' ({kind}) has no input")
            sizes = {self.output(p)[1].size for p in preds}
            if len(sizes) != 1:
                raise ValueError(f"NIR node '{name}' ({kind}) receives inputs of different sizes {sorted(sizes)}")
            sig, bias = self.into(name, sizes.pop())
        else:     # pragma: no cover - filtered before
            raise AssertionError(kind)
        self.active.discard(name)
        self.memo[name] = (sig, bias)
        return sig, bias


def _input_spikes(name: str, n: int, spikes, step: float) -> tuple[np.ndarray, np.ndarray]:
    """(times ms, indices) from a (T, n) 0/1 array or a (times_ms, indices) pair."""
    if spikes is None:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    if isinstance(spikes, tuple) and len(spikes) == 2:
        return np.asarray(spikes[0], dtype=np.float64), np.asarray(spikes[1])
    arr = np.asarray(spikes)
    if arr.ndim != 2 or arr.shape[1] != n:
        raise ValueError(f"input '{name}': spikes must be a (T, {n}) array of 0/1 per step, or a (times_ms, "
                         f"indices) pair; got shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"input '{name}': a spike array holds 0 or 1 per neuron and step (one spike per step)")
    t, i = np.nonzero(arr)
    return t * step, i.astype(np.int64)


def from_nir(graph: nir.NIRGraph | str | os.PathLike, dt: float, *, method: str = "exact", nir_dt: float | None = None,
             inputs: Mapping | None = None, monitor: bool = True, name: str = "nir") -> Network:
    """Build the neurosim network of a NIR graph (a ``nir.NIRGraph`` or a path to a ``.nir`` file).

    Args:
        graph: the graph, or the path of a NIR file.
        dt: the simulator's time step (ms).
        method: ``"exact"``: read time constants as the continuous system
            (``tau_m = tau``); ``"euler"``: read them as a forward-Euler model
            with step ``nir_dt`` (decay per step ``1 - nir_dt/tau``, as snnTorch
            imports), each of its steps one neurosim step.  Graphs written by
            snnTorch: ``from_nir(g, dt=0.1, method="euler")``.
        nir_dt: the step of the graph's spike convention (ms); default ``dt``.
            snnTorch writes graphs for 0.1 ms.
        inputs: spikes of the ``Input`` nodes, by node name: a ``(T, n)`` array
            of 0/1 (a spike in row t fires in step t) or a ``(times_ms,
            indices)`` pair.  Inputs not given have no spikes.
        monitor: add a spike monitor to the population behind each ``Output``
            node, in the graph's order (``net.spike_monitors``).
        name: the network's name.

    Nodes keep their NIR names (``net.nodes[name]``; nested graphs as
    ``outer.inner``): ``Input`` -> spike source, ``LIF``/``CubaLIF`` ->
    ``ns.LIF`` population (delta or current synapses, no refractory
    period), and every chain of ``Linear``/``Affine``/``Scale``/``Delay``/
    ``Flatten``/``Identity`` nodes between them -> one projection with
    per-synapse weights and delays.  Affine biases become a constant drive
    (``i_offset`` or ``add_current``); with ``method="euler"`` it starts
    ``latency_steps(net)[pop]`` steps in, matching a zero-latency framework.
    Membranes start at ``v_leak``.
    """
    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"from_nir needs a nir.NIRGraph or a file path, got {type(graph).__name__}")
    _check_method(method)
    step = _check_step(dt, "dt")
    q = (step if nir_dt is None else _check_step(nir_dt, "nir_dt")) / _MS_PER_S
    meta = getattr(graph, "metadata", None)
    if isinstance(meta, dict) and str(meta.get("generator", "")).startswith("neurosim"):
        written = str(meta.get("method", ""))
        if written in METHODS and written != method:
            _warn(f"the graph was written by neurosim with method={written!r}; reading it with "
                  f"method={method!r} changes its time constants")
    nodes, edges = _flatten(nir, graph)
    for node_name, node in nodes.items():
        kind = _type_name(node)
        if kind not in _LINEAR_TYPES + _NEURON_TYPES + ("Input", "Output"):
            raise ValueError(f"NIR node '{node_name}' is a {kind}, which from_nir does not support; "
                             f"supported: {', '.join(SUPPORTED_NODES)}")
    preds: dict[str, list[str]] = {}
    for a, b in edges:
        if isinstance(nodes[b], nir.Input):
            raise ValueError(f"NIR edge ('{a}', '{b}') leads into an Input node")
        if isinstance(nodes[a], nir.Output):
            raise ValueError(f"NIR edge ('{a}', '{b}') leaves an Output node")
        preds.setdefault(b, []).append(a)
    inputs = dict(inputs or {})
    input_names = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    unknown = sorted(set(inputs) - set(input_names))
    if unknown:
        raise ValueError(f"inputs given for {', '.join(map(repr, unknown))}, which are not Input nodes of the "
                         f"graph; its inputs are {', '.join(map(repr, input_names)) or 'none'}")

    neuron = {k: _neuron(k, v, step, q, method) for k, v in nodes.items() if _type_name(v) in _NEURON_TYPES}
    signals = _Signals(nodes, preds, q, step, method)
    incoming, drives = {}, {}
    for pop_name, (_, gain, bias_gain, v_leak) in neuron.items():
        by_src, bias = signals.into(pop_name, v_leak.size)
        gain = np.broadcast_to(np.asarray(gain, dtype=np.float64), v_leak.shape)
        incoming[pop_name] = {}
        for src, by_delay in by_src.items():
            parts = []
            for k in sorted(by_delay):
                mat = _dense(by_delay[k])
                post, pre = np.nonzero(mat)
                parts.append((pre, post, mat[post, pre] * gain[post], np.full(post.size, k * step)))
            pre, post, weight, delay = (np.concatenate(x) for x in zip(*parts))
            if pre.size:
                incoming[pop_name][src] = (pre, post, weight, delay)
        if np.any(bias != 0.0):
            if bias_gain is None:
                raise ValueError(
                    f"NIR node '{pop_name}' (CubaLIF) receives an Affine bias, a constant input to its synaptic "
                    "current, which neurosim's LIF does not have; fold it into v_leak (v_leak + r * w_in * bias)"
                )
            drives[pop_name] = bias * bias_gain

    # hops from the inputs, as latency_steps(net) will count them
    depth = {k: 0 for k, v in nodes.items() if isinstance(v, nir.Input)}
    queue = deque(depth)
    while queue:
        src = queue.popleft()
        for pop_name, by_src in incoming.items():
            if src in by_src and pop_name not in depth:
                depth[pop_name] = depth[src] + 1
                queue.append(pop_name)

    net = Network(dt=step, name=name)
    currents = []
    for node_name, node in nodes.items():
        if node_name in neuron:
            model, _, _, v_leak = neuron[node_name]
            uniform = bool(np.all(v_leak == v_leak[0]))
            params = {"v_rest": float(v_leak[0]) if uniform else 0.0}
            init = {} if uniform else {"v_init": v_leak}
            if not uniform:
                currents.append((node_name, v_leak, 0))
            c = drives.get(node_name)
            onset = depth.get(node_name, 0) if method == "euler" else 0
            if c is not None and onset == 0 and np.all(c == c[0]):
                params["i_offset"] = float(c[0])
            elif c is not None:
                currents.append((node_name, c, onset))
            net.add_population(node_name, v_leak.size, LIF(**{**model.parameters(), **params}), **init)
        elif isinstance(node, nir.Input):
            n = _size(node_name, node)
            t, i = _input_spikes(node_name, n, inputs.get(node_name), step)
            net.add_spike_source(node_name, n, t, i)
    for pop_name, by_src in incoming.items():
        for src, (pre, post, weight, delay) in by_src.items():
            net.connect(net.nodes[src], net.nodes[pop_name], pre=pre, post=post, weight=weight, delay=delay)
    for pop_name, values, onset in currents:
        pop = net.nodes[pop_name]
        if onset == 0:
            net.add_current(pop, values)
        else:
            net.add_current(pop, np.vstack([np.zeros((onset, pop.n)), values[None, :]]), values_dt=step)

    if monitor:
        for out_name, node in nodes.items():
            if not isinstance(node, nir.Output):
                continue
            src = _spiking_source(out_name, nodes, preds)
            net.monitor_spikes(net.nodes[src])
    return net


def _spiking_source(out_name: str, nodes: dict, preds: dict) -> str:
    """The Input, LIF or CubaLIF node behind an Output (through pass-through nodes only)."""
    name, seen = out_name, set()
    while True:
        ps = preds.get(name, [])
        if len(ps) != 1:
            raise ValueError(f"NIR Output '{out_name}' has {len(ps)} inputs; from_nir monitors an Output fed by "
                             "exactly one LIF, CubaLIF or Input node (or pass monitor=False)")
        name = ps[0]
        kind = _type_name(nodes[name])
        if kind in _NEURON_TYPES or kind == "Input":
            return name
        if kind not in ("Flatten", "Identity", "_Pass") or name in seen:
            raise ValueError(
                f"NIR Output '{out_name}' is fed by '{name}' ({kind}), a non-spiking readout; neurosim records "
                "spikes of LIF/CubaLIF populations (pass monitor=False to import the graph without monitors)"
            )
        seen.add(name)


# -------------------------------------------------------------------- files
def save_nir(obj: Network | nir.NIRGraph, path: str | os.PathLike, **to_nir_kwargs) -> Path:
    """Write a network (converted with :func:`to_nir` and ``to_nir_kwargs``) or a
    ``nir.NIRGraph`` to ``path`` (HDF5, ``nir.write``); atomic: a temporary file in
    the same folder is renamed over ``path`` only once it is complete."""
    nir = _nir()
    graph = obj if isinstance(obj, nir.NIRGraph) else to_nir(obj, **to_nir_kwargs)
    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return path


def load_nir(path: str | os.PathLike, dt: float | None = None, **from_nir_kwargs) -> nir.NIRGraph | Network:
    """Read a NIR file: the ``nir.NIRGraph``, or with ``dt`` the network :func:`from_nir` builds."""
    nir = _nir()
    graph = nir.read(path)
    return graph if dt is None else from_nir(graph, dt, **from_nir_kwargs)

"""CUBA (Brette et al. 2007, benchmark 2), scaled at fixed fan-in: neurosim vs Brian2.

The network is Brian2's ``examples/CUBA.py`` scaled as in
``brian2/tests/features/speed.py::CUBAFixedConnectivity``: N LIF neurons, the
first 0.8 N excitatory, every pair connected with probability p = 80 / N (mean
fan-in 64 E + 16 I), exact integration with dt = 0.1 ms, v frozen while
refractory, no delays, no external input, a spike monitor on every neuron, 1 s
of biological time.  See ``/work/shared/references/benchmarks.md`` sections
1.1 (definition), 2 (protocol) and 3.2 (reference numbers).

Simulators, each (simulator, size, repetition) in a fresh worker subprocess so
that no state (Brian2's global device, JIT caches in memory, heap) leaks
between measurements.  Before the first measurement, neurosim and Brian2
Cython run once untimed (1 ms, smallest size), so that their on-disk caches
of compiled code (Numba's, Brian2's Cython extensions) are warm and no
measured run pays for compiling; Brian2 C++ standalone compiles in every run
by design, and that is part of its build time:

* ``neurosim``: the Numba backend, ``run(threads=--threads)`` (populations of
  32k neurons or more are advanced on that many threads);
* ``brian2_cpp``: Brian2 C++ standalone, ``openmp_threads`` = ``--threads``
  (no OpenMP for 1);
* ``brian2_cython``: Brian2 runtime mode with the Cython code-generation target.

Times (seconds of wall-clock time, ``time.perf_counter``):

* ``import_s``: importing the simulator;
* ``sim_s``: the run loop for ``--duration`` ms of biological time only.
  neurosim: wall of ``net.run(duration)`` after a one-step warm-up run;
  Brian2 Cython: wall of ``run(duration)`` after a one-step warm-up run that
  triggers code generation and compilation; Brian2 C++ standalone:
  ``device._last_run_time`` (the loop inside the generated binary);
* ``total_s``: from the start of network construction (after imports) until
  the spike monitor's result is available;
* ``build_s`` = ``total_s - sim_s``: construction, connectivity, code
  generation, compilation or JIT cache load, warm-up step, result read-back.

Counts: spikes and synaptic events (sum over spikes of the spiking neuron's
out-degree) of the timed run only; rate = spikes / (N * duration).

Usage::

    python benchmarks/cuba_vs_brian2.py --quick
    python benchmarks/cuba_vs_brian2.py 4000 16000 64000 256000 --repeat 3 --json cuba.json
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: time step (ms)
DT_MS = 0.1
#: biological time of a full run and of a --quick run (ms)
DURATION_MS = 1000.0
QUICK_DURATION_MS = 100.0
#: default network sizes (neurons)
DEFAULT_SIZES = (4000, 16000, 64000, 256000)
#: mean number of synapses onto each neuron (p = FAN_IN / N)
FAN_IN = 80.0
#: fraction of excitatory neurons
EXC_FRACTION = 0.8
#: LIF parameters (ms, mV); Brian2's CUBA.py
TAU_M, TAU_E, TAU_I, TAU_REF = 20.0, 5.0, 10.0, 5.0
V_REST, V_TH, V_RESET = -49.0, -50.0, -60.0
#: synaptic weights (mV): conductance x driving force / leak conductance
W_EXC = 60 * 0.27 / 10
W_INH = -20 * 4.5 / 10
#: repetition r uses seed BASE_SEED + r (as the reference measurements)
BASE_SEED = 1001
#: simulator keys, in table order
SIMULATORS = ("neurosim", "brian2_cpp", "brian2_cython")
BRIAN2_SIMULATORS = ("brian2_cpp", "brian2_cython")
#: the neurosim speed targets
TOTAL_SPEEDUP_TARGET = 3.0


# ----------------------------------------------------------------- helpers
def _peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """High-water mark of the resident set size (MiB; Linux reports KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024.0


def _out_degree_events(spike_idx, pre_idx, n: int) -> int:
    """Synaptic events: sum over spikes of the spiking neuron's out-degree."""
    import numpy as np

    out_degree = np.bincount(np.asarray(pre_idx, dtype=np.int64), minlength=n)
    return int(out_degree[np.asarray(spike_idx, dtype=np.int64)].sum())


def _counts(n: int, duration_ms: float, spikes: int, events: int, sim_s: float) -> dict:
    """Rate (Hz) and events per wall second from the raw counts."""
    return {"spikes": spikes, "rate_hz": spikes / (n * duration_ms * 1e-3),
            "synaptic_events": events, "events_per_s": events / sim_s if sim_s > 0 else float("nan")}


# ----------------------------------------------------------------- neurosim
def build_neurosim(n: int):
    """The scaled CUBA network of ``models/cuba.py`` and its spike monitors.

    Returns ``(net, {"exc": SpikeMonitor, "inh": SpikeMonitor})``.
    """
    from neurosim.scripts import load_script

    cuba = load_script(Path(__file__).resolve().parents[1] / "models" / "cuba.py")
    net = cuba.build(n=n, dt=DT_MS)
    return net, {name: net.monitor_spikes(net.nodes[name]) for name in ("exc", "inh")}


def worker_neurosim(n: int, duration_ms: float, seed: int) -> dict:
    """Build and run neurosim's CUBA once; times in s, memory in MiB."""
    t0 = time.perf_counter()
    import neurosim  # noqa: F401  (timed import)
    t_import = time.perf_counter() - t0

    t_start = time.perf_counter()
    net, _monitors = build_neurosim(n)
    t_constructed = time.perf_counter()
    net.build(seed=seed)
    t_built = time.perf_counter()
    threads = int(os.environ["NUMBA_NUM_THREADS"])           # --threads
    net.run(DT_MS, progress=False, threads=threads)  # JIT compile or cache load, plus one step
    t_warm = time.perf_counter()
    stats = net.run(duration_ms, progress=False, threads=threads)
    t_end = time.perf_counter()

    sim_s = t_end - t_warm
    n_syn = sum(pr.n_synapses for pr in net.projections)
    syn_bytes = sum(pr.bytes_per_synapse() * pr.n_synapses for pr in net.projections)
    return {
        "import_s": t_import, "construct_s": t_constructed - t_start, "connect_s": t_built - t_constructed,
        "jit_s": t_warm - t_built, "sim_s": sim_s, "loop_s": stats.wall_time,
        "total_s": t_end - t_start, "build_s": t_warm - t_start,
        "steps": stats.steps, "synapses": n_syn, "bytes_per_synapse": syn_bytes / max(n_syn, 1),
        "backend": stats.backend,
        **_counts(n, duration_ms, stats.spikes, stats.synaptic_events, sim_s),
    }


# ------------------------------------------------------------------- Brian2
def _brian2_network(n: int):
    """The scaled CUBA network in Brian2 (CUBA.py with p = 80/N); returns (Network, monitor, synapses)."""
    import brian2 as b2
    from brian2 import mV, ms

    n_exc = int(EXC_FRACTION * n)
    eqs = """
    dv/dt  = (ge + gi - (v - El)) / taum : volt (unless refractory)
    dge/dt = -ge / taue : volt
    dgi/dt = -gi / taui : volt
    """
    namespace = dict(taum=TAU_M * ms, taue=TAU_E * ms, taui=TAU_I * ms, Vt=V_TH * mV, Vr=V_RESET * mV,
                     El=V_REST * mV, we=W_EXC * mV, wi=W_INH * mV, Ne=n_exc)
    group = b2.NeuronGroup(n, eqs, threshold="v > Vt", reset="v = Vr", refractory=TAU_REF * ms,
                           method="exact", namespace=namespace)
    group.v = "Vr + rand() * (Vt - Vr)"
    group.ge = 0 * mV
    group.gi = 0 * mV
    exc_syn = b2.Synapses(group, group, on_pre="ge += we", namespace=namespace)
    inh_syn = b2.Synapses(group, group, on_pre="gi += wi", namespace=namespace)
    exc_syn.connect("i < Ne", p=FAN_IN / n, namespace=namespace)
    inh_syn.connect("i >= Ne", p=FAN_IN / n, namespace=namespace)
    monitor = b2.SpikeMonitor(group)
    return b2.Network(group, exc_syn, inh_syn, monitor), monitor, (exc_syn, inh_syn)


def _brian2_synapse_stats(synapses, spike_idx, n: int) -> tuple[int, int]:
    """(number of synapses, synaptic events of the spikes ``spike_idx``)."""
    import numpy as np

    pre = np.concatenate([np.asarray(s.i[:]) for s in synapses])
    return int(pre.size), _out_degree_events(spike_idx, pre, n)


def worker_brian2_cython(n: int, duration_ms: float, seed: int) -> dict:
    """Run Brian2's CUBA in runtime mode with the Cython target; times in s."""
    t0 = time.perf_counter()
    import brian2 as b2
    t_import = time.perf_counter() - t0
    from brian2 import ms

    b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = DT_MS * ms
    b2.seed(seed)

    t_start = time.perf_counter()
    net, monitor, synapses = _brian2_network(n)   # synapse creation is compiled and run here
    t_constructed = time.perf_counter()
    net.run(DT_MS * ms)                           # code generation and compilation, one step
    t_warm = time.perf_counter()
    n_before = int(monitor.num_spikes)
    net.run(duration_ms * ms)
    t_end = time.perf_counter()

    sim_s = t_end - t_warm
    spike_idx = monitor.i[n_before:]
    n_syn, events = _brian2_synapse_stats(synapses, spike_idx, n)
    return {
        "import_s": t_import, "construct_s": t_constructed - t_start, "warmup_s": t_warm - t_constructed,
        "sim_s": sim_s, "total_s": t_end - t_start, "build_s": t_warm - t_start, "synapses": n_syn,
        **_counts(n, duration_ms, len(spike_idx), events, sim_s),
    }


def worker_brian2_cpp(n: int, duration_ms: float, seed: int) -> dict:
    """Run Brian2's CUBA as C++ standalone (``--threads`` OpenMP threads); times in s.

    ``sim_s`` is ``device._last_run_time``; ``total_s`` runs from network
    construction through code generation, compilation, the binary (synapse
    creation, the run, writing results) to reading the spike count back.
    """
    t0 = time.perf_counter()
    import brian2 as b2
    t_import = time.perf_counter() - t0
    from brian2 import ms

    directory = tempfile.mkdtemp(prefix="cuba_cpp_")
    try:
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
        threads = int(os.environ["NUMBA_NUM_THREADS"])       # --threads, as for neurosim
        b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
        b2.defaultclock.dt = DT_MS * ms
        b2.seed(seed)

        t_start = time.perf_counter()
        net, monitor, synapses = _brian2_network(n)
        net.run(duration_ms * ms)
        t_defined = time.perf_counter()
        b2.device.build(directory=directory, compile=True, run=True, with_output=False)
        n_spikes = int(monitor.num_spikes)
        t_end = time.perf_counter()

        sim_s = float(b2.device._last_run_time)
        timers = b2.device.timers
        spike_idx = monitor.i[:]
        n_syn, events = _brian2_synapse_stats(synapses, spike_idx, n)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {
        "import_s": t_import, "define_s": t_defined - t_start,
        "make_s": timers["compile"]["make"], "run_binary_s": timers["run_binary"],
        "sim_s": sim_s, "total_s": t_end - t_start, "build_s": t_end - t_start - sim_s, "synapses": n_syn,
        "peak_rss_children_mib": _peak_rss_mib(resource.RUSAGE_CHILDREN),
        **_counts(n, duration_ms, n_spikes, events, sim_s),
    }


WORKERS = {"neurosim": worker_neurosim, "brian2_cpp": worker_brian2_cpp,
           "brian2_cython": worker_brian2_cython}


def run_worker(sim: str, n: int, duration_ms: float, seed: int) -> None:
    """Worker entry point: one measurement, printed as one JSON line on stdout."""
    result = {"sim": sim, "n": n, "duration_ms": duration_ms, "seed": seed,
              **WORKERS[sim](n, duration_ms, seed)}
    result["peak_rss_mib"] = _peak_rss_mib()
    print(json.dumps(result))


# ---------------------------------------------------------------- the driver
def worker_env(threads: int) -> dict:
    """Environment of every worker: single-threaded BLAS/OpenMP, ``threads`` Numba threads."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS=str(threads))
    return env


def measure(sim: str, n: int, duration_ms: float, seed: int, env: dict, timeout_s: float) -> dict:
    """Run one worker subprocess; its JSON result, or ``{"error": ...}``."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", sim, str(n),
           "--duration", repr(duration_ms), "--seed", str(seed)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"sim": sim, "n": n, "seed": seed, "error": f"timed out after {timeout_s:g} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"sim": sim, "n": n, "seed": seed, "error": f"exit {proc.returncode}: " + " | ".join(tail)}
    return json.loads(lines[-1])


def summarize(runs: list[dict]) -> dict | None:
    """Median of every numeric field over the successful repetitions, plus min/max of ``sim_s``."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return None
    keys = [k for k, v in ok[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    out = {k: statistics.median(r[k] for r in ok) for k in keys}
    out.update(sim_min=min(r["sim_s"] for r in ok), sim_max=max(r["sim_s"] for r in ok), reps=len(ok))
    return out


def machine_info(threads: int, simulators: list[str]) -> dict:
    """CPU, cores, memory, library versions and thread settings of this run."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
               platform.processor())
    mem_kib = next((int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal")), 0)
    versions = {"python": platform.python_version()}
    for pkg in ("neurosim", "numpy", "numba", "brian2", "Cython"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    if "brian2_cpp" in simulators:
        gxx = shutil.which("g++")
        versions["g++"] = (subprocess.run([gxx, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
                           if gxx else "not found")
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
            "memory_gib": round(mem_kib / 2**20, 1), "platform": platform.platform(), "versions": versions,
            "threads": {"neurosim (NUMBA_NUM_THREADS)": threads, "OMP_NUM_THREADS": 1,
                        "brian2_cpp openmp_threads": threads if threads > 1 else 0}}


def _fmt_s(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"


def _fmt_sim(s: dict | None) -> str:
    """Median (min–max) simulation time in s."""
    if s is None:
        return "–"
    if s["reps"] == 1:
        return _fmt_s(s["sim_s"])
    return f"{_fmt_s(s['sim_s'])} ({_fmt_s(s['sim_min'])}–{_fmt_s(s['sim_max'])})"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def headline_table(summary: dict, sizes: list[int]) -> list[str]:
    """The targets table: one row per size."""
    rows = ["| N | neurosim sim [s] | Brian2 C++ sim [s] | Brian2 Cython sim [s] | C++ / neurosim sim "
            "| neurosim total [s] | Brian2 Cython total [s] | Cython / neurosim total | neurosim events/s "
            "| neurosim peak RSS [MiB] | sim ≤ C++ | total ≤ Cython/3 |",
            "|" + "---|" * 12]
    for n in sizes:
        ns_, cpp, cy = (summary.get((sim, n)) for sim in SIMULATORS)
        sim_ratio = cpp["sim_s"] / ns_["sim_s"] if ns_ and cpp else None
        total_ratio = cy["total_s"] / ns_["total_s"] if ns_ and cy else None
        rows.append(
            f"| {n:,} | {_fmt_sim(ns_)} | {_fmt_sim(cpp)} | {_fmt_sim(cy)} | {_fmt_s(sim_ratio)} "
            f"| {_fmt_s(ns_ and ns_['total_s'])} | {_fmt_s(cy and cy['total_s'])} | {_fmt_s(total_ratio)} "
            f"| {'–' if not ns_ else format(ns_['events_per_s'], '.3g')} "
            f"| {'–' if not ns_ else format(ns_['peak_rss_mib'], '.0f')} "
            f"| {_verdict(None if sim_ratio is None else sim_ratio >= 1.0)} "
            f"| {_verdict(None if total_ratio is None else total_ratio >= TOTAL_SPEEDUP_TARGET)} |")
    return rows


#: the parts of build_s shown in the details table, per simulator
BUILD_PARTS = {"neurosim": (("construct_s", "construct"), ("connect_s", "net.build"), ("jit_s", "JIT+1 step")),
               "brian2_cpp": (("define_s", "define"), ("make_s", "make"), ("run_binary_s", "binary")),
               "brian2_cython": (("construct_s", "construct+connect"), ("warmup_s", "codegen+1 step"))}


def detail_table(summary: dict, sizes: list[int]) -> list[str]:
    """Per (simulator, size) details (medians over repetitions)."""
    rows = ["| simulator | N | synapses | import [s] | build [s] | build parts [s] | sim [s] median (min–max) "
            "| total [s] | spikes | rate [Hz] | syn. events | events/s | peak RSS [MiB] | B/synapse |",
            "|" + "---|" * 14]
    for n in sizes:
        for sim in SIMULATORS:
            s = summary.get((sim, n))
            if s is None:
                continue
            rss = f"{s['peak_rss_mib']:.0f}"
            if "peak_rss_children_mib" in s:
                rss += f" (binary/gcc {s['peak_rss_children_mib']:.0f})"
            bps = f"{s['bytes_per_synapse']:.1f}" if "bytes_per_synapse" in s else "–"
            parts = ", ".join(f"{label} {_fmt_s(s[key])}" for key, label in BUILD_PARTS[sim])
            rows.append(
                f"| {sim} | {n:,} | {s['synapses']:.3g} | {_fmt_s(s['import_s'])} | {_fmt_s(s['build_s'])} "
                f"| {parts} | {_fmt_sim(s)} | {_fmt_s(s['total_s'])} | {s['spikes']:,.0f} | {s['rate_hz']:.2f} "
                f"| {s['synaptic_events']:.3g} | {s['events_per_s']:.3g} | {rss} | {bps} |")
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="CUBA at fixed fan-in (p = 80/N), 1 s biological time, dt = 0.1 ms: neurosim "
                    "against Brian2 C++ standalone (same threads) and Brian2 runtime (Cython). Each "
                    "(simulator, size, repetition) runs in its own subprocess.")
    parser.add_argument("sizes", nargs="*", type=int, default=list(DEFAULT_SIZES),
                        help=f"network sizes in neurons (default: {' '.join(map(str, DEFAULT_SIZES))})")
    parser.add_argument("--repeat", type=int, default=3,
                        help=f"repetitions per (simulator, size), seeds {BASE_SEED}, {BASE_SEED + 1}, ... (default 3)")
    parser.add_argument("--duration", type=float, default=DURATION_MS,
                        help=f"biological time to simulate, ms (default {DURATION_MS:g})")
    parser.add_argument("--quick", action="store_true",
                        help=f"validation run: 4000 neurons, {QUICK_DURATION_MS:g} ms, 1 repetition")
    parser.add_argument("--simulators", nargs="+", choices=SIMULATORS, default=list(SIMULATORS),
                        help="which simulators to run (default: all)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of neurosim (NUMBA_NUM_THREADS) and of Brian2 C++ standalone (OpenMP); "
                             "default 1. Brian2's Cython runtime mode is single-threaded")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="limit per worker subprocess, s (default 1800)")
    parser.add_argument("--json", metavar="PATH", help="also save machine info and every raw measurement here")
    parser.add_argument("--worker", nargs=2, metavar=("SIM", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=BASE_SEED, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.duration, args.repeat = [4000], QUICK_DURATION_MS, 1
    if args.repeat < 1 or args.threads < 1 or args.duration <= 0 or any(n < FAN_IN for n in args.sizes):
        parser.error(f"--repeat and --threads must be >= 1, --duration > 0 and every size >= {FAN_IN:g} "
                     "(p = 80/N must be <= 1)")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        sim, n = args.worker
        if sim not in WORKERS:
            raise SystemExit(f"unknown simulator {sim!r}; choose from {', '.join(WORKERS)}")
        run_worker(sim, int(n), args.duration, args.seed)
        return

    simulators = list(args.simulators)
    if importlib.util.find_spec("brian2") is None and any(s in BRIAN2_SIMULATORS for s in simulators):
        print("Brian2 is not installed (pip install brian2==2.9.0): skipping the Brian2 columns.",
              file=sys.stderr)
        simulators = [s for s in simulators if s not in BRIAN2_SIMULATORS]

    info = machine_info(args.threads, simulators)
    env = worker_env(args.threads)
    # one untimed run of each simulator that keeps compiled code between processes (Numba's cache,
    # Brian2's Cython extension cache), so no measured run pays for a stale or empty cache
    for sim in (s for s in simulators if s != "brian2_cpp"):
        res = measure(sim, min(args.sizes), DT_MS * 10, BASE_SEED, env, args.timeout)
        print(f"[{sim} warm-up] {res.get('error') or 'done'}", file=sys.stderr, flush=True)
    raw = []
    for n in args.sizes:
        for r in range(args.repeat):          # interleaved, so slow drifts hit every simulator alike
            for sim in simulators:
                res = measure(sim, n, args.duration, BASE_SEED + r, env, args.timeout)
                status = res.get("error") or f"sim {res['sim_s']:.3f} s, total {res['total_s']:.2f} s"
                print(f"[{sim} N={n} seed={BASE_SEED + r}] {status}", file=sys.stderr, flush=True)
                raw.append(res)
    summary = {(sim, n): summarize([r for r in raw if r["sim"] == sim and r["n"] == n])
               for sim in simulators for n in args.sizes}

    v = info["versions"]
    lines = [
        f"## CUBA, fixed fan-in (p = {FAN_IN:g}/N), {args.duration:g} ms biological time, dt = {DT_MS} ms, "
        f"spike monitor on all neurons",
        "",
        f"Machine: {info['cpu']}, {info['usable_cpus']} usable of {info['logical_cpus']} logical CPUs, "
        f"{info['memory_gib']} GiB. Threads: neurosim NUMBA_NUM_THREADS={args.threads}, Brian2 C++ standalone "
        + (f"openmp_threads={args.threads}" if args.threads > 1 else "1 thread (no OpenMP)")
        + ", Brian2 Cython 1 thread, OMP_NUM_THREADS=1.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        f"Repetitions: {args.repeat} (seeds {BASE_SEED}–{BASE_SEED + args.repeat - 1}), each in a fresh "
        "subprocess; sim times are median (min–max), everything else the median.",
        "",
        *headline_table(summary, args.sizes),
        "",
        *detail_table(summary, args.sizes),
    ]
    errors = [r for r in raw if "error" in r]
    if errors:
        lines += ["", "Failed measurements:"]
        lines += [f"- {r['sim']} N={r['n']} seed={r['seed']}: {r['error']}" for r in errors]
    print("\n".join(lines))
    if args.json:
        from neurosim.atomic import write_text
        saved_args = {k: val for k, val in vars(args).items() if k not in ("worker", "seed")}
        write_text(args.json, json.dumps({"machine": info, "args": saved_args, "runs": raw}, indent=1))


if __name__ == "__main__":
    main()

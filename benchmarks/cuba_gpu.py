"""CUBA and COBA on the GPU backend, scaled at fixed fan-in: events/s, bytes/event, bandwidth bound.

The networks are ``models/cuba.py`` and ``models/coba.py`` with N neurons and
connection probability 80 / N (mean fan-in 80), dt = 0.1 ms, no monitors
(the run's counters give spikes and synaptic events).  For every model and
size, in this process:

* ``gpu_s``: wall time of ``net.run(duration, backend="cupy")`` after a
  one-step warm-up run (kernels compiled, synapses on the device), the
  device synchronised at the end (the run's copy-back already does);
* ``cpu_s``: the same on the Numba backend (``--cpu-max`` neurons at most,
  since large CPU runs take minutes), and ``speedup = cpu_s / gpu_s``;
* ``kernels_s`` and ``graph_gain`` (with ``--compare-launches``): the GPU
  run with every kernel launched one by one, and its time over ``gpu_s``
  (each step's launches are otherwise recorded once as a CUDA graph and
  replayed);
* ``events_per_s``: synaptic events (sum over spikes of the out-degree) / gpu_s;
* ``bytes_per_event``: an estimate of the DRAM traffic per synaptic event,
  ``(traffic of the neuron and delivery (when launched) passes per step x steps +
  synapse traffic per event x events) / events`` with 8 bytes per state
  value read and written, 4+8+2 bytes per synapse read (post, weight, delay;
  4 for a uniform projection) and an 8-byte atomic read-modify-write (16
  bytes) per event (a spike's own bookkeeping, about 30 bytes, is left out:
  a spike has 80 events);
* ``published`` (CUBA): the published run-loop times of the same network
  on GPUs (``PUBLISHED_CUBA``: Brian2CUDA and Brian2GeNN, per biological
  second), interpolated at N as a power law between the two nearest
  published sizes (none beyond them), and each over neurosim's time per
  biological second.  They were measured on other GPUs (a 15-SM GPU and a
  TITAN Xp in 2018), so the ratios compare toolkits and hardware together;
* ``bandwidth_fraction``: ``bytes_per_event x events_per_s`` over the GPU's
  peak memory bandwidth (from the device's memory clock and bus width, or
  ``--bandwidth`` in GB/s), i.e. how close the run is to the bound set by
  memory traffic.

Usage (on a machine with an NVIDIA GPU and CuPy)::

    python benchmarks/cuba_gpu.py                           # 4k ... 4M neurons, 1 s each
    python benchmarks/cuba_gpu.py --sizes 4000 64000 --duration 200 --json gpu.json

Without a GPU it exits with status 2 and says so.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: Published run-loop times, wall seconds per second of biological time, of the same scaled CUBA
#: network (fan-in 80, no monitors): Brian2CUDA's pre-release development runs of August 2018
#: (brian2cuda ``dev/benchmarks_old/results_2018_08_27_*``, benchmark CUBAFixedConnectivityNoMonitor,
#: ``device._last_run_time``), as transcribed in the project's reference sheet on benchmarks (section
#: 4.2).  The first three on one host whose GPU has 15 SMs (model not recorded), the last two on a
#: TITAN Xp.  Brian2GeNN's blow-up at 1e6 is brian2genn issue #68 (postsynaptic-span atomics).
PUBLISHED_CUBA = {
    "brian2cuda": ((1e3, 0.705), (1e4, 1.10), (1e5, 3.98), (1e6, 33.0), (3.5625e6, 118.0)),
    "brian2cuda_1_post_block": ((1e3, 0.658), (1e4, 0.881), (1e5, 1.55), (1e6, 7.33), (3.5625e6, 24.3)),
    "brian2genn": ((1e3, 0.221), (1e4, 0.428), (1e5, 5.25), (1e6, 480.0), (3.5625e6, 5860.0)),
    "brian2cuda_titan_xp": ((1e3, 0.664), (1e4, 0.989), (1e5, 4.07), (1e6, 35.5), (3.5625e6, 124.0)),
    "brian2genn_titan_xp": ((1e3, 0.160), (1e4, 0.314), (1e5, 3.22), (1e6, 81.3), (3.5625e6, 2777.0)),
}
DEFAULT_SIZES = (4_000, 16_000, 64_000, 256_000, 1_024_000, 4_096_000)
FAN_IN = 80


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                   help="network sizes N (neurons); fan-in stays 80 (default: 4k ... 4M)")
    p.add_argument("--models", nargs="+", default=["cuba", "coba"], choices=["cuba", "coba"],
                   help="networks to run (default: both)")
    p.add_argument("--duration", type=float, default=1000.0, help="biological time per run, ms (default 1000)")
    p.add_argument("--cpu-max", type=int, default=256_000,
                   help="largest N also run on the CPU (Numba) for the speed-up (default 256000; 0: none)")
    p.add_argument("--bandwidth", type=float, default=None,
                   help="peak GPU memory bandwidth in GB/s (default: from the device's attributes)")
    p.add_argument("--compare-launches", action="store_true",
                   help="also run every size with the kernels launched one by one instead of replaying "
                        "each step's CUDA graph, and report the ratio (what the graphs save)")
    p.add_argument("--json", type=Path, default=None, help="write the results to this JSON file")
    args = p.parse_args(argv)
    if any(n < 100 for n in args.sizes):
        p.error("--sizes: every N must be >= 100 neurons")
    if args.duration <= 0:
        p.error("--duration must be > 0 ms")
    if args.cpu_max < 0:
        p.error("--cpu-max must be >= 0")
    if args.bandwidth is not None and args.bandwidth <= 0:
        p.error("--bandwidth must be > 0 GB/s")
    return args


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "models" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peak_bandwidth_gbs() -> float:
    """Peak DRAM bandwidth of the current CUDA device (GB/s): 2 x memory clock x bus width."""
    import cupy
    dev = cupy.cuda.Device()
    clock_khz = dev.attributes["MemoryClockRate"]
    bus_bits = dev.attributes["GlobalMemoryBusWidth"]
    return 2.0 * clock_khz * 1e3 * bus_bits / 8 / 1e9


def bytes_per_event(net, steps: int, events: int) -> float:
    """Estimated DRAM bytes moved per synaptic event (see the module docstring)."""
    cn = net._compiled
    n_dyn, rows = cn.n_dyn, cn.S.shape[0]
    ring = bool(net.poisson_inputs) or cn.max_delay_steps > 0  # delivery launched
    per_step = (2 * 8 * rows * n_dyn        # neuron update: every state value read and written
                + (4 + 8 * bool(net.currents)) * n_dyn  # ... its population and drive (read only with currents)
                + 2 * 2 * 8 * n_dyn * ring)  # delivery: read and clear one ring slot (2 receptors)
    uniform = all(int(u) >= 0 for u in cn.proj_uniform)
    per_event = (4 if uniform else 14) + 16  # synapse read + atomic read-modify-write of a double
    return (per_step * steps + per_event * events) / max(events, 1)


def published_at(n: int) -> dict[str, float]:
    """Published seconds per biological second of CUBA at ``n`` neurons, by toolkit: a power law
    between the two nearest published sizes (``PUBLISHED_CUBA``); toolkits whose sizes do not
    reach ``n`` are left out."""
    out = {}
    for name, points in PUBLISHED_CUBA.items():
        sizes, times = np.log(np.array(points)).T
        if sizes[0] <= np.log(n) <= sizes[-1]:
            out[name] = float(np.exp(np.interp(np.log(n), sizes, times)))
    return out


def run_one(model: str, n: int, duration: float, backend: str, graphs: bool = True) -> dict:
    """One timed run; ``graphs=False``: the GPU backend launches its kernels one by one."""
    if backend == "cupy":
        from neurosim.engine.cupy_backend import default_device
        default_device().graphs = graphs
    net = _script(model).build(n=n)
    net.run(net.dt, seed=1, backend=backend, progress=False)  # build, compile, upload; one step
    start = time.perf_counter()
    stats = net.run(duration, backend=backend, progress=False)
    wall = time.perf_counter() - start
    return dict(model=model, n=n, backend=backend, wall_s=wall, steps=stats.steps, spikes=stats.spikes,
                events=stats.synaptic_events, rate_hz=stats.spikes / (n * duration * 1e-3),
                bytes_per_event=bytes_per_event(net, stats.steps, stats.synaptic_events))


def print_published(results: list[dict], duration: float) -> None:
    """CUBA per biological second against the published GPU figures (``published`` of each row)."""
    rows = [r for r in results if r.get("published")]
    if not rows:
        return
    names = list(PUBLISHED_CUBA)
    print("\nCUBA, wall seconds per biological second (neurosim: the whole run call; published: the run loop) "
          "against published GPU figures (interpolated at N; other GPUs, 2018; in brackets: published / neurosim)")
    print(f"{'N':>9} {'neurosim':>9} " + " ".join(f"{k:>26}" for k in names))
    for r in rows:
        cells = [f"{r['published'][k]['s_per_biological_s']:9.3g} ({r['published'][k]['over_neurosim']:8.3g}x)"
                 if k in r["published"] else "-" for k in names]
        print(f"{r['n']:9d} {r['wall_s'] * 1000.0 / duration:9.3g} " + " ".join(f"{c:>26}" for c in cells))


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    from neurosim.engine.cupy_backend import gpu_available
    if not gpu_available():
        print("cuba_gpu.py: no NVIDIA GPU found (or CuPy is not installed: pip install 'neurosim[gpu]'); "
              "this benchmark measures the GPU backend and needs one.", file=sys.stderr)
        return 2
    import cupy
    bandwidth = args.bandwidth or peak_bandwidth_gbs()
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    print(f"GPU: {name}, peak memory bandwidth {bandwidth:.0f} GB/s; {args.duration:g} ms per run, fan-in {FAN_IN}")
    header = (f"{'model':5} {'N':>9} {'gpu [s]':>9} {'events/s':>10} {'B/event':>8} {'of BW':>6} "
              f"{'cpu [s]':>9} {'speed-up':>8} {'rate [Hz]':>9}" + (f" {'graphs':>6}" if args.compare_launches else ""))
    print(header)
    results = []
    for model in args.models:
        for n in args.sizes:
            gpu = run_one(model, n, args.duration, "cupy")
            eps = gpu["events"] / gpu["wall_s"]
            frac = gpu["bytes_per_event"] * eps / (bandwidth * 1e9)
            row = dict(gpu, events_per_s=eps, bandwidth_gbs=bandwidth, bandwidth_fraction=frac)
            if args.compare_launches:
                one_by_one = run_one(model, n, args.duration, "cupy", graphs=False)
                row.update(kernels_s=one_by_one["wall_s"], graph_gain=one_by_one["wall_s"] / gpu["wall_s"])
            if n <= args.cpu_max:
                cpu = run_one(model, n, args.duration, "numba")
                row.update(cpu_s=cpu["wall_s"], speedup=cpu["wall_s"] / gpu["wall_s"])
            if model == "cuba":
                ours = gpu["wall_s"] * 1000.0 / args.duration  # s per biological second
                row["published"] = {k: dict(s_per_biological_s=v, over_neurosim=v / ours)
                                    for k, v in published_at(n).items()}
            results.append(row)
            cpu_txt = f"{row['cpu_s']:9.3f} {row['speedup']:8.2f}" if "cpu_s" in row else f"{'-':>9} {'-':>8}"
            gain_txt = f" {row['graph_gain']:6.2f}" if "graph_gain" in row else ""
            print(f"{model:5} {n:9d} {gpu['wall_s']:9.3f} {eps:10.3g} {gpu['bytes_per_event']:8.1f} "
                  f"{frac:6.1%} {cpu_txt} {gpu['rate_hz']:9.2f}{gain_txt}", flush=True)
    print_published(results, args.duration)
    if args.json:
        from neurosim.atomic import write_text
        write_text(args.json, json.dumps(dict(device=name, duration_ms=args.duration, results=results), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

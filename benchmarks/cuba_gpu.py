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

REPO = Path(__file__).resolve().parents[1]
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
            results.append(row)
            cpu_txt = f"{row['cpu_s']:9.3f} {row['speedup']:8.2f}" if "cpu_s" in row else f"{'-':>9} {'-':>8}"
            gain_txt = f" {row['graph_gain']:6.2f}" if "graph_gain" in row else ""
            print(f"{model:5} {n:9d} {gpu['wall_s']:9.3f} {eps:10.3g} {gpu['bytes_per_event']:8.1f} "
                  f"{frac:6.1%} {cpu_txt} {gpu['rate_hz']:9.2f}{gain_txt}", flush=True)
    if args.json:
        from neurosim.atomic import write_text
        write_text(args.json, json.dumps(dict(device=name, duration_ms=args.duration, results=results), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Drawing random input: neurosim's bulk samplers against one NumPy draw per value, side by side.

For each case, the time to draw the input of ``--steps`` steps (in the
chunks a run uses) with

* ``neurosim``: the network's own ``StimulusGenerator`` (what every backend
  runs: ``neurosim.engine.poisson``), and
* ``numpy``: one NumPy call per source and chunk that draws one value per
  cell: ``rng.random((steps, n)) < p`` and ``np.nonzero`` for a Poisson group,
  ``rng.binomial(n_inputs, p, (steps, targets))`` for a Poisson input (what
  neurosim did before, and what Brian2's NumPy target does per step),

and their ratio.  The mean number of spikes (or input events) per step of
both is printed as a check that they sample the same law.

Cases: constant-rate Poisson groups of 100 k and 1 M neurons at 10 Hz, one
with rates spread over 0-20 Hz, one whose rate changes every millisecond
(5-15 Hz), and Poisson inputs of 1,000 sources at 20 Hz into 12.5 k targets
(Brunel's external drive) and 1 M targets.  dt = 0.1 ms.  ``--threads``:
Numba threads of neurosim's per-cell samplers (as ``run(threads=...)``
gives them); NumPy's generator has one.

    python benchmarks/input_drawing.py                  # 2,000 steps per case, best of 3
    python benchmarks/input_drawing.py --steps 500 --repeat 1 --threads 2
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DT = 0.1  # ms
WEIGHT = 0.1  # mV per Poisson-input event
RATE_DT = 1.0  # ms between the rates of the time-varying case


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2000, help="steps drawn per case (default 2000)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions; the best is reported (default 3)")
    p.add_argument("--threads", type=int, default=1, help="Numba threads for neurosim (default 1)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.repeat < 1 or args.threads < 1:
        p.error("--steps, --repeat and --threads must be >= 1")
    return args


def case_rate(spec, n: int, steps: int) -> np.ndarray:
    """The rate (Hz) of a case: a number, "spread" (0-20 Hz over the neurons) or "varying"
    (5-15 Hz, a new value every RATE_DT ms: shape (n_times,))."""
    if spec == "spread":
        return np.linspace(0.0, 20.0, n)
    if spec == "varying":
        return np.random.default_rng(3).uniform(5.0, 15.0, size=int(steps * DT / RATE_DT) + 2)
    return np.asarray(spec, dtype=np.float64)


def _network(kind: str, n: int, rate: np.ndarray, varying: bool):
    import neurosim as ns
    net = ns.Network(dt=DT)
    if kind == "group":
        net.add_poisson("src", n, rate=rate, rate_dt=RATE_DT if varying else None)
        net.add_population("pop", 1, ns.LIF())
    else:
        pop = net.add_population("pop", n, ns.LIF())
        net.add_poisson_input(pop, n_inputs=1000, rate=rate, weight=WEIGHT)
    net.run(DT, seed=1, backend="numpy", progress=False)  # builds the stimulus generator
    return net


def time_neurosim(net, steps: int) -> tuple[float, float]:
    """Seconds to draw ``steps`` steps with the network's generator (chunked as a run), events per step."""
    from neurosim.network import _CHUNK_VALUES, _MAX_CHUNK_STEPS
    stim, streams = net._stimulus, net._input_streams
    chunk = max(1, min(_MAX_CHUNK_STEPS, _CHUNK_VALUES // stim.width))
    start, t0, events = time.perf_counter(), net.step, 0.0
    for a in range(0, steps, chunk):
        c = stim.chunk(t0 + a, min(chunk, steps - a), streams)
        events += c.src_idx.size + (c.pin_value.sum() / WEIGHT if c.pin_value.size else 0.0)
    return time.perf_counter() - start, events / steps


def time_numpy(kind: str, n: int, rate: np.ndarray, varying: bool, steps: int) -> tuple[float, float]:
    """Seconds to draw ``steps`` steps one value per cell with NumPy, events per step."""
    from neurosim.network import _CHUNK_VALUES, _MAX_CHUNK_STEPS
    rng = np.random.default_rng(2)
    chunk = max(1, min(_MAX_CHUNK_STEPS, _CHUNK_VALUES // n))  # one value per cell: n per step
    p = rate * DT * 1e-3
    per_step = np.repeat(p, round(RATE_DT / DT))[:, None] if varying else p
    start, events = time.perf_counter(), 0.0
    for a in range(0, steps, chunk):
        m = min(chunk, steps - a)
        if kind == "group":
            events += np.nonzero(rng.random((m, n)) < (per_step[a:a + m] if varying else p))[0].size
        else:
            events += rng.binomial(1000, float(p), (m, n)).sum()
    return time.perf_counter() - start, events / steps


CASES = [
    ("group", 100_000, 10.0, "Poisson group, 100 k neurons, 10 Hz"),
    ("group", 1_000_000, 10.0, "Poisson group, 1 M neurons, 10 Hz"),
    ("group", 1_000_000, "spread", "Poisson group, 1 M neurons, 0-20 Hz"),
    ("group", 1_000_000, "varying", "Poisson group, 1 M neurons, 5-15 Hz changing every ms"),
    ("input", 12_500, 20.0, "Poisson input, 1000 x 20 Hz into 12.5 k targets"),
    ("input", 1_000_000, 20.0, "Poisson input, 1000 x 20 Hz into 1 M targets"),
]


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    from neurosim.engine import numba_backend
    numba_backend.check_threads(args.threads)
    print(f"{args.steps} steps of dt = {DT} ms per case, best of {args.repeat}, neurosim on {args.threads} "
          f"Numba thread(s), NumPy on one")
    print("| case | neurosim [ms/step] | NumPy one draw per value [ms/step] | NumPy / neurosim | "
          "events per step (neurosim / NumPy) |")
    print("|---|---|---|---|---|")
    for kind, n, rate, label in CASES:
        varying = rate == "varying"
        rate = case_rate(rate, n, args.steps)
        best_ns = best_np = np.inf
        warm = min(args.steps, 400)  # untimed: compiled code loaded, fresh memory touched once
        with numba_backend.threads(args.threads):
            time_neurosim(_network(kind, n, rate, varying), warm)
        time_numpy(kind, n, rate, varying, warm)
        for _ in range(args.repeat):
            with numba_backend.threads(args.threads):
                wall, ev_ns = time_neurosim(_network(kind, n, rate, varying), args.steps)
            best_ns = min(best_ns, wall)
            wall, ev_np = time_numpy(kind, n, rate, varying, args.steps)
            best_np = min(best_np, wall)
        print(f"| {label} | {1e3 * best_ns / args.steps:.3f} | {1e3 * best_np / args.steps:.3f} | "
              f"{best_np / best_ns:.1f} | {ev_ns:.1f} / {ev_np:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training step (forward + backward) on the CPU or a GPU: neurosim against snnTorch and the GEMM floor.

Two networks, as in ``/work/shared/references/benchmarks.md`` section 3.3:

* ``mlp``: T = 100 steps, batch 32, two layers of [Linear(512, 512) -> LIF];
* ``onm``: the Open-Neuromorphic setup, T = 500, batch 16, one [Linear(4096, 4096) -> LIF].

Common settings: input ``randn(T, B, n) * 1.5`` (no gradient), beta 0.95,
threshold 1, subtractive reset, fast-sigmoid surrogate (slope 25), loss = sum
of the last layer's output spikes, Linear layers with bias, float32.

Implementations (key: what):

* ``neurosim``: each Linear applied once to the whole ``(T, B, n)`` sequence
  (one GEMM), then ``neurosim.train.LIF(n, 0.95, reset="subtract",
  surrogate=("fast_sigmoid", 25.0))`` (fused Numba time scan, forward and backward);
* ``snntorch``: ``snntorch.Leaky(beta=0.95, reset_mechanism="subtract",
  spike_grad=surrogate.fast_sigmoid(slope=25))`` stepped in a Python loop over
  ``x.unbind(0)`` with the Linear inside the loop (the Open-Neuromorphic
  snnTorch model).  snnTorch's default ``reset_delay=True`` subtracts the
  threshold *after* the decay of the next step (``U[t] = beta U[t-1] + I[t] -
  S[t-1]``), neurosim before it (``u[t] = beta (u[t-1] - S[t-1]) + z[t]``), so
  the two produce slightly different spikes;
* ``snntorch_nodelay``: the same with ``reset_delay=False``, which is
  neurosim's equation (identical spikes as long as no membrane stays above
  threshold after its reset, see the check printed at the start);
* ``floor``: the same Linear layers, forward and backward, without neurons
  (the matmuls alone: forward GEMMs, weight gradients and, from the second
  layer on, input gradients), i.e. the measured GEMM floor.

Every (case, implementation) runs in a fresh worker subprocess
(``--worker IMPL --spec JSON``, one JSON line on stdout): build the model and
the input (same seed, hence the same weights everywhere), ``--warmup`` steps
(discarded; Numba compiles or loads its cache here), then ``--repeat`` timed
steps, ``time.perf_counter`` around the forward pass (including the loss) and
around ``loss.backward()``; parameter gradients are dropped between steps.

Peak memory is measured in a second fresh worker per (case, implementation)
(``--mode memory``): after setup and ``--warmup`` steps it reads ``VmRSS``
from ``/proc/self/status``, resets the RSS high-water mark (``echo 5 >
/proc/self/clear_refs``), runs one training step and reads ``VmHWM``; the
reported peak is ``VmHWM - VmRSS_before``, the memory the training step
itself needs on top of model, input and libraries.  The memory worker runs
with glibc's mmap threshold fixed at ``--mmap-threshold`` bytes (default
4096, via ``MALLOC_MMAP_THRESHOLD_``; also ``MALLOC_TRIM_THRESHOLD_=0`` and
``MALLOC_TOP_PAD_=0``) so that every tensor of a page or more is its own
mapping and leaves the resident set when freed.  With glibc's
default dynamic threshold, blocks freed after the warm-up step stay in the heap
and are reused, which hides the peak (snnTorch's per-step tensors then show
0 MiB).  The fixed threshold makes allocation slower (a page fault per page of
every tensor), which is why the timing workers keep glibc's default.

On a GPU (``--device cuda``) every implementation runs on the current CUDA
device in float32: neurosim's LIF layers use the fused CUDA scan
(``kernels/lif_scan.cu`` through CuPy; without CuPy, or when CuPy sees no
GPU, neurosim falls back to its PyTorch reference loop and the results say so
in ``lif_path``), the timers call ``torch.cuda.synchronize()`` before reading
the clock, and the memory worker reports the peak of
``torch.cuda.max_memory_allocated`` during one step above the memory
allocated before it (instead of the RSS).  The spike check always runs on the
CPU in float64 (it checks the equations, not the device).  The issue's GPU
target is snnTorch / neurosim >= 3 on the ``onm`` case.  Without a CUDA
device ``--device cuda`` exits with status 2 and says why.

Usage::

    python benchmarks/train_vs_snntorch.py --quick
    python benchmarks/train_vs_snntorch.py --json benchmarks/results/train_vs_snntorch.json
    python benchmarks/train_vs_snntorch.py --device cuda --json benchmarks/results/train_vs_snntorch_gpu.json
"""
from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time

#: the two networks of benchmarks.md section 3.3 (n = neurons per layer)
CASES = {
    "mlp": {"layers": 2, "n": 512, "batch": 32, "steps": 100},
    "onm": {"layers": 1, "n": 4096, "batch": 16, "steps": 500},
}
#: --quick: the same shapes scaled down for a smoke test
QUICK_CASES = {
    "mlp": {"layers": 2, "n": 128, "batch": 8, "steps": 50},
    "onm": {"layers": 1, "n": 512, "batch": 16, "steps": 100},
}
IMPLS = ("neurosim", "snntorch", "snntorch_nodelay", "floor")
BETA, THRESHOLD, SLOPE, INPUT_SCALE = 0.95, 1.0, 25.0, 1.5
#: the spike check's second input scale (no membrane above threshold after a reset)
CHECK_WEAK_SCALE = 0.5
SEED = 1234
#: targets: snnTorch / neurosim time for onm, neurosim / floor for mlp
SPEEDUP_TARGET = {"onm": 3.0}
FLOOR_TARGET = {"mlp": 1.3}
#: fwd+bwd medians [ms] measured in benchmarks.md section 3.3 (2 threads), for orientation
REFERENCE_MS = {("mlp", "snntorch"): 136.0, ("onm", "snntorch"): 22213.0}
#: glibc mmap threshold of the memory workers (bytes)
MMAP_THRESHOLD = 4096
MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


# ------------------------------------------------------------------ memory
def proc_status_kib(field: str) -> int:
    """A ``Vm...`` field of ``/proc/self/status`` in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss() -> int:
    """Reset the RSS high-water mark to the current RSS; returns that RSS (KiB)."""
    gc.collect()
    rss = proc_status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return rss


# ------------------------------------------------------------------ models
def build(impl: str, spec: dict, dtype=None, detach_reset: bool = True):
    """The network of ``spec`` for implementation ``impl``; weights from the current torch seed."""
    import torch
    from torch import nn

    n, layers = spec["n"], spec["layers"]
    fcs = nn.ModuleList(nn.Linear(n, n) for _ in range(layers))

    if impl == "neurosim":
        from neurosim.train import LIF

        lifs = nn.ModuleList(LIF(n, BETA, threshold=THRESHOLD, reset="subtract",
                                 surrogate=("fast_sigmoid", SLOPE), detach_reset=detach_reset)
                             for _ in range(layers))

        class NeurosimNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.fcs, self.lifs = fcs, lifs

            def forward(self, x):
                for fc, lif in zip(self.fcs, self.lifs):
                    x = lif(fc(x))            # one GEMM over all T * B rows, one fused scan
                return x

        net = NeurosimNet()
    elif impl in ("snntorch", "snntorch_nodelay"):
        import snntorch
        from snntorch import surrogate

        # beta as a tensor of the run's dtype: in the float64 spike check it is then exactly 0.95, as
        # in neurosim (snnTorch would otherwise store float32(0.95) and .to(float64) would keep that)
        beta = torch.tensor(BETA, dtype=dtype or torch.get_default_dtype())
        lifs = nn.ModuleList(snntorch.Leaky(beta=beta, threshold=THRESHOLD, reset_mechanism="subtract",
                                            spike_grad=surrogate.fast_sigmoid(slope=SLOPE),
                                            reset_delay=(impl == "snntorch"))
                             for _ in range(layers))

        class SnnTorchNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.fcs, self.lifs = fcs, lifs

            def forward(self, x):
                mems = [x.new_zeros(x.shape[1], n) for _ in self.lifs]
                out = []
                for h in x.unbind(0):                 # the ONM model: Linear inside the time loop
                    for i, (fc, lif) in enumerate(zip(self.fcs, self.lifs)):
                        h, mems[i] = lif(fc(h), mems[i])
                        h = h.to(x.dtype)             # snnTorch spikes are float32; no-op in float32
                    out.append(h)
                return torch.stack(out)

            def reset_state(self):
                for lif in self.lifs:                 # drop the graph the neurons keep in .mem
                    lif.mem = lif.reset = None

        net = SnnTorchNet()
    elif impl == "floor":
        class Floor(nn.Module):
            def __init__(self):
                super().__init__()
                self.fcs = fcs

            def forward(self, x):
                for fc in self.fcs:
                    x = fc(x)
                return x

        net = Floor()
    else:
        raise ValueError(f"unknown implementation {impl!r}; choose from {', '.join(IMPLS)}")
    return net.to(dtype) if dtype is not None else net


def make_input(spec: dict, dtype=None):
    import torch

    return torch.randn(spec["steps"], spec["batch"], spec["n"], dtype=dtype) * INPUT_SCALE


def cuda_problem() -> str | None:
    """Why ``--device cuda`` cannot run here, or None when it can."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return (f"PyTorch {torch.__version__} sees no CUDA device (a CPU-only build, or no GPU/driver); "
                "run on a machine with an NVIDIA GPU and a CUDA build of PyTorch")
    return None


def lif_path(device: str) -> str:
    """What neurosim's LIF layers run on ``device``."""
    if device == "cpu":
        return "Numba scan"
    from neurosim.train.cuda_ops import cuda_kernels_available
    return "CUDA kernel (CuPy)" if cuda_kernels_available() else "PyTorch reference loop (CuPy sees no GPU)"


# ------------------------------------------------------------------ worker
def run_worker(impl: str, spec: dict, threads: int, warmup: int, repeat: int, mode: str,
               device: str = "cpu") -> dict:
    """Warm-up, then ``repeat`` training steps: their times (ms, ``mode="time"``) or the
    memory increase they cause (MiB, ``mode="memory"``: RSS on the CPU, CUDA allocator on a GPU)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    net = build(impl, spec).to(device)
    x = make_input(spec).to(device)
    load_start = os.getloadavg()
    cuda = device == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def step():
        sync()
        t0 = time.perf_counter()
        out = net(x)
        loss = out.sum()
        sync()
        t1 = time.perf_counter()
        loss.backward()
        sync()
        t2 = time.perf_counter()
        spikes = float(loss.detach()) if impl != "floor" else float("nan")
        for p in net.parameters():
            p.grad = None
        if hasattr(net, "reset_state"):
            net.reset_state()
        return (t1 - t0) * 1e3, (t2 - t1) * 1e3, spikes

    for _ in range(warmup):
        step()
    if mode == "memory" and cuda:
        sync()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        for _ in range(repeat):
            step()
        peak = torch.cuda.max_memory_allocated()
        return {"peak_mib": (peak - before) / 2**20, "rss_before_mib": before / 2**20,
                "hwm_mib": peak / 2**20, "memory_measure": "torch.cuda.max_memory_allocated"}
    if mode == "memory":
        rss_before = reset_peak_rss()
        for _ in range(repeat):
            step()
        hwm = proc_status_kib("VmHWM")
        return {"peak_mib": (hwm - rss_before) / 1024.0, "rss_before_mib": rss_before / 1024.0,
                "hwm_mib": hwm / 1024.0, "mmap_threshold": os.environ.get("MALLOC_MMAP_THRESHOLD_")}
    times = [step() for _ in range(repeat)]
    fwd, bwd = [t[0] for t in times], [t[1] for t in times]
    total = [f + b for f, b in zip(fwd, bwd)]
    neuron_steps = spec["layers"] * spec["n"] * spec["batch"] * spec["steps"]
    out = {
        "fwd_ms": statistics.median(fwd), "bwd_ms": statistics.median(bwd),
        "total_ms": statistics.median(total), "total_min_ms": min(total), "total_max_ms": max(total),
        "raw_fwd_ms": fwd, "raw_bwd_ms": bwd,
        "neuron_steps_per_s": neuron_steps / (statistics.median(total) * 1e-3),
        "output_spikes": times[-1][2], "torch_threads": torch.get_num_threads(),
        "load_avg_start": load_start, "load_avg_end": os.getloadavg(), "device": device,
    }
    if impl == "neurosim":
        out["lif_path"] = lif_path(device)
    if impl == "neurosim" and not cuda:
        import numba

        out["numba_threads"] = numba.config.NUMBA_NUM_THREADS
        try:
            out["numba_threading_layer"] = numba.threading_layer()
        except ValueError:                # no parallel kernel ran: the scans are serial
            out["numba_threading_layer"] = "not used"
    return out


# ------------------------------------------------------------------ spike check
def spike_check(threads: int) -> dict:
    """Same weights and input in neurosim and snnTorch, small float64 case: compare spikes.

    float64 so that the different GEMM orders (one GEMM for the sequence
    against one per step) cannot flip a spike by rounding.  Two inputs: the
    benchmark's ``randn * 1.5`` and a weaker ``randn * 0.5``, under which no
    membrane stays above threshold after its reset (the proviso under which
    snnTorch's ``reset_delay=False`` equals neurosim's subtractive reset).
    Also compares the weight gradients of neurosim with ``detach_reset=False``
    against ``snntorch_nodelay`` (whose reset term carries the spike's
    surrogate gradient too).
    """
    import torch

    torch.set_num_threads(threads)
    spec = {"layers": 2, "n": 64, "batch": 4, "steps": 100}
    result = {"spec": spec, "dtype": "float64", "inputs": {}}
    for scale in (INPUT_SCALE, CHECK_WEAK_SCALE):
        torch.manual_seed(SEED)
        x = make_input(spec, torch.float64) * (scale / INPUT_SCALE)
        nets = {}
        for key, impl, detach in (("neurosim", "neurosim", True), ("neurosim_nodetach", "neurosim", False),
                                  ("snntorch", "snntorch", True), ("snntorch_nodelay", "snntorch_nodelay", True)):
            torch.manual_seed(SEED + 1)                   # identical weights in every network
            net = build(impl, spec, torch.float64, detach_reset=detach)
            spikes = net(x)                               # the last layer's spikes (T, B, n)
            spikes.sum().backward()
            nets[key] = (net, spikes.detach())
        ref = nets["neurosim"][1]
        res = {"neurosim_spikes": int(ref.sum()), "elements": ref.numel()}
        for key in ("snntorch", "snntorch_nodelay"):
            diff = nets[key][1] != ref
            first = int(diff.any(-1).any(-1).nonzero()[0]) if diff.any() else None
            res[key] = {"spikes": int(nets[key][1].sum()), "differing": int(diff.sum()),
                        "first_step_differing": first}
        res["nodelay_membrane_above_threshold_after_reset"] = bool(
            _max_mem_after_reset(nets["snntorch_nodelay"][0], x) > THRESHOLD)
        pairs = zip(nets["neurosim_nodetach"][0].parameters(), nets["snntorch_nodelay"][0].parameters())
        res["grad_rel_diff_nodetach_vs_nodelay"] = max(
            float((a.grad - b.grad).abs().max() / b.grad.abs().max().clamp_min(1e-300)) for a, b in pairs)
        result["inputs"][f"randn*{scale:g}"] = res
    return result


def _max_mem_after_reset(net, x) -> float:
    """Largest membrane (after the reset) of a ``reset_delay=False`` snnTorch network over the run."""
    import torch

    with torch.no_grad():
        mems = [x.new_zeros(x.shape[1], net.fcs[0].out_features) for _ in net.lifs]
        top = -float("inf")
        for h in x.unbind(0):
            for i, (fc, lif) in enumerate(zip(net.fcs, net.lifs)):
                h, mems[i] = lif(fc(h), mems[i])
                h = h.to(x.dtype)
                top = max(top, float(mems[i].max()))
    return top


# ------------------------------------------------------------------ driver
def check_lines(check: dict) -> list[str]:
    spec = check["spec"]
    lines = [f"Spike check (float64, same weights and input, {spec['layers']} × {spec['n']}, B {spec['batch']}, "
             f"T {spec['steps']}; output spikes of the last layer compared element by element):"]
    for name, res in check["inputs"].items():
        lines.append(f"  input {name}: neurosim {res['neurosim_spikes']} spikes in {res['elements']} elements")
        for key in ("snntorch", "snntorch_nodelay"):
            c = res[key]
            lines.append(f"    {key}: {c['spikes']} spikes, {c['differing']} elements differ from neurosim"
                         + (f" (first at step {c['first_step_differing']})" if c["differing"] else " (identical)"))
        lines.append(f"    snntorch_nodelay membrane above threshold after a reset: "
                     f"{res['nodelay_membrane_above_threshold_after_reset']}; weight gradients "
                     f"neurosim(detach_reset=False) vs snntorch_nodelay, max rel. diff "
                     f"{res['grad_rel_diff_nodetach_vs_nodelay']:.1e}")
    return lines


def worker_env(threads: int, mmap_threshold: int | None) -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
    for key in MALLOC_ENV:
        env.pop(key, None)
    if mmap_threshold is not None:
        env.update(malloc_env(mmap_threshold))
    return env


def malloc_env(mmap_threshold: int) -> dict:
    """glibc settings of the memory workers: every block of ``mmap_threshold`` bytes or more is
    its own mapping, and freed memory at the top of the heap is returned at once."""
    return {"MALLOC_MMAP_THRESHOLD_": str(mmap_threshold), "MALLOC_TRIM_THRESHOLD_": "0", "MALLOC_TOP_PAD_": "0"}


def run_subprocess(cmd: list[str], env: dict, timeout: float) -> dict:
    """Run one worker; its JSON line, or ``{"error": ...}``."""
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    return json.loads(lines[-1])


def worker_cmd(impl: str, spec: dict, args, repeat: int, mode: str) -> list[str]:
    return [sys.executable, os.path.abspath(__file__), "--worker", impl, "--spec", json.dumps(spec),
            "--threads", str(args.threads), "--warmup", str(args.warmup), "--repeat", str(repeat),
            "--mode", mode, "--device", args.device]


def merge_rounds(rounds: list[dict], spec: dict) -> dict:
    """One result from the time workers of all rounds: medians over every timed step."""
    fwd = [t for r in rounds for t in r["raw_fwd_ms"]]
    bwd = [t for r in rounds for t in r["raw_bwd_ms"]]
    total = [f + b for f, b in zip(fwd, bwd)]
    out = dict(rounds[0])
    out.update(fwd_ms=statistics.median(fwd), bwd_ms=statistics.median(bwd), total_ms=statistics.median(total),
               total_min_ms=min(total), total_max_ms=max(total), raw_fwd_ms=fwd, raw_bwd_ms=bwd,
               load_avg_end=rounds[-1]["load_avg_end"], rounds=len(rounds))
    neuron_steps = spec["layers"] * spec["n"] * spec["batch"] * spec["steps"]
    out["neuron_steps_per_s"] = neuron_steps / (out["total_ms"] * 1e-3)
    return out


def measure_case(case: str, spec: dict, args) -> list[dict]:
    """Time workers (glibc default malloc), ``--rounds`` rounds interleaved over the
    implementations in rotating order, then one memory worker (fixed mmap threshold) each."""
    impls = list(args.impls)
    timed: dict[str, list] = {impl: [] for impl in impls}
    for rnd in range(args.rounds):
        for impl in impls[rnd % len(impls):] + impls[:rnd % len(impls)]:
            r = run_subprocess(worker_cmd(impl, spec, args, args.repeat, "time"),
                               worker_env(args.threads, None), args.timeout)
            timed[impl].append(r)
            if "error" not in r:
                steps = [f + b for f, b in zip(r["raw_fwd_ms"], r["raw_bwd_ms"])]
                status = f"fwd+bwd {statistics.median(steps):.1f} ms (median of {len(steps)})"
            else:
                status = r["error"]
            print(f"[{case} {impl} round {rnd + 1}/{args.rounds}] {status}", file=sys.stderr, flush=True)
    results = []
    for impl in impls:
        base = {"impl": impl, "case": case, "spec": spec}
        errors = [r["error"] for r in timed[impl] if "error" in r]
        if errors:
            results.append({**base, "error": errors[0]})
            continue
        mem = run_subprocess(worker_cmd(impl, spec, args, 1, "memory"),
                             worker_env(args.threads, args.mmap_threshold), args.timeout)
        if "error" in mem:
            mem = {"peak_mib": float("nan"), "rss_before_mib": float("nan"), "memory_error": mem["error"]}
        r = {**base, **merge_rounds(timed[impl], spec), **mem}
        print(f"[{case} {impl}] fwd+bwd {r['total_ms']:.1f} ms (fwd {r['fwd_ms']:.1f}, bwd {r['bwd_ms']:.1f}), "
              f"peak +{r['peak_mib']:.0f} MiB", file=sys.stderr, flush=True)
        results.append(r)
    return results


def machine_info(args) -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
               platform.processor())
    mem_kib = next((int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal")), 0)
    versions = {"python": platform.python_version()}
    for pkg in ("neurosim", "torch", "snntorch", "numpy", "numba", "cupy-cuda12x", "cupy-cuda13x"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    gpu = None
    if args.device == "cuda":
        import torch
        gpu = {"name": torch.cuda.get_device_name(), "cuda": torch.version.cuda,
               "lif_path": lif_path("cuda")}
    return {"cpu": cpu, "gpu": gpu, "device": args.device, "logical_cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
            "memory_gib": round(mem_kib / 2**20, 1), "platform": platform.platform(), "versions": versions,
            "threads": args.threads,
            "malloc": "time runs: glibc default; memory runs: "
                      + " ".join(f"{k}={v}" for k, v in malloc_env(args.mmap_threshold).items())}


def _ms(r: dict | None, key: str = "total_ms") -> str:
    if r is None or "error" in r:
        return "–"
    v = r[key]
    return f"{v:.4g}" if v < 100 else f"{v:.0f}"


def _time_cell(r: dict | None) -> str:
    if r is None or "error" in r:
        return "–"
    return f"{_ms(r)} ({_ms(r, 'total_min_ms')})"


def _ratio(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or "error" in a or "error" in b:
        return None
    return a["total_ms"] / b["total_ms"]


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "–" if x is None else format(x, spec)


def _verdict(value: float | None, target: float | None, higher_is_better: bool) -> str:
    if target is None:
        return ""
    if value is None:
        return "n/a"
    ok = value >= target if higher_is_better else value <= target
    return f"{'PASS' if ok else 'FAIL'} ({'≥' if higher_is_better else '≤'} {target:g})"


def tables(results: list[dict], cases: list[str], quick: bool, device: str = "cpu") -> list[str]:
    get = {(r["case"], r["impl"]): r for r in results}
    rows = ["| case | shape (layers × n, B, T) | neurosim [ms] | snnTorch [ms] | snnTorch reset_delay=False [ms] "
            "| GEMM floor [ms] | snnTorch / neurosim | snnTorch(nodelay) / neurosim | neurosim / floor "
            "| peak neurosim / snnTorch / nodelay / floor [MiB] |",
            "|" + "---|" * 10]
    for case in cases:
        ns_, st, nd, fl = (get.get((case, i)) for i in ("neurosim", "snntorch", "snntorch_nodelay", "floor"))
        spec = (ns_ or st or fl or {}).get("spec", {})
        sp, spn, fr = _ratio(st, ns_), _ratio(nd, ns_), _ratio(ns_, fl)
        tgt_s = None if quick else SPEEDUP_TARGET.get(case)
        tgt_f = None if quick or device != "cpu" else FLOOR_TARGET.get(case)
        peaks = " / ".join("–" if not r or "error" in r else f"{r['peak_mib']:.0f}" for r in (ns_, st, nd, fl))
        rows.append(f"| {case} | {spec.get('layers')} × {spec.get('n')}, {spec.get('batch')}, {spec.get('steps')} "
                    f"| {_time_cell(ns_)} | {_time_cell(st)} | {_time_cell(nd)} | {_time_cell(fl)} "
                    f"| {_fmt(sp)} {_verdict(sp, tgt_s, True)} | {_fmt(spn)} "
                    f"| {_fmt(fr)} {_verdict(fr, tgt_f, False)} | {peaks} |")
    rows += ["", "| case | implementation | fwd [ms] | bwd [ms] | fwd+bwd [ms] median (min–max) | neuron-steps/s "
             + ("| peak RSS increment [MiB] | RSS before [MiB] " if device == "cpu"
                else "| peak CUDA memory increment [MiB] | CUDA memory before [MiB] ")
             + "| output spikes | §3.3 reference [ms] | load avg (1 min) |",
             "|" + "---|" * 11]
    for case in cases:
        for impl in IMPLS:
            r = get.get((case, impl))
            if r is None:
                continue
            if "error" in r:
                rows.append(f"| {case} | {impl} | error: {r['error']} |" + " |" * 8)
                continue
            ref = REFERENCE_MS.get((case, impl)) if not quick and device == "cpu" else None
            spikes = "–" if impl == "floor" else f"{r['output_spikes']:.0f}"
            rows.append(f"| {case} | {impl} | {_ms(r, 'fwd_ms')} | {_ms(r, 'bwd_ms')} "
                        f"| {_ms(r)} ({_ms(r, 'total_min_ms')}–{_ms(r, 'total_max_ms')}) "
                        f"| {r['neuron_steps_per_s']:.3g} | {r['peak_mib']:.1f} | {r['rss_before_mib']:.0f} "
                        f"| {spikes} | {'–' if ref is None else f'{ref:g}'} "
                        f"| {r['load_avg_start'][0]:.2f} → {r['load_avg_end'][0]:.2f} |")
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Training step time and peak memory: neurosim (one GEMM + fused LIF scan) against "
                    "snnTorch (Leaky in a Python time loop) and the GEMM floor; each measurement in a "
                    "fresh subprocess.")
    p.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES),
                   help="networks to run (default: mlp onm)")
    p.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS),
                   help="implementations to run (default: all)")
    p.add_argument("--repeat", type=int, default=5, help="timed steps per time worker (default 5)")
    p.add_argument("--rounds", type=int, default=1,
                   help="time workers per (case, implementation), run interleaved over the implementations "
                        "so that load drifts hit all alike; medians over all their steps (default 1)")
    p.add_argument("--warmup", type=int, default=1, help="discarded steps before timing (default 1)")
    p.add_argument("--threads", type=int, default=2,
                   help="torch intra-op threads and NUMBA_NUM_THREADS (default 2)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: small shapes (mlp 2 × 128, B 8, T 50; onm 512, B 16, T 100), repeat 2")
    p.add_argument("--mmap-threshold", type=int, default=MMAP_THRESHOLD,
                   help=f"MALLOC_MMAP_THRESHOLD_ of the memory workers, bytes (default {MMAP_THRESHOLD})")
    p.add_argument("--mode", choices=("time", "memory"), default="time", help=argparse.SUPPRESS)
    p.add_argument("--timeout", type=float, default=1800.0, help="limit per worker, s (default 1800)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where the training steps run (default cpu); cuda: the current CUDA device, "
                        "neurosim with its CUDA LIF kernel (needs CuPy)")
    p.add_argument("--json", metavar="PATH", help="save machine info, the spike check and all measurements")
    p.add_argument("--worker", metavar="IMPL", help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick and "--repeat" not in " ".join(argv if argv is not None else sys.argv):
        args.repeat = 2
    if args.repeat < 1 or args.rounds < 1 or args.warmup < 0 or args.threads < 1:
        p.error("--repeat, --rounds and --threads must be >= 1, --warmup >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, json.loads(args.spec), args.threads, args.warmup, args.repeat,
                                    args.mode, args.device)))
        return 0
    if args.device == "cuda":
        problem = cuda_problem()
        if problem is not None:
            print(f"--device cuda: cannot run: {problem}. Nothing was measured.", file=sys.stderr)
            return 2
        path = lif_path("cuda")
        if path != "CUDA kernel (CuPy)":
            print(f"warning: neurosim's LIF layers will run the {path}, not the fused CUDA kernel: "
                  "install CuPy matching the CUDA driver (pip install 'neurosim[gpu]')", file=sys.stderr)

    info = machine_info(args)
    info["load_avg_start"] = os.getloadavg()
    specs = QUICK_CASES if args.quick else CASES

    check = spike_check(args.threads)
    print("\n".join(check_lines(check)), file=sys.stderr, flush=True)

    results = []
    for case in args.cases:
        results += measure_case(case, specs[case], args)
    info["load_avg_end"] = os.getloadavg()
    info["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

    v = info["versions"]
    where = "" if args.device == "cpu" else f" on {info['gpu']['name']} (LIF: {info['gpu']['lif_path']})"
    lines = [f"## Training step (fwd+bwd), neurosim vs snnTorch{where}{' (--quick)' if args.quick else ''}", "",
             f"Machine: {info['cpu']}, {info['usable_cpus']} usable CPUs, {info['memory_gib']} GiB; "
             f"{args.threads} threads (torch and Numba); {info['malloc']}.",
             "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
             f"Load average at start {', '.join(f'{x:.2f}' for x in info['load_avg_start'])}; at end "
             f"{', '.join(f'{x:.2f}' for x in info['load_avg_end'])}.",
             f"Times: median (min) of {args.rounds} × {args.repeat} steps, each fresh subprocess (round) "
             f"after {args.warmup} warm-up step(s); rounds interleaved over the implementations. "
             "Peak: RSS high-water mark during one step after the "
             "warm-up minus RSS before it, in a second fresh subprocess (glibc settings above).", "",
             *tables(results, args.cases, args.quick, args.device)]
    print("\n".join(lines))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        from neurosim.atomic import write_text
        saved = {k: val for k, val in vars(args).items() if k not in ("worker", "spec", "mode")}
        write_text(args.json, json.dumps({"machine": info, "args": saved, "cases": {c: specs[c] for c in args.cases},
                                          "spike_check": check, "runs": results}, indent=1))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

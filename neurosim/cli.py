"""Command line: ``neurosim run MODEL.py --duration 1000 --plot out.png``,
``neurosim train SCRIPT.py --set name=value``, ``neurosim evaluate CHECKPOINT --data DIR``,
``neurosim deploy CHECKPOINT --target loihi2 --out DIR``, ``neurosim compare SCRIPT.py``."""
from __future__ import annotations

import argparse
import json
import sys

from . import analysis, io
from .scripts import build_network, load_script, parse_overrides


def _run(args: argparse.Namespace) -> int:
    module = load_script(args.script)
    net = build_network(module, parse_overrides(args.set))
    monitors = {mon.source.name: mon for mon in net.spike_monitors}
    for pop in net.populations:
        if pop.name not in monitors:
            monitors[pop.name] = net.monitor_spikes(pop)
    stats = net.run(args.duration, seed=args.seed, backend=args.backend, progress=not args.no_progress,
                    threads=args.threads)
    rows = []
    for name, mon in monitors.items():
        rows.append({"population": name, "neurons": mon.record.size, "spikes": int(mon.times.size),
                     "rate_hz": analysis.mean_rate(mon, stats.duration) if stats.duration > 0 else float("nan"),
                     "cv_isi": analysis.isi_cv(mon)})
    summary = {
        "model": args.script, "duration_ms": stats.duration, "dt_ms": net.dt, "backend": stats.backend,
        "neurons": sum(p.n for p in net.populations), "synapses": net.n_synapses,
        "spikes": stats.spikes, "synaptic_events": stats.synaptic_events,
        "wall_time_s": stats.wall_time, "events_per_s": stats.events_per_second, "populations": rows,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{args.script}: {summary['neurons']} neurons, {summary['synapses']} synapses, "
              f"{stats.duration:g} ms at dt = {net.dt:g} ms on {stats.backend}")
        print(f"{'population':<12}{'neurons':>9}{'spikes':>10}{'rate (Hz)':>11}{'CV ISI':>8}")
        for r in rows:
            print(f"{r['population']:<12}{r['neurons']:>9}{r['spikes']:>10}{r['rate_hz']:>11.2f}{r['cv_isi']:>8.2f}")
        print(f"spikes {stats.spikes}, synaptic events {stats.synaptic_events}, wall time {stats.wall_time:.3f} s, "
              f"{stats.events_per_second:.3g} events/s")
    if args.save:
        io.save_results(net, args.save)
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        from .plot import overview
        fig = overview(list(monitors.values()), stats.duration)
        fig.savefig(args.plot, dpi=120)
        if not args.json:
            print(f"figure written to {args.plot}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurosim", description="Spiking neural networks: simulate, train, deploy.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a model script (a .py file defining build(**params) -> Network)")
    run.add_argument("script", help="path of the model script, e.g. models/cuba.py")
    run.add_argument("--duration", type=float, default=1000.0, help="biological time to simulate (ms)")
    run.add_argument("--seed", type=int, default=1, help="random seed (connectivity, initial state, input)")
    run.add_argument("--backend", default="auto", choices=["auto", "numpy", "numba", "cupy"],
                     help="engine backend; auto: cupy with a GPU, else numba (default auto)")
    run.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                     help="override build() parameters, e.g. --set n=1000")
    run.add_argument("--threads", type=int, default=1,
                     help="threads for networks of 32k+ neurons (numba backend; identical results; default 1)")
    run.add_argument("--plot", metavar="PNG", help="write a raster and rate figure")
    run.add_argument("--save", metavar="FILE", help="save spikes and metadata (.npz or .h5)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.set_defaults(func=_run)
    train = sub.add_parser("train", help="train a model from a training script (PARAMS, load_data, build_model)")
    train.add_argument("script", help="path of the training script, e.g. models/fsdd_delays.py")
    train.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="override entries of PARAMS")
    train.add_argument("--out", help="output folder (default runs/<script name>)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--json", action="store_true", help="print the summary as JSON")
    train.set_defaults(func=_train)
    ev = sub.add_parser("evaluate", help="evaluate a checkpoint on a WAV folder or an SHD-schema file")
    ev.add_argument("checkpoint", help="best.pt or last.pt written by neurosim train")
    ev.add_argument("--data", required=True, help="folder of {digit}_{speaker}_{index}.wav files, or an .h5 file")
    ev.add_argument("--json", action="store_true", help="print the result as JSON")
    ev.set_defaults(func=_evaluate)
    dep = sub.add_parser("deploy", help="quantise a trained model for a Loihi-style target, export NIR and "
                                        "netx files, place it on cores and report accuracy, energy and latency")
    dep.add_argument("checkpoint", help="best.pt or last.pt written by neurosim train")
    dep.add_argument("--target", default="loihi2", help="hardware target name or TOML file (default loihi2)")
    dep.add_argument("--out", default="deploy", help="output folder (default ./deploy)")
    dep.add_argument("--data", help="WAV folder or SHD-schema file: measure accuracy and activity on it")
    dep.add_argument("--max-samples", type=int, default=100, help="samples of --data to use, evenly spaced (default 100)")
    dep.add_argument("--json", action="store_true", help="print the report as JSON")
    dep.set_defaults(func=_deploy)
    cmp_ = sub.add_parser("compare", help="train (or reuse) a script's SNN and the ANN of the same topology; "
                                         "accuracy, time steps with and without dynamic-confidence exits, "
                                         "operations, energy and latency side by side")
    cmp_.add_argument("script", help="training script, e.g. models/digits_snn.py")
    cmp_.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="override entries of PARAMS")
    cmp_.add_argument("--out", help="output folder (default runs/compare/<script name>)")
    cmp_.add_argument("--max-loss", type=float, default=0.005,
                      help="accuracy the exits may lose on validation, a fraction (default 0.005 = 0.5 points)")
    cmp_.add_argument("--step-budget", type=float, metavar="STEPS",
                      help="instead of --max-loss: the most accurate exits within this mean number of steps")
    cmp_.add_argument("--target", default="loihi2",
                      help="hardware target for the SNN's energy/latency estimate, or 'none' (default loihi2)")
    cmp_.add_argument("--no-convert", action="store_true",
                      help="skip the SNN converted from the ANN (static-input scripts only)")
    cmp_.add_argument("--percentile", type=float, default=99.9,
                      help="activation percentile of the ANN-to-SNN conversion (default 99.9)")
    cmp_.add_argument("--retrain", action="store_true", help="train both models even if checkpoints exist")
    cmp_.add_argument("--plot", metavar="PNG", help="write the accuracy/time-step and accuracy/energy figure")
    cmp_.add_argument("--json", action="store_true", help="print the report as JSON")
    cmp_.add_argument("--no-progress", action="store_true", help="no progress bar while training")
    cmp_.set_defaults(func=_compare)
    return parser


def _compare(args: argparse.Namespace) -> int:
    from .infer.compare import compare, to_markdown  # needs PyTorch
    if not 0.0 <= args.max_loss < 1.0:
        raise ValueError(f"--max-loss is a fraction in [0, 1), got {args.max_loss}")
    if args.step_budget is not None and not args.step_budget >= 1:
        raise ValueError(f"--step-budget is a mean number of steps >= 1, got {args.step_budget}")
    log = (lambda msg: None) if args.json else (lambda msg: print(msg, flush=True))
    report = compare(args.script, overrides=parse_overrides(args.set), out_dir=args.out,
                     max_accuracy_loss=args.max_loss if args.step_budget is None else None,
                     step_budget=args.step_budget, target=None if args.target == "none" else args.target,
                     convert=not args.no_convert, percentile=args.percentile,
                     retrain=args.retrain, progress=not args.no_progress and not args.json, log=log)
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        from .plot import tradeoff
        tradeoff(report).savefig(args.plot, dpi=120)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(to_markdown(report), end="")
        print(f"report in {report['out_dir']}/compare.md" + (f", figure {args.plot}" if args.plot else ""))
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from .hardware.deploy import deploy  # needs PyTorch
    report = deploy(args.checkpoint, args.target, args.out, args.data, args.max_samples)
    if args.json:
        print(json.dumps(report, indent=2, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
        return 0
    print(f"{args.checkpoint} -> {report['target']}: {report['neurons']} neurons, {report['synapses']} synapses")
    if "accuracy" in report:
        a = report["accuracy"]
        print(f"accuracy on {a['samples']} samples: trained {a['trained_model']:.4f}, float simulator "
              f"{a['simulator_float']:.4f}, fixed-point emulator {a['emulator_fixed_point']:.4f}")
    pl = report["placement"]
    print(f"cores used: {pl['cores_used']}, chips: {pl['chips_used']}")
    if "energy" in report:
        e = report["energy"]
        flag = " (estimated figures)" if e["energy_estimated"] else ""
        print(f"energy per inference: {e['energy_per_inference_uj']:.2f} uJ, of which dynamic "
              f"{e['dynamic_energy_per_inference_uj']:.2f} uJ{flag}; time per step "
              f"{e['time_per_step_ns'] / 1000:.2f} us, per inference {e['time_per_inference_us']:.1f} us")
    ann = report["ann_counterpart"]
    print(f"ANN of the same topology: {ann['macs_per_inference']:,} MACs, {ann['fp32_energy_uj']:.3f} uJ (fp32)")
    print(f"files in {args.out}: {', '.join(report['files'] + ['report.json', 'report.md'])}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .train.commands import train_command  # needs PyTorch
    return train_command(args)


def _evaluate(args: argparse.Namespace) -> int:
    from .train.commands import evaluate_command  # needs PyTorch
    return evaluate_command(args)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"neurosim: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

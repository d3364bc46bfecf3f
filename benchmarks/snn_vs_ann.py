"""SNN vs ANN of the same topology, with dynamic-confidence exits, over seeds and tasks.

Runs ``neurosim compare`` (:func:`neurosim.infer.compare.compare`) for each
task and seed (training the models the first time, reusing their
checkpoints after that) and prints one Markdown row per task with the mean
and standard deviation over seeds; ``--json`` keeps every run's report.

    NEUROSIM_FSDD=../shared/data/fsdd/recordings \\
        python benchmarks/snn_vs_ann.py --tasks digits mnist5k fsdd --seeds 1 2 3 --runs runs/compare
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from neurosim.infer.compare import compare

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"digits": "digits_snn.py", "mnist5k": "mnist5k_snn.py", "fsdd": "fsdd_delays.py"}


def _row(task: str, reports: list[dict]) -> str:
    def stat(values, scale=1.0, fmt=".1f"):
        v = scale * np.asarray(values, dtype=float)
        spread = v.std(ddof=1) if len(v) > 1 else 0.0
        return f"{v.mean():{fmt}} ± {spread:{fmt.lstrip('+')}}"

    rows = [{r["model"]: r for r in rep["rows"]} for rep in reports]
    fixed = [r["SNN, fixed steps"] for r in rows]
    dc = [r["SNN, dynamic confidence"] for r in rows]
    orc = [r["SNN, oracle bound"] for r in rows]
    ann = [r["ANN (same topology)"] for r in rows]
    acc = lambda rs: [r["accuracy"] for r in rs]
    gap = np.subtract(acc(fixed), acc(ann))
    change = np.subtract(acc(dc), acc(fixed))
    fewer = [rep["exit"]["step_reduction"] for rep in reports]
    energy = lambda rs: [r["arithmetic_energy_uj"] for r in rs]
    return (f"| {task} | {stat(acc(ann), 100)} | {stat(acc(fixed), 100)} (T = {reports[0]['snn_steps']}) | "
            f"{stat(gap, 100, '+.1f')} | {stat(acc(dc), 100)} at {stat([r['time_steps'] for r in dc])} steps | "
            f"{stat(fewer, 100, '.0f')} % | {stat(change, 100, '+.2f')} | "
            f"{stat(acc(orc), 100)} at {stat([r['time_steps'] for r in orc])} | "
            f"{stat(energy(ann), 1, '.3f')} / {stat(energy(fixed), 1, '.3f')} / {stat(energy(dc), 1, '.3f')} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=list(SCRIPTS), choices=list(SCRIPTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--runs", type=Path, default=Path("runs/compare"), help="folder of the per-run outputs")
    ap.add_argument("--max-loss", type=float, default=0.0,
                    help="accuracy loss allowed on validation when choosing the threshold (fraction)")
    ap.add_argument("--target", default="loihi2", help="hardware target of the energy estimate, or 'none'")
    ap.add_argument("--json", type=Path, help="write every run's report here")
    args = ap.parse_args(argv)
    everything, lines = {}, []
    for task in args.tasks:
        reports = []
        for seed in args.seeds:
            reports.append(compare(ROOT / "models" / SCRIPTS[task], overrides={"seed": seed},
                                   out_dir=args.runs / f"{task}_s{seed}", max_accuracy_loss=args.max_loss,
                                   target=None if args.target == "none" else args.target,
                                   log=lambda msg: print(msg, file=sys.stderr, flush=True)))
        everything[task] = reports
        lines.append(_row(task, reports))
    print("| task | ANN accuracy [%] | SNN accuracy [%] | SNN - ANN [points] | SNN with exits [%] | fewer steps |"
          " accuracy change [points] | oracle [%] at steps | energy ANN / SNN / SNN with exits [µJ, 45 nm] |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(everything, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

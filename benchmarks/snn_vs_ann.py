"""SNN vs ANN of the same topology, with dynamic-confidence exits, over seeds and tasks.

Runs ``neurosim compare`` (:func:`neurosim.infer.compare.compare`) for each
task and seed (training the models the first time, reusing their
checkpoints after that) and prints one Markdown row per task and SNN route
(trained with surrogate gradients; converted from the ANN, for static
inputs) with the mean and standard deviation over seeds; ``--json`` keeps
every run's report.

    NEUROSIM_FSDD=../shared/data/fsdd/recordings \\
        python benchmarks/snn_vs_ann.py --tasks digits mnist5k fsdd --seeds 1 2 3 --runs runs/compare

``fsdd_anytime`` is the FSDD network trained with the anytime loss
(:func:`neurosim.train.models.anytime_loss`), for earlier exits;
``fsdd_anytime_heldout`` the same validated on a held-out training speaker
(``val_speaker="jackson"``), so that the exit threshold is chosen on a voice
the network has not heard, as the test speaker's is.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from neurosim.atomic import write_text
from neurosim.infer.compare import compare

ROOT = Path(__file__).resolve().parents[1]
#: task name -> (model script, parameter overrides besides the seed)
TASKS = {"digits": ("digits_snn.py", {}), "mnist5k": ("mnist5k_snn.py", {}), "fsdd": ("fsdd_delays.py", {}),
         "fsdd_anytime": ("fsdd_delays.py", {"loss": "anytime"}),
         "fsdd_anytime_heldout": ("fsdd_delays.py", {"loss": "anytime", "val_speaker": "jackson"})}


def _rows(task: str, reports: list[dict]) -> list[str]:
    """One Markdown row per SNN route: mean ± standard deviation over the seeds."""
    def stat(values, scale=1.0, fmt=".1f"):
        v = scale * np.asarray(values, dtype=float)
        spread = v.std(ddof=1) if len(v) > 1 else 0.0
        return f"{v.mean():{fmt}} ± {spread:{fmt.lstrip('+')}}"

    out = []
    for label in reports[0]["snns"]:
        pick = lambda kind: [next(r for r in rep["rows"] if r["snn"] == label and r["kind"] == kind)
                             for rep in reports]
        fixed, dc, orc = pick("fixed steps"), pick("dynamic confidence"), pick("oracle bound")
        ann = [next(r for r in rep["rows"] if r["kind"] == "ANN") for rep in reports]
        acc = lambda rs: [r["accuracy"] for r in rs]
        energy = lambda rs: [r["arithmetic_energy_uj"] for r in rs]
        fewer = [rep["snns"][label]["exit"]["step_reduction"] for rep in reports]
        out.append(
            f"| {task} | {label} | {stat(acc(ann), 100)} | {stat(acc(fixed), 100)} "
            f"(T = {reports[0]['snns'][label]['steps']}) | {stat(np.subtract(acc(fixed), acc(ann)), 100, '+.1f')} | "
            f"{stat(acc(dc), 100)} at {stat([r['time_steps'] for r in dc])} | {stat(fewer, 100, '.0f')} % | "
            f"{stat(np.subtract(acc(dc), acc(fixed)), 100, '+.2f')} | "
            f"{stat(acc(orc), 100)} at {stat([r['time_steps'] for r in orc])} | "
            f"{stat(energy(ann), 1, '.3f')} / {stat(energy(fixed), 1, '.3f')} / {stat(energy(dc), 1, '.3f')} |")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
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
            script, overrides = TASKS[task]
            reports.append(compare(ROOT / "models" / script, overrides={**overrides, "seed": seed},
                                   out_dir=args.runs / f"{task}_s{seed}", max_accuracy_loss=args.max_loss,
                                   target=None if args.target == "none" else args.target,
                                   log=lambda msg: print(msg, file=sys.stderr, flush=True)))
        everything[task] = reports
        lines += _rows(task, reports)
    print("| task | SNN | ANN accuracy [%] | SNN accuracy [%] | SNN - ANN [points] | SNN with exits [%] at steps |"
          " fewer steps | accuracy change [points] | oracle [%] at steps |"
          " energy ANN / SNN / SNN with exits [µJ, 45 nm] |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    if args.json:
        write_text(args.json, json.dumps(everything, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

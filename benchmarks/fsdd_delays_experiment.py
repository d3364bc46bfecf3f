"""No delays vs fixed random delays vs learned delays on spiking FSDD (speaker-independent).

Trains ``models/fsdd_delays.py`` for each delay mode and seed (unless the run
folder already holds a finished run), then tabulates the test accuracy on the
held-out speaker (mean, standard deviation, each seed) at the epoch with the
best validation accuracy and at the last epoch, as Markdown and JSON.

    NEUROSIM_FSDD=../shared/data/fsdd/recordings \\
        python benchmarks/fsdd_delays_experiment.py --runs runs --seeds 1 2 3

Each run is the command ``neurosim train models/fsdd_delays.py --set
delays='"MODE"' seed=SEED --out RUNS/fsdd_MODE_sSEED``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

MODES = ("none", "random", "learned")
ROOT = Path(__file__).resolve().parents[1]


def command(mode: str, seed: int, out: Path) -> list[str]:
    return [sys.executable, "-m", "neurosim.cli", "train", str(ROOT / "models" / "fsdd_delays.py"),
            "--set", f'delays="{mode}"', f"seed={seed}", "--out", str(out), "--no-progress", "--json"]


def last_epoch_test_accuracy(run: Path) -> float:
    """Test accuracy of the final model (last.pt) on the held-out speaker."""
    import torch

    from neurosim.scripts import load_script
    from neurosim.train.models import DelaySNN
    from neurosim.train.trainer import evaluate
    state = torch.load(run / "last.pt", weights_only=False)
    meta = state["meta"]
    model = DelaySNN.from_config(meta["model_config"])
    # runs made before LIF kept its fixed decay and threshold as plain numbers carry them as buffers
    params = {k: v for k, v in state["model_state"].items() if not k.endswith((".beta_fixed", ".threshold"))}
    model.load_state_dict(params)
    data = load_script(ROOT / "models" / "fsdd_delays.py",
                       required=("PARAMS", "load_data", "build_model")).load_data(meta["params"])
    return evaluate(model, data["test"])["accuracy"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=Path("runs"), help="folder of the run folders")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--no-train", action="store_true", help="only tabulate existing runs")
    ap.add_argument("--json", type=Path, help="write the table as JSON")
    args = ap.parse_args(argv)
    rows = {}
    for mode in MODES:
        best, last = [], []
        for seed in args.seeds:
            out = args.runs / f"fsdd_{mode}_s{seed}"
            if not (out / "test.json").is_file():
                if args.no_train:
                    continue
                subprocess.run(command(mode, seed, out), check=True)
            best.append(json.loads((out / "test.json").read_text())["test_accuracy"])
            last.append(last_epoch_test_accuracy(out))
        if best:
            rows[mode] = {"seeds": args.seeds[:len(best)], "best_val_epoch": best, "last_epoch": last}
    print("| delays | test accuracy, best-validation epoch (mean ± sd) | seeds | last epoch (mean ± sd) | seeds |")
    print("|---|---|---|---|---|")
    for mode, r in rows.items():
        b, lst = np.array(r["best_val_epoch"]) * 100, np.array(r["last_epoch"]) * 100
        print(f"| {mode} | {b.mean():.1f} ± {b.std(ddof=1) if b.size > 1 else 0:.1f} % | "
              f"{', '.join(f'{v:.1f}' for v in b)} | {lst.mean():.1f} ± {lst.std(ddof=1) if lst.size > 1 else 0:.1f} % | "
              f"{', '.join(f'{v:.1f}' for v in lst)} |")
    if args.json:
        from neurosim.atomic import write_text
        write_text(args.json, json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

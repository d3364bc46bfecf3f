"""Dynamic Confidence on trained FSDD delay networks: fewer time steps at (almost) the same accuracy.

For each checkpoint: per-step outputs on the validation split choose the
threshold (the fewest mean steps within ``--max-loss`` of the full-length
validation accuracy); the held-out speaker's test set then gives the
full-length accuracy, the accuracy and mean steps with exits, and the oracle.

    NEUROSIM_FSDD=../shared/data/fsdd/recordings \\
        python benchmarks/fsdd_dynamic_confidence.py runs/fsdd_learned_s*/best.pt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from neurosim.infer import choose_threshold, dynamic_confidence, fixed_step_curve, oracle
from neurosim.scripts import load_script
from neurosim.train.models import DelaySNN
from neurosim.train.trainer import as_batch

ROOT = Path(__file__).resolve().parents[1]


@torch.no_grad()
def outputs(model, x: np.ndarray) -> np.ndarray:
    """Per-step read-out membranes ``(T, n, classes)`` in eval mode."""
    model.eval()
    return np.concatenate([model(as_batch(x[i:i + 256])).numpy() for i in range(0, len(x), 256)], axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--max-loss", type=float, default=0.005, help="accuracy loss allowed on validation (fraction)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    script = load_script(ROOT / "models" / "fsdd_delays.py", required=("PARAMS", "load_data", "build_model"))
    rows = []
    for ckpt in args.checkpoints:
        state = torch.load(ckpt, weights_only=False)
        model = DelaySNN.from_config(state["meta"]["model_config"])
        model.load_state_dict({k: v for k, v in state["model_state"].items()
                               if not k.endswith((".beta_fixed", ".threshold"))})
        data = script.load_data(state["meta"]["params"])
        out_val, out_test = outputs(model, data["val"][0]), outputs(model, data["test"][0])
        pick = choose_threshold(out_val, data["val"][1], max_accuracy_loss=args.max_loss)
        y = data["test"][1]
        dc = dynamic_confidence(out_test, y, pick["threshold"])
        orc = oracle(out_test, y)
        full = float(fixed_step_curve(out_test, y)[-1])
        rows.append({"checkpoint": str(ckpt), "steps": int(out_test.shape[0]), "threshold": pick["threshold"],
                     "full_accuracy": full, "dc_accuracy": dc["accuracy"], "dc_mean_steps": dc["mean_steps"],
                     "oracle_accuracy": orc["accuracy"], "oracle_mean_steps": orc["mean_steps"]})
        r = rows[-1]
        print(f"{ckpt}: T={r['steps']}, threshold {r['threshold']:.3f}: full {100 * full:.1f} % -> "
              f"DC {100 * r['dc_accuracy']:.1f} % at {r['dc_mean_steps']:.1f} steps "
              f"({100 * (1 - r['dc_mean_steps'] / r['steps']):.0f} % fewer); oracle {100 * r['oracle_accuracy']:.1f} % "
              f"at {r['oracle_mean_steps']:.1f} steps")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Dynamic Confidence: stop each sample's inference once its decoded confidence is high enough.

Method: Chen Li, Edward Jones & Steve Furber, "Unleashing the Potential of
Spiking Neural Networks by Dynamic Confidence", ICCV 2023 (arXiv:2303.10276);
formulation of the authors' code (``main.py`` of
chenlicodebank/Dynamic-Confidence-in-Spiking-Neural-Networks @ 563974b).

With ``o[t]`` the output layer's per-step output (logits, or the read-out
membrane of a neurosim model) at steps ``t = 1 .. T``::

    O[t] = (1 / scale) * sum_{tau <= t} o[tau]      # running sum over a fixed constant
    p[t] = softmax(O[t]);  c[t] = max_k p[t, k];  prediction[t] = argmax_k p[t, k]

A sample exits at the first step with ``c[t] > threshold`` (strict) and at
``T`` otherwise; its answer is the prediction at its exit step.  Because
``O`` grows with ``t`` the softmax sharpens over time, so confidence rises
even when the prediction does not change.  Everything here works on arrays
of per-step outputs shaped ``(T, n_samples, n_classes)``, whichever engine
produced them (PyTorch, the simulator or the fixed-point emulator), so the
same outputs give the same exits.

Steps are counted from 1 (``exit_step = 1`` means after the first step).
"""
from __future__ import annotations

import numpy as np

DEFAULT_SCALE = 30.0   # the constant of the authors' code


def _check_outputs(outputs: np.ndarray) -> np.ndarray:
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim != 3 or out.shape[0] < 1 or out.shape[2] < 2:
        raise ValueError(f"outputs must have shape (T, n_samples, n_classes >= 2), got {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError("outputs must be finite")
    return out


def confidence_trace(outputs: np.ndarray, scale: float = DEFAULT_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """Confidence ``c[t]`` and prediction at every step, each of shape ``(T, n_samples)``."""
    out = _check_outputs(outputs)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    evidence = np.cumsum(out, axis=0) / scale
    z = evidence - evidence.max(axis=2, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=2, keepdims=True)
    return p.max(axis=2), p.argmax(axis=2)


def exit_steps(confidence: np.ndarray, threshold: float) -> np.ndarray:
    """First step (1-based) with ``confidence > threshold``; ``T`` where there is none."""
    conf = np.asarray(confidence)
    if conf.ndim != 2:
        raise ValueError(f"confidence must have shape (T, n_samples), got {conf.shape}")
    above = conf > threshold
    first = above.argmax(axis=0) + 1
    return np.where(above.any(axis=0), first, conf.shape[0])


def dynamic_confidence(outputs: np.ndarray, labels: np.ndarray | None, threshold: float,
                       scale: float = DEFAULT_SCALE, max_steps: int | None = None) -> dict:
    """Exit steps, answers and (with ``labels``) accuracy and mean steps of the exit rule.

    ``max_steps`` caps inference at that many steps (the paper's ``j``).
    """
    conf, pred = confidence_trace(outputs, scale)
    if max_steps is not None:
        if not 1 <= max_steps <= conf.shape[0]:
            raise ValueError(f"max_steps must be in [1, {conf.shape[0]}], got {max_steps!r}")
        conf, pred = conf[:max_steps], pred[:max_steps]
    steps = exit_steps(conf, threshold)
    answers = pred[steps - 1, np.arange(pred.shape[1])]
    result = {"threshold": float(threshold), "exit_steps": steps, "predictions": answers,
              "mean_steps": float(steps.mean()), "max_steps": int(conf.shape[0])}
    if labels is not None:
        result["accuracy"] = float(np.mean(answers == _labels(labels, pred.shape[1])))
    return result


def _labels(labels, n: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {y.shape}")
    return y


def fixed_step_curve(outputs: np.ndarray, labels: np.ndarray, scale: float = DEFAULT_SCALE) -> np.ndarray:
    """Accuracy when every sample stops after ``t`` steps, for ``t = 1 .. T``."""
    _, pred = confidence_trace(outputs, scale)
    return np.mean(pred == _labels(labels, pred.shape[1])[None, :], axis=1)


def oracle(outputs: np.ndarray, labels: np.ndarray, scale: float = DEFAULT_SCALE) -> dict:
    """The bound of any exit rule: each sample stops at the first step from which its
    prediction stays correct to the end; samples not correct at the end are charged ``T``."""
    _, pred = confidence_trace(outputs, scale)
    y = _labels(labels, pred.shape[1])
    wrong = pred != y[None, :]
    n_steps = pred.shape[0]
    # last wrong step (1-based), 0 if never wrong
    last_wrong = np.where(wrong.any(axis=0), n_steps - np.argmax(wrong[::-1], axis=0), 0)
    correct_at_end = ~wrong[-1]
    steps = np.where(correct_at_end, last_wrong + 1, n_steps)
    return {"accuracy": float(correct_at_end.mean()), "mean_steps": float(steps.mean()), "exit_steps": steps}


def pareto_curve(outputs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray | None = None,
                 scale: float = DEFAULT_SCALE) -> dict:
    """Accuracy and mean steps of the exit rule for each threshold (default 0.10 ... 0.999)."""
    ths = np.asarray(thresholds if thresholds is not None
                     else np.concatenate([np.linspace(0.1, 0.9, 33), [0.95, 0.98, 0.99, 0.995, 0.999]]))
    rows = [dynamic_confidence(outputs, labels, th, scale) for th in ths]
    return {"threshold": ths, "accuracy": np.array([r["accuracy"] for r in rows]),
            "mean_steps": np.array([r["mean_steps"] for r in rows])}


def choose_threshold(outputs: np.ndarray, labels: np.ndarray, *, max_accuracy_loss: float | None = None,
                     step_budget: float | None = None, scale: float = DEFAULT_SCALE,
                     thresholds: np.ndarray | None = None) -> dict:
    """Pick the threshold on held-out outputs (give exactly one criterion).

    ``max_accuracy_loss``: the fewest mean steps whose accuracy is within that many
    points (a fraction, 0.005 = 0.5 points) of the full-length accuracy.
    ``step_budget``: the most accurate threshold whose mean steps fit the budget.
    Returns the chosen ``threshold`` with its validation accuracy and mean steps.
    """
    if (max_accuracy_loss is None) == (step_budget is None):
        raise ValueError("give exactly one of max_accuracy_loss (fraction) or step_budget (steps)")
    curve = pareto_curve(outputs, labels, thresholds, scale)
    full = float(fixed_step_curve(outputs, labels, scale)[-1])
    if max_accuracy_loss is not None:
        ok = curve["accuracy"] >= full - max_accuracy_loss
        if not ok.any():
            raise ValueError("no threshold keeps the accuracy within max_accuracy_loss; add higher thresholds")
        idx = np.flatnonzero(ok)[np.argmin(curve["mean_steps"][ok])]
    else:
        ok = curve["mean_steps"] <= step_budget
        if not ok.any():
            raise ValueError(f"no threshold reaches a mean of {step_budget} steps or fewer")
        idx = np.flatnonzero(ok)[np.argmax(curve["accuracy"][ok])]
    return {"threshold": float(curve["threshold"][idx]), "accuracy": float(curve["accuracy"][idx]),
            "mean_steps": float(curve["mean_steps"][idx]), "full_accuracy": full}

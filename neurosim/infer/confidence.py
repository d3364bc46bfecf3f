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

from collections.abc import Sequence

import numpy as np

DEFAULT_SCALE = 30.0   # the constant of the authors' code


def _check_outputs(outputs: np.ndarray) -> np.ndarray:
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim != 3 or out.shape[0] < 1 or out.shape[2] < 2:
        raise ValueError(f"outputs must have shape (T, n_samples, n_classes >= 2), got {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError("outputs must be finite")
    return out


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    return p


def _softmax_confidence(evidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``max_k softmax(evidence)`` and ``argmax_k`` over the last axis (one code path for
    the offline trace and the online rule, so identical outputs give identical exits)."""
    p = _softmax(evidence)
    return p.max(axis=-1), p.argmax(axis=-1)


def softmax_evidence(outputs: np.ndarray) -> np.ndarray:
    """Per-step class probabilities ``softmax(o[t])`` (over the last axis, any shape).

    A :class:`~neurosim.train.models.DelaySNN` is trained to decide by the sum of
    these over time, so they are its per-step evidence: fed to the exit rule, the
    full-length answer is the model's own.  Apply it row by row online
    (``rule.step(softmax_evidence(row))``); the arithmetic is the same.
    """
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim < 1 or out.shape[-1] < 2 or not np.all(np.isfinite(out)):
        raise ValueError(f"outputs must be finite with >= 2 classes on the last axis, got shape {out.shape}")
    return _softmax(out)


def _check_scale(scale: float) -> float:
    if not (isinstance(scale, (int, float, np.number)) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    return float(scale)


def confidence_trace(outputs: np.ndarray, scale: float = DEFAULT_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """Confidence ``c[t]`` and prediction at every step, each of shape ``(T, n_samples)``."""
    out = _check_outputs(outputs)
    return _softmax_confidence(np.cumsum(out, axis=0) / _check_scale(scale))


class ConfidenceExit:
    """The exit rule applied online, step by step, to a stream of outputs (a host-side decision).

    Feed each step's output, shape ``(n_samples, n_classes)`` (or ``(n_classes,)``
    for one sample), to :meth:`step`; it returns ``True`` once every sample has
    exited.  Samples that exited keep their answer; the others run on.  Exit
    steps and answers equal :func:`dynamic_confidence`'s on the same outputs
    (same arithmetic: running sum, divided by ``scale``, softmax).

    Args:
        threshold: exit when the confidence exceeds it (strict ``>``).
        scale: the constant dividing the running sum (the authors' 30).
        max_steps: stop every sample at this step at the latest (the paper's cap).
    """

    def __init__(self, threshold: float, scale: float = DEFAULT_SCALE, max_steps: int | None = None):
        if not (isinstance(threshold, (int, float, np.number)) and np.isfinite(threshold)):
            raise ValueError(f"threshold must be a finite number (a confidence in [0, 1)), got {threshold!r}")
        if max_steps is not None and (not isinstance(max_steps, (int, np.integer)) or max_steps < 1):
            raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}")
        self.threshold, self.scale, self.max_steps = float(threshold), _check_scale(scale), max_steps
        self.steps = 0
        self._sum: np.ndarray | None = None
        self.exit_steps = np.zeros(0, dtype=np.int64)    # 0 while running
        self.predictions = np.zeros(0, dtype=np.int64)

    @property
    def done(self) -> bool:
        """Whether every sample has exited."""
        return self._sum is not None and bool(np.all(self.exit_steps > 0))

    def step(self, output: np.ndarray) -> bool:
        """Take one step's outputs; return whether every sample has now exited."""
        row = np.asarray(output, dtype=np.float64)
        row = row[None, :] if row.ndim == 1 else row
        if self._sum is None:
            if row.ndim != 2 or row.shape[1] < 2:
                raise ValueError(f"output must have shape (n_samples, n_classes >= 2), got {np.shape(output)}")
            self._sum = np.zeros_like(row)
            self.exit_steps = np.zeros(row.shape[0], dtype=np.int64)
            self.predictions = np.zeros(row.shape[0], dtype=np.int64)
        elif row.shape != self._sum.shape:
            raise ValueError(f"output must have shape {self._sum.shape} at every step, got {row.shape}")
        if not np.all(np.isfinite(row)):
            raise ValueError("outputs must be finite")
        self._sum += row
        self.steps += 1
        conf, pred = _softmax_confidence(self._sum / self.scale)
        running = self.exit_steps == 0
        self.predictions[running] = pred[running]
        leaving = running & ((conf > self.threshold) | (self.max_steps is not None and self.steps >= self.max_steps))
        self.exit_steps[leaving] = self.steps
        return self.done

    def finish(self) -> None:
        """End of the input: samples still running exit at the last step taken."""
        if self._sum is not None:
            self.exit_steps[self.exit_steps == 0] = self.steps


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
    """The bound of any exit rule at the full-length accuracy: each sample correct at
    the end stops at the first step from which its prediction stays correct; a sample
    wrong at the end is wrong whenever it stops and is charged one step (the least any
    rule spends)."""
    _, pred = confidence_trace(outputs, scale)
    y = _labels(labels, pred.shape[1])
    wrong = pred != y[None, :]
    n_steps = pred.shape[0]
    # last wrong step (1-based), 0 if never wrong
    last_wrong = np.where(wrong.any(axis=0), n_steps - np.argmax(wrong[::-1], axis=0), 0)
    correct_at_end = ~wrong[-1]
    steps = np.where(correct_at_end, last_wrong + 1, 1)
    return {"accuracy": float(correct_at_end.mean()), "mean_steps": float(steps.mean()), "exit_steps": steps}


def pareto_curve(outputs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray | None = None,
                 scale: float = DEFAULT_SCALE) -> dict:
    """Accuracy and mean steps of the exit rule for each threshold (default 0.10 ... 0.9999)."""
    ths = np.asarray(thresholds if thresholds is not None
                     else np.concatenate([np.linspace(0.1, 0.9, 33), [0.95, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999]]))
    rows = [dynamic_confidence(outputs, labels, th, scale) for th in ths]
    return {"threshold": ths, "accuracy": np.array([r["accuracy"] for r in rows]),
            "mean_steps": np.array([r["mean_steps"] for r in rows])}


def choose_threshold(outputs: np.ndarray, labels: np.ndarray, *, max_accuracy_loss: float | None = None,
                     step_budget: float | None = None, scale: float | Sequence[float] = DEFAULT_SCALE,
                     thresholds: np.ndarray | None = None) -> dict:
    """Pick the threshold (and, given several, the scale) on held-out outputs.

    Give exactly one criterion:
    ``max_accuracy_loss``: the fewest mean steps whose accuracy is within that many
    points (a fraction, 0.005 = 0.5 points) of the full-length accuracy.
    ``step_budget``: the most accurate setting whose mean steps fit the budget.

    ``scale`` may be a sequence of candidate scales (the scale sets how fast the
    confidence of a steady output grows; outputs of different magnitude need
    different scales).  Returns the chosen ``threshold`` and ``scale`` with their
    accuracy and mean steps on these outputs, and the full-length accuracy.
    """
    if (max_accuracy_loss is None) == (step_budget is None):
        raise ValueError("give exactly one of max_accuracy_loss (fraction) or step_budget (steps)")
    scales = [scale] if np.ndim(scale) == 0 else list(scale)
    if not scales:
        raise ValueError("scale: give at least one candidate scale")
    full = float(fixed_step_curve(outputs, labels)[-1])   # the final prediction does not depend on the scale
    rows = []
    for sc in scales:
        curve = pareto_curve(outputs, labels, thresholds, sc)
        for th, acc, steps in zip(curve["threshold"], curve["accuracy"], curve["mean_steps"]):
            rows.append((float(th), float(sc), float(acc), float(steps)))
    acc = np.array([r[2] for r in rows])
    steps = np.array([r[3] for r in rows])
    if max_accuracy_loss is not None:
        ok = acc >= full - max_accuracy_loss
        if not ok.any():
            raise ValueError("no threshold keeps the accuracy within max_accuracy_loss; add higher thresholds")
        cand = np.flatnonzero(ok)
        idx = cand[np.lexsort((-acc[cand], steps[cand]))[0]]     # fewest steps, then most accurate
    else:
        ok = steps <= step_budget
        if not ok.any():
            raise ValueError(f"no threshold reaches a mean of {step_budget} steps or fewer")
        cand = np.flatnonzero(ok)
        idx = cand[np.lexsort((steps[cand], -acc[cand]))[0]]     # most accurate, then fewest steps
    th, sc, a, st = rows[idx]
    return {"threshold": th, "scale": sc, "accuracy": a, "mean_steps": st, "full_accuracy": full}

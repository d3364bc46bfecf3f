"""Dynamic-confidence exits (Li, Jones & Furber, ICCV 2023) against hand-computed cases."""
import math

import numpy as np
import pytest

from neurosim.infer import (ConfidenceExit, choose_threshold, confidence_trace, dynamic_confidence, exit_steps,
                            fixed_step_curve, oracle, pareto_curve)

# sample A: logits (1, 0) every step; sample B: (0, 0.1) every step; scale 1
OUT = np.array([[[1.0, 0.0], [0.0, 0.1]]] * 3)


def sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_confidence_by_hand():
    conf, pred = confidence_trace(OUT, scale=1.0)
    np.testing.assert_allclose(conf[:, 0], [sig(1), sig(2), sig(3)], rtol=1e-12)      # 0.731, 0.881, 0.953
    np.testing.assert_allclose(conf[:, 1], [sig(0.1), sig(0.2), sig(0.3)], rtol=1e-12)
    np.testing.assert_array_equal(pred, [[0, 1]] * 3)
    conf30, _ = confidence_trace(OUT)                                                  # default scale 30
    np.testing.assert_allclose(conf30[2, 0], sig(3 / 30), rtol=1e-12)


def test_exit_rule_by_hand():
    res = dynamic_confidence(OUT, labels=[0, 0], threshold=0.85, scale=1.0)
    np.testing.assert_array_equal(res["exit_steps"], [2, 3])          # B never passes: charged T = 3
    np.testing.assert_array_equal(res["predictions"], [0, 1])
    assert res["accuracy"] == 0.5 and res["mean_steps"] == 2.5
    conf, _ = confidence_trace(OUT, scale=1.0)
    assert exit_steps(conf, conf[1, 0])[0] == 3                        # strictly greater
    capped = dynamic_confidence(OUT, labels=[0, 0], threshold=0.99, scale=1.0, max_steps=2)
    np.testing.assert_array_equal(capped["exit_steps"], [2, 2])


def test_oracle_by_hand():
    # predictions over 5 steps: sample 0: w r w r r -> stays correct from step 4; sample 1: r r r r r -> 1;
    # sample 2: r r r r w -> wrong at the end, whenever it stops -> charged 1 step
    seq = [[1, 0, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 1]]
    out = np.zeros((5, 3, 2))
    for t, row in enumerate(seq):
        for i, p in enumerate(row):
            out[t, i, p] = 10.0 ** (t + 1)        # each step outweighs all earlier evidence
    res = oracle(out, labels=[0, 0, 0], scale=1.0)
    np.testing.assert_array_equal(res["exit_steps"], [4, 1, 1])
    assert res["accuracy"] == pytest.approx(2 / 3) and res["mean_steps"] == pytest.approx(2.0)


def _synthetic(n, seed, T=40, C=5):
    """Outputs whose evidence for the label grows over time, with sample-dependent difficulty."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, n)
    strength = rng.uniform(-0.1, 0.6, n)
    out = rng.normal(0.0, 1.0, (T, n, C))
    out[:, np.arange(n), y] += strength
    return out, y


def test_threshold_selection_holds_on_held_out_data():
    val, y_val = _synthetic(3000, 1)
    test, y_test = _synthetic(3000, 2)
    pick = choose_threshold(val, y_val, max_accuracy_loss=0.01)
    full = fixed_step_curve(test, y_test)[-1]
    res = dynamic_confidence(test, y_test, pick["threshold"])
    assert res["accuracy"] >= full - 0.01 - 0.015                     # target plus sampling slack
    assert res["mean_steps"] < 0.9 * 40                               # it does exit early
    budget = choose_threshold(val, y_val, step_budget=20.0)
    assert dynamic_confidence(test, y_test, budget["threshold"])["mean_steps"] <= 20.0 + 1.0


def test_curves_are_monotone_and_the_oracle_keeps_full_accuracy():
    out, y = _synthetic(500, 3)
    curve = pareto_curve(out, y)
    assert np.all(np.diff(curve["mean_steps"]) >= 0)
    orc = oracle(out, y)
    full = fixed_step_curve(out, y)
    assert full.shape == (40,) and orc["accuracy"] == full[-1]
    _, pred = confidence_trace(out)
    at_exit = pred[orc["exit_steps"] - 1, np.arange(len(y))]
    right = pred[-1] == y
    assert np.all(at_exit[right] == y[right])                       # stopped there, still correct
    assert np.all(orc["exit_steps"][~right] == 1)
    assert orc["mean_steps"] < curve["mean_steps"][-1]


@pytest.mark.parametrize("max_steps", [None, 25])
def test_online_exit_equals_the_offline_rule(max_steps):
    out, y = _synthetic(300, 4)
    for threshold, scale in ((0.6, 30.0), (0.9, 5.0), (0.3, 1.0)):
        offline = dynamic_confidence(out, y, threshold, scale, max_steps=max_steps)
        rule = ConfidenceExit(threshold, scale, max_steps=max_steps)
        for t in range(out.shape[0]):
            if rule.step(out[t]):
                break
        rule.finish()
        np.testing.assert_array_equal(rule.exit_steps, offline["exit_steps"])
        np.testing.assert_array_equal(rule.predictions, offline["predictions"])
    offline = dynamic_confidence(out, None, 0.6, 1.0)["exit_steps"]
    i = int(np.argmin(offline))                                     # one sample that exits early,
    single = ConfidenceExit(0.6, 1.0)                                # fed (n_classes,) rows
    steps = next(t + 1 for t in range(out.shape[0]) if single.step(out[t, i]))
    assert steps == offline[i] < out.shape[0]


def test_choose_threshold_over_several_scales():
    val, y_val = _synthetic(2000, 5)
    one = choose_threshold(val, y_val, max_accuracy_loss=0.01, scale=30.0)
    many = choose_threshold(val, y_val, max_accuracy_loss=0.01, scale=[1.0, 3.0, 10.0, 30.0, 100.0])
    assert many["scale"] in (1.0, 3.0, 10.0, 30.0, 100.0)
    assert many["mean_steps"] <= one["mean_steps"]
    assert many["accuracy"] >= many["full_accuracy"] - 0.01
    again = dynamic_confidence(val, y_val, many["threshold"], many["scale"])
    assert again["mean_steps"] == pytest.approx(many["mean_steps"])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="outputs must have shape"):
        confidence_trace(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="scale"):
        confidence_trace(OUT, scale=0.0)
    with pytest.raises(ValueError, match="labels must have shape"):
        dynamic_confidence(OUT, [0], 0.5)
    with pytest.raises(ValueError, match="exactly one"):
        choose_threshold(OUT, [0, 0])
    with pytest.raises(ValueError, match="max_steps"):
        dynamic_confidence(OUT, [0, 0], 0.5, max_steps=4)
    with pytest.raises(ValueError, match="threshold"):
        ConfidenceExit(float("nan"))
    rule = ConfidenceExit(0.5)
    rule.step(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at every step"):
        rule.step(np.zeros((3, 3)))

"""Dynamic-confidence exits inside the simulator and the fixed-point emulator, operation
counts against hand counts, and the ANN twin of a spiking model."""
import numpy as np
import pytest
import torch

from neurosim.baselines import ann_of
from neurosim.infer import ConfidenceExit, confidence_trace, dynamic_confidence, softmax_evidence
from neurosim.infer.costs import ann_activity, ops_until, snn_activity
from neurosim.train.convert import to_network
from neurosim.train.models import DelayANN, DelaySNN
from neurosim.train.trainer import TrainConfig, evaluate, fit


def _model_and_counts(seed=0, steps=40):
    torch.manual_seed(seed)
    model = DelaySNN(12, [16], 3, delays="random", max_delay=4, beta=0.8, dropout=0.0, seed=seed).double()
    with torch.no_grad():
        for p in model.projections:
            p.weight.mul_(2.5)
    model.train()
    with torch.no_grad():
        model((torch.rand(steps, 8, 12, dtype=torch.float64) < 0.3).double())   # BatchNorm statistics
    model.eval()
    counts = (np.random.default_rng(seed).random((steps, 12)) < 0.3).astype(np.int64)
    return model, counts


def _threshold_mid_run(output, scale):
    """A threshold first crossed in the middle of the run (so the exit is non-trivial)."""
    conf, _ = confidence_trace(output[:, None, :], scale)
    c = conf[:, 0]
    t = len(c) // 2
    return float(np.max(c[:t])) if np.max(c[:t]) < c[-1] else float(np.median(c))


@pytest.mark.parametrize("backend", ["numba", "loihi2"])
def test_exit_inside_a_run_equals_the_rule_on_the_full_output(backend):
    model, counts = _model_and_counts()
    full = to_network(model, counts, dt_ms=1.0).run(backend=backend)
    scale = 3.0
    threshold = _threshold_mid_run(full["output"], scale)
    expected = dynamic_confidence(full["output"][:, None, :], None, threshold, scale)
    rule = ConfidenceExit(threshold, scale)
    early = to_network(model, counts, dt_ms=1.0).run(backend=backend, stop=rule.step)
    n = expected["exit_steps"][0]
    assert 1 < n < full["output"].shape[0]                           # it exits, and not at once
    assert rule.exit_steps[0] == n and early["output"].shape[0] == n
    assert rule.predictions[0] == expected["predictions"][0]
    np.testing.assert_array_equal(early["output"], full["output"][:n])
    for a, b in zip(early["hidden_spikes"], full["hidden_spikes"]):
        np.testing.assert_array_equal(a, b[:n])
    assert early["stats"].steps == n + 3 < full["stats"].steps   # the rest was never simulated
    assert early["stats"].spikes <= full["stats"].spikes


def test_pytorch_and_simulator_exit_at_the_same_step():
    model, counts = _model_and_counts(seed=1)
    with torch.no_grad():
        torch_out = model(torch.from_numpy(counts).double()[:, None, :]).numpy()
    scale = 0.3                                    # on the per-step evidence softmax(u[t]), as compare does
    evidence = softmax_evidence(torch_out)
    conf, _ = confidence_trace(evidence, scale)
    threshold = float(conf[: len(conf) // 2, 0].max()) - 1e-9     # crossed within the first half
    torch_exit = dynamic_confidence(evidence, None, threshold, scale)["exit_steps"][0]
    rule = ConfidenceExit(threshold, scale)
    to_network(model, counts, dt_ms=1.0).run(stop=lambda row: rule.step(softmax_evidence(row)))
    assert torch_exit <= torch_out.shape[0] // 2 and rule.exit_steps[0] == torch_exit


# ------------------------------------------------------------------ operation counts
def test_snn_operations_against_a_hand_count():
    model = DelaySNN(3, [2], 2, delays="none", beta=0.5, batchnorm=False, dropout=0.0, threshold=0.5).double()
    with torch.no_grad():
        model.projections[0].weight.copy_(torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]))   # fan-out 2, 1, 1
        model.projections[1].weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))             # fan-out 2, 1
    x = np.array([[[1, 0, 0], [0, 1, 1], [2, 0, 0]]], dtype=np.float64)   # one sample, 3 steps
    res = snn_activity(model, x)
    # hidden neuron 0 gets inputs 0 and 2, neuron 1 inputs 0 and 1; threshold 0.5, decay 0.5, reset to 0:
    # step 1: input 0 -> both hidden spike; step 2: inputs 1, 2 -> both spike; step 3: input 0 twice -> both
    input_ops = np.array([2, 1 + 1, 2 * 2])
    hidden_ops = np.array([2 + 1, 2 + 1, 2 + 1])
    np.testing.assert_array_equal(res["synaptic_ops"][:, 0], input_ops + hidden_ops)
    np.testing.assert_array_equal(res["spikes"][:, 0], [1 + 2, 2 + 2, 2 + 2])
    assert res["neurons"] == 4
    np.testing.assert_array_equal(ops_until(res["synaptic_ops"], np.array([2])), [5 + 5])
    assert ops_until(res["synaptic_ops"])[0] == 5 + 5 + 7


def test_ann_macs_against_a_hand_count():
    ann = DelayANN(3, [2], 2, delays="none", batchnorm=False).double().eval()
    with torch.no_grad():
        ann.projections[0].weight.copy_(torch.tensor([[1.0, 0.0, 1.0], [-1.0, 1.0, 0.0]]))
        ann.projections[1].weight.fill_(1.0)
    x = np.array([[[1.0, 0.0, 2.0]]])                 # one static sample
    res = ann_activity(ann, x)
    assert res["dense_macs"][0] == 3 * 2 + 2 * 2
    # non-zero inputs 0 (fan-out 2) and 2 (fan-out 1); hidden = relu([3, -1]) = [3, 0] -> 1 x fan-out 2
    assert res["effective_macs"][0] == 2 + 1 + 2
    np.testing.assert_allclose(res["outputs"][0, 0], [3.0, 3.0])


def test_ops_until_rejects_bad_steps():
    with pytest.raises(ValueError, match="exit_steps"):
        ops_until(np.ones((4, 2)), np.array([0, 2]))
    with pytest.raises(ValueError, match="per_step"):
        ops_until(np.ones(4))


# ------------------------------------------------------------------ the ANN twin
def test_ann_twin_has_the_snn_topology():
    snn = DelaySNN(10, [8, 6], 3, delays="learned", max_delay=6, beta=0.9, dropout=0.3)
    ann = ann_of(snn)
    assert [(p.n_in, p.n_out, p.mode) for p in ann.projections] == \
        [(p.n_in, p.n_out, p.mode) for p in snn.projections]
    assert ann.total_tail == snn.total_tail
    x = torch.rand(7, 4, 10)
    assert ann(x).shape == snn(x).shape
    static = ann_of(snn, static_input=True)
    assert static.total_tail == 0 and all(p.mode == "none" for p in static.projections)
    assert static(torch.rand(1, 4, 10)).shape == (1, 4, 3)
    with pytest.raises(TypeError, match="DelaySNN"):
        ann_of(static)


def test_ann_twin_learns_a_static_task(tmp_path):
    from neurosim.data import load_digits_images
    images, labels = load_digits_images()
    x = images.reshape(len(images), 1, -1).astype(np.float32)
    snn = DelaySNN(64, [32], 10, delays="none", beta=0.9, dropout=0.1)
    ann = ann_of(snn, static_input=True)
    fit(ann, (x[:1200], labels[:1200]), (x[1200:1400], labels[1200:1400]),
        TrainConfig(epochs=10, batch_size=64, lr=1e-2, progress=False), tmp_path)
    assert evaluate(ann, (x[1400:], labels[1400:]))["accuracy"] > 0.85


# ------------------------------------------------------------------ neurosim compare
def test_compare_command_reports_snn_exits_and_ann(tmp_path, capsys):
    import json
    from pathlib import Path

    from neurosim.cli import main
    from neurosim.infer.compare import compare
    script = str(Path(__file__).resolve().parents[1] / "models" / "digits_snn.py")
    small = ["max_train=150", "epochs=2", "n_steps=12", "hidden=[32]"]
    assert main(["compare", script, "--set", *small, "--out", str(tmp_path), "--target", "none",
                 "--plot", str(tmp_path / "fig.png"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["model"]: r for r in report["rows"]}
    fixed, dc, ann = rows["SNN (trained), fixed steps"], rows["SNN (trained), dynamic confidence"], \
        rows["ANN (same topology)"]
    assert fixed["time_steps"] == 12 and dc["time_steps"] <= 12
    assert dc["synaptic_ops"] <= fixed["synaptic_ops"]
    assert fixed["accuracy"] == pytest.approx(report["snns"]["trained"]["pytorch_accuracy"], abs=0.01)
    conv = rows["SNN (converted), fixed steps"]                     # the second route, on the same inputs
    assert conv["time_steps"] == 12 and len(report["snns"]["converted"]["activation_scales"]) == 1
    assert ann["dense_macs"] == 64 * 32 + 32 * 10 and ann["time_steps"] == 1
    assert ann["arithmetic_energy_uj"] == pytest.approx(ann["dense_macs"] * 4.6e-6)
    assert fixed["arithmetic_energy_uj"] == pytest.approx(fixed["synaptic_ops"] * 0.9e-6)
    assert len(report["snns"]["trained"]["curves"]["fixed_steps_accuracy"]) == 12
    for name in ("compare.json", "compare.md", "fig.png", "snn/best.pt", "ann/best.pt"):
        assert (tmp_path / name).exists()
    ann_meta = torch.load(tmp_path / "ann" / "best.pt", weights_only=False)["meta"]["params"]
    assert ann_meta["epochs"] == report["params"]["ann_epochs"] != report["params"]["epochs"]   # ann_ overrides
    said = []                                                       # same parameters: checkpoints reused
    again = compare(script, overrides={"max_train": 150, "epochs": 2, "n_steps": 12, "hidden": [32]},
                    out_dir=tmp_path, target=None, log=said.append)
    assert said == [f"SNN: reusing {tmp_path / 'snn' / 'best.pt'}", f"ANN: reusing {tmp_path / 'ann' / 'best.pt'}"]
    assert again["rows"][0]["accuracy"] == fixed["accuracy"]
    budget = compare(script, overrides={"max_train": 150, "epochs": 2, "n_steps": 12, "hidden": [32]},
                     out_dir=tmp_path, target=None, max_accuracy_loss=None, step_budget=4.0, log=said.append)
    e = budget["snns"]["trained"]["exit"]
    assert e["validation_mean_steps"] <= 4.0 and e["step_budget"] == 4.0
    from neurosim.hardware.deploy import deploy                     # image checkpoints deploy too
    dep = deploy(tmp_path / "snn" / "best.pt", "loihi2", tmp_path / "deploy")
    assert dep["synapses"] == 64 * 32 + 32 * 10 and (tmp_path / "deploy" / "model.net").exists()
    assert main(["compare", script, "--max-loss", "2"]) == 2
    assert "--max-loss" in capsys.readouterr().err
    assert main(["compare", script, "--step-budget", "0"]) == 2
    assert "--step-budget" in capsys.readouterr().err


# ------------------------------------------------------------------ ANN-to-SNN conversion
def test_conversion_scales_by_activation_percentiles():
    from neurosim.baselines import activation_scales, convert_ann
    ann = DelayANN(3, [2, 2], 2, delays="none", batchnorm=False).double().eval()
    with torch.no_grad():
        ann.projections[0].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]))
        ann.projections[1].weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, 0.0]]))
        ann.projections[2].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    x = np.array([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], [[0.5, 0.5, 0.0]]])
    # layer 1 activations: (1, 0), (0, 2), (0.5, 1) -> positive values 1, 2, 0.5, 1; max = 2
    # layer 2: (1, 0), (2, 0), (1.5, 0) -> positive 1, 2, 1.5; max = 2
    assert activation_scales(ann, x, percentile=100.0) == [2.0, 2.0]
    assert activation_scales(ann, x, percentile=50.0) == [1.0, 1.5]
    snn, lam = convert_ann(ann, x, percentile=100.0)
    w = [p.weight.detach().double() for p in snn.projections]
    torch.testing.assert_close(w[0], ann.projections[0].weight / 2.0)               # / lambda_1
    torch.testing.assert_close(w[1], ann.projections[1].weight * 2.0 / 2.0)         # x lambda_1 / lambda_2
    torch.testing.assert_close(w[2], ann.projections[2].weight * 2.0)               # x lambda_2
    assert snn.config["threshold"] == 1.0 and lam == [2.0, 2.0]


def test_image_task_draws_extra_poisson_trains_for_training():
    from neurosim.data import image_task
    one = image_task("digits", 6, 1000.0, seed=3)
    three = image_task("digits", 6, 1000.0, train_draws=3, seed=3)
    n = len(one["train"][1])
    assert three["train"][0].shape == (3 * n, 6, 64) and len(three["ann"]["train"][1]) == n
    np.testing.assert_array_equal(three["train"][0][:n], one["train"][0])    # the first draw is unchanged
    np.testing.assert_array_equal(three["train"][1], np.tile(one["train"][1], 3))
    assert not np.array_equal(three["train"][0][n:2 * n], three["train"][0][:n])
    np.testing.assert_array_equal(three["test"][0], one["test"][0])
    with pytest.raises(ValueError, match="train_draws"):
        image_task("digits", 6, 1000.0, train_draws=0)


def test_converted_snn_matches_its_ann_on_digits(tmp_path):
    from neurosim.baselines import convert_ann
    from neurosim.data import load_digits_images, poisson_encode
    from neurosim.infer import fixed_step_curve
    from neurosim.train.trainer import as_batch
    images, labels = load_digits_images()
    x = images.reshape(len(images), 1, -1).astype(np.float32)
    ann = DelayANN(64, [64], 10, delays="none", dropout=0.1)
    fit(ann, (x[:1200], labels[:1200]), (x[1200:1400], labels[1200:1400]),
        TrainConfig(epochs=10, batch_size=64, lr=1e-2, progress=False), tmp_path)
    ann_acc = evaluate(ann, (x[1400:], labels[1400:]))["accuracy"]
    snn, _ = convert_ann(ann, x[:1200])
    spikes = poisson_encode(images[1400:], 64, max_rate_hz=1000.0, dt_ms=1.0, seed=0)   # rate = intensity
    with torch.no_grad():
        u = snn(as_batch(spikes)).double().numpy()
    curve = fixed_step_curve(softmax_evidence(u), labels[1400:])
    assert ann_acc > 0.85 and curve[-1] >= ann_acc - 0.02            # within 2 points after 64 steps
    assert curve[-1] > curve[0] + 0.05                               # accuracy builds up over time


def test_conversion_rejects_what_it_cannot_convert():
    from neurosim.baselines import convert_ann
    ann = DelayANN(4, [3], 2, delays="learned", max_delay=4)
    with pytest.raises(ValueError, match="static ANNs"):
        convert_ann(ann, np.ones((2, 1, 4)))
    static = DelayANN(4, [3], 2)
    with pytest.raises(ValueError, match="calibration must have shape"):
        convert_ann(static, np.ones((2, 4)))
    with pytest.raises(ValueError, match="percentile"):
        convert_ann(static, np.ones((2, 1, 4)), percentile=0.0)
    with pytest.raises(TypeError, match="DelayANN"):
        convert_ann(DelaySNN(4, [3], 2, beta=0.9), np.ones((2, 1, 4)))

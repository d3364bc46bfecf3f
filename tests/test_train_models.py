"""Tests of the trainable model, the trainer, conversion to the simulator, and the CLI."""
from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.io import wavfile

from neurosim.cli import main
from neurosim.data import latency_encode, load_digits_images, write_shd
from neurosim.scripts import load_script
from neurosim.train.commands import load_checkpoint
from neurosim.train.convert import to_network
from neurosim.train.models import (DelaySNN, anytime_loss, mean_membrane_loss, model_predict, predict,
                                   readout_loss, softmax_sum)
from neurosim.train.trainer import TrainConfig, evaluate, fit
from shared_paths import FSDD_RECORDINGS

REPO = Path(__file__).resolve().parents[1]


def _digits(n_train=900, n_test=400, steps=12):
    images, labels = load_digits_images()
    x = latency_encode(images, steps, linear=True, threshold=0.1)
    return (x[:n_train], labels[:n_train]), (x[n_train:n_train + n_test], labels[n_train:n_train + n_test])


def _bn_trained(model: DelaySNN, n_in: int, steps: int = 30) -> DelaySNN:
    """Give BatchNorm non-trivial running statistics, then switch to eval."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model((torch.rand(steps, 8, n_in, dtype=torch.float64) < 0.3).double())
    return model.eval()


# ------------------------------------------------------------------ the model
def test_readout_is_double_softmax_cross_entropy():
    u = torch.randn(7, 3, 5, dtype=torch.float64)
    y = torch.tensor([0, 4, 2])
    m = torch.softmax(u, -1).sum(0)
    expected = -torch.log(torch.exp(m[torch.arange(3), y]) / torch.exp(m).sum(-1)).mean()
    assert torch.allclose(readout_loss(u, y), expected)
    assert torch.equal(predict(u), m.argmax(-1))
    assert torch.allclose(softmax_sum(u).sum(-1), torch.full((3,), 7.0, dtype=torch.float64))


def test_anytime_loss_is_the_papers_loss_averaged_over_every_prefix():
    torch.manual_seed(3)
    u = torch.randn(7, 3, 5, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 4, 2])
    by_hand = torch.stack([readout_loss(u[:t], y) for t in range(1, 8)]).mean()
    assert torch.allclose(anytime_loss(u, y), by_hand)
    g_auto, = torch.autograd.grad(anytime_loss(u, y), u)
    g_hand, = torch.autograd.grad(by_hand, u)
    assert torch.allclose(g_auto, g_hand)
    # a one-step run is the paper's loss; the model applies the loss it was built with
    assert torch.allclose(anytime_loss(u[:1], y), readout_loss(u[:1], y))
    net = DelaySNN(4, [6], 5, beta=0.5, loss="anytime")
    assert torch.equal(net.loss(u, y), anytime_loss(u, y))
    assert torch.equal(DelaySNN(4, [6], 5, beta=0.5).loss(u, y), readout_loss(u, y))
    assert DelaySNN.from_config(net.config).config["loss"] == "anytime"
    with pytest.raises(ValueError, match="loss must be one of summed_softmax, anytime, mean_membrane"):
        DelaySNN(4, [6], 5, beta=0.5, loss="per_step")


def test_mean_membrane_loss_is_cross_entropy_of_the_time_average():
    u = np.random.default_rng(5).normal(0.0, 3.0, (6, 4, 3))
    y = np.array([2, 0, 1, 1])
    mean = u.mean(0)
    by_hand = np.mean([np.log(np.exp(row).sum()) - row[c] for row, c in zip(mean, y)])
    ut, yt = torch.from_numpy(u), torch.from_numpy(y)
    assert mean_membrane_loss(ut, yt).item() == pytest.approx(by_hand, rel=1e-12)
    net = DelaySNN(4, [6], 3, beta=0.5, loss="mean_membrane")
    assert torch.equal(net.loss(ut, yt), mean_membrane_loss(ut, yt))
    assert torch.equal(model_predict(net, ut), predict(ut))      # the decision stays the summed softmax


def test_output_length_and_padding_semantics():
    m = DelaySNN(6, [8, 8], 3, max_delay=6, beta=0.5, dropout=0.0).eval()
    assert m.total_tail == 3 * 3
    assert m(torch.zeros(10, 2, 6)).shape == (10 + 9, 2, 3)
    m_none = DelaySNN(6, [8], 3, delays="none", beta=0.5).eval()
    assert m_none(torch.zeros(10, 2, 6)).shape == (10, 2, 3)


def test_memory_saving_gives_identical_outputs_gradients_and_statistics():
    x = (torch.rand(20, 4, 16) < 0.3).float()
    y = torch.tensor([0, 1, 2, 3])
    results = []
    for saving in (False, True):
        net = DelaySNN(16, [24, 24], 5, beta=0.5, memory_saving=saving, seed=1).train()
        torch.manual_seed(0)                   # same dropout masks
        u = net(x)
        readout_loss(u, y).backward()
        results.append((u.detach(), [p.grad.clone() for p in net.parameters()],
                        net.norms[0].running_mean.clone(), int(net.norms[0].num_batches_tracked)))
    (u0, g0, m0, n0), (u1, g1, m1, n1) = results
    assert torch.equal(u0, u1) and torch.equal(m0, m1) and n0 == n1 == 1
    assert all(torch.equal(a, b) for a, b in zip(g0, g1))


def test_bad_model_arguments_are_named():
    with pytest.raises(ValueError, match="n_hidden"):
        DelaySNN(4, [], 2, beta=0.5)
    with pytest.raises(ValueError, match="beta"):
        DelaySNN(4, [4], 2, beta=1.5)
    with pytest.raises(ValueError, match="tau_m"):
        DelaySNN(4, [4], 2)
    with pytest.raises(ValueError, match="mode"):
        DelaySNN(4, [4], 2, beta=0.5, delays="dcls")
    with pytest.raises(ValueError, match=r"\(T, batch, 4\)"):
        DelaySNN(4, [4], 2, beta=0.5)(torch.zeros(3, 5))


# ---------------------------------------------------------------- the trainer
def test_trains_well_above_chance_on_real_digits(tmp_path):
    train, test = _digits()
    model = DelaySNN(64, [64], 10, max_delay=4, beta=0.5, dropout=0.1, seed=0)
    fit(model, train, test, TrainConfig(epochs=4, batch_size=32, lr=1e-2, progress=False), tmp_path)
    acc = evaluate(model, test)["accuracy"]
    assert acc > 0.6, acc            # chance is 0.1
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
    # the sigma schedule ran: from 2 steps to its floor within the first quarter of the epochs
    assert model.projections[0].sigma_init == 2.0 and rows[0]["sigma"] == pytest.approx(0.23)


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    train, val = _digits(200, 100)
    cfg = TrainConfig(epochs=3, batch_size=50, progress=False, seed=4)

    def make():
        return DelaySNN(64, [32], 10, max_delay=4, beta=0.5, dropout=0.3, seed=2)

    straight = make()
    fit(straight, train, val, cfg, tmp_path / "a")
    partial = make()                  # interrupted after its second epoch, then resumed
    cut = TrainConfig(epochs=3, batch_size=50, progress=False, seed=4)
    with pytest.raises(KeyboardInterrupt):
        fit(partial, train, val, cut, tmp_path / "c",
            on_epoch=lambda row: _raise_after(row, 1))
    resumed = make()
    fit(resumed, train, val, cut, tmp_path / "c", resume=True)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    a = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    c = (tmp_path / "c" / "metrics.jsonl").read_text().splitlines()
    strip = [{k: v for k, v in json.loads(r).items() if k != "seconds"} for r in a]
    assert strip == [{k: v for k, v in json.loads(r).items() if k != "seconds"} for r in c]


def _raise_after(row, epoch):
    if row["epoch"] == epoch:
        raise KeyboardInterrupt


def test_checkpoints_reload_to_the_same_predictions(tmp_path):
    train, val = _digits(200, 100)
    model = DelaySNN(64, [32], 10, max_delay=4, beta=0.5, seed=0)
    meta = {"model_config": model.config, "input": {"dt_ms": 1.0, "n_steps": 12, "n_units": 64}}
    fit(model, train, val, TrainConfig(epochs=2, batch_size=50, progress=False), tmp_path, meta=meta)
    reloaded, meta_back = load_checkpoint(tmp_path / "last.pt")
    assert meta_back["input"]["n_units"] == 64
    assert evaluate(reloaded, val)["predictions"] == evaluate(model, val)["predictions"]
    assert not list(tmp_path.glob("*.tmp"))            # atomic writes leave nothing behind
    (tmp_path / "junk.pt").write_bytes(b"")
    torch.save({"format": "other"}, tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="not a neurosim checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_trainer_rejects_bad_data_and_config(tmp_path):
    model = DelaySNN(4, [4], 2, beta=0.5)
    with pytest.raises(ValueError, match="'train'"):
        fit(model, (np.zeros((3, 5)), np.zeros(3)), (np.zeros((1, 5, 4)), np.zeros(1)), TrainConfig(), tmp_path)
    with pytest.raises(ValueError, match="'val' has no samples"):
        fit(model, (np.zeros((3, 5, 4)), np.zeros(3)), (np.zeros((0, 5, 4)), np.zeros(0)), TrainConfig(), tmp_path)
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


# ------------------------------------------------------- conversion to the simulator
@pytest.mark.parametrize("delays,batchnorm,seed", [("learned", True, 0), ("learned", True, 1),
                                                   ("random", True, 2), ("none", False, 3),
                                                   ("learned", False, 4)])
def test_simulator_reproduces_the_trained_network_exactly(delays, batchnorm, seed):
    torch.manual_seed(seed)
    model = DelaySNN(12, [20, 16], 4, delays=delays, beta=0.6, max_delay=6, seed=seed,
                     dropout=0.0, batchnorm=batchnorm).double()
    with torch.no_grad():            # move delays off the integers so rounding matters
        model.projections[0].weight.mul_(1.5)
    model = _bn_trained(model, 12)
    rng = np.random.default_rng(seed)
    counts = (rng.random((30, 12)) < 0.3) * rng.integers(1, 3, (30, 12))     # counts of 1 and 2
    x = torch.from_numpy(counts[:, None, :].astype(np.float64))
    with torch.no_grad():
        u = model(x)[:, 0].numpy()
        h = F.pad(x, (0, 0, 0, 0, 0, model.total_tail))
        hidden = []
        for layer in range(2):
            h = model._hidden(layer, h)
            hidden.append(h[:, 0].numpy().astype(np.uint8))
    result = to_network(model, counts, dt_ms=10.0).run()
    assert sum(int(s.sum()) for s in hidden) > 20                  # the test exercises spikes
    for sim, ref in zip(result["hidden_spikes"], hidden):
        np.testing.assert_array_equal(sim, ref)
    np.testing.assert_allclose(result["output"], u, rtol=0, atol=1e-12)


def test_conversion_rejects_bad_input():
    model = DelaySNN(3, [4], 2, beta=0.5).eval()
    with pytest.raises(ValueError, match=r"shape \(T, 3\)"):
        to_network(model, np.zeros((5, 4)), 1.0)
    with pytest.raises(ValueError, match="non-negative integers"):
        to_network(model, np.full((5, 3), 0.5), 1.0)


# ----------------------------------------------------------------- the CLI
SCRIPT = textwrap.dedent('''
    import numpy as np
    from neurosim.train.models import DelaySNN
    from neurosim.train.pipeline import SpikeInputSpec

    PARAMS = dict(data=None, epochs=8, batch_size=6, lr=2e-2, lr_delay=0.1, weight_decay=1e-5, seed=0,
                  hidden=(24,))

    def load_data(p):
        spec = SpikeInputSpec(dt_ms=10.0, n_steps=30, n_units=16, front_end={"n_channels": 16})
        x, y = spec.load(p["data"])
        return {"train": (x, y), "val": (x, y), "test": (x, y), "spec": spec, "n_classes": 3}

    def build_model(p):
        return DelaySNN(16, p["hidden"], 3, max_delay=4, beta=0.5, seed=p["seed"])
''')


def _tone_folder(path, n_per_class=6):
    """WAV files named like FSDD whose 'digit' sets the pitch (a learnable task)."""
    path.mkdir()
    fs = 8000
    t = np.arange(int(0.25 * fs)) / fs
    rng = np.random.default_rng(0)
    for digit, f0 in enumerate((300.0, 900.0, 2400.0)):
        for i in range(n_per_class):
            wave = np.sin(2 * np.pi * f0 * (1 + 0.02 * rng.standard_normal()) * t) * np.hanning(t.size)
            wavfile.write(path / f"{digit}_spk{'ab'[i % 2]}_{i}.wav", fs, (wave * 20000).astype(np.int16))
    return path


def test_cli_trains_and_evaluates_on_a_wav_folder_and_an_shd_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path / "cache"))
    wavs = _tone_folder(tmp_path / "wavs")
    script = tmp_path / "tones.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    assert main(["train", str(script), "--set", f"data='{wavs}'", "--out", str(out),
                 "--no-progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["test_accuracy"] > 0.5 and (out / "best.pt").is_file() and (out / "test.json").is_file()
    assert main(["evaluate", str(out / "best.pt"), "--data", str(wavs), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n"] == 18 and res["accuracy"] == pytest.approx(summary["test_accuracy"])
    assert len(res["per_class_accuracy"]) == 3
    # the same data as an SHD-schema file gives the same answer
    cached = next((tmp_path / "cache").glob("encoded_*.h5"))
    shd = tmp_path / "tones.h5"
    shutil.copy(cached, shd)
    assert main(["evaluate", str(out / "best.pt"), "--data", str(shd), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == res["accuracy"]
    assert main(["evaluate", str(out / "best.pt"), "--data", str(shd)]) == 0
    assert "class 2:" in capsys.readouterr().out


def test_cli_reports_unknown_parameters_and_missing_data(tmp_path, capsys):
    script = tmp_path / "tones.py"
    script.write_text(SCRIPT)
    assert main(["train", str(script), "--set", "hiden=(3,)"]) == 2
    assert "unknown parameter(s) hiden" in capsys.readouterr().err
    bad = tmp_path / "bad.py"
    bad.write_text("PARAMS = {}\n")
    assert main(["train", str(bad)]) == 2
    assert "load_data" in capsys.readouterr().err
    write_shd(tmp_path / "x.h5", [np.array([0.01])], [np.array([40])], [0], n_units=64)
    model = DelaySNN(16, [4], 3, beta=0.5)
    torch.save({"format": "neurosim-checkpoint-1", "model_state": model.state_dict(),
                "meta": {"model_config": model.config, "n_classes": 3,
                         "input": {"dt_ms": 10.0, "n_steps": 5, "n_units": 16, "front_end": None}}},
               tmp_path / "m.pt")
    assert main(["evaluate", str(tmp_path / "m.pt"), "--data", str(tmp_path / "x.h5")]) == 2
    assert "64 channels; the model expects 16" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "m.pt"), "--data", str(tmp_path)]) == 2
    assert "without an audio front end" in capsys.readouterr().err


def _fsdd_subset(folder: Path) -> Path:
    """Three recordings of each digit by george, jackson and theo, copied from the real FSDD."""
    folder.mkdir()
    for speaker in ("george", "jackson", "theo"):
        for digit in range(10):
            for i in range(3):
                shutil.copy(FSDD_RECORDINGS / f"{digit}_{speaker}_{i}.wav", folder)
    return folder


@pytest.mark.skipif(not FSDD_RECORDINGS.is_dir(), reason=f"FSDD recordings not found at {FSDD_RECORDINGS}")
def test_fsdd_script_validates_on_a_held_out_speaker(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path / "cache"))
    subset = _fsdd_subset(tmp_path / "fsdd")
    module = load_script(REPO / "models" / "fsdd_delays.py", required=("PARAMS", "load_data"))
    data = module.load_data({**module.PARAMS, "data_dir": str(subset), "val_speaker": "theo"})
    assert [len(data[k][1]) for k in ("train", "val", "test")] == [30, 30, 30]
    ds = data["spec"].dataset(subset)
    x, _ = data["spec"].bin(ds)
    names = list(ds.speaker_names)
    for split, speaker in (("val", "theo"), ("test", "george"), ("train", "jackson")):
        rows = np.flatnonzero(np.asarray(ds.speakers) == names.index(speaker))
        assert np.array_equal(data[split][0], x[rows]), split
    for bad in ("george", "nobody"):
        with pytest.raises(ValueError, match="val_speaker .* must be a speaker other than the test speaker"):
            module.load_data({**module.PARAMS, "data_dir": str(subset), "val_speaker": bad})


@pytest.mark.skipif(not FSDD_RECORDINGS.is_dir(), reason=f"FSDD recordings not found at {FSDD_RECORDINGS}")
def test_fsdd_script_runs_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path / "cache"))
    subset = _fsdd_subset(tmp_path / "fsdd")
    out = tmp_path / "run"
    args = ["train", "models/fsdd_delays.py", "--set", f"data_dir='{subset}'", "epochs=1", "hidden=(16,)",
            "--out", str(out), "--no-progress", "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["params"]["test_speaker"] == "george"
    ds_test = [p.name for p in subset.iterdir() if "_george_" in p.name]
    assert len(ds_test) == 30
    assert 0.0 <= summary["test_accuracy"] <= 1.0


def _official_shd(path, n_samples, rng):
    """A file in the exact official SHD layout: float16 seconds, uint16 units 0..699, uint8 labels."""
    import h5py
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n_samples,), dtype=h5py.vlen_dtype(np.float16))
        units = f.create_dataset("spikes/units", (n_samples,), dtype=h5py.vlen_dtype(np.uint16))
        labels = np.arange(n_samples) % 20
        for i in range(n_samples):
            k = int(rng.integers(50, 200))
            times[i] = np.sort(rng.random(k) * 0.5).astype(np.float16)
            units[i] = (rng.integers(0, 35, k) * 20 + labels[i]).astype(np.uint16)   # class-specific channels
        f.create_dataset("labels", data=labels.astype(np.uint8))
        f.create_dataset("extra/speaker", data=(np.arange(n_samples) % 3).astype(np.uint8))


def test_shd_script_trains_on_files_in_the_official_schema(tmp_path, capsys):
    rng = np.random.default_rng(0)
    _official_shd(tmp_path / "shd_train.h5", 80, rng)
    _official_shd(tmp_path / "shd_test.h5", 40, rng)
    args = ["train", "models/shd_delays.py", "--set", f"train_file='{tmp_path / 'shd_train.h5'}'",
            f"test_file='{tmp_path / 'shd_test.h5'}'", "epochs=1", "hidden=(8,8)", "batch_size=16",
            "n_steps=60", "val_fraction=0.25", "--out", str(tmp_path / "run"), "--no-progress", "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    model, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    assert model.config["n_in"] == 140 and model.config["n_hidden"] == [8, 8] and model.config["n_out"] == 20
    assert meta["input"]["channel_group"] == 5 and model.config["beta"] == pytest.approx(1 - 10 / 10.05)
    assert summary["params"]["max_delay"] == 24 and len(summary["test_per_class_accuracy"]) == 20


def test_readme_training_example_runs(tmp_path, monkeypatch):
    """The README's training example is executed as written (output folder moved to tmp)."""
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"## Training\n\n```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code.replace("print(", "accuracy = ("), "README.md", "exec"), scope)
    assert scope["accuracy"] > 0.5 and (tmp_path / "runs" / "digits" / "best.pt").is_file()

"""neurosim deploy: a trained model to Loihi 2 files and report, checked end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurosim import load_nir
from neurosim.cli import main
from neurosim.hardware import read_netx, run_fixed_network
from neurosim.train.commands import load_checkpoint
from neurosim.train.convert import to_network
from neurosim.train.pipeline import SpikeInputSpec
from test_train_models import SCRIPT, _tone_folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small delay network trained on synthetic tones (WAV files named like FSDD)."""
    root = tmp_path_factory.mktemp("deploy")
    mp = pytest.MonkeyPatch()
    mp.setenv("NEUROSIM_CACHE", str(root / "cache"))
    wavs = _tone_folder(root / "wavs")
    script = root / "tones.py"
    script.write_text(SCRIPT)
    assert main(["train", str(script), "--set", f"data='{wavs}'", "--out", str(root / "run"),
                 "--no-progress", "--json"]) == 0
    yield root, wavs
    mp.undo()


def test_deploy_writes_consistent_files_and_report(trained, capsys):
    root, wavs = trained
    capsys.readouterr()
    out = root / "dep"
    assert main(["deploy", str(root / "run" / "best.pt"), "--target", "loihi2", "--out", str(out),
                 "--data", str(wavs), "--max-samples", "9"]) == 0
    text = capsys.readouterr().out
    assert "fixed-point emulator" in text and "cores used: 1" in text
    report = json.loads((out / "report.json").read_text())
    acc = report["accuracy"]
    assert acc["samples"] == 9 and acc["float_fixed_agreement"] >= 8 / 9
    assert acc["simulator_float"] >= 0.5
    assert report["placement"]["cores_used"] >= 1 and report["energy"]["energy_per_inference_uj"] > 0
    assert report["ann_counterpart"]["macs_per_inference"] > 0
    for name in ("quantized.npz", "quantization.json", "model.nir", "model.net", "report.md"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.tmp*"))

    # the netx file holds exactly the quantised layers ...
    layers = read_netx(out / "model.net")
    q = np.load(out / "quantized.npz")
    for k, (proj, params) in enumerate(layers, start=1):
        np.testing.assert_array_equal(proj.quantized_weights * 2 ** proj.weight_exp,
                                      q[f"layer{k}_weight_mantissa"] * 2 ** int(q[f"layer{k}_weight_exp"]))
        assert params.vth == int(q[f"layer{k}_vth"]) and params.dv == int(q[f"layer{k}_dv"])
    # ... and the golden-checked emulator on them reproduces the network backend's spikes
    model, meta = load_checkpoint(root / "run" / "best.pt")
    spec = SpikeInputSpec(**meta["input"])
    x, _ = spec.load(wavs)
    sample = (x[0] > 0).astype(np.uint8)
    conv = to_network(model.double(), sample, spec.dt_ms, align_bias=False)
    opts = json.loads((out / "quantization.json").read_text())["options"]
    conv.net.quantize_options = opts
    steps = conv.n_steps + len(conv.hidden) + 2
    conv.net.run(steps * spec.dt_ms, backend="loihi2", progress=False)
    raster = np.zeros((sample.shape[1], steps), dtype=np.int64)
    raster[:, :sample.shape[0]] = sample.T
    ref = run_fixed_network(raster, layers)
    for k, mon in enumerate(conv.spike_monitors, start=1):
        got = np.zeros_like(ref[f"lif{k}_s_out"])
        got[np.rint(mon.times / spec.dt_ms).astype(int), mon.indices] = 1
        np.testing.assert_array_equal(got, ref[f"lif{k}_s_out"])
    assert ref["lif1_s_out"].sum() > 0

    # the NIR file imports back into an equivalent simulator network
    graph = load_nir(out / "model.nir")
    assert {"input", "hidden1", "output"} <= set(graph.nodes)


def test_deploy_without_data_and_errors(trained, capsys):
    root, _ = trained
    assert main(["deploy", str(root / "run" / "best.pt"), "--out", str(root / "dep2"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "accuracy" not in report and "energy" not in report and report["placement"]["cores_used"] >= 1
    assert main(["deploy", str(root / "run" / "best.pt"), "--target", "loihi9", "--out", str(root / "d3")]) == 2
    assert "loihi9" in capsys.readouterr().err
    torch.save({"format": "x"}, root / "bad.pt")
    assert main(["deploy", str(root / "bad.pt"), "--out", str(root / "d4")]) == 2
    assert "not a neurosim checkpoint" in capsys.readouterr().err

"""Results files, plots and the command line."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurosim as ns
from neurosim import analysis, cli

ROOT = Path(__file__).resolve().parents[1]


def small_run():
    net = ns.Network(dt=0.1, name="small")
    pop = net.add_population("pop", 20, ns.LIF(i_offset=20.0), v_init=ns.Uniform(-65.0, -50.0))
    spikes = net.monitor_spikes(pop)
    state = net.monitor_state(pop, ["v", "i_e"], [0, 3], every=2)
    rate = net.monitor_rate(pop)
    net.run(50.0, seed=0, progress=False)
    return net, spikes, state, rate


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_save_and_load_round_trip(tmp_path, suffix):
    net, spikes, state, rate = small_run()
    path = ns.save_results(net, tmp_path / f"out{suffix}")
    meta, arrays = ns.load_results(path)
    assert meta["network"]["populations"][0]["parameters"]["i_offset"] == 20.0
    assert meta["network"]["dt_ms"] == 0.1 and meta["t_ms"] == pytest.approx(50.0)
    np.testing.assert_array_equal(arrays["spikes/0/pop/times"], spikes.times)
    np.testing.assert_array_equal(arrays["state/0/pop/v"], state.v)
    np.testing.assert_array_equal(arrays["rate/0/pop/rate"], rate.rate)
    assert [p.name for p in tmp_path.iterdir()] == [f"out{suffix}"]  # no temp file left behind


def test_save_rejects_unknown_format(tmp_path):
    net, *_ = small_run()
    with pytest.raises(ValueError, match=r"must end in .npz, .h5 or .hdf5"):
        ns.save_results(net, tmp_path / "out.csv")


def test_rate_and_cv_of_regular_neuron():
    net = ns.Network(dt=0.1)
    pop = net.add_population("p", 1, ns.LIF(i_offset=30.0, tau_ref=2.0))
    mon = net.monitor_spikes(pop)
    rates = net.monitor_rate(pop)
    net.run(500.0, progress=False)
    assert analysis.isi_cv(mon) < 0.01
    assert analysis.mean_rate(mon, 500.0) == pytest.approx(rates.rate.mean(), rel=1e-12)


def test_plots(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from neurosim import plot
    net, spikes, state, rate = small_run()
    plot.raster(spikes)
    plot.rate(rate)
    plot.traces(state, "v")
    fig = plot.overview([spikes], 50.0)
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000


def test_cli_run_prints_statistics_and_writes_figure(tmp_path, capsys):
    png = tmp_path / "cuba.png"
    code = cli.main(["run", str(ROOT / "models" / "cuba.py"), "--duration", "100", "--set", "n=1000",
                     "--plot", str(png), "--no-progress", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["neurons"] == 1000 and summary["spikes"] > 0
    assert {r["population"] for r in summary["populations"]} == {"exc", "inh"}
    assert summary["synaptic_events"] > summary["spikes"]
    assert png.stat().st_size > 1000


def test_cli_reports_bad_override(capsys):
    code = cli.main(["run", str(ROOT / "models" / "cuba.py"), "--set", "size=3"])
    assert code == 2
    assert "unknown parameter(s) size" in capsys.readouterr().err


def test_cli_run_passes_threads_through(capsys):
    code = cli.main(["run", str(ROOT / "models" / "cuba.py"), "--duration", "1", "--set", "n=1000",
                     "--threads", "0", "--no-progress"])
    assert code == 2
    assert "threads must be an integer in [1," in capsys.readouterr().err


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "neurosim.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "run" in out.stdout


@pytest.mark.parametrize("script,params", [("cuba.py", ["n=800"]), ("coba.py", ["n=800"]),
                                            ("brunel.py", ["n_exc=800"])])
def test_model_scripts_run(script, params, capsys):
    assert cli.main(["run", str(ROOT / "models" / script), "--duration", "50", "--set", *params,
                     "--no-progress"]) == 0
    assert "synaptic events" in capsys.readouterr().out


def test_readme_quick_start_runs():
    """The README's quick start is executed as written, so it stays true."""
    import re
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## Quick start\n\n```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(code.replace("seed=1)", "seed=1, progress=False)"), "README.md", "exec"), scope)
    assert scope["spikes"].times.size > 0
    assert scope["v"].v.shape == (1000, 2)

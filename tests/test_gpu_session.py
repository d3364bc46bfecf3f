"""benchmarks/gpu_session.sh, run where there is no GPU: every step runs, reports its verdict and
leaves its log, and a failing step does not stop the next (on a GPU machine the script is the
real check, so it is not run from the test suite there)."""
import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from neurosim.engine import cupy_backend

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(cupy_backend.gpu_available(), reason="with a GPU, run benchmarks/gpu_session.sh itself")
def test_gpu_session_reports_every_step_without_a_gpu(tmp_path):
    env = {**os.environ, "GPU_TESTS_S": "300", "CUBA_S": "120", "TRAIN_S": "120", "CUBA_SIZES": "4000"}
    out = tmp_path / "gpu_out"
    run = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_session.sh"), str(out)], env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    verdicts = (out / "summary.txt").read_text().splitlines()
    assert [v.split(":")[0] for v in verdicts] == ["gpu_tests", "cuba_gpu", "train_gpu"]
    assert verdicts[0].startswith("gpu_tests: ok")                  # collected, all skipped with a reason
    assert "skipped" in (out / "gpu_tests.txt").read_text()
    assert verdicts[1].startswith("cuba_gpu: failed (exit 2)")      # the benchmarks refuse to run on a CPU ...
    assert "no NVIDIA GPU found" in (out / "cuba_gpu.txt").read_text()
    assert verdicts[2].startswith("train_gpu: failed (exit 2)")
    assert "sees no CUDA device" in (out / "train_gpu.txt").read_text()   # ... and say why
    env_txt = (out / "env.txt").read_text()
    assert "numpy" in env_txt and "torch" in env_txt
    assert sorted(p.name for p in out.iterdir()) == ["cuba_gpu.txt", "env.txt", "gpu_tests.txt", "summary.txt",
                                                     "train_gpu.txt"]


def _cuba_gpu():
    spec = importlib.util.spec_from_file_location("cuba_gpu", REPO / "benchmarks" / "cuba_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cuba_gpu_traffic_model_counts_the_passes_that_run():
    """The GPU benchmark's bytes-per-event model, checked by hand on CUBA (no delays, no current,
    no Poisson input: the neuron pass and the synapses only) and COBA, so it cannot first fail on
    a borrowed GPU."""
    bench = _cuba_gpu()
    assert bench.parse_args(["--sizes", "4000", "--compare-launches"]).compare_launches
    for name in ("cuba", "coba"):
        net = bench._script(name).build(n=1000)
        net.run(0.1, seed=1, backend="numpy", progress=False)
        rows = net._compiled.S.shape[0]
        per_step = 2 * 8 * rows * 1000 + 4 * 1000
        assert bench.bytes_per_event(net, steps=10, events=5000) == (10 * per_step + 20 * 5000) / 5000


def test_published_cuba_figures_are_interpolated_as_a_power_law():
    bench = _cuba_gpu()
    at = bench.published_at(10_000)
    assert at["brian2cuda"] == pytest.approx(1.10) and at["brian2genn"] == pytest.approx(0.428)
    between = bench.published_at(int(round((1e4 * 1e5) ** 0.5)))   # geometric middle of two sizes
    assert between["brian2cuda_1_post_block"] == pytest.approx((0.881 * 1.55) ** 0.5, rel=1e-4)
    assert bench.published_at(4_096_000) == {}                       # beyond the largest published N
    assert set(bench.published_at(3_562_500)) == set(bench.PUBLISHED_CUBA)

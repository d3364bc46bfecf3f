#!/usr/bin/env bash
# Every GPU check of neurosim in one go, for a borrowed GPU machine with little time on it.
#
#   bash benchmarks/gpu_session.sh [OUT_DIR]        # default: $OUT, else ./gpu_out
#
# Runs from the repository root, without installing neurosim (PYTHONPATH), on a
# Python that already has NumPy, Numba, CuPy, PyTorch and pytest.  Wheels found in
# .whl/ (snntorch for the training benchmark: docs/gpu.md says how to fetch them)
# are installed into /tmp/site first.  Steps, each under its own time limit so
# that one slow step cannot take the others' time:
#
#   env.txt           nvidia-smi, Python and package versions
#   gpu_tests.txt     pytest -m gpu: tests/test_cupy_backend.py, tests/test_random_networks.py,
#                     tests/test_cuda_training_emulation.py
#   cuba_gpu.*        benchmarks/cuba_gpu.py: CUBA and COBA, 4k ... 4M neurons, 1 s each,
#                     CUDA graphs against kernel-by-kernel launches
#   train_gpu.*       benchmarks/train_vs_snntorch.py --device cuda
#
# Limits (seconds) can be changed with GPU_TESTS_S, CUBA_S, TRAIN_S; sizes with
# CUBA_SIZES.  The defaults fit one 10-minute call.  A step that fails or runs out
# of time is reported in summary.txt and the next step still runs.
set -u
cd "$(dirname "$0")/.."
out=${1:-${OUT:-gpu_out}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python=${PYTHON:-python3}

if compgen -G ".whl/*.whl" > /dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi

{
    date -u
    nvidia-smi || echo "nvidia-smi: not found"
    "$python" - <<'EOF'
import importlib, sys
print("python", sys.version.split()[0])
for name in ("numpy", "numba", "cupy", "torch", "snntorch", "pytest"):
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as err:                      # report, do not stop: the steps below say what is missing
        print(name, "unavailable:", type(err).__name__, err)
EOF
} > "$out/env.txt" 2>&1

summary="$out/summary.txt"
: > "$summary"
step() {   # step NAME LIMIT_S COMMAND...: run, keep the log, record status and time
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" > "$out/$name.txt" 2>&1
    local rc=$?
    local verdict="ok"
    [ $rc -eq 124 ] && verdict="ran out of its ${limit} s"
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && verdict="failed (exit $rc)"
    echo "$name: $verdict after $((SECONDS - t0)) s" | tee -a "$summary"
}

step gpu_tests "${GPU_TESTS_S:-180}" "$python" -m pytest -q -m gpu -p no:cacheprovider \
    tests/test_cupy_backend.py tests/test_random_networks.py tests/test_cuda_training_emulation.py
# shellcheck disable=SC2086  # CUBA_SIZES is a list of sizes
step cuba_gpu "${CUBA_S:-240}" "$python" benchmarks/cuba_gpu.py \
    --sizes ${CUBA_SIZES:-4000 64000 256000 1024000 4096000} --compare-launches --json "$out/cuba_gpu.json"
step train_gpu "${TRAIN_S:-120}" "$python" benchmarks/train_vs_snntorch.py --device cuda \
    --threads 16 --json "$out/train_gpu.json"

// State monitors: the recorded (row, column) pairs of one monitor, gathered on
// the device into the chunk's state buffer (copied to the host once per chunk).
#include "common.cuh"

// Thread j < count: out[j] = S[row[j], col[j]] (S is [rows, n_dyn] row-major).
extern "C" __global__ void gather_state(const double* S, long long n_dyn, const long long* row,
                                        const long long* col, long long count, double* out)
{
    long long j = thread_index();
    if (j >= count) return;
    out[j] = S[row[j] * n_dyn + col[j]];
}
NEUROSIM_CPU_LAUNCHER(gather_state)

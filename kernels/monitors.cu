// State monitors: the recorded (row, column) pairs of one monitor, gathered on
// the device into the chunk's state buffer (copied to the host once per chunk).
#include "common.cuh"

// Thread j < count, at steps t = t0 + clock[0] with t % every == 0 (the monitor's
// schedule; other steps return at once): out[(t - first) / every * count + j] =
// S[row[j], col[j]] (S is [rows, n_dyn] row-major; first: the chunk's first step
// of the schedule).
extern "C" __global__ void gather_state(const double* S, long long n_dyn, const long long* row,
                                        const long long* col, long long count, double* out, const long long* clock,
                                        long long t0, long long first, long long every)
{
    long long j = thread_index();
    long long t = t0 + clock[0];
    if (j >= count || t % every != 0) return;
    out[(t - first) / every * count + j] = S[row[j] * n_dyn + col[j]];
}
NEUROSIM_CPU_LAUNCHER(gather_state)

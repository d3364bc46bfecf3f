// Neuron update: one thread per neuron of every population, one launch per step.
#include "spike_list.cuh"
#include "neuron_models.cuh"

// Advance neuron i (0 <= i < n_dyn) by one step with its population's model and
// append it to the step's spike list when it spikes (spike_list.cuh).
//
// S: float64 [rows, n_dyn] state (row-major); pop_of: int32 [n_dyn] population
// of each neuron; pop_kind: int32 [P] model kind (position in MODELS);
// pop_coef: float64 [P, n_coef] step coefficients; i_ext: float64 drive, row
// k = clock[0] at i_ext + k * ext_stride (ext_stride 0: one row for every
// step), read only when has_drive != 0 (else the drive is 0.0 and i_ext is
// not touched: a network without currents streams no drive array).  A neuron spikes when its step function returns more than 0.5, as in
// the CPU backends (`fired > 0.5`).
extern "C" __global__ void advance_neurons(double* S, long long n_dyn, const int* pop_of, const int* pop_kind,
                                           const double* pop_coef, long long n_coef, const double* i_ext,
                                           long long ext_stride, int has_drive, const long long* clock,
                                           NEUROSIM_SPIKE_LIST_PARAMS)
{
    long long i = thread_index();
    if (i >= n_dyn) return;
    long long k = clock[0];
    int p = pop_of[i];
    double drive = has_drive ? i_ext[k * ext_stride + i] : 0.0;
    double spiked = neuron_step(pop_kind[p], S, n_dyn, i, pop_coef + (long long)p * n_coef, drive);
    if (spiked > 0.5) append_spike(i, k, NEUROSIM_SPIKE_LIST_ARGS);
}
NEUROSIM_CPU_LAUNCHER(advance_neurons)

// Neuron update: one thread per neuron of every population, one launch per step.
#include "common.cuh"
#include "neuron_models.cuh"

// Advance neuron i (0 <= i < n_dyn) by one step with its population's model.
//
// S: float64 [rows, n_dyn] state (row-major); pop_of: int32 [n_dyn] population
// of each neuron; pop_kind: int32 [P] model kind (position in MODELS);
// pop_coef: float64 [P, n_coef] step coefficients; i_ext: float64 [n_dyn]
// drive of this step; fired: uint8 [>= n_dyn] set to 1 where the neuron spiked,
// else 0 (as the CPU backends' `fired > 0.5`).
extern "C" __global__ void advance_neurons(double* S, long long n_dyn, const int* pop_of, const int* pop_kind,
                                           const double* pop_coef, long long n_coef, const double* i_ext,
                                           unsigned char* fired)
{
    long long i = thread_index();
    if (i >= n_dyn) return;
    int p = pop_of[i];
    double spiked = neuron_step(pop_kind[p], S, n_dyn, i, pop_coef + (long long)p * n_coef, i_ext[i]);
    fired[i] = spiked > 0.5 ? 1 : 0;
}
NEUROSIM_CPU_LAUNCHER(advance_neurons)

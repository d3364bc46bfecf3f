// Random input drawn on the device from counter-based uniforms (philox.cuh), the
// same values the host draws for the CPU backends (neurosim/engine/poisson.py):
// Poisson groups with time-varying rates, and Poisson inputs.
#include "philox.cuh"
#include "spike_list.cuh"

// The smallest k with x < cdf[k] (the last k, n_cdf - 1, if none), searched from
// guide[floor(x * n_guide)]: the inversion of neurosim.engine.poisson.invert.
__device__ inline long long invert_cdf(double x, const double* cdf, long long n_cdf, const long long* guide,
                                       long long n_guide)
{
    long long g = (long long)(x * (double)n_guide);
    long long k = guide[g < n_guide - 1 ? g : n_guide - 1];
    while (k < n_cdf - 1 && cdf[k] <= x) ++k;
    return k;
}

// Thread i < n: neuron start + i of a Poisson group with key (k0, k1) spikes at
// step t = t0 + k (k = clock[0]) when counter_uniform(k0, k1, t, i) < its
// probability, p[k * p_stride + i] (p_stride n: one per neuron) or p[k] (p_stride
// 1: one for the group); the spike is appended as any other (spike_list.cuh).
extern "C" __global__ void poisson_group(unsigned int k0, unsigned int k1, long long t0, const long long* clock,
                                         const double* p, long long p_stride, long long start, long long n,
                                         NEUROSIM_SPIKE_LIST_PARAMS)
{
    long long i = thread_index();
    if (i >= n) return;
    long long k = clock[0];
    double p_i = p[k * p_stride + (p_stride > 1 ? i : 0)];
    if (counter_uniform(k0, k1, t0 + k, i) < p_i) append_spike(start + i, k, NEUROSIM_SPIKE_LIST_ARGS);
}
NEUROSIM_CPU_LAUNCHER(poisson_group)

// Thread m < count: target m of a Poisson input with key (k0, k1) receives at step
// t = t0 + clock[0] the Binomial count of its sources that fire, the inversion of
// counter_uniform(k0, k1, t, m) in the table (cdf, guide), times weight, added (when
// nonzero) to entry pin_slot[m] (receptor * n_dyn + column) of the current ring-buffer slot
// (clock[1]).
extern "C" __global__ void poisson_input(unsigned int k0, unsigned int k1, long long t0, const long long* clock,
                                         const double* cdf, long long n_cdf, const long long* guide, long long n_guide,
                                         double weight, const long long* pin_slot, long long count, double* ring,
                                         long long n_dyn)
{
    long long m = thread_index();
    if (m >= count) return;
    long long events = invert_cdf(counter_uniform(k0, k1, t0 + clock[0], m), cdf, n_cdf, guide, n_guide);
    double value = (double)events * weight;
    if (value != 0.0) atomicAdd(current_slot(ring, clock, n_dyn) + pin_slot[m], value);
}
NEUROSIM_CPU_LAUNCHER(poisson_input)

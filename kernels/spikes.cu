// Spikes that no neuron update produces, and the end of a step.
//
// The spike list, the per-node counts, the event totals and the recorded
// spikes are written by append_spike (spike_list.cuh): from advance_neurons
// (neuron_update.cu) for the neurons' own spikes, from append_sources here for
// the spikes the host lists (spike sources, constant-rate Poisson groups), and
// from poisson_group (poisson.cu) for the Poisson groups drawn on the device.
#include "spike_list.cuh"

// Thread j: append the j-th source spike of step k = clock[0], src_idx[src_ptr[k] + j]
// (src_ptr: CSR over the chunk's steps; the launch has at least as many threads
// as the busiest step has source spikes).
extern "C" __global__ void append_sources(const long long* src_idx, const long long* src_ptr, const long long* clock,
                                          NEUROSIM_SPIKE_LIST_PARAMS)
{
    long long j = thread_index();
    long long k = clock[0];
    long long first = src_ptr[k];
    if (j >= src_ptr[k + 1] - first) return;
    append_spike(src_idx[first + j], k, NEUROSIM_SPIKE_LIST_ARGS);
}
NEUROSIM_CPU_LAUNCHER(append_sources)

// One thread, the last launch of a step: store the recorded-spike total as the end
// of step k's range in the record buffer (step_end[k + 1]), then advance the
// clock to the next step and ring slot.
extern "C" __global__ void end_step(long long* clock, long long D, const unsigned long long* rec_total,
                                    unsigned long long* step_end)
{
    if (thread_index() != 0) return;
    long long k = clock[0];
    step_end[k + 1] = rec_total[0];
    clock[0] = k + 1;
    clock[1] = clock[1] + 1 < D ? clock[1] + 1 : 0;
}
NEUROSIM_CPU_LAUNCHER(end_step)

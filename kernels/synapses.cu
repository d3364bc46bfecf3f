// Synaptic input: delivery of a ring-buffer slot into the receptor rows, the
// event-driven scatter of spiking neurons' synapses into the ring buffer, and
// host-drawn Poisson input.
//
// The ring buffer is float64 [D, 2, n_dyn]: slot, receptor (0 exc, 1 inh),
// column.  Several synapses (and Poisson inputs) may add into one entry in the
// same step: they use atomicAdd on double.  On a GPU the order of those
// additions is not fixed, so a sum of k terms may differ from the CPU's
// in-order sum by at most (k - 1) * eps * sum |w| (docs/gpu.md); the CPU
// emulation runs threads in index order and reproduces the CPU backends bit
// for bit.
#include "common.cuh"

// Thread e < 2 n_dyn: add slot[e] (receptor e / n_dyn, column e % n_dyn) to its
// state row rec_row[e] when nonzero, and clear the entry.
extern "C" __global__ void deliver(double* S, long long n_dyn, double* slot, const int* rec_row)
{
    long long e = thread_index();
    if (e >= 2 * n_dyn) return;
    double x = slot[e];
    if (x != 0.0) {
        long long col = e < n_dyn ? e : e - n_dyn;
        S[(long long)rec_row[e] * n_dyn + col] += x;
    }
    slot[e] = 0.0;
}
NEUROSIM_CPU_LAUNCHER(deliver)

// One projection, thread j < *n_spikes: if spike spikes[j] is a neuron of the
// projection's pre node [pre_start, pre_stop), add each of its synapses (CSR row
// ptr_offset + g - pre_start of indptr, in order) to the target receptor: a
// synapse of delay 0 straight to its state row in S (rec_row, as in deliver),
// any other to slot (slot_now + delay) % D.  receptor < 0: by the weight's sign
// (magnitude != 0: conductances take |w|).  uniform >= 0: every synapse has the
// weight and delay of synapse `uniform` (only post indices are read).
extern "C" __global__ void propagate(const long long* spikes, const unsigned long long* n_spikes,
                                     long long pre_start, long long pre_stop, long long ptr_offset,
                                     const long long* indptr, const int* post, const double* weight,
                                     const unsigned short* delay, int receptor, int magnitude, long long uniform,
                                     long long post_base, long long n_dyn, long long slot_now, long long D,
                                     double* ring, double* S, const int* rec_row)
{
    long long j = thread_index();
    if ((unsigned long long)j >= n_spikes[0]) return;
    long long g = spikes[j];
    if (g < pre_start || g >= pre_stop) return;
    long long row = ptr_offset + (g - pre_start);
    for (long long syn = indptr[row]; syn < indptr[row + 1]; ++syn) {
        long long s = uniform >= 0 ? uniform : syn;
        double w = weight[s];
        int r = receptor;
        if (r < 0) {
            r = w < 0.0 ? 1 : 0;
            if (magnitude && w < 0.0) w = -w;
        }
        long long col = post_base + post[syn];
        if (delay[s] == 0) {
            atomicAdd(S + (long long)rec_row[r * n_dyn + col] * n_dyn + col, w);
            continue;
        }
        long long slot = slot_now + (long long)delay[s];
        if (slot >= D) slot -= D;
        atomicAdd(ring + (slot * 2 + r) * n_dyn + col, w);
    }
}
NEUROSIM_CPU_LAUNCHER(propagate)

// Thread m < count: add the host-drawn Poisson input values[m] (when nonzero)
// into entry pin_slot[m] (receptor * n_dyn + column) of the current slot.
extern "C" __global__ void add_input(double* slot, const long long* pin_slot, const double* values, long long count)
{
    long long m = thread_index();
    if (m >= count) return;
    double x = values[m];
    if (x != 0.0) atomicAdd(slot + pin_slot[m], x);
}
NEUROSIM_CPU_LAUNCHER(add_input)

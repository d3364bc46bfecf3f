// Synaptic input: delivery of a ring-buffer slot into the receptor rows, the
// event-driven scatter of spiking neurons' synapses into the ring buffer (and,
// for delay 0, straight into the state), and Poisson input drawn by the host
// (poisson.cu draws it on the device).
//
// The ring buffer is float64 [D, 2, n_dyn]: slot, receptor (0 exc, 1 inh),
// column; the current step's slot is clock[1] (spike_list.cuh).  Several
// synapses (and Poisson inputs) may add into one entry in the same step: they
// use atomicAdd on double.  On a GPU the order of those additions is not
// fixed, so a sum may differ from the CPU's in-order sum within the bound
// docs/gpu.md derives; the CPU emulation runs threads in index order and
// reproduces the CPU backends bit for bit.
#include "spike_list.cuh"

// Thread e < 2 n_dyn: add entry e of the current slot (receptor e / n_dyn,
// column e % n_dyn) to its state row rec_row[e] when nonzero, and clear it.
extern "C" __global__ void deliver(double* S, long long n_dyn, double* ring, const long long* clock,
                                   const int* rec_row)
{
    long long e = thread_index();
    if (e >= 2 * n_dyn) return;
    double* slot = current_slot(ring, clock, n_dyn);
    double x = slot[e];
    if (x != 0.0) {
        long long col = e < n_dyn ? e : e - n_dyn;
        S[(long long)rec_row[e] * n_dyn + col] += x;
    }
    slot[e] = 0.0;
}
NEUROSIM_CPU_LAUNCHER(deliver)

// Threads per spike in propagate: a warp shares out one spike's synapses.
#define NEUROSIM_LANES 32

// One projection, whose pre node `node` holds neurons [pre_start, ...): the
// node's spikes of step k = clock[0] are spikes[pre_start ... pre_start +
// counts[k, node]) (spike_list.cuh).  Threads form groups of NEUROSIM_LANES;
// group g takes a run of consecutive spikes of that list (one spike per group
// when the launch has enough groups), and lane l of the group takes the l-th
// of NEUROSIM_LANES equal runs of each spike's synapses (CSR row ptr_offset +
// g - pre_start of indptr): neighbouring lanes read neighbouring synapses.  Each
// synapse adds its weight to its target receptor: a synapse of delay 0 straight
// to its state row in S (rec_row, as in deliver), any other to slot
// (clock[1] + delay) % D.  receptor < 0: by the weight's sign (magnitude != 0:
// conductances take |w|).  The projection's weights and delays are at
// weight/delay[syn + value_offset]; uniform != 0: all its synapses share the one
// value at weight/delay[value_offset] (only post indices are read per synapse).
//
// Run serially in thread order (the CPU emulation), a spike's synapses are
// added in CSR order and spikes in list order, as in the CPU backends, as long
// as each group has at most one spike (at most groups spikes in the node).
extern "C" __global__ void propagate(const int* spikes, const unsigned long long* counts, const long long* clock,
                                     long long n_nodes, long long node, long long pre_start, long long ptr_offset,
                                     const long long* indptr, const int* post, const double* weight,
                                     const unsigned short* delay, int receptor, int magnitude, int uniform,
                                     long long value_offset,
                                     long long post_base, long long n_dyn, long long D,
                                     double* ring, double* S, const int* rec_row)
{
    long long groups = (long long)gridDim.x * (long long)blockDim.x / NEUROSIM_LANES;
    long long group = thread_index() / NEUROSIM_LANES, lane = thread_index() % NEUROSIM_LANES;
    if (group >= groups) return;
    long long n_spikes = (long long)counts[clock[0] * n_nodes + node];
    long long per_group = (n_spikes + groups - 1) / groups;
    long long first = group * per_group;
    long long last = first + per_group < n_spikes ? first + per_group : n_spikes;
    long long slot_now = clock[1];
    for (long long j = first; j < last; ++j) {
        long long row = ptr_offset + ((long long)spikes[pre_start + j] - pre_start);
        long long begin = indptr[row], end = indptr[row + 1];
        long long per_lane = (end - begin + NEUROSIM_LANES - 1) / NEUROSIM_LANES;
        long long syn = begin + lane * per_lane;
        long long stop = syn + per_lane < end ? syn + per_lane : end;
        for (; syn < stop; ++syn) {
            long long s = uniform ? value_offset : syn + value_offset;
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
}
NEUROSIM_CPU_LAUNCHER(propagate)

// Thread m < count: add the host-drawn Poisson input of step k = clock[0],
// values[k * count + m] (when nonzero), into entry pin_slot[m] (receptor * n_dyn
// + column) of the current slot.
extern "C" __global__ void add_input(double* ring, const long long* clock, long long n_dyn,
                                     const long long* pin_slot, const double* values, long long count)
{
    long long m = thread_index();
    if (m >= count) return;
    double x = values[clock[0] * count + m];
    if (x != 0.0) atomicAdd(current_slot(ring, clock, n_dyn) + pin_slot[m], x);
}
NEUROSIM_CPU_LAUNCHER(add_input)

// The step's spike list and the monitors' counters, and the step clock on the device.
//
// Every kernel of a step reads the step it belongs to from `clock` (int64 [2],
// on the device): clock[0] = k, the step's index in the chunk, clock[1] = the
// ring-buffer slot of the step (t % D).  end_step advances it.  No launch
// argument therefore changes from step to step, so one step's launches can be
// recorded once as a CUDA graph and replayed for every step of a chunk.
//
// A spike (a neuron crossing threshold in advance_neurons, or a source spike in
// append_sources) is appended by append_spike:
//   * to its node's segment of the spike list: spikes[node_start[node] + p],
//     p taken by an atomic increment of counts[k, node], which is at the same
//     time the node's spike count of the step (the rate monitors' data);
//   * its out-degree to events[k], the step's synaptic events;
//   * its index to the chunk's record buffer rec_idx, when its node is recorded
//     (rec_node[node] != 0); entries at or beyond rec_capacity are not written
//     (the host keeps enough room).
// On a GPU, threads arrive in no fixed order, so a node's segment and a step's
// recorded spikes are in arrival order (the host sorts the recorded spikes of
// each step; the order of the synaptic additions is unspecified anyway, see
// docs/gpu.md).  The CPU emulation runs threads in index order: each segment is
// then ascending, the order in which the CPU backends deliver synapses.
#pragma once

#include "common.cuh"

#define NEUROSIM_SPIKE_LIST_PARAMS                                                                       \
    const int *node_of, const long long *node_start, const long long *out_degree, int *spikes,           \
        unsigned long long *counts, long long n_nodes, unsigned long long *events,                       \
        const unsigned char *rec_node, int *rec_idx, unsigned long long *rec_total, long long rec_capacity

#define NEUROSIM_SPIKE_LIST_ARGS \
    node_of, node_start, out_degree, spikes, counts, n_nodes, events, rec_node, rec_idx, rec_total, rec_capacity

// Append spike `i` (global neuron index) of step k (see the top of this file).
__device__ inline void append_spike(long long i, long long k, NEUROSIM_SPIKE_LIST_PARAMS)
{
    int node = node_of[i];
    unsigned long long position = atomicAdd(counts + k * n_nodes + node, 1ULL);
    spikes[node_start[node] + (long long)position] = (int)i;
    atomicAdd(events + k, (unsigned long long)out_degree[i]);
    if (rec_node[node]) {
        unsigned long long r = atomicAdd(rec_total, 1ULL);
        if (r < (unsigned long long)rec_capacity) rec_idx[r] = (int)i;
    }
}

// The ring-buffer slot of the current step: slot clock[1] of ring [D, 2, n_dyn].
__device__ inline double* current_slot(double* ring, const long long* clock, long long n_dyn)
{
    return ring + clock[1] * 2 * n_dyn;
}

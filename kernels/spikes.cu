// Spike detection: source spikes into the fired mask, then compaction of the
// mask into an ascending list of spiking neurons, with per-node counts,
// synaptic-event totals and the recorded spikes of the step.
//
// Compaction is deterministic and needs no synchronisation inside a block:
// neurons are grouped in tiles of 64 (8 words of 8 one-byte flags);
// count_tiles counts the spikes of every tile (one thread per tile),
// an inclusive prefix sum over the tile counts (CuPy's cumsum on the GPU,
// NumPy's on the CPU) gives each tile its first output position, and
// write_spikes (one thread per tile) writes the tile's spikes in ascending
// order there.  The list is therefore ascending, the order in which the CPU
// backends deliver synapses.
#include "common.cuh"

#define NEUROSIM_TILE 64

// fired[src_idx[j]] = 1 for the count source spikes of this step (sources never
// repeat a neuron within a step; the source part of fired was cleared before).
extern "C" __global__ void mark_sources(const long long* src_idx, long long count, unsigned char* fired)
{
    long long j = thread_index();
    if (j >= count) return;
    fired[src_idx[j]] = 1;
}
NEUROSIM_CPU_LAUNCHER(mark_sources)

// Spikes per tile of 64 neurons, all and recorded (fired & rec_mask).  Flags are
// 0/1 bytes, so the population count of a word is the number of set flags.
extern "C" __global__ void count_tiles(const unsigned long long* fired_words, const unsigned long long* rec_words,
                                       long long n_tiles, unsigned long long* tile_count,
                                       unsigned long long* tile_rec)
{
    long long tile = thread_index();
    if (tile >= n_tiles) return;
    unsigned long long all = 0, rec = 0;
    for (int w = 0; w < NEUROSIM_TILE / 8; ++w) {
        unsigned long long f = fired_words[tile * (NEUROSIM_TILE / 8) + w];
        all += __popcll(f);
        rec += __popcll(f & rec_words[tile * (NEUROSIM_TILE / 8) + w]);
    }
    tile_count[tile] = all;
    tile_rec[tile] = rec;
}
NEUROSIM_CPU_LAUNCHER(count_tiles)

// Write the spikes of every tile at its position in `spikes` (tile_end: inclusive
// prefix sum of the tile counts), add them to the per-node counts of this step
// (counts_row [n_nodes]) and their out-degrees to *events, and append the
// recorded ones to rec_idx at *rec_total + (prefix of tile_rec); entries at or
// beyond rec_capacity are not written (the host keeps enough room).
extern "C" __global__ void write_spikes(const unsigned char* fired, const unsigned char* rec_mask, long long n_tiles,
                                        const unsigned long long* tile_end, const unsigned long long* rec_end,
                                        const int* node_of, const long long* out_degree, long long* spikes,
                                        unsigned long long* counts_row, unsigned long long* events,
                                        int* rec_idx, const unsigned long long* rec_total, long long rec_capacity)
{
    long long tile = thread_index();
    if (tile >= n_tiles) return;
    unsigned long long pos = tile > 0 ? tile_end[tile - 1] : 0ULL;
    if (tile_end[tile] == pos) return;
    unsigned long long rpos = rec_total[0] + (tile > 0 ? rec_end[tile - 1] : 0ULL);
    unsigned long long ev = 0;
    for (long long i = tile * NEUROSIM_TILE; i < (tile + 1) * NEUROSIM_TILE; ++i) {
        if (!fired[i]) continue;
        spikes[pos++] = i;
        atomicAdd(counts_row + node_of[i], 1ULL);
        ev += (unsigned long long)out_degree[i];
        if (rec_mask[i]) {
            if (rpos < (unsigned long long)rec_capacity) rec_idx[rpos] = (int)i;
            ++rpos;
        }
    }
    atomicAdd(events, ev);
}
NEUROSIM_CPU_LAUNCHER(write_spikes)

// One thread: advance the recorded-spike total by this step's recorded spikes and
// store it as the end of the step's range (step_end = step_ptr[k + 1]).
extern "C" __global__ void finish_step(const unsigned long long* rec_end, long long n_tiles,
                                       unsigned long long* rec_total, unsigned long long* step_end)
{
    if (thread_index() != 0) return;
    rec_total[0] += rec_end[n_tiles - 1];
    step_end[0] = rec_total[0];
}
NEUROSIM_CPU_LAUNCHER(finish_step)

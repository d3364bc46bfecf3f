// Counter-based random numbers on the device: Philox4x32-10 (Salmon, Moraes, Dror
// & Shaw, SC 2011) and the uniform of one cell (step, element) of an input stream.
// The same functions as neurosim/engine/counter_rng.py, bit for bit: the host
// draws these values for the CPU backends, the kernels of poisson.cu for the GPU.
#pragma once

#include "common.cuh"

// Philox4x32-10 of counter c (in place: the four output words) and key (k0, k1).
__device__ inline void philox4x32_10(unsigned int c[4], unsigned int k0, unsigned int k1)
{
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {  // the key is bumped between rounds by the Weyl constants
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        unsigned long long p0 = 0xD2511F53ull * c[0];
        unsigned long long p1 = 0xCD9E8D57ull * c[2];
        unsigned int c1 = c[1], c3 = c[3];
        c[0] = (unsigned int)(p1 >> 32) ^ c1 ^ k0;
        c[1] = (unsigned int)p1;
        c[2] = (unsigned int)(p0 >> 32) ^ c3 ^ k1;
        c[3] = (unsigned int)p0;
    }
}

// The uniform in [0, 1) of element `index` (< 2^32) at `step` (>= 0) of the stream
// with key (k0, k1): words 0 and 1 of Philox4x32-10 of the counter (index, step low,
// step high, 0), as one 64-bit integer x, give (x >> 11) * 2^-53.
__device__ inline double counter_uniform(unsigned int k0, unsigned int k1, long long step, long long index)
{
    unsigned long long t = (unsigned long long)step;
    unsigned int c[4] = {(unsigned int)index, (unsigned int)t, (unsigned int)(t >> 32), 0u};
    philox4x32_10(c, k0, k1);
    unsigned long long x = ((unsigned long long)c[0] << 32) | c[1];
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

// Shared by every kernel file: the thread index and the CPU-emulation hook.
//
// Kernels are plain `extern "C" __global__` functions (CuPy's RawModule finds
// them by name), one thread per element, no shared memory and no
// synchronisation inside a block, so the CPU shim (cuda_cpu_shim.h) can run
// their threads one after another.  Integer arrays: `long long` for indices
// and pointers into the CSR (int64 on the host), `int` for int32 arrays,
// `unsigned long long` for counters (uint64 on the host).
#pragma once

#ifndef NEUROSIM_CPU_LAUNCHER
#define NEUROSIM_CPU_LAUNCHER(kernel)
#endif

// Global index of the calling thread in a 1-D launch.
__device__ inline long long thread_index()
{
    return (long long)blockIdx.x * (long long)blockDim.x + (long long)threadIdx.x;
}

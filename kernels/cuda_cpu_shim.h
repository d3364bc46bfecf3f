// CPU emulation of the CUDA features the kernels use, for tests without a GPU.
//
// Compile a kernel file with the host compiler instead of nvcc:
//
//     g++ -std=c++17 -O2 -ffp-contract=off -fPIC -shared -x c++ \
//         -include kernels/cuda_cpu_shim.h -DNEUROSIM_CPU_SHIM kernels/*.cu -o libkernels.so
//
// `__global__`/`__device__` vanish, `threadIdx`/`blockIdx`/`blockDim`/`gridDim`
// become globals, and every kernel gets an exported launcher
// `launch_<kernel>(grid, block, void** args)` (args as in cuLaunchKernel: one
// pointer per argument, pointing at its value) that runs thread (b, t) for
// b = 0 .. grid-1, t = 0 .. block-1 serially, in that order (in the opposite
// order with -DNEUROSIM_CPU_REVERSE_ORDER, to test that results do not depend on
// the order in which a GPU's threads arrive).  Atomics are
// plain read-modify-writes, so the order in which threads add into a target
// is the thread index order: deterministic, unlike a GPU (see docs/gpu.md).
// The kernels never synchronise inside a block (no __syncthreads, no shared
// memory), so running threads one after another is a faithful emulation.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __restrict__ __restrict

struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};

inline dim3 threadIdx, blockIdx, blockDim, gridDim;

using std::exp;
using std::fabs;

inline double atomicAdd(double* address, double value)
{
    double old = *address;
    *address = old + value;
    return old;
}

inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value)
{
    unsigned long long old = *address;
    *address = old + value;
    return old;
}

inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }

namespace neurosim_shim {

template <typename... A, std::size_t... I>
void call_packed(void (*kernel)(A...), void** args, std::index_sequence<I...>)
{
    kernel(*static_cast<std::remove_reference_t<A>*>(args[I])...);
}

template <typename... A>
void launch(void (*kernel)(A...), unsigned int grid, unsigned int block, void** args)
{
    gridDim = dim3{grid, 1, 1};
    blockDim = dim3{block, 1, 1};
    for (unsigned int bb = 0; bb < grid; ++bb) {
        for (unsigned int tt = 0; tt < block; ++tt) {
#ifdef NEUROSIM_CPU_REVERSE_ORDER
            unsigned int b = grid - 1 - bb, t = block - 1 - tt;
#else
            unsigned int b = bb, t = tt;
#endif
            blockIdx = dim3{b, 0, 0};
            threadIdx = dim3{t, 0, 0};
            call_packed(kernel, args, std::index_sequence_for<A...>{});
        }
    }
}

}  // namespace neurosim_shim

// An exported launcher for `kernel` (only in the CPU build; see the top of this file).
#define NEUROSIM_CPU_LAUNCHER(kernel)                                                        \
    extern "C" void launch_##kernel(unsigned int grid, unsigned int block, void** args)      \
    {                                                                                        \
        neurosim_shim::launch(kernel, grid, block, args);                                    \
    }

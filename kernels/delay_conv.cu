// Element-wise kernels of the learnable-delay projection (neurosim.train.delays.delay_conv
// on CUDA tensors).  The contractions stay matrix products (cuBLAS through PyTorch):
//
//     forward   z[t + k] += x[t] @ A_k^T                         per tap k
//     backward  gx[t] += gz[t + k] @ A_k,   G_k = gz[k:]^T @ x     per tap k
//
// with the tap matrix A_k[i, j] = w[i, j] g_k(d[i, j]).  What is not a matrix
// product is element-wise over the out x in synapses and is done here, one
// thread per synapse, fused into one pass over w and d per tap (PyTorch would
// need about seven element-wise launches for A_k and a dozen for the gradients):
//
//   delay_gauss_norm   N = eps + sum_k g_k and dN/dd, g_k = exp(-((k - d) / sigma)^2 / 2)
//   delay_tap_matrix   A_k (the forward's tap matrix)
//   delay_tap_grads    A_k (for gx) and, accumulated over the taps, dL/dw += G_k * tap and
//                      dL/dd += G_k * w * tap * ((k - d) / sigma^2 - (dN/dd) / N)
//
// tap = g_k(d) / N for Gaussian taps, (d == k) for integer delays (integer = 1; no
// delay gradient).  Arrays are row-major [out, in] (e = out * in elements), one
// template, entry points for float (_f32) and double (_f64).
#include "common.cuh"

// Relative weight of tap k for a synapse of delay d (unnormalised Gaussian, or 0/1).
template <typename T>
__device__ inline T delay_gauss(T d, T k, T sigma)
{
    T r = (k - d) / sigma;
    return exp(T(-0.5) * (r * r));
}

template <typename T>
__device__ inline T delay_tap(T d, T k, T sigma, T norm, int integer)
{
    return integer ? (T)(d == k) : delay_gauss<T>(d, k, sigma) / norm;
}

template <typename T>
__device__ inline void gauss_norm(const T* d, long long e, long long n_taps, T sigma, T sig2, T eps, T* norm,
                                  T* dnorm)
{
    long long i = thread_index();
    if (i >= e) return;
    T di = d[i];
    T s = eps;
    T ds = T(0.0);
    for (long long k = 0; k < n_taps; ++k) {
        T off = (T)k - di;
        T g = delay_gauss<T>(di, (T)k, sigma);
        s += g;
        ds += g * off / sig2;
    }
    norm[i] = s;
    dnorm[i] = ds;
}

template <typename T>
__device__ inline void tap_matrix(const T* w, const T* d, long long e, T k, T sigma, const T* norm, int integer,
                                  T* a)
{
    long long i = thread_index();
    if (i >= e) return;
    a[i] = w[i] * delay_tap<T>(d[i], k, sigma, integer ? T(1.0) : norm[i], integer);
}

// need: bit 0 write A_k into a, bit 1 accumulate gw, bit 2 accumulate gd (Gaussian taps only).
template <typename T>
__device__ inline void tap_grads(const T* g_a, const T* w, const T* d, long long e, T k, T sigma, T sig2,
                                 const T* norm, const T* dnorm, int integer, int need, T* a, T* gw, T* gd)
{
    long long i = thread_index();
    if (i >= e) return;
    T di = d[i];
    T nrm = integer ? T(1.0) : norm[i];
    T tap = delay_tap<T>(di, k, sigma, nrm, integer);
    T wt = w[i] * tap;
    if (need & 1) a[i] = wt;
    if (need & 2) gw[i] += g_a[i] * tap;
    if ((need & 4) && !integer) gd[i] += g_a[i] * wt * ((k - di) / sig2 - dnorm[i] / nrm);
}

#define NEUROSIM_DELAY_ENTRY_POINTS(T, SUFFIX)                                                                 \
    extern "C" __global__ void delay_gauss_norm_##SUFFIX(const T* d, long long e, long long n_taps, T sigma,   \
                                                         T sig2, T eps, T* norm, T* dnorm)                     \
    {                                                                                                          \
        gauss_norm<T>(d, e, n_taps, sigma, sig2, eps, norm, dnorm);                                            \
    }                                                                                                          \
    NEUROSIM_CPU_LAUNCHER(delay_gauss_norm_##SUFFIX)                                                           \
    extern "C" __global__ void delay_tap_matrix_##SUFFIX(const T* w, const T* d, long long e, T k, T sigma,    \
                                                         const T* norm, int integer, T* a)                     \
    {                                                                                                          \
        tap_matrix<T>(w, d, e, k, sigma, norm, integer, a);                                                    \
    }                                                                                                          \
    NEUROSIM_CPU_LAUNCHER(delay_tap_matrix_##SUFFIX)                                                           \
    extern "C" __global__ void delay_tap_grads_##SUFFIX(const T* g_a, const T* w, const T* d, long long e, T k, \
                                                        T sigma, T sig2, const T* norm, const T* dnorm,        \
                                                        int integer, int need, T* a, T* gw, T* gd)             \
    {                                                                                                          \
        tap_grads<T>(g_a, w, d, e, k, sigma, sig2, norm, dnorm, integer, need, a, gw, gd);                     \
    }                                                                                                          \
    NEUROSIM_CPU_LAUNCHER(delay_tap_grads_##SUFFIX)

NEUROSIM_DELAY_ENTRY_POINTS(float, f32)
NEUROSIM_DELAY_ENTRY_POINTS(double, f64)

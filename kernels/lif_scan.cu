// Fused multi-step LIF scan for training (neurosim.train.autograd.lif_scan on CUDA tensors).
//
// One thread per (batch, neuron) pair, serial over the T time steps: the
// scan is sequential in time, parallel over batch x neurons.  Arrays are
// row-major; z, u, s, gs, gz are [T, batch, n], v, v0, g_v, g_beta, g_theta
// are [batch, n], beta and theta [n].  Element (t, b, j) is at t * bn + b * n + j
// with bn = batch * n, so the threads of a warp read consecutive addresses at
// every step (coalesced).  Each kernel exists for float and double
// (suffix _f32 / _f64): one template, two extern "C" entry points.
//
// The equations and the order of every floating-point operation are those of
// the Numba kernels _scan_forward / _scan_backward in
// neurosim/train/autograd.py, and the surrogate gradients are generated from
// neurosim/train/surrogate.py (surrogates.cuh), so a float64 run agrees with
// the CPU path to the last bit where both evaluate the same operations.
#include "common.cuh"
#include "surrogates.cuh"

// Forward: u[t] = beta v + z[t]; s[t] = (u > theta); v = u - s (theta) or u (1 - s).
// subtract: 1 for reset by subtraction, 0 for reset to zero.  v holds v0 on
// entry and the final membrane on exit.
template <typename T>
__device__ inline void lif_forward(const T* z, const T* beta, const T* theta, T* v, long long n_steps,
                                   long long bn, long long n, int subtract, T* u_out, T* s_out)
{
    long long idx = thread_index();
    if (idx >= bn) return;
    long long j = idx % n;
    const T one = T(1.0);
    const T keep = subtract ? one : one - one;  // reset: v = u - theta s, or u (1 - s)
    const T drop = one - keep;
    const T th = theta[j];
    const T bt = beta[j];
    T vv = v[idx];
    for (long long t = 0; t < n_steps; ++t) {
        long long o = t * bn + idx;
        T u = bt * vv + z[o];
        T s = (T)(u > th);
        u_out[o] = u;
        s_out[o] = s;
        vv = u - s * (keep * th + drop * u);
    }
    v[idx] = vv;
}

// Backward, reverse over T (each u[t] is read once: u[t-1] is read at step t
// for the previous membrane and kept for step t-1).  On entry g_v holds dL/dv[T-1] (the final
// membrane's gradient), on exit dL/dv0.  gz[t] = dL/dz[t].  With need_params,
// g_beta and g_theta get this (batch, neuron)'s contribution to dL/dbeta[j]
// and dL/dtheta[j]; the host sums them over the batch (deterministic, no atomics).
// detach: 1 when the reset carries no gradient; kind, a: the surrogate.
template <typename T>
__device__ inline void lif_backward(const T* gs, T* g_v, const T* u_all, const T* v0, const T* beta,
                                    const T* theta, long long n_steps, long long bn, long long n, int subtract,
                                    int detach, int kind, T a, T* gz, T* g_beta, T* g_theta, int need_params)
{
    long long idx = thread_index();
    if (idx >= bn) return;
    long long j = idx % n;
    const T one = T(1.0);
    const T zero = one - one;
    const T sub = subtract ? one : zero;        // 1: reset by subtraction, 0: to zero
    const T att = detach ? zero : one;          // 1: the reset carries gradient
    const T th = theta[j];
    const T bt = beta[j];
    T gv = g_v[idx];
    T gb = zero;
    T gt = zero;
    T u_next = n_steps > 0 ? u_all[(n_steps - 1) * bn + idx] : zero;  // u[t], read one step ahead
    for (long long t = n_steps - 1; t >= 0; --t) {
        long long o = t * bn + idx;
        T u = u_next;
        T up = t > 0 ? u_all[o - bn] : zero;   // u[t-1]: this step's v_prev, the next step's u
        u_next = up;
        T g_s = gs[o];
        T sg = surrogate_grad<T>(kind, u - th, a);
        T s = (T)(u > th);
        T dv_du = sub * (one - att * th * sg) + (one - sub) * ((one - s) - att * u * sg);
        T v_prev = zero;
        if (need_params) {
            if (t == 0) {
                v_prev = v0[idx];
            } else {
                T sp = (T)(up > th);
                v_prev = up - sp * (sub * th + (one - sub) * up);
            }
            T dv_dth = sub * (att * th * sg - s) + (one - sub) * att * u * sg;
            gt += gv * dv_dth - g_s * sg;
        }
        T g = g_s * sg + gv * dv_du;
        gz[o] = g;
        if (need_params) gb += g * v_prev;
        gv = g * bt;
    }
    g_v[idx] = gv;
    if (need_params) {
        g_beta[idx] = gb;
        g_theta[idx] = gt;
    }
}

#define NEUROSIM_LIF_ENTRY_POINTS(T, SUFFIX)                                                                  \
    extern "C" __global__ void lif_scan_forward_##SUFFIX(const T* z, const T* beta, const T* theta, T* v,     \
                                                         long long n_steps, long long bn, long long n,        \
                                                         int subtract, T* u_out, T* s_out)                    \
    {                                                                                                         \
        lif_forward<T>(z, beta, theta, v, n_steps, bn, n, subtract, u_out, s_out);                            \
    }                                                                                                         \
    NEUROSIM_CPU_LAUNCHER(lif_scan_forward_##SUFFIX)                                                          \
    extern "C" __global__ void lif_scan_backward_##SUFFIX(                                                    \
        const T* gs, T* g_v, const T* u_all, const T* v0, const T* beta, const T* theta, long long n_steps,   \
        long long bn, long long n, int subtract, int detach, int kind, T a, T* gz, T* g_beta, T* g_theta,     \
        int need_params)                                                                                      \
    {                                                                                                         \
        lif_backward<T>(gs, g_v, u_all, v0, beta, theta, n_steps, bn, n, subtract, detach, kind, a, gz,       \
                        g_beta, g_theta, need_params);                                                        \
    }                                                                                                         \
    NEUROSIM_CPU_LAUNCHER(lif_scan_backward_##SUFFIX)

NEUROSIM_LIF_ENTRY_POINTS(float, f32)
NEUROSIM_LIF_ENTRY_POINTS(double, f64)

"""Brunel (2000): sparse random network of excitatory and inhibitory LIF neurons.

N. Brunel, "Dynamics of sparsely connected networks of excitatory and
inhibitory spiking neurons", J. Comput. Neurosci. 8:183-208 (2000), model A:
identical LIF neurons with delta synapses (a spike moves v by J after delay
D), each neuron receiving C_E = epsilon N_E excitatory and C_I = epsilon N_I
inhibitory inputs (fixed in-degree), inhibition g times stronger than
excitation, and C_E external Poisson inputs at eta times the threshold rate.
Potentials are relative to rest (0 mV).

Run it:  neurosim run models/brunel.py --duration 500 --plot brunel.png
The default (g = 5, eta = 2) is the asynchronous irregular state; g = 3,
eta = 2 is synchronous regular, g = 6, eta = 4 asynchronous irregular with
faster rates, g = 4.5, eta = 0.9 synchronous irregular (Fig. 8 of the paper).
"""
import neurosim as ns

TAU_M = 20.0    # ms
THETA = 20.0    # mV, threshold above rest
V_RESET = 10.0  # mV
TAU_REF = 2.0   # ms


def build(n_exc: int = 10000, g: float = 5.0, eta: float = 2.0, j: float = 0.1,
          delay: float = 1.5, epsilon: float = 0.1, dt: float = 0.1) -> ns.Network:
    """Brunel's model A with ``n_exc`` excitatory and ``n_exc / 4`` inhibitory neurons.

    ``j``: excitatory jump (mV); ``g``: relative inhibition; ``eta``: external
    rate over the threshold rate ``THETA / (j C_E tau_m)``; ``delay`` (ms).
    """
    n_inh = n_exc // 4
    c_exc = max(1, int(epsilon * n_exc))
    c_inh = max(1, int(epsilon * n_inh))
    nu_thr = THETA / (j * c_exc * TAU_M) * 1e3   # Hz
    net = ns.Network(dt=dt, name="brunel")
    model = ns.LIF(tau_m=TAU_M, v_rest=0.0, v_reset=V_RESET, v_th=THETA, tau_ref=TAU_REF,
                   tau_syn_e=0.0, tau_syn_i=0.0)
    exc = net.add_population("exc", n_exc, model, v_init=ns.Uniform(0.0, THETA))
    inh = net.add_population("inh", n_inh, model, v_init=ns.Uniform(0.0, THETA))
    for post in (exc, inh):
        net.connect(exc, post, k=c_exc, weight=j, delay=delay, allow_self=False)
        net.connect(inh, post, k=c_inh, weight=-g * j, delay=delay, allow_self=False)
        net.add_poisson_input(post, n_inputs=c_exc, rate=eta * nu_thr, weight=j)
    return net


if __name__ == "__main__":
    net = build(n_exc=2000)
    stats = net.run(500.0, seed=1)
    print(f"{stats.spikes} spikes, {stats.synaptic_events} synaptic events in {stats.wall_time:.2f} s")

"""CUBA: the Vogels & Abbott (2005) current-based network, as Brian2's example.

Brette et al. (2007), benchmark 2: 4,000 LIF neurons (80 % excitatory), every
pair connected with probability 2 %, exponential synaptic currents, no
external input (v_rest lies above threshold, so activity sustains itself).

Run it:  neurosim run models/cuba.py --duration 1000 --plot cuba.png
"""
import neurosim as ns

#: synaptic weights (mV): conductance x driving force / leak conductance
W_EXC = 60 * 0.27 / 10
W_INH = -20 * 4.5 / 10


def build(n: int = 4000, p: float | None = None, dt: float = 0.1) -> ns.Network:
    """The CUBA network with ``n`` neurons (ms, mV).

    ``p`` defaults to 0.02 at 4,000 neurons and is scaled as 80 / n for other
    sizes, so the mean fan-in stays 80 (64 excitatory + 16 inhibitory).
    """
    p = 80.0 / n if p is None else p
    net = ns.Network(dt=dt, name="cuba")
    model = ns.LIF(tau_m=20.0, v_rest=-49.0, v_reset=-60.0, v_th=-50.0, tau_ref=5.0,
                   tau_syn_e=5.0, tau_syn_i=10.0)
    n_exc = int(0.8 * n)
    v0 = ns.Uniform(-60.0, -50.0)
    exc = net.add_population("exc", n_exc, model, v_init=v0)
    inh = net.add_population("inh", n - n_exc, model, v_init=v0)
    for pre, w in ((exc, W_EXC), (inh, W_INH)):
        for post in (exc, inh):
            net.connect(pre, post, p=p, weight=w)
    return net


if __name__ == "__main__":
    net = build()
    spikes = net.monitor_spikes(net.nodes["exc"])
    stats = net.run(1000.0, seed=1)
    print(f"{stats.spikes} spikes, {spikes.times.size / (3200 * 1.0):.2f} Hz (exc), "
          f"{stats.synaptic_events} synaptic events in {stats.wall_time:.2f} s")

"""COBA: the Vogels & Abbott (2005) conductance-based network, as Brian2's example.

Brette et al. (2007), benchmark 1 (Brian parameterisation): 4,000
conductance-based LIF neurons (80 % excitatory), 2 % connectivity,
exponential conductances (6 nS excitatory, 67 nS inhibitory), no external
input; integrated with exponential Euler like Brian2's COBA example.

Run it:  neurosim run models/coba.py --duration 1000 --plot coba.png
"""
import neurosim as ns

W_EXC = 6.0    # nS
W_INH = 67.0   # nS


def build(n: int = 4000, p: float | None = None, dt: float = 0.1) -> ns.Network:
    """The COBA network with ``n`` neurons (ms, mV, nS, pF).

    ``p`` defaults to 0.02 at 4,000 neurons and scales as 80 / n otherwise.
    """
    p = 80.0 / n if p is None else p
    net = ns.Network(dt=dt, name="coba")
    model = ns.ConductanceLIF(c_m=200.0, g_l=10.0, e_l=-60.0, e_e=0.0, e_i=-80.0, v_th=-50.0,
                              v_reset=-60.0, tau_ref=5.0, tau_e=5.0, tau_i=10.0)
    n_exc = int(0.8 * n)
    # Brian2's example: v = El + (5 randn - 5) mV, ge = (1.5 randn + 4) x 10 nS,
    # gi = (12 randn + 20) x 10 nS (unclipped, as there)
    init = dict(v_init=ns.Normal(-65.0, 5.0), g_e_init=ns.Normal(40.0, 15.0),
                g_i_init=ns.Normal(200.0, 120.0))
    exc = net.add_population("exc", n_exc, model, **init)
    inh = net.add_population("inh", n - n_exc, model, **init)
    for pre, w, rec in ((exc, W_EXC, "exc"), (inh, W_INH, "inh")):
        for post in (exc, inh):
            net.connect(pre, post, p=p, weight=w, receptor=rec)
    return net


if __name__ == "__main__":
    net = build()
    stats = net.run(1000.0, seed=1)
    print(f"{stats.spikes} spikes, {stats.synaptic_events} synaptic events in {stats.wall_time:.2f} s")

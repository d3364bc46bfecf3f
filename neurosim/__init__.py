"""neurosim: define, simulate, train and deploy spiking neural networks.

Units throughout: time in ms, voltage in mV, conductance in nS, capacitance
in pF, current in nA, rate in Hz.
"""
from .distributions import LogNormal, Normal, Uniform
from .io import load_results, save_results
from .monitors import RateMonitor, SpikeMonitor, StateMonitor
from .network import Network, RunStats
from .nir_io import from_nir, load_nir, save_nir, to_nir
from .neurons import AdaptiveLIF, ConductanceLIF, Izhikevich, LIF, NeuronModel

__version__ = "0.1.0"

__all__ = [
    "Network", "RunStats", "LIF", "ConductanceLIF", "AdaptiveLIF", "Izhikevich", "NeuronModel",
    "Uniform", "Normal", "LogNormal", "SpikeMonitor", "StateMonitor", "RateMonitor",
    "save_results", "load_results", "to_nir", "from_nir", "save_nir", "load_nir",
]

"""Neuron models: parameter dataclasses and their step functions."""
from .adaptive import AdaptiveLIF, adaptive_lif_step
from .base import NeuronModel
from .coba import ConductanceLIF, coba_step
from .izhikevich import Izhikevich, izhikevich_step
from .lif import LIF, lif_step

__all__ = [
    "NeuronModel", "LIF", "ConductanceLIF", "AdaptiveLIF", "Izhikevich",
    "lif_step", "coba_step", "adaptive_lif_step", "izhikevich_step",
]

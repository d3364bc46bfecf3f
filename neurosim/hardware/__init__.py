"""Hardware mapping: Loihi-style target descriptions (limits, precision, energy,
timing), quantisation of networks to fixed point, a bit-exact emulator of
Lava's fixed-point models (also a network backend), and lava-dl netx files."""

from . import energy, loihi_fixed, netx, placement, targets
from .energy import EnergyReport, ann_counterpart, dense_macs, network_macs, synaptic_ops
from .energy import estimate as estimate_energy
from .loihi_fixed import *  # noqa: F401,F403  (names listed in loihi_fixed.__all__)
from .netx import *  # noqa: F401,F403  (names listed in netx.__all__)
from .placement import Placement, place
from .quantize import QuantizedNetwork, quantize
from .targets import *  # noqa: F401,F403  (names listed in targets.__all__)

__all__ = [*loihi_fixed.__all__, *targets.__all__, *netx.__all__, "quantize", "QuantizedNetwork", "place",
           "Placement", "estimate_energy", "EnergyReport", "ann_counterpart", "dense_macs", "network_macs",
           "synaptic_ops", "energy", "placement"]

"""Hardware-mapping helpers: bit-exact emulation of Loihi-style fixed-point models,
and hardware target descriptions (limits, precision, energy, timing)."""

from . import loihi_fixed, targets
from .loihi_fixed import *  # noqa: F401,F403  (names listed in loihi_fixed.__all__)
from .targets import *  # noqa: F401,F403  (names listed in targets.__all__)

__all__ = [*loihi_fixed.__all__, *targets.__all__]

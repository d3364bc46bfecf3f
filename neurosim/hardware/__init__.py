"""Hardware-mapping helpers: bit-exact emulation of Loihi-style fixed-point models,
and hardware target descriptions (limits, precision, energy, timing)."""

from neurosim.hardware.loihi_fixed import (
    FixedPointProjection,
    LifFixedParams,
    SignMode,
    apply_weight_exp,
    clip_signed,
    decay,
    determine_sign_mode,
    lif_fixed_step,
    quantize_weights,
    run_fixed_network,
    wrap_signed,
)
from neurosim.hardware.targets import (
    CoreLimits,
    Energy,
    Features,
    HardwareTarget,
    Precision,
    Timing,
    list_targets,
    load_target,
    target_from_dict,
)

__all__ = [
    "FixedPointProjection",
    "LifFixedParams",
    "SignMode",
    "apply_weight_exp",
    "clip_signed",
    "decay",
    "determine_sign_mode",
    "lif_fixed_step",
    "quantize_weights",
    "run_fixed_network",
    "wrap_signed",
    # hardware targets
    "CoreLimits",
    "Energy",
    "Features",
    "HardwareTarget",
    "Precision",
    "Timing",
    "list_targets",
    "load_target",
    "target_from_dict",
]

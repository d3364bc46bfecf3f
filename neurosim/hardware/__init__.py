"""Hardware-mapping helpers: bit-exact emulation of Loihi-style fixed-point models."""

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
]

"""Training spiking networks with surrogate gradients in PyTorch.

Sequences are shaped ``(T, batch, features)``; one step is ``dt`` ms.

* :mod:`~neurosim.train.surrogate` -- pseudo-derivatives of the spike.
* :mod:`~neurosim.train.autograd` -- the spike function and the fused LIF time scan.
* :mod:`~neurosim.train.layers` -- ``LIF``, ``AdaptiveLIF``, ``LeakyReadout``,
  sequence BatchNorm and dropout.
* :mod:`~neurosim.train.delays` -- ``DelayProjection`` (DCLS-Delays learnable delays).
"""
from .delays import DelayProjection, delay_conv, dense_reference
from .layers import LIF, AdaptiveLIF, LeakyReadout, SequenceBatchNorm, SequenceDropout
from .surrogate import SURROGATES, Surrogate

__all__ = [
    "LIF", "AdaptiveLIF", "LeakyReadout", "SequenceBatchNorm", "SequenceDropout",
    "DelayProjection", "delay_conv", "dense_reference", "Surrogate", "SURROGATES",
]

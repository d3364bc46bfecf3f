"""ANN baselines of the same topology as a spiking model.

:func:`ann_of` builds the ANN twin of a :class:`~neurosim.train.models.DelaySNN`
(:class:`~neurosim.train.models.DelayANN`: the same layer sizes, delay
projections, BatchNorm and dropout, with ReLU units instead of LIF neurons);
it trains with the same :func:`~neurosim.train.trainer.fit`.  On static
inputs it is a multi-layer perceptron.  ``neurosim compare`` trains both on
the same data and puts accuracy, time steps, operations, energy and latency
side by side (:mod:`neurosim.infer.compare`).
"""
from __future__ import annotations

from ..train.models import DelayANN, DelaySNN
from .conversion import activation_scales, convert_ann

__all__ = ["ann_of", "DelayANN", "convert_ann", "activation_scales"]


def ann_of(snn: DelaySNN, *, static_input: bool = False, seed: int | None = None) -> DelayANN:
    """The ANN twin of ``snn`` (untrained).

    Args:
        snn: the spiking model whose topology to copy.
        static_input: the ANN sees one static input vector per sample (``T = 1``,
            e.g. an image's pixel intensities where the SNN sees their spike
            trains): no delays and no tail.
        seed: initialisation seed (default: the SNN's).
    """
    if not isinstance(snn, DelaySNN):
        raise TypeError(f"ann_of needs a DelaySNN, got {type(snn).__name__}")
    c = snn.config
    delays = "none" if static_input else c["delays"]
    return DelayANN(c["n_in"], c["n_hidden"], c["n_out"], delays=delays, max_delay=c["max_delay"],
                    dropout=c["dropout"], batchnorm=c["batchnorm"],
                    tail=0 if static_input else c["tail"], seed=c["seed"] if seed is None else int(seed))

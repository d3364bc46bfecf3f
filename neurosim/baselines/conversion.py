"""ANN-to-SNN conversion with threshold balancing: a second route to a spiking model.

A static ANN (:class:`~neurosim.train.models.DelayANN` with ``delays="none"``:
dense layers, BatchNorm, ReLU) becomes a :class:`~neurosim.train.models.DelaySNN`
of the same layers whose hidden neurons fire at rates proportional to the
ANN's ReLU activations when the input is presented as spike trains of rate
proportional to the ANN's input (e.g. :func:`neurosim.data.poisson_encode`
with one spike per step for intensity 1):

- each hidden layer ``l`` gets a scale ``lambda_l``, a high percentile of its
  positive ANN activations on calibration data (data-based normalisation,
  P. U. Diehl et al., "Fast-classifying, high-accuracy spiking deep networks
  through weight and threshold balancing", IJCNN 2015; the percentile instead
  of the maximum: B. Rueckauer et al., "Conversion of continuous-valued deep
  networks to efficient event-driven networks for image classification",
  Front. Neurosci. 11:682, 2017);
- with threshold 1, layer ``l``'s BatchNorm (or, without BatchNorm, its
  weights) is divided by ``lambda_l``, so a neuron's input per step is its
  ANN activation over ``lambda_l`` and it fires at about that rate (at most
  one spike per step, so activations above ``lambda_l`` saturate);
- the weights leaving layer ``l`` are multiplied by ``lambda_l`` to undo the
  scaling; the read-out then integrates the ANN's logits.

Neurons reset to 0 after a spike (the simulator's and Loihi's reset), which
loses the charge above threshold; a weak leak (``beta`` close to 1) keeps the
network within what the simulator and the Loihi emulator run.
"""
from __future__ import annotations

import numpy as np
import torch

from ..train.models import DelayANN, DelaySNN
from ..train.trainer import as_batch


@torch.no_grad()
def activation_scales(ann: DelayANN, calibration: np.ndarray, percentile: float = 99.9,
                      batch_size: int = 256) -> list[float]:
    """``lambda_l``: the ``percentile`` of each hidden layer's positive activations on
    ``calibration`` (the ANN's inputs, shape ``(n, T, n_in)``)."""
    ann.eval()
    ann.record_layers = True
    per_layer: list[list[np.ndarray]] = [[] for _ in ann.config["n_hidden"]]
    try:
        for lo in range(0, len(calibration), batch_size):
            ann(as_batch(calibration[lo:lo + batch_size]))
            for layer, a in enumerate(ann.layer_outputs):
                a = a.double().numpy()
                per_layer[layer].append(a[a > 0])
    finally:
        ann.record_layers = False
        ann.layer_outputs = []
    scales = []
    for layer, parts in enumerate(per_layer, start=1):
        values = np.concatenate(parts)
        if values.size == 0:
            raise ValueError(f"hidden layer {layer} is never active on the calibration data: "
                             "give calibration inputs the ANN responds to")
        scales.append(float(np.percentile(values, percentile)))
    return scales


@torch.no_grad()
def convert_ann(ann: DelayANN, calibration: np.ndarray, *, percentile: float = 99.9, beta: float = 0.999,
                seed: int = 0) -> tuple[DelaySNN, list[float]]:
    """The spiking network of a trained static ANN, and the scales ``lambda_l`` used.

    Args:
        ann: a trained ``DelayANN`` with ``delays="none"`` and no tail (static input).
        calibration: ANN inputs ``(n, T, n_in)`` (e.g. the training images) for the scales.
        percentile: of each layer's positive activations (99.9 in Rueckauer et al.).
        beta: membrane decay per step of the converted neurons (0 < beta <= 1; below 1 for
            the simulator and the Loihi emulator, which model a leak).
        seed: initialisation seed of the new model (its weights are then overwritten).
    """
    if not isinstance(ann, DelayANN):
        raise TypeError(f"convert_ann needs a DelayANN, got {type(ann).__name__}")
    c = ann.config
    if c["delays"] != "none" or ann.total_tail:
        raise ValueError("convert_ann converts static ANNs (delays='none', tail 0): rate coding presents one "
                         f"input for many steps; this ANN has delays={c['delays']!r}")
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must be in (0, 1], got {beta!r}")
    calibration = np.asarray(calibration)
    if calibration.ndim != 3 or calibration.shape[2] != c["n_in"] or not len(calibration):
        raise ValueError(f"calibration must have shape (n, T, {c['n_in']}), got {calibration.shape}")
    scales = activation_scales(ann, calibration, percentile)
    snn = DelaySNN(c["n_in"], c["n_hidden"], c["n_out"], delays="none", beta=beta, threshold=1.0, dropout=0.0,
                   batchnorm=c["batchnorm"], tail=0, seed=seed)
    previous = 1.0
    for layer, (src, dst) in enumerate(zip(ann.projections, snn.projections)):
        w = src.weight.detach().clone() * previous
        if layer < len(scales):
            lam = scales[layer]
            if c["batchnorm"]:
                bn_src, bn_dst = ann.norms[layer], snn.norms[layer]
                bn_dst.running_mean.copy_(bn_src.running_mean)
                bn_dst.running_var.copy_(bn_src.running_var)
                bn_dst.weight.copy_(bn_src.weight / lam)
                bn_dst.bias.copy_(bn_src.bias / lam)
            else:
                w /= lam
            previous = lam
        dst.weight.copy_(w)
    return snn.eval(), scales

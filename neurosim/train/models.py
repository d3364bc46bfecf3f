"""Ready-made trainable networks.

:class:`DelaySNN` is the feed-forward architecture of DCLS-Delays
(Hammouamri et al., ICLR 2024): per hidden layer a delay projection,
BatchNorm (statistics over time and batch), LIF neurons with hard reset to 0
and a detached reset, and dropout with one mask per sequence; the output
layer is a delay projection into non-spiking leaky integrators whose
membrane is the network's output.

Sequence length: the paper lets each layer's output run ``tail`` steps past
its input (so late, delayed spikes still arrive) and cuts it there.  Here
the input is padded once with ``tail`` silent steps per layer and every layer
runs over that same window, so no layer drops spikes that a later layer
would still have received; the output has the paper's length,
``T + (n_hidden + 1) * tail``, and the network is exactly what the
event-driven simulator runs (:mod:`neurosim.train.convert`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Self

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .delays import DelayProjection
from .layers import LIF, LeakyReadout, SequenceBatchNorm, SequenceDropout, resolve_beta


class _DelayStack(nn.Module):
    """Layers shared by :class:`DelaySNN` and :class:`DelayANN`.

    Per hidden layer: delay projection, optional BatchNorm, an activation
    (``self.neurons``), dropout; then an output delay projection and
    ``self.readout``.  The input is padded once with ``tail`` silent steps per
    layer (see the module docstring).  With ``record_layers = True`` every
    forward pass keeps each hidden layer's output ``(T', batch, n)`` in
    ``layer_outputs`` (spikes of an SNN, activations of an ANN).
    """

    def _build_stack(self, n_in: int, n_hidden: Sequence[int], n_out: int, delays: str, max_delay: int,
                     dropout: float, batchnorm: bool, tail: int | None, memory_saving: bool, seed: int,
                     activations: list[nn.Module], readout: nn.Module) -> None:
        if not n_hidden:
            raise ValueError(f"{type(self).__name__}: 'n_hidden' needs at least one hidden layer, e.g. (256, 256)")
        gen = torch.Generator().manual_seed(int(seed))
        sizes = [int(n_in), *[int(h) for h in n_hidden]]
        self.projections = nn.ModuleList(
            DelayProjection(a, c, max_delay, delays, tail=0, generator=gen)
            for a, c in zip(sizes, [*sizes[1:], int(n_out)]))
        self.norms = nn.ModuleList(SequenceBatchNorm(h) if batchnorm else nn.Identity() for h in sizes[1:])
        self.neurons = nn.ModuleList(activations)
        self.dropouts = nn.ModuleList(SequenceDropout(dropout) for _ in sizes[1:])
        self.readout = readout
        per_layer = (int(max_delay) // 2 if delays != "none" else 0) if tail is None else int(tail)
        if per_layer < 0:
            raise ValueError(f"{type(self).__name__}: 'tail' must be >= 0 steps, got {tail!r}")
        self.total_tail = per_layer * len(self.projections)
        self.memory_saving = bool(memory_saving)
        self.record_layers = False
        self.layer_outputs: list[torch.Tensor] = []
        self._recomputing = False

    @contextlib.contextmanager
    def _recomputation(self):
        self._recomputing = True
        try:
            yield
        finally:
            self._recomputing = False

    @classmethod
    def from_config(cls, config: dict) -> Self:
        """Rebuild from :attr:`config` (as stored in checkpoints)."""
        cfg = dict(config)
        return cls(cfg.pop("n_in"), cfg.pop("n_hidden"), cfg.pop("n_out"), **cfg)

    def _hidden(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        z = self.projections[layer](x)
        norm = self.norms[layer]
        if isinstance(norm, SequenceBatchNorm):
            # activation checkpointing runs this twice: update running statistics once
            z = norm(z, update_stats=not self._recomputing)
        return self.dropouts[layer](self.neurons[layer](z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Input ``(T, batch, n_in)`` -> per-step output ``(T + total_tail, batch, n_out)``."""
        if x.dim() != 3 or x.shape[-1] != self.config["n_in"]:
            raise ValueError(f"{type(self).__name__}: expected input of shape (T, batch, {self.config['n_in']}), "
                             f"got {tuple(x.shape)}")
        self.layer_outputs = []
        if self.total_tail:
            x = F.pad(x, (0, 0, 0, 0, 0, self.total_tail))
        for layer in range(len(self.neurons)):
            if self.memory_saving and self.training and torch.is_grad_enabled():
                x = checkpoint(self._hidden, layer, x, use_reentrant=False,
                               context_fn=lambda: (contextlib.nullcontext(), self._recomputation()))
            else:
                x = self._hidden(layer, x)
            if self.record_layers:
                self.layer_outputs.append(x.detach())
        return self.readout(self.projections[-1](x))

    def delay_projections(self) -> list[DelayProjection]:
        return list(self.projections)

    def after_step(self) -> None:
        """Call after each optimiser step: keep delays in range."""
        for p in self.projections:
            if p.mode == "learned":
                p.clamp_delays()

    def end_epoch(self, epoch: int, n_epochs: int) -> None:
        """Call after each epoch: the paper's sigma schedule over the first quarter."""
        for p in self.projections:
            p.decay_sigma(epoch, n_epochs // 4)


class DelaySNN(_DelayStack):
    """Feed-forward spiking network with per-synapse delays.

    Args:
        n_in: input channels.
        n_hidden: neurons per hidden layer, e.g. ``(256, 256)``.
        n_out: classes.
        delays: ``"learned"``, ``"random"`` (fixed) or ``"none"``.
        max_delay: largest delay in steps.
        beta: membrane decay per step of all neurons (or ``tau_m`` and ``dt`` in ms).
        threshold: firing threshold of the hidden LIF neurons.
        dropout: dropout probability after each hidden layer.
        batchnorm: BatchNorm after each hidden projection.
        surrogate: surrogate gradient, e.g. ``("atan", 5.0)`` (the paper's).
        tail: silent steps appended to the input per layer (default ``max_delay // 2``
            with delays, 0 without).
        memory_saving: recompute each hidden layer in the backward pass
            (activation checkpointing) instead of storing its activations.
        loss: the training loss, a key of :data:`SNN_LOSSES`: ``"summed_softmax"``
            (the paper's, :func:`readout_loss`), ``"anytime"``
            (:func:`anytime_loss`: right early too, for early exits) or
            ``"mean_membrane"`` (:func:`mean_membrane_loss`: cross-entropy of the
            time-averaged read-out, the better fit on static images).
        seed: seed of the weight and delay initialisation.

    The output ``(T', batch, n_out)`` is the read-out membrane at every step;
    :meth:`loss` trains it and :func:`predict` decides (whatever the loss).
    """

    def __init__(self, n_in: int, n_hidden: Sequence[int], n_out: int, *, delays: str = "learned",
                 max_delay: int = 24, beta: float | None = None, tau_m: float | None = None,
                 dt: float = 1.0, threshold: float = 1.0, dropout: float = 0.4, batchnorm: bool = True,
                 surrogate: str | tuple = ("atan", 5.0), tail: int | None = None,
                 memory_saving: bool = False, loss: str = "summed_softmax", seed: int = 0):
        super().__init__()
        if loss not in SNN_LOSSES:
            raise ValueError(f"loss must be one of {', '.join(SNN_LOSSES)}, got {loss!r}")
        b = resolve_beta(beta, tau_m, dt)
        self.config = dict(n_in=int(n_in), n_hidden=[int(h) for h in n_hidden], n_out=int(n_out),
                           delays=delays, max_delay=int(max_delay), beta=b, threshold=float(threshold),
                           dropout=float(dropout), batchnorm=bool(batchnorm),
                           surrogate=list(surrogate) if isinstance(surrogate, tuple) else surrogate,
                           tail=tail, memory_saving=bool(memory_saving), loss=loss, seed=int(seed))
        sg = tuple(surrogate) if isinstance(surrogate, list) else surrogate
        neurons = [LIF(h, b, threshold=threshold, reset="zero", surrogate=sg) for h in self.config["n_hidden"]]
        self._build_stack(n_in, n_hidden, n_out, delays, max_delay, dropout, batchnorm, tail, memory_saving,
                          seed, neurons, LeakyReadout(int(n_out), b))

    def loss(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training loss chosen at construction (``loss=``) of read-out ``u`` ``(T, batch, C)``."""
        return SNN_LOSSES[self.config["loss"]](u, y)


class DelayANN(_DelayStack):
    """The ANN of :class:`DelaySNN`'s topology: the same delay projections, BatchNorm
    and dropout, ReLU instead of LIF neurons, and the output projection's value at
    each step as the logits (no leaky read-out).

    Trained with cross-entropy of the time-averaged logits (:meth:`loss`),
    deciding by their sum (:meth:`predict`).  On static inputs (``T = 1``,
    ``delays="none"``) it is a plain multi-layer perceptron.  Build one from an
    SNN with :func:`neurosim.baselines.ann_of`.
    """

    def __init__(self, n_in: int, n_hidden: Sequence[int], n_out: int, *, delays: str = "none",
                 max_delay: int = 24, dropout: float = 0.0, batchnorm: bool = True, tail: int | None = None,
                 memory_saving: bool = False, seed: int = 0):
        super().__init__()
        self.config = dict(n_in=int(n_in), n_hidden=[int(h) for h in n_hidden], n_out=int(n_out),
                           delays=delays, max_delay=int(max_delay), dropout=float(dropout),
                           batchnorm=bool(batchnorm), tail=tail, memory_saving=bool(memory_saving), seed=int(seed))
        self._build_stack(n_in, n_hidden, n_out, delays, max_delay, dropout, batchnorm, tail, memory_saving,
                          seed, [nn.ReLU() for _ in self.config["n_hidden"]], nn.Identity())

    @staticmethod
    def loss(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the time-averaged logits ``u`` ``(T, batch, C)``."""
        return F.cross_entropy(u.mean(0), y)

    @staticmethod
    def predict(u: torch.Tensor) -> torch.Tensor:
        """Class decision: argmax of the summed logits."""
        return u.sum(0).argmax(-1)


MODEL_CLASSES = {"DelaySNN": DelaySNN, "DelayANN": DelayANN}


def model_loss(model: nn.Module, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss of ``model``: its own ``loss`` if it has one, else :func:`readout_loss`."""
    return model.loss(u, y) if hasattr(model, "loss") else readout_loss(u, y)


def model_predict(model: nn.Module, u: torch.Tensor) -> torch.Tensor:
    """The decision rule of ``model``: its own ``predict`` if it has one, else :func:`predict`."""
    return model.predict(u) if hasattr(model, "predict") else predict(u)


def softmax_sum(u: torch.Tensor) -> torch.Tensor:
    """Per-step softmax over classes summed over time: ``(T, batch, C) -> (batch, C)``."""
    return F.softmax(u, dim=-1).sum(0)


def readout_loss(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """DCLS-Delays' loss: cross-entropy of the summed per-step softmax (softmax applied twice)."""
    return F.cross_entropy(softmax_sum(u), y)


def anytime_loss(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:func:`readout_loss` of every prefix of the run, averaged over the prefixes.

    The training target of an *anytime* classifier: the decision the model
    would take if stopped after ``t`` steps (the argmax of the per-step softmax
    summed up to ``t``, what Dynamic Confidence reads) is trained at every
    ``t``, not only at the end; the last prefix's term is the paper's loss.
    The summed evidence becomes decisive earlier, so exits stop sooner, at
    some cost in full-length accuracy (``docs/dynamic_confidence.md``).
    """
    n_steps, batch, n_classes = u.shape
    running = F.softmax(u, dim=-1).cumsum(0)
    return F.cross_entropy(running.reshape(n_steps * batch, n_classes), y.repeat(n_steps))


def mean_membrane_loss(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the read-out membrane averaged over time, ``u.mean(0)`` as the logits.

    The paper's :func:`readout_loss` takes the cross-entropy of a sum of ``T``
    probabilities, i.e. of logits confined to ``[0, T]``: once a sample is
    right its loss and gradient all but vanish, while a wrong one costs up to
    ``T``.  On MNIST-5k that fits the training images only to about 97 % and
    tests 2-12 points below the ANN; this loss fits them and tests within
    1 point (``docs/results.md``).  The decision stays :func:`predict`, the
    summed per-step softmax (on those runs it agrees with the argmax of
    ``u.mean(0)`` to 0.1 points), so exits read the same evidence whatever
    the loss.
    """
    return F.cross_entropy(u.mean(0), y)


def predict(u: torch.Tensor) -> torch.Tensor:
    """Class decision: argmax of the summed per-step softmax."""
    return softmax_sum(u).argmax(-1)


#: training losses of a :class:`DelaySNN` by name
SNN_LOSSES = {"summed_softmax": readout_loss, "anytime": anytime_loss, "mean_membrane": mean_membrane_loss}

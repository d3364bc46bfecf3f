"""Inference-time methods: dynamic-confidence early exits (``confidence``), operation
counts of spiking and ANN models (``costs``) and the SNN/ANN comparison (``compare``)."""
from .confidence import (ConfidenceExit, choose_threshold, confidence_trace, dynamic_confidence, exit_steps,
                         fixed_step_curve, oracle, pareto_curve, softmax_evidence)

__all__ = ["confidence_trace", "exit_steps", "dynamic_confidence", "fixed_step_curve", "oracle",
           "pareto_curve", "choose_threshold", "ConfidenceExit", "softmax_evidence"]

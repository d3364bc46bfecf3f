"""Deterministic train/validation/test splits as sorted index arrays."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["speaker_split", "stratified_split"]


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")


def speaker_split(speakers: Sequence | np.ndarray, test_speakers: Sequence,
                  val_fraction: float = 0.1, seed: int = 0, val_speakers: Sequence = ()
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split by speaker: every sample of ``test_speakers`` goes to test, and only there.

    Without ``val_speakers``, the remaining samples are shuffled with ``seed``
    and ``round(val_fraction * n)`` of them form the validation set (samples,
    not speakers, are drawn).  With ``val_speakers``, every sample of those
    speakers validates and is never trained on (``val_fraction`` and ``seed``
    are then unused): a threshold or an epoch chosen there meets a new voice,
    as the test set does.

    Args:
        speakers: speaker id or name per sample.
        test_speakers: speakers held out for testing (each must occur).
        val_fraction: share of the non-test samples used for validation.
        seed: seed of the shuffle.
        val_speakers: speakers held out for validation (each must occur, none
            may be a test speaker).

    Returns:
        ``(train, val, test)`` sorted int64 index arrays.
    """
    _check_fraction("val_fraction", val_fraction)
    speakers = np.asarray(speakers)
    held_out = np.asarray(list(test_speakers))
    validating = np.asarray(list(val_speakers))
    if not held_out.size:
        raise ValueError("test_speakers must name at least one speaker")
    missing = sorted(set(held_out.tolist()) - set(speakers.tolist()))
    if missing:
        raise ValueError(f"test speakers not in the data: {missing}")
    is_test = np.isin(speakers, held_out)
    if validating.size:
        missing = sorted(set(validating.tolist()) - set(speakers.tolist()))
        both = sorted(set(validating.tolist()) & set(held_out.tolist()))
        if missing or both:
            raise ValueError(f"val_speakers must occur in the data and not be test speakers; "
                             f"not in the data: {missing}, also test speakers: {both}")
        is_val = np.isin(speakers, validating)
        return np.flatnonzero(~is_test & ~is_val), np.flatnonzero(is_val), np.flatnonzero(is_test)
    rest = np.random.default_rng(seed).permutation(np.flatnonzero(~is_test))
    n_val = int(round(val_fraction * rest.size))
    return np.sort(rest[n_val:]), np.sort(rest[:n_val]), np.flatnonzero(is_test)


def stratified_split(labels: Sequence[int] | np.ndarray, val_fraction: float = 0.1,
                     test_fraction: float = 0.2, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split each class in the same proportions.

    Within each class (shuffled with ``seed``), ``round(test_fraction * n_c)``
    samples go to test, ``round(val_fraction * n_c)`` to validation, the rest
    to train.

    Returns:
        ``(train, val, test)`` sorted int64 index arrays.
    """
    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got "
                         f"{val_fraction + test_fraction}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not labels.size:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test_fraction * idx.size))
        n_val = int(round(val_fraction * idx.size))
        test.append(idx[:n_test])
        val.append(idx[n_test:n_test + n_val])
        train.append(idx[n_test + n_val:])
    return tuple(np.sort(np.concatenate(part)).astype(np.int64)  # type: ignore[return-value]
                 for part in (train, val, test))

"""Delay network on spiking FSDD (Free Spoken Digit Dataset), speaker-independent.

Audio -> 64-channel auditory front end (``neurosim.data.FrontEnd``) -> spike
counts in 10 ms bins (80 steps) -> DelaySNN (2 hidden layers of LIF neurons,
per-synapse delays up to 240 ms) -> 10 digits.  One speaker is held out for
testing and never trained on; 10 % of the other recordings validate, or,
with ``val_speaker``, every recording of one more held-out speaker (which
then tells how a threshold or an epoch chosen there carries to a new voice).

Train:    neurosim train models/fsdd_delays.py --set delays='"random"' seed=1
Evaluate: neurosim evaluate runs/fsdd_delays/best.pt --data DIR_OF_WAVS

The data folder defaults to ``$NEUROSIM_FSDD`` (files named
``{digit}_{speaker}_{index}.wav``, e.g. the FSDD ``recordings`` folder).
"""
import os

from neurosim.data import speaker_split
from neurosim.train.models import DelaySNN
from neurosim.train.pipeline import SpikeInputSpec

PARAMS = dict(
    data_dir=os.environ.get("NEUROSIM_FSDD", ""),
    test_speaker="george",
    val_fraction=0.1,
    val_speaker=None,          # a training speaker to validate on instead (never trained on), e.g. "jackson"
    n_channels=64,
    dt_ms=10.0,
    n_steps=80,
    hidden=(128, 128),
    delays="learned",          # "learned" | "random" | "none"
    max_delay=24,              # steps (240 ms)
    tau_m_ms=10.05,            # beta = 1 - dt/tau (the paper's Euler leak, ~0.005 at 10 ms)
    dropout=0.4,
    loss="summed_softmax",     # "summed_softmax" (the paper's) | "anytime" (trained at every prefix: exits stop sooner)
    epochs=30,
    batch_size=64,
    lr=5e-3,
    lr_delay=0.1,
    weight_decay=1e-5,
    max_train=None,            # subsample training set (quick runs)
    seed=0,
)


def load_data(p: dict) -> dict:
    if not p["data_dir"]:
        raise ValueError("set data_dir (or $NEUROSIM_FSDD) to a folder of {digit}_{speaker}_{index}.wav files")
    spec = SpikeInputSpec(dt_ms=p["dt_ms"], n_steps=p["n_steps"], n_units=p["n_channels"],
                          front_end={"n_channels": p["n_channels"]})
    ds = spec.dataset(p["data_dir"])
    names = list(ds.speaker_names)
    if p["test_speaker"] not in names:
        raise ValueError(f"test_speaker {p['test_speaker']!r} not in the data; speakers: {', '.join(names)}")
    if p["val_speaker"] is not None and (p["val_speaker"] not in names or p["val_speaker"] == p["test_speaker"]):
        raise ValueError(f"val_speaker {p['val_speaker']!r} must be a speaker other than the test speaker; "
                         f"speakers: {', '.join(names)}")
    val_speakers = [] if p["val_speaker"] is None else [names.index(p["val_speaker"])]
    train, val, test = speaker_split(ds.speakers, [names.index(p["test_speaker"])],
                                     val_fraction=p["val_fraction"], seed=0, val_speakers=val_speakers)
    if p["max_train"]:
        train = train[:: max(1, len(train) // int(p["max_train"]))][: int(p["max_train"])]
    x, y = spec.bin(ds)
    return {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": (x[test], y[test]),
            "spec": spec, "n_classes": 10}


def build_model(p: dict) -> DelaySNN:
    return DelaySNN(p["n_channels"], p["hidden"], 10, delays=p["delays"], max_delay=p["max_delay"],
                    beta=1.0 - p["dt_ms"] / p["tau_m_ms"], dropout=p["dropout"], loss=p["loss"], seed=p["seed"])

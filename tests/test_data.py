"""Tests of the data layer: SHD schema I/O, binning, auditory front end, splits."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurosim.data import (FrontEnd, SpikeDataset, encode_folder, read_shd, speaker_split,
                           stratified_split, write_shd)

from shared_paths import FSDD_RECORDINGS

FSDD_SAMPLE = ["0_george_0.wav", "1_jackson_3.wav", "2_nicolas_5.wav",
               "7_theo_12.wav", "9_yweweler_40.wav", "4_george_8.wav"]


def _write_official(path: Path, times, units, labels, speakers=None, drop=()) -> None:
    """A file in the exact official layout (no neurosim extras), minus ``drop``."""
    with h5py.File(path, "w") as f:
        if "spikes/times" not in drop:
            ds = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float16))
            for i, t in enumerate(times):
                ds[i] = np.asarray(t, dtype=np.float16)
        if "spikes/units" not in drop:
            ds = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
            for i, u in enumerate(units):
                ds[i] = np.asarray(u, dtype=np.uint16)
        if "labels" not in drop:
            f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))
        if speakers is not None:
            f.create_dataset("extra/speaker", data=np.asarray(speakers, dtype=np.uint8))


# exactly representable in float16: 0.25, 0.5, 0.75, 0.0625
TIMES = [np.array([0.0, 0.25, 0.5, 0.5, 0.0625]), np.array([]), np.array([0.75])]
UNITS = [np.array([0, 1, 2, 2, 3]), np.array([], dtype=int), np.array([3])]
LABELS = [4, 0, 19]


def test_write_then_read_round_trip(tmp_path):
    path = write_shd(tmp_path / "a.h5", TIMES, UNITS, LABELS, speakers=[2, 0, 1], n_units=4,
                     speaker_names=["ann", "bob", "cy"], attrs={"note": "x"})
    data = read_shd(path)
    assert len(data) == 3 and data.n_units == 4
    for t_in, u_in, t, u in zip(TIMES, UNITS, data.times, data.units):
        np.testing.assert_array_equal(t, t_in)
        np.testing.assert_array_equal(u, u_in)
    np.testing.assert_array_equal(data.labels, LABELS)
    np.testing.assert_array_equal(data.speakers, [2, 0, 1])
    assert data.speaker_names == ("ann", "bob", "cy")
    with h5py.File(path) as f:  # the official dtypes
        assert f["spikes/times"].dtype.metadata["vlen"] == np.float16
        assert f["spikes/units"].dtype.metadata["vlen"] == np.uint16
        assert f.attrs["note"] == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["a.h5"]  # no temp file left


def test_reads_official_layout_and_rounds_times_to_float16(tmp_path):
    _write_official(tmp_path / "o.h5", [[0.01, 0.03]], [[699, 5]], [3], speakers=[7])
    data = read_shd(tmp_path / "o.h5")
    assert data.n_units == 700 and data.speakers.tolist() == [7] and data.speaker_names is None
    np.testing.assert_array_equal(data.times[0], np.float16([0.01, 0.03]).astype(np.float32))


def test_bin_fixed_grid_by_hand(tmp_path):
    data = read_shd(write_shd(tmp_path / "b.h5", TIMES, UNITS, LABELS, n_units=4))
    X, y = data.bin(dt_ms=250.0)
    assert X.shape == (3, 4, 4) and X.dtype == np.uint8  # latest spike 0.75 s -> step 3
    expected = np.zeros((3, 4, 4), dtype=np.uint8)
    expected[0, 0, 0] = 1  # t = 0
    expected[0, 0, 3] = 1  # t = 62.5 ms
    expected[0, 1, 1] = 1  # t = 250 ms, exactly on an edge -> step 1
    expected[0, 2, 2] = 2  # two spikes at 500 ms (edge) -> step 2, counted twice
    expected[2, 3, 3] = 1  # t = 750 ms (edge) -> step 3
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_array_equal(y, LABELS)
    X2, _ = data.bin(dt_ms=62.5, n_steps=4)  # 0.0625 s on an edge -> step 1; later spikes dropped
    assert X2[0, 1, 3] == 1 and X2[0, 0, 0] == 1 and X2.sum() == 2


def test_float16_trap_30ms_lands_in_step_2(tmp_path):
    _write_official(tmp_path / "t.h5", [[0.03]], [[0]], [0])
    X, _ = read_shd(tmp_path / "t.h5").bin(dt_ms=10.0)
    assert X[0, 2, 0] == 1  # float16(0.03) = 0.029998779 s


def test_missing_labels_is_named(tmp_path):
    _write_official(tmp_path / "m.h5", TIMES, UNITS, LABELS, drop=("labels",))
    with pytest.raises(ValueError, match=r"missing dataset '/labels'"):
        read_shd(tmp_path / "m.h5")


def test_mismatched_lengths(tmp_path):
    _write_official(tmp_path / "n.h5", TIMES, UNITS, LABELS[:2])
    with pytest.raises(ValueError, match=r"n\.h5: mismatched lengths: 3 spike-time arrays, 3 unit arrays, 2 labels"):
        read_shd(tmp_path / "n.h5")
    _write_official(tmp_path / "s.h5", [[0.1, 0.2]], [[1]], [0])
    with pytest.raises(ValueError, match=r"sample 0: times and units must be 1-D of equal length"):
        read_shd(tmp_path / "s.h5")


def test_bad_unit_index_rejected_on_write(tmp_path):
    with pytest.raises(ValueError, match="unit index 4 >= n_units = 4"):
        write_shd(tmp_path / "u.h5", [[0.1]], [[4]], [0], n_units=4)
    assert not any(tmp_path.iterdir())


FS = 8000.0


def test_pure_tone_drives_nearest_channel_most():
    front = FrontEnd(n_channels=32)
    t = np.arange(int(0.5 * FS)) / FS
    centres = front.centre_frequencies()
    for f0 in (300.0, 1000.0, 2500.0):
        times, units = front.encode(0.5 * np.sin(2 * np.pi * f0 * t), FS)
        counts = np.bincount(units, minlength=32)
        assert counts.argmax() == np.argmin(np.abs(centres - f0))
        assert np.all(np.diff(times) >= 0) and times.max() <= 0.5


def test_silence_gives_no_spikes_and_rates_are_bounded():
    front = FrontEnd(n_channels=16, max_rate_hz=100.0)
    times, _ = front.encode(np.zeros(4000), FS)
    assert times.size == 0
    loud_noise = np.random.default_rng(0).normal(0.0, 1.0, 4000)  # 0.5 s
    _, units = front.encode(loud_noise, FS)
    assert np.bincount(units, minlength=16).max() <= 100.0 * 0.5


def test_front_end_rejects_bad_parameters():
    with pytest.raises(ValueError, match="below fs_hz / 2"):
        FrontEnd(f_hi_hz=5000.0).encode(np.zeros(100), FS)
    with pytest.raises(ValueError, match="mono"):
        FrontEnd().encode(np.zeros((100, 2)), FS)


@pytest.fixture
def fsdd_folder(tmp_path):
    if not FSDD_RECORDINGS.is_dir():
        pytest.skip(f"FSDD recordings not found at {FSDD_RECORDINGS}")
    folder = tmp_path / "wavs"
    folder.mkdir()
    for name in FSDD_SAMPLE:
        shutil.copy(FSDD_RECORDINGS / name, folder / name)
    return folder


def test_encode_folder_and_cache(fsdd_folder, tmp_path):
    out = tmp_path / "fsdd.h5"
    encode_folder(fsdd_folder, out, n_channels=24)
    data = read_shd(out)
    names = sorted(FSDD_SAMPLE)
    assert len(data) == 6 and data.n_units == 24
    assert data.labels.tolist() == [int(n[0]) for n in names]
    assert data.speaker_names == ("george", "jackson", "nicolas", "theo", "yweweler")
    assert [data.speaker_names[s] for s in data.speakers] == [n.split("_")[1] for n in names]
    assert all(t.size > 50 for t in data.times)

    os.utime(out, ns=(1_000_000_000, 1_000_000_000))
    encode_folder(fsdd_folder, out, n_channels=24)
    assert out.stat().st_mtime_ns == 1_000_000_000  # cache reused
    encode_folder(fsdd_folder, out, n_channels=16)
    assert out.stat().st_mtime_ns != 1_000_000_000 and read_shd(out).n_units == 16


def test_encode_folder_without_wavs(tmp_path):
    with pytest.raises(ValueError, match="no '{digit}_{speaker}_{index}.wav' files"):
        encode_folder(tmp_path, tmp_path / "x.h5")


def test_speaker_split_never_leaks():
    rng = np.random.default_rng(1)
    speakers = rng.choice(["a", "b", "c", "d", "e"], size=200)
    train, val, test = speaker_split(speakers, test_speakers=["b", "e"], val_fraction=0.2, seed=3)
    assert set(speakers[test]) == {"b", "e"}
    assert not {"b", "e"} & set(speakers[np.concatenate([train, val])])
    assert len(train) + len(val) + len(test) == 200
    assert len(np.unique(np.concatenate([train, val, test]))) == 200
    again = speaker_split(speakers, test_speakers=["b", "e"], val_fraction=0.2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    with pytest.raises(ValueError, match="not in the data"):
        speaker_split(speakers, test_speakers=["z"])
    train, val, test = speaker_split(speakers, test_speakers=["b"], val_speakers=["d"])
    assert set(speakers[val]) == {"d"} and set(speakers[test]) == {"b"}
    assert set(speakers[train]) == {"a", "c", "e"}
    assert len(train) + len(val) + len(test) == 200
    for bad in (["b"], ["z"]):
        with pytest.raises(ValueError, match="val_speakers must occur in the data and not be test speakers"):
            speaker_split(speakers, test_speakers=["b"], val_speakers=bad)


def test_stratified_split_proportions_and_determinism():
    labels = np.repeat(np.arange(4), 50)
    train, val, test = stratified_split(labels, val_fraction=0.1, test_fraction=0.2, seed=5)
    assert np.bincount(labels[test]).tolist() == [10] * 4
    assert np.bincount(labels[val]).tolist() == [5] * 4
    assert len(np.unique(np.concatenate([train, val, test]))) == 200
    other = stratified_split(labels, val_fraction=0.1, test_fraction=0.2, seed=6)[2]
    assert not np.array_equal(test, other)
    assert np.array_equal(test, stratified_split(labels, 0.1, 0.2, seed=5)[2])


def test_subset_follows_indices():
    data = SpikeDataset(times=[np.float32([0.1]), np.float32([0.2])],
                        units=[np.uint16([0]), np.uint16([1])], labels=np.array([3, 4]),
                        n_units=2, speakers=np.array([0, 1]))
    sub = data.subset([1])
    assert sub.labels.tolist() == [4] and sub.speakers.tolist() == [1]
    assert sub.times[0].tolist() == pytest.approx([0.2])

"""Philox4x32-10 (neurosim.engine.counter_rng): the published known-answer vectors, and uniforms
that are uniform and independent across steps, elements and streams."""
import numpy as np
import pytest
from scipy import stats

from neurosim.engine.counter_rng import philox_block, stream_key, uniforms

#: Random123's known-answer vectors for Philox4x32-10 (Salmon et al. 2011; Random123 tests/kat_vectors)
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_known_answers(counter, key, expected):
    out = philox_block(np.array(counter, dtype=np.uint32), np.array(key, dtype=np.uint32))
    assert tuple(int(v) for v in out) == expected


def test_uniforms_are_uniform_and_independent():
    k0, k1 = stream_key(np.random.SeedSequence(7))
    u = uniforms(k0, k1, 2 ** 32 - 3, 60, 5000)        # steps crossing 2^32: the counter's high word
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-4
    for a, b in ((u[1:], u[:-1]), (u[:, 1:], u[:, :-1])):   # neighbouring steps, neighbouring elements
        r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        assert abs(r) < 5 / np.sqrt(a.size)
    other = uniforms(*stream_key(np.random.SeedSequence(8)), 2 ** 32 - 3, 60, 5000)
    assert abs(np.corrcoef(u.ravel(), other.ravel())[0, 1]) < 5 / np.sqrt(u.size)


def test_a_cell_depends_only_on_key_step_and_element():
    key = stream_key(np.random.SeedSequence(1))
    whole = uniforms(*key, 100, 50, 30)
    np.testing.assert_array_equal(whole[20:], uniforms(*key, 120, 30, 30))
    np.testing.assert_array_equal(whole[:, :10], uniforms(*key, 100, 50, 10))

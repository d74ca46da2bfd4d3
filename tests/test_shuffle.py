"""Dinucleotide shuffles keep every dinucleotide count and are reproducible from a seed."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lociflow.errors import LociflowError
from lociflow.preprocessing.shuffle import dinucleotide_shuffle


def _letters(onehot: np.ndarray) -> np.ndarray:
    return np.where(onehot.sum(-1) == 0, 4, onehot.argmax(-1))


def _dinucleotide_counts(onehot: np.ndarray) -> np.ndarray:
    s = _letters(onehot)
    pairs = s[..., :-1] * 5 + s[..., 1:]
    flat = pairs.reshape(-1, pairs.shape[-1])
    return np.stack([np.bincount(r, minlength=25) for r in flat]).reshape(pairs.shape[:-1] + (25,))


def _random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, length))]


def test_dinucleotide_counts_are_preserved_exactly():
    x = _random_onehot(200, 150)
    shuffled = dinucleotide_shuffle(x, 7, rng=1)
    assert shuffled.shape == (200, 7, 150, 4) and shuffled.dtype == x.dtype
    assert (_dinucleotide_counts(shuffled) == _dinucleotide_counts(x)[:, None]).all()
    # and the sequences really change
    assert (shuffled != x[:, None]).any(-1).mean() > 0.5


def test_n_rows_move_as_a_fifth_letter_and_keep_counts():
    x = _random_onehot(50, 80)
    x[:, 10:14] = 0
    x[:, 40] = 0
    shuffled = dinucleotide_shuffle(x, 5, rng=0)
    assert (_dinucleotide_counts(shuffled) == _dinucleotide_counts(x)[:, None]).all()
    assert set(np.unique(shuffled.sum(-1))) <= {0, 1}


def test_first_and_last_letter_are_kept():
    x = _random_onehot(30, 40)
    shuffled = dinucleotide_shuffle(x, 4, rng=3)
    assert (_letters(shuffled)[..., 0] == _letters(x)[:, None, 0]).all()
    assert (_letters(shuffled)[..., -1] == _letters(x)[:, None, -1]).all()


def test_same_seed_same_shuffles_other_seed_other_shuffles():
    x = _random_onehot(20, 100)
    a = dinucleotide_shuffle(x, 3, rng=42)
    b = dinucleotide_shuffle(x, 3, rng=np.random.default_rng(42))
    c = dinucleotide_shuffle(x, 3, rng=43)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_single_sequence_gives_n_shuffles():
    x = _random_onehot(1, 60)[0].astype(np.float32)
    out = dinucleotide_shuffle(x, 4, rng=0)
    assert out.shape == (4, 60, 4) and out.dtype == np.float32


def test_shuffles_are_drawn_uniformly_among_valid_sequences():
    # ACAGACTAG has exactly 6 sequences with its dinucleotide counts and ends
    x = np.eye(4, dtype=np.uint8)[[0, 1, 0, 2, 0, 1, 3, 0, 2]]
    draws = dinucleotide_shuffle(x, 6000, rng=0)
    counts = Counter(tuple(row) for row in _letters(draws))
    assert len(counts) == 6
    assert min(counts.values()) > 850 and max(counts.values()) < 1150


def test_non_one_hot_input_is_refused():
    x = np.full((2, 10, 4), 0.25, dtype=np.float32)
    with pytest.raises(LociflowError, match="one-hot"):
        dinucleotide_shuffle(x, 2, rng=0)


def test_zero_shuffles_is_refused():
    with pytest.raises(LociflowError, match="at least 1"):
        dinucleotide_shuffle(_random_onehot(1, 10), 0, rng=0)


def test_wrong_rank_is_refused():
    with pytest.raises(LociflowError, match=r"\[L, C\] or \[N, L, C\]"):
        dinucleotide_shuffle(np.zeros(10), 2, rng=0)

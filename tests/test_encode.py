"""One-hot encoding: channels, case, T/U, ambiguity codes, invalid characters, reverse complement."""

from __future__ import annotations

import numpy as np
import pytest

from lociflow.errors import InputFileError
from lociflow.preprocessing.encode import (
    CHANNELS,
    as_codes,
    decode,
    encode_codes,
    one_hot,
    reverse_complement,
    reverse_complement_codes,
)


def test_channels_are_in_acgt_order():
    assert CHANNELS == {"dna": ["A", "C", "G", "T"], "rna": ["A", "C", "G", "U"]}
    onehot = one_hot(["ACGT"])
    assert onehot.dtype == np.uint8 and onehot.shape == (1, 4, 4)
    assert np.array_equal(onehot[0], np.eye(4, dtype=np.uint8))


def test_case_is_ignored_and_t_u_share_a_channel_in_both_alphabets():
    for alphabet in ("dna", "rna"):
        upper = one_hot(["ACGTU"], alphabet)
        assert np.array_equal(upper, one_hot(["acgtu"], alphabet))
        assert np.array_equal(upper[0, 3], upper[0, 4])
        assert upper[0, 4].tolist() == [0, 0, 0, 1]


def test_n_and_iupac_codes_become_zero_rows_and_are_counted():
    encoded = encode_codes(["ANRYSWKMBDHVn", "ACGTACGTACGTA"], "dna")
    assert encoded.n_ambiguous == 12
    assert encoded.onehot[0, 1:].sum() == 0
    assert encoded.onehot[0, 0].tolist() == [1, 0, 0, 0]
    assert encoded.onehot[1].sum() == 13


def test_codes_and_strings_encode_identically():
    seqs = ["ACGTNacgtn", "GGGGGCCCCC"]
    assert np.array_equal(one_hot(seqs), one_hot(as_codes(seqs)))


def test_invalid_character_error_names_record_character_and_position():
    with pytest.raises(InputFileError) as info:
        one_hot(["ACGT", "AC-T", "ACGX"], "rna", names=["first", "second_record", "third"])
    message = str(info.value)
    assert "second_record" in message and "'-'" in message and "position 3" in message
    assert "1 more record also" in message


def test_invalid_character_without_names_gives_record_number():
    with pytest.raises(InputFileError, match=r"Sequence #2 has an invalid character '7'"):
        one_hot(["ACGT", "AC7T"])


def test_unequal_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        one_hot(["ACGT", "ACG"])


def test_reverse_complement_of_one_hot_matches_string_reverse_complement():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTN"), 30)) for _ in range(20)]
    table = str.maketrans("ACGTN", "TGCAN")
    expected = one_hot([s.translate(table)[::-1] for s in seqs])
    assert np.array_equal(reverse_complement(one_hot(seqs)), expected)
    assert np.array_equal(reverse_complement(reverse_complement(one_hot(seqs))), one_hot(seqs))
    assert reverse_complement(one_hot(seqs)).flags.c_contiguous


def test_reverse_complement_codes_keeps_case_and_iupac_meaning():
    codes = as_codes(["ACgtNRyKm"])
    assert reverse_complement_codes(codes).tobytes() == b"kMrYNacGT"
    assert np.array_equal(one_hot(reverse_complement_codes(codes)), reverse_complement(one_hot(codes)))


def test_decode_round_trips_with_n_for_zero_rows():
    assert decode(one_hot(["ACGTNu"], "rna"), "rna") == ["ACGUNU"]
    assert decode(one_hot(["ACGTNu"]), "dna") == ["ACGTNT"]


def test_unknown_alphabet_is_refused():
    with pytest.raises(ValueError, match="alphabet"):
        one_hot(["ACGT"], "protein")

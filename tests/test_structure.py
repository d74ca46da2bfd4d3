"""RNA structure features from real ViennaRNA folding, in worker processes and from the cache."""

from __future__ import annotations

import numpy as np
import pytest

from lociflow.preprocessing.structure import (
    Folder,
    fold_channels,
    fold_one,
    fold_sequences,
    rna_strings,
)

HAIRPIN = "GGGGGAAAACCCCC"  # a 5-bp stem around a GAAA-like loop


def codes(*seqs: str) -> np.ndarray:
    return np.array([np.frombuffer(s.encode(), dtype=np.uint8) for s in seqs])


def test_hairpin_pairs_its_stem_and_leaves_its_loop_unpaired():
    values, channels = fold_sequences(codes(HAIRPIN), cache_dir=False)
    assert channels == ["paired_open", "paired_close", "unpaired", "unpaired_prob"]
    opened, closed, unpaired, unpaired_prob = values[0].T
    assert opened[:5].tolist() == [1] * 5 and closed[-5:].tolist() == [1] * 5
    assert unpaired[5:9].tolist() == [1] * 4
    assert (opened + closed + unpaired == 1).all()
    assert (unpaired_prob[:5] < 0.5).all() and (unpaired_prob[5:9] > 0.5).all()


def test_dna_lowercase_and_n_are_folded_as_rna_with_n_unpaired():
    assert rna_strings(codes("ggTTaaNRac")) == ["GGUUAANNAC"]
    values, _ = fold_sequences(codes("GGGGGAAAACCCCCNNNN", "gggggaaaaccccctttt"), features=["mfe"],
                               cache_dir=False)
    assert values[0, -4:, 2].tolist() == [1, 1, 1, 1]  # N never pairs
    np.testing.assert_array_equal(values[0, :14], values[1, :14])


def test_feature_choice_sets_the_channels():
    values, channels = fold_sequences(codes(HAIRPIN), features=["unpaired_prob"], cache_dir=False)
    assert channels == ["unpaired_prob"] and values.shape == (1, len(HAIRPIN), 1)
    with pytest.raises(ValueError, match="unknown fold features"):
        fold_channels(["bpp"])


def test_temperature_and_span_change_the_fold():
    cold = fold_one(HAIRPIN, ["unpaired_prob"], temperature=20)
    hot = fold_one(HAIRPIN, ["unpaired_prob"], temperature=90)
    assert hot[:5].mean() > cold[:5].mean()  # the stem melts
    short = fold_one(HAIRPIN, ["mfe"], max_bp_span=4)
    assert short[:, 2].all()  # no pair can span the loop


def test_two_workers_give_the_same_values_as_one(tmp_path):
    rng = np.random.default_rng(0)
    batch = rng.choice(np.frombuffer(b"ACGU", np.uint8), size=(40, 30))
    one, _ = fold_sequences(batch, workers=1, cache_dir=False)
    two, _ = fold_sequences(batch, workers=2, cache_dir=False)
    np.testing.assert_array_equal(one, two)


def test_rerun_reads_the_cache_instead_of_folding(tmp_path):
    rng = np.random.default_rng(1)
    batch = rng.choice(np.frombuffer(b"ACGU", np.uint8), size=(20, 30))
    batch[5] = batch[3]  # a duplicate is folded once
    with Folder(cache_dir=tmp_path) as folder:
        first = folder.fold(batch)
        assert folder.n_folded == 19 and folder.n_cached == 0
    with Folder(cache_dir=tmp_path) as folder:
        again = folder.fold(batch[::-1])
        assert folder.n_folded == 0 and folder.n_cached == 19
    np.testing.assert_array_equal(again, first[::-1])
    # other options are another cache entry
    with Folder(cache_dir=tmp_path, temperature=30) as folder:
        folder.fold(batch[:2])
        assert folder.n_folded == 2


def test_later_chunks_of_one_run_hit_results_of_earlier_chunks(tmp_path):
    batch = codes(HAIRPIN, "ACGUACGUACGUAC")
    with Folder(cache_dir=tmp_path) as folder:
        folder.fold(batch)
        folder.fold(batch)
        assert folder.n_folded == 2 and folder.n_cached == 2


def test_folding_workers_leave_ctrl_c_to_the_parent():
    import signal

    from lociflow.preprocessing.structure import _init_worker

    before = signal.getsignal(signal.SIGINT)
    try:
        _init_worker((("mfe",), 37.0, None))
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)

"""Balancing and splitting: seeded, stratified, shuffled, and never losing a row it should keep."""

from __future__ import annotations

import numpy as np
import pytest

from lociflow.errors import LociflowError
from lociflow.layout import SPLITS as SPLIT_NAMES
from lociflow.preprocessing.split import (
    check_classes_not_empty,
    chromosome_split,
    order_within_splits,
    overlap_groups,
    random_split,
    reduce_classes,
)

CLASSES = ["bound", "unbound"]


def labels_of(n0: int, n1: int) -> np.ndarray:
    return np.array([0] * n0 + [1] * n1)


def test_reducing_to_at_least_the_class_size_keeps_every_row():
    labels = labels_of(10, 30)
    for count in (10, 11, 1000):
        kept = reduce_classes(labels, CLASSES, {"bound": count}, rng=np.random.default_rng(0))
        assert (labels[kept] == 0).sum() == 10
    assert len(reduce_classes(labels, CLASSES, {"bound": 1.0})) == 40


def test_reduce_by_count_and_ratio_is_seeded_and_in_input_order():
    labels = labels_of(100, 60)
    kept = reduce_classes(labels, CLASSES, {"bound": 25, "unbound": 0.5}, rng=np.random.default_rng(3))
    assert (labels[kept] == 0).sum() == 25 and (labels[kept] == 1).sum() == 30
    assert np.all(np.diff(kept) > 0)
    again = reduce_classes(labels, CLASSES, {"bound": 25, "unbound": 0.5}, rng=np.random.default_rng(3))
    other = reduce_classes(labels, CLASSES, {"bound": 25, "unbound": 0.5}, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(kept, again)
    assert not np.array_equal(kept, other)


def test_balance_smallest_subsamples_every_class_to_the_smallest():
    labels = np.array([0] * 50 + [1] * 20 + [2] * 35)
    kept = reduce_classes(labels, ["a", "b", "c"], balance="smallest", rng=np.random.default_rng(0))
    assert np.bincount(labels[kept]).tolist() == [20, 20, 20]


def test_tiny_ratio_never_empties_a_class():
    labels = labels_of(3, 100)
    kept = reduce_classes(labels, CLASSES, {"bound": 0.01}, rng=np.random.default_rng(0))
    assert (labels[kept] == 0).sum() == 1


def test_class_without_loci_is_an_error_naming_it():
    with pytest.raises(LociflowError, match="Class 'unbound' has no loci left after filtering"):
        check_classes_not_empty(labels_of(5, 0), CLASSES, "after filtering")


def test_random_split_is_stratified_with_ratios():
    labels = labels_of(800, 200)
    split = random_split(labels, {"train": 0.8, "valid": 0.1, "test": 0.1}, np.random.default_rng(0))
    for k, size in ((0, 800), (1, 200)):
        counts = np.bincount(split[labels == k], minlength=4)
        assert counts.tolist() == [int(size * 0.8), int(size * 0.1), int(size * 0.1), 0]


def test_random_split_is_shuffled_not_genomic_blocks():
    """The tool lociflow replaces shuffled a copy, so its splits were contiguous blocks."""
    labels = np.zeros(1000, dtype=int)
    split = random_split(labels, {"train": 0.8, "test": 0.2}, np.random.default_rng(0))
    test = np.flatnonzero(split == SPLIT_NAMES.index("test"))
    assert len(test) == 200
    # a contiguous block would span 200 rows; a random draw spans almost all of them
    assert test.max() - test.min() > 900
    # and changes between seeds while repeating with the same seed
    again = random_split(labels, {"train": 0.8, "test": 0.2}, np.random.default_rng(0))
    other = random_split(labels, {"train": 0.8, "test": 0.2}, np.random.default_rng(1))
    np.testing.assert_array_equal(split, again)
    assert not np.array_equal(split, other)


def test_blackbox_split_gets_its_share_only_when_asked():
    labels = labels_of(100, 100)
    without = random_split(labels, {"train": 0.8, "valid": 0.1, "test": 0.1}, np.random.default_rng(0))
    assert not (without == SPLIT_NAMES.index("blackbox")).any()
    ratios = {"train": 0.7, "valid": 0.1, "test": 0.1, "blackbox": 0.1}
    withbb = random_split(labels, ratios, np.random.default_rng(0))
    assert (withbb == SPLIT_NAMES.index("blackbox")).sum() == 20


def test_overlapping_windows_form_one_group_per_chromosome():
    chroms = np.array(["chr1", "chr1", "chr1", "chr2", "chr1", "chr2", ""])
    starts = np.array([0, 30, 100, 30, 60, 200, 0])
    ends = np.array([50, 80, 150, 80, 101, 250, 50])
    groups = overlap_groups(chroms, starts, ends)
    # 0-1 overlap, 1-4 overlap, 4-2 overlap: one chain; chr2 windows apart; unknown alone
    assert len({groups[0], groups[1], groups[4], groups[2]}) == 1
    assert groups[3] != groups[5] and groups[3] != groups[0]
    assert groups[6] not in set(groups[:6])
    # touching windows (end == next start) do not overlap
    touching = overlap_groups(np.array(["c", "c"]), np.array([0, 50]), np.array([50, 100]))
    assert touching[0] != touching[1]


def test_overlapping_windows_land_in_one_split():
    rng = np.random.default_rng(5)
    starts = np.sort(rng.integers(0, 20000, 600))
    chroms = np.full(600, "chr1")
    groups = overlap_groups(chroms, starts, starts + 100)
    labels = rng.integers(0, 2, 600)
    split = random_split(labels, {"train": 0.6, "valid": 0.2, "test": 0.2}, rng, groups)
    for g in np.unique(groups):
        assert len(set(split[groups == g])) == 1
    assert len(set(split)) == 3


def test_chromosome_split_reports_unassigned_chromosomes():
    chroms = np.array(["chr1", "chr2", "chr3", "chr3", "chrX"])
    result = chromosome_split(chroms, {"train": ["chr1"], "test": ["chr2"]})
    assert result.split.tolist() == [0, 2, -1, -1, -1]
    assert result.unassigned == {"chr3": 2, "chrX": 1}
    assert result.n_unassigned == 3


def test_chromosome_split_needs_chromosome_names():
    with pytest.raises(LociflowError, match="needs chromosome names"):
        chromosome_split(np.array(["", ""]), {"train": ["chr1"]})


def test_order_within_splits_is_a_seeded_permutation():
    split = np.array([0, 0, 0, 2, 0, 2, 0, 0])
    orders = order_within_splits(split, np.random.default_rng(0))
    assert set(orders) == {"train", "test"}
    assert sorted(orders["train"].tolist()) == [0, 1, 2, 4, 6, 7]
    assert sorted(orders["test"].tolist()) == [3, 5]


def test_identical_rows_and_overlaps_merge_transitively_keeping_the_first_ids():
    from lociflow.preprocessing.split import identical_groups, merge_groups, repeats

    overlap = np.array([7, 7, 2, 3, 4])
    same = identical_groups(np.array([[1, 2], [3, 4], [5, 6], [1, 2], [9, 9]], dtype=np.uint8))
    merged = merge_groups(overlap, same)
    # 0 and 1 overlap, 3 repeats 0: all three are one group, with the id the first had
    assert merged.tolist() == [7, 7, 2, 7, 4]
    assert repeats(same).tolist() == [False, False, False, True, False]
    assert merge_groups(overlap, np.arange(5)).tolist() == overlap.tolist()

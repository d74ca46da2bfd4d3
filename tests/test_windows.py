"""Window placement on genomic loci (centre, random, chromosome ends) and on FASTA records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lociflow.io.fasta import read_fasta_records
from lociflow.preprocessing.windows import fasta_windows, place_windows

DATA = Path(__file__).resolve().parents[1] / "data"


def test_center_trims_long_and_extends_short_intervals_into_the_genome():
    placed = place_windows(np.array([100, 100, 100]), np.array([200, 110, 101]), np.array([10_000] * 3), 50)
    # long: centred inside; short: extended symmetrically (odd leftover rounded down)
    assert placed.starts.tolist() == [125, 80, 75]
    assert placed.keep.all() and placed.n_shifted == 0 and placed.n_dropped == 0


def test_center_window_contains_the_interval_midpoint():
    rng = np.random.default_rng(3)
    starts = rng.integers(1000, 5000, 500)
    ends = starts + rng.integers(0, 400, 500)
    placed = place_windows(starts, ends, np.full(500, 100_000), 101)
    mid = (starts + ends) // 2
    assert ((placed.starts <= mid) & (mid < placed.starts + 101)).all()


def test_windows_past_chromosome_ends_are_shifted_inside_and_counted():
    sizes = np.array([1000, 1000, 1000])
    placed = place_windows(np.array([0, 990, 500]), np.array([10, 1000, 510]), sizes, 100)
    assert placed.starts.tolist() == [0, 900, 455]
    assert placed.keep.all() and placed.n_shifted == 2 and placed.n_dropped == 0


def test_windows_past_chromosome_ends_are_dropped_and_counted_with_edge_drop():
    sizes = np.array([1000, 1000, 1000])
    placed = place_windows(np.array([0, 990, 500]), np.array([10, 1000, 510]), sizes, 100, edge="drop")
    assert placed.keep.tolist() == [False, False, True]
    assert placed.n_dropped == 2 and placed.n_shifted == 0 and placed.n_short == 0


def test_chromosome_shorter_than_the_window_drops_its_loci_in_either_mode():
    for edge in ("shift", "drop"):
        placed = place_windows(np.array([2, 100]), np.array([6, 120]), np.array([30, 5000]), 50, edge=edge)
        assert placed.keep.tolist() == [False, True]
        assert placed.n_dropped == 1 and placed.n_short == 1


def test_random_placement_keeps_the_locus_in_view_and_is_reproducible():
    starts = np.array([1000] * 200 + [5000] * 200)
    ends = np.array([1300] * 200 + [5020] * 200)
    first = place_windows(starts, ends, np.full(400, 100_000), 100, placement="random", rng=7)
    again = place_windows(starts, ends, np.full(400, 100_000), 100, placement="random", rng=7)
    assert np.array_equal(first.starts, again.starts)
    long, short = first.starts[:200], first.starts[200:]
    assert (long >= 1000).all() and (long + 100 <= 1300).all()  # inside the long interval
    assert (short <= 5000).all() and (short + 100 >= 5020).all()  # covering the short one
    assert len(np.unique(long)) > 50 and len(np.unique(short)) > 40  # actually random


def test_placed_windows_always_lie_inside_their_chromosome():
    rng = np.random.default_rng(11)
    sizes = rng.integers(150, 3000, 2000)
    starts = rng.integers(0, sizes)
    ends = np.minimum(starts + rng.integers(0, 500, 2000), sizes)
    for placement in ("center", "random"):
        placed = place_windows(starts, ends, sizes, 150, placement=placement, rng=1)
        assert placed.keep.all()
        assert ((placed.starts >= 0) & (placed.starts + 150 <= sizes)).all()


def test_window_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        place_windows(np.array([0]), np.array([5]), np.array([10]), 0)


def test_fasta_windows_trim_around_centre_and_pad_with_n_on_both_sides():
    cut = fasta_windows(["AAACCCGGGT", "ACG", "ACGTAC"], 6)
    rows = [row.tobytes().decode() for row in cut.codes]
    assert rows == ["ACCCGG", "NNACGN", "ACGTAC"]
    assert cut.n_padded == 1 and cut.n_trimmed == 1


def test_uppercase_viewpoint_centres_on_the_uppercase_region_and_shifts_inside():
    cut = fasta_windows(["aaaaaaaaaaGGGGcc", "TTTTaaaaaaaaaaaa", "acgtacgt"], 6, viewpoint="uppercase")
    rows = [row.tobytes().decode() for row in cut.codes]
    assert rows == ["aGGGGc", "TTTTaa", "cgtacg"]  # the last has no uppercase: centred on the record


def test_uppercase_viewpoint_on_real_graphprot_records_keeps_the_site_in_the_window():
    records = list(read_fasta_records(DATA / "rbp24" / "PARCLIP_PUM2.test.positives.fa.gz"))[:200]
    seqs = [seq for _, seq in records]
    cut = fasta_windows(seqs, 150, viewpoint="uppercase")
    for seq, row in zip(seqs, cut.codes):
        site = "".join(c for c in seq if c.isupper())
        if len(seq) >= 150 and len(site) <= 150:
            assert site in row.tobytes().decode()
    assert cut.codes.shape == (200, 150)

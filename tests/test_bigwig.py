"""Signal tracks: exact values from bigWig, NaN as zero, missing chromosomes, wig/bedGraph conversion."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyBigWig
import pytest

from lociflow.errors import InputFileError
from lociflow.io import bigwig as bigwig_module
from lociflow.io.bigwig import Track

SIZES = {"chr1": 200_000, "chr2": 3_000}


def write_bigwig(path: Path, values: dict[str, np.ndarray]) -> Path:
    writer = pyBigWig.open(str(path), "w")
    writer.addHeader([(chrom, len(v)) for chrom, v in values.items()])
    for chrom, v in values.items():
        writer.addEntries(chrom, 0, values=v.astype(np.float64), span=1, step=1)
    writer.close()
    return path


@pytest.fixture
def signal(tmp_path):
    rng = np.random.default_rng(5)
    values = {chrom: rng.normal(size=size).astype(np.float32) for chrom, size in SIZES.items()}
    values["chr1"][100:130] = np.nan
    path = write_bigwig(tmp_path / "signal.bw", values)
    expected = {chrom: np.nan_to_num(v) for chrom, v in values.items()}
    return path, expected


def expected_windows(expected, chroms, starts, length):
    return np.stack([expected[c][s: s + length] for c, s in zip(chroms, starts)])


@pytest.mark.parametrize("n_loci", [3, 40, 4000], ids=["sparse", "some", "dense"])
def test_values_equal_what_pybigwig_wrote_with_nan_as_zero(signal, tmp_path, n_loci):
    path, expected = signal
    rng = np.random.default_rng(n_loci)
    chroms = np.where(rng.random(n_loci) < 0.8, "chr1", "chr2").astype(object)
    starts = np.array([rng.integers(0, SIZES[c] - 150) for c in chroms])
    starts[0], chroms[0] = 90, "chr1"  # overlaps the NaN stretch
    track = Track(path, cache_dir=tmp_path / "cache")
    values = track.values(chroms, starts, 150)
    assert values.dtype == np.float32 and values.shape == (n_loci, 150)
    assert np.array_equal(values, expected_windows(expected, chroms, starts, 150))
    assert not np.isnan(values).any() and (values[0, 10:40] == 0).all()


def test_repeated_calls_reuse_a_cached_chromosome_and_stay_exact(signal, tmp_path):
    path, expected = signal
    track = Track(path, cache_dir=tmp_path / "cache")
    starts = np.arange(0, 2800, 7)
    chroms = np.array(["chr2"] * len(starts), dtype=object)
    first = track.values(chroms, starts, 100)
    assert "chr2" in track._cache
    assert np.array_equal(track.values(chroms, starts, 100), first)
    assert np.array_equal(first, expected_windows(expected, chroms, starts, 100))


def test_window_past_the_track_end_reads_zeros_there(signal, tmp_path):
    path, expected = signal
    track = Track(path, cache_dir=tmp_path / "cache")
    values = track.values(np.array(["chr2"], dtype=object), np.array([2950]), 100)
    assert np.array_equal(values[0, :50], expected["chr2"][2950:]) and (values[0, 50:] == 0).all()


def test_missing_chromosome_is_an_error_naming_it(signal, tmp_path):
    path, _ = signal
    track = Track(path, cache_dir=tmp_path / "cache")
    with pytest.raises(InputFileError) as info:
        track.values(np.array(["chr1", "chrUn_gl000220"], dtype=object), np.array([0, 0]), 10)
    assert "'chrUn_gl000220'" in str(info.value) and "missing: zero" in str(info.value)


def test_missing_chromosome_reads_zeros_with_missing_zero(signal, tmp_path):
    path, expected = signal
    track = Track(path, cache_dir=tmp_path / "cache", missing="zero")
    values = track.values(np.array(["chr7", "chr1"], dtype=object), np.array([0, 500]), 10)
    assert (values[0] == 0).all() and np.array_equal(values[1], expected["chr1"][500:510])


def test_bedgraph_is_converted_once_to_a_cached_bigwig(tmp_path, monkeypatch):
    text = "track type=bedGraph\nchr1\t0\t10\t1.5\nchr1\t20\t25\t-2\nchr2\t5\t6\t7\n"
    source = tmp_path / "cons.bedGraph.gz"
    source.write_bytes(gzip.compress(text.encode()))
    track = Track(source, cache_dir=tmp_path / "cache", chrom_sizes={"chr1": 100, "chr2": 50})
    assert track.path.suffix == ".bw" and track.path.is_relative_to(tmp_path / "cache")
    assert track.chrom_sizes == {"chr1": 100, "chr2": 50}
    values = track.values(np.array(["chr1", "chr2"], dtype=object), np.array([5, 0]), 22)
    assert values[0].tolist() == [1.5] * 5 + [0.0] * 10 + [-2.0] * 5 + [0.0] * 2
    assert values[1].tolist()[:8] == [0, 0, 0, 0, 0, 7, 0, 0]
    monkeypatch.setattr(bigwig_module, "convert_to_bigwig", lambda *a: pytest.fail("converted twice"))
    assert Track(source, cache_dir=tmp_path / "cache", chrom_sizes={"chr1": 100, "chr2": 50}).path == track.path


def test_wig_fixed_and_variable_step_are_converted_with_one_based_positions(tmp_path):
    text = ("track type=wiggle_0\nfixedStep chrom=chr1 start=11 step=1\n0.5\n1.5\n2.5\n"
            "variableStep chrom=chr2 span=2\n3 9\n10 -1\n")
    source = tmp_path / "phylop.wig"
    source.write_text(text)
    track = Track(source, cache_dir=tmp_path / "cache")
    assert track.chrom_sizes == {"chr1": 13, "chr2": 11}
    values = track.values(np.array(["chr1", "chr2"], dtype=object), np.array([9, 0]), 4)
    assert values[0].tolist() == [0.0, 0.5, 1.5, 2.5]
    assert values[1].tolist() == [0.0, 0.0, 9.0, 9.0]


def test_unsorted_bedgraph_error_says_how_to_sort(tmp_path):
    source = tmp_path / "bad.bedgraph"
    source.write_text("chr1\t50\t60\t1\nchr1\t0\t10\t2\n")
    with pytest.raises(InputFileError, match="sort -k1,1 -k2,2n"):
        Track(source, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.bw"))


def test_interleaved_chromosomes_in_bedgraph_are_refused(tmp_path):
    source = tmp_path / "bad.bedgraph"
    source.write_text("chr1\t0\t10\t1\nchr2\t0\t10\t2\nchr1\t20\t30\t2\n")
    with pytest.raises(InputFileError, match="lines of chr1 are not together"):
        Track(source, cache_dir=tmp_path / "cache")


def test_garbage_bedgraph_is_an_input_error(tmp_path):
    source = tmp_path / "bad.bedgraph"
    source.write_text("chr1\tzero\t10\t1\n")
    with pytest.raises(InputFileError, match="not a valid bedGraph"):
        Track(source, cache_dir=tmp_path / "cache")


def test_missing_track_file_is_named(tmp_path):
    with pytest.raises(InputFileError, match=r"Track file .*none\.bw does not exist"):
        Track(tmp_path / "none.bw")


def test_track_sent_to_a_worker_process_reopens_the_file(signal, tmp_path):
    import pickle

    path, expected = signal
    track = Track(path, cache_dir=tmp_path / "cache")
    track.values(np.array(["chr2"], dtype=object), np.array([0]), 10)
    copy = pickle.loads(pickle.dumps(track))
    values = copy.values(np.array(["chr2"], dtype=object), np.array([100]), 10)
    assert np.array_equal(values[0], expected["chr2"][100:110])


def test_missing_chromosome_error_hints_at_chr_prefix(signal, tmp_path):
    path, _ = signal
    track = Track(path, cache_dir=tmp_path / "cache")
    with pytest.raises(InputFileError, match="The track names chromosomes like 'chr1'; your file uses '1'"):
        track.values(np.array(["1"], dtype=object), np.array([0]), 10)

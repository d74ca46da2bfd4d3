"""BED reading: formats, headers, gzip, streaming, and an actionable message for every bad line."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from lociflow.errors import InputFileError
from lociflow.io.bed import BedTable, file_kind, is_fasta, iter_bed, read_bed

DATA = Path(__file__).resolve().parents[1] / "data"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_bed6_with_track_browser_comment_and_blank_lines_keeps_source_line_numbers(tmp_path):
    bed = write(tmp_path / "a.bed", "track name=peaks\nbrowser position chr1:1-100\n# comment\n"
                "chr1\t10\t20\tp1\t0\t+\n\nchr2\t5\t8\tp2\t3\t-\n#late comment\n  \nchr1\t0\t1\tp3\t0\t.\n")
    table = read_bed(bed)
    assert list(table.chrom) == ["chr1", "chr2", "chr1"]
    assert table.start.tolist() == [10, 5, 0] and table.end.tolist() == [20, 8, 1]
    assert table.start.dtype == np.int64
    assert list(table.name) == ["p1", "p2", "p3"]
    assert list(table.strand) == ["+", "-", "."]
    assert table.line.tolist() == [4, 6, 9]
    assert table.source == bed


def test_bed3_gets_coordinate_names_and_unknown_strand(tmp_path):
    table = read_bed(write(tmp_path / "a.bed", "chrX\t100\t250\nchrY\t0\t7\n"))
    assert list(table.name) == ["chrX:100-250", "chrY:0-7"]
    assert list(table.strand) == [".", "."]


def test_real_bed12_annotation_reads_all_genes():
    table = read_bed(DATA / "yeast" / "sacCer3.annotation.bed")
    assert len(table) == 50
    assert set(table.chrom) == {"chrIV"}
    assert (table.end > table.start).all()
    assert set(table.strand) == {"+", "-"}
    assert table.name[0] == "YDL200C_mRNA" and table.start[0] == 100500 and table.end[0] == 101067


def test_narrowpeak_accepted(tmp_path):
    line = "chr1\t9356548\t9356648\tpeak1\t0\t.\t182\t5.0945\t-1\t50\n"
    unnamed = "chr2\t100\t200\t.\t0\t+\t182\t5.0945\t-1\t50\n"
    table = read_bed(write(tmp_path / "x.narrowPeak", line * 3 + unnamed))
    assert len(table) == 4 and table.start[2] == 9356548 and table.strand[0] == "."
    assert table.name[3] == "chr2:100-200"


def test_gzip_is_detected_by_content_not_suffix(tmp_path):
    path = tmp_path / "looks_plain.bed"
    path.write_bytes(gzip.compress(b"track x\nchr1\t1\t5\tn\t0\t-\n"))
    table = read_bed(path)
    assert table.start.tolist() == [1] and table.strand.tolist() == ["-"] and table.line.tolist() == [2]


def test_iter_bed_streams_chunks_with_continuous_line_numbers(tmp_path):
    lines = "".join(f"chr1\t{i}\t{i + 10}\n" for i in range(25))
    bed = write(tmp_path / "many.bed", "# header\n" + lines)
    chunks = list(iter_bed(bed, chunk_size=10))
    assert len(chunks) == 3
    joined = BedTable.concat(chunks)
    assert joined.start.tolist() == list(range(25))
    assert joined.line.tolist() == list(range(2, 27))


def test_subset_selects_rows(tmp_path):
    table = read_bed(write(tmp_path / "a.bed", "chr1\t1\t2\nchr1\t3\t4\nchr1\t5\t6\n"))
    assert table.subset(np.array([False, True, True])).start.tolist() == [3, 5]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("chr1\t1\t5\nchr1\t7\n", 2, "end column is empty"),
        ("chr1\t1\t5\nchr1\t7\t9\textra\n", 2, "found 4 columns"),
        ("chr1\t1\t5\nchr1\tabc\t9\n", 2, "start 'abc' is not a whole number"),
        ("chr1\t1\t5\nchr1\t2\t9.5\n", 2, "end '9.5' is not a whole number"),
        ("# h\nchr1\t-3\t5\n", 2, "start -3 is negative"),
        ("chr1\t1\t5\nchr1\t2\t3\nchr1\t90\t10\n", 3, "start 90 is greater than end 10"),
        ("chr1\t1\t5\tn\t0\t+\nchr1\t1\t5\tn\t0\tplus\n", 2, "strand 'plus'"),
        ("chr1 1 5\n", 1, "needs at least 3 tab-separated columns"),
        ("\t1\t5\n", 1, "chromosome column is empty"),
        # what int() would take but BED does not: each refused by the per-value check
        ("chr1\t1\t5\nchr1\t1e3\t2000\n", 2, "start '1e3' is not a whole number"),
        ("chr1\t1\t5\nchr1\t+5\t9\n", 2, "start '+5' is not a whole number"),
        ("chr1\t1\t5\nchr1\t5\t1_000\n", 2, "end '1_000' is not a whole number"),
        ("chr1\t1\t5\nchr1\t\u0661\u0662\t90\n", 2, "is not a whole number"),
        ("chr1\t1\t5\nchr1\t1\t1234567890123456789\n", 2, "end '1234567890123456789' is not a whole number"),
    ],
    ids=["too-few-columns", "column-count-changes", "non-integer-start", "non-integer-end", "negative",
         "start-after-end", "bad-strand", "spaces-not-tabs", "empty-chrom", "exponent", "plus-sign", "underscore",
         "non-ascii-digits", "nineteen-digits"],
)
def test_malformed_line_message_names_file_and_line(tmp_path, text, line, fragment):
    bed = write(tmp_path / "bad.bed", text)
    with pytest.raises(InputFileError) as info:
        read_bed(bed)
    message = str(info.value)
    assert f"{bed}, line {line}:" in message
    assert fragment in message


def test_message_counts_further_bad_lines(tmp_path):
    bed = write(tmp_path / "bad.bed", "chr1\t9\t1\nchr1\t8\t2\nchr1\t7\t3\n")
    with pytest.raises(InputFileError, match=r"line 1: .*\(2 more lines with problems follow\)"):
        read_bed(bed)


def test_fasta_given_as_bed_gets_a_hint(tmp_path):
    bed = write(tmp_path / "seqs.bed", ">r1\nACGT\n")
    with pytest.raises(InputFileError, match="looks like a FASTA file"):
        read_bed(bed)


@pytest.mark.parametrize("text", ["", "track name=x\n# only comments\n\n"], ids=["empty", "headers-only"])
def test_empty_file_says_it_contains_no_intervals(tmp_path, text):
    bed = write(tmp_path / "empty.bed", text)
    with pytest.raises(InputFileError, match=rf"{bed} contains no intervals"):
        read_bed(bed)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputFileError, match=r"BED file .*nothere\.bed does not exist"):
        read_bed(tmp_path / "nothere.bed")


def test_file_kind_by_suffix_through_gzip_and_by_content(tmp_path):
    assert file_kind("x.fa.gz") == "fasta" and file_kind("x.FASTA") == "fasta"
    assert file_kind("x.bed.gz") == "bed" and file_kind("x.narrowPeak") == "bed"
    assert file_kind("x.txt") == "text"
    sniff_fa = tmp_path / "noext"
    sniff_fa.write_bytes(gzip.compress(b"\n>r1\nACGT\n"))
    assert is_fasta(sniff_fa)
    assert file_kind(write(tmp_path / "loci.dat", "chr1\t1\t2\n")) == "bed"
    assert file_kind(write(tmp_path / "seqs.dat", "ACGTACGT\n")) == "text"


def test_windows_line_endings_and_byte_order_mark_are_tolerated(tmp_path):
    path = tmp_path / "excel.bed"
    path.write_bytes("\ufeff# exported\r\nchr1\t1\t5\tn1\t0\t-\r\nchr2\t7\t9\tn2\t0\t+\r\n".encode())
    table = read_bed(path)
    assert list(table.chrom) == ["chr1", "chr2"] and list(table.strand) == ["-", "+"]
    assert table.line.tolist() == [2, 3]


def test_narrowpeak_summit_is_read_from_column_10(tmp_path):
    path = tmp_path / "peaks.narrowPeak"
    path.write_text("chr1\t100\t400\t.\t0\t+\t5\t-1\t-1\t30\nchr1\t500\t600\t.\t0\t-\t5\t-1\t-1\t-1\n")
    table = read_bed(path)
    assert list(table.summit) == [30, -1]
    assert list(read_bed(path).subset(np.array([1])).summit) == [-1]


def test_a_summit_past_the_peak_end_names_the_line(tmp_path):
    path = tmp_path / "peaks.narrowPeak"
    path.write_text("chr1\t100\t400\t.\t0\t+\t5\t-1\t-1\t30\nchr1\t500\t600\t.\t0\t-\t5\t-1\t-1\t150\n")
    with pytest.raises(InputFileError, match="line 2: summit offset 150 lies past the end of the peak"):
        read_bed(path)

"""Reference genome access and FASTA records: index building, caching, exact windows, strand, errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from lociflow.errors import ConfigError, InputFileError
from lociflow.io import fasta as fasta_module
from lociflow.io.bed import read_bed
from lociflow.io.fasta import Genome, iter_fasta_chunks, read_fasta_records
from lociflow.preprocessing.encode import (
    one_hot,
    reverse_complement,
    reverse_complement_codes,
)

DATA = Path(__file__).resolve().parents[1] / "data"
YEAST = DATA / "yeast" / "sacCer3.fa.gz"

# soft-masked lowercase, N runs, a partial last line, and a record shorter than one line
CHROMS = {
    "chr1": "ACGTACGTNNNNNacgtacgtTTGGCCAAggccttAACCGGTT",
    "chr2": "GGGCCCAAATTTnnnnAC",
    "chrM": "ACG",
}


def write_fasta(path: Path, records: dict[str, str], width: int = 7) -> Path:
    lines = []
    for name, seq in records.items():
        lines.append(f">{name} description words")
        lines += [seq[i: i + width] for i in range(0, len(seq), width)]
    path.write_text("\n".join(lines) + "\n")
    return path


def revcomp(seq: str) -> str:
    return seq.translate(str.maketrans("ACGTacgtNn", "TGCAtgcaNn"))[::-1]


@pytest.fixture
def tiny(tmp_path):
    return write_fasta(tmp_path / "tiny.fa", CHROMS)


def test_chrom_sizes_in_fasta_order_and_fai_built_beside_the_fasta(tiny, tmp_path):
    genome = Genome(tiny, cache_dir=tmp_path / "cache")
    assert genome.chrom_sizes == {name: len(seq) for name, seq in CHROMS.items()}
    assert list(genome.chrom_sizes) == ["chr1", "chr2", "chrM"]
    assert (tmp_path / "tiny.fa.fai").is_file()
    assert "chr2" in genome and "chr9" not in genome


def test_every_window_equals_the_string_slice(tiny, tmp_path):
    genome = Genome(tiny, cache_dir=tmp_path / "cache")
    chroms, starts, expected = [], [], []
    for name, seq in CHROMS.items():
        for start in range(len(seq) - 3 + 1):
            chroms.append(name)
            starts.append(start)
            expected.append(seq[start: start + 3])
    codes = genome.fetch(np.array(chroms, dtype=object), np.array(starts), 3)
    assert codes.dtype == np.uint8 and codes.shape == (len(expected), 3)
    assert [row.tobytes().decode() for row in codes] == expected


def test_windows_crossing_line_breaks_on_windows_style_line_endings(tmp_path):
    path = tmp_path / "crlf.fa"
    path.write_bytes(b">c\r\nACGTA\r\nCCGGT\r\nTT\r\n")
    genome = Genome(path, cache_dir=tmp_path / "cache")
    assert genome.chrom_sizes == {"c": 12}
    assert genome.sequence("c", 3, 11) == "TACCGGTT"


def test_minus_strand_window_is_reverse_complement_of_plus_strand_fetch(tmp_path):
    genome = Genome(YEAST, cache_dir=tmp_path / "cache")
    loci = read_bed(DATA / "yeast" / "sacCer3.annotation.bed")
    minus = loci.strand == "-"
    starts = loci.start[minus]
    plus_codes = genome.fetch(loci.chrom[minus], starts, 100)
    encoded = reverse_complement(one_hot(plus_codes))
    text = [revcomp(genome.sequence("chrIV", int(s), int(s) + 100)) for s in starts]
    assert np.array_equal(encoded, one_hot(text))
    assert np.array_equal(one_hot(reverse_complement_codes(plus_codes)), encoded)


def test_gzip_genome_is_decompressed_once_and_reused_from_the_cache(tmp_path, monkeypatch):
    genome = Genome(YEAST, cache_dir=tmp_path / "cache")
    assert genome.chrom_sizes == {"chrIV": 1_531_933}
    text = gzip.decompress(YEAST.read_bytes()).decode().split("\n", 1)[1].replace("\n", "")
    assert genome.sequence("chrIV", 0, 60) == text[:60]
    assert genome.sequence("chrIV", 1_531_933 - 50, 1_531_933) == text[-50:]
    monkeypatch.setattr(fasta_module, "_write_flat", lambda *a: pytest.fail("cache was rebuilt"))
    again = Genome(YEAST, cache_dir=tmp_path / "cache")
    assert again.sequence("chrIV", 777_000, 777_100) == text[777_000:777_100]
    assert not list((DATA / "yeast").glob("*.fai"))


def test_bgzip_genome_is_read(tiny, tmp_path):
    bgzf = pytest.importorskip("Bio.bgzf")
    path = tmp_path / "tiny.fa.bgz"
    with bgzf.BgzfWriter(str(path), "wb") as out:
        out.write(tiny.read_bytes())
    genome = Genome(path, cache_dir=tmp_path / "cache")
    assert genome.sequence("chr1", 5, 25) == CHROMS["chr1"][5:25]


def test_read_only_folder_gets_its_index_in_the_cache(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(fasta_module, "writable_dir", lambda folder: False)
    genome = Genome(tiny, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "tiny.fa.fai").exists()
    assert list((tmp_path / "cache").rglob("genome.fa.fai"))
    assert genome.sequence("chr2", 0, 18) == CHROMS["chr2"]


def test_changed_fasta_is_not_served_from_a_stale_cache(tiny, tmp_path):
    Genome(tiny, cache_dir=tmp_path / "cache")
    changed = dict(CHROMS, chr2="TTTTTTTTTTTTTTTTTTTTTTTT")
    write_fasta(tiny, changed)
    genome = Genome(tiny, cache_dir=tmp_path / "cache")
    assert genome.sequence("chr2", 0, 24) == changed["chr2"]


def test_window_outside_a_chromosome_is_refused(tiny, tmp_path):
    genome = Genome(tiny, cache_dir=tmp_path / "cache")
    with pytest.raises(InputFileError, match=r"chrM:1-6 lies outside chrM \(length 3"):
        genome.fetch(np.array(["chrM"], dtype=object), np.array([1]), 5)
    with pytest.raises(InputFileError, match="lies outside"):
        genome.fetch(np.array(["chr1"], dtype=object), np.array([-1]), 5)


@pytest.mark.parametrize(
    ("genome_names", "asked", "hint"),
    [
        (["chr1", "chr2"], ["1", "2"], "The genome names chromosomes like 'chr1'; your file uses '1'"),
        (["1", "2", "MT"], ["chr1", "chrM"], "The genome names chromosomes like '1'; your file uses 'chr1'"),
    ],
)
def test_missing_chromosome_lists_names_and_hints_at_naming(tmp_path, genome_names, asked, hint):
    path = write_fasta(tmp_path / "g.fa", {name: "ACGT" * 5 for name in genome_names})
    genome = Genome(path, cache_dir=tmp_path / "cache")
    with pytest.raises(InputFileError) as info:
        genome.check_chromosomes(asked, source="loci.bed")
    message = str(info.value)
    assert f"{len(asked)} chromosome name(s) in loci.bed are not in the genome" in message
    assert repr(asked[0]) in message and hint in message


def test_missing_chromosome_without_naming_difference_has_no_hint(tiny, tmp_path):
    genome = Genome(tiny, cache_dir=tmp_path / "cache")
    with pytest.raises(InputFileError) as info:
        genome.fetch(np.array(["chr1", "chr7"], dtype=object), np.array([0, 0]), 2)
    assert "'chr7'" in str(info.value) and "names chromosomes like" not in str(info.value)


def test_inconsistent_line_lengths_are_an_input_error(tmp_path):
    path = tmp_path / "ragged.fa"
    path.write_text(">a\nACGTACGT\nACG\nACGTACGT\n")
    with pytest.raises(InputFileError, match="cannot be indexed"):
        Genome(path, cache_dir=tmp_path / "cache")


def test_duplicate_sequence_names_are_an_input_error(tmp_path):
    path = write_fasta(tmp_path / "dup.fa", {"chr1": "ACGT"})
    path.write_text(path.read_text() * 2)
    with pytest.raises(InputFileError, match="cannot be indexed"):
        Genome(path, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("content", [b"", b">only_header\n"], ids=["empty", "no-sequence"])
def test_empty_genome_is_an_input_error(tmp_path, content):
    path = tmp_path / "empty.fa"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match="empty|contains no sequence"):
        Genome(path, cache_dir=tmp_path / "cache")


def test_missing_genome_file_is_named(tmp_path):
    with pytest.raises(InputFileError, match=r"Genome FASTA .*absent\.fa does not exist"):
        Genome(tmp_path / "absent.fa", cache_dir=tmp_path / "cache")


def test_fasta_records_stream_multiline_gzip_records(tmp_path):
    path = tmp_path / "seqs.fa.gz"
    path.write_bytes(gzip.compress(b";comment\n>r1 first\nACGU\nacgu\n\n>r2\nNNNN\n>r3\nA C\n"))
    assert list(read_fasta_records(path)) == [("r1 first", "ACGUacgu"), ("r2", "NNNN"), ("r3", "AC")]
    chunks = list(iter_fasta_chunks(path, chunk_size=2))
    assert [len(names) for names, _ in chunks] == [2, 1]


def test_real_graphprot_fasta_is_read():
    records = list(read_fasta_records(DATA / "rbp24" / "PARCLIP_PUM2.test.positives.fa.gz"))
    assert len(records) == 500
    name, seq = records[0]
    assert ";chr" in name and any(c.isupper() for c in seq) and any(c.islower() for c in seq)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "contains no sequences"),
        (b"\n\n", "contains no sequences"),
        (b"ACGT\n>r1\nACGT\n", "line 1: text before the first '>' header"),
        (b">r1\nACGT\n>r2\n>r3\nAC\n", "line 3: record 'r2' has no sequence"),
    ],
    ids=["empty", "blank", "no-header", "empty-record"],
)
def test_bad_fasta_records_are_input_errors_naming_file(tmp_path, content, fragment):
    path = tmp_path / "bad.fa"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        list(read_fasta_records(path))
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_unwritable_cache_folder_says_how_to_choose_another(tiny, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cache folder .* cannot be created.*LOCIFLOW_CACHE"):
        Genome(tiny, cache_dir=blocker / "cache")


def test_cache_folder_defaults_to_the_environment_variable(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCIFLOW_CACHE", str(tmp_path / "envcache"))
    Genome(tiny)
    assert list((tmp_path / "envcache" / "genomes").iterdir())


def test_genome_sent_to_a_worker_process_reopens_its_cache(tiny, tmp_path):
    import pickle

    genome = Genome(tiny, cache_dir=tmp_path / "cache")
    payload = pickle.dumps(genome)
    assert len(payload) < 2000  # the sequence itself is not copied
    copy = pickle.loads(payload)
    assert copy.sequence("chr1", 2, 30) == CHROMS["chr1"][2:30]

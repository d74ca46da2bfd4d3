"""Bad user files and values end in lociflow's one-sentence error naming the file, never a traceback."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest
import yaml

from lociflow.config import PreprocessConfig, TrainConfig, load_stage
from lociflow.configfile import parse_stage, safe_load_yaml
from lociflow.errors import ConfigError, DatasetError, InputFileError
from lociflow.io.bed import read_bed
from lociflow.io.fasta import read_fasta_records
from lociflow.io.store import open_dataset
from lociflow.preprocessing.loci import iter_text_chunks

CLASSES = {"classes": {"a": ["a.fa"], "b": ["b.fa"]}}


def cut_short(path: Path, text: str) -> Path:
    packed = gzip.compress(text.encode())
    path.write_bytes(packed[: len(packed) // 2])
    return path


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("reader, name, text, what", [
    (read_bed, "loci.bed.gz", "".join(f"chr1\t{i}\t{i + 9}\n" for i in range(20_000)), "BED file"),
    (lambda p: list(read_fasta_records(p)), "seqs.fa.gz", "".join(f">r{i}\nACGTACGT\n" for i in range(20_000)),
     "FASTA file"),
    (lambda p: list(iter_text_chunks(p, 1000)), "seqs.txt.gz", "ACGTACGT\n" * 20_000, "Sequence file"),
])
def test_gzip_cut_short_is_named_and_says_to_fetch_again(tmp_path, reader, name, text, what):
    path = cut_short(tmp_path / name, text)
    with pytest.raises(InputFileError, match="damaged or cut short") as info:
        reader(path)
    assert f"{what} {path}" in str(info.value) and "fetch the file again" in str(info.value)


def test_binary_bytes_in_a_bed_coordinate_are_a_line_error(tmp_path):
    path = tmp_path / "nul.bed"
    path.write_bytes(b"chr1\t1\t5\x00\x00\nchr1\t2\t9\n")
    with pytest.raises(InputFileError, match=r"nul.bed, line 1: end '5\\x00\\x00' is not a whole number"):
        read_bed(path)


def test_non_utf8_config_file_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("preprocess:\n  window: 5 # caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="c.yaml is not UTF-8 text"):
        load_stage(PreprocessConfig, "preprocess", path)


def test_damaged_dataset_manifest_and_metadata_are_dataset_errors(tmp_path):
    (tmp_path / "manifest.json").write_bytes(b"\xff\xfe[1, 2]")
    with pytest.raises(DatasetError, match="manifest.json is not UTF-8 text"):
        open_dataset(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match="not a JSON object"):
        open_dataset(tmp_path)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("values, message", [
    ({"window": True}, "window must be a number, not true/false (got True)"),
    ({"strand": 1}, "strand must be true or false (got 1)"),
    ({"strand": "no"}, "strand must be true or false (got 'no')"),
    ({"seed": -1}, "seed must be a whole number from 0 to 4294967295 (got -1)"),
    ({"seed": 2**40}, "seed must be a whole number from 0 to 4294967295"),
    ({"seed": "7"}, "seed must be a whole number from 0 to 4294967295 (got '7')"),
    ({"split": {"ratios": {"train": True}}}, "ratios.train must be a number, not true/false"),
])
def test_booleans_and_numbers_are_not_mixed_and_seed_is_checked(values, message):
    with pytest.raises(ConfigError) as info:
        parse_stage(PreprocessConfig, {**CLASSES, **values}, "preprocess")
    assert message in str(info.value)


def test_train_seed_and_flags_are_strict_too():
    with pytest.raises(ConfigError, match="seed must be a whole number"):
        parse_stage(TrainConfig, {"dataset": "d", "seed": -3}, "train")


def test_section_that_is_not_a_mapping_is_a_message(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("preprocess: [1, 2]\n")
    with pytest.raises(ConfigError, match="section 'preprocess' must be a mapping of options"):
        load_stage(PreprocessConfig, "preprocess", path)


def alias_bomb(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\npreprocess: {window: 5}\n"


def test_alias_bomb_is_refused_quickly(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())  # 9**9 = 387 million values once expanded
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="alias bomb"):
        load_stage(PreprocessConfig, "preprocess", path)
    assert time.perf_counter() - started < 1.0


def test_recursive_alias_is_refused_and_ordinary_aliases_still_load():
    with pytest.raises(ConfigError, match="alias bomb"):
        safe_load_yaml("a: &a [*a]\n")
    assert safe_load_yaml("base: &b {x: 1}\nother: *b\n") == yaml.safe_load("base: &b {x: 1}\nother: *b\n")


def test_genome_cut_short_is_named_and_leaves_no_cache_entry(tmp_path):
    from lociflow.io.fasta import Genome

    genome = cut_short(tmp_path / "genome.fa.gz", ">chr1\n" + "ACGT" * 50_000 + "\n")
    cache = tmp_path / "cache"
    with pytest.raises(InputFileError, match=f"Genome FASTA {genome} is damaged or cut short"):
        Genome(genome, cache_dir=cache)
    assert not [p for p in cache.rglob("*") if p.is_file()], "a partial cache entry was left"


def test_unreadable_config_file_is_named(tmp_path):
    import os

    path = tmp_path / "c.yaml"
    path.write_text("preprocess: {window: 5}\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who reads any file")
        with pytest.raises(ConfigError, match="cannot be read"):
            load_stage(PreprocessConfig, "preprocess", path)
    finally:
        path.chmod(0o644)

"""window: auto and viewpoint: auto, resolved from the records (lociflow.preprocessing.records)."""

from __future__ import annotations

import random

import pytest
import yaml

import lociflow
from lociflow.config import (
    AUTO_WINDOW_MAX,
    AUTO_WINDOW_VIEWPOINT,
    BED_WINDOW,
    PreprocessConfig,
)
from lociflow.errors import ConfigError
from lociflow.preprocessing.records import has_viewpoint, resolve_auto


def write_fasta(path, seqs):
    path.write_text("".join(f">r{i}\n{s}\n" for i, s in enumerate(seqs)))
    return path


def random_seq(rng, n, letters="ACGT"):
    return "".join(rng.choice(letters) for _ in range(n))


def graphprot(rng, flank=150, site=30):
    """A GraphProt record: an upper-case viewpoint inside lowercase flanks."""
    return random_seq(rng, flank).lower() + random_seq(rng, site) + random_seq(rng, flank).lower()


def config(tmp_path, pos, neg, **options):
    return PreprocessConfig(classes={"bound": [str(pos)], "unbound": [str(neg)]}, **options)


def test_window_auto_is_the_median_record_of_mixed_lengths(tmp_path):
    rng = random.Random(0)
    lengths = [60, 80, 101, 101, 101, 120, 240]  # median 101
    pos = write_fasta(tmp_path / "p.fa", [random_seq(rng, n) for n in lengths])
    neg = write_fasta(tmp_path / "n.fa", [random_seq(rng, n) for n in lengths])
    cfg = config(tmp_path, pos, neg)
    assert cfg.window == "auto" and cfg.viewpoint == "auto"
    resolved = resolve_auto(cfg)
    assert resolved.window == 101 and resolved.viewpoint == "center"


def test_window_auto_is_capped_for_long_records(tmp_path):
    rng = random.Random(1)
    pos = write_fasta(tmp_path / "p.fa", [random_seq(rng, 800) for _ in range(5)])
    neg = write_fasta(tmp_path / "n.fa", [random_seq(rng, 700) for _ in range(5)])
    assert resolve_auto(config(tmp_path, pos, neg)).window == AUTO_WINDOW_MAX


def test_graphprot_records_are_centred_on_their_viewpoint(tmp_path):
    rng = random.Random(2)
    pos = write_fasta(tmp_path / "p.fa", [graphprot(rng) for _ in range(20)])
    neg = write_fasta(tmp_path / "n.fa", [graphprot(rng) for _ in range(20)])
    resolved = resolve_auto(config(tmp_path, pos, neg))
    assert resolved.viewpoint == "uppercase" and resolved.window == AUTO_WINDOW_VIEWPOINT
    # an explicit choice is kept as given
    kept = resolve_auto(config(tmp_path, pos, neg, window=90, viewpoint="center"))
    assert (kept.window, kept.viewpoint) == (90, "center")


def test_preprocess_cuts_windows_around_the_detected_viewpoint(tmp_path):
    rng = random.Random(3)
    # the site sits off centre, so a window cut at the record's centre would miss it
    seqs = [random_seq(rng, 40).lower() + "GGGGGGGGGG" + random_seq(rng, 200).lower() for _ in range(30)]
    pos = write_fasta(tmp_path / "p.fa", seqs)
    neg = write_fasta(tmp_path / "n.fa", [graphprot(rng, flank=100) for _ in range(30)])
    out = lociflow.preprocess({"classes": {"bound": [str(pos)], "unbound": [str(neg)]}, "window": 30}, tmp_path / "o")
    params = yaml.safe_load((out / "params.yaml").read_text())["preprocess"]
    assert params["viewpoint"] == "uppercase" and params["window"] == 30  # recorded as chosen
    data = lociflow.open_dataset(out)
    bound = data.classes.index("bound")
    for split in data.splits():
        part = data.split(split)
        onehot = part.inputs["seq"][part.labels == bound]  # [n, 30, 4], G is the third letter
        assert (onehot[:, 10:20, 2] == 1).all()


def test_soft_masked_records_are_not_taken_for_viewpoints():
    assert has_viewpoint("acgtACGTACGTacgt") and has_viewpoint("ACGTacgt")
    assert not has_viewpoint("ACGTACGT") and not has_viewpoint("acgtacgt")
    assert not has_viewpoint("ACGTacgtACGTacgtACGT")  # several upper-case runs: repeats masked


def test_mixed_files_below_the_share_stay_centred(tmp_path):
    rng = random.Random(4)
    pos = write_fasta(tmp_path / "p.fa", [graphprot(rng, flank=20) for _ in range(10)])
    neg = write_fasta(tmp_path / "n.fa", [random_seq(rng, 70) for _ in range(10)])  # all upper case
    assert resolve_auto(config(tmp_path, pos, neg)).viewpoint == "center"


def test_bed_input_keeps_the_bed_window(tmp_path):
    bed = tmp_path / "a.bed"
    bed.write_text("chrIV\t1000\t1100\n")
    genome = tmp_path / "g.fa"
    write_fasta(genome, ["ACGT" * 500])
    cfg = PreprocessConfig(classes={"a": [str(bed)], "b": [str(bed)]}, genome=str(genome))
    assert resolve_auto(cfg).window == BED_WINDOW


def test_a_window_that_is_neither_a_number_nor_auto_is_named():
    with pytest.raises(ConfigError, match="window must be a number of nucleotides or auto \\(got 'atuo'\\)"):
        lociflow.config.coerce(PreprocessConfig, {"classes": {"a": ["x.fa"], "b": ["y.fa"]}, "window": "atuo"},
                               "preprocess")
    assert lociflow.config.coerce(PreprocessConfig, {"classes": {"a": ["x.fa"], "b": ["y.fa"]}, "window": "120"},
                                  "preprocess").window == 120

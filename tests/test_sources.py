"""Tables and labelled FASTA as benchmarks hand them out: DeepBind .seq, GUE-style CSV, RBP-31 FASTA."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

import lociflow
from lociflow.config_sources import LabelledSource, TableSource
from lociflow.errors import ConfigError, InputFileError
from lociflow.io.store import open_dataset
from lociflow.preprocessing.sources import iter_labelled, iter_table

REPO = Path(__file__).resolve().parents[1]
EXCERPTS = REPO / "data" / "excerpts"
SHARED = REPO.parent / "shared" / "data"
RBP31 = SHARED / "rbp31" / "23_PARCLIP_PUM2" / "train.fa.gz"
DEEPBIND = SHARED / "deepbind" / "GABPA_GM12878_GABP_HudsonAlpha_B.seq.gz"


def _read(chunks):
    chunks = list(chunks)
    return (np.concatenate([c.labels for c in chunks]), [n for c in chunks for n in c.loci.meta["name"]],
            {k: sum(c.dropped.get(k, 0) for c in chunks) for k in ("missing_label", "unknown_label", "invalid_sequence")})


def _counts(dataset_dir):
    dataset = open_dataset(dataset_dir)
    totals = {c: 0 for c in dataset.classes}
    for split in dataset.counts.values():
        for name, n in split.items():
            totals[name] += n
    return dataset.classes, totals


# --------------------------------------------------------------------------- excerpts in the repo


def test_deepbind_seq_reads_by_naming_its_columns(tmp_path):
    cfg = {"table": {"file": str(EXCERPTS / "deepbind_GABPA_B.seq"), "sequence": "seq", "label": "Bound",
                     "id": "EventID", "names": {"1": "bound", "0": "unbound"}}, "window": 101}
    classes, totals = _counts(lociflow.preprocess(cfg, tmp_path, name="d"))
    assert classes == ["bound", "unbound"] and totals == {"bound": 10, "unbound": 10}
    meta = open_dataset(tmp_path / "d").split("train").meta()
    assert meta["name"].str.startswith("seq_").all()


def test_rbp31_labelled_fasta_reads_with_the_class_pattern(tmp_path):
    cfg = {"labelled": {"files": [str(EXCERPTS / "rbp31_PUM2_train.fa")], "pattern": r"class:(\d+)",
                        "names": {"1": "bound", "0": "unbound"}}, "window": 101}
    out = lociflow.preprocess(cfg, tmp_path, name="d")
    classes, totals = _counts(out)
    assert classes == ["bound", "unbound"] and totals == {"bound": 10, "unbound": 10}
    meta = open_dataset(out).split("train").meta()
    # the coordinates of '> chr1,+,69315,69415; class:0' are parsed, the label is not part of the name
    assert meta["chrom"].str.startswith("chr").all()
    assert not meta["name"].str.contains("class").any()


def test_labels_kept_as_written_become_the_class_names(tmp_path):
    table = tmp_path / "gue.csv"
    table.write_text("sequence,label\n" + "".join(f"{'ACGT' * 5},{i % 2}\n" for i in range(40)))
    out = lociflow.preprocess({"table": {"file": str(table)}, "window": 20}, tmp_path / "out", name="d")
    assert _counts(out)[0] == ["0", "1"]


def test_columns_by_number_and_gzip_and_shuffled_negatives(tmp_path):
    # DeepBind's training files hold positives only; its negatives were dinucleotide shuffles
    table = tmp_path / "train.tsv.gz"
    rng = np.random.default_rng(0)
    rows = "".join(f"{''.join(rng.choice(list('ACGT'), 30))}\t1\n" for _ in range(50))
    with gzip.open(table, "wt") as handle:
        handle.write(rows)
    cfg = {"table": {"file": str(table), "sequence": 1, "label": 2, "header": False, "names": {"1": "bound"}},
           "classes": {"shuffled": {"from": "shuffle", "like": "bound"}}, "window": 30}
    classes, totals = _counts(lociflow.preprocess(cfg, tmp_path / "out", name="d"))
    assert classes == ["bound", "shuffled"] and totals == {"bound": 50, "shuffled": 50}


# --------------------------------------------------------------------------- bad rows


def _bad_table(tmp_path):
    table = tmp_path / "bad.csv"
    table.write_text("sequence,label\nACGTACGT,1\nACGTACGT,\nACGTXCGT,0\nACGTACGT,7\nACGTACGT,0\n")
    return table


@pytest.mark.parametrize("row, message", [
    (3, "line 3: the label is missing"),
    (4, "line 4: the sequence has an invalid character 'X' at position 5"),
    (5, "line 5: label '7' is not among the labels of names"),
])
def test_bad_table_rows_are_errors_naming_file_and_line(tmp_path, row, message):
    table = _bad_table(tmp_path)
    lines = table.read_text().splitlines()
    kept = [lines[0], lines[1], lines[row - 1], lines[-1]]
    table.write_text("\n".join(kept) + "\n")
    source = TableSource(file=table, names={"1": "bound", "0": "unbound"})
    with pytest.raises(InputFileError, match=message.replace("line " + str(row), "line 3")) as info:
        _read(iter_table(source, 8))
    assert str(table) in str(info.value) and "on_bad_row: drop" in str(info.value)


def test_bad_rows_are_dropped_and_counted_on_request(tmp_path, caplog):
    source = TableSource(file=_bad_table(tmp_path), names={"1": "bound", "0": "unbound"}, on_bad_row="drop")
    labels, names, dropped = _read(iter_table(source, 8))
    assert list(labels) == ["1", "0"] and names == ["bad.csv:2", "bad.csv:6"]
    assert dropped == {"missing_label": 1, "unknown_label": 1, "invalid_sequence": 1}
    cfg = {"table": source.model_dump(mode="json"), "window": 8}
    lociflow.preprocess(cfg, tmp_path / "out", name="d")
    assert "dropped 1 row(s) with invalid sequence, 1 row(s) with missing label, 1 row(s) with unknown label" \
        in caplog.text


def test_labelled_fasta_header_without_label_names_file_and_line(tmp_path):
    fasta = tmp_path / "x.fa"
    fasta.write_text("> a; class:1\nACGT\n> b\nACGT\n")
    with pytest.raises(InputFileError, match=r"x.fa, line 3: the label is missing"):
        _read(iter_labelled(LabelledSource(files=[fasta]), 4))


def test_a_missing_column_is_named_with_a_suggestion(tmp_path):
    with pytest.raises(InputFileError, match=r"no column 'bound' for the label \(did you mean 'Bound'\?\)"):
        _read(iter_table(TableSource(file=EXCERPTS / "deepbind_GABPA_B.seq", sequence="seq", label="bound"), 101))


def test_a_pattern_without_a_group_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="needs a group"):
        lociflow.preprocess({"labelled": {"files": ["x.fa"], "pattern": "class:1"}}, tmp_path, name="d")


# --------------------------------------------------------------------------- the whole shared files


@pytest.mark.skipif(not RBP31.is_file(), reason="the shared RBP-31 data (../shared/data/rbp31) is not here")
def test_whole_rbp31_file_reads_with_its_class_balance():
    labels, _, _ = _read(iter_labelled(LabelledSource(files=[RBP31], pattern=r"class:(\d+)"), 101))
    assert len(labels) == 30_000 and (labels == "1").sum() == 6_000


@pytest.mark.skipif(not DEEPBIND.is_file(), reason="the shared DeepBind data (../shared/data/deepbind) is not here")
def test_whole_deepbind_test_file_reads_by_naming_columns():
    labels, _, _ = _read(iter_table(TableSource(file=DEEPBIND, sequence="seq", label="Bound", id="EventID"), 101))
    assert len(labels) == 1_000 and (labels == "1").sum() == 500


def test_numbers_as_label_keys_mean_the_labels_as_written(tmp_path):
    cfg = {"table": {"file": str(EXCERPTS / "deepbind_GABPA_B.seq"), "sequence": "seq", "label": "Bound",
                     "names": {1: "bound", 0: "unbound"}}, "window": 101}
    classes, totals = _counts(lociflow.preprocess(cfg, tmp_path, name="d"))
    assert classes == ["bound", "unbound"] and totals == {"bound": 10, "unbound": 10}


def test_a_row_with_too_many_columns_names_its_line(tmp_path):
    table = tmp_path / "ragged.csv"
    table.write_text("sequence,label\nACGT,1\nACGT,0,extra\n")
    with pytest.raises(InputFileError, match=r"ragged.csv, line 3: found 3 columns where the table has 2"):
        _read(iter_table(TableSource(file=table), 4))


def test_rows_narrower_than_the_header_name_the_line(tmp_path):
    table = tmp_path / "narrow.tsv"
    table.write_text("id\tsequence\tlabel\nACGT\n")
    with pytest.raises(InputFileError, match=r"narrow.tsv, line 2: found 1 column\(s\), but the header names 3"):
        _read(iter_table(TableSource(file=table), 4))

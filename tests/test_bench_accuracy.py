"""The parts of bench/accuracy.py that need no training: reading the benchmark formats, the
resume logic of the results file, and the report's arithmetic."""

from __future__ import annotations

import gzip
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "accuracy.py"
_spec = importlib.util.spec_from_file_location("bench_accuracy", BENCH)
accuracy = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = accuracy  # dataclasses look their module up there
_spec.loader.exec_module(accuracy)


def row(experiment="REST", configuration="defaults", seed="42", auroc="0.9", auprc="0.8", **more):
    return {"experiment": experiment, "configuration": configuration, "seed": seed, "window": "default",
            "quick": "False", "test_auroc": auroc, "test_auprc": auprc, **more}


def test_deepbind_table_is_read_by_column_name(tmp_path):
    path = tmp_path / "X_B.seq.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("FoldID\tEventID\tseq\tBound\nA\tseq_1_peak\tACGT\t1\nB\tseq_2_shuf\tTTGA\t0\n")
    assert accuracy.read_table(path) == [("seq_1_peak", "ACGT", "1"), ("seq_2_shuf", "TTGA", "0")]


def test_labelled_fasta_joins_wrapped_lines_and_reads_the_class(tmp_path):
    path = tmp_path / "test.fa.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("> chr1,+,10,20; class:0\nACG\nTT\n> chr2,-,5,15; class:1\nGGA\n")
    assert accuracy.read_labelled_fasta(path, r"class:(\d+)") == [
        ("chr1,+,10,20; class:0", "ACGTT", "0"), ("chr2,-,5,15; class:1", "GGA", "1")]


def test_test_records_become_one_fasta_per_class(tmp_path):
    files = accuracy.write_classes([("a", "ACGT", "1"), ("b", "GGGG", "0"), ("c", "TTTT", "1")],
                                   {"1": "bound", "0": "unbound"}, tmp_path)
    assert files["bound"][0].read_text() == ">a\nACGT\n>c\nTTTT\n"
    assert files["unbound"][0].read_text() == ">b\nGGGG\n"


def test_runs_already_in_the_results_file_are_skipped_unless_forced(tmp_path):
    results = tmp_path / "results.tsv"
    accuracy.append_row(results, row(seed="42"))
    runs = [{k: r[k] for k in accuracy.KEY} for r in (row(seed="42"), row(seed="1"), row(configuration="deepbind"))]
    assert [(r["configuration"], r["seed"]) for r in accuracy.pending(runs, accuracy.read_results(results))] == [
        ("defaults", "1"), ("deepbind", "42")]
    assert len(accuracy.pending(runs, accuracy.read_results(results), force=True)) == 3


def test_a_rerun_replaces_its_row_and_keeps_the_others(tmp_path):
    results = tmp_path / "results.tsv"
    accuracy.append_row(results, row(seed="42", auroc="0.5"))
    accuracy.append_row(results, row(seed="1"))
    accuracy.append_row(results, row(seed="42", auroc="0.7"))
    written = accuracy.read_results(results)
    assert [(r["seed"], r["test_auroc"]) for r in written] == [("1", "0.9"), ("42", "0.7")]
    assert not list(tmp_path.glob(".*.tmp"))


def test_report_averages_the_seeds_and_compares_with_both_references():
    rows = [row("PUM2", "defaults", "42", "0.96", "0.95"), row("PUM2", "defaults", "1", "0.97", "0.97"),
            row("PUM2", "deepbind", "42", "0.90", "0.88"), row("REST", "defaults", "42", "0.80", "0.8"),
            row("REST", "deepbind", "42", "0.85", "0.8")]
    table = accuracy.summarise(rows)
    assert table["PUM2"]["defaults"]["auroc"] == pytest.approx(0.965)
    assert table["PUM2"]["defaults"]["auprc"] == pytest.approx(0.96)
    judged = accuracy.verdicts(table)
    assert judged["PUM2"] == {"published": True, "baseline": True}  # 0.965 >= DeepBind's 0.964
    assert judged["REST"] == {"published": None, "baseline": False}  # nothing published for ENCODE
    text = accuracy.report(rows)
    assert "defaults above the deepbind baseline on 1 of 2 experiments" in text
    assert "mean AUROC of defaults over the 2 experiments every configuration ran: 0.8825" in text


def test_experiments_run_cheapest_first_and_groups_expand():
    assert list(accuracy.EXPERIMENTS)[:3] == ["REST", "GABPA", "ALKBH5"]
    assert list(accuracy.EXPERIMENTS)[-1] == "SP1"
    assert len(accuracy.EXPERIMENTS) == 16
    chosen = accuracy.selected(["SP1", "rbp24"])
    assert [e.name for e in chosen] == ["ALKBH5", "PUM2", "QKI", "SP1"]

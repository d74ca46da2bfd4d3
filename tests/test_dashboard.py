"""What the interpretation dashboard says in words: weak motif matches look weak, a class
without a motif is explained, log lines are rounded."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd

from lociflow.interpretation.analyses import _explain_missing_motifs
from lociflow.interpretation.dashboard import _has_strong_match, _matches_html
from lociflow.interpretation.gia import per_class_text

MATCHES = pd.DataFrame({
    "filter": ["filter3"] * 3 + ["filter7"],
    "rank": [1, 2, 3, 1],
    "jaspar_id": ["MA0139.2", "MA0140.3", "MA1592.1", "MA0139.2"],
    "name": ["CTCF", "GATA1::TAL1", "PUM2", "CTCF"],
    "p_value": [1e-3, 2e-3, 1e-6, 4e-3],
    "q_value": [0.4, 0.6, 0.001, 0.3],
})


def test_matches_are_sorted_by_q_and_weak_ones_are_greyed_with_q_shown():
    text = _matches_html(MATCHES, "filter", "filter3")
    names = re.findall(r'<span class="(\w+)">\S+ (\S+) \(q=', text)
    assert names == [("strong", "PUM2"), ("weak", "CTCF"), ("weak", "GATA1::TAL1")]
    assert "q=1.0e-03, p=1.0e-06" in text and text.count("· weak") == 2
    assert _has_strong_match(MATCHES, "filter", "filter3")
    assert not _has_strong_match(MATCHES, "filter", "filter7")  # only weak matches: its card is faded


def _found(**patterns):
    return {cls: {"patterns": [object()] * n, "note": "TF-MoDISco found no motif ..."} for cls, n in patterns.items()}


def test_no_motif_in_a_background_class_is_said_to_be_expected():
    ctx = SimpleNamespace(notes={})
    found = _found(bound=2, unbound=0)
    _explain_missing_motifs(ctx, found)
    note = ctx.notes["modisco:unbound"]
    assert "none is expected if unbound is background (shuffled, unbound or random sequence)" in note
    assert "the motifs of bound are missing" in note and found["unbound"]["note"] == note
    assert "modisco:bound" not in ctx.notes


def test_no_motif_in_any_class_keeps_the_warning(caplog):
    ctx = SimpleNamespace(notes={})
    found = _found(bound=0, unbound=0)
    with caplog.at_level("WARNING", logger="lociflow.interpretation"):
        _explain_missing_motifs(ctx, found)
    assert not ctx.notes and found["bound"]["note"] == "TF-MoDISco found no motif ..."
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 2


def test_per_class_numbers_in_log_lines_are_rounded_and_signed():
    values = np.array([2.165, -2.508], dtype=np.float32)  # float32: 2.1649999618530273 as a Python float
    assert per_class_text(values) == "+2.165, -2.508"
    assert per_class_text(values, ["bound", "unbound"]) == "bound +2.165, unbound -2.508"

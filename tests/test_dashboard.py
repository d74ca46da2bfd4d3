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


def test_the_motifs_the_model_uses_lead_with_match_seqlets_filters_and_effect(tmp_path):
    from lociflow.interpretation.dashboard import _motifs_found_section
    from lociflow.interpretation.gia import GIAResult
    from lociflow.interpretation.motifs import Pattern

    ppm = np.eye(4)[[3, 2, 3, 0, 0, 0, 3, 0]]  # TGTAAATA
    pattern = Pattern("pos_patterns.pattern_0", 1, ppm, ppm, ppm, 57)
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n")
    filters = pd.DataFrame({"filter": ["filter2", "filter5"], "informative": [True, False],
                            "q_value": [0.001, 0.001], "best_match": ["MA1592.1", "MA1592.1"]})
    ctx = SimpleNamespace(
        results={"modisco": {"bound": {"patterns": [pattern], "logos": {"bound/pos_patterns.pattern_0": (logo, logo)},
                                       "note": ""},
                             "shuffled": {"patterns": [], "note": "none expected: shuffled is background"}},
                 "filters": {"summary": filters},
                 "gia": {"UGUAAAUA": GIAResult(np.array([2.5, -2.5]), np.array([0.1, -0.1]), np.ones(2), np.ones(2),
                                               ppm, ppm, 10)}},
        tables={"modisco_tomtom.tsv": pd.DataFrame({"pattern": ["bound/pos_patterns.pattern_0"], "rank": [1],
                                                    "jaspar_id": ["MA1592.1"], "name": ["PUM2"],
                                                    "p_value": [1e-6], "q_value": [1e-4]})},
        letters="ACGU", model=SimpleNamespace(classes=["bound", "shuffled"]))
    page = _motifs_found_section(ctx)
    assert "<code>UGUAAAUA</code>" in page and "PUM2 MA1592.1 (q=1.0e-04)" in page
    assert "<td>57</td>" in page
    assert "<td>filter2</td>" in page  # the informative filter with the same match; filter5 is not
    assert "+2.50 (control +0.10)" in page
    assert "none expected: shuffled is background" in page

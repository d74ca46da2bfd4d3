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


def _context(classes=None):
    """An interpret context whose model recorded ``classes`` as its preprocess classes."""
    return SimpleNamespace(notes={}, model=SimpleNamespace(preprocess={"classes": classes or {}}))


def test_no_motif_in_a_background_class_is_said_to_be_expected():
    ctx = _context({"bound": ["peaks.bed"], "unbound": ["other.bed"]})
    found = _found(bound=2, unbound=0)
    _explain_missing_motifs(ctx, found)
    note = ctx.notes["modisco:unbound"]
    assert "none is expected if unbound is background (shuffled, unbound or random sequence)" in note
    assert "the motifs of bound are missing" in note and found["unbound"]["note"] == note
    assert "modisco:bound" not in ctx.notes


def test_a_class_preprocess_made_is_labelled_no_motif_expected_not_warned_about(caplog):
    ctx = _context({"unbound": {"from": "shuffle", "like": "bound", "kmer": 2}})
    ctx.notes["modisco:unbound"] = "TF-MoDISco found no motif ..."  # as the run puts it first
    found = _found(bound=1, unbound=0)
    with caplog.at_level("INFO", logger="lociflow.interpret"):
        _explain_missing_motifs(ctx, found)
    assert found["unbound"]["note"] == ("No motif expected: unbound is dinucleotide-preserving shuffles of bound, "
                                        "so it has no motif of its own: the model calls unbound when the motifs "
                                        "of bound are missing.")
    assert found["unbound"]["expected"] and not ctx.notes  # labelled beside the motifs, not a note
    assert any("class unbound" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_genomic_background_class_is_named_for_what_it_was_matched_on():
    ctx = _context({"bg": {"from": "genome", "like": "peaks", "match": ["gc", "repeats"]}})
    found = _found(peaks=0, bg=0)
    _explain_missing_motifs(ctx, found)
    assert found["bg"]["note"] == ("No motif expected: bg is genomic windows matched to peaks's GC content and "
                                   "repeat fraction, so it has no motif of its own.")
    assert found["peaks"]["note"] == "TF-MoDISco found no motif ..."  # the class read from files keeps it


def test_no_motif_in_any_class_keeps_the_warning(caplog):
    ctx = _context()
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
    # filters has no matches table here: best matches alone decide
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


def _filters(best: dict[str, list[tuple[str, float]]], informative=None) -> dict:
    """A filters result: each filter's Tomtom hits ``(jaspar_id, q)``, best first."""
    rows = [{"filter": f, "rank": r, "jaspar_id": i, "q_value": q}
            for f, hits in best.items() for r, (i, q) in enumerate(hits, start=1)]
    summary = pd.DataFrame({"filter": list(best), "informative": [True] * len(best) if informative is None else informative,
                            "q_value": [hits[0][1] for hits in best.values()],
                            "best_match": [hits[0][0] for hits in best.values()]})
    return {"summary": summary, "matches": pd.DataFrame(rows)}


def test_a_filter_agrees_with_a_pattern_that_shares_any_strong_match_not_only_the_best():
    from lociflow.interpretation.dashboard import agreeing_filters

    patterns = pd.DataFrame({"pattern": ["bound/p0"] * 3, "jaspar_id": ["MA0076.3", "MA1483.3", "MA0760.2"],
                             "q_value": [1e-6, 1e-6, 4e-5]})  # ELK4, ELF2, ERF: an ETS pattern
    filters = _filters({
        "filter28": [("MA1483.2", 0.011), ("MA2340.1", 0.013)],  # ELF2 (another version) first
        "filter3": [("MA0600.3", 0.10), ("MA1483.3", 0.2)],  # ELF2 only weakly: no
        "filter9": [("MA0139.2", 0.001), ("MA0760.2", 0.03)],  # ERF second, strong: yes
        "filter4": [("MA0076.3", 0.001)],  # the best match, but uninformative: no
    }, informative=[True, True, True, False])
    assert agreeing_filters(filters, patterns, "bound/p0") == ["filter28", "filter9"]
    weak = patterns.assign(q_value=0.2)
    assert agreeing_filters(filters, weak, "bound/p0") == []  # a weak pattern match: nothing to agree with

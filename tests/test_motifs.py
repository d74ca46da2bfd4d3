"""Motif discovery with TF-MoDISco on DeepSHAP hypothetical contributions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from planted import planted_set, train_network

from lociflow.errors import LociflowError
from lociflow.interpretation.attribution import deep_lift_shap
from lociflow.interpretation.motifdb import load_jaspar
from lociflow.interpretation.motifs import (
    discover_motifs,
    motif_table,
    save_patterns,
    trim_pattern,
)


@pytest.fixture(scope="module")
def contributions():
    data = planted_set(n=800, window=100)
    net = train_network(data)
    rows = np.where(data.labels == 1)[0][:200]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shap = deep_lift_shap(net, {"seq": data.onehot[rows]}, 1, n_shuffles=10, verbose=False)
    return data, data.onehot[rows], shap.hypothetical["seq"]


@pytest.mark.slow
def test_top_modisco_motif_matches_the_planted_jaspar_motif(contributions, tmp_path):
    data, onehot, hyp = contributions
    result = discover_motifs(onehot, hyp, max_seqlets=1000)
    assert result.patterns, result.note
    top = result.patterns[0]
    assert top.sign == 1 and top.n_seqlets >= 20
    summary, matches = motif_table(result.patterns, load_jaspar(), top=3)
    hits = matches[matches["pattern"] == top.name]["jaspar_id"].tolist()
    assert any(h.split(".")[0] == data.motif.matrix_id.split(".")[0] for h in hits), hits
    ppm, cwm = trim_pattern(top)
    assert ppm.shape == cwm.shape and len(ppm) <= len(top.ppm)
    save_patterns(result.patterns, tmp_path / "p.npz")
    with np.load(tmp_path / "p.npz") as saved:
        assert f"{top.name}_hcwm" in saved.files


def test_too_little_input_reports_no_patterns_instead_of_failing(contributions):
    _, onehot, hyp = contributions
    result = discover_motifs(onehot[:1], hyp[:1])
    assert result.patterns == [] and "too little input" in result.note
    few = discover_motifs(onehot[:4], hyp[:4])
    assert few.patterns == [] and few.note
    summary, matches = motif_table([], load_jaspar())
    assert len(summary) == 0 and "jaspar_id" in matches.columns


def test_mismatched_shapes_are_refused(contributions):
    _, onehot, hyp = contributions
    with pytest.raises(LociflowError, match="same shape"):
        discover_motifs(onehot[:5], hyp[:4])

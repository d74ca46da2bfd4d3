"""Global importance analysis: motif insertion into shuffled real loci."""

from __future__ import annotations

import numpy as np
import pytest
from planted import planted_set, train_network

from lociflow.errors import LociflowError
from lociflow.interpretation.gia import (
    global_importance,
    make_backgrounds,
    plot_effects,
    plot_scan,
    position_scan,
    resolve_motif,
    spacing_scan,
)
from lociflow.interpretation.motifdb import load_jaspar


@pytest.fixture(scope="module")
def planted():
    data = planted_set(n=800, window=100)
    net = train_network(data)
    backgrounds = make_backgrounds({"seq": data.onehot}, n=100, random_state=0)
    return data, net, backgrounds


def test_motif_raises_its_class_more_than_its_own_shuffle(planted):
    data, net, backgrounds = planted
    result = global_importance(net, backgrounds, data.motif.consensus)
    motif_class = 1
    assert result.effect[motif_class] > 1.0
    assert result.effect[motif_class] > result.control[motif_class] + 1.0
    assert abs(result.control[motif_class]) < result.effect[motif_class] / 3
    assert sorted(result.shuffled) == sorted(result.motif) and result.shuffled != result.motif
    assert result.position == (100 - len(data.motif.consensus)) // 2


def test_jaspar_id_rna_letters_and_matrices_resolve_to_a_consensus(planted):
    data, net, backgrounds = planted
    db = load_jaspar()
    label, pattern = resolve_motif(data.motif.matrix_id, db)
    assert pattern == data.motif.consensus and "CTCF" in label
    assert resolve_motif("UGUAAAUA")[1] == "TGTAAATA"
    assert resolve_motif(data.motif.pwm)[1] == data.motif.consensus
    by_id = global_importance(net, backgrounds, data.motif.matrix_id, database=db)
    by_string = global_importance(net, backgrounds, data.motif.consensus)
    np.testing.assert_allclose(by_id.effect, by_string.effect, rtol=1e-5)


def test_position_and_spacing_scans_cover_the_window(planted, tmp_path):
    data, net, backgrounds = planted
    motif = data.motif.consensus
    scan = position_scan(net, backgrounds, motif, positions=[0, 40, 100 - len(motif)])
    assert scan.effect.shape == (3, 2) and scan.control.shape == (3, 2)
    assert (scan.effect[:, 1] > scan.control[:, 1]).all()
    default = position_scan(net, backgrounds, "GATA")
    assert default.values[0] == 0 and default.values[-1] == 96
    pair = spacing_scan(net, backgrounds, motif, "GATA", spacings=[0, 10])
    assert pair.values.tolist() == [0, 10] and pair.effect.shape == (2, 2)
    written = plot_scan(scan, ["background", "motif"], tmp_path / "scan", "position", "CTCF")
    written += plot_effects({"CTCF": global_importance(net, backgrounds, motif)}, ["background", "motif"], tmp_path / "bar")
    assert all(p.stat().st_size > 0 for p in written)


def test_backgrounds_keep_composition_and_other_branches():
    rng = np.random.default_rng(0)
    seq = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (30, 40))]
    cons = rng.normal(size=(30, 40, 1)).astype(np.float32)
    bg = make_backgrounds({"seq": seq, "cons": cons}, n=10, random_state=3)
    assert bg["seq"].shape == (10, 40, 4) and bg["cons"].shape == (10, 40, 1)
    # each background is a shuffle of one locus: same letter counts as some locus, cons copied from it
    for s, c in zip(bg["seq"], bg["cons"]):
        source = int(np.argmin(np.abs(cons[:, :, 0] - c[:, 0]).sum(axis=1)))
        np.testing.assert_array_equal(s.sum(axis=0), seq[source].sum(axis=0))


def test_bad_motifs_and_positions_are_refused(planted):
    data, net, backgrounds = planted
    with pytest.raises(LociflowError, match="does not fit a window of 100"):
        global_importance(net, backgrounds, data.motif.consensus, position=95)
    with pytest.raises(LociflowError, match="no motif database"):
        resolve_motif("CTCF")
    with pytest.raises(LociflowError, match="gap can be 0 to"):
        spacing_scan(net, backgrounds, "GATA", "GATA", spacings=[500])
    with pytest.raises(LociflowError, match="shaped"):
        resolve_motif(np.ones((5, 3)))

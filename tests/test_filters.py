"""First-layer filters as motifs, and the motif database they are matched against."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from planted import planted_set, train_network
from torch import nn

from lociflow.errors import LociflowError
from lociflow.interpretation.filters import (
    filter_influence,
    filter_motifs,
    filter_pfms,
    filter_table,
    to_ppm,
    trim_ppm,
)
from lociflow.interpretation.motifdb import (
    consensus,
    load_jaspar,
    load_meme,
    load_motifs,
    ppm_from_consensus,
    tomtom_matches,
    write_meme,
)


@pytest.fixture(scope="module")
def jaspar():
    return load_jaspar()


@pytest.fixture(scope="module")
def planted():
    data = planted_set(n=800, window=100)
    return data, train_network(data)


class OneFilterNet(nn.Module):
    """A network whose only filter is the one-hot of a k-mer (a perfect detector of it)."""

    def __init__(self, kmer: str, padding):
        super().__init__()
        self.branches, self.classes_count = ["seq"], 2
        self.conv = nn.Conv1d(4, 2, len(kmer), padding=padding, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            for i, b in enumerate(kmer):
                self.conv.weight[0, "ACGT".index(b), i] = 1.0
            self.conv.weight[1] = 0.0  # a dead filter: output does not depend on it
        self.head = nn.Linear(2, 2)

    def forward(self, seq):
        return self.head(self.conv(seq.transpose(1, 2)).amax(dim=2))


def _onehot(seqs):
    return np.eye(4, dtype=np.float32)[[["ACGT".index(b) for b in s] for s in seqs]]


@pytest.mark.parametrize("padding", [0, 2, "same"])
def test_pfm_counts_exactly_the_windows_that_match_the_filter(padding):
    kmer = "GATTA"
    net = OneFilterNet(kmer, padding)
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("C"), 20)) for _ in range(6)]
    seqs = [s[:3] + kmer + s[8:] if i % 2 == 0 else s[:12] + kmer + s[17:] for i, s in enumerate(seqs)]
    pfms, sites, top = filter_pfms(net, {"seq": _onehot(seqs)}, net.conv, threshold=0.99)
    # only the 6 exact matches reach the maximum (5); poly-C windows score 0
    assert sites[0] == 6
    assert top[0] == pytest.approx(5.0)
    np.testing.assert_array_equal(pfms[0], 6 * _onehot([kmer])[0])


def test_silencing_a_filter_the_output_ignores_has_no_influence():
    net = OneFilterNet("GATTA", 0)
    with torch.no_grad():
        net.head.weight[:, 1] = 0.0
    x = _onehot(["ACGTGATTACCA", "CCCCCCCCCCCC"])
    influence, change = filter_influence(net, {"seq": x}, net.conv)
    assert influence[1] == pytest.approx(0.0, abs=1e-7)
    assert influence[0] > 0
    assert change.shape == (2, 2)
    np.testing.assert_allclose(change.sum(axis=1), 0.0, atol=1e-6)  # probabilities move together


def test_best_filter_matches_the_planted_jaspar_motif_in_the_top_three(planted, jaspar):
    data, net = planted
    result = filter_motifs(net, {"seq": data.onehot}, net.first_conv["seq"], influence_loci=400)
    summary, matches = filter_table(result, jaspar, top=3, classes=["background", "motif"])
    best = summary.iloc[0]["filter"]
    top3 = matches[matches["filter"] == best]["jaspar_id"].tolist()
    assert any(hit.split(".")[0] == data.motif.matrix_id.split(".")[0] for hit in top3), (best, top3)
    assert summary.iloc[0]["influence"] >= summary["influence"].max()
    assert summary.iloc[0]["change_motif"] < 0  # silencing the CTCF detector lowers p(motif)
    assert list(matches.columns[:6]) == ["filter", "rank", "jaspar_id", "name", "p_value", "q_value"]
    assert (matches["q_value"] >= matches["p_value"] - 1e-12).all()


def test_filter_needs_a_convolution_reading_the_one_hot_sequence():
    net = OneFilterNet("GATTA", 0)
    wide = nn.Conv1d(8, 2, 3)
    with pytest.raises(LociflowError, match="reads 8 channels"):
        filter_pfms(net, {"seq": _onehot(["ACGTACGTAC"])}, wide)
    with pytest.raises(LociflowError, match="between 0 and 1"):
        filter_pfms(net, {"seq": _onehot(["ACGTACGTAC"])}, net.conv, threshold=1.5)


def test_trim_drops_uninformative_flanks():
    ppm = np.vstack([np.full((3, 4), 0.25), ppm_from_consensus("GATA"), np.full((2, 4), 0.25)])
    assert consensus(trim_ppm(ppm)) == "GATA"
    assert len(trim_ppm(np.full((5, 4), 0.25))) == 0
    np.testing.assert_allclose(to_ppm(np.array([[3, 1, 0, 0]])).sum(), 1.0)


def test_jaspar_lookup_by_id_base_id_and_name(jaspar):
    gata = jaspar.get("GATA1")
    assert gata.id.startswith("MA0035.")
    assert jaspar.get("MA0035").id == gata.id
    assert jaspar.get(gata.id.lower()).name == "GATA1"
    with pytest.raises(LociflowError, match="No motif 'GATA11' \\(did you mean 'GATA1'"):
        jaspar.get("GATA11")


def test_unknown_release_and_empty_selection_say_what_exists():
    with pytest.raises(LociflowError, match="JASPAR2024"):
        load_jaspar(release="JASPAR1999")
    with pytest.raises(LociflowError, match="taxon"):
        load_jaspar(taxon="martians")


def test_meme_file_round_trip_and_tomtom_finds_itself(tmp_path, jaspar):
    ctcf = jaspar.get("CTCF")
    write_meme({"mine": ctcf.ppm, "gata": jaspar.get("GATA1").ppm}, tmp_path / "m.meme")
    db = load_motifs(tmp_path / "m.meme")
    assert [m.id for m in db] == ["mine", "gata"]
    np.testing.assert_allclose(db.get("mine").ppm, ctcf.ppm, atol=1e-5)
    hits = tomtom_matches({"q": ctcf.ppm[2:12]}, jaspar, top=3)
    assert ctcf.id in hits["jaspar_id"].tolist()


def test_bad_motif_files_and_letters_are_refused(tmp_path):
    with pytest.raises(LociflowError, match="does not exist"):
        load_meme(tmp_path / "none.meme")
    (tmp_path / "empty.meme").write_text("MEME version 4\n")
    with pytest.raises(LociflowError, match="no motifs"):
        load_meme(tmp_path / "empty.meme")
    with pytest.raises(LociflowError, match="not a nucleotide"):
        ppm_from_consensus("GAXA")


def _result(pfms, sites):
    from lociflow.interpretation.filters import FilterResult

    n = len(pfms)
    return FilterResult(np.asarray(pfms, float), np.asarray(sites), np.ones(n), np.linspace(0.2, 0.1, n),
                        np.zeros((n, 2)))


def test_a_flat_or_composition_only_filter_is_uninformative_and_not_matched(jaspar):
    from planted import jaspar_motif

    ctcf = jaspar_motif().pwm * 100
    flat = np.full_like(ctcf, 25.0)
    gc_rich = np.tile([10.0, 40.0, 40.0, 10.0], (len(ctcf), 1))  # just the data's GC richness
    summary, matches = filter_table(_result([flat, gc_rich, ctcf], [100, 100, 100]), jaspar,
                                    background=np.array([0.1, 0.4, 0.4, 0.1]))
    rows = summary.set_index("filter")
    assert not rows.loc["filter0", "informative"] and not rows.loc["filter1", "informative"]
    assert rows.loc["filter1", "information_content"] < 0.5  # GC-rich, but so is the background
    assert rows.loc["filter0", "best_match"] == "" and rows.loc["filter1", "best_match"] == ""
    assert set(matches["filter"]) == {"filter2"}
    assert rows.loc["filter2", "informative"] and rows.loc["filter2", "best_match"].startswith("MA0139")
    assert rows.loc["filter2", "information_content"] > 10


def test_information_is_measured_against_the_background():
    from lociflow.interpretation.filters import base_composition, information_content

    column = np.array([[0.1, 0.4, 0.4, 0.1]])
    assert information_content(column, np.array([0.1, 0.4, 0.4, 0.1]))[0] == pytest.approx(0.0, abs=1e-9)
    assert information_content(column)[0] > 0.2  # against a uniform background it looks like a preference
    assert information_content(np.eye(4)[:1])[0] == pytest.approx(2.0, abs=1e-6)
    onehot = np.eye(4, dtype=np.uint8)[[[0, 1, 1, 2]]]
    padded = np.concatenate([onehot, np.zeros((1, 2, 4), np.uint8)], axis=1)  # N padding is not counted
    np.testing.assert_allclose(base_composition(padded), [0.25, 0.5, 0.25, 0.0])


def test_filters_are_sorted_by_influence_then_by_match_strength(jaspar):
    from planted import jaspar_motif

    from lociflow.interpretation.filters import FilterResult

    ctcf = jaspar_motif().pwm * 100
    result = FilterResult(np.stack([np.full_like(ctcf, 25.0), ctcf]), np.array([100, 100]), np.ones(2),
                          np.array([0.1, 0.1]), np.zeros((2, 2)))
    summary, _ = filter_table(result, jaspar)
    assert list(summary["filter"]) == ["filter1", "filter0"]  # equal influence: the matched one first


def test_interpretable_preset_filters_recover_the_planted_motif(jaspar):
    from planted import accuracy, one_thread

    from lociflow.interpretation.filters import base_composition
    from lociflow.model.presets import resolve_architecture

    data = planted_set(n=800, window=100)
    with one_thread():
        net = train_network(data, resolve_architecture("interpretable", None, ["seq"], 100), epochs=8)
    assert accuracy(net, planted_set(200, 100, seed=1)) > 0.9
    result = filter_motifs(net, {"seq": data.onehot}, net.first_conv["seq"], influence_loci=400)
    summary, matches = filter_table(result, jaspar, background=base_composition(data.onehot))
    strong = matches[matches["jaspar_id"].str.startswith(data.motif.matrix_id) & (matches["q_value"] < 0.05)]
    assert len(strong) > 0
    assert summary.loc[summary["filter"].isin(strong["filter"]), "informative"].all()

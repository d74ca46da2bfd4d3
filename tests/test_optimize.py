"""Class optimisation writes the planted motif back, seeded, and logos are drawn."""

from __future__ import annotations

import numpy as np
import pytest
from memelite import fimo
from planted import ctcf_cnn, one_hot, one_thread

from lociflow.errors import LociflowError
from lociflow.interpretation.optimize import optimize_class, plot_logo
from lociflow.interpretation.scoring import class_scores


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def optimized():
    train, _, network = ctcf_cnn()
    result = optimize_class(network, {"seq": list("ACGT")}, 100, 1, n_restarts=4, steps=150, random_state=0)
    return train, network, result


def test_optimized_sequence_contains_a_fimo_match_to_the_planted_motif(optimized):
    train, _, result = optimized
    motif = train.motif
    x = one_hot(result.sequences[:1]).transpose(0, 2, 1).astype(np.float32)
    hits = fimo({motif.matrix_id: motif.pwm.T.copy()}, x, threshold=1e-4)[0]
    assert len(hits) >= 1 and hits["p-value"].min() < 1e-4


def test_scores_are_the_class_logits_of_the_sequences_best_first(optimized):
    _, network, result = optimized
    assert result.pwms.shape == (4, 100, 4)
    assert np.allclose(result.pwms.sum(-1), 1, atol=1e-5)
    assert list(result.scores) == sorted(result.scores, reverse=True)
    direct = class_scores(network, {"seq": one_hot(result.sequences)}, 1)
    assert np.allclose(result.scores, direct, atol=1e-4)
    # better than any training sequence of the class
    assert result.scores[0] > class_scores(network, {"seq": train_positive(optimized)}, 1).max() - 1.0


def train_positive(optimized):
    train = optimized[0]
    return train.onehot[train.labels == 1]


def test_same_seed_same_result_other_seed_other_starts(optimized):
    _, network, _ = optimized
    channels = {"seq": list("ACGT")}
    a = optimize_class(network, channels, 100, 1, n_restarts=2, steps=5, random_state=3)
    b = optimize_class(network, channels, 100, 1, n_restarts=2, steps=5, random_state=3)
    c = optimize_class(network, channels, 100, 1, n_restarts=2, steps=5, random_state=4)
    assert np.array_equal(a.pwms, b.pwms) and a.sequences == b.sequences
    assert a.sequences != c.sequences


def test_rna_letters_come_from_the_channel_names(optimized):
    _, network, _ = optimized
    result = optimize_class(network, {"seq": list("ACGU")}, 100, 0, n_restarts=1, steps=2)
    assert set(result.sequences[0]) <= set("ACGU")


def test_plot_logo_draws_information_and_weights(tmp_path, optimized):
    _, _, result = optimized
    info = plot_logo(result.pwms[0][:20], tmp_path / "logo.png", alphabet="ACGT", title="best")
    weights = plot_logo(np.random.default_rng(0).normal(size=(12, 4)), tmp_path / "w.svg", "ACGU", kind="weights")
    assert info.stat().st_size > 1000 and weights.stat().st_size > 1000


def test_bad_requests_are_refused(optimized):
    _, network, result = optimized
    with pytest.raises(LociflowError, match="Cannot optimise branch 'fold'"):
        optimize_class(network, {"seq": list("ACGT")}, 100, 1, branch="fold")
    with pytest.raises(LociflowError, match="out of range"):
        optimize_class(network, {"seq": list("ACGT")}, 100, 5)
    with pytest.raises(LociflowError, match="other_branches must be 'zeros'"):
        optimize_class(network, {"seq": list("ACGT")}, 100, 1, other_branches="mean")
    with pytest.raises(LociflowError, match=r"\[L, 4\] matrix"):
        plot_logo(np.zeros((5, 3)), "unused.png")
    with pytest.raises(LociflowError, match="Unknown logo kind"):
        plot_logo(result.pwms[0], "unused.png", kind="bits")


def test_logo_rows_are_balanced_and_cover_the_window():
    from lociflow.interpretation.optimize import logo_rows

    assert logo_rows(101) == [(0, 34), (34, 67), (67, 101)]  # not 50, 50 and a lone letter
    assert logo_rows(150) == [(0, 50), (50, 100), (100, 150)]
    assert logo_rows(40) == [(0, 40)]
    for length in range(1, 400):
        rows = logo_rows(length)
        sizes = [b - a for a, b in rows]
        assert rows[0][0] == 0 and rows[-1][1] == length and max(sizes) <= 50 and max(sizes) - min(sizes) <= 1
        assert all(a[1] == b[0] for a, b in zip(rows, rows[1:]))


def test_a_logo_of_a_slice_is_drawn_at_its_true_positions(tmp_path, monkeypatch):
    import logomaker

    drawn = []
    original = logomaker.Logo

    def spy(frame, *args, **kwargs):
        drawn.append(list(frame.index))
        return original(frame, *args, **kwargs)

    monkeypatch.setattr(logomaker, "Logo", spy)
    pwm = np.random.default_rng(0).dirichlet([0.5] * 4, 33)
    plot_logo(pwm, tmp_path / "row.png", first_position=68)
    plot_logo(pwm[:5], tmp_path / "plain.png")
    assert drawn[0] == list(range(68, 101)) and drawn[1] == [0, 1, 2, 3, 4]

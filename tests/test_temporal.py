"""Temporal scores rise once the model has read the planted motif, and flips are placed right."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from planted import ctcf_gru, one_thread
from torch import nn

from lociflow.errors import LociflowError
from lociflow.interpretation.temporal import (
    _flip_backward,
    _flip_forward,
    plot_temporal,
    temporal_scores,
)

MOTIF = 15


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with one_thread():
        yield


class CountA(nn.Module):
    """Class 1 logit = number of visible A minus 2: the call flips once three A are read."""

    branches = ["seq"]
    classes_count = 2

    def forward(self, seq):
        s = seq[:, :, 0].sum(1) - 2.5
        return torch.stack([torch.zeros_like(s), s], dim=1)


@pytest.fixture(scope="module")
def gru():
    return ctcf_gru()


def test_forward_score_rises_after_the_motif_is_read(gru):
    _, held_out, network = gru
    pos = np.where(held_out.labels == 1)[0]
    result = temporal_scores(network, {"seq": held_out.onehot[pos]}, 1, verbose=False)
    length = held_out.onehot.shape[1]
    starts = held_out.starts[pos]
    before = result.forward[np.arange(len(pos)), np.maximum(starts - 1, 0)]
    after = result.forward[np.arange(len(pos)), np.minimum(starts + MOTIF, length - 1)]
    assert np.mean(after - before > 0.3) >= 0.8
    # reading backwards, the score rises once the suffix includes the motif
    back_before = result.backward[np.arange(len(pos)), np.minimum(starts + MOTIF, length - 1)]
    back_after = result.backward[np.arange(len(pos)), starts]
    assert np.mean(back_after - back_before > 0.3) >= 0.8
    # the forward call settles inside or just after the motif
    settled = result.flip_forward >= 0
    assert settled.mean() >= 0.8
    assert np.mean((result.flip_forward[settled] >= starts[settled])
                   & (result.flip_forward[settled] <= starts[settled] + MOTIF + 3)) >= 0.8


def test_flips_on_a_counting_model_are_exact():
    seq = np.zeros((2, 10, 4), np.float32)
    seq[:, :, 1] = 1
    seq[0, [1, 4, 7], :] = [1, 0, 0, 0]  # three A: class 1 once all three are visible
    seq[1, [2], :] = [1, 0, 0, 0]  # one A: never class 1
    result = temporal_scores(CountA(), {"seq": seq}, 1, batch_size=7, verbose=False)
    assert result.flip_forward.tolist() == [7, -1]
    assert result.flip_backward.tolist() == [1, -1]
    expected = 1 / (1 + np.exp(-(np.cumsum(seq[0, :, 0]) - 2.5)))
    assert np.allclose(result.forward[0], expected, atol=1e-6)


def test_every_branch_is_masked_to_the_part_read():
    gen = torch.Generator().manual_seed(0)

    class Linear(nn.Module):
        branches = ["seq", "cons"]
        classes_count = 2
        w_seq, w_cons = torch.randn(8, 4, generator=gen), torch.randn(8, 1, generator=gen)

        def forward(self, seq, cons):
            s = (seq * self.w_seq).sum((1, 2)) + (cons * self.w_cons).sum((1, 2))
            return torch.stack([s, -s], dim=1)

    rng = np.random.default_rng(0)
    inputs = {"seq": np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (3, 8))],
              "cons": rng.normal(size=(3, 8, 1)).astype(np.float32)}
    model = Linear()
    result = temporal_scores(model, inputs, 0, batch_size=5, verbose=False)
    per_position = (inputs["seq"] * model.w_seq.numpy()).sum(-1) + (inputs["cons"] * model.w_cons.numpy()).sum(-1)
    prefix, suffix = np.cumsum(per_position, 1), np.cumsum(per_position[:, ::-1], 1)[:, ::-1]
    assert np.allclose(result.forward, 1 / (1 + np.exp(-2 * prefix)), atol=1e-5)
    assert np.allclose(result.backward, 1 / (1 + np.exp(-2 * suffix)), atol=1e-5)


def test_flip_helpers_need_the_call_to_stay():
    ok = np.array([[True, False, True, True], [True, True, False, False], [False, True, True, True]])
    assert _flip_forward(ok).tolist() == [2, -1, 1]
    assert _flip_backward(ok).tolist() == [0, 1, -1]


def test_plot_temporal_writes_the_figure(tmp_path, gru):
    _, held_out, network = gru
    result = temporal_scores(network, {"seq": held_out.onehot[:2]}, 1, verbose=False)
    path = plot_temporal(result, 1, tmp_path / "plots" / "temporal.png", title="locus 1")
    assert path.exists() and path.stat().st_size > 1000


def test_branches_of_different_lengths_are_refused():
    class Two(nn.Module):
        branches = ["seq", "cons"]
        classes_count = 2

    inputs = {"seq": np.zeros((1, 10, 4)), "cons": np.zeros((1, 8, 1))}
    with pytest.raises(LociflowError, match="same positions"):
        temporal_scores(Two(), inputs, 0, verbose=False)

"""Attributions find a planted JASPAR motif, add up to the score difference, and agree.

A CNN trained on the CTCF consensus planted in half of random sequences (tests/planted.py)
must be explained by its motif: the methods are checked against the planted positions,
against each other, and against exact values on a linear toy model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from planted import ctcf_cnn, one_thread
from torch import nn

from lociflow.errors import LociflowError
from lociflow.interpretation.attribution import (
    deep_lift_shap,
    in_silico_mutagenesis,
    integrated_gradients,
    saliency,
)
from lociflow.interpretation.scoring import _cudnn_off, attribution_mode, class_scores
from lociflow.model.network import build_network

warnings.filterwarnings("ignore", category=UserWarning, module="captum")
MOTIF = 15


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with one_thread():
        yield


class LinearToy(nn.Module):
    """logits = [s, -s] with s = sum(W_seq * seq) + sum(W_cons * cons): gradients are exact."""

    branches = ["seq", "cons"]
    classes_count = 2

    def __init__(self, length: int = 12):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.w_seq = nn.Parameter(torch.randn(length, 4, generator=gen))
        self.w_cons = nn.Parameter(torch.randn(length, 1, generator=gen))

    def forward(self, seq, cons):
        s = (seq * self.w_seq).sum((1, 2)) + (cons * self.w_cons).sum((1, 2))
        return torch.stack([s, -s], dim=1)


@pytest.fixture(scope="module")
def trained():
    _, held_out, network = ctcf_cnn()
    positives = np.where(held_out.labels == 1)[0]
    return held_out, network, positives


@pytest.fixture(scope="module")
def ig_zeros(trained):
    data, network, pos = trained
    return integrated_gradients(network, {"seq": data.onehot[pos]}, 1, verbose=False)


def _toy_inputs(n=5, length=12, seed=0):
    rng = np.random.default_rng(seed)
    seq = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, length))]
    cons = rng.normal(size=(n, length, 1)).astype(np.float32)
    return {"seq": seq, "cons": cons}


def _overlaps_site(attr: np.ndarray, starts: np.ndarray, k: int = 9) -> np.ndarray:
    per_position = attr.sum(-1)
    windows = np.stack([np.convolve(row, np.ones(k), mode="valid") for row in per_position])
    best = windows.argmax(1)
    return (best < starts + MOTIF) & (best + k > starts)


def test_ig_top_9mer_overlaps_planted_site_in_most_positives(trained, ig_zeros):
    data, _, pos = trained
    assert _overlaps_site(ig_zeros.attributions["seq"], data.starts[pos]).mean() >= 0.8


def test_ig_with_shuffled_baselines_finds_the_site_too(trained):
    data, network, pos = trained
    result = integrated_gradients(network, {"seq": data.onehot[pos]}, 1, baseline="shuffle", n_shuffles=3,
                                  steps=20, verbose=False)
    assert _overlaps_site(result.attributions["seq"], data.starts[pos]).mean() >= 0.8


def test_ig_completeness_holds_within_reported_delta(trained, ig_zeros):
    data, network, pos = trained
    total = ig_zeros.attributions["seq"].sum((1, 2))
    gap = total - (ig_zeros.scores - ig_zeros.baseline_scores)
    assert np.allclose(gap, ig_zeros.delta, atol=1e-3)
    # the scores are the network's own target logits, and the path integral has converged
    direct = class_scores(network, {"seq": data.onehot[pos]}, 1)
    assert np.allclose(ig_zeros.scores, direct, atol=1e-4)
    zero = class_scores(network, {"seq": np.zeros_like(data.onehot[:1])}, 1)[0]
    assert np.allclose(ig_zeros.baseline_scores, zero, atol=1e-4)
    assert np.median(np.abs(ig_zeros.delta) / np.abs(direct - zero)) < 0.05


def test_ism_and_ig_agree_in_sign_at_planted_positions(trained, ig_zeros):
    data, network, pos = trained
    ism = in_silico_mutagenesis(network, {"seq": data.onehot[pos]}, 1, verbose=False)
    # importance of the base present = how much the score drops when it is replaced
    ism_importance = -ism.sum(-1) / 3
    ig_importance = ig_zeros.attributions["seq"].sum(-1)
    agree = []
    for row, start in enumerate(data.starts[pos]):
        site = slice(start, start + MOTIF)
        strong = np.abs(ism_importance[row, site]) > 0.1
        agree.extend((np.sign(ism_importance[row, site]) == np.sign(ig_importance[row, site]))[strong])
    assert len(agree) > 100 and np.mean(agree) >= 0.75


def test_ism_values_are_exact_score_changes_and_identity_is_zero(trained):
    data, network, _ = trained
    x = data.onehot[:3]
    ism = in_silico_mutagenesis(network, {"seq": x}, 0, batch_size=97, verbose=False)
    assert ism.shape == x.shape and ism.dtype == np.float32
    assert np.all(ism[x.astype(bool)] == 0)
    reference = class_scores(network, {"seq": x}, 0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        i, p, b = rng.integers(0, 3), rng.integers(0, x.shape[1]), rng.integers(0, 4)
        if x[i, p, b]:
            continue
        mutant = x[i:i + 1].copy()
        mutant[0, p] = np.eye(4)[b]
        expected = class_scores(network, {"seq": mutant}, 0)[0] - reference[i]
        assert ism[i, p, b] == pytest.approx(expected, abs=1e-4)


def test_ism_mutates_every_base_at_n_positions():
    toy = LinearToy()
    inputs = _toy_inputs(n=2)
    inputs["seq"][0, 3] = 0
    ism = in_silico_mutagenesis(toy, inputs, 0, verbose=False)
    w = toy.w_seq.detach().numpy()
    assert np.allclose(ism[0, 3], w[3], atol=1e-5)  # from N (all zero) to each base
    present = inputs["seq"][1].argmax(-1)
    assert np.allclose(ism[1], w - w[np.arange(12), present][:, None], atol=1e-5)


def test_deepshap_hypothetical_contributions_and_motif_concentration(trained):
    data, network, pos = trained
    x = data.onehot[pos]
    result = deep_lift_shap(network, {"seq": x}, 1, n_shuffles=10, verbose=False)
    assert result.method == "deeplift"
    attr, hyp = result.attributions["seq"], result.hypothetical["seq"]
    assert attr.shape == hyp.shape == x.shape
    # the contribution of a position is the hypothetical one of the base present
    assert np.allclose((hyp * x).sum(-1), attr.sum(-1), atol=1e-5)
    share = []
    for row, start in enumerate(data.starts[pos]):
        mass = np.abs(attr[row]).sum(-1)
        share.append(mass[start:start + MOTIF].sum() / mass.sum())
    assert np.median(share) > 0.5  # the site is 15 of 100 positions


def test_saliency_and_ig_are_exact_on_a_linear_multi_branch_model():
    toy = LinearToy()
    inputs = _toy_inputs()
    sal = saliency(toy, inputs, 0, batch_size=2, verbose=False)
    w_seq, w_cons = toy.w_seq.detach().numpy(), toy.w_cons.detach().numpy()
    assert np.allclose(sal.gradients["seq"], w_seq, atol=1e-6)
    assert np.allclose(sal.gradients["cons"], w_cons, atol=1e-6)
    assert np.allclose(sal.gradient_x_input["cons"], w_cons * inputs["cons"], atol=1e-6)
    ig = integrated_gradients(toy, inputs, 1, steps=5, batch_size=3, verbose=False)
    assert np.allclose(ig.attributions["seq"], -w_seq * inputs["seq"], atol=1e-5)
    assert np.allclose(ig.attributions["cons"], -w_cons * inputs["cons"], atol=1e-5)
    assert np.allclose(ig.delta, 0, atol=1e-4)


def test_user_baseline_is_used_per_branch():
    toy = LinearToy()
    inputs = _toy_inputs()
    base = np.full((12, 1), 2.0, np.float32)
    ig = integrated_gradients(toy, inputs, 0, baseline={"cons": base}, steps=3, verbose=False)
    w_cons = toy.w_cons.detach().numpy()
    assert np.allclose(ig.attributions["cons"], w_cons * (inputs["cons"] - base), atol=1e-5)


def test_shuffle_baseline_results_do_not_depend_on_batch_size():
    toy = LinearToy()
    inputs = _toy_inputs(n=7)
    a = integrated_gradients(toy, inputs, 0, baseline="shuffle", n_shuffles=3, steps=4, batch_size=4, verbose=False)
    b = integrated_gradients(toy, inputs, 0, baseline="shuffle", n_shuffles=3, steps=4, batch_size=64, verbose=False)
    assert np.allclose(a.attributions["seq"], b.attributions["seq"], atol=1e-6)
    # other branches are referenced to their per-sequence mean
    mean = inputs["cons"].mean(axis=1, keepdims=True)
    assert np.allclose(a.attributions["cons"], toy.w_cons.detach().numpy() * (inputs["cons"] - mean), atol=1e-5)


def test_smoothgrad_noise_is_seeded_and_changes_the_result(trained):
    data, network, pos = trained
    x = {"seq": data.onehot[pos[:4]]}
    plain = integrated_gradients(network, x, 1, steps=8, verbose=False)
    a = integrated_gradients(network, x, 1, steps=8, noise=0.2, n_noise=3, random_state=5, verbose=False)
    b = integrated_gradients(network, x, 1, steps=8, noise=0.2, n_noise=3, random_state=5, verbose=False)
    assert np.array_equal(a.attributions["seq"], b.attributions["seq"])
    assert not np.allclose(a.attributions["seq"], plain.attributions["seq"])


def test_every_method_covers_every_branch_of_a_built_multi_branch_network():
    torch.manual_seed(0)
    arch = {"branches": {"seq": [{"type": "conv", "filters": 4, "kernel": 5}, {"type": "pool", "mode": "max"}],
                         "cons": [{"type": "conv", "filters": 2, "kernel": 3}, {"type": "pool", "mode": "max"}]},
            "common": [{"type": "dense", "units": 4}]}
    network = build_network(arch, {"seq": list("ACGT"), "cons": ["cons"]}, 12, 3)
    inputs = _toy_inputs(n=4)
    targets = np.array([0, 1, 2, 1])
    for result in (saliency(network, inputs, targets, verbose=False).gradients,
                   integrated_gradients(network, inputs, targets, steps=4, verbose=False).attributions,
                   deep_lift_shap(network, inputs, targets, n_shuffles=2, verbose=False).attributions):
        assert set(result) == {"seq", "cons"}
        assert result["seq"].shape == (4, 12, 4) and result["cons"].shape == (4, 12, 1)
    assert network.training  # the caller's mode is restored


def test_deepshap_on_a_recurrent_model_uses_integrated_gradient_multipliers():
    torch.manual_seed(0)
    arch = {"branches": {"seq": []}, "common": [{"type": "gru", "units": 4, "output": "mean"}]}
    network = build_network(arch, {"seq": list("ACGT")}, 12, 2)
    x = _toy_inputs(n=3)["seq"]
    result = deep_lift_shap(network, {"seq": x}, 0, n_shuffles=4, verbose=False)
    assert result.method == "integrated_gradients"
    assert np.allclose((result.hypothetical["seq"] * x).sum(-1), result.attributions["seq"].sum(-1), atol=1e-5)


def test_attribution_mode_restores_training_and_keeps_cudnn_on():
    network = LinearToy().train()
    before = torch.backends.cudnn.enabled
    with attribution_mode(network, torch.device("cpu")):
        assert not network.training
    assert network.training and torch.backends.cudnn.enabled == before


def test_cudnn_switch_keeps_other_settings_and_restores_itself():
    cudnn = torch.backends.cudnn
    before = (cudnn.enabled, cudnn.deterministic)
    cudnn.deterministic = True
    try:
        with _cudnn_off():
            assert not cudnn.enabled and cudnn.deterministic
        assert cudnn.enabled == before[0] and cudnn.deterministic
    finally:
        cudnn.deterministic = before[1]


def test_missing_branch_is_named():
    with pytest.raises(LociflowError, match=r"lack the branch\(es\) \['cons'\]"):
        saliency(LinearToy(), {"seq": _toy_inputs()["seq"]}, 0, verbose=False)


def test_target_out_of_range_is_refused():
    with pytest.raises(LociflowError, match="out of range.*2 classes"):
        saliency(LinearToy(), _toy_inputs(), 2, verbose=False)


def test_targets_of_wrong_length_are_refused():
    with pytest.raises(LociflowError, match="one per sequence"):
        saliency(LinearToy(), _toy_inputs(n=5), np.array([0, 1]), verbose=False)


def test_inputs_of_wrong_rank_are_refused():
    inputs = _toy_inputs()
    inputs["cons"] = inputs["cons"][..., 0]
    with pytest.raises(LociflowError, match=r"'cons' must be shaped \[N, L, C\]"):
        integrated_gradients(LinearToy(), inputs, 0, verbose=False)


def test_unknown_baseline_is_refused():
    with pytest.raises(LociflowError, match="Unknown baseline 'random'"):
        integrated_gradients(LinearToy(), _toy_inputs(), 0, baseline="random", verbose=False)


def test_baseline_of_wrong_shape_is_refused():
    with pytest.raises(LociflowError, match=r"Baseline for 'seq' has shape \(3, 4\)"):
        integrated_gradients(LinearToy(), _toy_inputs(), 0, baseline={"seq": np.zeros((3, 4))}, verbose=False)


def test_smoothgrad_noise_without_copies_is_refused():
    with pytest.raises(LociflowError, match="n_noise >= 1"):
        integrated_gradients(LinearToy(), _toy_inputs(), 0, noise=0.1, verbose=False)


def test_mutagenesis_of_an_unknown_or_non_one_hot_branch_is_refused():
    with pytest.raises(LociflowError, match="Cannot mutate branch 'fold'"):
        in_silico_mutagenesis(LinearToy(), _toy_inputs(), 0, branch="fold", verbose=False)
    with pytest.raises(LociflowError, match="needs a one-hot branch"):
        in_silico_mutagenesis(LinearToy(), _toy_inputs(), 0, branch="cons", verbose=False)


def test_attributions_of_an_ensemble_are_the_mean_of_its_networks():
    from lociflow.model.network import EnsembleNetwork
    from lociflow.model.presets import resolve_architecture

    window = 30
    architecture = resolve_architecture("cnn", None, ["seq"], window=window)
    members = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        members.append(build_network(architecture, {"seq": list("ACGT")}, window, 2).eval())
    ensemble = EnsembleNetwork(members).eval()
    rng = np.random.default_rng(0)
    inputs = {"seq": np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, window))]}
    methods = {
        "saliency": lambda net: saliency(net, inputs, 1, verbose=False).gradients["seq"],
        "ig": lambda net: integrated_gradients(net, inputs, 1, steps=20, verbose=False).attributions["seq"],
        "deepshap": lambda net: deep_lift_shap(net, inputs, 1, n_shuffles=3, verbose=False).attributions["seq"],
    }
    for name, method in methods.items():
        each = [method(m) for m in members]
        assert np.abs(each[0] - each[1]).max() > 1e-4, name
        np.testing.assert_allclose(method(ensemble), np.mean(each, axis=0), atol=1e-5, err_msg=name)

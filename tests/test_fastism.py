"""Mutagenesis that recomputes only changed windows gives the scores of full forward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lociflow.interpretation.fastism import LocalMutagenesis
from lociflow.interpretation.mutagenesis import in_silico_mutagenesis
from lociflow.model.network import build_network
from lociflow.model.presets import PRESETS, resolve_architecture


def _network(architecture, channels, window, seed=0):
    torch.manual_seed(seed)
    network = build_network(architecture, channels, window, 3).eval()
    # batch norm with statistics of its own, so that its shift and scale are exercised
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return network


def _inputs(branches, n, window, seed=0):
    rng = np.random.default_rng(seed)
    seq = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, window))]
    seq[0, 3] = 0  # an N: every base is a substitution there
    inputs = {"seq": seq}
    if "fold" in branches:
        inputs["fold"] = rng.random((n, window, 1)).astype(np.float32)
    return inputs


def _both(network, inputs, target=1):
    full = in_silico_mutagenesis(network, inputs, target, batch_size=300, verbose=False, fast=False)
    fast = in_silico_mutagenesis(network, inputs, target, batch_size=300, verbose=False, fast=True)
    return full, fast


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("window", [61, 24])
def test_every_preset_scores_like_full_forward_passes(preset, window):
    branches = ["seq", "fold"]
    channels = {"seq": list("ACGU"), "fold": ["mfe"]}
    network = _network(resolve_architecture(preset, None, branches, window=window), channels, window)
    full, fast = _both(network, _inputs(branches, 5, window))
    assert np.abs(full).max() > 1e-4  # the comparison is not between two arrays of zeros
    np.testing.assert_allclose(fast, full, rtol=0, atol=1e-5 * max(1.0, np.abs(full).max()))


def test_strides_dilations_valid_padding_and_average_pooling_score_like_full_passes():
    architecture = {
        "branches": {"seq": [
            {"type": "conv", "filters": 8, "kernel": 6, "activation": "gelu", "pool": "avg", "pool_size": 3},
            {"type": "conv", "filters": 8, "kernel": 4, "dilation": 2, "stride": 2, "padding": "valid",
             "activation": "exp", "pool": "max", "pool_size": 2},
            {"type": "conv", "filters": 8, "kernel": 3, "pool": "none", "activation": "leaky_relu"},
            {"type": "attention", "heads": 2},
        ]},
        "common": [{"type": "pool", "mode": "max_avg"}, {"type": "dense", "units": 8}],
    }
    for window in (101, 47):
        network = _network(architecture, {"seq": list("ACGT")}, window)
        local = LocalMutagenesis.for_network(network, "seq", window)
        assert local is not None and len(local.layers) >= (2 if window > 100 else 1)
        full, fast = _both(network, _inputs(["seq"], 4, window))
        np.testing.assert_allclose(fast, full, rtol=0, atol=1e-5 * max(1.0, np.abs(full).max()))


def test_the_default_preset_recomputes_narrow_windows():
    window = 150
    network = _network(resolve_architecture("cnn", None, ["seq"], window=window), {"seq": list("ACGT")}, window)
    local = LocalMutagenesis.for_network(network, "seq", window)
    assert local is not None
    assert [layer.length for layer in local.layers] == [75, 37, 18]
    # a substitution reaches a few positions of each layer, not the whole length
    assert all(layer.width <= 6 for layer in local.layers)


def test_networks_without_leading_convolutions_use_full_passes():
    window = 40
    rnn = _network(resolve_architecture("rnn", None, ["seq"], window=window), {"seq": list("ACGT")}, window)
    assert LocalMutagenesis.for_network(rnn, "seq", window) is None
    cnn = _network(resolve_architecture("cnn", None, ["seq"], window=window), {"seq": list("ACGT")}, window)
    traced = torch.jit.trace(cnn, torch.zeros(2, window, 4))  # a model trained elsewhere, say
    assert LocalMutagenesis.for_network(traced, "seq", window) is None
    full, fast = _both(rnn, _inputs(["seq"], 2, window))
    np.testing.assert_array_equal(full, fast)


def test_an_ensemble_scores_like_full_passes_and_averages_its_members():
    from lociflow.model.network import EnsembleNetwork

    branches, window = ["seq", "fold"], 40
    channels = {"seq": list("ACGU"), "fold": ["mfe"]}
    architecture = resolve_architecture("cnn", None, branches, window=window)
    members = [_network(architecture, channels, window, seed=s) for s in (1, 2, 3)]
    ensemble = EnsembleNetwork(members).eval()
    inputs = _inputs(branches, 4, window)
    assert LocalMutagenesis.for_network(ensemble, "seq", window) is not None
    full, fast = _both(ensemble, inputs)
    np.testing.assert_allclose(fast, full, rtol=0, atol=1e-5 * max(1.0, np.abs(full).max()))
    each = [in_silico_mutagenesis(m, inputs, 1, verbose=False) for m in members]
    np.testing.assert_allclose(fast, np.mean(each, axis=0), rtol=0, atol=1e-5 * max(1.0, np.abs(full).max()))
    assert np.abs(each[0] - each[1]).max() > 1e-3, "members differ, so the mean is a real average"

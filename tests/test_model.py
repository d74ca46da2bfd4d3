"""Networks from layer specs: presets, every layer type, joins, shapes, training, summaries."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lociflow.errors import ConfigError
from lociflow.model.network import build_network
from lociflow.model.presets import DEFAULT_PRESET, PRESETS, resolve_architecture
from lociflow.model.summary import draw_diagram, receptive_field, summarize

CHANNELS = {"seq": ["A", "C", "G", "U"], "fold": ["paired", "unpaired", "unpaired_prob"], "cons": ["cons"]}

EVERY_LAYER = {
    "branches": {
        "seq": [
            {"type": "conv", "filters": 8, "kernel": 5, "activation": "exp", "batch_norm": True, "pool": "max"},
            {"type": "residual", "filters": 8, "kernel": 3, "dilations": [1, 2], "dropout": 0.1},
            {"type": "attention", "heads": 2, "dropout": 0.1},
            {"type": "lstm", "units": 4, "output": "sequence"},
            {"type": "gru", "units": 4, "bidirectional": False, "output": "last"},
        ],
        "fold": [
            {"type": "conv", "filters": 4, "kernel": 4, "stride": 2, "activation": "gelu", "pool": "avg"},
            {"type": "pool", "mode": "max_avg"},
        ],
        "cons": [
            {"type": "conv", "filters": 4, "kernel": 3, "padding": "valid", "activation": "leaky_relu"},
            {"type": "pool", "mode": "flatten"},
        ],
    },
    "common": [{"type": "dense", "units": 8, "batch_norm": True, "dropout": 0.2},
               {"type": "dense", "units": 4, "activation": "none"}],
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny networks gain nothing from threads, and busy machines make them slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def inputs_for(channels: dict[str, list[str]], window: int, n: int = 6, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand(n, window, len(chans), generator=generator) for chans in channels.values()]


def build(architecture, channels=CHANNELS, window=40, n_classes=3, seed=0):
    torch.manual_seed(seed)
    return build_network(architecture, channels, window, n_classes)


@pytest.mark.parametrize("window", [150, 50, 9])
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_gives_one_logit_per_class(preset, window):
    arch = resolve_architecture(preset, None, list(CHANNELS), window)
    network = build(arch, window=window)
    logits = network(*inputs_for(CHANNELS, window))
    assert logits.shape == (6, 3)
    assert network.branches == ["seq", "fold", "cons"]
    assert network.classes_count == 3
    assert torch.isfinite(logits).all()


def test_spec_with_every_layer_type_gives_logits():
    network = build(EVERY_LAYER)
    assert network(*inputs_for(CHANNELS, 40)).shape == (6, 3)
    assert network.is_recurrent
    assert set(network.first_conv) == {"seq", "fold", "cons"}


def _loss_after_steps(network, xs, labels, steps, lr=1e-3):
    optimiser = torch.optim.Adam(network.parameters(), lr=lr)
    losses = []
    for step in range(steps + 1):
        torch.manual_seed(123)  # the same dropout masks before and after the step
        loss = nn.functional.cross_entropy(network(*xs), labels)
        losses.append(loss.item())
        if step < steps:
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return losses


@pytest.mark.parametrize("preset", [*sorted(PRESETS), "every_layer"])
def test_one_training_step_lowers_the_loss(preset):
    arch = EVERY_LAYER if preset == "every_layer" else resolve_architecture(preset, None, list(CHANNELS), 40)
    network = build(arch)
    network.train()
    xs = inputs_for(CHANNELS, 40, n=16)
    labels = torch.arange(16) % 3
    before, after = _loss_after_steps(network, xs, labels, 1)
    assert after < before


def test_planted_motif_is_learned_by_the_default_preset(synthetic_dataset):
    from lociflow.io.store import open_dataset

    dataset = open_dataset(synthetic_dataset(n=200, window=24))
    arch = resolve_architecture(None, None, dataset.branches, dataset.window)
    network = build(arch, dataset.channels, dataset.window, 2)
    train = dataset.split("train")
    xs = [torch.from_numpy(np.array(train.inputs["seq"], dtype=np.float32))]
    labels = torch.from_numpy(np.array(train.labels))
    losses = _loss_after_steps(network, xs, labels, 12, lr=1e-2)
    assert losses[-1] < 0.6 * losses[0]


def test_default_preset_is_used_when_nothing_is_given():
    assert resolve_architecture(None, None, ["seq"], 150) == resolve_architecture(DEFAULT_PRESET, None, ["seq"], 150)


def test_same_seed_gives_identical_weights():
    arch = resolve_architecture("cnn_rnn", None, list(CHANNELS), 40)
    first, second, other = build(arch, seed=7), build(arch, seed=7), build(arch, seed=8)
    for (name, a), (_, b), (_, c) in zip(first.state_dict().items(), second.state_dict().items(),
                                         other.state_dict().items()):
        assert torch.equal(a, b), name
    assert not all(torch.equal(a, c) for a, c in zip(first.parameters(), other.parameters()))


def test_branches_join_by_channels_when_lengths_agree():
    arch = {"branches": {"seq": [{"type": "conv", "filters": 8, "kernel": 3, "pool": "max"}],
                         "fold": [{"type": "conv", "filters": 5, "kernel": 3, "pool": "max"}],
                         "cons": [{"type": "conv", "filters": 2, "kernel": 3, "pool": "max", "pool_size": 2}]},
            "common": [{"type": "conv", "filters": 6, "kernel": 3}]}
    network = build(arch)
    assert network.merge == "channels"
    assert network.common[0].conv.in_channels == 15
    assert network(*inputs_for(CHANNELS, 40)).shape == (6, 3)


def test_branches_of_unequal_length_are_flattened_and_joined():
    arch = {"branches": {"seq": [{"type": "conv", "filters": 8, "kernel": 3, "pool": "max", "pool_size": 4}],
                         "fold": [{"type": "conv", "filters": 5, "kernel": 3, "pool": "max"}],
                         "cons": []},
            "common": [{"type": "dense", "units": 7}]}
    network = build(arch)
    assert network.merge == "flatten"
    assert network.common[0].linear.in_features == 10 * 8 + 20 * 5 + 40 * 1
    assert network(*inputs_for(CHANNELS, 40)).shape == (6, 3)


def test_inputs_are_channels_last_in_branch_order():
    arch = {"branches": {"seq": [], "cons": []}, "common": []}
    channels = {"seq": CHANNELS["seq"], "cons": ["cons"]}
    network = build(arch, channels, window=5, n_classes=2)
    seq, cons = torch.rand(2, 5, 4), torch.rand(2, 5, 1)
    head = network.head[1]
    expected = head(torch.cat([seq.transpose(1, 2), cons.transpose(1, 2)], dim=1).flatten(1))
    assert torch.allclose(network(seq, cons), expected)
    with pytest.raises(TypeError, match="takes 2 inputs"):
        network(seq)


def test_uint8_one_hot_is_accepted_as_float():
    arch = resolve_architecture("cnn", None, ["seq"], 20)
    network = build(arch, {"seq": CHANNELS["seq"]}, window=20, n_classes=2).eval()
    x = (torch.rand(3, 20, 4) > 0.5).to(torch.uint8)
    assert torch.equal(network(x), network(x.float()))


def test_last_recurrent_layer_returns_the_mean_and_earlier_ones_the_sequence():
    arch = resolve_architecture(None, {"branches": {"seq": [{"type": "gru", "units": 4}, {"type": "lstm", "units": 4},
                                                            {"type": "dense", "units": 3}]}}, ["seq"])
    layers = arch["branches"]["seq"]
    assert [layer["output"] for layer in layers[:2]] == ["sequence", "mean"]
    network = build(arch, {"seq": CHANNELS["seq"]}, window=12, n_classes=2).eval()
    x = torch.rand(2, 12, 4)
    first = network.encoders[0][0]
    hidden = first(x.transpose(1, 2))
    outputs, _ = network.encoders[0][1].rnn(hidden.transpose(1, 2))
    assert torch.allclose(network.encoders[0][1](hidden), outputs.mean(dim=1))


def test_last_state_of_a_bidirectional_layer_joins_both_directions_ends():
    arch = {"branches": {"seq": [{"type": "gru", "units": 3, "output": "last"}]}, "common": []}
    network = build(arch, {"seq": CHANNELS["seq"]}, window=7, n_classes=2).eval()
    block, x = network.encoders[0][0], torch.rand(2, 4, 7)
    _, h_n = block.rnn(x.transpose(1, 2))  # final states: forward at the end, backward at the start
    assert torch.allclose(block(x), torch.cat([h_n[0], h_n[1]], dim=1), atol=1e-6)


def test_preset_sections_can_be_replaced_by_a_partial_architecture():
    custom = [{"type": "dense", "units": 5}]
    arch = resolve_architecture("cnn", {"common": custom}, ["seq", "fold"], 60)
    assert arch["branches"] == resolve_architecture("cnn", None, ["seq", "fold"], 60)["branches"]
    assert [layer["units"] for layer in arch["common"]] == [5]


def test_activations_are_distinct_module_instances():
    network = build(resolve_architecture("residual", None, list(CHANNELS), 40))
    activations = [m for m in network.modules() if isinstance(m, (nn.ReLU, nn.GELU, nn.LeakyReLU))]
    assert len(activations) > 3
    assert len({id(m) for m in activations}) == len(activations)


def test_first_conv_only_names_convolutions_that_read_the_input():
    arch = {"branches": {"seq": [{"type": "conv", "filters": 6, "kernel": 5}], "fold": [{"type": "gru", "units": 2}],
                         "cons": [{"type": "residual", "filters": 4}]}, "common": []}
    network = build(arch)
    assert list(network.first_conv) == ["seq"]
    assert network.first_conv["seq"].weight.shape == (6, 4, 5)


@pytest.mark.parametrize("padding,kernel,length", [("same", 4, 40), ("same", 5, 40), ("valid", 5, 36)])
def test_convolution_padding_gives_the_documented_length(padding, kernel, length):
    arch = {"branches": {"seq": [{"type": "conv", "filters": 3, "kernel": kernel, "padding": padding}]}, "common": []}
    network = build(arch, {"seq": CHANNELS["seq"]}, window=40, n_classes=2)
    assert network.encoders[0](torch.rand(1, 4, 40)).shape == (1, 3, length)


def test_receptive_field_matches_hand_computation():
    stack = [
        {"type": "conv", "kernel": 9, "pool": "max", "pool_size": 2},  # 1 + 8 = 9, pool + 1 = 10; step 2
        {"type": "conv", "kernel": 5, "dilation": 2},                   # + 4 * 2 * 2 = 16 -> 26
        {"type": "residual", "kernel": 3, "dilations": [1, 2]},          # + 2*1*2 + 2*2*2 = 12 -> 38
        {"type": "conv", "kernel": 3, "stride": 2},                      # + 2 * 2 = 4 -> 42; step 4
        {"type": "conv", "kernel": 3},                                   # + 2 * 4 = 8 -> 50
        {"type": "gru"},                                                 # mixes everything: stops
        {"type": "conv", "kernel": 99},
    ]
    assert receptive_field(stack) == 50


def test_summary_lists_layers_shapes_parameters_and_receptive_fields():
    arch = resolve_architecture("cnn", None, ["seq", "fold"], 60)
    channels = {"seq": CHANNELS["seq"], "fold": CHANNELS["fold"]}
    network = build(arch, channels, window=60, n_classes=2)
    text = summarize(network, channels, 60)
    assert "conv 64 x 9, exp, bn, max pool 2, dropout 0.2" in text and "conv 64 x 7, relu, bn" in text
    assert "30 x 64" in text and "concatenate channels" in text
    total = sum(p.numel() for p in network.parameters())
    assert f"total parameters: {total:,}" in text
    assert "seq: 44 of 60 positions; then dense sees the whole window" in text


def test_diagram_is_written_as_png_and_svg(tmp_path):
    arch = resolve_architecture("cnn_rnn", None, list(CHANNELS), 50)
    written = draw_diagram(arch, CHANNELS, 50, tmp_path / "network.png", n_classes=3)
    assert [p.name for p in written] == ["network.png", "network.svg"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "bigru 64" in written[1].read_text()


# --------------------------------------------------------------------------- bad specs


def seq_arch(*layers, common=()):
    return {"branches": {"seq": list(layers)}, "common": list(common)}


BAD_SPECS = [
    (seq_arch({"type": "conv"}, {"type": "dense", "units": 8}, {"type": "gru"}),
     "branch seq, layer 3 (gru): a recurrent layer cannot follow a dense or global pool layer "
     "(the sequence is already collapsed by layer 2 (dense))"),
    (seq_arch({"type": "pool", "mode": "avg"}, {"type": "conv"}),
     "branch seq, layer 2 (conv): a convolution cannot follow a dense or global pool layer"),
    (seq_arch({"type": "gru", "output": "mean"}, {"type": "attention"}),
     "branch seq, layer 2 (attention): an attention layer cannot follow a gru layer with output: mean "
     "(the sequence is already collapsed by layer 1 (gru)); move it before that layer; or set output: sequence on it."),
    (seq_arch({"type": "conv", "pool": "max"}, {"type": "conv", "pool": "max"},
              {"type": "conv", "pool": "max", "pool_size": 8}),
     "branch seq, layer 3 (conv): pooling shrinks the branch to zero length (window 20 -> 10 -> 5 -> 0)"),
    (seq_arch({"type": "conv", "kernel": 25, "padding": "valid"}),
     "branch seq, layer 1 (conv): a kernel spanning 25 positions does not fit the 20 positions left"),
    (seq_arch({"type": "conv", "filters": 6}, {"type": "attention", "heads": 4}),
     "branch seq, layer 2 (attention): 4 heads do not divide the 6 channels"),
    (seq_arch({"type": "conf"}), "branch seq, layer 1: unknown layer type 'conf' (did you mean 'conv'?)"),
    (seq_arch({"filters": 3}), "branch seq, layer 1: the layer has no 'type'"),
    (seq_arch({"type": "conv", "filter": 3}), "branch seq, layer 1 (conv): unknown key 'filter' (did you mean 'filters'?)"),
    (seq_arch({"type": "conv", "kernel": 0}), "branch seq, layer 1 (conv): kernel: Input should be greater than or equal to 1"),
    (seq_arch({"type": "conv", "activation": "relu6"}), "branch seq, layer 1 (conv): activation: Input should be"),
    (seq_arch({"type": "gru", "output": "max"}), "branch seq, layer 1 (gru): output: Input should be"),
    (seq_arch(common=[{"type": "dense"}, {"type": "lstm"}]),
     "common, layer 2 (lstm): a recurrent layer cannot follow a dense or global pool layer"),
    (seq_arch({"type": "pool", "mode": "flatten"}, common=[{"type": "conv"}]),
     "common, layer 1 (conv): a convolution needs a sequence, but the joined branches are already a flat vector "
     "(branch seq, layer 1 (pool) ends the sequence)."),
    ({"branches": {"seq": {"type": "conv"}}}, "branch seq: expected a list of layers"),
    ({"branches": {"seq": []}, "comon": []}, "architecture: unknown key 'comon' (did you mean 'common'?)"),
    ({"branches": {"seq": [], "cons": []}},
     "the architecture has a section for branch 'cons', which the dataset does not have"),
    ({"branches": {}}, "the dataset has branch 'seq' but the architecture has no section for it"),
]


@pytest.mark.parametrize("architecture,message", BAD_SPECS)
def test_bad_spec_fails_before_training_naming_layer_and_problem(architecture, message):
    with pytest.raises(ConfigError) as caught:
        build_network(architecture, {"seq": CHANNELS["seq"]}, 20, 2)
    assert message in str(caught.value)


def test_common_sequence_layer_after_flattened_join_says_why():
    arch = {"branches": {"seq": [{"type": "conv", "pool": "max"}], "cons": []}, "common": [{"type": "gru"}]}
    with pytest.raises(ConfigError, match="common, layer 1 \\(gru\\).*the branches end with different lengths \\(seq 10, cons 20\\)"):
        build_network(arch, {"seq": CHANNELS["seq"], "cons": ["cons"]}, 20, 2)


def test_common_sequence_layer_after_a_collapsed_branch_names_that_branch_layer():
    arch = {"branches": {"seq": [{"type": "conv"}, {"type": "gru", "units": 4}]}, "common": [{"type": "attention"}]}
    with pytest.raises(ConfigError, match="common, layer 1 \\(attention\\): an attention layer needs a sequence, but "
                                          "the joined branches are already a flat vector \\(branch seq, layer 2 "
                                          "\\(gru\\) ends the sequence; set output: sequence on it\\)"):
        build_network(arch, {"seq": CHANNELS["seq"]}, 20, 2)


def test_unknown_preset_is_named_with_a_suggestion():
    with pytest.raises(ConfigError, match="unknown preset 'cnn_gru' \\(did you mean 'cnn_rnn'\\?\\)"):
        resolve_architecture("cnn_gru", None, ["seq"], 150)


def test_architecture_missing_a_dataset_branch_is_refused_when_no_preset_fills_it():
    arch = {"branches": {"seq": []}, "common": []}
    with pytest.raises(ConfigError, match="the dataset has branch 'fold'.*or also give a preset"):
        resolve_architecture(None, arch, ["seq", "fold"], 150)
    filled = resolve_architecture("cnn", arch, ["seq", "fold"], 150)
    assert filled["branches"]["seq"] == [] and len(filled["branches"]["fold"]) == 3


def test_architecture_naming_a_branch_the_dataset_lacks_is_refused_with_suggestion():
    with pytest.raises(ConfigError, match="branch 'fodl', which the dataset does not have \\(did you mean 'fold'\\?\\)"):
        resolve_architecture("cnn", {"branches": {"fodl": []}}, ["seq", "fold"], 150)


def test_fewer_than_two_classes_is_refused():
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_network(seq_arch(), {"seq": CHANNELS["seq"]}, 20, 1)


def test_train_config_reports_layer_mistakes_when_read():
    from lociflow.config import TrainConfig, parse_stage

    with pytest.raises(ConfigError, match="train: architecture: branch seq, layer 1 \\(conv\\): unknown key 'filter'"):
        parse_stage(TrainConfig, {"architecture": {"branches": {"seq": [{"type": "conv", "filter": 3}]}}}, "train")


def test_every_preset_has_a_description():
    from lociflow.model.presets import PRESET_DESCRIPTIONS

    assert set(PRESET_DESCRIPTIONS) == set(PRESETS)


def test_the_preset_table_and_the_config_name_the_same_presets():
    from lociflow.layout import PRESET_NAMES
    from lociflow.model.presets import PRESET_DESCRIPTIONS

    assert tuple(PRESETS) == PRESET_NAMES == tuple(PRESET_DESCRIPTIONS)


@pytest.mark.parametrize("window", [20, 50, 101, 150, 375])
def test_interpretable_preset_has_an_exponential_wide_pooling_first_layer_at_every_window(window):
    from lociflow.interpretation.filters import interpretable_first_layer
    from lociflow.model.plan import plan_network

    architecture = resolve_architecture("interpretable", None, ["seq", "fold"], window)
    first = architecture["branches"]["seq"][0]
    assert first["activation"] == "exp" and first["pool_size"] >= 2
    assert interpretable_first_layer(architecture)[0]
    assert interpretable_first_layer(resolve_architecture("cnn", None, ["seq"], window))[0]  # exponential
    assert not interpretable_first_layer(resolve_architecture("cnn_rnn", None, ["seq"], window))[0]
    plan_network(architecture, {"seq": list("ACGT"), "fold": list("().")}, window, 2)  # valid shapes


def test_the_default_cnn_is_exponential_only_in_the_first_layer_of_the_sequence():
    architecture = resolve_architecture("cnn", None, ["seq", "fold"], 150)
    seq, fold = architecture["branches"]["seq"], architecture["branches"]["fold"]
    assert [layer["activation"] for layer in seq] == ["exp", "relu", "relu"]
    assert [layer["activation"] for layer in fold] == ["relu", "relu", "relu"]

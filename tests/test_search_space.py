"""How search parameters change a trial's training config (no training here, except one
short run that checks training on a subset of branches), and the pruning callback."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lociflow.config import ConfigError, TrainConfig
from lociflow.io.store import open_dataset
from lociflow.searching.space import Param, parse_space, set_layer_count, trial_config
from lociflow.searching.trial import PruningCallback

CONV = {"type": "conv", "filters": 8, "kernel": 5, "pool": "max"}


@pytest.fixture
def two_branches(synthetic_dataset):
    return open_dataset(synthetic_dataset("seqcons", n=120, window=40, branches=("seq", "cons")))


def test_layer_count_keeps_the_first_layers_or_repeats_the_last_of_the_first_type():
    section = [dict(CONV, filters=1), dict(CONV, filters=2), {"type": "pool", "mode": "max"}]
    assert [l.get("filters") for l in set_layer_count(section, 1, "seq")] == [1, None]
    assert [l.get("filters") for l in set_layer_count(section, 4, "seq")] == [1, 2, 2, 2, None]
    assert set_layer_count(section, 0, "seq") == [{"type": "pool", "mode": "max"}]
    assert section[1]["filters"] == 2, "the input is not changed"


def test_stacked_recurrent_layers_pass_their_sequence_on():
    common = [{"type": "gru", "units": 8, "output": "mean"}, {"type": "dense", "units": 4}]
    stacked = set_layer_count(common, 3, "common")
    assert [l.get("output") for l in stacked] == ["sequence", "sequence", "mean", None]
    with pytest.raises(ConfigError, match="layers.seq: the section has no layers"):
        set_layer_count([], 2, "seq")


def test_trial_config_applies_options_layer_counts_then_layer_options(two_branches):
    base = {"preset": "cnn", "epochs": 3}
    values = {"learning_rate": 0.01, "early_stopping.patience": 2, "layers.seq": 2,
              "architecture.branches.seq.1.filters": 12, "layers.common": 2}
    config = trial_config(values, base, two_branches)
    assert isinstance(config, TrainConfig) and config.learning_rate == 0.01 and config.early_stopping.patience == 2
    seq = config.architecture["branches"]["seq"]
    assert [l["type"] for l in seq] == ["conv", "conv"] and seq[1]["filters"] == 12
    assert len(config.architecture["branches"]["cons"]) == 3, "other sections keep the preset's layers"
    assert [l["type"] for l in config.architecture["common"]] == ["dense", "dense"]
    assert config.preset == "cnn", "the preset stays on record next to its written-out layers"


def test_branches_choice_drops_the_sections_of_unused_branches(two_branches):
    (param,) = parse_space({"branches": {"type": "categorical", "choices": [["seq"], ["seq", "cons"]]}})
    assert param.labels == ['["seq"]', '["cons", "seq"]'.replace('"cons", "seq"', '"seq", "cons"')]
    assert param.decode(param.labels[0]) == ["seq"]
    base = {"architecture": {"branches": {"seq": [CONV], "cons": [CONV]}, "common": [{"type": "pool"}]}}
    config = trial_config({"branches": ["seq"], "layers.seq": 2}, base, two_branches)
    assert config.branches == ["seq"] and list(config.architecture["branches"]) == ["seq"]


def test_int_and_float_extremes_respect_the_step():
    assert Param("epochs", "int", low=5, high=32, step=5).extremes() == [5, 30]
    assert Param("dropout", "float", low=0.1, high=0.5, step=0.2).grid() == [0.1, 0.3, 0.5]


def test_training_on_a_subset_of_branches_saves_a_model_of_those_branches(synthetic_dataset, tmp_path):
    from lociflow.model.io import load_model
    from lociflow.training.run import train

    data = synthetic_dataset("seqcons", n=120, window=40, branches=("seq", "cons"))
    config = {"data": str(data), "branches": ["seq"], "epochs": 1, "batch_size": 32, "threads": 1,
              "architecture": {"branches": {"seq": [CONV], "cons": [CONV]},
                               "common": [{"type": "pool", "mode": "max"}, {"type": "dense", "units": 4}]}}
    model = load_model(train(config, tmp_path))
    assert model.branches == ["seq"] and list(model.channels) == ["seq"]
    split = open_dataset(data).split("test")
    assert model.predict_proba({"seq": split.inputs["seq"]}).shape == (len(split), 2)
    with pytest.raises(ConfigError, match="does not have.*did you mean 'cons'"):
        train({**config, "branches": ["con"]}, tmp_path)
    with pytest.raises(ConfigError, match="branches is empty"):
        train({**config, "branches": []}, tmp_path)


class _Trial:
    def __init__(self, prune_from: int):
        self.number, self.reports, self.prune_from = 7, [], prune_from

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return len(self.reports) >= self.prune_from


def test_pruning_reports_the_validation_loss_each_epoch_and_stops_training():
    trial = _Trial(prune_from=2)
    callback = PruningCallback(trial, maximize=True)
    trainer = SimpleNamespace(callback_metrics={"val_loss": 0.5}, current_epoch=0, should_stop=False)
    callback.on_train_epoch_end(trainer, None)
    assert trial.reports == [(1, -0.5)] and not trainer.should_stop, "negated: higher is better when maximising"
    trainer.current_epoch, trainer.callback_metrics = 1, {"val_loss": 0.4}
    callback.on_train_epoch_end(trainer, None)
    assert trainer.should_stop and callback.pruned_at == 2
    minimising = PruningCallback(_Trial(prune_from=9), maximize=False)
    minimising.on_train_epoch_end(SimpleNamespace(callback_metrics={"val_loss": 0.3}, current_epoch=0,
                                                  should_stop=False), None)
    assert minimising.trial.reports == [(1, 0.3)]


def test_a_branch_section_name_applies_to_trials_with_that_branch_only(two_branches):
    from lociflow.searching.space import check_space

    flat = {"type": "conv", "filters": 4, "kernel": 3}  # no pooling: repeating it keeps the lengths equal
    base = {"architecture": {"branches": {"seq": [flat], "cons": [flat]}, "common": [{"type": "pool"}]}}
    space = parse_space({"branches": {"type": "categorical", "choices": [["seq"], ["seq", "cons"]]},
                         "layers.cons": {"type": "int", "low": 1, "high": 2}})
    check_space(space, base, two_branches)  # fits the choice with cons
    without = trial_config({"branches": ["seq"], "layers.cons": 2}, base, two_branches)
    assert list(without.architecture["branches"]) == ["seq"], "ignored where the branch is left out"
    with_cons = trial_config({"branches": ["seq", "cons"], "layers.cons": 2}, base, two_branches)
    assert len(with_cons.architecture["branches"]["cons"]) == 2
    only_seq = parse_space({"branches": {"type": "categorical", "choices": [["seq"]]},
                            "layers.cons": {"type": "int", "low": 1, "high": 2}})
    with pytest.raises(ConfigError, match="no section 'cons'"):
        check_space(only_seq, base, two_branches)


def test_a_search_over_ensembles_is_refused(two_branches):
    from lociflow.searching.space import check_trial_config

    config = TrainConfig.model_validate({"data": str(two_branches.path), "ensemble": 3})
    with pytest.raises(ConfigError, match="ensemble: 3 in a search: trials compare single networks"):
        check_trial_config(config, two_branches)

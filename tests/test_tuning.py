"""train.tune: a budgeted search on the validation split, then the model (lociflow.training.tuning)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

import lociflow
from lociflow.config import TrainConfig
from lociflow.io.store import DatasetDir
from lociflow.layout import TUNING_DIR
from lociflow.model.io import load_model
from lociflow.training.tuning import FAMILIES, tuning_space

FAST = {"epochs": 1, "batch_size": 32, "threads": 1, "tune": {"trials": 3, "epochs": 1}}


@pytest.fixture
def data(synthetic_dataset):
    return synthetic_dataset("seq", n=160, window=40)


@pytest.fixture
def watched(monkeypatch):
    """Record which splits are opened by search trials and by the final training."""
    import lociflow.training.run

    real_train, real_split = lociflow.training.run.train, DatasetDir.split
    seen: list[tuple[str, str]] = []
    current = ["outside"]

    def train(*args, **kwargs):
        current.append(kwargs.get("scored_split", "test"))
        try:
            return real_train(*args, **kwargs)
        finally:
            current.pop()

    def split(self, name):
        seen.append((current[-1], name))
        return real_split(self, name)

    monkeypatch.setattr(lociflow.training.run, "train", train)
    monkeypatch.setattr(DatasetDir, "split", split)
    return seen


def test_a_tune_of_three_trials_leaves_a_model_and_never_reads_the_test_split(data, tmp_path, watched):
    folder = lociflow.train({**FAST, "data": str(data)}, tmp_path, name="tuned")
    trials = pd.read_csv(folder / TUNING_DIR / "trials.tsv", sep="\t")
    assert len(trials) == 3 and (trials["state"] == "complete").sum() >= 1
    assert not (tmp_path / f"tuned.{TUNING_DIR}").exists(), "the search moved into the run folder"
    trial_splits = {name for who, name in watched if who == "valid"}
    assert trial_splits and "test" not in trial_splits, "search trials never open the test split"
    for metrics_file in (folder / TUNING_DIR / "trials").glob("trial-*/metrics.json"):
        assert json.loads(metrics_file.read_text())["split"] == "valid"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["tuning"]["trials"] == 3
    assert set(metrics["tuning"]["params"]) <= set(tuning_space(TrainConfig(**{**FAST, "data": str(data)}),
                                                                lociflow.open_dataset(data)))
    params = yaml.safe_load((folder / "params.yaml").read_text())["train"]
    assert params["tune"] is None, "params.yaml trains the chosen settings again without searching"
    model = load_model(folder)
    assert model.classes and (folder / "model.safetensors").exists()


def test_the_first_trial_of_a_tune_trains_the_settings_as_given(synthetic_dataset, tmp_path):
    from lociflow.searching.params import parse_space
    from lociflow.searching.space import base_values, resolved_architecture, trial_config

    data = synthetic_dataset("wide", n=160, window=150)
    dataset = lociflow.open_dataset(data)
    config = TrainConfig(**{**FAST, "data": str(data)})
    space = tuning_space(config, dataset)
    base = {**config.dump(), "tune": None, "ensemble": 1, "data": str(data)}
    first = base_values(parse_space(space), base, dataset)
    assert first == {"preset": "cnn", "layers.seq": 3, "architecture.branches.seq.0.filters": 64,
                     "architecture.common.0.dropout": 0.3, "learning_rate": 0.001, "augment.shift": 3}
    trial = trial_config(first, base, dataset)
    plain = TrainConfig(**base)
    assert trial.architecture == resolved_architecture(plain, dataset), "the same network as training without tune"
    assert (trial.learning_rate, trial.augment.shift_for(150)) == (plain.learning_rate, plain.augment.shift_for(150))

    folder = lociflow.train({**FAST, "data": str(data), "tune": {"trials": 2, "epochs": 1}}, tmp_path, name="t")
    trials = pd.read_csv(folder / TUNING_DIR / "trials.tsv", sep="\t")
    row = trials.iloc[0]
    assert row["preset"] == "cnn" and row["layers.seq"] == 3 and row["learning_rate"] == pytest.approx(0.001)
    assert "first trial: preset=cnn" in (folder / TUNING_DIR / "run.log").read_text()


def test_an_interrupted_tune_resumes_without_repeating_trials(data, tmp_path, trainings):
    trainings.interrupt_at = 2
    config = {**FAST, "data": str(data)}
    with pytest.raises(KeyboardInterrupt):
        lociflow.train(config, tmp_path, name="again")
    search_folder = tmp_path / f"again.{TUNING_DIR}"
    assert search_folder.is_dir() and not (tmp_path / "again").exists()
    first = (search_folder / "trials" / "trial-0000" / "model.safetensors").stat().st_mtime_ns

    trainings.reset()
    folder = lociflow.train(config, tmp_path, name="again", resume=True)
    assert trainings.names == ["trial-0002", "trial-0003", "again"], "the cut-short trial, the missing one, then the model"
    assert (folder / TUNING_DIR / "trials" / "trial-0000" / "model.safetensors").stat().st_mtime_ns == first
    assert json.loads((folder / "metrics.json").read_text())["tuning"]["trials"] == 4  # 3 wanted, one cut short


def test_the_space_offers_the_families_and_leaves_out_what_cannot_fit(synthetic_dataset):
    wide = lociflow.open_dataset(synthetic_dataset("wide", n=60, window=150))
    space = tuning_space(TrainConfig(data="x"), wide)
    assert space["preset"]["choices"] == FAMILIES
    assert {"learning_rate", "augment.shift", "layers.seq", "architecture.common.0.dropout"} <= set(space)
    narrow = lociflow.open_dataset(synthetic_dataset("narrow", n=60, window=12))
    small = tuning_space(TrainConfig(data="x", preset="cnn"), narrow)
    assert "preset" not in small, "a preset given is kept"
    assert "augment.shift" not in small or max(small["augment.shift"]["choices"]) <= 1


def test_train_without_tune_is_unchanged_and_the_plain_function_refuses_tune(data, tmp_path):
    from lociflow.errors import ConfigError
    from lociflow.training.run import train

    with pytest.raises(ConfigError, match="train.tune is run by lociflow.train"):
        train({**FAST, "data": str(data)}, tmp_path)
    folder = lociflow.train({**FAST, "tune": None, "data": str(data)}, tmp_path, name="plain")
    assert not (folder / TUNING_DIR).exists()


def test_the_cli_tune_option_sets_the_trials(data, tmp_path):
    from typer.testing import CliRunner

    from lociflow.cli import app

    result = CliRunner().invoke(app, ["train", "--data", str(data), "-o", str(tmp_path), "--name", "cli", "--tune", "2",
                                      "--set", "epochs=1", "--set", "threads=1", "--set", "tune.epochs=1"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "cli" / TUNING_DIR / "trials.tsv", sep="\t")) == 2

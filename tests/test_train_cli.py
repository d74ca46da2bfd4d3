"""``lociflow train`` through the command line: a multi-branch run, the issue's contract
section, and the messages for bad input."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lociflow.cli import app
from lociflow.runs import read_ledger
from lociflow.training.callbacks import read_history

runner = CliRunner()

CONTRACT = """\
train:
  preset: cnn_rnn             # or architecture: {branches: {seq: [...]}, common: [...]}
  epochs: 30
  batch_size: 128
  optimizer: adam             # sgd | rmsprop | adam | adamw
  learning_rate: 0.001
  schedule: onecycle          # constant | step | exponential | plateau | cosine | onecycle
  early_stopping: {patience: 10, min_delta: 0.01}
  seed: 42
"""


def invoke(*args):
    logger = logging.getLogger("lociflow")
    handlers = list(logger.handlers)
    try:
        result = runner.invoke(app, [str(a) for a in args])
    finally:
        # the CLI's console handler writes to the runner's stream, closed after invoke
        logger.handlers[:] = handlers
    return result.exit_code, result.stdout, result.stderr


def test_multi_branch_model_trains_end_to_end_through_the_cli(synthetic_dataset, tmp_path):
    data = synthetic_dataset("multi", n=240, window=40, branches=("seq", "fold", "cons"))
    config = tmp_path / "train.yaml"
    conv = {"type": "conv", "filters": 4, "kernel": 5, "pool": "max"}
    config.write_text(yaml.safe_dump({"train": {
        "architecture": {"branches": {"seq": [conv], "fold": [conv], "cons": [conv]},
                         "common": [{"type": "gru", "units": 4}, {"type": "dense", "units": 8}]},
        "epochs": 5, "batch_size": 32, "threads": 1, "ensemble": 1,
    }}))
    code, out, err = invoke("train", "-c", config, "--data", data, "-o", tmp_path / "runs", "--name", "m",
                            "--epochs", 2, "--seed", 3)
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert folder == (tmp_path / "runs" / "m").resolve()
    for name in ("model.safetensors", "spec.yaml", "params.yaml", "run.log", "history.tsv", "metrics.json",
                 "plots/loss.png", "plots/accuracy.png", "plots/auroc.png", "plots/network.png",
                 "checkpoints/best.ckpt", "checkpoints/last.ckpt"):
        assert (folder / name).is_file(), name
    assert list((folder / "tensorboard").glob("events.out.tfevents.*"))
    params = yaml.safe_load((folder / "params.yaml").read_text())["train"]
    assert params["epochs"] == 2 and params["seed"] == 3
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    assert spec["branches"] == ["seq", "fold", "cons"] and spec["classes"] == ["bound", "unbound"]
    assert spec["window"] == 40 and spec["alphabet"] == "rna" and spec["preprocess"]["window"] == 40
    assert spec["architecture"]["common"][0]["type"] == "gru"
    history = (folder / "history.tsv").read_text().splitlines()
    assert history[0].split("\t") == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                      "val_auroc", "lr", "seconds"]
    rows = read_history(folder / "history.tsv")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(not math.isnan(r[k]) for r in rows for k in ("train_loss", "val_loss", "val_auroc"))
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["auroc"]) >= {"bound", "unbound", "macro"}
    assert {"auprc", "accuracy", "loss"} <= set(metrics)
    assert any("best epoch was the last" in w for w in metrics["warnings"])  # 2 epochs: not converged
    ledger = read_ledger(tmp_path / "runs")
    assert ledger["status"].tolist() == ["ok"]
    assert ledger["metrics"][0]["test_auroc"] == metrics["auroc"]["macro"]
    assert "total parameters" in err, "the model summary is shown"
    from lociflow.model.io import load_model

    assert load_model(folder).branches == ["seq", "fold", "cons"]


def test_the_contract_section_works_as_written(synthetic_dataset, tmp_path):
    data = synthetic_dataset("seq", n=200, window=40)
    config = tmp_path / "contract.yaml"
    config.write_text(CONTRACT)
    code, out, err = invoke("train", "-c", config, "--data", data, "-o", tmp_path / "runs", "--name", "c",
                            "--set", "epochs=1", "--set", "threads=1")
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    params = yaml.safe_load((folder / "params.yaml").read_text())["train"]
    assert params["preset"] == "cnn_rnn" and params["schedule"] == "onecycle" and params["epochs"] == 1
    assert params["early_stopping"] == {"monitor": "val_auroc", "patience": 10, "min_delta": 0.01}  # the default monitor
    metrics = json.loads((folder / "metrics.json").read_text())
    assert 0.0 <= metrics["auroc"]["macro"] <= 1.0


def test_missing_data_flag_says_what_to_pass(tmp_path):
    code, out, err = invoke("train", "-o", tmp_path / "runs", "--epochs", 1)
    assert code == 2
    assert "No dataset given: pass --data DATASET_DIR" in err
    assert out == ""


def test_data_folder_that_is_not_a_dataset_is_named(tmp_path):
    code, _, err = invoke("train", "--data", tmp_path, "-o", tmp_path / "runs")
    assert code == 2
    assert f"{tmp_path} is not a lociflow dataset" in err


def test_unknown_optimizer_in_the_config_lists_the_choices(synthetic_dataset, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("train:\n  optimizer: adamax\n")
    code, _, err = invoke("train", "-c", config, "--data", tmp_path, "-o", tmp_path / "runs")
    assert code == 2
    assert "train.optimizer" in err and "'adamw'" in err and "adamax" in err


@pytest.mark.parametrize("given, message", [
    ("three", "train.ensemble: ensemble must be a number of networks or auto (got 'three')\n"),
    ("0", "train.ensemble: ensemble must be from 1 to 20 networks, or auto (got 0)\n"),
])
def test_a_bad_ensemble_flag_is_explained_once(tmp_path, given, message):
    code, _, err = invoke("train", "--data", tmp_path, "--ensemble", given, "-o", tmp_path / "runs")
    assert code == 2
    assert message in err and err.count("(got") == 1


def test_misspelt_key_suggests_the_right_one(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("train:\n  learning_rat: 0.1\n")
    code, _, err = invoke("train", "-c", config, "--data", tmp_path, "-o", tmp_path / "runs")
    assert code == 2
    assert "did you mean 'learning_rate'" in err


def test_resume_without_a_name_is_refused(synthetic_dataset, tmp_path):
    data = synthetic_dataset("seq", n=100, window=40)
    code, _, err = invoke("train", "--data", data, "-o", tmp_path / "runs", "--resume")
    assert code == 2
    assert "--resume needs the --name of the interrupted run" in err


@pytest.mark.parametrize("settings, message", [
    (["--set", "batch_size=1"], "batch_size: 1 cannot train a network with batch normalisation"),
    (["--set", "architecture={branches: {seq: [{type: conv, filters: 1000000000, kernel: 9}]}}"],
     "the model needs"),
])
def test_untrainable_network_is_refused_before_anything_is_allocated_or_written(synthetic_dataset, tmp_path,
                                                                                settings, message):
    data = synthetic_dataset("seq", n=100, window=40)
    code, _, err = invoke("train", "--data", data, "-o", tmp_path / "runs", "--epochs", 1, *settings)
    assert code == 2, err
    assert message in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())

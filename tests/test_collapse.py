"""A training that collapses to one output is seen, restarted, and reported (training.callbacks.CollapseWatch)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from lociflow.training.callbacks import COLLAPSE_EPOCH, prior_loss
from lociflow.training.fit import MAX_RESTARTS
from lociflow.training.run import train

BASE = {
    "architecture": {"branches": {"seq": [{"type": "conv", "filters": 8, "kernel": 5, "pool": "max"}]},
                     "common": [{"type": "pool", "mode": "max"}, {"type": "dense", "units": 8}]},
    "epochs": 4, "batch_size": 32, "threads": 1, "schedule": "constant", "augment": {"shift": 0},
    "early_stopping": None, "ensemble": 1,
}
# a rate this large kills every ReLU in the first steps: the output is then one constant
COLLAPSING = {**BASE, "optimizer": "sgd", "learning_rate": 1e6}


@pytest.fixture
def data(synthetic_dataset):
    return synthetic_dataset("seq", n=240, window=40)


def test_a_collapsed_training_is_restarted_and_reported(data, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="lociflow.train"):
        folder = train({**COLLAPSING, "data": str(data)}, tmp_path, name="collapsed")
    metrics = json.loads((folder / "metrics.json").read_text())
    restarts = metrics["restarts"]
    assert len(restarts) == MAX_RESTARTS
    assert [r["epoch"] for r in restarts] == [COLLAPSE_EPOCH] * MAX_RESTARTS
    assert [r["seed"] for r in restarts] == [1042, 2042] and restarts[1]["learning_rate"] == 2.5e5
    assert "same output" in restarts[0]["reason"]
    assert any("stayed collapsed" in w for w in metrics["warnings"]), "a model that never learned says so"
    assert sum("training collapsed" in r.message for r in caplog.records) == MAX_RESTARTS
    # the history is that of the last attempt only, trained to the end
    assert len((folder / "history.tsv").read_text().strip().splitlines()) == 1 + BASE["epochs"]


def test_a_healthy_training_records_no_restart(data, tmp_path):
    folder = train({**BASE, "learning_rate": 0.01, "data": str(data)}, tmp_path, name="healthy")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["restarts"] == []
    assert not any("collapsed" in w for w in metrics["warnings"])


def test_the_loss_at_chance_is_the_entropy_of_the_class_shares():
    assert prior_loss(np.array([0, 1, 0, 1]), 2) == pytest.approx(np.log(2))
    assert prior_loss(np.array([0, 0, 0, 1]), 2) == pytest.approx(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)))
    assert prior_loss(np.array([0, 0]), 3) == 0.0

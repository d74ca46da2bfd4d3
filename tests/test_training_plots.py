"""Training output a person reads: epochs numbered from 1 in the progress bar as in
history.tsv, integer epoch ticks, and the best epoch marked in the plots."""

from __future__ import annotations

import math

import pytest

from lociflow.training.callbacks import epoch_description, read_history
from lociflow.training.plots import best_epochs, history_figure, plot_history
from lociflow.training.run import train

ROWS = [
    {"epoch": 1, "train_loss": 0.70, "val_loss": 0.69, "val_auroc": 0.60},
    {"epoch": 2, "train_loss": 0.60, "val_loss": 0.50, "val_auroc": 0.80},
    {"epoch": 3, "train_loss": 0.50, "val_loss": 0.50, "val_auroc": 0.85},
    {"epoch": 4, "train_loss": 0.40, "val_loss": 0.55, "val_auroc": math.nan},
]


def test_epoch_description_counts_from_one_and_names_the_total():
    assert epoch_description(0, 20) == "epoch 1 of 20"
    assert epoch_description(19, 20) == "epoch 20 of 20"
    assert epoch_description(4, -1) == "epoch 5"
    assert epoch_description(1, 3, "network 2 of 3") == "network 2 of 3, epoch 2 of 3"


def test_best_epoch_keeps_the_earliest_of_equal_values_and_follows_the_monitor():
    assert best_epochs(ROWS, "val_loss") == {None: 2}  # epochs 2 and 3 tie: the checkpoint stays at 2
    assert best_epochs(ROWS, "val_auroc") == {None: 3}  # higher is better, nan never counts
    ensemble = [{"member": 1, **r} for r in ROWS] + [{"member": 2, **r, "val_loss": 1 / r["epoch"]} for r in ROWS]
    assert best_epochs(ensemble, "val_loss") == {1: 2, 2: 4}


def test_plot_has_integer_epoch_ticks_and_a_line_at_the_best_epoch():
    fig = history_figure(ROWS, "Loss", ("train_loss", "val_loss"), "val_loss")
    ax = fig.axes[0]
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 4]
    assert ticks and all(float(t).is_integer() for t in ticks)
    vertical = [line for line in ax.get_lines() if len(set(line.get_xdata())) == 1]
    assert [line.get_xdata()[0] for line in vertical] == [2]
    assert "best epoch 2 (by val loss)" in [text.get_text() for text in ax.get_legend().get_texts()]


def test_plot_history_writes_the_three_pngs(tmp_path):
    paths = plot_history(ROWS, tmp_path, "val_auroc")
    assert sorted(p.name for p in paths) == ["accuracy.png", "auroc.png", "loss.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.fixture
def seq_data(synthetic_dataset):
    return synthetic_dataset("seq", n=160, window=40)


def test_progress_bar_says_epoch_k_of_n_like_history(seq_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LOCIFLOW_PROGRESS", "1")
    config = {"architecture": {"branches": {"seq": [{"type": "conv", "filters": 4, "kernel": 5, "pool": "max"}]},
                               "common": [{"type": "pool", "mode": "max"}, {"type": "dense", "units": 4}]},
              "epochs": 2, "batch_size": 32, "threads": 1, "ensemble": 1, "data": seq_data}
    folder = train(config, tmp_path / "runs", name="bar")
    err = capsys.readouterr().err
    assert "epoch 1 of 2" in err and "epoch 2 of 2" in err
    assert "Epoch 0" not in err and "Training:" not in err
    assert "batch/s" in err and "it/s" not in err.split("epoch 1 of 2", 1)[1]  # honest units
    assert [r["epoch"] for r in read_history(folder / "history.tsv")] == [1, 2]


def test_an_ensembles_progress_bar_names_the_network_of_how_many(seq_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LOCIFLOW_PROGRESS", "1")
    config = {"architecture": {"branches": {"seq": [{"type": "conv", "filters": 4, "kernel": 5, "pool": "max"}]},
                               "common": [{"type": "pool", "mode": "max"}, {"type": "dense", "units": 4}]},
              "epochs": 1, "batch_size": 32, "threads": 1, "ensemble": 2, "data": seq_data}
    train(config, tmp_path / "runs", name="bars")
    err = capsys.readouterr().err
    assert "network 1 of 2, epoch 1 of 1" in err and "network 2 of 2, epoch 1 of 1" in err
    assert "of 1, epoch" not in err

"""Warnings that say when a result should not be trusted, in metrics.json and predictions.tsv."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lociflow.metrics import classification_metrics
from lociflow.result_warnings import (
    auroc_interval,
    epoch_warnings,
    locus_warnings,
    metrics_warnings,
)

CLASSES = ["bound", "unbound"]


def scored(labels, probs, onehot=None):
    labels, probs = np.asarray(labels), np.asarray(probs, dtype=np.float64)
    return metrics_warnings(labels, probs, CLASSES, classification_metrics(labels, probs, CLASSES), onehot)


def test_a_good_model_on_a_large_test_split_has_no_warnings():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 2000)
    p = np.clip(np.where(labels == 0, 0.8, 0.2) + rng.normal(0, 0.1, len(labels)), 0.01, 0.99)
    assert scored(labels, np.stack([p, 1 - p], axis=1)) == []


def test_constant_predictions_and_chance_auroc_are_warned():
    labels = np.repeat([0, 1], 200)
    found = scored(labels, np.full((400, 2), 0.5))
    assert any("(nearly) constant" in w for w in found)
    assert any("includes 0.5: the model may have learned nothing" in w for w in found)


def test_small_test_split_states_its_interval():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 15)
    p = np.clip(np.where(labels == 0, 0.6, 0.4) + rng.normal(0, 0.2, 30), 0.01, 0.99)
    found = scored(labels, np.stack([p, 1 - p], axis=1))
    small = [w for w in found if "too small to tell models apart" in w]
    assert small and "30 loci" in small[0] and "95% interval [" in small[0]


def test_hanley_mcneil_interval_narrows_with_more_loci():
    wide, narrow = auroc_interval(0.8, 20, 20), auroc_interval(0.8, 2000, 2000)
    assert wide[0] < narrow[0] < 0.8 < narrow[1] < wide[1]
    assert narrow[1] - narrow[0] < 0.03


def test_classes_padded_differently_are_warned():
    labels = np.repeat([0, 1], 50)
    onehot = np.zeros((100, 10, 4), dtype=np.uint8)
    onehot[:, :, 0] = 1
    onehot[50:, :4] = 0  # the second class is 40% padding
    p = np.where(labels == 0, 0.9, 0.1)
    found = scored(labels, np.stack([p, 1 - p], axis=1), onehot)
    assert any("differ in how much of each window is N or padding (bound: 0%, unbound: 40%)" in w for w in found)


def test_best_epoch_first_or_last_is_warned_unless_stopped_early():
    assert "first" in epoch_warnings(1, 10, stopped_early=True)[0]
    assert "had not yet converged" in epoch_warnings(10, 10, stopped_early=False)[0]
    assert epoch_warnings(10, 10, stopped_early=True) == [] and epoch_warnings(4, 10, False) == []


def test_row_warnings_name_no_bases_padding_and_shifted_windows():
    onehot = np.zeros((4, 10, 4), dtype=np.uint8)
    onehot[1, :, 2] = 1
    onehot[2, :3, 1] = 1  # 70% N
    onehot[3, :, 3] = 1
    meta = pd.DataFrame({"start": [0, 100, 200, 0], "end": [10, 110, 210, 10],
                         "orig_start": [0, 102, 202, 3], "orig_end": [10, 108, 208, 5]})
    rows = locus_warnings(onehot, meta)
    assert rows[0] == "no informative bases (all N or ambiguity codes)"
    assert rows[1] == ""
    assert rows[2] == "most of the window is N or padding (70%)"
    assert rows[3] == "window shifted at a chromosome end"  # centred on 3-5 it would start at -1
    assert locus_warnings(None, None) == []


def test_recorded_warnings_read_back_and_tolerate_missing_or_old_files(tmp_path):
    import json

    from lociflow.result_warnings import recorded_warnings

    assert recorded_warnings(tmp_path) == []
    (tmp_path / "metrics.json").write_text(json.dumps({"auroc": {"macro": 0.5}}))
    assert recorded_warnings(tmp_path) == []
    (tmp_path / "metrics.json").write_text(json.dumps({"warnings": ["the best epoch was the first"]}))
    assert recorded_warnings(tmp_path) == ["the best epoch was the first"]
    (tmp_path / "metrics.json").write_text("{cut")
    assert recorded_warnings(tmp_path) == []

import numpy as np

from lociflow.metrics import classification_metrics


def test_perfect_three_class_predictions():
    labels = np.array([0, 1, 2, 0, 1, 2])
    probs = np.eye(3)[labels] * 0.9 + 0.1 / 3
    m = classification_metrics(labels, probs, ["a", "b", "c"])
    assert m["auroc"] == {"a": 1.0, "b": 1.0, "c": 1.0, "macro": 1.0, "micro": 1.0}
    assert m["accuracy"] == 1.0
    assert m["confusion_matrix"] == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]


def test_binary_auroc_matches_hand_count():
    labels = np.array([0, 0, 1, 1])
    p0 = np.array([0.9, 0.4, 0.6, 0.1])  # one of four positive/negative pairs misordered
    m = classification_metrics(labels, np.stack([p0, 1 - p0], 1), ["pos", "neg"])
    assert m["auroc"]["pos"] == 0.75
    assert m["accuracy"] == 0.5

"""Classification metrics for any number of classes (two is only a special case).

One function computes every number lociflow reports, so that training's
``metrics.json``, ``lociflow evaluate`` and the hyperparameter search agree exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn import metrics as skm

# One sentence per number a report shows, for readers who do not use it every day.
EXPLANATIONS = {
    "AUROC": "Area under the ROC curve: the chance that a random locus of the class scores higher than a "
             "random locus of the other class(es); 0.5 is guessing, 1 is perfect.",
    "AUPRC": "Area under the precision-recall curve (average precision): how pure the top-scored loci are; "
             "guessing gives the share of the class among the loci, 1 is perfect.",
    "balanced accuracy": "The share of each class's loci predicted correctly, averaged over the classes, "
                         "so that a large class cannot hide a small one.",
    "MCC": "Matthews correlation coefficient: the correlation between true and predicted classes, from -1 "
           "(always wrong) through 0 (no better than guessing) to 1 (perfect), fair for unbalanced classes.",
    "log loss": "The mean of -ln(probability given to the true class): 0 when every locus gets probability 1, "
                "0.693 for always saying 50:50 between two classes, large when confidently wrong.",
    "ECE": "Expected calibration error: how far predicted probabilities are from observed frequencies "
           "(averaged over 10 bins, weighted by their loci); 0 means a predicted 0.8 comes true 80% of the time.",
}


def _safe(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


def per_class_auc(labels: np.ndarray, probs: np.ndarray, classes: list[str]) -> tuple[dict, dict]:
    """One-vs-rest AUROC and AUPRC per class, with macro and micro averages.

    A class absent from ``labels`` (or the only class present) gets ``None``; averages skip it.

    Parameters
    ----------
    labels : numpy.ndarray
        ``[N]`` true class indices into ``classes``.
    probs : numpy.ndarray
        ``[N, K]`` predicted class probabilities.
    classes : list of str
        Class names, one per column of ``probs``.

    Returns
    -------
    auroc, auprc : dict
        Class name -> value (rounded to 6 decimals, or None), plus ``"macro"`` (mean over
        the classes with a value) and ``"micro"`` (all one-vs-rest pairs pooled); both
        None when no class has a value.
    """
    labels = np.asarray(labels)
    probs = np.asarray(probs, dtype=np.float64)
    onehot = np.eye(len(classes), dtype=np.int8)[labels]
    auroc: dict[str, Any] = {}
    auprc: dict[str, Any] = {}
    for k, name in enumerate(classes):
        positives = int(onehot[:, k].sum())
        if 0 < positives < len(labels):
            auroc[name] = _safe(skm.roc_auc_score(onehot[:, k], probs[:, k]))
            auprc[name] = _safe(skm.average_precision_score(onehot[:, k], probs[:, k]))
        else:
            auroc[name] = auprc[name] = None
    valid_roc = [v for v in auroc.values() if v is not None]
    valid_pr = [v for v in auprc.values() if v is not None]
    auroc["macro"] = _safe(np.mean(valid_roc)) if valid_roc else None
    auprc["macro"] = _safe(np.mean(valid_pr)) if valid_pr else None
    if valid_roc:
        auroc["micro"] = _safe(skm.roc_auc_score(onehot.ravel(), probs.ravel()))
        auprc["micro"] = _safe(skm.average_precision_score(onehot.ravel(), probs.ravel()))
    else:
        auroc["micro"] = auprc["micro"] = None
    return auroc, auprc


def classification_metrics(labels: np.ndarray, probs: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Every headline metric for predicted class probabilities ``probs`` [N, K].

    Parameters
    ----------
    labels : numpy.ndarray
        ``[N]`` true class indices into ``classes``.
    probs : numpy.ndarray
        ``[N, K]`` predicted class probabilities; the predicted class is the most
        probable one.
    classes : list of str
        Class names, one per column of ``probs``.

    Returns
    -------
    dict
        JSON-ready: ``auroc`` and ``auprc`` (per class, ``macro``, ``micro``, see
        :func:`per_class_auc`), ``accuracy``, ``balanced_accuracy`` (None with one class
        present), ``mcc``, ``f1`` (per class and macro), ``log_loss``,
        ``confusion_matrix`` (rows true, columns predicted, at the highest-probability
        class), ``classes``, and ``n`` per class.

    Raises
    ------
    ValueError
        When ``probs`` is not ``[len(labels), len(classes)]``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != (len(labels), len(classes)):
        raise ValueError(f"probs must be [N, {len(classes)}], got {probs.shape} for {len(labels)} labels")
    predicted = probs.argmax(axis=1)
    auroc, auprc = per_class_auc(labels, probs, classes)
    k = list(range(len(classes)))
    f1 = skm.f1_score(labels, predicted, labels=k, average=None, zero_division=0)
    clipped = np.clip(probs, 1e-7, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return {
        "auroc": auroc,
        "auprc": auprc,
        "accuracy": _safe(skm.accuracy_score(labels, predicted)),
        "balanced_accuracy": _safe(skm.balanced_accuracy_score(labels, predicted)) if len(set(labels)) > 1 else None,
        "mcc": _safe(skm.matthews_corrcoef(labels, predicted)),
        "f1": {**{c: _safe(v) for c, v in zip(classes, f1)}, "macro": _safe(np.mean(f1))},
        "log_loss": _safe(skm.log_loss(labels, clipped, labels=k)),
        "confusion_matrix": skm.confusion_matrix(labels, predicted, labels=k).tolist(),
        "classes": list(classes),
        "n": {c: int((labels == i).sum()) for i, c in enumerate(classes)},
    }

"""One-vs-rest ROC, precision-recall and calibration curves for any number of classes.

The curve points are tables (``class, x, y, threshold``) so that they can be written as
TSV, replotted elsewhere, and checked in tests; the plots are drawn from those tables.
Every class gets its own curve, plus the micro average (all one-vs-rest decisions pooled)
and the macro average (the per-class curves averaged on a common grid). A class absent
from the labels (or the only class present) has no curve.

With two classes the four curves say one thing twice (each class's curve mirrors the other's,
and the averages lie between them), so the plots and the headline show only the positive
class (:func:`positive_class`: the first class, or the one named ``positive``); the TSV
tables keep every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from lociflow.errors import ConfigError

CURVE_COLUMNS = ["class", "x", "y", "threshold"]
CALIBRATION_COLUMNS = ["class", "bin", "mean_predicted", "fraction_positive", "count"]
_GRID = np.linspace(0.0, 1.0, 201)


def _onehot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.int8)[np.asarray(labels, dtype=np.int64)]


def _scorable(onehot: np.ndarray) -> list[int]:
    """Classes with at least one positive and one negative example."""
    positives = onehot.sum(axis=0)
    return [k for k in range(onehot.shape[1]) if 0 < positives[k] < onehot.shape[0]]


def _frame(name: str, x, y, threshold) -> pd.DataFrame:
    return pd.DataFrame({"class": name, "x": np.asarray(x, float), "y": np.asarray(y, float),
                         "threshold": np.asarray(threshold, float)})


def roc_points(labels: np.ndarray, probs: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """ROC curve points: x = false positive rate, y = true positive rate.

    Rows for each scorable class, then ``micro`` and ``macro``. Thresholds are the
    probabilities at which the point is reached (``inf`` for the first point, NaN for
    the macro average, which has no single threshold).

    Parameters
    ----------
    labels : numpy.ndarray
        True class index per locus.
    probs : numpy.ndarray
        Predicted probabilities [N, K].
    classes : list of str
        Class names, in column order.

    Returns
    -------
    pandas.DataFrame
        :data:`CURVE_COLUMNS` rows; empty when no class is scorable.
    """
    onehot = _onehot(labels, len(classes))
    probs = np.asarray(probs, dtype=np.float64)
    frames, tprs = [], []
    for k in _scorable(onehot):
        fpr, tpr, thr = skm.roc_curve(onehot[:, k], probs[:, k], drop_intermediate=True)
        frames.append(_frame(classes[k], fpr, tpr, thr))
        # the TPR right at each grid FPR (the step curve's upper value)
        tprs.append(np.interp(_GRID, fpr, tpr))
    if not frames:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    fpr, tpr, thr = skm.roc_curve(onehot.ravel(), probs.ravel(), drop_intermediate=True)
    frames.append(_frame("micro", fpr, tpr, thr))
    macro = np.mean(tprs, axis=0)
    macro[0] = 0.0
    frames.append(_frame("macro", np.r_[0.0, _GRID], np.r_[0.0, macro], np.full(len(_GRID) + 1, np.nan)))
    return pd.concat(frames, ignore_index=True)


def _pr(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    precision, recall, thr = skm.precision_recall_curve(y, p, drop_intermediate=True)
    # sklearn ends with the point (recall 0, precision 1) that has no threshold
    return recall, precision, np.r_[thr, np.inf]


def _precision_at(grid: np.ndarray, recall: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Precision of the highest-threshold point reaching each recall in ``grid``."""
    order = np.arange(len(recall))[::-1]  # recall increasing, threshold decreasing
    rec, prec = recall[order], precision[order]
    index = np.clip(np.searchsorted(rec, grid, side="left"), 0, len(rec) - 1)
    return prec[index]


def pr_points(labels: np.ndarray, probs: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Precision-recall curve points: x = recall, y = precision.

    Rows for each scorable class, then ``micro`` and ``macro`` (precision averaged over
    classes at each recall of a common grid).

    Parameters
    ----------
    labels : numpy.ndarray
        True class index per locus.
    probs : numpy.ndarray
        Predicted probabilities [N, K].
    classes : list of str
        Class names, in column order.

    Returns
    -------
    pandas.DataFrame
        :data:`CURVE_COLUMNS` rows; empty when no class is scorable.
    """
    onehot = _onehot(labels, len(classes))
    probs = np.asarray(probs, dtype=np.float64)
    frames, precisions = [], []
    for k in _scorable(onehot):
        recall, precision, thr = _pr(onehot[:, k], probs[:, k])
        frames.append(_frame(classes[k], recall, precision, thr))
        precisions.append(_precision_at(_GRID, recall, precision))
    if not frames:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    recall, precision, thr = _pr(onehot.ravel(), probs.ravel())
    frames.append(_frame("micro", recall, precision, thr))
    frames.append(_frame("macro", _GRID[::-1], np.mean(precisions, axis=0)[::-1], np.full(len(_GRID), np.nan)))
    return pd.concat(frames, ignore_index=True)


def calibration_points(labels: np.ndarray, probs: np.ndarray, classes: list[str], n_bins: int = 10) -> pd.DataFrame:
    """Reliability-diagram bins per class: mean predicted probability vs observed frequency.

    Uniform bins over [0, 1]; empty bins are left out. ``count`` is the loci in the bin.

    Parameters
    ----------
    labels : numpy.ndarray
        True class index per locus.
    probs : numpy.ndarray
        Predicted probabilities [N, K].
    classes : list of str
        Class names, in column order.
    n_bins : int
        Number of bins. Default is 10.

    Returns
    -------
    pandas.DataFrame
        :data:`CALIBRATION_COLUMNS` rows, by class then bin.
    """
    onehot = _onehot(labels, len(classes))
    probs = np.asarray(probs, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    rows = []
    for k, name in enumerate(classes):
        bins = np.clip(np.digitize(probs[:, k], edges[1:-1]), 0, n_bins - 1)
        for b in range(n_bins):
            inside = bins == b
            n = int(inside.sum())
            if n:
                rows.append((name, b, float(probs[inside, k].mean()), float(onehot[inside, k].mean()), n))
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


def expected_calibration_error(points: pd.DataFrame) -> dict[str, float]:
    """Per class: the count-weighted mean gap between predicted and observed frequency.

    Parameters
    ----------
    points : pandas.DataFrame
        The bins of :func:`calibration_points`.

    Returns
    -------
    dict of str to float
        Class name -> expected calibration error.
    """
    out = {}
    for name, group in points.groupby("class", sort=False):
        gap = (group["mean_predicted"] - group["fraction_positive"]).abs()
        out[str(name)] = float((gap * group["count"]).sum() / group["count"].sum())
    return out


def positive_class(classes: list[str], positive: str | None = None) -> str | None:
    """The class a two-class evaluation is about; None for three or more classes.

    Why: with two classes, one ROC curve, one PR curve, one AUROC and one AUPRC answer the
    question; which class is "positive" is the user's (``positive:``), else the first class.

    Parameters
    ----------
    classes : list of str
        The model's classes, in column order.
    positive : str or None
        The class to report on. Default is None: the first class.

    Returns
    -------
    str or None
        The positive class, or None when there are not exactly two classes (every class then
        gets its own curve).

    Raises
    ------
    ConfigError
        ``positive`` is not one of ``classes``.
    """
    if positive is not None and positive not in classes:
        raise ConfigError(f"positive: {positive!r} is not a class of the model; give one of "
                          f"{', '.join(map(repr, classes))}, e.g. --set positive={classes[0]}.")
    if len(classes) != 2:
        return None
    return positive or classes[0]


def tied_share(scores: np.ndarray) -> float:
    """The share of loci whose score equals another locus's score.

    A tie: no threshold separates them, so a curve can only jump over them together.

    Parameters
    ----------
    scores : numpy.ndarray
        One score per locus.

    Returns
    -------
    float
        The share, 0.0 for no loci.
    """
    scores = np.asarray(scores)
    if len(scores) == 0:
        return 0.0
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    return float((counts[inverse] > 1).mean())


def headline(metrics: dict, positive: str | None = None) -> dict[str, float | None]:
    """The report's summary numbers: for two classes one AUROC and one AUPRC, of ``positive``
    against the other class; for more, the macro and micro averages.

    Parameters
    ----------
    metrics : dict
        A :func:`lociflow.metrics.classification_metrics` result.
    positive : str or None
        The positive class of a two-class evaluation (see :func:`positive_class`).
        Default is None (the averages).

    Returns
    -------
    dict of str to float or None
        Label -> value, in the order shown.
    """
    if positive is not None:
        other = next(c for c in metrics["classes"] if c != positive)
        return {f"AUROC ({positive} vs {other})": metrics["auroc"][positive],
                f"AUPRC ({positive})": metrics["auprc"][positive], "accuracy": metrics["accuracy"],
                "balanced accuracy": metrics["balanced_accuracy"], "MCC": metrics["mcc"],
                f"F1 ({positive})": metrics["f1"][positive], "log loss": metrics["log_loss"]}
    return {"AUROC (macro)": metrics["auroc"]["macro"], "AUROC (micro)": metrics["auroc"]["micro"],
            "AUPRC (macro)": metrics["auprc"]["macro"], "accuracy": metrics["accuracy"],
            "balanced accuracy": metrics["balanced_accuracy"], "MCC": metrics["mcc"],
            "F1 (macro)": metrics["f1"]["macro"], "log loss": metrics["log_loss"]}


def curve_figures(roc: pd.DataFrame, pr: pd.DataFrame, metrics: dict, labels: np.ndarray, probs: np.ndarray,
                  positive: str | None = None) -> list[tuple[str, object, str]]:
    """The ROC and PR figures of a report with their captions, as ``(stem, figure, caption)``.

    Two classes (``positive`` given): one curve each, of the positive class; a PR baseline at
    its share of the loci; the caption says how many scores are tied. More classes: every
    class and both averages, the PR baseline at 1 / classes.

    Parameters
    ----------
    roc, pr : pandas.DataFrame
        The points of :func:`roc_points` and :func:`pr_points`.
    metrics : dict
        A :func:`lociflow.metrics.classification_metrics` result (its classes, AUROC and
        AUPRC).
    labels : numpy.ndarray
        True class index per locus.
    probs : numpy.ndarray
        Predicted probabilities [N, K].
    positive : str or None
        The positive class of a two-class evaluation. Default is None (every class).

    Returns
    -------
    list of tuple of (str, matplotlib.figure.Figure, str)
        The ROC and then the PR figure.
    """
    classes = list(metrics["classes"])
    if positive is None:
        return [("roc_curve", plot_curves(roc, "roc", metrics["auroc"]),
                 "One class vs the rest; dashed: micro average, dotted: macro."),
                ("pr_curve", plot_curves(pr, "pr", metrics["auprc"], baseline=1.0 / len(classes)),
                 "Grey line: precision of random guessing for balanced classes.")]
    k = classes.index(positive)
    other = classes[1 - k]
    share = float(np.mean(np.asarray(labels) == k))
    tied = tied_share(np.asarray(probs)[:, k])
    ties = (f" {100 * tied:.0f}% of the loci share their score with another locus: a tie is drawn as a "
            "diagonal (ROC) or one flat step at the precision of the whole tie (PR)." if tied > 0.01 else "")
    title = f"{positive} vs {other}"
    return [("roc_curve", plot_curves(roc[roc["class"] == positive], "roc", metrics["auroc"], title=title),
             f"{positive} is the positive class; grey diagonal: random guessing.{ties}"),
            ("pr_curve", plot_curves(pr[pr["class"] == positive], "pr", metrics["auprc"], baseline=share, title=title),
             f"Grey line: random guessing, whose precision is the share of {positive} loci ({share:.2f}).{ties}")]


# --------------------------------------------------------------------------- plots

_AVERAGE_STYLE = {"micro": dict(color="black", linestyle="--"), "macro": dict(color="0.45", linestyle=":")}


def _class_colors(names: list[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def plot_curves(points: pd.DataFrame, kind: str, scores: dict[str, float | None] | None = None,
                baseline: float | None = None, title: str | None = None):
    """Draw ROC (``kind="roc"``) or precision-recall (``kind="pr"``) curves from points.

    ``scores`` (AUROC or AUPRC per class, ``micro``, ``macro``) go into the legend;
    ``baseline`` draws the precision of a random classifier on PR plots; ``title`` replaces
    "(one class vs rest)" in the title (e.g. "bound vs unbound" for two classes).

    The lines are drawn as their areas are computed: ROC points joined by straight lines
    (AUROC is the trapezoid area, so tied scores give a diagonal), PR points by steps that
    hold each point's precision down to the next lower recall (AUPRC is average precision,
    so a tie is one flat step, never an optimistic corner or a diagonal).

    Parameters
    ----------
    points : pandas.DataFrame
        :data:`CURVE_COLUMNS` rows.
    kind : {"roc", "pr"}
        Which curve.
    scores : dict of str to float or None, optional
        AUROC or AUPRC per class, ``micro`` and ``macro``, shown in the legend. Default is None.
    baseline : float or None
        The precision of random guessing, drawn on PR plots. Default is None.
    title : str or None
        Replaces "(one class vs rest)" in the title. Default is None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from lociflow.report import new_figure

    fig = new_figure(6.2, 5.2)
    ax = fig.add_subplot()
    names = [n for n in dict.fromkeys(points["class"]) if n not in _AVERAGE_STYLE]
    colors = _class_colors(names)
    label_score = "AUROC" if kind == "roc" else "AUPRC"
    for name in [*names, *[a for a in _AVERAGE_STYLE if a in set(points["class"])]]:
        group = points[points["class"] == name]
        style = _AVERAGE_STYLE.get(name, {"color": colors.get(name)})
        value = (scores or {}).get(name)
        label = f"{name} ({label_score} {value:.3f})" if value is not None else name
        if kind == "roc":
            ax.plot(group["x"], group["y"], linewidth=1.8, label=label, **style)
        else:  # points run from full recall down: hold each precision until the next point
            ax.step(group["x"], group["y"], where="post", linewidth=1.8, label=label, **style)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="0.8", linewidth=1, zorder=0)
        ax.set_xlabel("False positive rate")
        ax.set_ylabel("True positive rate")
        ax.set_title(f"ROC curve: {title}" if title else "ROC curves (one class vs rest)")
        loc = "lower right"
    else:
        if baseline is not None:
            ax.axhline(baseline, color="0.8", linewidth=1, zorder=0)
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
        ax.set_title(f"Precision-recall curve: {title}" if title else "Precision-recall curves (one class vs rest)")
        loc = "lower left"
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.grid(True, color="0.92")
    ax.legend(loc=loc, fontsize=8, frameon=True)
    return fig


def plot_calibration(points: pd.DataFrame, classes: list[str], errors: dict[str, float] | None = None):
    """A reliability diagram per class (top) with the loci per bin (bottom).

    Parameters
    ----------
    points : pandas.DataFrame
        The bins of :func:`calibration_points`.
    classes : list of str
        Class names, in column order.
    errors : dict of str to float or None
        Expected calibration error per class, shown in the legend. Default is None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from lociflow.report import new_figure

    fig = new_figure(6.2, 6.0)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    colors = _class_colors(list(classes))
    width = 0.8 / max(1, len(classes)) / 10
    top.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfectly calibrated")
    for i, name in enumerate(classes):
        group = points[points["class"] == name]
        if group.empty:
            continue
        ece = (errors or {}).get(name)
        label = f"{name} (ECE {ece:.3f})" if ece is not None else name
        top.plot(group["mean_predicted"], group["fraction_positive"], marker="o", markersize=4,
                 linewidth=1.6, color=colors[name], label=label)
        centers = (group["bin"] + 0.5) / 10 + (i - (len(classes) - 1) / 2) * width
        bottom.bar(centers, group["count"], width=width, color=colors[name])
    top.set_ylabel("Observed frequency")
    top.set_title("Calibration (reliability diagram)")
    top.set_xlim(0, 1)
    top.set_ylim(-0.02, 1.02)
    top.grid(True, color="0.92")
    top.legend(loc="upper left", fontsize=8)
    bottom.set_xlabel("Predicted probability")
    bottom.set_ylabel("Loci")
    bottom.set_yscale("symlog", linthresh=10)
    bottom.grid(True, axis="y", color="0.92")
    return fig


def plot_confusion(matrix, classes: list[str]):
    """The confusion matrix (rows true, columns predicted) with counts and row percentages.

    Parameters
    ----------
    matrix : array-like
        Counts [K, K], rows the true class.
    classes : list of str
        Class names, in order.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from lociflow.report import new_figure

    matrix = np.asarray(matrix, dtype=np.int64)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape, float), where=rows > 0)
    size = 2.6 + 0.9 * len(classes)
    fig = new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            color = "white" if share[i, j] > 0.6 else "black"
            ax.text(j, i, f"{matrix[i, j]}\n{100 * share[i, j]:.1f}%", ha="center", va="center",
                    fontsize=9, color=color)
    ax.set_xticks(range(len(classes)), classes, rotation=30 if len(classes) > 3 else 0, ha="right" if len(classes) > 3 else "center")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("Predicted class (highest probability)")
    ax.set_ylabel("True class")
    ax.set_title("Confusion matrix")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")
    return fig

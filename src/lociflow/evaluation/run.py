"""``lociflow evaluate``: judge a trained model on held-out labelled data.

The data is either a split of a dataset directory (``test`` by default, ``blackbox`` for
the left-out set) or new labelled files per class, encoded with the preprocess
parameters stored in the model, so that new input is windowed, encoded, folded and
mapped exactly as in training. The run folder holds ``metrics.json`` (the same numbers
training reports, from :func:`lociflow.metrics.classification_metrics`), one-vs-rest ROC
and precision-recall curves with micro and macro averages (plots and TSV points), a
calibration plot, the confusion matrix, the per-locus probabilities, and ``report.html``
joining them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.config import EvaluateConfig, coerce
from lociflow.evaluation import curves
from lociflow.io.atomic import write_json, write_text
from lociflow.layout import METRICS_FILE, PREDICTIONS_FILE, REPORT_FILE
from lociflow.metrics import EXPLANATIONS, classification_metrics
from lociflow.report import (
    figures_html,
    html_page,
    key_values_html,
    notes_html,
    save_figure,
    table_html,
)
from lociflow.result_warnings import locus_warnings, log_warnings, metrics_warnings
from lociflow.runs import open_run

log = logging.getLogger("lociflow.evaluate")


def evaluate(config: Any, output: str | Path, name: str | None = None, force: bool = False) -> Path:
    """Evaluate a model on a dataset split or on new labelled files; return the run folder.

    Why: a model must be judged on data it never saw, with the same metrics as training,
    curves for every class, and a report a biologist can open.

    Parameters
    ----------
    config : EvaluateConfig, dict or YAML path
        ``model`` and either ``data`` (+ ``split``) or ``classes`` (class name -> files,
        with ``genome``, ``conservation`` and ``tracks`` as the model needs).
    output : path
        Output root; the run folder is created inside it.
    name : str, optional
        Run folder name. Default is the stage, the time and a random suffix.
    force : bool
        Replace an existing run folder of that name. Default is False.

    Returns
    -------
    Path
        The run folder.
    """
    from lociflow.model.inputs import open_input, open_model

    cfg = coerce(EvaluateConfig, config, "evaluate")
    model = open_model(cfg)
    curves.positive_class(list(model.classes), cfg.positive)  # a wrong name fails before any work
    source = open_input(cfg, model, labelled=True)
    summary = {"model": str(cfg.model), "data": str(cfg.data) if cfg.data else "files",
               "split": cfg.split if cfg.data else None}
    with open_run("evaluate", output, cfg.dump(), name, force, summary_params=summary) as run:
        data = source.read()
        log.info("evaluating %s on %s", model.path, source.description)
        probs = model.predict_proba(data.inputs, batch_size=cfg.batch_size)
        facts = {"model": str(model.path), "data": source.description, "loci": int(len(data.labels)),
                 "classes": ", ".join(model.classes)}
        metrics = write_evaluation(run.path, data.labels, probs, model.classes, facts=facts, meta=data.meta,
                                   positive=cfg.positive, onehot=data.inputs.get("seq"),
                                   placement=model.preprocess.get("placement", "center"))
        run.record(auroc=metrics["auroc"]["macro"], accuracy=metrics["accuracy"])
        log.info("%s", summary_line(metrics))
    return run.final_path


def summary_line(metrics: dict) -> str:
    """One line with the headline numbers, for logs and the command line.

    Parameters
    ----------
    metrics : dict
        A :func:`lociflow.metrics.classification_metrics` result; with a ``positive``
        class (two classes) its AUROC and AUPRC are shown, otherwise the macro averages.

    Returns
    -------
    str
        AUROC, AUPRC, accuracy, MCC and the number of loci.
    """
    def fmt(value):
        return "n/a" if value is None else f"{value:.4f}"

    n = sum(metrics["n"].values())
    positive = metrics.get("positive")
    if positive is not None:  # two classes: one AUROC and one AUPRC, of the positive class
        return (f"AUROC {fmt(metrics['auroc'][positive])}, AUPRC {fmt(metrics['auprc'][positive])} ({positive}), "
                f"accuracy {fmt(metrics['accuracy'])}, MCC {fmt(metrics['mcc'])} on {n} loci")
    return (f"AUROC (macro) {fmt(metrics['auroc']['macro'])}, AUPRC (macro) {fmt(metrics['auprc']['macro'])}, "
            f"accuracy {fmt(metrics['accuracy'])}, MCC {fmt(metrics['mcc'])} on {n} loci")


def _write_tsv(path: Path, frame: pd.DataFrame, na_rep: str = "NA") -> None:
    write_text(path, frame.to_csv(sep="\t", index=False, float_format="%.6g", na_rep=na_rep))


def per_class_table(metrics: dict, ece: dict[str, float] | None = None) -> pd.DataFrame:
    """Per-class numbers (and the averages) from a ``classification_metrics`` result.

    Parameters
    ----------
    metrics : dict
        A :func:`lociflow.metrics.classification_metrics` result.
    ece : dict of str to float or None
        Expected calibration error per class. Default is None (an empty ECE column).

    Returns
    -------
    pandas.DataFrame
        One row per class (loci, AUROC, AUPRC, F1, ECE), plus macro and micro average
        rows for three or more classes.
    """
    rows = []
    for name in metrics["classes"]:
        rows.append({"class": name, "loci": metrics["n"][name], "AUROC": metrics["auroc"][name],
                     "AUPRC": metrics["auprc"][name], "F1": metrics["f1"][name],
                     "ECE": (ece or {}).get(name)})
    for avg in ("macro", "micro") if len(metrics["classes"]) > 2 else ():  # two classes: nothing to average
        rows.append({"class": f"({avg} average)", "loci": sum(metrics["n"].values()),
                     "AUROC": metrics["auroc"][avg], "AUPRC": metrics["auprc"][avg],
                     "F1": metrics["f1"].get(avg), "ECE": None})
    return pd.DataFrame(rows)


def prediction_table(labels: np.ndarray, probs: np.ndarray, classes: list[str], meta=None) -> pd.DataFrame:
    """Per-locus table: identifying metadata, the true class, one probability per class, the top class.

    Parameters
    ----------
    labels : numpy.ndarray
        True class index per locus.
    probs : numpy.ndarray
        Predicted class probabilities [N, K].
    classes : list of str
        Class names, in column order.
    meta : pandas.DataFrame or None
        Per-locus metadata, copied (without its ``class`` column) when it has one row per
        locus. Default is None.

    Returns
    -------
    pandas.DataFrame
        The metadata, ``class``, ``prob_<class>`` per class and ``top_class``.
    """
    frame = pd.DataFrame(index=range(len(labels)))
    if meta is not None and len(meta) == len(labels):
        keep = [c for c in meta.columns if c != "class"]
        frame = meta[keep].reset_index(drop=True).copy()
    frame["class"] = [classes[i] for i in labels]
    for k, name in enumerate(classes):
        frame[f"prob_{name}"] = probs[:, k]
    frame["top_class"] = [classes[i] for i in probs.argmax(axis=1)]
    return frame


def write_evaluation(folder: str | Path, labels: np.ndarray, probs: np.ndarray, classes: list[str],
                     facts: dict | None = None, meta=None, title: str = "Evaluation",
                     positive: str | None = None, onehot=None, placement: str = "center") -> dict:
    """Write metrics, curve points, plots, per-locus probabilities and ``report.html``.

    Why: training (on its test split) and ``lociflow evaluate`` show the same outputs.

    Parameters
    ----------
    folder : path
        Where to write (an existing run or model folder).
    labels : int array [N]
        True class index per locus.
    probs : float array [N, K]
        Predicted class probabilities.
    classes : list of str
        Class names, in column order.
    facts : dict, optional
        Lines for the report's "Data" section (model, data, loci ...).
    meta : DataFrame, optional
        Per-locus metadata (ids, coordinates) copied into ``predictions.tsv``.
    title : str
        Report title. Default is "Evaluation".
    positive : str, optional
        For two classes, the class whose ROC and PR curve and AUROC/AUPRC the report shows.
        Default is the first class. Three or more classes get a curve each.
    onehot : uint8 array [N, L, 4], optional
        The loci's ``seq`` branch, for the padding warnings (:mod:`lociflow.result_warnings`).
    placement : str
        How the windows were placed, for the shifted-window warning. Default is "center".

    Returns
    -------
    dict
        The metrics written to ``metrics.json``.
    """
    folder = Path(folder)
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    metrics = classification_metrics(labels, probs, list(classes))
    focus = curves.positive_class(list(classes), positive)
    if focus is not None:
        metrics["positive"] = focus
    metrics["warnings"] = metrics_warnings(labels, probs, classes, metrics, onehot)
    log_warnings(metrics["warnings"])
    write_json(folder / METRICS_FILE, metrics)
    roc = curves.roc_points(labels, probs, classes)
    pr = curves.pr_points(labels, probs, classes)
    calibration = curves.calibration_points(labels, probs, classes)
    ece = curves.expected_calibration_error(calibration)
    _write_tsv(folder / "roc_curve.tsv", roc)
    _write_tsv(folder / "pr_curve.tsv", pr)
    _write_tsv(folder / "calibration.tsv", calibration)
    table = prediction_table(labels, probs, classes, meta)
    table["warning"] = locus_warnings(onehot, meta if meta is not None and len(meta) == len(labels) else None, placement)
    _write_tsv(folder / PREDICTIONS_FILE, table, na_rep="")

    figures = []
    if not roc.empty:
        for stem, figure, caption in curves.curve_figures(roc, pr, metrics, labels, probs, focus):
            save_figure(figure, folder / stem)
            figures.append((folder / f"{stem}.png", caption))
    else:
        log.warning("Only one class is present in the labels: no ROC or precision-recall curves.")
    save_figure(curves.plot_calibration(calibration, list(classes), ece), folder / "calibration")
    save_figure(curves.plot_confusion(metrics["confusion_matrix"], list(classes)), folder / "confusion_matrix")

    sections = [
        ("Summary", key_values_html(curves.headline(metrics, focus)) + notes_html(EXPLANATIONS)),
        ("Per class", table_html(per_class_table(metrics, ece))),
    ]
    if figures:
        sections.append(("ROC and precision-recall", figures_html(figures)))
    sections.append(("Calibration and confusion", figures_html([
        (folder / "calibration.png", "Per class: observed frequency of the class at each predicted probability."),
        (folder / "confusion_matrix.png", "Rows: true class; columns: the highest-probability class."),
    ])))
    sections.append(("Data", key_values_html(facts or {})))
    subtitle = summary_line(metrics)
    write_text(folder / REPORT_FILE, html_page(title, sections, subtitle=subtitle))
    return metrics


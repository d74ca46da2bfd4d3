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

from lociflow import curves
from lociflow.compat import (
    check_arrays,
    check_classes,
    check_dataset,
    check_sources,
    encoding_params,
    label_map,
    resolve_device,
)
from lociflow.config import EvaluateConfig, coerce
from lociflow.errors import ConfigError, DatasetError
from lociflow.io.atomic import write_json, write_text
from lociflow.result_warnings import locus_warnings, log_warnings, metrics_warnings
from lociflow.metrics import classification_metrics
from lociflow.report import figures_html, html_page, key_values_html, save_figure, table_html
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
    from lociflow.model.io import load_model

    cfg = coerce(EvaluateConfig, config, "evaluate")
    if cfg.model is None:
        raise ConfigError("No model given: name a model directory (--model MODEL_DIR).")
    if (cfg.data is None) == (not cfg.classes):
        raise ConfigError(
            "Give either a dataset directory (--data DATASET_DIR [--split test]) or new files per "
            "class (--class bound=pos.fa --class unbound=neg.fa), not both and not neither."
        )
    model = load_model(cfg.model, device=resolve_device(cfg.device))
    dataset = split = None
    if cfg.data is not None:
        from lociflow.io.store import open_dataset

        dataset = open_dataset(cfg.data)
        check_dataset(model, dataset)
        split = dataset.split(cfg.split)
        if len(split) == 0:
            raise DatasetError(f"The {cfg.split!r} split of {dataset.path} holds no loci.")
        described = f"{dataset.path} ({cfg.split} split, {len(split)} loci)"
    else:
        check_classes(model, cfg.classes)
        files = [f for paths in cfg.classes.values() for f in paths]
        check_sources(model, files, cfg.genome, cfg.conservation, cfg.tracks)
        described = "; ".join(f"{c}: {', '.join(str(p) for p in paths)}" for c, paths in cfg.classes.items())
    summary = {"model": str(cfg.model), "data": str(cfg.data) if cfg.data else "files",
               "split": cfg.split if cfg.data else None}
    with open_run("evaluate", output, cfg.dump(), name, force, summary_params=summary) as run:
        if split is not None:
            inputs = split.inputs
            labels = label_map(model, dataset.classes)[np.asarray(split.labels)]
            meta = split.meta()
        else:
            inputs, labels, meta = _encode_files(cfg, model)
        check_arrays(model, inputs, described)
        log.info("evaluating %s on %s", model.path, described)
        probs = model.predict_proba({b: inputs[b] for b in model.branches}, batch_size=cfg.batch_size)
        facts = {"model": str(model.path), "data": described, "loci": int(len(labels)),
                 "classes": ", ".join(model.classes)}
        metrics = write_evaluation(run.path, labels, probs, model.classes, facts=facts, meta=meta,
                                   onehot=inputs.get("seq"), placement=model.preprocess.get("placement", "center"))
        run.record(auroc=metrics["auroc"]["macro"], accuracy=metrics["accuracy"])
        log.info("%s", summary_line(metrics))
    return run.final_path


def _encode_files(cfg: EvaluateConfig, model):
    from lociflow.preprocess.stream import encode_classes

    inputs, labels, meta = encode_classes(
        {c: list(p) for c, p in cfg.classes.items()}, encoding_params(model), list(model.classes),
        genome=cfg.genome, conservation=cfg.conservation, tracks=dict(cfg.tracks) or None,
        workers=cfg.workers, cache_dir=cfg.cache_dir,
    )
    if len(labels) == 0:
        raise DatasetError("The class files hold no loci that could be encoded.")
    return inputs, np.asarray(labels, dtype=np.int64), meta


def summary_line(metrics: dict) -> str:
    """One line with the headline numbers, for logs and the command line."""
    def fmt(value):
        return "n/a" if value is None else f"{value:.4f}"

    n = sum(metrics["n"].values())
    return (f"AUROC (macro) {fmt(metrics['auroc']['macro'])}, AUPRC (macro) {fmt(metrics['auprc']['macro'])}, "
            f"accuracy {fmt(metrics['accuracy'])}, MCC {fmt(metrics['mcc'])} on {n} loci")


def _write_tsv(path: Path, frame: pd.DataFrame, na_rep: str = "NA") -> None:
    write_text(path, frame.to_csv(sep="\t", index=False, float_format="%.6g", na_rep=na_rep))


def per_class_table(metrics: dict, ece: dict[str, float] | None = None) -> pd.DataFrame:
    """Per-class numbers (and the averages) from a ``classification_metrics`` result."""
    rows = []
    for name in metrics["classes"]:
        rows.append({"class": name, "loci": metrics["n"][name], "AUROC": metrics["auroc"][name],
                     "AUPRC": metrics["auprc"][name], "F1": metrics["f1"][name],
                     "ECE": (ece or {}).get(name)})
    for avg in ("macro", "micro"):
        rows.append({"class": f"({avg} average)", "loci": sum(metrics["n"].values()),
                     "AUROC": metrics["auroc"][avg], "AUPRC": metrics["auprc"][avg],
                     "F1": metrics["f1"].get(avg), "ECE": None})
    return pd.DataFrame(rows)


def prediction_table(labels: np.ndarray, probs: np.ndarray, classes: list[str], meta=None) -> pd.DataFrame:
    """Per-locus table: identifying metadata, the true class, one probability per class, the top class."""
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
                     facts: dict | None = None, meta=None, title: str = "Evaluation", onehot=None,
                     placement: str = "center") -> dict:
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
    metrics["warnings"] = metrics_warnings(labels, probs, classes, metrics, onehot)
    log_warnings(metrics["warnings"])
    write_json(folder / "metrics.json", metrics)
    roc = curves.roc_points(labels, probs, classes)
    pr = curves.pr_points(labels, probs, classes)
    calibration = curves.calibration_points(labels, probs, classes)
    ece = curves.expected_calibration_error(calibration)
    _write_tsv(folder / "roc_curve.tsv", roc)
    _write_tsv(folder / "pr_curve.tsv", pr)
    _write_tsv(folder / "calibration.tsv", calibration)
    table = prediction_table(labels, probs, classes, meta)
    table["warning"] = locus_warnings(onehot, meta if meta is not None and len(meta) == len(labels) else None, placement)
    _write_tsv(folder / "predictions.tsv", table, na_rep="")

    figures = []
    if not roc.empty:
        save_figure(curves.plot_curves(roc, "roc", metrics["auroc"]), folder / "roc_curve")
        figures.append((folder / "roc_curve.png", "One class vs the rest; dashed: micro average, dotted: macro."))
        base = 1.0 / len(classes) if len(classes) else None
        save_figure(curves.plot_curves(pr, "pr", metrics["auprc"], baseline=base), folder / "pr_curve")
        figures.append((folder / "pr_curve.png", "Grey line: precision of random guessing for balanced classes."))
    else:
        log.warning("Only one class is present in the labels: no ROC or precision-recall curves.")
    save_figure(curves.plot_calibration(calibration, list(classes), ece), folder / "calibration")
    save_figure(curves.plot_confusion(metrics["confusion_matrix"], list(classes)), folder / "confusion_matrix")

    headline = {"AUROC (macro)": metrics["auroc"]["macro"], "AUROC (micro)": metrics["auroc"]["micro"],
                "AUPRC (macro)": metrics["auprc"]["macro"], "accuracy": metrics["accuracy"],
                "balanced accuracy": metrics["balanced_accuracy"], "MCC": metrics["mcc"],
                "F1 (macro)": metrics["f1"]["macro"], "log loss": metrics["log_loss"]}
    sections = [
        ("Summary", key_values_html(headline)),
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
    write_text(folder / "report.html", html_page(title, sections, subtitle=subtitle))
    return metrics


from lociflow.stage import make_callable  # noqa: E402

make_callable(__name__, "lociflow.evaluate", "evaluate")

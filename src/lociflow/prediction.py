"""``lociflow predict``: class probabilities for new loci, streamed in chunks.

Input is BED (with the genome), FASTA of any lengths, or plain text with one sequence
per line, encoded with the preprocess parameters stored in the model. Loci are read,
encoded and scored one chunk at a time, and each chunk's rows are appended to
``predictions.tsv`` before the next is read, so memory stays bounded however many loci
there are. Rows keep the input order. With ``attribute: ig`` every locus also gets
integrated-gradients attributions (see :mod:`lociflow.interpretation.collector`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.config import PredictConfig, coerce
from lociflow.errors import ConfigError, InputFileError
from lociflow.io.atomic import atomic_open
from lociflow.layout import INPUT_META_COLUMNS, PREDICTIONS_FILE
from lociflow.progress import bar
from lociflow.result_warnings import locus_warnings
from lociflow.runs import open_run

log = logging.getLogger("lociflow.predict")


def predict(config: Any, output: str | Path, name: str | None = None, force: bool = False) -> Path:
    """Write per-class probabilities for every input locus; return the run folder.

    Why: applying a model to new loci must encode them exactly as in training, keep the
    input order, and never hold more than one chunk in memory.

    Parameters
    ----------
    config : PredictConfig, dict or YAML path
        ``model``, ``input`` files, and ``genome``/``conservation``/``tracks`` as the
        model and input need; ``thresholds`` per class add a ``call`` column;
        ``attribute: ig`` adds attributions; ``chunk_size`` loci are encoded at a time.
    output : path
        Output root; the run folder is created inside it.
    name : str, optional
        Run folder name. Default is the stage, the time and a random suffix.
    force : bool
        Replace an existing run folder of that name. Default is False.

    Returns
    -------
    Path
        The run folder, holding ``predictions.tsv`` (and ``attributions.npz`` and
        ``attributions.html`` with ``attribute: ig``).
    """
    from lociflow.model.inputs import open_input, open_model

    cfg = coerce(PredictConfig, config, "predict")
    model = open_model(cfg)
    check_thresholds(cfg.thresholds, model.classes)
    source = open_input(cfg, model)
    summary = {"model": str(cfg.model), "input": [str(p) for p in cfg.input], "attribute": cfg.attribute}
    with open_run("predict", output, cfg.dump(), name, force, summary_params=summary) as run:
        total = stream_predictions(cfg, source, run.path)
        run.record(loci=total)
        log.info("predicted %d loci with %s", total, model.path)
    return run.final_path


def check_thresholds(thresholds: dict[str, float], classes: list[str]) -> None:
    """Thresholds must name model classes and lie in [0, 1].

    Parameters
    ----------
    thresholds : dict of str to float
        Class name -> probability threshold.
    classes : list of str
        The model's classes.

    Raises
    ------
    ConfigError
        For a name that is not a class of the model, or a value outside [0, 1].
    """
    for name, value in thresholds.items():
        if name not in classes:
            raise ConfigError(f"Threshold for {name!r}: not a class of the model ({', '.join(classes)}).")
        if not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"Threshold for {name!r} is {value}: a probability threshold lies between 0 and 1.")


def stream_predictions(cfg: PredictConfig, source, folder: Path) -> int:
    """Encode, score and write the input batch by batch; return the number of loci.

    Parameters
    ----------
    cfg : PredictConfig
        The stage's config (``chunk_size``, ``batch_size``, ``thresholds``, ``attribute``).
    source : lociflow.model.inputs.ModelInput
        The checked input (from :func:`~lociflow.model.inputs.open_input`).
    folder : Path
        Where ``predictions.tsv`` (and the attributions) are written.

    Returns
    -------
    int
        The number of loci predicted.
    """
    model = source.model
    collector = None
    if cfg.attribute == "ig":
        from lociflow.interpretation.collector import AttributionCollector

        collector = AttributionCollector(model, folder, steps=cfg.ig_steps, batch_size=cfg.batch_size)
    total = 0
    try:
        with atomic_open(folder / PREDICTIONS_FILE, "w", encoding="utf-8") as handle, \
                bar("predicting", unit="loci") as progress:
            for batch in source.batches(cfg.chunk_size):
                probs = np.asarray(model.predict_proba(batch.inputs, batch_size=cfg.batch_size), dtype=np.float64)
                table = prediction_rows(batch.meta, probs, model.classes, cfg.thresholds)
                table["warning"] = locus_warnings(batch.inputs.get("seq"), batch.meta,
                                                  model.preprocess.get("placement", "center"))
                table.to_csv(handle, sep="\t", index=False, header=total == 0, float_format="%.6g", na_rep="")
                if collector is not None:
                    collector.add(batch.inputs, probs, offset=total, ids=list(table["id"]) if "id" in table else None)
                total += len(table)
                progress.update(len(table))
            if total == 0:
                raise InputFileError(f"No loci could be read from {source.description}: the input is empty.")
        if collector is not None:
            collector.finish()
    finally:
        if collector is not None:
            collector.close()
    return total


def _coordinates(meta: pd.DataFrame) -> pd.DataFrame:
    """Metadata columns in a fixed order; whole-number coordinates shown without decimals."""
    keep = [c for c in INPUT_META_COLUMNS if c in meta.columns] + [c for c in meta.columns if c not in INPUT_META_COLUMNS]
    frame = meta[keep].reset_index(drop=True).copy()
    for column in ("start", "end", "orig_start", "orig_end"):
        if column in frame:
            values = pd.to_numeric(frame[column], errors="coerce")
            whole = values.dropna()
            if len(whole) == 0 or bool(np.all(np.equal(np.mod(whole, 1), 0))):
                frame[column] = values.round().astype("Int64")
    return frame


def call_column(probs: np.ndarray, classes: list[str], thresholds: dict[str, float]) -> list[str]:
    """Per locus: the classes whose probability reaches their threshold, comma-joined, or ``none``.

    Parameters
    ----------
    probs : numpy.ndarray
        Class probabilities [N, K].
    classes : list of str
        Class names, in column order.
    thresholds : dict of str to float
        Class name -> threshold (see :func:`check_thresholds`).

    Returns
    -------
    list of str
        One call per locus; classes in column order.
    """
    checked = [(classes.index(c), c, float(t)) for c, t in thresholds.items()]
    calls = []
    for row in probs:
        hits = [name for k, name, t in sorted(checked) if row[k] >= t]
        calls.append(",".join(hits) if hits else "none")
    return calls


def prediction_rows(meta: pd.DataFrame | None, probs: np.ndarray, classes: list[str],
                    thresholds: dict[str, float] | None = None) -> pd.DataFrame:
    """The ``predictions.tsv`` rows of one chunk: metadata, ``prob_<class>``, ``top_class``, ``call``.

    Parameters
    ----------
    meta : pandas.DataFrame or None
        The chunk's metadata, one row per locus (whole-number coordinates are shown
        without decimals), or None.
    probs : numpy.ndarray
        Class probabilities [N, K].
    classes : list of str
        Class names, in column order.
    thresholds : dict of str to float or None
        Class name -> threshold; the ``call`` column is added only when given. Default
        is None.

    Returns
    -------
    pandas.DataFrame
        The chunk's rows.
    """
    if meta is not None and len(meta) != len(probs):
        raise ValueError(f"{len(meta)} metadata rows for {len(probs)} predictions")
    frame = _coordinates(meta) if meta is not None else pd.DataFrame(index=range(len(probs)))
    for k, name in enumerate(classes):
        frame[f"prob_{name}"] = probs[:, k]
    frame["top_class"] = [classes[i] for i in probs.argmax(axis=1)]
    if thresholds:
        frame["call"] = call_column(probs, classes, thresholds)
    return frame


"""When a result should not be trusted: the ``warnings`` of ``metrics.json`` and the ``warning`` column.

A number without a caveat invites trust it may not deserve. Training and evaluation add a
``warnings`` list to ``metrics.json`` (empty when nothing is wrong): constant predictions, a
test AUROC whose 95% interval includes 0.5 or is too wide to tell models apart, classes that
differ in how much of each window is N padding, a best epoch that was the first or the
last. ``predictions.tsv`` gains a ``warning`` column naming what is wrong with a row: no
informative bases, most of the window N, a window shifted at a chromosome end.

Everything here reads labels, probabilities, the one-hot sequence and the metadata only, so
it is the same for a dataset split and for new files.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lociflow.layout import METRICS_FILE

log = logging.getLogger("lociflow.warnings")

CONSTANT_SD = 1e-3
"""Predictions whose standard deviation across loci is below this are (nearly) constant."""
WIDE_INTERVAL = 0.1
"""An AUROC 95% interval wider than this cannot tell apart models a few points apart."""
PADDING_GAP = 0.1
"""Classes whose mean share of N positions differs by more than this may be told apart by padding."""
MOSTLY_PADDED = 0.5
"""A window with more than this share of N positions is flagged in ``predictions.tsv``."""
_ROWS_PER_STEP = 65_536


def auroc_interval(auroc: float, n_positive: int, n_negative: int) -> tuple[float, float]:
    """The 95% interval of an AUROC from its standard error (Hanley and McNeil, 1982).

    Closed form, so it costs nothing on a million loci; it is close to a bootstrap for the
    split sizes lociflow sees.

    Parameters
    ----------
    auroc : float
        The AUROC.
    n_positive, n_negative : int
        The loci of the positive class and of the rest.

    Returns
    -------
    tuple of (float, float)
        The lower and upper bound, clipped to [0, 1]; ``(0.0, 1.0)`` when either count is
        zero or the AUROC is not finite.
    """
    a = float(auroc)
    if n_positive < 1 or n_negative < 1 or not math.isfinite(a):
        return (0.0, 1.0)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    variance = (a * (1 - a) + (n_positive - 1) * (q1 - a * a) + (n_negative - 1) * (q2 - a * a)) / (n_positive * n_negative)
    half = 1.96 * math.sqrt(max(variance, 0.0))
    return (max(0.0, a - half), min(1.0, a + half))


def informative_share(onehot: np.ndarray | None) -> np.ndarray | None:
    """Per locus, the share of window positions that are a base (not N, an ambiguity code or padding).

    Parameters
    ----------
    onehot : numpy.ndarray or None
        The ``seq`` branch [N, L, 4] (read in blocks, so a memory map stays on disk).

    Returns
    -------
    numpy.ndarray or None
        float64 [N]; None when ``onehot`` is None, not 3-D or empty.
    """
    if onehot is None or getattr(onehot, "ndim", 0) != 3 or len(onehot) == 0:
        return None
    shares = np.empty(len(onehot), dtype=np.float64)
    for first in range(0, len(onehot), _ROWS_PER_STEP):
        block = np.asarray(onehot[first:first + _ROWS_PER_STEP])
        shares[first:first + len(block)] = (block != 0).any(axis=2).mean(axis=1)
    return shares


def metrics_warnings(labels: np.ndarray, probs: np.ndarray, classes: Sequence[str], metrics: dict,
                     onehot: np.ndarray | None = None) -> list[str]:
    """The warnings about a set of predictions, each a sentence; empty when nothing is wrong.

    Parameters
    ----------
    labels : numpy.ndarray
        int [N], the true class of each locus.
    probs : numpy.ndarray
        float [N, K], the predicted probabilities.
    classes : sequence of str
        The class names, in column order.
    metrics : dict
        What :func:`lociflow.metrics.classification_metrics` returned for them.
    onehot : numpy.ndarray or None
        The ``seq`` branch [N, L, 4] of the same loci, for the padding check. Default
        is None (no padding check).

    Returns
    -------
    list of str
        The warnings: constant predictions, an AUROC interval that includes 0.5 or is
        too wide, classes that differ in padding.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    found: list[str] = []
    if len(probs) > 1:
        spread = float(probs.std(axis=0).max())
        if spread < CONSTANT_SD:
            found.append(f"The predictions are (nearly) constant (largest standard deviation {spread:.2g}): the model "
                         "may have learned nothing; check the labels, the learning rate and the input.")
    found += _auroc_warnings(labels, classes, metrics)
    found += _padding_warnings(labels, classes, informative_share(onehot))
    return found


def _auroc_warnings(labels: np.ndarray, classes: Sequence[str], metrics: dict) -> list[str]:
    auroc = (metrics.get("auroc") or {}).get("macro")
    if auroc is None or not math.isfinite(float(auroc)):
        return []
    counts = np.bincount(labels, minlength=len(classes))
    # one-vs-rest per class; the smallest class bounds how well the macro value is known
    k = int(np.argmin(counts))
    low, high = auroc_interval(float(auroc), int(counts[k]), int(len(labels) - counts[k]))
    found = []
    if low <= 0.5 <= high:
        found.append(f"The test AUROC {float(auroc):.3f} has a 95% interval [{low:.3f}, {high:.3f}] that includes 0.5: "
                     "the model may have learned nothing.")
    if high - low > WIDE_INTERVAL:
        found.append(f"The test split ({len(labels)} loci, {int(counts[k])} in class {classes[k]!r}) is too small to "
                     f"tell models apart: AUROC 95% interval [{low:.3f}, {high:.3f}]. Use more test loci, or compare "
                     "models over several seeds.")
    return found


def _padding_warnings(labels: np.ndarray, classes: Sequence[str], shares: np.ndarray | None) -> list[str]:
    if shares is None or len(shares) != len(labels):
        return []
    padded = pd.Series(1.0 - shares).groupby(labels).mean()
    if len(padded) < 2 or float(padded.max() - padded.min()) <= PADDING_GAP:
        return []
    shown = ", ".join(f"{classes[int(k)]}: {v:.0%}" for k, v in padded.items())
    return [(f"The classes differ in how much of each window is N or padding ({shown}): a model can learn the "
             "padding instead of biology. Use a window no longer than the shortest sequences, or loci of similar "
             "length.")]


def recorded_warnings(folder: str | Path) -> list[str]:
    """The ``warnings`` of ``folder/metrics.json`` (a model's training, an evaluation), ``[]`` when none.

    A missing, unreadable or older ``metrics.json`` has none: this feeds displays, which
    must not fail on it.

    Parameters
    ----------
    folder : str or Path
        A model or evaluation run folder.

    Returns
    -------
    list of str
        The warnings, in the order they were written.
    """
    try:
        metrics = json.loads((Path(folder) / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    found = metrics.get("warnings") if isinstance(metrics, dict) else None
    return [str(line) for line in found] if isinstance(found, list) else []


def log_warnings(found: Sequence[str]) -> None:
    """Show each warning in the log (and so on the command line).

    Parameters
    ----------
    found : sequence of str
        The warnings.
    """
    for line in found:
        log.warning("warning: %s", line)


def epoch_warnings(best_epoch: int, epochs_trained: int, stopped_early: bool) -> list[str]:
    """Warnings about where the best epoch fell: the first (under-trained or too high a
    learning rate) or the last without early stopping (not yet converged).

    Parameters
    ----------
    best_epoch : int
        The best epoch, from 1.
    epochs_trained : int
        The epochs trained; a single epoch gets no warning.
    stopped_early : bool
        Whether early stopping ended the training (then a last best epoch is fine).

    Returns
    -------
    list of str
        At most one warning.
    """
    found = []
    if epochs_trained > 1 and best_epoch == 1:
        found.append("The best epoch was the first: the model may be under-trained, or the learning rate too high "
                     "for it to improve.")
    elif epochs_trained > 1 and best_epoch >= epochs_trained and not stopped_early:
        found.append(f"The best epoch was the last ({best_epoch}): training had not yet converged; train for more "
                     "epochs.")
    return found


def locus_warnings(onehot: np.ndarray | None, meta: pd.DataFrame | None, placement: str = "center") -> list[str]:
    """The ``warning`` column of ``predictions.tsv``: per locus what is wrong, ``""`` when fine.

    Parameters
    ----------
    onehot : numpy.ndarray or None
        The ``seq`` branch [N, L, 4], or None when the model reads no sequence.
    meta : pandas.DataFrame or None
        The loci's metadata (``start``/``end`` of the window, ``orig_start``/``orig_end``
        of the locus); None or without coordinates skips the shift check.
    placement : str
        How windows were placed (``center`` or ``random``). Default is ``"center"``.

    Returns
    -------
    list of str
        One entry per locus: its notes joined by ``"; "``, or ``""``.
    """
    n = len(onehot) if onehot is not None else (len(meta) if meta is not None else 0)
    notes: list[list[str]] = [[] for _ in range(n)]
    shares = informative_share(onehot)
    if shares is not None:
        for i in np.flatnonzero(shares == 0):
            notes[i].append("no informative bases (all N or ambiguity codes)")
        for i in np.flatnonzero((shares > 0) & (1 - shares > MOSTLY_PADDED)):
            notes[i].append(f"most of the window is N or padding ({1 - shares[i]:.0%})")
    for i in np.flatnonzero(shifted_windows(meta, placement)):
        notes[i].append("window shifted at a chromosome end")
    return ["; ".join(row) for row in notes]


def shifted_windows(meta: pd.DataFrame | None, placement: str = "center") -> np.ndarray:
    """Whether each locus's window was moved from where its placement put it (a chromosome end).

    ``center`` windows are checked exactly; a ``random`` window is shifted when it no longer
    lies inside (or covers) its locus.

    Parameters
    ----------
    meta : pandas.DataFrame or None
        The loci's metadata with ``start``, ``end``, ``orig_start`` and ``orig_end``.
    placement : str
        ``"center"`` or ``"random"``. Default is ``"center"``.

    Returns
    -------
    numpy.ndarray
        bool per locus; all False where the coordinates are unknown, and empty (or all
        False) when ``meta`` is None or lacks the columns.
    """
    needed = ("start", "end", "orig_start", "orig_end")
    if meta is None or not all(c in meta.columns for c in needed):
        return np.zeros(0 if meta is None else len(meta), dtype=bool)
    start, end, s, e = (pd.to_numeric(meta[c], errors="coerce").to_numpy(np.float64) for c in needed)
    window = end - start
    known = np.isfinite(start) & np.isfinite(window) & np.isfinite(s) & np.isfinite(e)
    if placement == "random":
        low, high = np.minimum(s, e - window), np.maximum(s, e - window)
        moved = (start < low) | (start > high)
    else:
        moved = start != s + np.floor((e - s - window) / 2)
    return known & moved

"""The loci an interpretation looks at: read, scored, and chosen.

``lociflow interpret`` reads loci from a dataset split or from new files (encoded with
the model's own preprocessing parameters), scores them all, and chooses two sets:

- the *shown* loci: per class, the ``top`` loci the model is most confident belong to
  it (among the loci labelled with that class when labels are known); the dashboard
  shows each with its attribution maps, and the costly per-locus methods (in-silico
  mutagenesis, temporal scores) run on these only;
- the *analysed* loci: the shown ones plus a seeded random draw up to ``max_loci``, on
  which attribution maps, filters, motif discovery and GIA backgrounds are computed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lociflow.errors import ConfigError, InputFileError

log = logging.getLogger("lociflow.interpret.loci")

__all__ = ["Loci", "read_loci", "choose_loci"]


@dataclass
class Loci:
    """Loci read for interpretation.

    ``inputs`` per branch ``[N, L, C]`` (in memory), ``labels`` ``[N]`` (model class
    index, -1 when unknown), ``meta`` one row per locus (at least ``id``), ``probs``
    ``[N, K]`` the model's class probabilities.
    """

    inputs: dict[str, np.ndarray]
    labels: np.ndarray
    meta: pd.DataFrame
    probs: np.ndarray
    source: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The inputs of ``rows`` as float32 arrays.

        Parameters
        ----------
        rows : numpy.ndarray
            Row numbers (or a boolean mask) into the loci.

        Returns
        -------
        dict of str to numpy.ndarray
            float32 ``[len(rows), L, C]`` arrays per branch.
        """
        return {b: np.asarray(a[rows], dtype=np.float32) for b, a in self.inputs.items()}


def read_loci(source, batch_size: int = 256) -> Loci:
    """Read and score the loci of a checked input, all in memory.

    Parameters
    ----------
    source : lociflow.model.inputs.ModelInput
        A dataset split or new files, checked against the model (from
        :func:`~lociflow.model.inputs.open_input`).
    batch_size : int
        Loci per forward pass when scoring. Default is 256.

    Returns
    -------
    Loci
        With labels (``-1`` for unlabelled input) and the model's probabilities.
    """
    model = source.model
    data = source.read()
    inputs = {b: np.asarray(data.inputs[b]) for b in model.branches}
    meta = data.meta.reset_index(drop=True)
    if "id" not in meta:
        meta.insert(0, "id", meta["name"] if "name" in meta else [f"locus{i}" for i in range(len(meta))])
    labels = data.labels if data.labels is not None else np.full(len(meta), -1, dtype=np.int64)
    if len(labels) == 0:
        raise InputFileError(f"{source.description} holds no loci.")
    probs = model.predict_proba(inputs, batch_size=batch_size)
    log.info("read %d loci from %s", len(labels), source.description)
    return Loci(inputs, labels, meta, np.asarray(probs, dtype=np.float64), source.description)


def choose_loci(loci: Loci, top: int, max_loci: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """The analysed rows, their target classes, and the shown rows per class.

    For each class the ``top`` most confident loci are shown (among the loci labelled
    with that class, or among all when none is labelled); the analysed rows are the
    shown ones plus randomly drawn others, up to ``max_loci`` in all.

    Parameters
    ----------
    loci : Loci
        The loci read by :func:`read_loci`.
    top : int
        Loci shown per class, at least 1.
    max_loci : int
        Loci analysed in all, at least 1; the shown loci are kept even when they are
        more.
    seed : int
        Seed of the draw of the other analysed loci.

    Returns
    -------
    analysed : numpy.ndarray
        Sorted row numbers into ``loci``.
    targets : numpy.ndarray
        Per analysed row: its label, or the predicted class when unlabelled (the shown
        loci of a class always target that class).
    shown : dict of int to numpy.ndarray
        Class index -> positions *into ``analysed``* of its shown loci, most confident first.
    """
    if max_loci < 1 or top < 1:
        raise ConfigError("top and max_loci must be at least 1.")
    n, k = loci.probs.shape
    taken: set[int] = set()
    shown_rows: dict[int, list[int]] = {}
    for c in range(k):
        pool = np.where(loci.labels == c)[0] if (loci.labels >= 0).any() else np.arange(n)
        order = pool[np.argsort(-loci.probs[pool, c], kind="stable")]
        chosen = [int(r) for r in order if int(r) not in taken][:top]
        taken.update(chosen)
        shown_rows[c] = chosen
    rng = np.random.default_rng(seed)
    rest = np.setdiff1d(np.arange(n), np.fromiter(taken, dtype=np.int64, count=len(taken)))
    room = max(0, max_loci - len(taken))
    extra = np.sort(rng.choice(rest, size=min(room, len(rest)), replace=False)) if len(rest) else rest
    analysed = np.union1d(np.fromiter(taken, dtype=np.int64, count=len(taken)), extra).astype(np.int64)
    position = {int(r): i for i, r in enumerate(analysed)}
    targets = np.where(loci.labels[analysed] >= 0, loci.labels[analysed], loci.probs[analysed].argmax(1)).astype(np.int64)
    shown = {}
    for c, rows in shown_rows.items():
        idx = np.array([position[r] for r in rows], dtype=np.int64)
        targets[idx] = c
        shown[c] = idx
    return analysed, targets, shown

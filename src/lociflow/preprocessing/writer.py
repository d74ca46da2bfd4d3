"""Writing a dataset directory (layout in :mod:`lociflow.io.store`) split by split.

Branch arrays are created at their final size as memory-mapped ``.npy`` files and
filled chunk by chunk, so the arrays of a dataset never need to fit in memory. They are
written inside the run folder, which is renamed into place only when the whole stage
succeeds; ``manifest.json`` is written last and marks the dataset complete.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow import __version__
from lociflow.io.atomic import write_text
from lociflow.io.store import write_manifest, write_split
from lociflow.layout import DATASET_META_COLUMNS, SPLITS, SUMMARY_FILE

log = logging.getLogger("lociflow.preprocess.writer")


def branch_dtype(branch: str) -> np.dtype:
    """``seq`` is one-hot uint8; structure and tracks are float32.

    Parameters
    ----------
    branch : str
        The branch name.

    Returns
    -------
    numpy.dtype
        The dtype of the branch's array.
    """
    return np.dtype(np.uint8 if branch == "seq" else np.float32)


def dataset_meta(meta: pd.DataFrame, labels: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """Loci metadata in the dataset's :data:`~lociflow.layout.DATASET_META_COLUMNS` layout.

    Parameters
    ----------
    meta : pandas.DataFrame
        :class:`~lociflow.preprocessing.loci.Loci` metadata.
    labels : numpy.ndarray
        The class index of each locus; its name becomes the ``class`` column.
    class_names : list of str
        The classes in label order.

    Returns
    -------
    pandas.DataFrame
        The :data:`~lociflow.layout.DATASET_META_COLUMNS`, re-indexed from 0.
    """
    out = meta.copy()
    out["class"] = np.asarray(class_names, dtype=object)[np.asarray(labels, dtype=np.int64)]
    return out[list(DATASET_META_COLUMNS)].reset_index(drop=True)


class SplitPart:
    """One split being written: memory-mapped branch arrays filled by row ranges.

    Parameters
    ----------
    folder : Path
        The split's folder (created).
    n : int
        Loci in the split.
    channels : dict of str to list of str
        The channel names of each branch.
    window : int
        The window length.
    class_names : list of str
        The classes in label order.
    counts : dict or None
        The dataset's per-split class counts, updated by :meth:`finish`. Default is None
        (a dict of its own).
    """

    def __init__(self, folder: Path, n: int, channels: dict[str, list[str]], window: int,
                 class_names: list[str], counts: dict[str, dict[str, int]] | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._counts = counts if counts is not None else {}
        self.n = n
        self.class_names = class_names
        self.arrays = {
            branch: np.lib.format.open_memmap(folder / f"{branch}.npy", mode="w+", dtype=branch_dtype(branch),
                                              shape=(n, window, len(names)))
            for branch, names in channels.items()
        }

    def write(self, first: int, inputs: dict[str, np.ndarray]) -> None:
        """Store rows ``first .. first + len`` of every branch.

        Parameters
        ----------
        first : int
            The first row written.
        inputs : dict of str to numpy.ndarray
            One array per branch, of equal length.
        """
        for branch, array in self.arrays.items():
            values = inputs[branch]
            array[first:first + len(values)] = values

    def finish(self, labels: np.ndarray, meta: pd.DataFrame) -> dict[str, int]:
        """Flush the arrays, write labels and metadata; return the count per class.

        Parameters
        ----------
        labels : numpy.ndarray
            The class index of each locus, in row order.
        meta : pandas.DataFrame
            The loci's metadata, in row order.

        Returns
        -------
        dict of str to int
            Loci per class in this split.
        """
        for array in self.arrays.values():
            array.flush()
        self.arrays.clear()
        write_split(self.folder, {}, np.asarray(labels, dtype=np.int64), dataset_meta(meta, labels, self.class_names))
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(self.class_names))
        self._counts[self.folder.name] = {name: int(c) for name, c in zip(self.class_names, counts)}
        return self._counts[self.folder.name]


class DatasetWriter:
    """Writes the splits, the summary and the manifest of a dataset directory.

    Parameters
    ----------
    folder : Path
        The dataset directory (inside the run folder).
    channels : dict of str to list of str
        The channel names of each branch.
    window : int
        The window length.
    class_names : list of str
        The classes in label order.
    """

    def __init__(self, folder: Path, channels: dict[str, list[str]], window: int, class_names: list[str]):
        self.folder = Path(folder)
        self.channels = channels
        self.window = window
        self.class_names = list(class_names)
        self.counts: dict[str, dict[str, int]] = {}

    def open_split(self, name: str, n: int) -> SplitPart:
        """Start writing split ``name`` with ``n`` loci.

        Parameters
        ----------
        name : str
            One of :data:`~lociflow.layout.SPLITS`.
        n : int
            Loci in the split.

        Returns
        -------
        SplitPart
            The split's arrays, created at their final size.
        """
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}")
        return SplitPart(self.folder / name, n, self.channels, self.window, self.class_names, self.counts)

    def counts_total(self) -> dict[str, int]:
        """Loci written per class over all splits."""
        return {c: sum(split.get(c, 0) for split in self.counts.values()) for c in self.class_names}

    def write_summary(self, table: pd.DataFrame) -> None:
        """``summary.tsv``: loci in, dropped and why, and split counts per class.

        Parameters
        ----------
        table : pandas.DataFrame
            The summary table (see :func:`summary_table`).
        """
        write_text(self.folder / SUMMARY_FILE, table.to_csv(sep="\t", index=False))

    def write_manifest(self, params: dict[str, Any], input_hash: str, source_kind: str) -> None:
        """``manifest.json``, written last: its presence marks a complete dataset.

        Parameters
        ----------
        params : dict
            The preprocess parameters (their ``alphabet`` and ``strand`` are recorded).
        input_hash : str
            See :func:`lociflow.preprocessing.pipeline.input_hash`.
        source_kind : str
            ``"bed"`` or ``"fasta"``.
        """
        counts = {s: self.counts[s] for s in SPLITS if s in self.counts}
        write_manifest(self.folder, {
            "lociflow_version": __version__,
            "classes": self.class_names,
            "branches": {b: {"channels": list(ch), "dtype": str(branch_dtype(b))} for b, ch in self.channels.items()},
            "window": int(self.window),
            "alphabet": params["alphabet"],
            "strand": bool(params["strand"]),
            "input": source_kind,
            "counts": counts,
            "input_hash": input_hash,
        })


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """The per-class counts with a ``total`` row; integer columns throughout.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per class (a ``class`` column and counts; missing counts become 0).

    Returns
    -------
    pandas.DataFrame
        A copy with a ``total`` row added.
    """
    table = table.copy()
    numeric = [c for c in table.columns if c != "class"]
    table[numeric] = table[numeric].fillna(0).astype(np.int64)
    total = {"class": "total", **{c: int(table[c].sum()) for c in numeric}}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)

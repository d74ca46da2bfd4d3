"""Dataset directories: the arrays preprocess writes and train/evaluate/interpret read.

Layout (format version 1)::

    DATASET/
      manifest.json        format version, classes, branches and their channels, window,
                           alphabet, counts per split and class, hash of the inputs
      params.yaml          the preprocess parameters that made it
      run.log
      train/ valid/ test/ [blackbox/]
        seq.npy            uint8   [N, L, 4]   one-hot A C G T(U); N -> all zero
        fold.npy           float32 [N, L, C]   structure channels (see manifest)
        cons.npy           float32 [N, L, 1]   conservation
        <track>.npy        float32 [N, L, 1]
        labels.npy         int64   [N]         index into manifest["classes"]
        meta.tsv.gz        chrom, start, end, strand, class, name, orig_chrom, orig_start, orig_end

Arrays are opened with ``mmap_mode="r"``, so datasets larger than memory stay usable
and DataLoader workers share pages instead of copying.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lociflow.errors import DatasetError, LociflowError
from lociflow.io.atomic import save_npy, write_json
from lociflow.io.files import reading
from lociflow.layout import LABELS_FILE, MANIFEST_FILE, META_FILE, PARAMS_FILE, SPLITS

FORMAT_VERSION = 1


@dataclass
class SplitArrays:
    """One split of a dataset: per-branch input arrays, integer labels and metadata."""

    name: str
    path: Path
    inputs: dict[str, np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def meta(self):
        """The per-locus metadata table (pandas DataFrame) in array order."""
        import pandas as pd

        path = self.path / META_FILE
        with reading(path, "Dataset metadata", DatasetError):
            try:
                return pd.read_csv(path, sep="\t", dtype={"chrom": str, "name": str}, keep_default_na=False)
            except (ValueError, pd.errors.ParserError) as exc:
                raise DatasetError(f"{path} is damaged ({exc}); preprocess the dataset again.") from None


class DatasetDir:
    """A dataset directory opened for reading. Use :func:`open_dataset`.

    Parameters
    ----------
    path : Path
        The dataset directory.
    manifest : dict
        Its ``manifest.json``, already read.
    """

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = path
        self.manifest = manifest

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["classes"])

    @property
    def branches(self) -> list[str]:
        return list(self.manifest["branches"])

    @property
    def channels(self) -> dict[str, list[str]]:
        """Branch name -> its channel names, in array order."""
        return {name: list(info["channels"]) for name, info in self.manifest["branches"].items()}

    @property
    def window(self) -> int:
        return int(self.manifest["window"])

    @property
    def alphabet(self) -> str:
        return str(self.manifest["alphabet"])

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return self.manifest["counts"]

    @cached_property
    def params(self) -> dict[str, Any]:
        """The ``preprocess`` parameters that made this dataset."""
        import yaml

        from lociflow.configfile import safe_load_yaml

        path = self.path / PARAMS_FILE
        with reading(path, "Dataset parameters", DatasetError):
            try:
                with open(path, encoding="utf-8") as handle:
                    document = safe_load_yaml(handle) or {}
            except (yaml.YAMLError, LociflowError) as exc:
                raise DatasetError(f"{path} is damaged ({exc}); preprocess the dataset again.") from None
        section = document.get("preprocess", {}) if isinstance(document, dict) else None
        if not isinstance(section, dict):
            raise DatasetError(f"{path} holds no preprocess section; preprocess the dataset again.")
        return section

    def splits(self) -> list[str]:
        """The splits present with at least one locus."""
        return [s for s in SPLITS if self.counts.get(s) and sum(self.counts[s].values()) > 0]

    def split(self, name: str) -> SplitArrays:
        """Open split ``name`` with memory-mapped arrays.

        Parameters
        ----------
        name : str
            One of :data:`~lociflow.layout.SPLITS`.

        Returns
        -------
        SplitArrays
            The split's inputs per branch and labels, memory-mapped read-only.

        Raises
        ------
        DatasetError
            For an unknown or absent split, or a missing, unreadable or mismatched array.
        """
        if name not in SPLITS:
            raise DatasetError(f"Unknown split {name!r}; splits are {', '.join(SPLITS)}.")
        folder = self.path / name
        if not folder.is_dir():
            present = ", ".join(self.splits()) or "none"
            raise DatasetError(f"Dataset {self.path} has no {name!r} split (present: {present}).")
        inputs = {}
        for branch in self.branches:
            inputs[branch] = _load(folder / f"{branch}.npy")
        labels = _load(folder / LABELS_FILE)
        for branch, array in inputs.items():
            if array.shape[0] != labels.shape[0]:
                raise DatasetError(
                    f"{folder / (branch + '.npy')} holds {array.shape[0]} loci but labels.npy holds "
                    f"{labels.shape[0]}: the dataset is corrupted; preprocess it again."
                )
        return SplitArrays(name=name, path=folder, inputs=inputs, labels=labels)


def _load(path: Path) -> np.ndarray:
    if not path.exists():
        raise DatasetError(f"{path} is missing: the dataset is incomplete; preprocess it again.")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DatasetError(f"{path} cannot be read ({exc}); preprocess the dataset again.") from None


def open_dataset(path: str | os.PathLike) -> DatasetDir:
    """Open a dataset directory written by ``lociflow preprocess``.

    Parameters
    ----------
    path : str or os.PathLike
        The dataset directory (``~`` expanded).

    Returns
    -------
    DatasetDir
        The dataset, its path resolved.

    Raises
    ------
    DatasetError
        When the folder does not exist, has no readable manifest, or has another format
        version.
    """
    path = Path(path).expanduser()
    manifest_path = path / MANIFEST_FILE
    if not path.is_dir():
        raise DatasetError(f"Dataset directory {path} does not exist.")
    if not manifest_path.exists():
        raise DatasetError(
            f"{path} is not a lociflow dataset (no manifest.json); give the folder that "
            "`lociflow preprocess` printed."
        )
    with reading(manifest_path, "Dataset manifest", DatasetError):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{manifest_path} is corrupted ({exc}).") from None
    if not isinstance(manifest, dict):
        raise DatasetError(f"{manifest_path} is corrupted (not a JSON object); preprocess the dataset again.")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise DatasetError(
            f"{path} has dataset format version {version}; this lociflow reads version "
            f"{FORMAT_VERSION}. Preprocess it again with this version."
        )
    return DatasetDir(path.resolve(), manifest)


def write_split(folder: Path, inputs: dict[str, np.ndarray], labels: np.ndarray, meta) -> None:
    """Write one split's arrays and metadata into ``folder`` (each file atomically).

    Parameters
    ----------
    folder : Path
        The split's folder (created if needed).
    inputs : dict of str to numpy.ndarray
        Arrays per branch, written as ``<branch>.npy`` (may be empty when the arrays
        were written already).
    labels : numpy.ndarray
        The class index of each locus, written as int64.
    meta : pandas.DataFrame
        The per-locus metadata, written as gzip-compressed TSV.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for branch, array in inputs.items():
        save_npy(folder / f"{branch}.npy", array)
    save_npy(folder / LABELS_FILE, np.asarray(labels, dtype=np.int64))
    _write_meta(folder / META_FILE, meta)


def _write_meta(path: Path, meta) -> None:
    import gzip

    from lociflow.io.atomic import atomic_open

    with atomic_open(path, "wb") as raw:
        # mtime=0 and no file name (it would be the temporary name) keep the gzip bytes
        # identical between identical runs
        with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as handle:
            handle.write(meta.to_csv(sep="\t", index=False).encode("utf-8"))


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` last: its presence marks a complete dataset.

    Parameters
    ----------
    folder : Path
        The dataset directory.
    manifest : dict
        Its contents; ``format_version`` is added.
    """
    write_json(folder / MANIFEST_FILE, {"format_version": FORMAT_VERSION, **manifest})

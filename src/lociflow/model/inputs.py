"""The model-input layer: open a model, check what it is given, and encode it in batches.

Evaluate, predict and interpret all do the same three things before they compute
anything, and do them here, in this order, so that they cannot drift apart:

1. :func:`open_model` loads the model a stage's ``model`` option names, on the device
   its ``device`` option names;
2. :func:`open_input` checks the stage's input against the model before any run folder
   exists: a dataset split (``data`` + ``split``) must have the model's window,
   alphabet, branches, channels and classes; new files (``input``, or ``classes`` for
   labelled files) must exist, hold something, and come with the genome, conservation
   and tracks the model needs (files not given default to those of training, when they
   still exist) (the checks themselves are :mod:`lociflow.model.input_checks`);
3. :meth:`ModelInput.batches` turns that input into :class:`InputBatch` es: arrays of
   exactly the shape the network takes, one per branch, with per-locus metadata and,
   for labelled input, labels as the model's class indices. New input is encoded with
   the model's own preprocess parameters (``LoadedModel.preprocess``, whose window,
   alphabet and branches are the network's), so a locus is windowed, oriented, encoded,
   folded and mapped as in training.

A mismatch is refused with what the model expects and what was given, instead of
failing (or, worse, giving numbers) halfway through a long run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.errors import ConfigError, DatasetError, InputFileError
from lociflow.model.input_checks import (
    check_classes,
    check_dataset,
    check_sources,
    label_map,
)

log = logging.getLogger("lociflow.model.inputs")

__all__ = ["InputBatch", "ModelInput", "open_model", "open_input"]



# --------------------------------------------------------------------------- the model


def open_model(cfg: Any):
    """Load the model a stage's config names, on the device it names.

    Parameters
    ----------
    cfg : ModelInputConfig
        A stage config with ``model`` (the model folder) and ``device``.

    Returns
    -------
    lociflow.model.io.LoadedModel
        The model, on the resolved device.

    Raises
    ------
    ConfigError
        When no model is named.
    ModelFileError
        For a missing or damaged model.
    """
    from lociflow.model.device import resolve_device
    from lociflow.model.io import load_model

    if cfg.model is None:
        raise ConfigError("No model given: name a model directory (--model MODEL_DIR).")
    return load_model(cfg.model, device=resolve_device(cfg.device))


# --------------------------------------------------------------------------- batches


@dataclass
class InputBatch:
    """Encoded loci ready for the network.

    Attributes
    ----------
    inputs : dict of str to numpy.ndarray
        One ``[N, window, channels]`` array per model branch, in the model's branch order.
    meta : pandas.DataFrame
        One row per locus (ids, coordinates; a ``class`` column for labelled files).
    labels : numpy.ndarray or None
        int64 ``[N]``: each locus's class as an index into the model's classes; ``None``
        for unlabelled input.
    """

    inputs: dict[str, np.ndarray]
    meta: pd.DataFrame
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.meta)


@dataclass
class ModelInput:
    """A stage's input for one model, checked and ready to encode.

    Made by :func:`open_input`; nothing is read or encoded until :meth:`batches` or
    :meth:`read` is called.

    Attributes
    ----------
    model : LoadedModel
        The model the input is for.
    description : str
        What the input is, for logs and reports ("DATASET (test split, 812 loci)", or the
        files per class).
    labelled : bool
        Whether every batch has labels.
    dataset : DatasetDir or None
        The dataset, when the input is a dataset split.
    split : str or None
        The split's name, when the input is a dataset split.
    """

    model: Any
    description: str
    labelled: bool
    dataset: Any = None
    split: str | None = None
    files: list[Path] = field(default_factory=list)
    classes: dict[str, list[Path]] = field(default_factory=dict)
    genome: Path | None = None
    conservation: Path | None = None
    tracks: dict[str, Path] = field(default_factory=dict)
    workers: int = 1
    cache_dir: Path | None = None

    def batches(self, chunk_size: int | None = None) -> Iterator[InputBatch]:
        """The input as checked batches of at most ``chunk_size`` loci, in input order.

        Parameters
        ----------
        chunk_size : int, optional
            Loci per batch. Default (None): a dataset split comes as one batch of
            memory-mapped arrays, new files in batches of 10,000 loci.

        Yields
        ------
        InputBatch
            Never an empty one.
        """
        if self.dataset is not None:
            yield from self._split_batches(chunk_size)
        elif self.classes:
            yield from self._class_batches(chunk_size)
        else:
            yield from self._file_batches(list(self.files), chunk_size)

    def read(self) -> InputBatch:
        """The whole input as one batch (arrays in memory, except a dataset split's).

        Returns
        -------
        InputBatch
            All loci, in input order.

        Raises
        ------
        InputFileError
            When the input holds no locus.
        """
        parts = list(self.batches())
        if not parts:
            raise InputFileError(f"No loci could be read from {self.description}: the input is empty.")
        if len(parts) == 1:
            return parts[0]
        inputs = {b: np.concatenate([p.inputs[b] for p in parts]) for b in self.model.branches}
        meta = pd.concat([p.meta for p in parts], ignore_index=True)
        labels = np.concatenate([p.labels for p in parts]) if self.labelled else None
        return InputBatch(inputs, meta, labels)

    # ----------------------------------------------------------------- sources

    def _split_batches(self, chunk_size: int | None) -> Iterator[InputBatch]:
        split = self.dataset.split(self.split)
        labels = label_map(self.model, self.dataset.classes)[np.asarray(split.labels)]
        meta = split.meta().reset_index(drop=True)
        inputs = {b: split.inputs[b] for b in self.model.branches}
        self.model.check_inputs(inputs, self.description)
        n = len(labels)
        step = n if not chunk_size else int(chunk_size)
        for lo in range(0, n, max(step, 1)):
            hi = min(n, lo + step)
            rows = slice(lo, hi)
            yield InputBatch({b: a[rows] for b, a in inputs.items()}, meta.iloc[rows].reset_index(drop=True),
                             labels[rows])

    def _file_batches(self, files: list[Path], chunk_size: int | None) -> Iterator[InputBatch]:
        from lociflow.preprocessing.stream import encode_inputs

        chunks = encode_inputs(
            files, self.model.preprocess, genome=self.genome, conservation=self.conservation,
            tracks=dict(self.tracks) or None, chunk_size=chunk_size or 10_000, workers=self.workers,
            cache_dir=self.cache_dir,
        )
        try:
            for chunk in chunks:
                if len(chunk) == 0:
                    continue
                inputs = {b: chunk.inputs[b] for b in self.model.branches if b in chunk.inputs}
                self.model.check_inputs(inputs, self.description)
                yield InputBatch(inputs, chunk.meta.reset_index(drop=True))
        finally:
            chunks.close()  # stops a folding pool at once, also when the caller stops early

    def _class_batches(self, chunk_size: int | None) -> Iterator[InputBatch]:
        for name, files in self.classes.items():
            index = self.model.classes.index(name)
            for batch in self._file_batches(list(files), chunk_size):
                batch.meta = batch.meta.assign(**{"class": name})
                batch.labels = np.full(len(batch), index, dtype=np.int64)
                yield batch


# --------------------------------------------------------------------------- checks before any work


def open_input(cfg: Any, model, labelled: bool = False) -> ModelInput:
    """Check a stage's input against ``model``; return it, ready to encode.

    Parameters
    ----------
    cfg : ModelInputConfig
        The stage's config. Its input is a dataset split (``data`` + ``split``), new
        labelled files per class (``classes``), or new files (``input``), whichever of
        these the stage offers; exactly one must be given. ``genome``,
        ``conservation``, ``tracks``, ``workers`` and ``cache_dir`` serve new files.
    model : LoadedModel
        The model the input is for (from :func:`open_model`).
    labelled : bool
        The stage needs labels (evaluation): new input must then come per class.
        Default is False.

    Returns
    -------
    ModelInput
        The checked input, ready for :meth:`ModelInput.batches` or :meth:`ModelInput.read`.

    Raises
    ------
    LociflowError
        A config, dataset or input-file error naming what does not fit.
    """
    data = getattr(cfg, "data", None)
    files = [Path(p) for p in (getattr(cfg, "input", None) or [])]
    classes = {str(c): [Path(p) for p in paths] for c, paths in (getattr(cfg, "classes", None) or {}).items()}
    _check_one_source(cfg, data, files, classes, labelled)
    common = dict(genome=cfg.genome, conservation=cfg.conservation, tracks=dict(cfg.tracks or {}),
                  workers=getattr(cfg, "workers", 1), cache_dir=getattr(cfg, "cache_dir", None))
    if data is not None:
        from lociflow.io.store import open_dataset

        dataset = open_dataset(data)
        check_dataset(model, dataset)
        split = dataset.split(cfg.split)
        if len(split) == 0:
            raise DatasetError(f"The {cfg.split!r} split of {dataset.path} holds no loci.")
        description = f"{dataset.path} ({cfg.split} split, {len(split)} loci)"
        return ModelInput(model, description, True, dataset=dataset, split=cfg.split, **common)
    if classes:
        check_classes(model, classes)
        check_sources(model, [f for paths in classes.values() for f in paths], cfg.genome, cfg.conservation, cfg.tracks)
        description = "; ".join(f"{c}: {', '.join(str(p) for p in paths)}" for c, paths in classes.items())
        return ModelInput(model, description, True, classes=classes, **common)
    check_sources(model, files, cfg.genome, cfg.conservation, cfg.tracks)
    return ModelInput(model, ", ".join(str(p) for p in files), False, files=files, **common)


def _check_one_source(cfg, data, files, classes, labelled: bool) -> None:
    fields = type(cfg).model_fields
    offered = []
    if "data" in fields:
        offered.append("a dataset directory (--data DATASET_DIR [--split test])")
    if "classes" in fields:
        offered.append("new files per class (--class bound=pos.fa --class unbound=neg.fa)")
    if "input" in fields and not labelled:
        offered.append("input files (--input FILE)")
    given = sum([data is not None, bool(files), bool(classes)])
    if given == 1:
        return
    if len(offered) == 1:
        raise ConfigError(f"No input given: name {offered[0].replace('input files', 'at least one BED, FASTA or text file')}.")
    raise ConfigError(f"Give either {' or '.join(offered)}, not both and not neither.")

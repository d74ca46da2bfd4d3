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
   still exist);
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
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.configfile import suggest
from lociflow.errors import ConfigError, DatasetError, InputFileError, LociflowError
from lociflow.layout import BUILTIN_BRANCHES

log = logging.getLogger("lociflow.model.inputs")

__all__ = [
    "InputBatch",
    "ModelInput",
    "open_model",
    "open_input",
    "check_dataset",
    "check_sources",
    "check_genome_inputs",
    "check_classes",
    "label_map",
]

#: branches read at genome coordinates (everything but the sequence and its folding)
_SEQUENCE_ONLY = ("seq", "fold")


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
        return int(self.meta.shape[0]) if self.meta is not None else int(next(iter(self.inputs.values())).shape[0])


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
        if self.dataset is not None:
            parts = list(self._split_batches(None))
        else:
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


def check_file(path: str | os.PathLike | None, what: str) -> None:
    """A named input file must exist, be a file and not be empty (``None``: nothing to check).

    Parameters
    ----------
    path : str or os.PathLike or None
        The file; None is accepted without a check.
    what : str
        How the message names the file, e.g. ``"Genome FASTA"``.

    Raises
    ------
    InputFileError
        When the path does not exist, is not a file or is empty.
    """
    if path is None:
        return
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{what} {path} does not exist.")
    if not path.is_file():
        raise InputFileError(f"{what} {path} is not a file.")
    if path.stat().st_size == 0:
        raise InputFileError(f"{what} {path} is empty: it holds no loci.")


def trained_file(model, key: str, name: str | None = None) -> Path | None:
    """A file the model's dataset was made from (genome, conservation, a track), if it still exists.

    New input may leave these out when they are the same files as in training: the
    encoder falls back to the paths stored in the model's preprocess parameters.

    Parameters
    ----------
    model : LoadedModel
        The model whose ``preprocess`` parameters are read.
    key : str
        The parameter: ``"genome"``, ``"conservation"`` or ``"tracks"``.
    name : str or None
        For ``key="tracks"``, the track (branch) name within that mapping. Default is None.

    Returns
    -------
    Path or None
        The stored path when it names an existing file, else None.
    """
    value = (model.preprocess or {}).get(key)
    if name is not None:
        value = (value or {}).get(name) if isinstance(value, Mapping) else None
    if value in (None, ""):
        return None
    path = Path(value)
    return path if path.is_file() else None


def check_sources(
    model,
    sources: Iterable[str | os.PathLike],
    genome: str | os.PathLike | None = None,
    conservation: str | os.PathLike | None = None,
    tracks: Mapping[str, str | os.PathLike] | None = None,
) -> None:
    """Refuse new input files that cannot be encoded for ``model``.

    Every file must exist and hold something; interval files need the genome; a model
    with a ``cons`` branch needs the conservation bigWig, and one with a track branch
    needs that track (files not given default to those of training, when they still
    exist); track branches need genomic (BED) input. Called before any run folder is made.

    Parameters
    ----------
    model : LoadedModel
        The model the files are for.
    sources : iterable of str or os.PathLike
        The input files (BED, FASTA or text); at least one.
    genome : str or os.PathLike or None
        Reference genome FASTA, needed by BED input. Default is None (the training genome,
        if it still exists).
    conservation : str or os.PathLike or None
        Conservation bigWig for a ``cons`` branch. Default is None (the training file, if
        it still exists).
    tracks : mapping of str to path or None
        Track bigWig per track branch. Default is None (the training files, where they
        still exist).

    Raises
    ------
    InputFileError
        When a file is missing or empty, BED input has no genome, or sequence input is
        given to a model that reads genome coordinates.
    LociflowError
        When a ``cons`` or track branch has no file (from :func:`check_branch_inputs`).
    """
    from lociflow.io.bed import file_kind

    sources = [Path(s) for s in sources]
    if not sources:
        raise InputFileError("No input files given: name at least one BED, FASTA or text file.")
    for source in sources:
        check_file(source, "Input file")
    check_file(genome, "Genome FASTA")
    check_file(conservation, "Conservation file")
    tracks = dict(tracks or {})
    for name, path in tracks.items():
        check_file(path, f"Track {name!r}")
    kinds = {source: file_kind(source) for source in sources}
    bed = [s for s, kind in kinds.items() if kind == "bed"]
    if bed and genome is None:
        genome = trained_file(model, "genome")
        if genome is None:
            raise InputFileError(
                f"{bed[0]} is an interval file: give the reference genome it refers to (--genome FASTA)."
            )
        log.info("using the genome the model was trained with: %s", genome)
    if conservation is None and "cons" in model.branches:
        conservation = trained_file(model, "conservation")
        if conservation is not None:
            log.info("using the conservation file the model was trained with: %s", conservation)
    for branch in model.branches:
        if branch not in BUILTIN_BRANCHES and branch not in tracks:
            found = trained_file(model, "tracks", branch)
            if found is not None:
                tracks[branch] = found
    check_branch_inputs(model, conservation, tracks)
    genomic = [b for b in model.branches if b not in _SEQUENCE_ONLY]
    sequences = [s for s, kind in kinds.items() if kind != "bed"]
    if genomic and sequences:
        raise InputFileError(
            f"{sequences[0]} holds sequences without genome coordinates, but model {model.path} reads "
            f"{', '.join(genomic)} at genome coordinates: give the loci as BED with --genome."
        )


def check_genome_inputs(cfg: Any, model, reading: str) -> dict[str, Any]:
    """The genome and branch files of a stage that reads windows straight from the genome.

    ``variants`` and ``scan`` take no loci files: their windows come from the genome
    itself, so the genome is required (default: the model's training genome, if it still
    exists), as are the ``cons`` and track files of the model's branches.

    Parameters
    ----------
    cfg : ModelInputConfig
        The stage's config (``genome``, ``conservation``, ``tracks``).
    model : LoadedModel
        The model the windows are for.
    reading : str
        The start of the message when no genome is found, e.g. ``"Variants are read"``.

    Returns
    -------
    dict
        ``genome`` (a Path), ``conservation`` (a Path or None) and ``tracks`` (branch ->
        Path), ready for :class:`lociflow.preprocessing.stream.Encoder`.

    Raises
    ------
    InputFileError
        When the genome (or a given file) is missing or empty.
    LociflowError
        When a ``cons`` or track branch has no file.
    """
    check_file(cfg.genome, "Genome FASTA")
    check_file(cfg.conservation, "Conservation file")
    for name, path in (cfg.tracks or {}).items():
        check_file(path, f"Track {name!r}")
    genome = cfg.genome or trained_file(model, "genome")
    if genome is None:
        raise InputFileError(f"{reading} from the reference genome: give it (--genome GENOME.fa).")
    conservation = cfg.conservation or trained_file(model, "conservation")
    tracks = dict(cfg.tracks or {})
    for branch in model.branches:
        found = trained_file(model, "tracks", branch)
        if branch not in BUILTIN_BRANCHES and branch not in tracks and found is not None:
            tracks[branch] = found
    check_branch_inputs(model, conservation if "cons" in model.branches else None, tracks)
    return {"genome": Path(genome), "conservation": conservation, "tracks": tracks}


def check_branch_inputs(model, conservation=None, tracks: Mapping | None = None) -> None:
    """A model's ``cons`` and track branches need their files; extra files are ignored.

    Files the model does not read are logged as a warning, not refused.

    Parameters
    ----------
    model : LoadedModel
        The model; its ``branches`` (and ``path``, for the message) are read.
    conservation : path or None
        The conservation bigWig, or None when there is none. Default is None.
    tracks : mapping of str to path or None
        Track files by branch name. Default is None (no tracks).

    Raises
    ------
    LociflowError
        When the model has a ``cons`` branch and no conservation file, or a track branch
        whose track is not in ``tracks``.
    """
    tracks = dict(tracks or {})
    where = getattr(model, "path", "the model")
    if "cons" in model.branches and conservation is None:
        raise LociflowError(
            f"Model {where} has a conservation (cons) branch: give the conservation bigWig it was "
            "trained with (--conservation FILE)."
        )
    for branch in model.branches:
        if branch in BUILTIN_BRANCHES:
            continue
        if branch not in tracks:
            raise LociflowError(
                f"Model {where} has a {branch!r} track branch: give that track "
                f"(--track {branch}=FILE.bw); given tracks: {', '.join(tracks) or 'none'}."
            )
    if conservation is not None and "cons" not in model.branches:
        log.warning("The model has no cons branch; the conservation file is not used.")
    for name in tracks:
        if name not in model.branches:
            log.warning("The model has no %r branch; that track is not used.", name)


def check_classes(model, names: Iterable[str]) -> list[str]:
    """Class names given for new labelled input must be the model's; returns them.

    A model class with no files is logged as a warning.

    Parameters
    ----------
    model : LoadedModel
        The model whose ``classes`` are allowed.
    names : iterable of str
        The classes given (e.g. the keys of ``--class``).

    Returns
    -------
    list of str
        ``names`` as a list, in the order given.

    Raises
    ------
    LociflowError
        When no class is given, or one is not a class of the model.
    """
    names = list(names)
    if not names:
        raise LociflowError("No classes given: name each class with its files (--class bound=pos.fa).")
    for name in names:
        if name not in model.classes:
            raise LociflowError(
                f"Class {name!r}{suggest(name, model.classes)} is not a class of the model; "
                f"its classes are {', '.join(model.classes)}."
            )
    missing = [c for c in model.classes if c not in names]
    if missing:
        log.warning("No files given for class(es) %s: their one-vs-rest scores will be empty.", ", ".join(missing))
    return names


def _describe(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, dict):
        return "{" + "; ".join(f"{k}: {_describe(v)}" for k, v in value.items()) + "}"
    return str(value)


def check_dataset(model, dataset) -> None:
    """A dataset directory must have the model's window, alphabet, branches, channels, classes.

    Class order may differ (labels are mapped by name in :func:`label_map`); everything
    else must be equal. All differences are listed in one message.

    Parameters
    ----------
    model : LoadedModel
        The model.
    dataset : DatasetDir
        An opened dataset directory (:func:`lociflow.io.store.open_dataset`).

    Raises
    ------
    DatasetError
        When any of these properties differ.
    """
    wanted = {
        "window": model.window,
        "alphabet": model.alphabet,
        "branches": list(model.branches),
        "channels": {b: list(model.channels.get(b, [])) for b in model.branches},
        "classes": sorted(model.classes),
    }
    given = {
        "window": dataset.window,
        "alphabet": dataset.alphabet,
        "branches": list(dataset.branches),
        "channels": {b: list(dataset.channels.get(b, [])) for b in dataset.branches},
        "classes": sorted(dataset.classes),
    }
    problems = [
        f"{key}: the model expects {_describe(wanted[key])}, the dataset has {_describe(given[key])}"
        for key in wanted
        if wanted[key] != given[key] and not (key == "channels" and wanted["branches"] != given["branches"])
    ]
    if problems:
        raise DatasetError(
            f"Dataset {dataset.path} does not fit model {model.path}:\n  " + "\n  ".join(problems)
            + "\nPreprocess the data with the model's parameters (see its spec.yaml), or evaluate on new files."
        )


def label_map(model, dataset_classes: list[str]) -> np.ndarray:
    """Dataset label index -> model class index (the same classes, possibly reordered).

    Parameters
    ----------
    model : LoadedModel
        The model whose ``classes`` give the target order.
    dataset_classes : list of str
        The dataset's classes in its label order; each must be a model class.

    Returns
    -------
    numpy.ndarray
        int64 ``[len(dataset_classes)]``: entry ``i`` is the model's index of dataset label ``i``.
    """
    return np.array([model.classes.index(c) for c in dataset_classes], dtype=np.int64)

"""Whether an input fits a model: checks made before any work starts.

A model only makes sense of input encoded exactly as in training: the same window,
alphabet, branches and channels, and the same tracks (conservation, named bigWigs). The
model-input layer (:mod:`lociflow.model.inputs`) and the genome-reading stages (variants,
scan) call these checks first, so that a mismatch is refused with what the model expects
and what was given, instead of failing (or, worse, giving numbers) halfway through a long run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lociflow.configfile import suggest
from lociflow.errors import DatasetError, InputFileError, LociflowError
from lociflow.layout import BUILTIN_BRANCHES

log = logging.getLogger("lociflow.model.inputs")

__all__ = ["check_file", "trained_file", "check_sources", "check_genome_inputs", "check_branch_inputs",
           "check_classes", "check_dataset", "label_map"]

#: branches read at genome coordinates (everything but the sequence and its folding)
_SEQUENCE_ONLY = ("seq", "fold")


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

"""Checks that an input fits a model, made before any work starts.

A model only makes sense of input encoded exactly as in training: the same window,
alphabet, branches and channels, and the same tracks (conservation, named bigWigs).
Evaluate, predict and interpret call these checks first, so that a mismatch is refused
with what the model expects and what was given, instead of failing (or, worse, giving
numbers) halfway through a long run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from lociflow.configfile import suggest
from lociflow.errors import DatasetError, InputFileError, LociflowError

log = logging.getLogger("lociflow.compat")

def resolve_device(name: str = "auto") -> str:
    """``auto`` -> the first CUDA GPU (or Apple MPS) when present, else ``cpu``."""
    import torch

    if name != "auto":
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise LociflowError(f"Device {name!r} was asked for, but no CUDA GPU is available here; use --device cpu.")
        return name
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def check_file(path: str | os.PathLike | None, what: str) -> None:
    """A named input file must exist, be a file and not be empty."""
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
        if branch not in ("seq", "fold", "cons") and branch not in tracks:
            found = trained_file(model, "tracks", branch)
            if found is not None:
                tracks[branch] = found
    check_branch_inputs(model, conservation, tracks)
    genomic = [b for b in model.branches if b not in ("seq", "fold")]
    sequences = [s for s, kind in kinds.items() if kind != "bed"]
    if genomic and sequences:
        raise InputFileError(
            f"{sequences[0]} holds sequences without genome coordinates, but model {model.path} reads "
            f"{', '.join(genomic)} at genome coordinates: give the loci as BED with --genome."
        )


def check_branch_inputs(model, conservation=None, tracks: Mapping | None = None) -> None:
    """A model's ``cons`` and track branches need their files; extra files are ignored."""
    tracks = dict(tracks or {})
    where = getattr(model, "path", "the model")
    if "cons" in model.branches and conservation is None:
        raise LociflowError(
            f"Model {where} has a conservation (cons) branch: give the conservation bigWig it was "
            "trained with (--conservation FILE)."
        )
    for branch in model.branches:
        if branch in ("seq", "fold", "cons"):
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
    """Class names given for new labelled input must be the model's; returns them."""
    names = list(names)
    if not names:
        raise LociflowError("No classes given: name each class with its files (--class bound=pos.fa).")
    for name in names:
        if name not in model.classes:
            raise LociflowError(
                f"Class {name!r}{suggest(name, model.classes)} is not a class of the model; its classes are {', '.join(model.classes)}."
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


def label_map(model, dataset_classes: list[str]):
    """Dataset label index -> model class index (the same classes, possibly reordered)."""
    import numpy as np

    return np.array([model.classes.index(c) for c in dataset_classes], dtype=np.int64)


def check_arrays(model, inputs: Mapping, source: str = "the input") -> None:
    """Encoded arrays must have one entry per model branch, shaped [N, window, channels]."""
    missing = [b for b in model.branches if b not in inputs]
    if missing:
        raise LociflowError(
            f"{source} has no {', '.join(missing)} input, which the model needs "
            f"(model branches: {', '.join(model.branches)}; given: {', '.join(inputs) or 'none'})."
        )
    sizes = {int(inputs[b].shape[0]) for b in model.branches}
    if len(sizes) > 1:
        raise LociflowError(f"{source}: the branches hold different numbers of loci ({sorted(sizes)}).")
    for branch in model.branches:
        shape = tuple(inputs[branch].shape)
        expected = (model.window, len(model.channels[branch]))
        if len(shape) != 3 or shape[1:] != expected:
            raise LociflowError(
                f"{source}: branch {branch!r} has shape {list(shape)}; the model expects "
                f"[N, {expected[0]}, {expected[1]}] (window {model.window}, channels "
                f"{_describe(model.channels[branch])})."
            )


def encoding_params(model) -> dict:
    """The preprocess parameters to encode new input for ``model``.

    The model's own window, alphabet and branches win over its stored preprocess
    parameters, so a TorchScript model whose spec gives only those still gets input of
    the shape it takes.
    """
    params = dict(model.preprocess or {})
    params.update({"window": int(model.window), "alphabet": model.alphabet, "branches": list(model.branches)})
    return params

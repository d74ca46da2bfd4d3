"""What sequence records look like, read before any window is cut: ``window: auto`` and
``viewpoint: auto`` are resolved from it.

- ``viewpoint: auto`` becomes ``uppercase`` when nearly every record of the class FASTA
  files is in GraphProt layout (one run of upper case, the bound site, inside lowercase
  flanks), else ``center``.
- ``window: auto`` becomes :data:`~lociflow.config.BED_WINDOW` when any class is read from
  BED; otherwise the median length of the sequence records, at most
  :data:`~lociflow.config.AUTO_WINDOW_VIEWPOINT` around a viewpoint (wider flanks did not help:
  bench/RESULTS.md) and :data:`~lociflow.config.AUTO_WINDOW_MAX` without one.

The first :data:`SAMPLE_RECORDS` records of each file are read, so the choice is made in
seconds whatever the size of the input, and always the same for the same files.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from lociflow.config import (
    AUTO_WINDOW_MAX,
    AUTO_WINDOW_VIEWPOINT,
    BED_WINDOW,
    PreprocessConfig,
)
from lociflow.config_sources import GeneratedClass

log = logging.getLogger("lociflow.preprocess")

SAMPLE_RECORDS = 20_000
"""Records read per file to choose the window and the viewpoint."""
VIEWPOINT_SHARE = 0.9
"""The share of records in GraphProt layout above which ``viewpoint: auto`` is ``uppercase``."""

_UPPER_RUN = re.compile(r"[A-Z]+")
_LOWER = re.compile(r"[a-z]")


@dataclass(frozen=True)
class RecordSurvey:
    """The sampled records of a preprocess config's sequence inputs."""

    lengths: np.ndarray
    """Lengths of the sampled records of every sequence source (FASTA, text, table, labelled)."""
    viewpoint_share: float
    """The share of the class FASTA records in GraphProt layout (0 when there are none)."""
    from_bed: bool
    """Whether any class is read from BED (its windows come from the genome)."""


def has_viewpoint(sequence: str) -> bool:
    """Whether a record is in GraphProt layout: exactly one run of upper case, and lowercase flanks.

    Parameters
    ----------
    sequence : str
        One record's letters, case kept.

    Returns
    -------
    bool
        True for e.g. ``"acguACGUacgu"`` or ``"ACGUacgu"``; False for all upper or all lower
        case, and for soft-masked records with several upper-case runs.
    """
    return _LOWER.search(sequence) is not None and len(_UPPER_RUN.findall(sequence)) == 1


def survey(cfg: PreprocessConfig) -> RecordSurvey:
    """Sample the records of every sequence input of ``cfg`` (see the module docs).

    Parameters
    ----------
    cfg : PreprocessConfig
        The preprocess config (its classes, table and labelled sources).

    Returns
    -------
    RecordSurvey
        Their lengths, the share in GraphProt layout, and whether any class is BED.

    Raises
    ------
    InputFileError
        When a file is missing or malformed (as reading it for the dataset would).
    """
    from lociflow.io.bed import file_kind
    from lociflow.io.fasta import iter_fasta_chunks
    from lociflow.preprocessing.loci import iter_text_chunks
    from lociflow.preprocessing.sources import iter_labelled, iter_table

    lengths: list[int] = []
    in_layout = fasta_records = 0
    from_bed = False
    for files in cfg.classes.values():
        if isinstance(files, GeneratedClass):
            continue
        for path in files:
            kind = file_kind(path)
            if kind == "bed":
                from_bed = True
                continue
            chunks = iter_fasta_chunks(path, 5_000) if kind == "fasta" else iter_text_chunks(path, 5_000)
            for seq in _first(seq for _, seqs in chunks for seq in seqs):
                lengths.append(len(seq))
                if kind == "fasta":
                    fasta_records += 1
                    in_layout += has_viewpoint(seq)
    for source, reader in ((cfg.table, iter_table), (cfg.labelled, iter_labelled)):
        if source is not None:  # window 1: only the lengths are wanted
            lengths.extend(_first(int(n) for chunk in reader(source, 1, chunk_rows=5_000) for n in chunk.lengths))
    return RecordSurvey(np.asarray(lengths, dtype=np.int64), in_layout / fasta_records if fasta_records else 0.0,
                        from_bed)


def _first(values: Iterable) -> Iterator:
    for i, value in enumerate(values):
        if i >= SAMPLE_RECORDS:
            return
        yield value


def resolve_auto(cfg: PreprocessConfig) -> PreprocessConfig:
    """``cfg`` with ``window: auto`` and ``viewpoint: auto`` replaced by what the records call for.

    The choice is logged with its reason; the dataset's ``params.yaml`` records the values
    chosen, so a model and its predictions use them whatever the default becomes.

    Parameters
    ----------
    cfg : PreprocessConfig
        The validated preprocess config (without ``source``).

    Returns
    -------
    PreprocessConfig
        ``cfg`` itself when neither is ``auto``, else a copy with both resolved.
    """
    if cfg.window != "auto" and cfg.viewpoint != "auto":
        return cfg
    found = survey(cfg)
    update = {}
    viewpoint = cfg.viewpoint
    if viewpoint == "auto":
        viewpoint = "uppercase" if found.viewpoint_share >= VIEWPOINT_SHARE else "center"
        update["viewpoint"] = viewpoint
        if viewpoint == "uppercase":
            log.info("viewpoint: auto -> uppercase (%.0f%% of the FASTA records have one upper-case site inside "
                     "lowercase flanks, the GraphProt layout): windows are centred on it", 100 * found.viewpoint_share)
    if cfg.window == "auto":
        if found.from_bed or len(found.lengths) == 0:
            window, why = BED_WINDOW, "BED input" if found.from_bed else "no sequence records"
        else:
            median = int(np.median(found.lengths))
            cap = AUTO_WINDOW_VIEWPOINT if viewpoint == "uppercase" else AUTO_WINDOW_MAX
            window = max(1, min(median, cap))
            why = f"median record {median} nt" + (f", at most {cap}" if median > cap else "")
        update["window"] = window
        log.info("window: auto -> %d nt (%s); set window: N to choose", window, why)
    return cfg.model_copy(update=update)

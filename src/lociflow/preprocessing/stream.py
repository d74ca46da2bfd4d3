"""Encoding loci into network inputs, chunk by chunk: one code path for every stage.

``preprocess`` writes its dataset with :class:`Encoder`, and evaluate, predict and
interpret encode new input with :func:`encode_inputs` (through :mod:`lociflow.model.inputs`), which
use the same :class:`Encoder` with the preprocess parameters stored in the model. A
locus is therefore windowed, strand-oriented, encoded, folded and mapped to its tracks
identically whether it was in the training set or arrives years later.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.errors import InputFileError, LociflowError
from lociflow.io.fasta import Genome
from lociflow.layout import INPUT_META_COLUMNS
from lociflow.preprocessing.encode import (
    CHANNELS,
    encode_codes,
    reverse_complement_codes,
)
from lociflow.preprocessing.loci import Loci, iter_loci

log = logging.getLogger("lociflow.preprocess.stream")


@dataclass
class EncodedChunk:
    """Encoded loci: ``inputs`` per branch (dataset dtypes) and ``meta`` (:data:`INPUT_META_COLUMNS`)."""

    inputs: dict[str, np.ndarray]
    meta: pd.DataFrame

    def __len__(self) -> int:
        return len(self.meta)


def resolve_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The preprocess parameters with every missing key set to the config default.

    Parameters
    ----------
    params : mapping
        Preprocess parameters, possibly partial (e.g. those stored in an older model);
        a ``fold`` mapping is merged into the default ``fold`` options.

    Returns
    -------
    dict
        Every :class:`~lociflow.config.PreprocessConfig` field, with ``params`` overriding
        the defaults.
    """
    from lociflow.config import PreprocessConfig

    resolved = {}
    for key, info in PreprocessConfig.model_fields.items():
        default = info.get_default(call_default_factory=True)
        resolved[key] = default.model_dump() if hasattr(default, "model_dump") else default
    for key, value in params.items():
        if key == "fold" and isinstance(value, Mapping):
            resolved["fold"] = {**resolved["fold"], **value}
        else:
            resolved[key] = value
    if resolved["viewpoint"] == "auto":  # datasets record the viewpoint chosen; parameters without one cut at the centre
        resolved["viewpoint"] = "center"
    return resolved


def branch_channels(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """Channel names of every branch the parameters ask for, in array order.

    Parameters
    ----------
    params : mapping
        Preprocess parameters (missing keys take the config defaults).

    Returns
    -------
    dict of str to list of str
        Per branch: the alphabet's letters for ``seq``, the folding features for ``fold``,
        and the branch's own name for a track.
    """
    from lociflow.preprocessing.structure import fold_channels

    params = resolve_params(params)
    channels = {}
    for branch in params["branches"]:
        if branch == "seq":
            channels[branch] = list(CHANNELS[params["alphabet"]])
        elif branch == "fold":
            channels[branch] = fold_channels(params["fold"]["features"])
        else:
            channels[branch] = [branch]
    return channels


def _path(value: Any) -> Path | None:
    return None if value in (None, "") else Path(value)


class Encoder:
    """Turns :class:`~lociflow.preprocessing.loci.Loci` chunks into per-branch arrays.

    Holds what a run opens once: the genome, the bigWig tracks and the folding pool.
    Use it as a context manager. Files not given fall back to those in ``params`` (the
    ones the dataset was made from), so a model's own preprocess parameters suffice to
    encode new BED input on the same assembly.

    Parameters
    ----------
    params : mapping
        Preprocess parameters (a dumped :class:`~lociflow.config.PreprocessConfig`).
    genome, conservation : path or Genome or Track or None
        A path, or an opened Genome / Track. Default is None: those in ``params``.
    tracks : mapping of str to path or None
        Track name -> path for the extra track branches. Default is None: those in ``params``.
    workers : int
        Folding processes. Default is 1.
    cache_dir : str or os.PathLike or None
        Cache folder for genomes, tracks and folds. Default is None: the one in ``params``,
        else ``$LOCIFLOW_CACHE`` or ``~/.cache/lociflow``.
    fold_total : int or None
        Expected number of loci, for one folding progress bar over all chunks.
        Default is None.
    """

    def __init__(self, params: Mapping[str, Any], genome: Any = None, conservation: Any = None,
                 tracks: Mapping[str, Any] | None = None, workers: int = 1,
                 cache_dir: str | os.PathLike | None = None, fold_total: int | None = None):
        self.params = resolve_params(params)
        self.branches = list(self.params["branches"])
        self.window = int(self.params["window"])
        self.cache_dir = cache_dir if cache_dir is not None else _path(self.params.get("cache_dir"))
        self._genome_arg = genome if genome is not None else _path(self.params.get("genome"))
        self._genome: Genome | None = genome if isinstance(genome, Genome) else None
        track_paths = dict(self.params.get("tracks") or {})
        track_paths.update(tracks or {})
        if "cons" in self.branches:
            track_paths["cons"] = conservation if conservation is not None else _path(self.params.get("conservation"))
        self._track_args = {b: track_paths.get(b) for b in self.branches if b not in ("seq", "fold")}
        self._tracks: dict[str, Any] = {}
        self.folder = None
        if "fold" in self.branches:
            from lociflow.preprocessing.structure import Folder

            fold = self.params["fold"]
            self.folder = Folder(fold["features"], fold["temperature"], fold.get("max_bp_span"),
                                 workers=workers, cache_dir=self.cache_dir, total=fold_total)
        self.n_ambiguous = 0

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the folding pool and close the tracks."""
        if self.folder is not None:
            self.folder.close()
        for track in self._tracks.values():
            track.close()
        self._tracks.clear()

    @property
    def genome(self) -> Genome | None:
        """The genome (opened on first use), or None when neither given nor in the params."""
        if self._genome is None and self._genome_arg is not None:
            self._genome = Genome(self._genome_arg, cache_dir=self.cache_dir)
        return self._genome

    def _track(self, branch: str):
        if branch not in self._tracks:
            from lociflow.io.bigwig import Track

            source = self._track_args.get(branch)
            if source is None:
                what = "conservation" if branch == "cons" else f"tracks: {{{branch}: ...}}"
                raise LociflowError(f"The {branch!r} branch needs its bigWig file: give {what}.")
            if hasattr(source, "values"):
                self._tracks[branch] = source
            else:
                sizes = self.genome.chrom_sizes if self._genome_arg is not None else None
                self._tracks[branch] = Track(source, cache_dir=self.cache_dir, missing=self.params["missing"],
                                             chrom_sizes=sizes)
        return self._tracks[branch]

    def oriented_codes(self, loci: Loci) -> tuple[np.ndarray, np.ndarray]:
        """ASCII codes of the windows, minus-strand genomic loci reverse-complemented.

        Minus-strand loci are reversed only when the parameters' ``strand`` is on.

        Parameters
        ----------
        loci : Loci
            One chunk; genomic loci are read from the genome.

        Returns
        -------
        codes : numpy.ndarray
            uint8 ``[N, window]`` ASCII codes.
        reverse : numpy.ndarray
            bool [N], the reversed loci (their other branches must be reversed too).

        Raises
        ------
        InputFileError
            When genomic (BED) loci come without a genome.
        """
        meta = loci.meta
        if loci.codes is None:
            if self.genome is None:
                raise InputFileError("BED input needs a reference genome (genome: genome.fa, or --genome).")
            codes = self.genome.fetch(meta["chrom"].to_numpy(object), meta["start"].to_numpy(np.int64), self.window)
        else:
            codes = np.array(loci.codes, dtype=np.uint8, copy=True)
        reverse = np.zeros(len(meta), dtype=bool)
        if loci.genomic and self.params["strand"]:
            reverse = (meta["strand"] == "-").to_numpy()
            if reverse.any():
                codes[reverse] = reverse_complement_codes(codes[reverse])
        return codes, reverse

    def encode(self, loci: Loci) -> dict[str, np.ndarray]:
        """Every branch of ``loci``: ``seq`` uint8 ``[N, L, 4]``, others float32 ``[N, L, C]``.

        Parameters
        ----------
        loci : Loci
            One chunk of loci.

        Returns
        -------
        dict of str to numpy.ndarray
            One array per branch, in the parameters' branch order.

        Raises
        ------
        LociflowError
            When a track branch has no bigWig file or the loci have no genome coordinates
            (FASTA or text input), or a sequence holds an invalid letter.
        """
        codes, reverse = self.oriented_codes(loci)
        out: dict[str, np.ndarray] = {}
        for branch in self.branches:
            if branch == "seq":
                encoded = encode_codes(codes, self.params["alphabet"], names=list(loci.meta["name"]))
                self.n_ambiguous += encoded.n_ambiguous
                out[branch] = encoded.onehot
            elif branch == "fold":
                out[branch] = self.folder.fold(codes)
            else:
                out[branch] = self._track_values(branch, loci, reverse)
        return out

    def _track_values(self, branch: str, loci: Loci, reverse: np.ndarray) -> np.ndarray:
        if not loci.genomic:
            raise LociflowError(
                f"The {branch!r} branch reads a bigWig at genome coordinates, which FASTA or text input "
                "does not have. Give the loci as BED with a genome, or leave the branch out."
            )
        meta = loci.meta
        values = self._track(branch).values(meta["chrom"].to_numpy(object), meta["start"].to_numpy(np.int64),
                                            self.window)
        # a reverse-complemented sequence reads 3'->5' in genome order: its track must too
        values[reverse] = values[reverse, ::-1]
        return np.ascontiguousarray(values[..., None], dtype=np.float32)


def stream_meta(meta: pd.DataFrame) -> pd.DataFrame:
    """Loci metadata in the :data:`INPUT_META_COLUMNS` layout.

    Parameters
    ----------
    meta : pandas.DataFrame
        :class:`~lociflow.preprocessing.loci.Loci` metadata (its ``name`` becomes ``id``).

    Returns
    -------
    pandas.DataFrame
        The :data:`INPUT_META_COLUMNS`, re-indexed from 0.
    """
    out = meta.rename(columns={"name": "id"})
    return out[list(INPUT_META_COLUMNS)].reset_index(drop=True)


def encode_inputs(sources: Sequence[str | os.PathLike], params: Mapping[str, Any], *, genome: Any = None,
                  conservation: Any = None, tracks: Mapping[str, Any] | None = None, chunk_size: int = 10000,
                  workers: int = 1, cache_dir: str | os.PathLike | None = None) -> Iterator[EncodedChunk]:
    """Encode new input files with a dataset's preprocess parameters, chunk by chunk.

    Each source is a BED/narrowPeak file (windows from ``genome``), a FASTA file, or a
    text file with one sequence per line. Chunks come in input order, so predictions
    can be written as they are made, whatever the size of the input.

    Parameters
    ----------
    sources : sequence of str or os.PathLike
        Input files, read one after another.
    params : mapping
        Preprocess parameters, e.g. ``LoadedModel.preprocess``.
    genome, conservation : path or Genome or Track or None
        Input files. Default is None: those in ``params``.
    tracks : mapping of str to path or None
        Track name -> bigWig file. Default is None: those in ``params``.
    chunk_size : int
        Loci per chunk. Default is 10,000.
    workers : int
        Folding processes. Default is 1.
    cache_dir : str or os.PathLike or None
        Cache folder. Default is None: ``$LOCIFLOW_CACHE`` or ``~/.cache/lociflow``.

    Yields
    ------
    EncodedChunk
        The encoded inputs and metadata of one chunk, in input order.
    """
    resolved = resolve_params(params)
    rng = np.random.default_rng(resolved["seed"])
    with Encoder(resolved, genome, conservation, tracks, workers=workers, cache_dir=cache_dir) as encoder:
        for source in sources:
            dropped = 0
            for loci in iter_loci(source, encoder.window, genome=encoder.genome if _needs_genome(source) else None,
                                  placement=resolved["placement"], edge=resolved["edge"],
                                  viewpoint=resolved["viewpoint"], rng=rng, chunk_size=chunk_size,
                                  record_names=True):  # ids as written, so predictions join back
                dropped += loci.counts.get("dropped_edge", 0) + loci.counts.get("dropped_short_chrom", 0)
                if len(loci) == 0:
                    continue
                yield EncodedChunk(encoder.encode(loci), stream_meta(loci.meta))
            if dropped:
                log.warning("%s: %d loci dropped at chromosome ends (edge: %s)", source, dropped, resolved["edge"])


def _needs_genome(source: str | os.PathLike) -> bool:
    from lociflow.io.bed import file_kind

    return file_kind(source) == "bed"

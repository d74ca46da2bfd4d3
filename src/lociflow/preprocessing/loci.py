"""Reading input files into loci with their windows placed, chunk by chunk.

One reader serves both the ``preprocess`` stage and the encoding of new input for
evaluate/predict/interpret, so a locus is windowed the same way everywhere. A chunk of
loci carries its metadata and, for sequence input (FASTA, plain text), the window's
ASCII codes; genomic input (BED) carries only coordinates, and its sequence is fetched
from the genome when the chunk is encoded, so a huge BED file never sits in memory as
sequences.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lociflow.errors import InputFileError
from lociflow.io.bed import BedTable, file_kind, iter_bed
from lociflow.io.fasta import Genome, check_letters, iter_fasta_chunks
from lociflow.io.files import open_text, reading, require_file
from lociflow.preprocessing.windows import fasta_windows, place_windows

log = logging.getLogger("lociflow.preprocess.loci")

# name, source, window coordinates, strand, and the coordinates the input gave
META_FIELDS = ("name", "source", "chrom", "start", "end", "strand", "orig_chrom", "orig_start", "orig_end")
# GraphProt FASTA headers: ">ID;chrom,start,end,strand" (the viewpoint's coordinates)
_GRAPHPROT = r"^(?P<name>[^;\s]+);(?P<chrom>[^,\s]+),(?P<start>\d+),(?P<end>\d+),(?P<strand>[-+.])"
# iONMF (RBP-31) FASTA headers: ">chrom,strand,start,end; class:0"
_IONMF = r"^(?P<chrom>[^,;\s]+),(?P<strand>[-+.]),(?P<start>\d+),(?P<end>\d+)"


@dataclass
class Loci:
    """A batch of loci with windows placed.

    Attributes
    ----------
    meta : DataFrame with :data:`META_FIELDS` (coordinates as nullable integers; empty
        chromosome and NA coordinates where the input gave none).
    codes : uint8 ``[N, window]`` ASCII codes for sequence input, or None for genomic
        input (BED), whose sequence comes from the genome at encoding time.
    genomic : whether the windows are genome coordinates (BED): only these can be
        reverse-complemented by strand and read from bigWig tracks.
    counts : what windowing did: ``shifted``, ``dropped_edge``, ``padded``, ``trimmed``.
    """

    meta: pd.DataFrame
    codes: np.ndarray | None
    genomic: bool
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.meta)

    def subset(self, index: np.ndarray) -> Loci:
        """The loci at ``index`` (an index array or boolean mask), in that order.

        Parameters
        ----------
        index : numpy.ndarray
            Integer positions or a boolean mask over the loci.

        Returns
        -------
        Loci
            The chosen loci, metadata re-indexed from 0 and ``counts`` empty.
        """
        codes = None if self.codes is None else self.codes[index]
        return Loci(self.meta.iloc[index].reset_index(drop=True), codes, self.genomic, {})

    @classmethod
    def concat(cls, parts: list[Loci]) -> Loci:
        """Join batches; all must be genomic or all sequence input.

        Parameters
        ----------
        parts : list of Loci
            The batches, joined in order; their ``counts`` are summed.

        Returns
        -------
        Loci
            All loci (an empty genomic batch when ``parts`` is empty).

        Raises
        ------
        InputFileError
            When BED (genomic) and FASTA/text batches are mixed.
        """
        if not parts:
            return cls(_empty_meta(), None, True, {})
        kinds = {p.genomic for p in parts}
        if len(kinds) > 1:
            raise InputFileError(
                "BED files and FASTA/text files cannot be mixed in one dataset: BED windows come "
                "from the genome, FASTA records carry their own sequence. Use one kind of input."
            )
        counts: dict[str, int] = {}
        for p in parts:
            for key, value in p.counts.items():
                counts[key] = counts.get(key, 0) + value
        meta = pd.concat([p.meta for p in parts], ignore_index=True)
        codes = None if parts[0].codes is None else np.concatenate([p.codes for p in parts])
        return cls(meta, codes, parts[0].genomic, counts)


def _empty_meta() -> pd.DataFrame:
    return _meta(np.zeros(0, object), "", np.zeros(0, object), None, None, np.zeros(0, object),
                 np.zeros(0, object), None, None)


def _integers(values) -> pd.api.extensions.ExtensionArray:
    """A nullable Int64 column of whole numbers, none missing (built without pandas' per-value checks)."""
    values = np.array(values, dtype=np.int64)
    return pd.arrays.IntegerArray(values, np.zeros(len(values), dtype=bool))


def _same_text(value: str, n: int) -> pd.Index:
    """A text column holding one value ``n`` times, converted once rather than per row."""
    if n == 0:  # as an empty object column infers, so empty tables concatenate as before
        return np.zeros(0, dtype=object)
    return pd.Index([str(value)]).take(np.zeros(n, dtype=np.intp))


def _meta(name, source, chrom, start, end, strand, orig_chrom, orig_start, orig_end) -> pd.DataFrame:
    n = len(name)
    missing = pd.array([pd.NA] * n, dtype="Int64")
    return pd.DataFrame({
        "name": np.asarray(name, dtype=object),
        "source": _same_text(source, n),
        "chrom": np.asarray(chrom, dtype=object),
        "start": missing if start is None else _integers(start),
        "end": missing if end is None else _integers(end),
        "strand": np.asarray(strand, dtype=object),
        "orig_chrom": np.asarray(orig_chrom, dtype=object),
        "orig_start": missing if orig_start is None else _integers(orig_start),
        "orig_end": missing if orig_end is None else _integers(orig_end),
    })


def window_loci(names: np.ndarray, source: str, chrom: np.ndarray, starts: np.ndarray, window: int,
                strand: np.ndarray | str = "+", codes: np.ndarray | None = None) -> Loci:
    """Genomic loci whose windows are the loci themselves (drawn backgrounds, flanks).

    Parameters
    ----------
    names, chrom, starts : per locus; ``starts`` 0-based.
    source : what made them, for the ``source`` column.
    window : window length; each locus is ``[start, start + window)``.
    strand : per locus, or one for all. Default is ``"+"``.
    codes : the windows' ASCII codes when already fetched. Default is None.
    """
    starts = np.asarray(starts, dtype=np.int64)
    strands = np.full(len(starts), strand, dtype=object) if isinstance(strand, str) else np.asarray(strand, object)
    meta = _meta(names, source, chrom, starts, starts + window, strands, chrom, starts, starts + window)
    return Loci(meta, codes, True, {})


# --------------------------------------------------------------------------- BED


def bed_loci(table: BedTable, genome: Genome, window: int, placement: str = "center", edge: str = "shift",
             rng: np.random.Generator | None = None) -> Loci:
    """Place windows on BED intervals; loci dropped at chromosome ends are left out (and counted).

    ``placement="summit"`` centres each window on its narrowPeak summit (column 10), and
    on the interval where the file gives none.

    Parameters
    ----------
    table : BedTable
        One chunk of a BED file.
    genome : Genome
        The reference genome; every chromosome of ``table`` must be in it.
    window : int
        The window length in nt.
    placement : str
        ``"center"``, ``"random"`` or ``"summit"`` (see
        :func:`lociflow.preprocessing.windows.place_windows`). Default is ``"center"``.
    edge : str
        ``"shift"`` moves windows past a chromosome end inside it, ``"drop"`` drops those
        loci. Default is ``"shift"``.
    rng : numpy.random.Generator or None
        Draws ``random`` placements. Default is None.

    Returns
    -------
    Loci
        Genomic loci (no codes), with ``shifted``, ``dropped_edge``,
        ``dropped_short_chrom`` and ``point_loci`` counts.

    Raises
    ------
    InputFileError
        When a chromosome is not in the genome, or a locus starts past the end of its
        chromosome (see :func:`check_inside_chromosomes`).
    """
    genome.check_chromosomes(table.chrom, source=table.source)
    codes, names = pd.factorize(table.chrom)
    sizes = np.array([genome.chrom_sizes[n] for n in names], dtype=np.int64)[codes]
    check_inside_chromosomes(table, sizes, genome.path)
    starts, ends = table.start, table.end
    if placement == "summit":
        # a window centred on the summit: place it on the one-nucleotide interval there
        has = table.summit >= 0
        starts = np.where(has, table.start + table.summit, table.start)
        ends = np.where(has, starts + 1, table.end)
        placement = "center"
        if not has.all():
            log.info("%s: %d of %d loci have no summit (column 10); their windows are centred on the interval",
                     table.source, int((~has).sum()), len(table))
    placed = place_windows(starts, ends, sizes, window, placement, edge, rng)
    keep = placed.keep
    if placed.n_short:
        log.warning("%s: %d loci lie on chromosomes shorter than the %d-nt window and are dropped",
                    table.source, placed.n_short, window)
    starts = placed.starts[keep]
    meta = _meta(table.name[keep], table.source or "", table.chrom[keep], starts, starts + window,
                 table.strand[keep], table.chrom[keep], table.start[keep], table.end[keep])
    counts = {"shifted": placed.n_shifted, "dropped_edge": placed.n_dropped - placed.n_short,
              "dropped_short_chrom": placed.n_short, "point_loci": int((table.start == table.end).sum())}
    return Loci(meta, None, True, counts)


def check_inside_chromosomes(table: BedTable, sizes: np.ndarray, genome: str | os.PathLike) -> None:
    """Refuse loci that start at or past the end of their chromosome.

    Such a locus cannot come from this genome: shifting its window inside would silently
    train on the chromosome's last window instead. A locus only partly past the end is
    left to ``edge: shift|drop``.

    Parameters
    ----------
    table : BedTable
        One chunk of a BED file.
    sizes : numpy.ndarray
        The length of each locus's chromosome.
    genome : str or os.PathLike
        The genome file, named in the message.

    Raises
    ------
    InputFileError
        Naming the file, the line, the chromosome and its length, with the likely cause
        (a BED file of another assembly).
    """
    outside = table.start >= sizes
    if not outside.any():
        return
    first = int(np.flatnonzero(outside)[0])
    others = int(outside.sum()) - 1
    more = f" ({others} more {'locus lies' if others == 1 else 'loci lie'} outside too)" if others else ""
    raise InputFileError(
        f"{table.source}, line {int(table.line[first])}: locus {table.chrom[first]}:{int(table.start[first])}-"
        f"{int(table.end[first])} starts at or past the end of {table.chrom[first]}, which is {int(sizes[first])} nt "
        f"long in the genome {genome}{more}. Is the BED file from another assembly (e.g. hg19 vs hg38)? Use the "
        "genome the loci were called on, or convert the loci (e.g. with liftOver).")


# --------------------------------------------------------------------------- sequences


def sequence_loci(names: list[str], seqs: list[str], source: str | os.PathLike, window: int,
                  viewpoint: str = "center", record_names: bool = False) -> Loci:
    """Cut FASTA/text sequences to windows; parse GraphProt headers into coordinates.

    A header ``>ID;chrom,start,end,strand`` (GraphProt) or ``>chrom,strand,start,end``
    (iONMF, RBP-31) gives the locus its name and original coordinates; its window coordinates are the window centred on that interval (exact
    for GraphProt records with ``viewpoint: uppercase``), which lets the random split keep
    overlapping windows together and the chromosome split work on FASTA input.

    ``record_names=True`` names every locus by its header's first word as written (the
    whole ``ID;chrom,start,end,strand`` of a GraphProt record, whose ``ID`` is often just
    ``id``), so that predictions join back to the input records; the coordinates are still
    parsed into their columns.

    Parameters
    ----------
    names : list of str
        The FASTA headers (without ``>``) or text locus names.
    seqs : list of str
        The sequences, any length.
    source : str or os.PathLike
        The file they came from, kept in the ``source`` column.
    window : int
        The window length in nt.
    viewpoint : str
        ``"center"`` or ``"uppercase"`` (see :func:`lociflow.preprocessing.windows.fasta_windows`).
        Default is ``"center"``.
    record_names : bool
        Name loci by the header's first word as written (see above). Default is False
        (the dataset's names: ``ID``).

    Returns
    -------
    Loci
        Sequence loci with their window codes and ``padded``/``trimmed`` counts.
    """
    cut = fasta_windows(seqs, window, viewpoint)
    header = pd.Series(names, dtype=object)
    parsed = header.str.extract(_GRAPHPROT)
    short_names = header.str.split(n=1).str[0].fillna("").to_numpy(object)
    other = parsed["chrom"].isna()
    if other.any():
        ionmf = header[other].str.extract(_IONMF)
        for column in ("chrom", "start", "end", "strand"):
            parsed.loc[other, column] = ionmf[column]
        parsed.loc[other, "name"] = pd.Series(short_names, dtype=object)[other].str.rstrip(";,")
    has = parsed["chrom"].notna().to_numpy()
    name = short_names if record_names else np.where(has, parsed["name"].to_numpy(object), short_names)
    chrom = np.where(has, parsed["chrom"].to_numpy(object), "")
    strand = np.where(has, parsed["strand"].to_numpy(object), ".")
    meta = _meta(name, source, chrom, None, None, strand, chrom, None, None)
    if has.any():
        o_start = pd.to_numeric(parsed["start"]).to_numpy()
        o_end = pd.to_numeric(parsed["end"]).to_numpy()
        begin = (o_start + o_end - window) // 2
        meta["orig_start"] = pd.array(np.where(has, o_start, 0).astype(np.int64), dtype="Int64")
        meta["orig_end"] = pd.array(np.where(has, o_end, 0).astype(np.int64), dtype="Int64")
        meta["start"] = pd.array(np.where(has, begin, 0).astype(np.int64), dtype="Int64")
        meta["end"] = pd.array(np.where(has, begin + window, 0).astype(np.int64), dtype="Int64")
        for column in ("start", "end", "orig_start", "orig_end"):
            meta.loc[~has, column] = pd.NA
    return Loci(meta, cut.codes, False, {"padded": cut.n_padded, "trimmed": cut.n_trimmed})


def iter_text_chunks(path: str | os.PathLike, chunk_size: int) -> Iterator[tuple[list[str], list[str]]]:
    """Stream a plain text file with one sequence per line as (names, sequences) chunks.

    Blank lines and lines starting with ``#`` are skipped; a locus is named
    ``<file name>:<line number>``.

    Parameters
    ----------
    path : str or os.PathLike
        The text file (compressed files are read too, see :func:`lociflow.io.files.open_text`).
    chunk_size : int
        Sequences per chunk.

    Yields
    ------
    tuple of (list of str, list of str)
        The names and sequences of one chunk.

    Raises
    ------
    InputFileError
        When the file is missing, holds a letter that is no nucleotide, or holds no
        sequence.
    """
    path = require_file(path, "Sequence file")
    names: list[str] = []
    seqs: list[str] = []
    total = 0
    with reading(path, "Sequence file"), open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            check_letters(text, path, number, None)
            names.append(f"{path.name}:{number}")
            seqs.append(text)
            total += 1
            if len(names) >= chunk_size:
                yield names, seqs
                names, seqs = [], []
    if total == 0:
        raise InputFileError(f"{path} contains no sequences (a text input holds one sequence per line).")
    if names:
        yield names, seqs


# --------------------------------------------------------------------------- any file


def iter_loci(path: str | os.PathLike, window: int, *, genome: Genome | None = None, placement: str = "center",
              edge: str = "shift", viewpoint: str = "center", rng: np.random.Generator | None = None,
              chunk_size: int = 100_000, record_names: bool = False) -> Iterator[Loci]:
    """Stream the loci of one BED, FASTA or text file in chunks, windows placed.

    Parameters
    ----------
    path : str or os.PathLike
        A BED, FASTA or plain text file (the kind is told by
        :func:`lociflow.io.bed.file_kind`).
    window : int
        The window length in nt.
    genome : Genome or None
        The reference genome, needed for a BED file. Default is None.
    placement : str
        ``"center"`` or ``"random"`` window placement on BED intervals. Default is ``"center"``.
    edge : str
        ``"shift"`` or ``"drop"`` for BED windows past a chromosome end. Default is ``"shift"``.
    viewpoint : str
        ``"center"`` or ``"uppercase"``: where a long sequence is cut. Default is ``"center"``.
    rng : numpy.random.Generator or None
        Draws ``random`` placements. Default is None.
    chunk_size : int
        Loci per chunk. Default is 100_000.
    record_names : bool
        Name FASTA loci by their header's first word as written (see
        :func:`sequence_loci`). Default is False.

    Yields
    ------
    Loci
        One chunk of loci.

    Raises
    ------
    InputFileError
        A BED file is given without a genome, or the file is malformed.
    """
    path = Path(path)
    kind = file_kind(path)
    if kind == "bed":
        if genome is None:
            raise InputFileError(
                f"{path} is a BED file: its sequences come from a reference genome, so give one "
                "(genome: genome.fa in the config, or --genome)."
            )
        for table in iter_bed(path, chunk_size=chunk_size):
            yield bed_loci(table, genome, window, placement, edge, rng)
        return
    chunks = iter_fasta_chunks(path, chunk_size) if kind == "fasta" else iter_text_chunks(path, chunk_size)
    for names, seqs in chunks:
        yield sequence_loci(names, seqs, path, window, viewpoint, record_names)

"""Reference genomes and FASTA records.

:class:`Genome` gives fast, vectorised access to a reference FASTA. The first time a
genome is opened, its ``.fai`` index is built with pyfaidx (next to the FASTA, or in the
cache folder when that folder is read-only) and the sequence, with its line breaks
removed, is written once to a flat byte file in the cache. Every later window is then a
row of a memory-mapped array: all windows of a batch come out of one fancy index, with
no Python per locus, and several processes share the pages through the OS cache.
Gzip-compressed genomes (plain gzip or bgzip) are decompressed once for this.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from lociflow.errors import InputFileError
from lociflow.io.files import (
    building,
    cache_dir,
    file_key,
    is_gzip,
    open_binary,
    open_text,
    reading,
    require_file,
    writable_dir,
)
from lociflow.progress import bar

log = logging.getLogger("lociflow.io.fasta")

_COPY_BLOCK = 1 << 24  # bytes per step when decompressing or stripping line breaks
# the letters the one-hot encoder accepts (A, C, G, T/U and the IUPAC ambiguity codes, any
# case); checked when a record is read, so a bad letter in a part a window later trims
# away is found too
NUCLEOTIDES = "ACGTU" + "NRYSWKMBDHV"
_NOT_NUCLEOTIDE = re.compile(f"[^{NUCLEOTIDES}{NUCLEOTIDES.lower()}]")


def _read_fai(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", header=None, usecols=[0, 1, 2, 3, 4],
                       names=["name", "length", "offset", "linebases", "linewidth"],
                       dtype={"name": str}, keep_default_na=False)


def _build_fai(fasta: Path, index: Path) -> None:
    """Build a samtools-style ``.fai`` for a plain FASTA with pyfaidx."""
    import pyfaidx

    try:
        pyfaidx.Faidx(str(fasta), indexname=str(index), rebuild=True, build_index=True).close()
    except pyfaidx.FastaIndexingError as exc:
        raise InputFileError(f"Genome FASTA {fasta} cannot be indexed: {exc}") from None
    except ValueError as exc:  # duplicate sequence names, among others
        raise InputFileError(f"Genome FASTA {fasta} cannot be indexed: {exc}") from None


def _fai_for(fasta: Path, workdir: Path) -> Path:
    """An up-to-date ``.fai`` for ``fasta``: the existing one, a new one beside it, or one in ``workdir``."""
    beside = fasta.with_name(fasta.name + ".fai")
    if beside.is_file() and beside.stat().st_mtime >= fasta.stat().st_mtime:
        return beside
    if writable_dir(fasta.parent):
        log.info("Indexing %s (writing %s)", fasta, beside)
        _build_fai(fasta, beside)
        return beside
    target = workdir / "genome.fa.fai"
    log.info("Indexing %s into the cache (its folder is read-only)", fasta)
    _build_fai(fasta, target)
    return target


def _decompress(source: Path, target: Path) -> None:
    size = source.stat().st_size
    with open_binary(source) as src, open(target, "wb") as dst, bar(f"Decompressing {source.name}", total=size, unit="B") as progress:
        raw = src.fileobj if hasattr(src, "fileobj") else None  # gzip's underlying file, for progress
        last = 0
        while chunk := src.read(_COPY_BLOCK):
            dst.write(chunk)
            if raw is not None:
                pos = raw.tell()
                progress.update(pos - last)
                last = pos


def _write_flat(fasta: Path, fai: pd.DataFrame, target: Path) -> None:
    """Write every sequence of ``fasta`` back to back, line breaks removed, into ``target``."""
    raw = np.memmap(fasta, dtype=np.uint8, mode="r") if fasta.stat().st_size else np.zeros(0, np.uint8)
    with open(target, "wb") as out, bar("Caching genome sequence", total=int(fai["length"].sum()), unit="nt") as progress:
        for row in fai.itertuples(index=False):
            length, offset, bases, width = int(row.length), int(row.offset), int(row.linebases), int(row.linewidth)
            if length == 0:
                continue
            full, rest = divmod(length, bases)
            lines_per_step = max(1, _COPY_BLOCK // width)
            for first in range(0, full, lines_per_step):
                count = min(lines_per_step, full - first)
                block = raw[offset + first * width: offset + (first + count) * width]
                out.write(np.ascontiguousarray(block.reshape(count, width)[:, :bases]).tobytes())
                progress.update(count * bases)
            if rest:
                start = offset + full * width
                out.write(raw[start: start + rest].tobytes())
                progress.update(rest)
    del raw


class Genome:
    """An indexed reference genome with vectorised window extraction.

    Parameters
    ----------
    path : str or os.PathLike
        Reference FASTA, plain, gzip or bgzip.
    cache_dir : str or os.PathLike or None
        Folder for the ``.fai`` (when the FASTA's folder is read-only) and the flat
        sequence cache. Default is None: ``$LOCIFLOW_CACHE`` or ``~/.cache/lociflow``.

    Attributes
    ----------
    chrom_sizes : dict of str to int
        Each sequence name mapped to its length, in FASTA order.

    Raises
    ------
    InputFileError
        When the FASTA is missing, empty, cannot be indexed or holds no sequence.
    """

    def __init__(self, path: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
        self.path = require_file(path, "Genome FASTA")
        entry = self._prepare(cache_dir)
        table = pd.read_csv(entry / "chroms.tsv", sep="\t", dtype={"name": str}, keep_default_na=False)
        self.chrom_sizes: dict[str, int] = dict(zip(table["name"], table["length"].astype(int)))
        self._offsets = dict(zip(table["name"], table["offset"].astype(np.int64)))
        if not self.chrom_sizes or sum(self.chrom_sizes.values()) == 0:
            raise InputFileError(f"Genome FASTA {self.path} contains no sequence.")
        self._entry = entry
        self._seq = np.memmap(entry / "sequence.u8", dtype=np.uint8, mode="r")

    def __getstate__(self) -> dict:
        # worker processes reopen the memory map instead of receiving a copy of the genome
        return {key: value for key, value in self.__dict__.items() if key != "_seq"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._seq = np.memmap(self._entry / "sequence.u8", dtype=np.uint8, mode="r")

    def _prepare(self, root: str | os.PathLike | None) -> Path:
        entry = cache_dir(root) / "genomes" / file_key(self.path)
        if (entry / "chroms.tsv").is_file():
            return entry
        if self.path.stat().st_size == 0:
            raise InputFileError(f"Genome FASTA {self.path} is empty.")
        with building(entry) as work, reading(self.path, "Genome FASTA"):
            if is_gzip(self.path):
                plain = work / "genome.fa"
                _decompress(self.path, plain)
                fai_path = plain.with_name("genome.fa.fai")
                _build_fai(plain, fai_path)
            else:
                plain = self.path
                fai_path = _fai_for(plain, work)
            fai = _read_fai(fai_path)
            _write_flat(plain, fai, work / "sequence.u8")
            lengths = fai["length"].to_numpy(np.int64)
            offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            pd.DataFrame({"name": fai["name"], "length": lengths, "offset": offsets}).to_csv(
                work / "chroms.tsv", sep="\t", index=False)
            if plain is not self.path:
                plain.unlink()
                shutil.move(str(fai_path), work / "genome.fa.fai")
            (work / "source.txt").write_text(f"{self.path.resolve()}\n")
        log.info("Cached the sequence of %s in %s", self.path, entry)
        return entry

    def __contains__(self, chrom: object) -> bool:
        return chrom in self.chrom_sizes

    def check_chromosomes(self, chroms: Iterable[str], source: str | os.PathLike | None = None) -> None:
        """Raise :class:`InputFileError` if any of ``chroms`` is not a sequence of the genome.

        The message lists a few missing names and, when the genome simply names
        chromosomes differently (``chr1`` vs ``1``, ``chrM`` vs ``MT``), says so.

        Parameters
        ----------
        chroms : iterable of str
            Chromosome names (repeats are checked once).
        source : str or os.PathLike or None
            The file the names come from, named in the message. Default is None.

        Raises
        ------
        InputFileError
            Naming the missing chromosomes and a few of the genome's.
        """
        wanted = pd.unique(np.asarray(list(chroms) if not isinstance(chroms, np.ndarray) else chroms, dtype=object))
        missing = [c for c in wanted if c not in self.chrom_sizes]
        if not missing:
            return
        where = f" in {source}" if source else ""
        shown = ", ".join(repr(c) for c in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        examples = ", ".join(repr(c) for c in list(self.chrom_sizes)[:5])
        message = (f"{len(missing)} chromosome name(s){where} are not in the genome {self.path}: {shown}. "
                   f"The genome has {len(self.chrom_sizes)} sequences, e.g. {examples}.")
        raise InputFileError(message + naming_hint(missing, self.chrom_sizes))

    def fetch(self, chroms: np.ndarray | Iterable[str], starts: np.ndarray | Iterable[int], length: int) -> np.ndarray:
        """Windows of ``length`` nt starting at ``starts`` (0-based) on ``chroms``.

        Parameters
        ----------
        chroms : numpy.ndarray or iterable of str
            The chromosome of each window.
        starts : numpy.ndarray or iterable of int
            The 0-based start of each window, as long as ``chroms``.
        length : int
            The window length in nt (at least 1).

        Returns
        -------
        numpy.ndarray
            ``uint8 [N, length]`` raw ASCII codes (soft-masked lowercase kept; the
            encoder ignores case). Every window must lie inside its chromosome: place
            windows with :func:`lociflow.preprocessing.windows.place_windows` first.

        Raises
        ------
        InputFileError
            When a chromosome is not in the genome or a window lies outside its chromosome.
        """
        chroms = np.asarray(chroms, dtype=object)
        starts = np.asarray(starts, dtype=np.int64)
        if chroms.shape != starts.shape or chroms.ndim != 1:
            raise ValueError("chroms and starts must be 1-D arrays of the same length")
        if length < 1:
            raise ValueError(f"window length must be at least 1 (got {length})")
        if len(starts) == 0:
            return np.zeros((0, length), dtype=np.uint8)
        codes, names = pd.factorize(chroms)
        self.check_chromosomes(names)
        offsets = np.array([self._offsets[n] for n in names], dtype=np.int64)[codes]
        sizes = np.array([self.chrom_sizes[n] for n in names], dtype=np.int64)[codes]
        outside = (starts < 0) | (starts + length > sizes)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise InputFileError(
                f"Window {chroms[i]}:{starts[i]}-{starts[i] + length} lies outside {chroms[i]} "
                f"(length {sizes[i]} in {self.path}); do the loci come from another genome assembly?")
        windows = np.lib.stride_tricks.sliding_window_view(self._seq, length)
        return np.asarray(windows[offsets + starts])

    def release(self) -> None:
        """Drop the pages of the sequence cache this process has touched from its resident memory.

        The OS keeps them cached for the next reader; a pass over windows spread over a
        whole genome otherwise leaves this process holding up to the genome's size.
        """
        import mmap

        handle = getattr(self._seq, "_mmap", None)
        if handle is not None and hasattr(mmap, "MADV_DONTNEED"):
            handle.madvise(mmap.MADV_DONTNEED)

    def read(self, chrom: str, start: int, end: int, out: np.ndarray | None = None) -> np.ndarray:
        """The bytes of ``chrom`` from ``start`` to ``end`` (0-based, clipped to the chromosome), read from disk.

        Unlike :meth:`fetch`, which serves many small windows from the memory map, this
        reads one long stretch into a fresh array (or ``out``), so a caller walking a whole
        genome in pieces holds only the piece in memory (mapped pages would stay resident).

        Parameters
        ----------
        chrom : str
            The chromosome.
        start, end : int
            The stretch.
        out : numpy.ndarray or None
            A uint8 buffer at least as long as the stretch, to read into and reuse piece
            after piece. Default is None (a fresh array).

        Returns
        -------
        numpy.ndarray
            uint8 raw ASCII codes (soft-masked lowercase kept); a view of ``out`` when given.
        """
        self.check_chromosomes([chrom])
        size = self.chrom_sizes[chrom]
        start, end = max(0, int(start)), min(size, int(end))
        if end <= start:
            return np.zeros(0, dtype=np.uint8)
        if out is None:
            return np.fromfile(self._entry / "sequence.u8", dtype=np.uint8, count=end - start,
                               offset=int(self._offsets[chrom]) + start)
        if out.dtype != np.uint8 or len(out) < end - start:
            raise ValueError(f"out must be a uint8 buffer of at least {end - start} bytes")
        view = out[:end - start]
        with open(self._entry / "sequence.u8", "rb") as handle:
            handle.seek(int(self._offsets[chrom]) + start)
            if handle.readinto(memoryview(view)) != len(view):
                raise InputFileError(f"The sequence cache of {self.path} ends early; delete {self._entry} to rebuild it.")
        return view

    def sequence(self, chrom: str, start: int, end: int) -> str:
        """The sequence of one interval as a string (raw case), for inspection and tests.

        Parameters
        ----------
        chrom : str
            The chromosome.
        start, end : int
            The interval, 0-based half-open.

        Returns
        -------
        str
            The bases as written in the FASTA (soft-masked lowercase kept).
        """
        return self.fetch(np.array([chrom], dtype=object), np.array([start]), end - start)[0].tobytes().decode("latin-1")


def naming_hint(missing: list[str], sizes: dict[str, int], what: str = "genome") -> str:
    """A sentence saying how to fix names that differ only by a ``chr`` prefix, else ``""``.

    Parameters
    ----------
    missing : list of str
        The names not found.
    sizes : dict of str to int
        The names that exist (e.g. a genome's ``chrom_sizes``), mapped to their lengths.
    what : str
        What holds the names, in the sentence (``"genome"``, ``"bigWig"``, ...). Default
        is ``"genome"``.

    Returns
    -------
    str
        The hint, starting with a space; ``""`` when most names agree on the prefix.
    """
    genome_chr = sum(name.startswith("chr") for name in sizes) > len(sizes) / 2
    input_chr = sum(str(name).startswith("chr") for name in missing) > len(missing) / 2
    if genome_chr == input_chr:
        return ""
    ours = next((n for n in sizes if n.startswith("chr") == genome_chr), next(iter(sizes)))
    theirs = missing[0]
    fix = "add the 'chr' prefix to your file's names" if genome_chr else "remove the 'chr' prefix from your file's names"
    return (f" The {what} names chromosomes like {ours!r}; your file uses {theirs!r}: {fix} "
            f"(or use a {what} with matching names).")


def check_letters(text: str, path: Path, line: int, record: str | None, before: int = 0) -> None:
    """Raise :class:`InputFileError` at the first character of ``text`` that is not a nucleotide letter.

    Parameters
    ----------
    text : str
        Part of a sequence as written (one line, whitespace removed).
    path : Path
        The file it was read from, for the message.
    line : int
        The line it was read from, for the message.
    record : str or None
        The record's header (``None`` for one-sequence-per-line text input).
    before : int
        How many letters of the record precede ``text``, so the position given is
        1-based in the whole record. Default is 0.

    Raises
    ------
    InputFileError
        Naming the record, the character, its position, the file and the line.
    """
    bad = _NOT_NUCLEOTIDE.search(text)
    if bad is None:
        return
    char = bad.group()
    shown = repr(char) if char.isprintable() and char != "\ufffd" else f"{char!r} (an undecodable or control character)"
    name = record.split(maxsplit=1)[0] if record else f"{path.name}:{line}"
    raise InputFileError(
        f"Sequence {name} has an invalid character {shown} at position {before + bad.start() + 1} ({path}, line "
        f"{line}). Allowed: A, C, G, T, U (any case) and the ambiguity codes {', '.join(NUCLEOTIDES[5:])}; fix or "
        "remove the record.")


def iter_fasta_chunks(path: str | os.PathLike, chunk_size: int = 10_000) -> Iterator[tuple[list[str], list[str]]]:
    """Stream a FASTA file as lists of at most ``chunk_size`` (names, sequences).

    Names are the header without ``>``; sequence lines are joined and stripped of
    whitespace. gzip is detected from the file's first bytes.

    Parameters
    ----------
    path : str or os.PathLike
        The FASTA file.
    chunk_size : int
        Records per chunk. Default is 10_000.

    Yields
    ------
    tuple of (list of str, list of str)
        The names and sequences of one chunk.

    Raises
    ------
    InputFileError
        The file is missing or empty, text precedes the first ``>`` header, a record
        has no sequence, or a character is not a nucleotide letter anywhere in a record
        (the message names the file, line, record and 1-based position).
    """
    path = require_file(path, "FASTA file")
    names: list[str] = []
    seqs: list[str] = []
    header: str | None = None
    header_line = 0
    parts: list[str] = []
    total = 0

    def finish() -> None:
        sequence = "".join(parts)
        if not sequence:
            raise InputFileError(f"{path}, line {header_line}: record {header!r} has no sequence.")
        names.append(header)
        seqs.append(sequence)

    with reading(path, "FASTA file"), open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if header is not None:
                    finish()
                    total += 1
                    if len(names) >= chunk_size:
                        yield names, seqs
                        names, seqs = [], []
                header, header_line, parts = line[1:].strip(), number, []
            elif header is None:
                if line.strip() and not line.startswith(";"):
                    raise InputFileError(f"{path}, line {number}: text before the first '>' header; "
                                         "a FASTA record starts with a line '>name'.")
            else:
                part = line.strip().replace(" ", "").replace("\t", "")
                check_letters(part, path, number, header, sum(map(len, parts)) if parts else 0)
                parts.append(part)
    if header is not None:
        finish()
        total += 1
    if total == 0:
        raise InputFileError(f"FASTA file {path} contains no sequences.")
    if names:
        yield names, seqs


def read_fasta_records(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """Stream ``(name, sequence)`` pairs of a FASTA file (see :func:`iter_fasta_chunks`).

    Parameters
    ----------
    path : str or os.PathLike
        The FASTA file.

    Yields
    ------
    tuple of (str, str)
        The header (without ``>``) and the sequence of each record.
    """
    for names, seqs in iter_fasta_chunks(path):
        yield from zip(names, seqs)

"""Per-base values of a signal track (bigWig; wig and bedGraph are converted once).

Querying a bigWig once per locus costs a call and a block decompression each time
(a few thousand loci per second). :class:`Track` instead reads each stretch of a
chromosome that holds loci in one call, or the whole chromosome when the loci are dense
(kept in a bounded cache for the next batch), and gathers all windows from that array
with one vectorised index. Missing values (NaN) become 0.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from lociflow.errors import InputFileError
from lociflow.io.fasta import naming_hint
from lociflow.io.files import cache_dir, file_key, reading, require_file
from lociflow.io.wig import convert_to_bigwig, track_format

log = logging.getLogger("lociflow.io.bigwig")

# one bigWig call costs about as much as reading this many values; loci closer than this
# are read in one stretch, and the whole chromosome is read (and cached) when that costs
# no more than twice reading the stretches
_CALL_COST = 4096
_MAX_STRETCH = 1 << 24


def _stretches(starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Group sorted window starts into stretches read in one call: (order, stretch id)."""
    order = np.argsort(starts, kind="stable")
    s = starts[order]
    gap = s[1:] - (s[:-1] + length)
    new = (gap > _CALL_COST) | ((s[1:] // _MAX_STRETCH) != (s[:-1] // _MAX_STRETCH))
    return order, np.concatenate([[0], np.cumsum(new)])


def _gather(values: np.ndarray, origin: int, starts: np.ndarray, length: int) -> np.ndarray:
    """Rows ``values[start - origin : start - origin + length]``, zero outside ``values``."""
    rel = starts - origin
    left = max(0, -int(rel.min()))
    right = max(0, int(rel.max()) + length - len(values))
    if left or right:
        values = np.concatenate([np.zeros(left, np.float32), values, np.zeros(right, np.float32)])
        rel = rel + left
    return np.lib.stride_tricks.sliding_window_view(values, length)[rel]


class Track:
    """A per-base signal track (e.g. phyloP conservation) read window by window.

    Parameters
    ----------
    path : str or os.PathLike
        A bigWig, or wig/bedGraph (gzip allowed), which is converted once to a bigWig
        in the cache folder (keyed by the file's path, size and modification time).
    cache_dir : str or os.PathLike or None
        Cache folder. Default is None: ``$LOCIFLOW_CACHE`` or ``~/.cache/lociflow``.
    missing : {"error", "zero"}
        ``"error"``: a chromosome absent from the track is an error; ``"zero"``: its
        windows are all zero. Default is ``"error"``.
    chrom_sizes : dict of str to int or None
        Chromosome lengths (e.g. ``Genome.chrom_sizes``) for the conversion of text
        tracks, also checked against the track's own; without them the largest
        coordinate in the file is used. Default is None.
    cache_bytes : int
        Memory for whole chromosomes kept between calls. Default is 1 GiB.

    Raises
    ------
    InputFileError
        When the file is missing, cannot be converted or read as a bigWig, or its
        chromosome lengths differ from ``chrom_sizes``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        cache_dir: str | os.PathLike | None = None,
        missing: Literal["error", "zero"] = "error",
        chrom_sizes: dict[str, int] | None = None,
        cache_bytes: int = 1 << 30,
    ):
        import pyBigWig

        if missing not in ("error", "zero"):
            raise ValueError(f"missing must be 'error' or 'zero' (got {missing!r})")
        self.source = require_file(path, "Track file")
        self.missing = missing
        with reading(self.source, "Track file"):
            self.path = self._bigwig(cache_dir, chrom_sizes)
        try:
            self._bw = pyBigWig.open(str(self.path))
        except RuntimeError:
            self._bw = None
        if self._bw is None or not self._bw.isBigWig():
            raise InputFileError(f"{self.source} is not a readable bigWig file.")
        self.chrom_sizes: dict[str, int] = dict(self._bw.chroms())
        if chrom_sizes:
            try:
                self.check_lengths(chrom_sizes)
            except InputFileError:
                self._bw.close()
                raise
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_bytes = cache_bytes

    def check_lengths(self, genome_sizes: dict[str, int]) -> None:
        """Refuse a track whose chromosome lengths differ from the genome's.

        Such a track was made for another assembly, so its values sit at the wrong
        positions; that is an error whatever ``missing`` says (``missing`` is about
        chromosomes the track lacks, not about mismatched ones).

        Parameters
        ----------
        genome_sizes : dict of str to int
            The genome's chromosome lengths; chromosomes only one side has are not compared.

        Raises
        ------
        InputFileError
            Naming the first mismatched chromosome and both lengths.
        """
        differ = [(name, size, genome_sizes[name]) for name, size in self.chrom_sizes.items()
                  if name in genome_sizes and int(genome_sizes[name]) != int(size)]
        if not differ:
            return
        name, track_size, genome_size = differ[0]
        more = f" ({len(differ) - 1} more chromosome(s) differ too)" if len(differ) > 1 else ""
        raise InputFileError(
            f"The track {self.source} gives {name} a length of {track_size} nt, the genome {genome_size} nt{more}. "
            "Is the track from another assembly? Use a track made for the genome the loci come from.")

    def _bigwig(self, root: str | os.PathLike | None, chrom_sizes: dict[str, int] | None) -> Path:
        fmt = track_format(self.source)
        if fmt == "bigwig":
            return self.source
        sizes_key = sorted((chrom_sizes or {}).items())
        target = cache_dir(root) / "tracks" / f"{file_key(self.source, sizes_key)}.bw"
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            convert_to_bigwig(self.source, partial, chrom_sizes)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def __getstate__(self) -> dict:
        # a worker process reopens the file; open handles and cached arrays stay behind
        state = dict(self.__dict__)
        state["_bw"] = None
        state["_cache"] = OrderedDict()
        return state

    def __setstate__(self, state: dict) -> None:
        import pyBigWig

        self.__dict__.update(state)
        self._bw = pyBigWig.open(str(self.path))

    def close(self) -> None:
        """Close the bigWig file and drop cached chromosomes."""
        if self._bw is not None:
            self._bw.close()
            self._bw = None
        self._cache.clear()

    def __enter__(self) -> Track:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, chrom: str, start: int, end: int) -> np.ndarray:
        start, end = max(0, start), min(end, self.chrom_sizes[chrom])
        if end <= start:
            return np.zeros(0, np.float32)
        values = np.asarray(self._bw.values(chrom, start, end, numpy=True), dtype=np.float32)
        values[np.isnan(values)] = 0.0
        return values

    def _chromosome(self, chrom: str) -> np.ndarray:
        if chrom in self._cache:
            self._cache.move_to_end(chrom)
            return self._cache[chrom]
        values = self._read(chrom, 0, self.chrom_sizes[chrom])
        if values.nbytes <= self._cache_bytes:
            while self._cache and sum(v.nbytes for v in self._cache.values()) + values.nbytes > self._cache_bytes:
                self._cache.popitem(last=False)
            self._cache[chrom] = values
        return values

    def _windows(self, chrom: str, starts: np.ndarray, length: int) -> np.ndarray:
        if chrom in self._cache:
            return _gather(self._cache[chrom], 0, starts, length)
        order, stretch = _stretches(starts, length)
        s = starts[order]
        bounds = np.flatnonzero(np.diff(stretch)) + 1
        firsts, lasts = np.array([0, *bounds]), np.array([*bounds, len(s)]) - 1
        stretch_cost = int((s[lasts] + length - s[firsts]).sum()) + len(firsts) * _CALL_COST
        if self.chrom_sizes[chrom] <= 2 * stretch_cost:
            return _gather(self._chromosome(chrom), 0, starts, length)
        out = np.empty((len(starts), length), dtype=np.float32)
        for first, last in zip(firsts.tolist(), lasts.tolist()):
            origin = int(s[first])
            values = self._read(chrom, origin, int(s[last]) + length)
            out[order[first: last + 1]] = _gather(values, origin, s[first: last + 1], length)
        return out

    def values(self, chroms: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
        """Per-base values ``float32 [N, length]`` of windows starting at ``starts`` on ``chroms``.

        NaN (no data) reads as 0, as do positions past a chromosome's end in the track.
        Minus-strand windows are returned in genome order; the caller reverses them.

        Parameters
        ----------
        chroms : numpy.ndarray
            The chromosome of each window.
        starts : numpy.ndarray
            The 0-based start of each window, as long as ``chroms``.
        length : int
            The window length.

        Returns
        -------
        numpy.ndarray
            float32 ``[N, length]``.

        Raises
        ------
        InputFileError
            A chromosome is absent from the track and ``missing="error"``.
        """
        chroms = np.asarray(chroms, dtype=object)
        starts = np.asarray(starts, dtype=np.int64)
        if chroms.shape != starts.shape or chroms.ndim != 1:
            raise ValueError("chroms and starts must be 1-D arrays of the same length")
        out = np.zeros((len(starts), length), dtype=np.float32)
        if len(starts) == 0:
            return out
        codes, names = pd.factorize(chroms)
        absent = [n for n in names if n not in self.chrom_sizes]
        if absent and self.missing == "error":
            shown = ", ".join(repr(c) for c in absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
            examples = ", ".join(repr(c) for c in list(self.chrom_sizes)[:5])
            raise InputFileError(
                f"{len(absent)} chromosome(s) have no values in the track {self.source}: {shown} (the track has e.g. "
                f"{examples}). Use a track that covers them, or set `missing: zero` to read them as zeros."
                + naming_hint(absent, self.chrom_sizes, "track"))
        if absent:
            log.warning("%d chromosome(s) absent from %s read as zeros (missing: zero): %s",
                        len(absent), self.source, ", ".join(map(str, absent[:5])))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        for k, name in enumerate(names):
            if name not in self.chrom_sizes:
                continue
            rows = order[bounds[k]: bounds[k + 1]]
            out[rows] = self._windows(name, starts[rows], length)
        return out


def write_bigwig(path: str | os.PathLike, chrom_sizes: dict[str, int],
                 entries: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> Path:
    """Write a bigWig from intervals given chromosome by chromosome, in order.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (replaced if it exists).
    chrom_sizes : dict of str to int
        The header: every chromosome the entries name, in the order they come.
    entries : iterable of (str, numpy.ndarray, numpy.ndarray, numpy.ndarray)
        ``(chrom, starts, ends, values)`` blocks of sorted, non-overlapping intervals;
        several blocks may follow for one chromosome.

    Returns
    -------
    Path
        ``path``.
    """
    import pyBigWig

    path = Path(path)
    handle = pyBigWig.open(str(path), "w")
    try:
        handle.addHeader([(c, int(n)) for c, n in chrom_sizes.items()], maxZooms=10)
        for chrom, starts, ends, values in entries:
            if len(starts) == 0:
                continue
            handle.addEntries([chrom] * len(starts), np.asarray(starts, dtype=np.int64).tolist(),
                              ends=np.asarray(ends, dtype=np.int64).tolist(),
                              values=np.asarray(values, dtype=np.float64).tolist())
    finally:
        handle.close()
    return path

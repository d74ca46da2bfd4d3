"""Fixed-length windows: from genomic intervals or FASTA records of any length.

A network sees windows of exactly ``window`` nt. For genomic loci the window is placed on
the interval and filled from the real genome, extending into or trimming the flanks;
it is never padded with N, which would teach the model that N means "edge of a locus".
Windows that run past a chromosome end are shifted inside or dropped, and counted, so
the summary can say what happened. FASTA records carry no flanks, so there shorter
sequences are padded with N on both sides (and counted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np

_N = ord("N")


class WindowPlacement(NamedTuple):
    """Where each locus's window starts, and which loci keep a window.

    ``starts`` int64 [N] (0-based); ``keep`` bool [N]; ``n_shifted`` windows moved inside
    their chromosome; ``n_dropped`` loci dropped (past an end with ``edge="drop"``, or on
    a chromosome shorter than the window); ``n_short`` how many of the dropped were on a
    chromosome shorter than the window.
    """

    starts: np.ndarray
    keep: np.ndarray
    n_shifted: int
    n_dropped: int
    n_short: int = 0


class FastaWindows(NamedTuple):
    """Windows cut from FASTA records: ``codes`` uint8 [N, window] and what was done to them."""

    codes: np.ndarray
    n_padded: int
    n_trimmed: int


def place_windows(
    starts: np.ndarray,
    ends: np.ndarray,
    chrom_sizes: np.ndarray,
    window: int,
    placement: Literal["center", "random"] = "center",
    edge: Literal["shift", "drop"] = "shift",
    rng: np.random.Generator | int | None = None,
) -> WindowPlacement:
    """Place a ``window``-nt window on every interval.

    ``center`` centres the window on the interval (an odd leftover nucleotide goes to
    the right-hand side). ``random`` draws the window uniformly among the positions
    where it lies inside the interval (interval longer than the window) or covers it
    (interval shorter), so the locus always stays in view.

    Parameters
    ----------
    starts, ends : numpy.ndarray
        int [N], 0-based half-open intervals.
    chrom_sizes : numpy.ndarray
        int [N], the length of each locus's chromosome.
    window : int
        Window length in nt (>= 1).
    placement : {"center", "random"}
        Where the window goes on each interval. Default is ``"center"``.
    edge : {"shift", "drop"}
        ``"shift"`` moves windows that run past a chromosome end inside it;
        ``"drop"`` drops those loci. Default is ``"shift"``.
    rng : numpy.random.Generator or int or None
        A generator or a seed, used only by ``random`` placement. Default is None.

    Returns
    -------
    WindowPlacement
        The window starts, which loci keep a window, and the counts.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 nt (got {window})")
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    sizes = np.asarray(chrom_sizes, dtype=np.int64)
    lengths = ends - starts
    if placement == "center":
        placed = starts + (lengths - window) // 2
    elif placement == "random":
        low = np.minimum(starts, ends - window)
        high = np.maximum(starts, ends - window)
        placed = np.random.default_rng(rng).integers(low, high, endpoint=True) if len(starts) else starts.copy()
        placed = np.asarray(placed, dtype=np.int64)
    else:
        raise ValueError(f"placement must be 'center' or 'random' (got {placement!r})")
    if edge not in ("shift", "drop"):
        raise ValueError(f"edge must be 'shift' or 'drop' (got {edge!r})")
    short = sizes < window
    outside = ~short & ((placed < 0) | (placed + window > sizes))
    keep = ~short
    if edge == "shift":
        placed = np.where(outside, np.clip(placed, 0, np.maximum(sizes - window, 0)), placed)
        n_shifted = int(outside.sum())
    else:
        keep &= ~outside
        n_shifted = 0
    n_short = int(short.sum())
    return WindowPlacement(placed, keep, n_shifted, int((~keep).sum()), n_short)


def _uppercase_centres(buffer: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Centre (in record coordinates, x2 to stay integral) of each record's uppercase span."""
    upper = (buffer >= ord("A")) & (buffer <= ord("Z"))
    record = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(buffer), dtype=np.int64) - np.repeat(offsets, lengths)
    big = np.iinfo(np.int64).max
    first = np.full(len(lengths), big, dtype=np.int64)
    last = np.full(len(lengths), -1, dtype=np.int64)
    np.minimum.at(first, record[upper], position[upper])
    np.maximum.at(last, record[upper], position[upper])
    none = last < 0  # no uppercase letter: fall back to the whole record
    first[none], last[none] = 0, lengths[none] - 1
    return first + last + 1


def fasta_windows(
    seqs: Sequence[str], window: int, viewpoint: Literal["center", "uppercase"] = "center"
) -> FastaWindows:
    """Cut or pad FASTA sequences of any length to ``window`` nt.

    Longer sequences are trimmed around their centre, or, with ``viewpoint="uppercase"``,
    around the centre of their uppercase region (the GraphProt format: the bound site in
    upper case inside lowercase flanks), shifted inside the sequence if needed. Shorter
    sequences are padded with N on both sides (N encodes as all zeros).

    Parameters
    ----------
    seqs : sequence of str
        The sequences.
    window : int
        Window length in nt (>= 1).
    viewpoint : {"center", "uppercase"}
        Cut around the sequence's centre or its uppercase region's centre. Default is
        ``"center"``.

    Returns
    -------
    FastaWindows
        ``codes`` uint8 ``[N, window]`` (case kept), ``n_padded`` and ``n_trimmed``.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 nt (got {window})")
    if viewpoint not in ("center", "uppercase"):
        raise ValueError(f"viewpoint must be 'center' or 'uppercase' (got {viewpoint!r})")
    encoded = [s.encode("latin-1", errors="replace") for s in seqs]
    lengths = np.fromiter((len(s) for s in encoded), dtype=np.int64, count=len(encoded))
    if len(encoded) == 0:
        return FastaWindows(np.zeros((0, window), dtype=np.uint8), 0, 0)
    buffer = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    if viewpoint == "uppercase":
        twice_centre = _uppercase_centres(buffer, offsets, lengths)
        begin = (twice_centre - window) // 2
        fits = lengths >= window
        begin = np.where(fits, np.clip(begin, 0, np.maximum(lengths - window, 0)), (lengths - window) // 2)
    else:
        begin = (lengths - window) // 2
    position = begin[:, None] + np.arange(window, dtype=np.int64)
    inside = (position >= 0) & (position < lengths[:, None])
    flat = np.where(inside, offsets[:, None] + position, 0)
    codes = np.where(inside, buffer[flat] if len(buffer) else _N, _N).astype(np.uint8)
    return FastaWindows(codes, int((lengths < window).sum()), int((lengths > window).sum()))

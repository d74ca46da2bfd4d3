"""One-hot encoding of nucleotide sequences, and reverse complements.

Sequences travel through lociflow as uint8 arrays of ASCII codes ``[N, L]`` and become
one-hot arrays ``[N, L, 4]`` through a 256-entry lookup table, so encoding a batch is a
single ``np.take`` with no Python per base. Case is ignored, T and U are the same
channel, and N or any other IUPAC ambiguity code becomes an all-zero row (which matches
the all-zero baseline of integrated gradients). Any other character is an error that
names the record, because silently encoding it would train on garbage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from lociflow.errors import InputFileError

CHANNELS: dict[str, list[str]] = {"dna": ["A", "C", "G", "T"], "rna": ["A", "C", "G", "U"]}
AMBIGUOUS = "NRYSWKMBDHV"
_INVALID = 0x80
_CHUNK = 1 << 20  # positions encoded per step: bounds the temporaries to a few MB


def _bits_table() -> bytes:
    """Each ASCII code -> one bit per channel (A=1, C=2, G=4, T/U=8), 0 if ambiguous, 0x80 if invalid."""
    table = bytearray([_INVALID]) * 256
    for i, bases in enumerate(("A", "C", "G", "TU")):
        for base in bases:
            table[ord(base)] = table[ord(base.lower())] = 1 << i
    for code in AMBIGUOUS:
        table[ord(code)] = table[ord(code.lower())] = 0
    return bytes(table)


def _complement_table() -> bytes:
    table = bytearray(range(256))
    pairs = {"A": "T", "T": "A", "U": "A", "C": "G", "G": "C", "R": "Y", "Y": "R", "K": "M", "M": "K",
             "B": "V", "V": "B", "D": "H", "H": "D", "S": "S", "W": "W", "N": "N"}
    for base, comp in pairs.items():
        table[ord(base)] = ord(comp)
        table[ord(base.lower())] = ord(comp.lower())
    return bytes(table)


# bytes.translate is a C loop over bytes: the fastest uint8 -> uint8 table lookup available,
# with no int64 index array (np.take would build one eight times the size of the input)
BITS_TABLE = _bits_table()
COMPLEMENT_TABLE = _complement_table()
# multiplying a 4-bit value by this spreads bit k to bit 8k (the terms never overlap), so one
# uint32 per position holds its four one-hot bytes (little-endian byte order)
_SPREAD = np.uint32(1 | 1 << 7 | 1 << 14 | 1 << 21)
_LOW_BYTE_BITS = np.uint32(0x01010101)


class Encoded(NamedTuple):
    """One-hot sequences and how many positions were ambiguous (N or IUPAC) and set to zero."""

    onehot: np.ndarray
    n_ambiguous: int


def as_codes(seqs: np.ndarray | Sequence[str]) -> np.ndarray:
    """ASCII codes ``uint8 [N, L]`` of equal-length sequences given as strings or codes.

    Characters outside latin-1 become ``?`` (and are then reported as invalid by the
    encoder).

    Parameters
    ----------
    seqs : numpy.ndarray or sequence of str
        A uint8 array (returned as it is) or equal-length strings.

    Returns
    -------
    numpy.ndarray
        uint8 ``[N, L]``; ``[0, 0]`` for no sequences.
    """
    if isinstance(seqs, np.ndarray) and seqs.dtype == np.uint8:
        return seqs
    seqs = list(seqs)
    if not seqs:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(seqs[0])
    if any(len(s) != length for s in seqs):
        raise ValueError("sequences differ in length; bring them to one window first (lociflow.preprocessing.windows)")
    # characters outside latin-1 become '?' and are then reported as invalid
    buffer = "".join(seqs).encode("latin-1", errors="replace")
    return np.frombuffer(buffer, dtype=np.uint8).reshape(len(seqs), length)


def _check_alphabet(alphabet: str) -> None:
    if alphabet not in CHANNELS:
        raise ValueError(f"alphabet must be one of {', '.join(CHANNELS)} (got {alphabet!r})")


def _invalid_error(codes: np.ndarray, names: Sequence[str] | None) -> InputFileError:
    bits = np.frombuffer(codes.tobytes().translate(BITS_TABLE), dtype=np.uint8).reshape(codes.shape)
    bad_rows = np.flatnonzero((bits >= _INVALID).any(axis=1))
    row = int(bad_rows[0])
    col = int(np.flatnonzero(bits[row] >= _INVALID)[0])
    char = chr(int(codes[row, col]))
    record = names[row] if names is not None else f"#{row + 1}"
    shown = repr(char) if char.isprintable() else f"byte {ord(char)}"
    others = len(bad_rows) - 1
    more = f" ({others} more record{'s' if others != 1 else ''} also have invalid characters)" if others else ""
    return InputFileError(
        f"Sequence {record} has an invalid character {shown} at position {col + 1}{more}. "
        f"Allowed: A, C, G, T, U (any case) and the ambiguity codes {', '.join(AMBIGUOUS)}, which are encoded as zeros."
    )


def _spread(bits: np.ndarray, out32: np.ndarray) -> None:
    if np.little_endian:
        np.multiply(bits, _SPREAD, out=out32, casting="unsafe")
        np.bitwise_and(out32, _LOW_BYTE_BITS, out=out32)
    else:  # pragma: no cover - big-endian hosts
        onehot = out32.view(np.uint8).reshape(*out32.shape, 4)
        for k in range(4):
            onehot[..., k] = (bits >> k) & 1


def encode_codes(
    codes: np.ndarray | Sequence[str], alphabet: str = "dna", names: Sequence[str] | None = None
) -> Encoded:
    """One-hot encode sequences and count the ambiguous positions.

    Parameters
    ----------
    codes : numpy.ndarray or sequence of str
        uint8 array [N, L] of ASCII codes, or a list of equal-length strings.
    alphabet : {"dna", "rna"}
        ``"dna"`` (channels A,C,G,T) or ``"rna"`` (A,C,G,U). T and U map to the
        same channel either way, so mixed input encodes identically. Default is ``"dna"``.
    names : sequence of str or None
        Record names used in the error message for an invalid character. Default is None
        (records are named by number).

    Returns
    -------
    Encoded
        ``onehot`` uint8 ``[N, L, 4]`` and ``n_ambiguous`` (positions encoded as all zero).

    Raises
    ------
    InputFileError
        At the first character that is neither a nucleotide nor an ambiguity code, naming
        the record and the position.
    """
    _check_alphabet(alphabet)
    codes = as_codes(codes)
    n, length = codes.shape
    onehot = np.empty((n, length, 4), dtype=np.uint8)
    if onehot.size == 0:
        return Encoded(onehot, 0)
    out32 = onehot.view(np.uint32).reshape(n, length)
    step = max(1, _CHUNK // length)
    n_ambiguous = 0
    for row0 in range(0, n, step):
        block = codes[row0: row0 + step]
        bits = np.frombuffer(block.tobytes().translate(BITS_TABLE), dtype=np.uint8).reshape(block.shape)
        if bits.max() >= _INVALID:
            raise _invalid_error(codes, names)
        n_ambiguous += bits.size - int(np.count_nonzero(bits))
        _spread(bits, out32[row0: row0 + step])
    return Encoded(onehot, n_ambiguous)


def one_hot(codes: np.ndarray | Sequence[str], alphabet: str = "dna", names: Sequence[str] | None = None) -> np.ndarray:
    """One-hot encode sequences (``uint8 [N, L, 4]``); see :func:`encode_codes` for the rules.

    Parameters
    ----------
    codes : numpy.ndarray or sequence of str
        uint8 array [N, L] of ASCII codes, or a list of equal-length strings.
    alphabet : {"dna", "rna"}
        The channel letters. Default is ``"dna"``.
    names : sequence of str or None
        Record names used in the error message for an invalid character. Default is None.

    Returns
    -------
    numpy.ndarray
        uint8 ``[N, L, 4]``.
    """
    return encode_codes(codes, alphabet, names).onehot


def reverse_complement(onehot: np.ndarray) -> np.ndarray:
    """Reverse complement of one-hot sequences ``[..., L, 4]`` in A,C,G,T(U) channel order.

    Reversing both the position and the channel axis swaps A<->T and C<->G; all-zero
    (ambiguous) rows stay all zero.

    Parameters
    ----------
    onehot : numpy.ndarray
        One-hot sequences ``[..., L, 4]``.

    Returns
    -------
    numpy.ndarray
        A contiguous copy, reverse-complemented.
    """
    return np.ascontiguousarray(onehot[..., ::-1, ::-1])


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of ASCII codes ``[..., L]``, keeping case and IUPAC meaning.

    Parameters
    ----------
    codes : numpy.ndarray
        ASCII codes ``[..., L]``: nucleotides and IUPAC codes are complemented (U to A),
        any other character is kept.

    Returns
    -------
    numpy.ndarray
        uint8, contiguous, same shape.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    complement = np.frombuffer(codes.tobytes().translate(COMPLEMENT_TABLE), dtype=np.uint8).reshape(codes.shape)
    return np.ascontiguousarray(complement[..., ::-1])


def decode(onehot: np.ndarray, alphabet: str = "dna") -> list[str]:
    """Strings of one-hot sequences ``[N, L, 4]`` (upper case; all-zero rows read as N).

    Parameters
    ----------
    onehot : numpy.ndarray
        ``[N, L, 4]``, or ``[L, 4]`` for one sequence.
    alphabet : {"dna", "rna"}
        The channel letters (T or U). Default is ``"dna"``.

    Returns
    -------
    list of str
        One string per sequence.
    """
    _check_alphabet(alphabet)
    onehot = np.asarray(onehot)
    if onehot.ndim == 2:
        onehot = onehot[None]
    letters = np.frombuffer(("".join(CHANNELS[alphabet]) + "N").encode(), dtype=np.uint8)
    index = np.where(onehot.any(axis=-1), onehot.argmax(axis=-1), 4)
    chars = letters[index]
    return [row.tobytes().decode("ascii") for row in chars]

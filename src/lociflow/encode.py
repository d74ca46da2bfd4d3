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
_INVALID = 255
_ZERO = 4


def _index_table() -> np.ndarray:
    table = np.full(256, _INVALID, dtype=np.uint8)
    for i, bases in enumerate(("A", "C", "G", "TU")):
        for base in bases:
            table[ord(base)] = table[ord(base.lower())] = i
    for code in AMBIGUOUS:
        table[ord(code)] = table[ord(code.lower())] = _ZERO
    return table


def _complement_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint8)
    pairs = {"A": "T", "T": "A", "U": "A", "C": "G", "G": "C", "R": "Y", "Y": "R", "K": "M", "M": "K",
             "B": "V", "V": "B", "D": "H", "H": "D", "S": "S", "W": "W", "N": "N"}
    for base, comp in pairs.items():
        table[ord(base)] = ord(comp)
        table[ord(base.lower())] = ord(comp.lower())
    return table


INDEX_TABLE = _index_table()
COMPLEMENT_TABLE = _complement_table()
# row k of this table is the one-hot vector of channel k; row 4 (ambiguous) is all zero
_ONE_HOT_ROWS = np.vstack([np.eye(4, dtype=np.uint8), np.zeros((1, 4), dtype=np.uint8)])


class Encoded(NamedTuple):
    """One-hot sequences and how many positions were ambiguous (N or IUPAC) and set to zero."""

    onehot: np.ndarray
    n_ambiguous: int


def as_codes(seqs: np.ndarray | Sequence[str]) -> np.ndarray:
    """ASCII codes ``uint8 [N, L]`` of equal-length sequences given as strings or codes."""
    if isinstance(seqs, np.ndarray) and seqs.dtype == np.uint8:
        return seqs
    seqs = list(seqs)
    if not seqs:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(seqs[0])
    if any(len(s) != length for s in seqs):
        raise ValueError("sequences differ in length; bring them to one window first (lociflow.preprocess.windows)")
    # characters outside latin-1 become '?' and are then reported as invalid
    buffer = "".join(seqs).encode("latin-1", errors="replace")
    return np.frombuffer(buffer, dtype=np.uint8).reshape(len(seqs), length)


def _check_alphabet(alphabet: str) -> None:
    if alphabet not in CHANNELS:
        raise ValueError(f"alphabet must be one of {', '.join(CHANNELS)} (got {alphabet!r})")


def _invalid_error(codes: np.ndarray, index: np.ndarray, names: Sequence[str] | None) -> InputFileError:
    bad = np.argwhere(index == _INVALID)
    row, col = (int(v) for v in bad[0])
    char = chr(int(codes[row, col]))
    record = names[row] if names is not None else f"#{row + 1}"
    shown = repr(char) if char.isprintable() else f"byte {ord(char)}"
    others = len(np.unique(bad[:, 0])) - 1
    more = f" ({others} more record{'s' if others != 1 else ''} also have invalid characters)" if others else ""
    return InputFileError(
        f"Sequence {record} has an invalid character {shown} at position {col + 1}{more}. "
        f"Allowed: A, C, G, T, U (any case) and the ambiguity codes {', '.join(AMBIGUOUS)}, which are encoded as zeros."
    )


def encode_codes(
    codes: np.ndarray | Sequence[str], alphabet: str = "dna", names: Sequence[str] | None = None
) -> Encoded:
    """One-hot encode sequences and count the ambiguous positions.

    Parameters
    ----------
    codes : uint8 array [N, L] of ASCII codes, or a list of equal-length strings.
    alphabet : ``"dna"`` (channels A,C,G,T) or ``"rna"`` (A,C,G,U). T and U map to the
        same channel either way, so mixed input encodes identically. Default is ``"dna"``.
    names : record names used in the error message for an invalid character.

    Returns
    -------
    Encoded
        ``onehot`` uint8 ``[N, L, 4]`` and ``n_ambiguous`` (positions encoded as all zero).
    """
    _check_alphabet(alphabet)
    codes = as_codes(codes)
    index = np.take(INDEX_TABLE, codes)
    if (index == _INVALID).any():
        raise _invalid_error(codes, index, names)
    onehot = np.take(_ONE_HOT_ROWS, index, axis=0)
    return Encoded(onehot, int(np.count_nonzero(index == _ZERO)))


def one_hot(codes: np.ndarray | Sequence[str], alphabet: str = "dna", names: Sequence[str] | None = None) -> np.ndarray:
    """One-hot encode sequences (``uint8 [N, L, 4]``); see :func:`encode_codes` for the rules."""
    return encode_codes(codes, alphabet, names).onehot


def reverse_complement(onehot: np.ndarray) -> np.ndarray:
    """Reverse complement of one-hot sequences ``[..., L, 4]`` in A,C,G,T(U) channel order.

    Reversing both the position and the channel axis swaps A<->T and C<->G; all-zero
    (ambiguous) rows stay all zero. Returns a contiguous copy.
    """
    return np.ascontiguousarray(onehot[..., ::-1, ::-1])


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of ASCII codes ``[..., L]``, keeping case and IUPAC meaning."""
    return np.ascontiguousarray(np.take(COMPLEMENT_TABLE, codes)[..., ::-1])


def decode(onehot: np.ndarray, alphabet: str = "dna") -> list[str]:
    """Strings of one-hot sequences ``[N, L, 4]`` (upper case; all-zero rows read as N)."""
    _check_alphabet(alphabet)
    onehot = np.asarray(onehot)
    if onehot.ndim == 2:
        onehot = onehot[None]
    letters = np.frombuffer(("".join(CHANNELS[alphabet]) + "N").encode(), dtype=np.uint8)
    index = np.where(onehot.any(axis=-1), onehot.argmax(axis=-1), 4)
    chars = letters[index]
    return [row.tobytes().decode("ascii") for row in chars]

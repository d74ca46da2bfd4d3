"""k-mer-preserving shuffles: of one-hot sequences (interpretation) and of window codes (negatives).

Backgrounds and references built from shuffles of real loci keep their base and
dinucleotide composition (GC content, CpG depletion) while destroying any motif, so
an attribution against them, or a motif inserted into them, measures the motif and not
the composition. Integrated-gradients baselines, DeepLIFT/SHAP references and global
importance analysis backgrounds all come from here.

The method is the Eulerian-walk shuffle of Altschul and Erickson (1985): the sequence
is read as a walk through a graph whose vertices are the letters and whose edges are
its dinucleotides. A random spanning arborescence of "last exits" towards the final
letter is drawn, the remaining exits of each letter are put in random order, and a new
walk uses every edge once. The result has exactly the same dinucleotide counts, the
same first and last letter, and is drawn uniformly among such sequences.

The walk runs in lock step over all sequences and shuffles of a call (one numpy step
per position), so thousands of 150-nt sequences shuffle in well under a second.
All-zero rows (N) are treated as a fifth letter: they move like any other letter and
the dinucleotide counts including N are preserved.

:func:`kmer_shuffle_codes` shuffles windows of ASCII codes (the ``from: shuffle``
negatives of ``preprocess``) preserving the counts of every k-mer: the same walk on a
graph whose vertices are the (k-1)-mers and whose edges are the k-mers.
"""

from __future__ import annotations

import numpy as np

from lociflow.errors import LociflowError

__all__ = ["dinucleotide_shuffle", "kmer_shuffle_codes"]

# rows of (sequence x shuffle) handled per block, bounding memory to a few hundred MB
_BLOCK_ROWS = 20_000


def dinucleotide_shuffle(
    onehot: np.ndarray, n: int, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Draw ``n`` dinucleotide-preserving shuffles of each one-hot sequence.

    Why: references and backgrounds must look like real loci to a network (same
    composition) while carrying none of their motifs.

    Parameters
    ----------
    onehot : numpy.ndarray
        One sequence ``[L, C]`` or a batch ``[N, L, C]`` of one-hot rows (0/1 values,
        at most one 1 per row; an all-zero row is an N). Any dtype.
    n : int
        Number of shuffles per sequence (>= 1).
    rng : numpy.random.Generator or int or None
        Random generator or seed. Default is None (a fresh, unseeded generator).

    Returns
    -------
    numpy.ndarray
        ``[n, L, C]`` for one sequence or ``[N, n, L, C]`` for a batch, same dtype as
        the input.
    """
    array = np.asarray(onehot)
    single = array.ndim == 2
    if single:
        array = array[None]
    if array.ndim != 3:
        raise LociflowError(
            f"dinucleotide_shuffle expects one-hot arrays shaped [L, C] or [N, L, C], got shape {array.shape}."
        )
    if int(n) < 1:
        raise LociflowError(f"The number of shuffles must be at least 1, got {n}.")
    n = int(n)
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    symbols = _symbols(array)  # [N, L], channel index or C for N
    count, length, channels = array.shape
    out_symbols = np.empty((count, n, length), dtype=np.int64)
    per_block = max(1, _BLOCK_ROWS // n)
    for lo in range(0, count, per_block):
        block = symbols[lo : lo + per_block]
        walked = _shuffle_symbols(np.repeat(block, n, axis=0), channels + 1, generator)
        out_symbols[lo : lo + len(block)] = walked.reshape(len(block), n, length)
    eye = np.concatenate([np.eye(channels, dtype=array.dtype), np.zeros((1, channels), dtype=array.dtype)])
    result = eye[out_symbols]
    return result[0] if single else result


def _symbols(array: np.ndarray) -> np.ndarray:
    """Letter index per position (channel index; ``C`` for an all-zero N row)."""
    values = array.astype(np.float32, copy=False)
    sums = values.sum(axis=-1)
    if not (np.isin(values, (0.0, 1.0)).all() and (sums <= 1.0).all()):
        raise LociflowError(
            "dinucleotide_shuffle needs one-hot input (0/1 values, at most one 1 per position); "
            "the sequence branch holds something else."
        )
    symbols = values.argmax(axis=-1)
    symbols[sums == 0] = array.shape[-1]
    return symbols.astype(np.int64)


def _shuffle_symbols(symbols: np.ndarray, n_letters: int, rng: np.random.Generator) -> np.ndarray:
    """Eulerian-walk shuffle of each row of ``symbols`` ([B, L] ints below ``n_letters``)."""
    rows, length = symbols.shape
    if length < 3:
        return symbols.copy()
    src, dst = symbols[:, :-1], symbols[:, 1:]
    n_edges = length - 1
    row_idx = np.arange(rows)
    # edges of each letter, in sequence order: a stable sort by source letter
    by_source = np.argsort(src, axis=1, kind="stable")
    out_degree = np.bincount((row_idx[:, None] * n_letters + src).reshape(-1),
                             minlength=rows * n_letters).reshape(rows, n_letters)
    first_edge = np.concatenate([np.zeros((rows, 1), dtype=np.int64), np.cumsum(out_degree, axis=1)[:, :-1]], axis=1)
    last_letter = symbols[:, -1]

    # 1. last exit of every letter except the final one: uniform among its edges,
    #    redrawn where the exits do not all lead to the final letter (not a tree)
    last_exit = np.full((rows, n_letters), -1, dtype=np.int64)
    todo = row_idx
    while len(todo):
        pick = (rng.random((len(todo), n_letters)) * out_degree[todo]).astype(np.int64)
        slot = np.minimum(first_edge[todo] + pick, n_edges - 1)
        edge = np.take_along_axis(by_source[todo], slot, axis=1)
        nxt = np.take_along_axis(dst[todo], edge, axis=1)
        has_exit = (out_degree[todo] > 0) & (np.arange(n_letters) != last_letter[todo, None])
        nxt = np.where(has_exit, nxt, last_letter[todo, None])
        # the final letter is absorbing: following n_letters (or more) exits from every
        # letter reaches it exactly when the exits form a tree; squaring the step map
        # takes ceil(log2(n_letters)) steps instead of n_letters
        cur = nxt
        for _ in range(max(1, int(np.ceil(np.log2(n_letters))))):
            cur = np.take_along_axis(cur, cur, axis=1)
        valid = (cur == last_letter[todo, None]).all(axis=1)
        last_exit[todo[valid]] = np.where(has_exit[valid], edge[valid], -1)
        todo = todo[~valid]

    # 2. random order of the other exits of each letter, the last exit at the end
    key = src * 2.0 + rng.random((rows, n_edges))
    letters = np.arange(n_letters)
    chosen = last_exit >= 0
    r, v = np.nonzero(chosen)
    key[r, last_exit[r, v]] = letters[v] * 2.0 + 1.0
    order = np.argsort(key, axis=1)
    exits = np.take_along_axis(dst, order, axis=1)  # grouped by source letter

    # 3. walk from the first letter, taking each letter's next unused exit
    out = np.empty_like(symbols)
    used = np.zeros((rows, n_letters), dtype=np.int64)
    cur = symbols[:, 0].copy()
    out[:, 0] = cur
    for t in range(1, length):
        slot = first_edge[row_idx, cur] + used[row_idx, cur]
        used[row_idx, cur] += 1
        cur = exits[row_idx, slot]
        out[:, t] = cur
    return out


def kmer_shuffle_codes(codes: np.ndarray, k: int = 2, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """One k-mer-preserving shuffle of each window of ASCII codes.

    Why: negatives made by shuffling the positives keep their composition up to k-mers
    (k = 2: GC content and CpG frequency) while losing every longer motif, as DeepBind's
    training negatives did. Letters are upper-cased first (the encoder ignores case, and
    soft-masking must not count as a letter of its own).

    Parameters
    ----------
    codes : numpy.ndarray
        uint8 ``[N, L]`` ASCII codes of the windows.
    k : int
        Length of the k-mers whose counts are kept (1: a plain permutation of the
        letters). Default is 2.
    rng : numpy.random.Generator or int or None
        Random generator or seed. Default is None (unseeded).

    Returns
    -------
    numpy.ndarray
        uint8 ``[N, L]``: each row a shuffle of the row of ``codes``, with the same count
        of every k-mer and the same first and last k-1 letters.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise LociflowError(f"kmer_shuffle_codes expects windows shaped [N, L], got shape {codes.shape}.")
    if int(k) < 1:
        raise LociflowError(f"k must be at least 1 (got {k}).")
    k = int(k)
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    upper = np.frombuffer(codes.tobytes().upper(), dtype=np.uint8).reshape(codes.shape)
    count, length = upper.shape
    if count == 0 or length <= k:
        return upper.copy()
    letters, symbols = np.unique(upper, return_inverse=True)
    symbols = symbols.reshape(upper.shape).astype(np.int64)
    if k == 1:
        order = np.argsort(generator.random(symbols.shape), axis=1)
        return letters[np.take_along_axis(symbols, order, axis=1)].astype(np.uint8)
    base = len(letters)
    n_vertices = base ** (k - 1)
    # vertex t of a row is the (k-1)-mer starting at t, as a number in base ``base``
    vertices = np.zeros((count, length - k + 2), dtype=np.int64)
    for j in range(k - 1):
        vertices = vertices * base + symbols[:, j:length - k + 2 + j]
    out = np.empty_like(symbols)
    per_block = max(1, _BLOCK_ROWS * 5 // max(5, n_vertices))
    for lo in range(0, count, per_block):
        walked = _shuffle_symbols(vertices[lo:lo + per_block], n_vertices, generator)
        out[lo:lo + per_block, :k - 1] = symbols[lo:lo + per_block, :k - 1]
        out[lo:lo + per_block, k - 1:] = walked[:, 1:] % base
    return letters[out].astype(np.uint8)

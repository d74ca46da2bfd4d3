"""RNA secondary structure features from ViennaRNA, folded in parallel and cached.

Folding dominates the preprocessing of RNA data (tens of milliseconds per 150-nt
window), so :class:`Folder` spreads it over worker processes and keeps every result in
an on-disk cache keyed by a hash of the sequence and the folding options: a rerun, a
re-split or a new model on the same windows never folds the same sequence twice.

Features (channels of the ``fold`` branch, in this order):

- ``mfe``: the minimum free energy structure as a dot-bracket one-hot with channels
  ``paired_open`` ("("), ``paired_close`` (")") and ``unpaired`` (".").
- ``unpaired_prob``: per position, 1 minus the sum of its base-pair probabilities from
  the partition function.

Sequences are folded as RNA (T becomes U). N and other ambiguity codes are passed to
ViennaRNA as N, which it never pairs.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import secrets
import signal
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lociflow.io.atomic import save_npy
from lociflow.io.files import cache_dir as files_cache_dir
from lociflow.progress import bar

log = logging.getLogger("lociflow.preprocess.structure")

FEATURES = ("mfe", "unpaired_prob")
FEATURE_CHANNELS = {"mfe": ["paired_open", "paired_close", "unpaired"], "unpaired_prob": ["unpaired_prob"]}
# every new fold result is written to the cache in packs of at most this many sequences,
# so an interrupted run keeps most of its work
PACK_SIZE = 2000
# sequences sent to a worker at once: large enough to amortise pickling, small enough
# to keep both workers busy to the end
TASK_SIZE = 8

_RNA_CODES = np.full(256, ord("N"), dtype=np.uint8)
for _src, _dst in (("Aa", "A"), ("Cc", "C"), ("Gg", "G"), ("TtUu", "U")):
    for _ch in _src:
        _RNA_CODES[ord(_ch)] = ord(_dst)


def fold_channels(features: Sequence[str]) -> list[str]:
    """Channel names of the ``fold`` branch for ``features``, in array order.

    Parameters
    ----------
    features : sequence of str
        Any of :data:`FEATURES`.

    Returns
    -------
    list of str
        The channels of each feature (see :data:`FEATURE_CHANNELS`), in the order given.
    """
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise ValueError(f"unknown fold features {unknown}; known: {', '.join(FEATURES)}")
    return [name for feature in features for name in FEATURE_CHANNELS[feature]]


def rna_strings(codes: np.ndarray) -> list[str]:
    """ASCII codes ``[N, L]`` (any case, DNA or RNA) as upper-case RNA strings with N for the rest.

    Parameters
    ----------
    codes : numpy.ndarray
        uint8 ASCII codes ``[N, L]``.

    Returns
    -------
    list of str
        One string per row: A, C, G, U (T read as U) and N for every other character.
    """
    codes = np.ascontiguousarray(_RNA_CODES[np.asarray(codes, dtype=np.uint8)])
    return [row.tobytes().decode("ascii") for row in codes]


# --------------------------------------------------------------------------- one sequence

_WORKER_OPTIONS: tuple | None = None


def fold_one(seq: str, features: Sequence[str], temperature: float = 37.0,
             max_bp_span: int | None = None) -> np.ndarray:
    """Fold one RNA string and return its features as float32 ``[len(seq), C]``.

    Parameters
    ----------
    seq : str
        An upper-case RNA string (see :func:`rna_strings`).
    features : sequence of str
        Any of :data:`FEATURES`, in channel order.
    temperature : float
        Folding temperature in degrees Celsius. Default is 37.0.
    max_bp_span : int or None
        Largest distance between paired bases, or None for ViennaRNA's default (no
        limit). Default is None.

    Returns
    -------
    numpy.ndarray
        float32 ``[len(seq), C]``, the channels of :func:`fold_channels`.
    """
    import RNA

    md = RNA.md()
    md.temperature = float(temperature)
    if max_bp_span is not None:
        md.max_bp_span = int(max_bp_span)
    fc = RNA.fold_compound(seq, md)
    structure, energy = fc.mfe()
    columns = []
    for feature in features:
        if feature == "mfe":
            brackets = np.frombuffer(structure.encode("ascii"), dtype=np.uint8)
            columns += [brackets == ord("("), brackets == ord(")"), brackets == ord(".")]
        elif feature == "unpaired_prob":
            # rescaling with the MFE keeps the partition function in floating-point range
            fc.exp_params_rescale(energy)
            fc.pf()
            probs = np.asarray(fc.bpp(), dtype=np.float64)[1:, 1:]
            paired = probs.sum(axis=0) + probs.sum(axis=1)
            columns.append(np.clip(1.0 - paired, 0.0, 1.0))
    return np.stack(columns, axis=-1).astype(np.float32)


def _init_worker(options: tuple) -> None:
    global _WORKER_OPTIONS
    _WORKER_OPTIONS = options
    # Ctrl-C reaches every process of the terminal; the parent stops the pool and prints
    # one line, instead of each worker printing its own KeyboardInterrupt traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _fold_task(seqs: list[str]) -> np.ndarray:
    features, temperature, max_bp_span = _WORKER_OPTIONS  # type: ignore[misc]
    return np.stack([fold_one(s, features, temperature, max_bp_span) for s in seqs])


# --------------------------------------------------------------------------- cache


class FoldCache:
    """Fold results on disk, looked up by a hash of each sequence.

    One folder per set of folding options and sequence length; inside it, packs of
    results written atomically as ``<id>.values.npy`` (float32 ``[n, L, C]``) and then
    ``<id>.keys.npy`` (the 16-byte hashes; its presence marks a complete pack). Packs
    from concurrent runs never collide (random ids) and are opened memory-mapped.

    Parameters
    ----------
    root : Path
        The cache root; the packs go to ``root/fold/<options>``.
    features : sequence of str
        The folding features.
    temperature : float
        Folding temperature in degrees Celsius.
    max_bp_span : int or None
        Largest distance between paired bases, or None.
    length : int
        The sequence length.
    """

    def __init__(self, root: Path, features: Sequence[str], temperature: float,
                 max_bp_span: int | None, length: int):
        import RNA

        tag = "-".join(features)
        span = "none" if max_bp_span is None else str(max_bp_span)
        self.folder = Path(root) / "fold" / f"vienna{RNA.__version__}-{tag}-T{temperature:g}-span{span}-L{length}"
        self._keys: np.ndarray | None = None

    def _load(self) -> None:
        self._keys = np.zeros(0, dtype="S16")
        self._pack_of = np.zeros(0, dtype=np.int64)
        self._row_of = np.zeros(0, dtype=np.int64)
        self._packs: list[np.ndarray] = []
        if not self.folder.is_dir():
            return
        for key_file in sorted(self.folder.glob("*.keys.npy")):
            values_file = key_file.with_name(key_file.name.replace(".keys.npy", ".values.npy"))
            try:
                keys = np.load(key_file, allow_pickle=False)
                values = np.load(values_file, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError):
                log.warning("ignoring unreadable fold cache pack %s", key_file)
                continue
            self._add(keys, values)

    def _add(self, keys: np.ndarray, values: np.ndarray) -> None:
        self._packs.append(values)
        keys = np.concatenate([self._keys, np.asarray(keys, dtype="S16")])
        pack_of = np.concatenate([self._pack_of, np.full(len(values), len(self._packs) - 1)])
        row_of = np.concatenate([self._row_of, np.arange(len(values))])
        order = np.argsort(keys, kind="stable")
        self._keys, self._pack_of, self._row_of = keys[order], pack_of[order], row_of[order]

    def lookup(self, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Fill ``out[i]`` for every cached ``keys[i]``; return the boolean mask of hits.

        The packs on disk are read on the first lookup.

        Parameters
        ----------
        keys : numpy.ndarray
            ``S16`` hashes (see :func:`sequence_keys`).
        out : numpy.ndarray
            float32 ``[len(keys), L, C]``, filled in place where a key is cached.

        Returns
        -------
        numpy.ndarray
            bool [len(keys)], True where ``out`` was filled.
        """
        if self._keys is None:
            self._load()
        if len(self._keys) == 0:
            return np.zeros(len(keys), dtype=bool)
        pos = np.searchsorted(self._keys, keys)
        pos = np.minimum(pos, len(self._keys) - 1)
        hit = self._keys[pos] == keys
        for i in np.flatnonzero(hit):
            out[i] = self._packs[self._pack_of[pos[i]]][self._row_of[pos[i]]]
        return hit

    def store(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Write a new pack of results (values first, keys last).

        Parameters
        ----------
        keys : numpy.ndarray
            ``S16`` hashes of the sequences; nothing is written when empty.
        values : numpy.ndarray
            Their features, ``[len(keys), L, C]`` (stored as float32).
        """
        if len(keys) == 0:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = self.folder / f"{os.getpid()}-{secrets.token_hex(6)}"
        save_npy(stem.with_name(stem.name + ".values.npy"), values.astype(np.float32))
        save_npy(stem.with_name(stem.name + ".keys.npy"), np.asarray(keys, dtype="S16"))
        if self._keys is not None:
            self._add(keys, values.astype(np.float32))


def sequence_keys(seqs: Sequence[str]) -> np.ndarray:
    """16-byte BLAKE2 hashes of the sequences, as a numpy ``S16`` array.

    Parameters
    ----------
    seqs : sequence of str
        ASCII sequences.

    Returns
    -------
    numpy.ndarray
        ``S16`` [N].
    """
    return np.array([hashlib.blake2b(s.encode("ascii"), digest_size=16).digest() for s in seqs], dtype="S16")


# --------------------------------------------------------------------------- folder


class Folder:
    """Fold windows into structure features over ``workers`` processes, with a cache.

    Use as a context manager so the worker pool (started on first need) is shut down;
    one :class:`Folder` serves every chunk of a run, so the pool starts once.

    Parameters
    ----------
    features : sequence of str
        Any of ``mfe`` and ``unpaired_prob``, in channel order. Default is both.
    temperature : float
        Folding temperature in degrees Celsius. Default is 37.
    max_bp_span : int or None
        Largest distance between paired bases, or None for no limit. Default is None.
    workers : int
        Processes that fold; 1 folds in this process. Default is 1.
    cache_dir : str or os.PathLike or None or bool
        Cache root (results go to ``cache_dir/fold``); None uses ``$LOCIFLOW_CACHE`` or
        ``~/.cache/lociflow``, and ``False`` turns the cache off. Default is None.
    total : int or None
        Expected number of sequences over all calls, for one progress bar across chunks.
        Default is None.
    """

    def __init__(self, features: Sequence[str] = FEATURES, temperature: float = 37.0,
                 max_bp_span: int | None = None, workers: int = 1,
                 cache_dir: str | os.PathLike | None | bool = None, total: int | None = None):
        self.features = list(features)
        self.channels = fold_channels(self.features)
        self.temperature = float(temperature)
        self.max_bp_span = max_bp_span
        self.workers = max(1, int(workers))
        self.cache_root = None if cache_dir is False else files_cache_dir(cache_dir or None)
        self._caches: dict[int, FoldCache] = {}
        self._pool = None
        self._bar = bar("Folding RNA", total=total, unit="seq")
        self.n_folded = 0
        self.n_cached = 0

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker pool and close the progress bar."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        self._bar.close()

    def fold(self, codes: np.ndarray) -> np.ndarray:
        """Structure features of every row of ``codes`` (ASCII ``[N, L]``) as float32 ``[N, L, C]``.

        Rows are folded as they are given: reverse-complement minus-strand windows first.
        Identical rows are folded once; cached results are reused and new ones stored.

        Parameters
        ----------
        codes : numpy.ndarray
            uint8 ASCII codes ``[N, L]``.

        Returns
        -------
        numpy.ndarray
            float32 ``[N, L, C]``, the channels of :attr:`channels`.
        """
        codes = np.asarray(codes, dtype=np.uint8)
        n, length = codes.shape
        out = np.zeros((n, length, len(self.channels)), dtype=np.float32)
        if n == 0:
            return out
        seqs = rna_strings(codes)
        keys = sequence_keys(seqs)
        unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        unique_out = np.zeros((len(unique_keys), length, len(self.channels)), dtype=np.float32)
        cache = self._cache(length)
        hit = cache.lookup(unique_keys, unique_out) if cache is not None else np.zeros(len(unique_keys), bool)
        todo = np.flatnonzero(~hit)
        self.n_cached += int(hit.sum())
        self._bar.update(int(n - len(todo)))
        for start in range(0, len(todo), PACK_SIZE):
            batch = todo[start:start + PACK_SIZE]
            values = self._fold_batch([seqs[first[i]] for i in batch])
            unique_out[batch] = values
            if cache is not None:
                cache.store(unique_keys[batch], values)
        self.n_folded += len(todo)
        out[:] = unique_out[inverse.reshape(-1)]
        return out

    def _cache(self, length: int) -> FoldCache | None:
        if self.cache_root is None:
            return None
        if length not in self._caches:
            self._caches[length] = FoldCache(self.cache_root, self.features, self.temperature,
                                             self.max_bp_span, length)
        return self._caches[length]

    def _fold_batch(self, seqs: list[str]) -> np.ndarray:
        options = (self.features, self.temperature, self.max_bp_span)
        if self.workers == 1 or len(seqs) < 2 * TASK_SIZE:
            results = []
            for s in seqs:
                results.append(fold_one(s, *options))
                self._bar.update(1)
            return np.stack(results)
        if self._pool is None:
            # spawn, not fork: the parent may hold threads (torch, a GUI server)
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(self.workers, initializer=_init_worker, initargs=(options,))
        tasks = [seqs[i:i + TASK_SIZE] for i in range(0, len(seqs), TASK_SIZE)]
        results = []
        for values in self._pool.imap(_fold_task, tasks):
            results.append(values)
            self._bar.update(len(values))
        return np.concatenate(results)


def fold_sequences(codes: np.ndarray, features: Sequence[str] = FEATURES, temperature: float = 37.0,
                   max_bp_span: int | None = None, workers: int = 1,
                   cache_dir: str | os.PathLike | None | bool = None) -> tuple[np.ndarray, list[str]]:
    """Fold ``codes`` (ASCII ``[N, L]``) once, with a :class:`Folder` of its own.

    Parameters
    ----------
    codes : numpy.ndarray
        uint8 ASCII codes ``[N, L]``.
    features : sequence of str
        Any of ``mfe`` and ``unpaired_prob``, in channel order. Default is both.
    temperature : float
        Folding temperature in degrees Celsius. Default is 37.0.
    max_bp_span : int or None
        Largest distance between paired bases, or None for no limit. Default is None.
    workers : int
        Processes that fold. Default is 1.
    cache_dir : str or os.PathLike or None or bool
        Cache root; None uses ``$LOCIFLOW_CACHE`` or ``~/.cache/lociflow``, ``False``
        turns the cache off. Default is None.

    Returns
    -------
    values : numpy.ndarray
        float32 ``[N, L, C]`` features.
    channels : list of str
        Their channel names.
    """
    with Folder(features, temperature, max_bp_span, workers, cache_dir, total=len(codes)) as folder:
        values = folder.fold(codes)
        log.info("folded %d windows (%d new, %d from the cache)", len(codes), folder.n_folded, folder.n_cached)
        return values, folder.channels

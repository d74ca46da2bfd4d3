"""Batches straight from the memory-mapped dataset arrays.

A per-sample ``__getitem__`` plus the default collate function costs one Python call and one
small copy per locus; on two CPU cores that alone can rival a small CNN's forward pass. Here a
sampler yields whole batches of sorted indices, the dataset gathers each branch with one fancy
index into its memmap, converts to float32 once and augments the batch with vectorised numpy.
Shuffling and augmentation draw from generators seeded by ``(seed, epoch, batch)``, so a run is
reproducible whatever the number of loader workers, and a resumed run sees the same batches
as an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from lociflow.io.store import SplitArrays

BatchKey = tuple[int, int, np.ndarray]
"""What the sampler yields: (epoch, batch number, sorted locus indices)."""


def _rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (1 without distributed training)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EpochBatches(Sampler[BatchKey]):
    """Yield batches of indices: shuffled per epoch from ``(seed, epoch)``, or in order.

    Under distributed training each process takes every ``world``-th training batch (the list
    is padded by wrapping so all processes step equally often); unshuffled (evaluation)
    batches are not divided, so every process scores the whole split. A trailing batch of a single locus is
    merged into the one before it, because batch normalisation cannot train on one sample.
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int = 0):
        self.n = int(n)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch.

        Parameters
        ----------
        epoch : int
            The epoch about to start (from 0); shuffling draws from ``(seed, epoch)``.
        """
        self.epoch = int(epoch)

    def _batches(self) -> list[np.ndarray]:
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        batches = [order[i:i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        if self.shuffle and len(batches) > 1 and len(batches[-1]) == 1:
            single = batches.pop()
            batches[-1] = np.concatenate([batches[-1], single])
        return batches

    def __len__(self) -> int:
        count = math.ceil(self.n / self.batch_size)
        if self.shuffle and count > 1 and self.n % self.batch_size == 1:
            count -= 1
        world = _rank_and_world()[1] if self.shuffle else 1
        return math.ceil(count / world)

    def __iter__(self) -> Iterator[BatchKey]:
        rank, world = _rank_and_world()
        batches = self._batches()
        numbers = list(range(len(batches)))
        if world > 1 and self.shuffle:  # training is sharded; every process validates on everything
            per_rank = math.ceil(len(batches) / world)
            numbers = [(rank + world * i) % len(batches) for i in range(per_rank)]
        for number in numbers:
            yield self.epoch, number, np.sort(batches[number])


class ArrayBatches(Dataset):
    """Map a :data:`BatchKey` to ``((input per branch, ...), labels)`` as float32/int64 tensors.

    Parameters
    ----------
    split : SplitArrays
        The dataset split (memory-mapped arrays).
    branches : sequence of str
        Branch names in the network's argument order.
    augment : bool
        Apply augmentation (training only). ``reverse_complement`` flips half of the batch:
        the one-hot sequence is reversed along positions and channels (A<->T, C<->G for the
        A,C,G,T channel order) and every other branch is reversed along positions.
        ``shift`` moves each locus by a random offset in ``[-shift, shift]``, filling the
        vacated positions with zeros (an all-zero one-hot row is how N is encoded).
        Default is False.
    reverse_complement : bool
        Reverse-complement half of each batch; only with ``augment``. Default is False.
    shift : int
        The largest random shift in positions; only with ``augment``. Default is 0.
    seed : int
        Seed of the augmentation draws, combined with the epoch and batch number.
        Default is 0.
    """

    def __init__(self, split: SplitArrays, branches: Sequence[str], augment: bool = False,
                 reverse_complement: bool = False, shift: int = 0, seed: int = 0):
        self.inputs = [split.inputs[b] for b in branches]
        self.labels = split.labels
        self.branches = list(branches)
        self.augment = augment
        self.reverse_complement = reverse_complement and augment
        self.shift = int(shift) if augment else 0
        self.seed = int(seed)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, key: BatchKey):
        epoch, number, index = key
        arrays = [np.asarray(array[index], dtype=np.float32) for array in self.inputs]
        labels = torch.from_numpy(np.asarray(self.labels[index], dtype=np.int64))
        if self.reverse_complement or self.shift:
            rng = np.random.default_rng([self.seed, epoch, number, 1])
            if self.reverse_complement:
                arrays = reverse_complement_some(arrays, self.branches, rng)
            if self.shift:
                arrays = shift_batch(arrays, self.shift, rng)
        return tuple(torch.from_numpy(a) for a in arrays), labels


def reverse_complement_some(arrays: list[np.ndarray], branches: Sequence[str],
                            rng: np.random.Generator, p: float = 0.5) -> list[np.ndarray]:
    """Reverse-complement a random fraction ``p`` of the loci in a batch (all branches alike).

    The ``seq`` branch is reversed along positions and channels; every other branch along
    positions only.

    Parameters
    ----------
    arrays : list of numpy.ndarray
        One [N, L, C] array per branch.
    branches : sequence of str
        The branch name of each array.
    rng : numpy.random.Generator
        Draws which loci are flipped.
    p : float
        The chance of each locus to be flipped. Default is 0.5.

    Returns
    -------
    list of numpy.ndarray
        New arrays with the chosen loci flipped; ``arrays`` itself when none was chosen.
    """
    flip = rng.random(arrays[0].shape[0]) < p
    if not flip.any():
        return arrays
    out = []
    for branch, array in zip(branches, arrays):
        array = array.copy()
        if branch == "seq":
            array[flip] = array[flip][:, ::-1, ::-1]
        else:
            array[flip] = array[flip][:, ::-1, :]
        out.append(array)
    return out


def shift_batch(arrays: list[np.ndarray], shift: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Move each locus by a random offset in ``[-shift, shift]`` positions, filling with zeros.

    Parameters
    ----------
    arrays : list of numpy.ndarray
        One [N, L, C] array per branch; every branch of a locus moves by the same offset.
    shift : int
        The largest offset, in positions.
    rng : numpy.random.Generator
        Draws the offsets.

    Returns
    -------
    list of numpy.ndarray
        The shifted arrays, same shapes.
    """
    n, length = arrays[0].shape[:2]
    offsets = rng.integers(-shift, shift + 1, size=n)
    source = np.arange(length)[None, :] - offsets[:, None]
    valid = (source >= 0) & (source < length)
    source = np.clip(source, 0, length - 1)
    out = []
    for array in arrays:
        moved = np.take_along_axis(array, source[:, :, None], axis=1)
        moved[~valid] = 0
        out.append(moved)
    return out


def make_loader(split: SplitArrays, branches: Sequence[str], batch_size: int, *, train: bool,
                seed: int = 0, reverse_complement: bool = False, shift: int = 0,
                num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over ``split`` yielding whole batches (see :class:`ArrayBatches`).

    Parameters
    ----------
    split : SplitArrays
        The dataset split.
    branches : sequence of str
        Branch names in the network's argument order.
    batch_size : int
        Loci per batch.
    train : bool
        Shuffle per epoch and augment (training), or keep the order (evaluation).
    seed : int
        Seed of shuffling and augmentation. Default is 0.
    reverse_complement : bool
        Reverse-complement half of each training batch. Default is False.
    shift : int
        The largest random shift of training loci, in positions. Default is 0.
    num_workers : int
        Loader worker processes (kept alive between epochs when positive). Default is 0.
    pin_memory : bool
        Pin batches in page-locked memory for faster copies to a GPU. Default is False.

    Returns
    -------
    torch.utils.data.DataLoader
        Yields ``((input per branch, ...), labels)`` batches.
    """
    dataset = ArrayBatches(split, branches, augment=train, reverse_complement=reverse_complement,
                           shift=shift, seed=seed)
    sampler = EpochBatches(len(dataset), batch_size, shuffle=train, seed=seed)
    return DataLoader(dataset, sampler=sampler, batch_size=None, num_workers=num_workers,
                      pin_memory=pin_memory, persistent_workers=num_workers > 0)

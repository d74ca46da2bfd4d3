"""A real JASPAR motif planted in random sequences, and small networks trained on it.

Interpretation tests need a model whose answer is known: half of the sequences carry
the CTCF consensus (JASPAR MA0139, from pyjaspar's offline database) at a random
position, the other half are random. A network that separates them must look at the
motif, so attributions, mutagenesis, class optimisation, filters and motif discovery
can be checked against the planted positions.

Class 1 ("motif") carries the motif; class 0 ("background") does not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch

from lociflow.model.network import build_network

BASES = "ACGT"
CTCF_ID = "MA0139"  # pyjaspar gives the latest version (MA0139.2 in JASPAR 2026)


class Motif(NamedTuple):
    matrix_id: str
    name: str
    pwm: np.ndarray  # [L, 4] probabilities, columns A, C, G, T
    consensus: str


class PlantedSet(NamedTuple):
    onehot: np.ndarray  # uint8 [N, L, 4]
    labels: np.ndarray  # int64 [N]; 1 = motif planted
    starts: np.ndarray  # int64 [N]; motif start, -1 when absent
    motif: Motif


@lru_cache(maxsize=None)
def jaspar_motif(matrix_id: str = CTCF_ID) -> Motif:
    """A JASPAR motif from pyjaspar's bundled database (no network access)."""
    from pyjaspar import jaspardb

    found = jaspardb().fetch_motif_by_id(matrix_id)
    counts = np.array([[found.counts[b][i] for b in BASES] for i in range(found.length)], dtype=np.float64)
    pwm = counts / counts.sum(axis=1, keepdims=True)
    consensus = "".join(BASES[i] for i in pwm.argmax(axis=1))
    return Motif(found.matrix_id, found.name, pwm, consensus)


def one_hot(seqs: list[str]) -> np.ndarray:
    """uint8 ``[N, L, 4]`` one-hot (A, C, G, T; anything else is an all-zero N row)."""
    lookup = np.full(256, 4, dtype=np.int64)
    for i, b in enumerate(BASES):
        lookup[ord(b)] = i
    codes = lookup[np.frombuffer("".join(seqs).encode(), dtype=np.uint8)].reshape(len(seqs), -1)
    return np.concatenate([np.eye(4, dtype=np.uint8), np.zeros((1, 4), np.uint8)])[codes]


def planted_set(n: int = 800, window: int = 100, matrix_id: str = CTCF_ID, seed: int = 0) -> PlantedSet:
    """``n`` random sequences, every other one with the motif consensus at a random position."""
    rng = np.random.default_rng(seed)
    motif = jaspar_motif(matrix_id)
    codes = rng.integers(0, 4, size=(n, window))
    labels = (np.arange(n) % 2).astype(np.int64)
    starts = np.full(n, -1, dtype=np.int64)
    site = np.array([BASES.index(b) for b in motif.consensus])
    for i in np.where(labels == 1)[0]:
        starts[i] = rng.integers(0, window - len(site) + 1)
        codes[i, starts[i]:starts[i] + len(site)] = site
    return PlantedSet(np.eye(4, dtype=np.uint8)[codes], labels, starts, motif)


CNN = {"branches": {"seq": [{"type": "conv", "filters": 16, "kernel": 15}, {"type": "pool", "mode": "max"}]},
       "common": [{"type": "dense", "units": 16}]}
GRU = {"branches": {"seq": [{"type": "conv", "filters": 8, "kernel": 9}]},
       "common": [{"type": "gru", "units": 8, "bidirectional": True, "output": "mean"}, {"type": "dense", "units": 8}]}


def train_network(data: PlantedSet, architecture: dict = CNN, epochs: int = 8, seed: int = 0,
                  lr: float = 1e-2, batch_size: int = 64) -> torch.nn.Module:
    """Build a lociflow network and fit it with a plain loop (a few seconds on a CPU)."""
    torch.manual_seed(seed)
    window = data.onehot.shape[1]
    network = build_network(architecture, {"seq": list(BASES)}, window, 2)
    x = torch.as_tensor(data.onehot, dtype=torch.float32)
    y = torch.as_tensor(data.labels)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    network.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for lo in range(0, len(y), batch_size):
            idx = order[lo:lo + batch_size]
            loss = torch.nn.functional.cross_entropy(network(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return network.eval()


def accuracy(network: torch.nn.Module, data: PlantedSet) -> float:
    with torch.no_grad():
        pred = network(torch.as_tensor(data.onehot, dtype=torch.float32)).argmax(1).numpy()
    return float((pred == data.labels).mean())


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: on a busy 2-core machine two spinning threads are many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@lru_cache(maxsize=None)
def ctcf_cnn() -> tuple[PlantedSet, PlantedSet, torch.nn.Module]:
    """(training set, held-out set, CNN trained on the training set), built once per session."""
    train = planted_set(800, 100, seed=0)
    held_out = planted_set(100, 100, seed=1)
    return train, held_out, train_network(train, CNN, epochs=8)


@lru_cache(maxsize=None)
def ctcf_gru() -> tuple[PlantedSet, PlantedSet, torch.nn.Module]:
    """(training set, held-out set, small convolutional GRU trained on it), built once per session."""
    train = planted_set(400, 50, seed=0)
    held_out = planted_set(60, 50, seed=1)
    return train, held_out, train_network(train, GRU, epochs=10)

"""Shared fixtures. Tests build their own small real files; nothing is downloaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("LOCIFLOW_PROGRESS", "0")

from synthetic import write_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


@pytest.fixture
def synthetic_dataset(tmp_path):
    """Factory: ``synthetic_dataset(n=400, window=50, branches=("seq",), ...)`` -> dataset dir."""

    def make(name: str = "dataset", **kwargs):
        return write_dataset(tmp_path / name, **kwargs)

    return make


class TrainingCalls:
    """The run names :func:`lociflow.training.run.train` was called with, in order; set
    ``interrupt_at`` to k to make the k-th call raise ``KeyboardInterrupt`` (Ctrl-C in a trial)."""

    def __init__(self):
        self.names: list[str | None] = []
        self.interrupt_at: int | None = None

    def reset(self) -> None:
        """Forget the calls so far and interrupt nothing from now on."""
        self.names.clear()
        self.interrupt_at = None


@pytest.fixture
def trainings(monkeypatch):
    """Record every one-network training (search trials, a tune's trials and its final model)."""
    import lociflow.training.run

    real_train = lociflow.training.run.train
    calls = TrainingCalls()

    def recorded(config, output, name=None, **kwargs):
        calls.names.append(name)
        if len(calls.names) == calls.interrupt_at:
            raise KeyboardInterrupt
        return real_train(config, output, name=name, **kwargs)

    monkeypatch.setattr(lociflow.training.run, "train", recorded)
    return calls


def pytest_collection_modifyitems(config, items):
    """``gpu`` tests run only where CUDA is present (``pytest -m gpu`` on a GPU machine)."""
    gpu_tests = [item for item in items if "gpu" in item.keywords]
    if not gpu_tests:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (run `pytest -m gpu` on a machine with one)")
    for item in gpu_tests:
        item.add_marker(skip)

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

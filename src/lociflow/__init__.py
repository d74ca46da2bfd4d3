"""lociflow: from genomic loci to a trained, evaluated and explained neural network.

The Python API mirrors the command line: each stage is a function taking its config
(a pydantic model from :mod:`lociflow.config`, a dict, or a YAML path).
"""

from __future__ import annotations

__version__ = "0.1.0"

# Each stage is a callable module (see lociflow.stage): lociflow.train(config, output)
# runs the stage, and lociflow.train.train is the same function.
from lociflow.layout import STAGES as _STAGES

_FUNCTIONS = {
    "load_model": ("lociflow.model.io", "load_model"),
    "open_dataset": ("lociflow.io.store", "open_dataset"),
}

__all__ = ["__version__", *_STAGES, *_FUNCTIONS]


def __getattr__(name: str):
    # Lazy, so that `import lociflow` and `lociflow --help` stay fast (no torch import).
    import importlib

    if name in _STAGES:
        return importlib.import_module(f"lociflow.{name}")
    if name in _FUNCTIONS:
        module, attr = _FUNCTIONS[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'lociflow' has no attribute {name!r}")

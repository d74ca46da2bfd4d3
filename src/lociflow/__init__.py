"""lociflow: from genomic loci to a trained, evaluated and explained neural network.

The Python API mirrors the command line: each stage is a function taking its config
(a pydantic model from :mod:`lociflow.config`, a dict, or a YAML path).
"""

from __future__ import annotations

__version__ = "0.1.0"

_API = {
    "preprocess": ("lociflow.preprocess.pipeline", "preprocess"),
    "train": ("lociflow.train", "train"),
    "evaluate": ("lociflow.evaluate", "evaluate"),
    "predict": ("lociflow.predict", "predict"),
    "interpret": ("lociflow.interpret.run", "interpret"),
    "search": ("lociflow.search", "search"),
    "load_model": ("lociflow.model.io", "load_model"),
    "open_dataset": ("lociflow.io.store", "open_dataset"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    # Lazy, so that `import lociflow` and `lociflow --help` stay fast (no torch import).
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'lociflow' has no attribute {name!r}")

"""lociflow: from genomic loci to a trained, evaluated and explained neural network.

The Python API mirrors the command line: each stage is a function taking its config
(a pydantic model from :mod:`lociflow.config`, a dict, or a YAML path) and an output
root, and returning its run folder::

    import lociflow

    data = lociflow.preprocess("my.yaml", "runs")
    model = lociflow.train({"data": str(data), "preset": "cnn"}, "runs")
    lociflow.evaluate({"model": str(model), "data": str(data)}, "runs")

The stage functions live in modules named for what they hold (``lociflow.training.run``,
``lociflow.interpretation.run`` ...), so no module shadows the function of the same name.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: the API functions: name -> (module, attribute); imported on first use, so that
#: ``import lociflow`` and ``lociflow --help`` stay fast (no torch import)
STAGE_FUNCTIONS = {
    "preprocess": ("lociflow.preprocessing.run", "preprocess"),
    "train": ("lociflow.training.tuning", "train"),
    "evaluate": ("lociflow.evaluation.run", "evaluate"),
    "predict": ("lociflow.prediction", "predict"),
    "interpret": ("lociflow.interpretation.run", "interpret"),
    "search": ("lociflow.searching.run", "search"),
    "variants": ("lociflow.variation.run", "variants"),
    "scan": ("lociflow.scanning.run", "scan"),
}
_FUNCTIONS = {
    **STAGE_FUNCTIONS,
    "load_model": ("lociflow.model.io", "load_model"),
    "open_dataset": ("lociflow.io.store", "open_dataset"),
}

__all__ = ["__version__", *_FUNCTIONS]


def __getattr__(name: str):
    import importlib

    if name in _FUNCTIONS:
        module, attr = _FUNCTIONS[name]
        function = getattr(importlib.import_module(module), attr)
        globals()[name] = function  # later look-ups skip this hook
        return function
    raise AttributeError(f"module 'lociflow' has no attribute {name!r}")

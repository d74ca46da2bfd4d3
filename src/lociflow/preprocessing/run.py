"""``lociflow preprocess``: the stage function.

A config with classes builds a dataset from loci (:mod:`lociflow.preprocessing.pipeline`);
one with ``source`` re-balances or re-splits an existing dataset without mapping again
(:mod:`lociflow.preprocessing.resplit`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lociflow.config import PreprocessConfig, coerce
from lociflow.preprocessing.pipeline import build_dataset
from lociflow.preprocessing.records import resolve_auto
from lociflow.preprocessing.resplit import resplit
from lociflow.runs import open_run

__all__ = ["preprocess"]


def preprocess(config: Any, output: str | os.PathLike, name: str | None = None, force: bool = False) -> Path:
    """Turn BED/FASTA files per class into an encoded, balanced and split dataset directory.

    Parameters
    ----------
    config : PreprocessConfig or dict or str or os.PathLike
        A :class:`~lociflow.config.PreprocessConfig`, a dict, or a YAML path.
    output : str or os.PathLike
        Output root; the dataset is the run folder created inside it.
    name : str or None
        Run folder name. Default is None: the stage, the time and a random suffix.
    force : bool
        Replace an existing folder of the same name. Default is False.

    Returns
    -------
    Path
        The dataset directory (open it with :func:`lociflow.open_dataset`).
    """
    cfg = coerce(PreprocessConfig, config, "preprocess")
    if cfg.source is not None:
        return resplit(cfg, output, name=name, force=force)
    cfg = resolve_auto(cfg)  # params.yaml records the window and viewpoint chosen
    params = cfg.dump()
    summary = {"window": cfg.window, "branches": ",".join(cfg.branches), "classes": ",".join(cfg.known_classes() or [*cfg.classes, "(from labels)"]),
               "split": cfg.split.method, "seed": cfg.seed}
    with open_run("preprocess", output, params, name, force, summary_params=summary) as run:
        build_dataset(cfg, run)
    return run.final_path

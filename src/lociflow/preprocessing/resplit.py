"""``preprocess --from DATASET``: re-balance and re-split an existing dataset.

Users tune splits and class balance often; mapping and folding again for that would
waste most of a preprocessing run. Here the arrays of every split of the source dataset
are pooled, the new ``reduce``/``balance``/``split``/``seed`` are applied exactly as a
fresh run would apply them, and the selected rows are copied into a new dataset. The
encoding parameters (window, branches, strand, folding, ...) are those of the source:
changing them needs the input files, so asking for it is an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lociflow.config import PreprocessConfig
from lociflow.errors import ConfigError
from lociflow.io.store import open_dataset
from lociflow.preprocessing.duplicates import count_duplicates, pooled_same_content
from lociflow.preprocessing.negatives import families_from_names
from lociflow.preprocessing.pipeline import (
    STREAM_ORDER,
    count_splits,
    finish,
    rng_for,
    select_and_split,
)
from lociflow.preprocessing.split import order_within_splits
from lociflow.preprocessing.stream import resolve_params
from lociflow.preprocessing.writer import DatasetWriter
from lociflow.progress import bar
from lociflow.runs import open_run

log = logging.getLogger("lociflow.preprocess.resplit")

# what --from may change; everything else is fixed by the source dataset
CHANGEABLE = ("reduce", "balance", "split", "seed", "workers", "cache_dir", "source")
COPY_CHUNK = 50_000


def resplit_params(cfg: PreprocessConfig, source_params: dict[str, Any]) -> dict[str, Any]:
    """The new dataset's parameters: the source's encoding, the new balance and split.

    Parameters
    ----------
    cfg : PreprocessConfig
        The preprocess config with ``source``; only the fields it sets explicitly are
        compared with the source's.
    source_params : dict
        The source dataset's stored preprocess parameters, possibly partial (missing keys
        take the config defaults, see :func:`~lociflow.preprocessing.stream.resolve_params`).

    Returns
    -------
    dict
        The source's complete parameters, with the keys in :data:`CHANGEABLE` (``reduce``,
        ``balance``, ``split``, ``seed``, ...) taken from ``cfg``.

    Raises
    ------
    ConfigError
        The config explicitly sets an encoding parameter to a value other than the source's.
    """
    source = resolve_params(source_params)
    wanted = cfg.dump()
    for key in sorted(cfg.model_fields_set - set(CHANGEABLE)):
        if wanted[key] != source.get(key):
            raise ConfigError(
                f"--from {cfg.source} re-balances and re-splits an existing dataset, so {key!r} cannot change "
                f"(the dataset has {source.get(key)!r}, the config asks for {wanted[key]!r}). Remove {key!r} "
                "from the config, or preprocess the input files again without --from."
            )
    params = dict(source)
    for key in CHANGEABLE:
        params[key] = wanted[key]
    return params


def resplit(cfg: PreprocessConfig, output: str | os.PathLike, name: str | None = None, force: bool = False) -> Path:
    """Write a new dataset from ``cfg.source`` with ``cfg``'s balance, split and seed.

    Parameters
    ----------
    cfg : PreprocessConfig
        The preprocess config; ``source`` names the dataset, ``reduce``, ``balance``,
        ``split`` and ``seed`` say how to select and split its pooled loci.
    output : str or os.PathLike
        Output root; the new dataset is the run folder created inside it.
    name : str or None
        Run folder name. Default is None: the stage, the time and a random suffix.
    force : bool
        Replace an existing folder of the same name. Default is False.

    Returns
    -------
    Path
        The new dataset directory.

    Raises
    ------
    ConfigError
        When ``cfg`` changes an encoding parameter (see :func:`resplit_params`) or
        ``reduce`` names a class the source dataset does not have.
    DatasetError
        When ``cfg.source`` is not a readable lociflow dataset.
    """
    dataset = open_dataset(cfg.source)
    params = resplit_params(cfg, dataset.params)
    class_names = dataset.classes
    for key in cfg.reduce:
        if key not in class_names:
            raise ConfigError(f"reduce names class {key!r}, which is not a class of {dataset.path} "
                              f"({', '.join(class_names)}).")
    summary = {"from": str(dataset.path), "classes": ",".join(class_names), "split": cfg.split.method,
               "seed": cfg.seed}
    with open_run("preprocess", output, params, name, force, summary_params=summary) as run:
        pooled = _pool(dataset)
        table = pd.DataFrame({"class": class_names,
                              "loci_in": np.bincount(pooled["labels"], minlength=len(class_names))})
        same = pooled_same_content(pooled, dataset.manifest.get("input") == "bed")
        if same is not None:
            count_duplicates(same, pooled["labels"], table, "identical loci or window sequences")
        selected, split = select_and_split(cfg, pooled["meta"], pooled["labels"], class_names, table, same,
                                           family=families_from_names(pooled["meta"]["name"].to_numpy(object)))
        orders = order_within_splits(split, rng_for(cfg.seed, STREAM_ORDER))
        writer = DatasetWriter(run.path, dataset.channels, dataset.window, class_names)
        with bar("Copying loci", total=len(selected), unit="loci") as progress:
            for split_name, order in orders.items():
                rows = selected[order]
                part = writer.open_split(split_name, len(rows))
                for first in range(0, len(rows), COPY_CHUNK):
                    chunk = rows[first:first + COPY_CHUNK]
                    part.write(first, _gather(pooled, chunk))
                    progress.update(len(chunk))
                part.finish(pooled["labels"][rows], pooled["meta"].iloc[rows].reset_index(drop=True))
        for column, values in count_splits(pooled["labels"][selected], split, class_names).items():
            table[column] = values
        digest = hashlib.sha256(json.dumps({"source": dataset.manifest.get("input_hash"),
                                            "params": {k: params[k] for k in ("reduce", "balance", "split", "seed")}},
                                           sort_keys=True, default=str).encode()).hexdigest()
        finish(run, writer, table, params, digest, source_kind=dataset.manifest.get("input", "unknown"))
    return run.final_path


def _pool(dataset) -> dict[str, Any]:
    """Every split of ``dataset`` side by side: memory-mapped arrays, labels, metadata, row origins."""
    splits, labels, metas, origin, rows = [], [], [], [], []
    for k, name in enumerate(dataset.splits()):
        part = dataset.split(name)
        splits.append(part.inputs)
        labels.append(np.asarray(part.labels, dtype=np.int64))
        meta = part.meta()
        metas.append(meta.drop(columns=["class"], errors="ignore"))
        origin.append(np.full(len(part), k, dtype=np.int64))
        rows.append(np.arange(len(part), dtype=np.int64))
    log.info("pooled %d loci from the splits %s of %s", sum(len(x) for x in labels), ", ".join(dataset.splits()),
             dataset.path)
    return {"inputs": splits, "labels": np.concatenate(labels), "meta": pd.concat(metas, ignore_index=True),
            "origin": np.concatenate(origin), "row": np.concatenate(rows)}


def _gather(pooled: dict[str, Any], index: np.ndarray) -> dict[str, np.ndarray]:
    """The branch arrays of pooled rows ``index``, read from the source splits' memory maps."""
    origin, row = pooled["origin"][index], pooled["row"][index]
    out = {}
    for branch, first in pooled["inputs"][0].items():
        values = np.empty((len(index), *first.shape[1:]), dtype=first.dtype)
        for k, arrays in enumerate(pooled["inputs"]):
            mask = origin == k
            if mask.any():
                source_rows = row[mask]
                order = np.argsort(source_rows)  # ascending reads are kinder to the page cache
                values[np.flatnonzero(mask)[order]] = arrays[branch][source_rows[order]]
        out[branch] = values
    return out

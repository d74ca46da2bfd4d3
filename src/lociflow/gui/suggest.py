"""Sensible first values for a newcomer: the latest dataset, the latest model, its classes.

A page suggests the output of the previous stage (the newest successful run in the
output root), so the usual path preprocess -> train -> evaluate needs no typing. These
only read files the stages write; the user can change every suggestion.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lociflow.layout import MANIFEST_FILE, PARAMS_FILE, SPEC_FILE
from lociflow.runs import read_ledger


def latest_run(root: Path, stage: str) -> Path | None:
    """The newest successful run folder of ``stage`` under ``root`` that still exists."""
    ledger = read_ledger(root)
    rows = ledger[(ledger["stage"] == stage) & (ledger["status"] == "ok")]
    for path in reversed(list(rows["path"])):
        if Path(path).is_dir():
            return Path(path)
    return None


def _section(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return document if isinstance(document, dict) else {}


def dataset_of(model_dir: str | Path | None) -> str | None:
    """The dataset a model was trained on (from its params.yaml), if it still exists."""
    if not model_dir:
        return None
    data = (_section(Path(model_dir) / PARAMS_FILE).get("train") or {}).get("data")
    return str(data) if data and Path(data).is_dir() else None


def model_classes(model_dir: str | Path | None) -> list[str] | None:
    """The class names of a model (from its spec.yaml), or None when unknown."""
    if not model_dir:
        return None
    classes = _section(Path(model_dir) / SPEC_FILE).get("classes")
    return [str(c) for c in classes] if isinstance(classes, list) else None


def model_branches(model_dir: str | Path | None) -> list[str] | None:
    """The input branches of a model (from its spec.yaml), or None when unknown."""
    if not model_dir:
        return None
    branches = _section(Path(model_dir) / SPEC_FILE).get("branches")
    if isinstance(branches, dict):
        return list(branches)
    return [str(b) for b in branches] if isinstance(branches, list) else None


def dataset_branches(data_dir: str | Path | None) -> list[str] | None:
    """The input branches of a dataset (from its manifest.json), or None when unknown."""
    import json

    if not data_dir:
        return None
    try:
        manifest = json.loads((Path(data_dir) / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    branches = manifest.get("branches")
    return list(branches) if isinstance(branches, (dict, list)) else None


def initial(path: Path | None) -> str | None:
    """A path as the text a field starts with."""
    return str(path) if path else None

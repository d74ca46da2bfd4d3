""""Load parameters from a previous run": fill a stage's form from a params.yaml.

The file is read and validated exactly as ``--config`` would read it (relative paths
against the file's folder), then every widget of the form is set to the loaded value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
from pydantic import BaseModel

from lociflow.config import StageConfig, load_yaml, parse_stage
from lociflow.errors import LociflowError
from lociflow.gui import paths, state
from lociflow.gui.fields import field_key, kind_of, unwrap, yaml_text
from lociflow.layout import PARAMS_FILE
from lociflow.runs import read_ledger


def load_values(stage: str, model: type[BaseModel], values: dict[str, Any], prefix: tuple[str, ...] = ()) -> None:
    """Set every widget of ``stage``'s form to ``values`` (a complete, validated section)."""
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        key = field_key(stage, path)
        value = values.get(name)
        kind = kind_of(info.annotation)
        if kind == "section":
            inner, optional = unwrap(info.annotation)
            if optional:
                state.put(key + "#on", value is not None)
            if value is not None:
                load_values(stage, inner, value, path)
        elif kind == "numbers":
            state.forget(key + "[")
            state.put(key + "#set", True)
            for sub, number in (value or {}).items():
                state.put(f"{key}[{sub}]", number)
            state.put(key, yaml_text(value))
        elif kind == "auto_int":
            state.put(key + "#auto", value == "auto")
            if value != "auto":
                state.put(key, int(value))
        elif kind == "named_paths":
            state.forget(key + "[")
            state.put(key + "#n", len(value or {}))
            for i, (sub, file) in enumerate((value or {}).items()):
                state.put(f"{key}[{i}].name", sub)
                state.put(f"{key}[{i}].path", str(file))
        elif kind == "class_files":
            state.forget(key + "[")
            state.forget(key + "#made")
            files_classes = {k: v for k, v in (value or {}).items() if not isinstance(v, dict)}
            made = {k: v for k, v in (value or {}).items() if isinstance(v, dict)}
            state.put(key + "#n", max(1, len(files_classes)))
            for i, (sub, files) in enumerate(files_classes.items()):
                state.put(f"{key}[{i}].name", sub)
                state.put(f"{key}[{i}].files", "\n".join(str(f) for f in files))
            load_made_class(key, made)
        else:
            state.put(key, _widget_value(kind, info, value))


def load_made_class(key: str, made: dict[str, Any]) -> None:
    """Fill the widgets of the made (``from:``) class of the preprocess page; the page offers one."""
    state.put(key + "#made.on", bool(made))
    if not made:
        return
    name, spec = next(iter(made.items()))
    state.put(key + "#made.name", name)
    for option, value in spec.items():
        if option in ("exclude",):
            value = "\n".join(str(v) for v in value or [])
        state.put(f"{key}#made.{option}", value)


def _widget_value(kind: str, info: Any, value: Any) -> Any:
    if kind in ("path", "text"):
        return "" if value is None else str(value)
    if kind == "paths":
        return "\n".join(str(v) for v in value or [])
    if kind == "words":
        return ", ".join(str(v) for v in value or [])
    if kind == "yaml":
        return yaml_text(value)
    if kind == "float" and value is not None:
        return float(value)
    if kind == "multi":
        return list(value or [])
    return value


def read_params(stage: str, model: type[StageConfig], file: str | Path) -> dict[str, Any]:
    """The ``stage`` section of a params.yaml, validated and complete (as ``--config`` reads it)."""
    file = Path(file).expanduser()
    document = load_yaml(file)
    if stage not in document:
        found = ", ".join(document) or "none"
        raise LociflowError(f"{file} has no {stage}: section (sections found: {found}).")
    return parse_stage(model, document[stage], stage, base=file.resolve().parent).dump()


def previous_runs(root: Path, stage: str) -> list[Path]:
    """params.yaml files of this stage's successful runs under ``root``, newest first."""
    ledger = read_ledger(root)
    rows = ledger[(ledger["stage"] == stage) & (ledger["status"] == "ok")]
    found = [Path(p) / PARAMS_FILE for p in reversed(list(rows["path"]))]
    return [p for p in dict.fromkeys(found) if p.exists()]


def params_loader(stage: str, model: type[StageConfig], root: Path,
                  after: Callable[[dict[str, Any]], None] | None = None) -> None:
    """An expander that fills the form from a previous run's (or any) params.yaml.

    ``after`` is called with the loaded values, for page-level widgets (e.g. a mode switch).
    """
    message_key = f"{stage}::#loaded"
    with st.expander("Load parameters from a previous run"):
        runs = previous_runs(root, stage)
        source = st.radio("From", ["a run in the output root", "a params.yaml file"], horizontal=True,
                          key=f"{stage}::#load_from", index=0 if runs else 1)
        if source.startswith("a run"):
            if not runs:
                st.caption(f"No finished {stage} runs in {root} yet.")
                chosen = None
            else:
                chosen = st.selectbox("Run", runs, key=f"{stage}::#load_run", format_func=lambda p: p.parent.name)
        else:
            entered = paths.path_field(f"{stage}::#load_file", "params.yaml (or any config file)", None,
                                       root / "uploads")
            chosen = Path(entered[0]) if entered else None
        st.button("Load these parameters", key=f"{stage}::#load", disabled=chosen is None,
                  on_click=_load, args=(stage, model, chosen, after, message_key))
        kind, text = st.session_state.get(message_key, (None, ""))
        if kind == "ok":
            st.success(text)
        elif kind == "error":
            st.error(text)


def _load(stage: str, model: type[StageConfig], file: Path | None, after, message_key: str) -> None:
    if file is None:
        return
    try:
        values = read_params(stage, model, file)
    except LociflowError as exc:
        st.session_state[message_key] = ("error", f"Could not load {file}: {exc}")
        return
    load_values(stage, model, values)
    if after is not None:
        after(values)
    st.session_state[message_key] = ("ok", f"Loaded the parameters of {file}.")

"""The widget of each field kind: draw it from session state, return the config value.

Each function takes the form, the field's path, its pydantic ``FieldInfo``, a label and a
help text, draws its widgets, records problems on the form, and returns the value to
put into the config (or :data:`OMIT` to leave the config's default).
"""

from __future__ import annotations

import math
import re
from typing import Any, get_args

import streamlit as st
import yaml

from lociflow.config import BED_WINDOW
from lociflow.gui import paths, state
from lociflow.gui.fields import OMIT, FormLike, default_of, md_escape, unwrap, yaml_text

_UNSET = "\u2205"  # stands for None in a choice list (Streamlit shows None as "nothing chosen")


def _choice(form: FormLike, path, info, label, help, none_label: str = "(not set)", options: list | None = None,
            **_) -> Any:
    ann, optional = unwrap(info.annotation)
    # the choices of a Literal, or those the page gives (e.g. the classes of the chosen model)
    options = [*([_UNSET] if optional else []), *(get_args(ann) if options is None else options)]
    key = form.key(path)
    default = _UNSET if default_of(info) is None else default_of(info)
    state.init(key, default)
    if st.session_state[key] is None:
        st.session_state[key] = _UNSET
    if st.session_state[key] not in options:
        st.session_state[key] = default
    st.selectbox(label, options, key=key, help=help, format_func=lambda v: none_label if v == _UNSET else str(v))
    state.keep(key)
    value = st.session_state[key]
    return None if value == _UNSET else value


def _flag(form: FormLike, path, info, label, help, **_) -> bool:
    key = form.key(path)
    state.init(key, bool(default_of(info)))
    st.checkbox(label, key=key, help=help)
    state.keep(key)
    return bool(st.session_state[key])


def _number(form: FormLike, path, info, label, help, **_) -> Any:
    ann, optional = unwrap(info.annotation)
    key = form.key(path)
    default = default_of(info)
    state.init(key, default if default is None else ann(default))
    if ann is int:
        st.number_input(label, key=key, help=help, step=1, value=None if optional else "min")
    else:
        step = 10 ** math.floor(math.log10(abs(default))) / 10 if default else 0.01
        st.number_input(label, key=key, help=help, step=float(step), format="%g",
                        value=None if optional else "min")
    state.keep(key)
    value = st.session_state[key]
    if value is None and not optional:
        form.problem(path, "a number is needed here")
        return OMIT
    return value


def _auto_number(form: FormLike, path, info, label, help, fallback: int = BED_WINDOW, **_) -> Any:
    """A whole number that may be left to ``auto``: a checkbox, and the number when it is off."""
    key = form.key(path)
    default = default_of(info)
    state.init(f"{key}#auto", default == "auto")
    st.checkbox(f"{label}: auto", key=f"{key}#auto", help=help)
    state.keep(f"{key}#auto")
    if st.session_state[f"{key}#auto"]:
        return "auto"
    state.init(key, fallback if default == "auto" else int(default))
    st.number_input(label, key=key, step=1, min_value=1)
    state.keep(key)
    return int(st.session_state[key])


def _text(form: FormLike, path, info, label, help, placeholder: str = "", **_) -> Any:
    _, optional = unwrap(info.annotation)
    key = form.key(path)
    default = default_of(info)
    state.init(key, "" if default is None else str(default))
    st.text_input(label, key=key, help=help, placeholder=placeholder)
    state.keep(key)
    value = st.session_state[key].strip()
    return None if optional and not value else value


def _path(form: FormLike, path, info, label, help, exists: bool = True, dir: bool | None = None,
          placeholder: str = "", initial: str | None = None, required: bool = False, **_) -> Any:
    _, optional = unwrap(info.annotation)
    values = paths.path_field(form.key(path), label, help, form.upload_dir, placeholder=placeholder,
                              initial=initial)
    if required and not values:
        form.problem(path, "required")
    if len(values) > 1:
        form.problem(path, "one path only here")
    if exists:
        for message in paths.missing_paths(values[:1], dir):
            form.problem(path, message)
    if values:
        return values[0]
    return None if optional else OMIT


def _paths(form: FormLike, path, info, label, help, exists: bool = True, dir: bool | None = None,
           placeholder: str = "", required: bool = False, **_) -> Any:
    values = paths.path_field(form.key(path), label, help, form.upload_dir, multiple=True,
                              placeholder=placeholder)
    if required and not values:
        form.problem(path, "required")
    if exists:
        for message in paths.missing_paths(values, dir):
            form.problem(path, message)
    return None if unwrap(info.annotation)[1] and not values else values


# what a class is often called, by its row: a different example in each row
CLASS_EXAMPLES = ("bound", "unbound", "other", "fourth")


def class_placeholder(row: int) -> str:
    """The greyed example in the name box of class row ``row`` (from 0): no two rows alike."""
    return f"e.g. {CLASS_EXAMPLES[row]}" if row < len(CLASS_EXAMPLES) else f"e.g. class{row + 1}"


def _words(form: FormLike, path, info, label, help, placeholder: str = "", **_) -> list[str]:
    key = form.key(path)
    state.init(key, ", ".join(default_of(info) or []))
    if isinstance(st.session_state[key], list):
        st.session_state[key] = ", ".join(st.session_state[key])
    st.text_input(label, key=key, help=help, placeholder=placeholder or "separated by commas or spaces")
    state.keep(key)
    words = [w for w in re.split(r"[,\s]+", st.session_state[key]) if w]
    return None if unwrap(info.annotation)[1] and not words else words


def _multi(form: FormLike, path, info, label, help, options: list[str] | None = None, **_) -> list[str]:
    key = form.key(path)
    if options is None:
        options = [str(a) for a in get_args(get_args(unwrap(info.annotation)[0])[0])]
    state.init(key, list(default_of(info) or []))
    chosen = st.session_state[key] or []
    if isinstance(chosen, str):  # filled as a words field (a page may show a list[str] as choices)
        chosen = [w for w in re.split(r"[,\s]+", chosen) if w]
    chosen = list(chosen)
    # keep a loaded value that is not offered here visible, so validation can name it
    options = [*options, *[c for c in chosen if c not in options]]
    st.session_state[key] = chosen
    st.multiselect(label, options, key=key, help=help)
    state.keep(key)
    chosen = list(st.session_state[key])
    return None if unwrap(info.annotation)[1] and not chosen else chosen


def _numbers(form: FormLike, path, info, label, help, keys: list[str] | None = None, **opts) -> Any:
    if keys is None:
        return _yaml(form, path, info, label, help, **opts)
    key = form.key(path)
    default = default_of(info) or {}
    first_time = state.get(f"{key}#set") is None
    state.put(f"{key}#set", True)
    st.markdown(f"**{md_escape(label)}**", help=help)
    result = {}
    columns = st.columns(max(1, min(4, len(keys)))) if keys else []
    for i, name in enumerate(keys):
        sub = f"{key}[{name}]"
        state.init(sub, default.get(name) if first_time else None)
        with columns[i % len(columns)]:
            st.number_input(name, key=sub, value=None, step=0.05, format="%g", placeholder="not set")
        state.keep(sub)
        if st.session_state[sub] is not None:
            result[name] = st.session_state[sub]
    if not keys:
        st.caption("Nothing to set yet.")
    return result


def _named_paths(form: FormLike, path, info, label, help, **_) -> dict[str, str]:
    key = form.key(path)
    rows = _row_count(key, len(default_of(info) or {}))
    st.markdown(f"**{md_escape(label)}**", help=help)
    result: dict[str, str] = {}
    for i in range(rows):
        name_col, path_col = st.columns([1, 3])
        name_key = f"{key}[{i}].name"
        state.init(name_key, "")
        with name_col:
            st.text_input("Name", key=name_key, placeholder="e.g. shape")
        state.keep(name_key)
        with path_col:
            values = paths.path_field(f"{key}[{i}].path", "File", None, form.upload_dir)
        name = st.session_state[name_key].strip()
        for message in paths.missing_paths(values[:1], False):
            form.problem(path, message)
        if values and not name:
            form.problem(path, f"row {i + 1} has a file but no name")
        elif name in result:
            form.problem(path, f"the name {name!r} is given twice")
        elif name:
            result[name] = values[0] if values else ""
    _row_buttons(key, "track" if path[-1] == "tracks" else "row", minimum=0)
    return result


def _class_files(form: FormLike, path, info, label, help, rows: int = 2, required: bool = False,
                 **_) -> dict[str, list[str]]:
    key = form.key(path)
    count = _row_count(key, max(rows, len(default_of(info) or {})))
    st.markdown(f"**{md_escape(label)}**", help=help)
    result: dict[str, list[str]] = {}
    form.typed_files[tuple(path)] = []
    for i in range(count):
        name_col, files_col = st.columns([1, 3])
        name_key = f"{key}[{i}].name"
        state.init(name_key, "")
        with name_col:
            st.text_input(f"Class {i + 1} name", key=name_key, placeholder=class_placeholder(i))
        state.keep(name_key)
        with files_col:
            files = paths.path_field(f"{key}[{i}].files", f"Class {i + 1} files", None, form.upload_dir,
                                     multiple=True, placeholder="BED/narrowPeak/FASTA files, one per line")
        name = st.session_state[name_key].strip()
        form.typed_files[tuple(path)] += files
        for message in paths.missing_paths(files, False):
            form.problem(path, message)
        if files and not name:
            form.problem(path, f"class {i + 1} has files but no name")
        elif name in result:
            form.problem(path, f"the class name {name!r} is given twice: each class needs its own name")
        elif name:
            result[name] = files
    _row_buttons(key, "class", minimum=1)
    if required and not result:
        form.problem(path, "name the classes and give each its files")
    return result


def _yaml(form: FormLike, path, info, label, help, height: int = 120, **_) -> Any:
    _, optional = unwrap(info.annotation)
    key = form.key(path)
    state.init(key, yaml_text(default_of(info)))
    if not isinstance(default_of(info), (dict, list)):
        height = 68  # a single value: one line is enough
    st.text_area(f"{label} (YAML)", key=key, help=help, height=height)
    state.keep(key)
    text = st.session_state[key].strip()
    if not text:
        return None if optional else OMIT
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        form.problem(path, f"not valid YAML: {str(exc).splitlines()[0]}")
        return OMIT


def _section(form: FormLike, path, info, label, help, **_) -> Any:
    model, optional = unwrap(info.annotation)
    if optional:
        on_key = form.key(path) + "#on"
        state.init(on_key, default_of(info) is not None)
        st.checkbox(f"Use {label.lower()}", key=on_key, help=help or model.__doc__)
        state.keep(on_key)
        if not st.session_state[on_key]:
            return None
        form.put(path, {})
    elif help or model.__doc__:
        st.caption(help or model.__doc__)
    for name in model.model_fields:
        sub = (*path, name)
        if sub not in form.rendered and sub not in form.skipped:
            form.field(*sub)
    return OMIT


def _row_count(key: str, default: int) -> int:
    state.init(f"{key}#n", default)
    state.keep(f"{key}#n")
    return int(st.session_state[f"{key}#n"])


def _row_buttons(key: str, noun: str, minimum: int) -> None:
    count = int(st.session_state[f"{key}#n"])
    left, right, _ = st.columns([1, 1, 3])
    left.button(f"Add a {noun}", key=f"{key}#add", on_click=state.put, args=(f"{key}#n", count + 1))
    right.button(f"Remove the last {noun}", key=f"{key}#remove", disabled=count <= minimum,
                 on_click=state.put, args=(f"{key}#n", max(minimum, count - 1)))


RENDERERS = {
    "choice": _choice, "flag": _flag, "int": _number, "auto_int": _auto_number, "float": _number, "text": _text,
    "path": _path, "paths": _paths, "words": _words, "multi": _multi, "numbers": _numbers,
    "named_paths": _named_paths, "class_files": _class_files, "yaml": _yaml, "section": _section,
}



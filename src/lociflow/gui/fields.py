"""Field types of the config models and the widget kind that edits each."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Protocol, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

OMIT = object()  # a field left empty: the config's default applies



class FormLike(Protocol):
    """What a widget renderer (:mod:`lociflow.gui.widgets`) uses of the form that calls it.

    :class:`lociflow.gui.forms.Form` is the one implementation; naming the protocol here
    lets the widgets be typed without importing the form, which imports them.
    """

    upload_dir: Path
    rendered: set[tuple[str, ...]]
    skipped: set[tuple[str, ...]]
    typed_files: dict[tuple[str, ...], list[str]]

    def key(self, path: tuple[str, ...]) -> str: ...

    def problem(self, path: tuple[str, ...], message: str) -> None: ...

    def field(self, *path: str, label: str | None = None, help: str | None = None, **opts: Any) -> Any: ...

    def put(self, path: tuple[str, ...], value: Any) -> None: ...

def unwrap(annotation: Any) -> tuple[Any, bool]:
    """Split ``X | None`` into ``(X, True)``; anything else into ``(annotation, False)``."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), optional
    return annotation, False


def kind_of(annotation: Any) -> str:
    """The widget kind for a field's type annotation."""
    ann, _ = unwrap(annotation)
    origin, args = get_origin(ann), get_args(ann)
    if origin in (typing.Union, types.UnionType) and int in args and Literal["auto"] in args:
        return "auto_int"
    simple = {bool: "flag", int: "int", float: "float", str: "text", Path: "path"}
    if origin is Literal:
        return "choice"
    if ann in simple:
        return simple[ann]
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "section"
    if origin is list and args:
        inner = args[0]
        if inner is Path:
            return "paths"
        if get_origin(inner) is Literal:
            return "multi"
        if inner is str:
            return "words"
    if origin is dict and args and args[0] is str:
        value = args[1]
        if value is Path:
            return "named_paths"
        if get_origin(value) is list and get_args(value) == (Path,):
            return "class_files"
        if get_origin(value) in (typing.Union, types.UnionType) and list[Path] in get_args(value):
            return "class_files"  # files per class; a made class (from:) has its own widgets
        if value in (float, int):
            return "numbers"
    return "yaml"


def default_of(info: FieldInfo) -> Any:
    """A field's default value (calling its default factory)."""
    value = info.get_default(call_default_factory=True)
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def field_key(stage: str, path: tuple[str, ...]) -> str:
    """The session-state key of a field's widget."""
    return f"{stage}::{'.'.join(path)}"


def humanise(name: str) -> str:
    """``batch_size`` -> ``Batch size``."""
    return name.replace("_", " ").capitalize()


def md_escape(text: str) -> str:
    """Escape Markdown so that paths and names show as typed."""
    return re.sub(r"([\\`*_\[\]<>#$~|])", r"\\\1", str(text))



def md_code(text: str) -> str:
    """``text`` as a Markdown code span that shows it exactly as typed: Markdown escapes
    are not read inside code, so none are added; the fence outgrows any backticks inside."""
    text = str(text)
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def yaml_text(value: Any) -> str:
    """A value as the YAML a user would type (empty for nothing)."""
    if value in (None, {}, []):
        return ""
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False).strip()
    return text.removesuffix("\n...").strip()  # a lone scalar ends with a document marker

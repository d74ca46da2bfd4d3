"""Forms generated from the pydantic config models, validated as the user types.

A :class:`Form` draws one widget per config field, chosen from the field's type
(a choice list for a ``Literal``, a number box for ``int``/``float``, a path box with a
picker for ``Path``, rows of class name and files for ``dict[str, list[Path]]``, YAML
text for anything else), with the field's default and description. A page decides the
order and which fields apply (e.g. fold options only with the fold branch);
:meth:`Form.rest` draws every field the page did not place, so a new config option
appears in the GUI without a change here. :meth:`Form.check` validates the values with
the same pydantic model and messages as the CLI, plus a check that input paths exist,
and shows each message beside its field and in a list above the Run button.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import streamlit as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from lociflow.config import StageConfig, parse_stage
from lociflow.errors import ConfigError
from lociflow.gui.fields import (
    OMIT,
    default_of,
    field_key,
    humanise,
    kind_of,
    md_escape,
    unwrap,
)
from lociflow.gui.widgets import RENDERERS

# Path fields that name something the stage creates, so they need not exist yet.
MAY_NOT_EXIST = {"cache_dir", "storage"}


# --------------------------------------------------------------------------- the form


class Form:
    """The widgets of one stage's config, their values, and their validation.

    Parameters
    ----------
    stage
        The config section (``preprocess``, ``train``, ...).
    model
        The stage's pydantic model.
    upload_dir
        Where uploaded files are saved (``<output root>/uploads``).
    """

    def __init__(self, stage: str, model: type[StageConfig], upload_dir: Path) -> None:
        self.stage = stage
        self.model = model
        self.upload_dir = upload_dir
        self.data: dict[str, Any] = {}
        self.rendered: set[tuple[str, ...]] = set()
        self.skipped: set[tuple[str, ...]] = set()
        self.problems: list[tuple[tuple[str, ...], str]] = []
        self.slots: dict[tuple[str, ...], Any] = {}
        # every file typed into a per-class field, named or not (the genome check needs them all)
        self.typed_files: dict[tuple[str, ...], list[str]] = {}

    # -- placing fields

    def key(self, path: tuple[str, ...]) -> str:
        return field_key(self.stage, path)

    def info(self, path: tuple[str, ...]) -> FieldInfo:
        """The pydantic field at a dotted path of the model."""
        model: Any = self.model
        info = None
        for part in path:
            info = model.model_fields[part]
            model = unwrap(info.annotation)[0]
        assert info is not None
        return info

    def field(self, *path: str, label: str | None = None, help: str | None = None, **opts: Any) -> Any:
        """Draw the widget of the field at ``path`` and return its effective value.

        ``opts`` tune the widget: ``options`` (choices of a multiselect), ``keys`` (the
        names of a per-key number field), ``exists=False`` (a path that may not exist yet),
        ``dir=True/False`` (a folder or a file is needed), ``none_label``, ``kind``.
        """
        info = self.info(path)
        kind = opts.pop("kind", None) or kind_of(info.annotation)
        if kind in ("path", "paths"):
            opts.setdefault("exists", path[-1] not in MAY_NOT_EXIST)
        label = label or info.title or humanise(path[-1])
        help = help or info.description
        value = RENDERERS[kind](self, tuple(path), info, label, help, **opts)
        self.rendered.add(tuple(path))
        self.slots[tuple(path)] = st.empty()
        if value is not OMIT:
            self.put(tuple(path), value)
        return self.value(*path)

    def skip(self, *path: str) -> None:
        """Mark a field as not applying: it is neither drawn by :meth:`rest` nor sent."""
        self.skipped.add(tuple(path))

    def rest(self, title: str | None = "More options", expanded: bool = False) -> None:
        """Draw every field the page has not placed or skipped, in an expander titled
        ``title`` (or where the page is now when ``title`` is None)."""
        todo = self._unplaced(self.model, ())
        if todo and title is None:
            for path in todo:
                self.field(*path)
        elif todo:
            with st.expander(title, expanded=expanded):
                for path in todo:
                    self.field(*path)

    def anchor(self, *path: str) -> None:
        """A place for the messages about ``path`` (e.g. a section drawn field by field)."""
        self.slots[tuple(path)] = st.empty()

    def value(self, *path: str) -> Any:
        """The value a field has now: what was entered, else its default."""
        node: Any = self.data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return default_of(self.info(tuple(path)))
            node = node[part]
        return node

    def problem(self, path: tuple[str, ...], message: str) -> None:
        """Record a problem with a field (shown beside it and above the Run button)."""
        self.problems.append((path, message))

    # -- validation

    def check(self) -> StageConfig | None:
        """Validate the entered values as the CLI would; show every problem; return the
        config, or None when something must be fixed first."""
        problems = list(self.problems)
        config = None
        try:
            config = parse_stage(self.model, self.data, self.stage, base=Path.cwd())
        except ConfigError as exc:
            problems += _config_messages(str(exc), self.stage)
        beside: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for path, message in problems:
            slot = max((p for p in self.slots if path[: len(p)] == p), key=len, default=None)
            if slot is not None:
                beside[slot].append(message)
        for path, messages in beside.items():
            self.slots[path].error("\n\n".join(md_escape(m) for m in messages), icon="⚠️")
        if problems:
            lines = "\n".join(f"- {md_escape(_where(p))}{md_escape(m)}" for p, m in problems)
            st.error(f"**Fix these before running:**\n{lines}")
            return None
        return config

    # -- internals

    def put(self, path: tuple[str, ...], value: Any) -> None:
        node = self.data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value

    def _unplaced(self, model: type[BaseModel], prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        todo = []
        for name, info in model.model_fields.items():
            path = (*prefix, name)
            if path in self.rendered or path in self.skipped:
                continue
            touched = any(p[: len(path)] == path for p in self.rendered | self.skipped)
            if kind_of(info.annotation) == "section" and touched:
                todo += self._unplaced(unwrap(info.annotation)[0], path)
            else:
                todo.append(path)
        return todo


def _where(path: tuple[str, ...]) -> str:
    return f"{'.'.join(path)}: " if path else ""


def _config_messages(text: str, stage: str) -> list[tuple[tuple[str, ...], str]]:
    """Split a :class:`ConfigError` message into (field path, message) pairs."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("Invalid configuration"):
        lines = lines[1:]
    out = []
    for line in lines:
        match = re.match(rf"^{re.escape(stage)}((?:\.[\w\[\]]+)*): (.*)$", line)
        if match:
            path = tuple(p for p in match.group(1).split(".") if p)
            out.append((path, match.group(2)))
        else:
            out.append(((), line))
    return out


def bed_inputs(files: list[str] | None) -> list[str]:
    """The files among ``files`` that are BED (by suffix, else by content as the stages
    judge them); a file that cannot be read yet counts by its suffix alone."""
    from lociflow.errors import LociflowError
    from lociflow.io.bed import BED_SUFFIXES, file_kind
    from lociflow.io.files import strip_suffixes

    found = []
    for name in dict.fromkeys(files or []):  # a file given for two classes counts once
        if not str(name).strip():
            continue
        try:
            kind = file_kind(Path(str(name)).expanduser())
        except (LociflowError, OSError, UnicodeDecodeError):
            kind = "bed" if strip_suffixes(name)[1] in BED_SUFFIXES else "other"
        if kind == "bed":
            found.append(str(name))
    return found


def genome_field(form: Form, files: list[str] | None, label: str = "Reference genome (FASTA, for BED input)",
                 **opts: Any) -> bool:
    """The reference genome field, shown only when some input is BED, and a problem (so
    the Run button stays disabled) while BED input has no genome. Returns whether it applies."""
    bed = bed_inputs(files)
    if not bed:
        form.skip("genome")
        return False
    genome = form.field("genome", label=label, dir=False, **opts)
    if not genome:
        shown = Path(bed[0]).name + (f" and {len(bed) - 1} more" if len(bed) > 1 else "")
        form.problem(("genome",), f"{shown} is BED: its sequences are cut from a reference genome, so give the "
                     f"genome's FASTA file in '{label}'.")
    return True


def track_fields(form: Form, model: str | Path | None) -> None:
    """Ask for a conservation bigWig and further tracks only when the model reads them
    (or when the model is not known yet), as evaluate and predict both need."""
    from lociflow.gui.suggest import model_branches

    branches = model_branches(model) or []
    if "cons" in branches or not branches:
        form.field("conservation", label="Conservation track (bigWig)", dir=False)
    else:
        form.skip("conservation")
    if not branches or set(branches) - {"seq", "fold", "cons"}:
        form.field("tracks", label="Further tracks the model reads")
    else:
        form.skip("tracks")

"""The config file: YAML loading, ``--set`` overrides, path resolution and readable errors.

A config file has one section per stage (``preprocess:``, ``train:``, ...). Each stage
reads its own section. Values are validated on load: an unknown key is an error that
names the key and suggests the nearest valid one, a duplicate key is an error, and a
bad value says what is allowed. Relative paths are resolved against the folder of the
file that names them, so the ``params.yaml`` a run writes (all paths absolute, every
default filled in) reproduces the run when given back with ``--config``.

Command-line overrides use ``--set key=value`` with dotted keys into the stage section,
e.g. ``--set window=200 --set split.method=chromosome``; the value is parsed as YAML.
The stage models themselves live in :mod:`lociflow.config`.
"""

from __future__ import annotations

import difflib
import logging
import numbers
import os
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from lociflow.errors import ConfigError
from lociflow.layout import STAGES

log = logging.getLogger("lociflow.config")

# --------------------------------------------------------------------------- YAML


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                f"Duplicate key {key!r} at line {key_node.start_mark.line + 1} "
                f"(first given at line {seen[key]}): each name may appear only once."
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


MAX_YAML_NODES = 1_000_000
"""The most values a YAML document may hold once its aliases are expanded.

An alias repeats a value without copying it, so a few lines can stand for billions of
values (an "alias bomb"); anything that walks the loaded data then runs out of time or
memory. A real config or model spec holds a few hundred values.
"""


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """How many values ``root`` holds with every alias expanded, stopping past ``limit``."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:  # an alias inside itself expands without end
            return limit + 1
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                break
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def safe_load_yaml(stream: Any, limit: int = MAX_YAML_NODES) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys and documents expanding past ``limit`` values.

    Parameters
    ----------
    stream : YAML text, or an open text file.
    limit : the most values once aliases are expanded. Default is :data:`MAX_YAML_NODES`.

    Raises
    ------
    ConfigError
        A duplicate key, or an alias bomb; ``yaml.YAMLError`` for invalid YAML.
    """
    loader = _UniqueKeyLoader(stream)  # a SafeLoader: no code runs
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, limit) > limit:
            raise ConfigError(f"the document expands to more than {limit:,} values through its aliases (&name / *name); "
                              "that is an alias bomb, not a configuration. Write the values out instead.")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Load a YAML config file safely (no code runs), refusing duplicate keys and alias bombs.

    Parameters
    ----------
    path : str or os.PathLike
        The config file.

    Returns
    -------
    dict
        Section name -> section; empty for an empty file.

    Raises
    ------
    ConfigError
        When the file is missing, is not valid YAML, repeats a key, expands aliases
        without bound, is not a mapping, or has a section that is not a stage.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    try:
        with open(path, encoding="utf-8") as handle:
            data = safe_load_yaml(handle)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save the config file as "
                          "UTF-8.") from None
    except RecursionError:
        raise ConfigError(f"{path} nests values too deeply to be a configuration.") from None
    except OSError as exc:
        raise ConfigError(f"Config file {path} cannot be read ({exc.strerror or exc}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping with one section per stage ({', '.join(STAGES)}).")
    unknown = [k for k in data if k not in STAGES]
    for key in unknown:
        raise ConfigError(f"{path}: unknown section {key!r}{suggest(key, STAGES)}. Sections: {', '.join(STAGES)}.")
    return data


def suggest(key: Any, valid: Iterable[Any], cutoff: float = 0.5, n: int = 1) -> str:
    """The "did you mean" hint for a mistyped name: ``" (did you mean 'x'?)"`` or ``""``.

    Parameters
    ----------
    key : str
        What was written.
    valid : iterable of str
        The names that would have been accepted.
    cutoff : float
        How alike (0 to 1, :func:`difflib.get_close_matches`) a name must be to be
        suggested. Default is 0.5.
    n : int
        How many names to suggest at most, nearest first. Default is 1.

    Returns
    -------
    str
        The hint, with a leading space, or an empty string when nothing is close.
    """
    matches = [repr(m) for m in difflib.get_close_matches(str(key), [str(v) for v in valid], n=n, cutoff=cutoff)]
    if not matches:
        return ""
    listed = matches[0] if len(matches) == 1 else f"{', '.join(matches[:-1])} or {matches[-1]}"
    return f" (did you mean {listed}?)"


def apply_overrides(section: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply ``key=value`` overrides (dotted keys, YAML values) to a stage section.

    Parameters
    ----------
    section : dict
        The stage section; it is not modified (changed nested mappings are copied).
    overrides : list of str or None
        ``--set`` items such as ``window=200`` or ``split.method=chromosome``; a dotted
        key makes missing (or non-mapping) levels into mappings. None applies nothing.

    Returns
    -------
    dict
        A copy of ``section`` with the overrides applied in order.

    Raises
    ------
    ConfigError
        When an item has no ``=`` or its value is not valid YAML.
    """
    section = dict(section)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r} must look like key=value (for example window=200).")
        key, raw = item.split("=", 1)
        try:
            value = safe_load_yaml(raw)
        except ConfigError as exc:
            raise ConfigError(f"--set {item!r}: {exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({exc}).") from None
        target = section
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = target.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            target[part] = child
            target = child
        target[parts[-1]] = value
    return section


# --------------------------------------------------------------------------- base model


def _resolve_paths(value: Any, base: Path) -> Any:
    if isinstance(value, Path):
        return value if value.is_absolute() else (base / value).resolve()
    if isinstance(value, dict):
        return {k: _resolve_paths(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_paths(v, base) for v in value]
    if isinstance(value, BaseModel):  # a nested section, e.g. a table source with its file
        changed = {name: _resolve_paths(getattr(value, name), base) for name in type(value).model_fields}
        changed = {name: v for name, v in changed.items() if v != getattr(value, name)}
        return value.model_copy(update=changed) if changed else value
    return value


_MAX_SEED = 2**32 - 1  # what numpy, torch and Lightning all accept as a seed


def _scalar_kinds(annotation: Any) -> set[type]:
    """The scalar types among ``annotation``'s alternatives (``int | None`` -> ``{int}``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set().union(*(_scalar_kinds(arg) for arg in typing.get_args(annotation)))
    return {annotation} & {bool, int, float}


def _strict_problem(value: Any, annotation: Any) -> str | None:
    """Why ``value`` does not fit a bool/int/float ``annotation`` strictly, or None.

    Pydantic's lax mode reads ``true`` as 1 and 1 as true; in a config file either is a
    slip (``window: true``), so neither is taken.
    """
    kinds = _scalar_kinds(annotation)
    if not kinds or value is None:
        return None
    numeric = kinds & {int, float}
    is_bool = isinstance(value, (bool, np.bool_))
    if is_bool and bool not in kinds and numeric:
        return "must be a number, not true/false"
    if bool in kinds and not numeric and not is_bool:
        return "must be true or false"
    return None


def _container_problems(name: str, value: Any, annotation: Any) -> list[str]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    problems = []
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        for key, item in value.items():
            problem = _strict_problem(item, args[1])
            if problem:
                problems.append(f"{name}.{key} {problem} (got {item!r})")
    elif origin is list and args and isinstance(value, list):
        for i, item in enumerate(value):
            problem = _strict_problem(item, args[0])
            if problem:
                problems.append(f"{name}[{i}] {problem} (got {item!r})")
    return problems


class Section(BaseModel):
    """Base of every config model: unknown keys are errors, and booleans and numbers are not mixed.

    Every option named ``seed`` must be a whole number from 0 to 2**32 - 1, the range
    numpy, torch and Lightning share.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    @model_validator(mode="before")
    @classmethod
    def _strict_values(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # pydantic says that a mapping was expected
        problems = []
        for name, value in data.items():
            field = cls.model_fields.get(name) if isinstance(name, str) else None
            if field is None:
                continue
            problem = _strict_problem(value, field.annotation)
            if problem:
                problems.append(f"{name} {problem} (got {value!r})")
            problems += _container_problems(name, value, field.annotation)
            if name == "seed" and not isinstance(value, (bool, np.bool_)) and (
                    not isinstance(value, numbers.Integral) or not 0 <= value <= _MAX_SEED):
                problems.append(f"seed must be a whole number from 0 to {_MAX_SEED} (got {value!r})")
        if problems:
            raise ValueError("; ".join(problems))
        return data


class StageConfig(Section):
    """Base of a stage's config: relative paths resolve against ``context['base']``.

    ``retired`` names options a stage no longer has, each with the reason: a config that
    still sets one (an old ``params.yaml``) keeps loading, with a note in the log.
    """

    retired: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(key in data for key in cls.retired):
            data = dict(data)
            for key, why in cls.retired.items():
                if key in data:
                    data.pop(key)
                    log.info("the option %r is no longer used and was ignored (%s)", key, why)
        return data

    @model_validator(mode="after")
    def _absolute_paths(self, info: ValidationInfo):
        base = Path((info.context or {}).get("base", Path.cwd()))
        for name in type(self).model_fields:
            value = getattr(self, name)
            resolved = _resolve_paths(value, base)
            if resolved is not value:
                object.__setattr__(self, name, resolved)
        return self

    def dump(self) -> dict[str, Any]:
        """The complete parameters as plain YAML-able data (paths as strings)."""
        return self.model_dump(mode="json")


def _format_validation_error(exc: ValidationError, section: str, model: type[BaseModel]) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        where = ".".join([section, *loc]) if loc else section
        if err["type"] == "extra_forbidden":
            valid = _fields_at(model, err["loc"][:-1])
            lines.append(f"unknown key {where!r}{suggest(loc[-1], valid)}; valid keys here: {', '.join(valid)}")
        elif err["type"] == "missing":
            lines.append(f"{where}: required but not given")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            said = "(got " in msg  # the validator named the value itself
            shown = "" if said or isinstance(got, (dict, BaseModel)) else f" (got {got!r})"
            lines.append(f"{where}: {msg}{shown}")
    return "Invalid configuration:\n  " + "\n  ".join(lines)


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            break
        annotation = field.annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        for arg in getattr(annotation, "__args__", ()) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                current = arg
        if current is None:
            return []
    return sorted(getattr(current, "model_fields", {}))


def parse_stage(model: type[StageConfig], data: dict[str, Any] | None, section: str,
                base: str | os.PathLike | None = None) -> StageConfig:
    """Validate ``data`` as ``model``, raising :class:`ConfigError` with readable messages.

    Parameters
    ----------
    model : type of StageConfig
        The stage's config model.
    data : dict or None
        The section's values; None is an empty section.
    section : str
        The section name, which starts every key named in an error.
    base : str or os.PathLike or None
        Folder that relative paths resolve against. Default is None (the current folder).

    Returns
    -------
    StageConfig
        The validated config, paths absolute.
    """
    try:
        return model.model_validate(data or {}, context={"base": Path(base or Path.cwd())})
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, section, model)) from None


def load_stage(model: type[StageConfig], section: str, config_path: str | os.PathLike | None = None,
               overrides: list[str] | None = None, extra: dict[str, Any] | None = None) -> StageConfig:
    """Load the ``section`` of a config file, apply CLI values, and validate.

    ``extra`` holds values from named CLI flags (``None`` means "not given"); ``overrides``
    the ``--set key=value`` items. Both win over the file. Paths given on the command line
    resolve against the current folder, paths in the file against the file's folder.

    Parameters
    ----------
    model : type of StageConfig
        The stage's config model.
    section : str
        The section to read, e.g. ``"train"``.
    config_path : str or os.PathLike or None
        The config file. Default is None (no file: only the CLI values).
    overrides : list of str or None
        ``--set key=value`` items, applied last (see :func:`apply_overrides`). Default is None.
    extra : dict or None
        Values of named CLI flags; ``None`` values are left out. Default is None.

    Returns
    -------
    StageConfig
        The validated config.

    Raises
    ------
    ConfigError
        For an unreadable file, a section that is not a mapping, or invalid values.
    """
    data: dict[str, Any] = {}
    base = Path.cwd()
    if config_path is not None:
        document = load_yaml(config_path)
        base = Path(config_path).resolve().parent
        data = document.get(section) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{config_path}: section {section!r} must be a mapping of options (key: value lines), "
                              f"not a {type(data).__name__}; e.g. {section}:\n  seed: 1")
        data = dict(data)
    cwd = Path.cwd()
    for key, value in (extra or {}).items():
        if value is not None:
            data[key] = _resolve_paths(value, cwd)
    data = apply_overrides(data, overrides)
    return parse_stage(model, data, section, base)


def coerce(model: type[StageConfig], config: Any, section: str) -> StageConfig:
    """Accept a stage config as a model instance, a dict, or the path of a YAML file.

    Parameters
    ----------
    model : type of StageConfig
        The stage's config model.
    config : StageConfig or dict or str or os.PathLike
        An instance of ``model`` (returned as it is), a YAML file (its ``section`` is
        loaded), or a dict: either the section itself or a whole config whose keys are
        stages and include ``section``. Relative paths in a dict resolve against the
        current folder.
    section : str
        The stage section, e.g. ``"train"``.

    Returns
    -------
    StageConfig
        The validated config.

    Raises
    ------
    ConfigError
        When ``config`` is none of these, or does not validate.
    """
    if isinstance(config, model):
        return config
    if isinstance(config, (str, os.PathLike)):
        return load_stage(model, section, config)
    if isinstance(config, dict):
        data = config.get(section, config) if set(config) <= set(STAGES) and section in config else config
        return parse_stage(model, data, section)
    raise ConfigError(f"Expected a {model.__name__}, a dict or a YAML path, got {type(config).__name__}.")

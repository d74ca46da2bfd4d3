"""Parameter names of a search space: which exist, and whether one fits an architecture.

See :mod:`lociflow.searching.space` for what each kind of name changes. Names are checked
against the base training config and the dataset before any trial runs, and a wrong one
is reported with the nearest valid name.
"""

from __future__ import annotations

from typing import Any

from lociflow.config import TrainConfig
from lociflow.configfile import suggest
from lociflow.errors import ConfigError

NOT_SEARCHABLE = ("data",)


def option_names() -> list[str]:
    """Every parameter name that does not depend on the architecture (for suggestions)."""
    from lociflow.training.module import SCHEDULE_OPTIONS

    names = []
    for field, info in TrainConfig.model_fields.items():
        if field in NOT_SEARCHABLE:
            continue
        names.append(field)
        sub = _section_model(info.annotation)
        if sub is not None:
            names += [f"{field}.{k}" for k in sub.model_fields]
    names += sorted({f"schedule_options.{k}" for opts in SCHEDULE_OPTIONS.values() for k in opts})
    return names


def _section_model(annotation: Any):
    from pydantic import BaseModel

    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def is_architecture_name(name: str) -> bool:
    """Whether a parameter changes the resolved architecture (``layers.*``, ``architecture.*``).

    Parameters
    ----------
    name : str
        A search parameter name.

    Returns
    -------
    bool
        True for names starting with ``layers.`` or ``architecture.``.
    """
    return name.startswith("layers.") or name.startswith("architecture.")


def check_name(name: str, architecture: dict[str, Any], search_options: list[str] | None = None) -> None:
    """Raise :class:`ConfigError` naming the nearest valid name when ``name`` is not a parameter.

    Parameters
    ----------
    name : str
        A search parameter name: a training option, a dotted option
        (``early_stopping.patience``), ``layers.SECTION`` or ``architecture.*``.
    architecture : dict
        A resolved architecture (``branches`` and ``common``) that ``layers.*`` and
        ``architecture.*`` names must fit.
    search_options : list of str or None
        Further names offered as suggestions only (the ``search:`` section's own
        options, for a user who put one in the space). Default is None.

    Raises
    ------
    ConfigError
        When ``name`` is not a searchable parameter of this architecture.
    """
    if name.startswith("layers."):
        section = name[len("layers."):]
        sections = [*architecture["branches"], "common"]
        if section not in sections:
            raise ConfigError(f"search.{name}: no section {section!r}{suggest(section, sections)}; "
                              f"sections: {', '.join(sections)}")
        return
    if name.startswith("architecture."):
        architecture_target(name, architecture)
        return
    if name == "architecture" or name in option_names():
        return
    if "." not in name and name in TrainConfig.model_fields:  # data
        raise ConfigError(f"search.{name}: {name} cannot be searched (every trial trains on the search's dataset)")
    candidates = [*option_names(), *(f"layers.{s}" for s in [*architecture["branches"], "common"]),
                  *(search_options or [])]
    raise ConfigError(
        f"search: unknown parameter {name!r}{suggest(name, candidates)}. A parameter is a training option "
        "(learning_rate, batch_size, preset, branches, ...), a dotted option (early_stopping.patience), "
        "layers.SECTION, or architecture.branches.BRANCH.N.KEY / architecture.common.N.KEY."
    )


def architecture_target(name: str, architecture: dict[str, Any]) -> tuple[list[dict[str, Any]], int, str]:
    """The layer list, index and key that an ``architecture.*`` name sets (checked).

    Parameters
    ----------
    name : str
        ``architecture.branches.BRANCH.N.KEY`` or ``architecture.common.N.KEY``.
    architecture : dict
        A resolved architecture (every layer a dict with its ``type``).

    Returns
    -------
    layers : list of dict
        The section's layer list, from ``architecture`` itself (not a copy).
    index : int
        The layer's number in it, from 0.
    key : str
        The layer option.

    Raises
    ------
    ConfigError
        When the name is malformed, or the branch, layer or option does not exist.
    """
    from lociflow.model.spec import LAYER_TYPES

    parts = name.split(".")[1:]
    where = f"search.{name}"
    if not parts or parts[0] not in ("branches", "common"):
        got = parts[0] if parts else ""
        raise ConfigError(f"{where}: expected architecture.branches.BRANCH.N.KEY or architecture.common.N.KEY"
                          f"{suggest(got, ['branches', 'common'])}")
    if parts[0] == "branches":
        if len(parts) != 4:
            raise ConfigError(f"{where}: expected architecture.branches.BRANCH.N.KEY, "
                              "e.g. architecture.branches.seq.0.filters")
        branch, index, key = parts[1:]
        branches = list(architecture["branches"])
        if branch not in branches:
            raise ConfigError(f"{where}: no branch {branch!r}{suggest(branch, branches)}; "
                              f"branches: {', '.join(branches)}")
        layers, section = architecture["branches"][branch], f"branch {branch}"
    else:
        if len(parts) != 3:
            raise ConfigError(f"{where}: expected architecture.common.N.KEY, e.g. architecture.common.0.units")
        index, key = parts[1:]
        layers, section = architecture["common"], "common"
    if not index.isdigit() or int(index) >= len(layers):
        raise ConfigError(f"{where}: {section} has {len(layers)} layer(s), numbered from 0; "
                          f"{index!r} is not one of them")
    layer = layers[int(index)]
    valid = [k for k in LAYER_TYPES[layer["type"]].model_fields if k != "type"]
    if key not in valid:
        raise ConfigError(f"{where}: layer {index} of {section} is a {layer['type']} layer without option {key!r}"
                          f"{suggest(key, valid)}; its options: {', '.join(valid)}")
    return layers, int(index), key


def misfit(name: str, architecture: dict[str, Any], search_options: list[str] | None = None) -> str | None:
    """Why ``name`` cannot apply to ``architecture`` (None when it can).

    Parameters
    ----------
    name : str
        A search parameter name.
    architecture : dict
        A resolved architecture.
    search_options : list of str or None
        As in :func:`check_name`. Default is None.

    Returns
    -------
    str or None
        The :func:`check_name` message, or a note that a ``layers.*`` section is empty
        in this architecture; None when the name applies.
    """
    try:
        check_name(name, architecture, search_options)
    except ConfigError as exc:
        return str(exc)
    if name.startswith("layers."):
        section = name[len("layers."):]
        layers = architecture["common"] if section == "common" else architecture["branches"][section]
        if not layers:
            return (f"search.{name}: the section has no layers in this architecture, so none can be repeated or removed; "
                    "search architecture options of another section")
    return None

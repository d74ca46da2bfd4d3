"""The search space: parameters written in YAML, checked, sampled and applied to a train config.

A parameter is a name and a distribution::

    learning_rate: {type: float, low: 0.0001, high: 0.01, log: true}
    epochs:        {type: int, low: 5, high: 30, step: 5}
    batch_size:    {type: categorical, choices: [64, 128, 256]}

Names (what a trial changes in the base ``train:`` section):

- any training option: ``learning_rate``, ``batch_size``, ``optimizer``, ``preset``,
  ``branches`` (a categorical of lists, e.g. ``choices: [[seq], [seq, fold]]``), ...;
- an option of a nested section, dotted: ``early_stopping.patience``, ``augment.shift``,
  ``schedule_options.gamma``;
- ``layers.SECTION`` (an int): the number of layers of a section (a branch name or
  ``common``) of the trial's resolved architecture, counting layers of the type of the
  section's first layer (conv blocks in the branches of the CNN presets, dense layers in
  their ``common``). Fewer keeps the first ones; more repeats the last one right after it
  (stacked recurrent layers pass the whole sequence on);
- ``architecture.branches.BRANCH.N.KEY`` or ``architecture.common.N.KEY``: one option of
  layer N (from 0) of the resolved architecture, applied after ``layers.*``.

Categorical choices may be any YAML value; choices that Optuna cannot store (lists,
mappings) are stored as their JSON text and turned back into the value for the trial.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from lociflow.config import TrainConfig, parse_stage
from lociflow.errors import ConfigError
from lociflow.searching.names import architecture_target, is_architecture_name, misfit
from lociflow.searching.params import PARAM_KEYS, Param, parse_space  # noqa: F401 - the space's grammar

log = logging.getLogger("lociflow.search")


# --------------------------------------------------------------------------- applying values


def set_layer_count(layers: list[dict[str, Any]], count: int, section: str) -> list[dict[str, Any]]:
    """``layers`` with ``count`` layers of the type of its first layer (see the module docs).

    Fewer keeps the first ones; more repeats the last one right after it. In a recurrent
    run every layer but the last returns the whole sequence.

    Parameters
    ----------
    layers : list of dict
        A section's layers (resolved); not modified.
    count : int
        Layers of the first layer's type wanted, 0 or more; layers of other types stay.
    section : str
        The section's name, for error messages.

    Returns
    -------
    list of dict
        A new list of copied layers.

    Raises
    ------
    ConfigError
        When ``count`` is negative or the section has no layers.
    """
    from lociflow.model.spec import RECURRENT

    if count < 0:
        raise ConfigError(f"layers.{section}: a layer count cannot be negative (got {count})")
    if not layers:
        raise ConfigError(f"layers.{section}: the section has no layers in this architecture, so none can be "
                          "repeated or removed; search architecture options of another section")
    main = layers[0]["type"]
    where = [i for i, layer in enumerate(layers) if layer["type"] == main]
    if count <= len(where):
        kept = set(where[:count])
        result = [copy.deepcopy(layer) for i, layer in enumerate(layers) if layer["type"] != main or i in kept]
    else:
        last = where[-1]
        extra = [copy.deepcopy(layers[last]) for _ in range(count - len(where))]
        result = [copy.deepcopy(layer) for layer in layers[:last + 1]] + extra + copy.deepcopy(layers[last + 1:])
    if main in RECURRENT:  # every recurrent layer but the last of the run passes its sequence on
        runs = [i for i, layer in enumerate(result) if layer["type"] == main]
        final_output = layers[where[-1]].get("output")
        for i in runs[:-1]:
            result[i]["output"] = "sequence"
        if runs:
            result[runs[-1]]["output"] = final_output
    return result


def _set_dotted(target: dict[str, Any], name: str, value: Any) -> None:
    parts = name.split(".")
    for part in parts[:-1]:
        child = target.get(part)
        target[part] = child = dict(child) if isinstance(child, dict) else {}
        target = child
    target[parts[-1]] = value


def trial_config(values: dict[str, Any], base: dict[str, Any], dataset) -> TrainConfig:
    """The training config of a trial: ``base`` (a ``train:`` dict) with ``values`` applied.

    Options are set first; then, if any ``layers.*`` or ``architecture.*`` value is given,
    the architecture is resolved for the trial's preset and branches, layer counts are
    applied, then layer options, and the result is written out as the trial's
    ``architecture`` (with its preset kept for the record). Architecture values that do
    not fit the trial's architecture are logged and ignored.

    Parameters
    ----------
    values : dict
        Parameter name -> the value this trial uses.
    base : dict
        The base ``train:`` section (plain data); not modified.
    dataset : DatasetDir
        The search's dataset, for resolving the architecture.

    Returns
    -------
    TrainConfig
        The validated training config of the trial.
    """
    config = copy.deepcopy(base)
    shaped = {k: v for k, v in values.items() if is_architecture_name(k)}
    for name, value in values.items():
        if name not in shaped:
            _set_dotted(config, name, value)
    if shaped:
        architecture = resolved_architecture(parse_stage(TrainConfig, config, "train"), dataset)
        for name in list(shaped):
            if name.startswith("layers.") and misfit(name, architecture) is not None:
                log.info("%s does not apply to this trial's architecture: ignored", name)
                del shaped[name]
        for name, value in shaped.items():
            if name.startswith("layers."):
                section = name[len("layers."):]
                if section == "common":
                    architecture["common"] = set_layer_count(architecture["common"], int(value), section)
                else:
                    architecture["branches"][section] = set_layer_count(architecture["branches"][section],
                                                                        int(value), section)
        for name, value in shaped.items():
            if name.startswith("architecture."):
                if misfit(name, architecture) is not None:  # layer numbers refer to the counted sections
                    log.info("%s does not apply to this trial's architecture: ignored", name)
                    continue
                layers, index, key = architecture_target(name, architecture)
                layers[index][key] = value
        config["architecture"] = architecture
    return parse_stage(TrainConfig, config, "train")


def resolved_architecture(config: TrainConfig, dataset) -> dict[str, Any]:
    """The explicit architecture ``config`` trains on ``dataset`` (its preset, architecture, branches).

    Parameters
    ----------
    config : TrainConfig
        A training config.
    dataset : DatasetDir
        The dataset; its branches and window shape the architecture.

    Returns
    -------
    dict
        ``{"branches": {...}, "common": [...]}`` with every layer option written out
        (see :func:`lociflow.model.presets.resolve_architecture`).
    """
    from lociflow.model.presets import resolve_architecture
    from lociflow.training.run import architecture_for_branches, chosen_branches

    branches = chosen_branches(config, dataset)
    composed = architecture_for_branches(config.architecture, branches)
    return resolve_architecture(config.preset, composed, branches, dataset.window)


def base_values(params: list[Param], base: dict[str, Any], dataset) -> dict[str, Any]:
    """The value each parameter has in ``base`` itself, for a first trial that trains ``base`` as it is.

    ``preset`` is the preset ``base`` resolves to, ``augment.shift`` the shift it uses on
    ``dataset``'s window, ``layers.*`` the section's layer count and ``architecture.*`` the
    layer option of its resolved architecture; parameters whose base value is unset, or
    outside the parameter's range or choices, are left out (the sampler draws them).

    Parameters
    ----------
    params : list of Param
        The search space.
    base : dict
        The base ``train:`` section.
    dataset : DatasetDir
        The search's dataset.

    Returns
    -------
    dict
        Parameter name -> value, for ``first_trial``.
    """
    from lociflow.model.presets import DEFAULT_PRESET

    config = parse_stage(TrainConfig, base, "train")
    architecture = resolved_architecture(config, dataset)
    plain = config.dump()
    values: dict[str, Any] = {}
    for param in params:
        name = param.name
        if name == "preset":
            value = config.preset or (DEFAULT_PRESET if config.architecture is None else None)
        elif name == "augment.shift":
            value = config.augment.shift_for(dataset.window)
        elif name.startswith("layers."):
            if misfit(name, architecture) is not None:
                continue
            section = name[len("layers."):]
            layers = architecture["common"] if section == "common" else architecture["branches"][section]
            value = sum(layer["type"] == layers[0]["type"] for layer in layers)
        elif name.startswith("architecture."):
            if misfit(name, architecture) is not None:
                continue
            layers, index, key = architecture_target(name, architecture)
            value = layers[index].get(key)
        else:
            value = plain
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
        if value is not None and param.holds(value):
            values[name] = value
    return values


def check_trial_config(config: TrainConfig, dataset) -> None:
    """Raise :class:`ConfigError` when ``config`` cannot train on ``dataset`` (before training).

    Checks the schedule options, the branches, that ``ensemble`` is 1, that
    ``augment.shift`` is below the window, and plans the network.

    Parameters
    ----------
    config : TrainConfig
        A trial's training config.
    dataset : DatasetDir
        The search's dataset.
    """
    from lociflow.model.plan import plan_network
    from lociflow.training.module import schedule_options
    from lociflow.training.run import chosen_branches

    schedule_options(config)
    branches = chosen_branches(config, dataset)
    if config.ensemble not in (1, "auto"):
        raise ConfigError(
            f"ensemble: {config.ensemble} in a search: trials compare single networks. Search with ensemble: 1, "
            "then train the best trial's params.yaml with the ensemble you want."
        )
    if config.augment.shift_for(dataset.window) >= dataset.window:
        raise ConfigError(f"augment.shift ({config.augment.shift}) must be smaller than the window ({dataset.window})")
    plan_network(resolved_architecture(config, dataset), {b: dataset.channels[b] for b in branches},
                 dataset.window, len(dataset.classes))


def check_space(params: list[Param], base: dict[str, Any], dataset, search_options: list[str] | None = None) -> None:
    """Check every name, then every bound and choice, before any trial runs.

    Each value is applied alone to the base config (and, for architecture parameters, to
    each preset and branch choice of the space) and the network is planned, so a name that
    does not exist, a value training refuses or a layer count that pools a branch to
    nothing fails at once, naming the parameter. An architecture name must fit at least one
    of those choices (``layers.fold`` needs a choice with the fold branch); trials whose
    architecture it does not fit ignore it.

    Parameters
    ----------
    params : list of Param
        The parsed space.
    base : dict
        The base ``train:`` section (plain data).
    dataset : DatasetDir
        The search's dataset.
    search_options : list of str or None
        The search section's options, suggested for a misplaced one (see
        :func:`lociflow.searching.names.check_name`). Default is None.

    Raises
    ------
    ConfigError
        Naming the first parameter, value (and preset or branch choice) that cannot work.
    """
    contexts: list[dict[str, Any]] = [{}]
    for param in params:
        if param.name in ("preset", "branches", "architecture") and param.kind == "categorical":
            contexts = [{**c, param.name: v} for c in contexts for v in param.choices]
    fitting: dict[str, list[dict[str, Any]]] = {}
    for param in params:
        tried = contexts if is_architecture_name(param.name) else [{}]
        problems = []
        for context in tried:
            config = parse_stage(TrainConfig, {**base, **context}, "train")
            problem = misfit(param.name, resolved_architecture(config, dataset), search_options)
            if problem is None:
                fitting.setdefault(param.name, []).append(context)
            else:
                problems.append(ConfigError(f"{problem}{_context_note(context)}"))
        if param.name not in fitting:
            raise problems[0]
    for param in params:
        for context in fitting[param.name]:
            for value in param.extremes():
                values = {**{k: v for k, v in context.items() if k != param.name}, param.name: value}
                try:
                    check_trial_config(trial_config(values, base, dataset), dataset)
                except ConfigError as exc:
                    raise ConfigError(f"search.{param.name} = {value!r}{_context_note(context)} cannot train: "
                                      f"{exc}") from None


def _context_note(context: dict[str, Any]) -> str:
    return "" if not context else " (with " + ", ".join(f"{k}: {v}" for k, v in context.items()) + ")"

"""The written form of a search parameter: its type and range or choices, checked as it is read.

A parameter is a name and a distribution::

    learning_rate: {type: float, low: 0.0001, high: 0.01, log: true}
    epochs:        {type: int, low: 5, high: 30, step: 5}
    batch_size:    {type: categorical, choices: [64, 128, 256]}

This module knows only that grammar and imports nothing of lociflow but the config base,
so that the search section of a config file is checked when it is read. What the names
mean, and whether they fit the base training config and the dataset, is
:mod:`lociflow.searching.space`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from lociflow.configfile import suggest
from lociflow.errors import ConfigError

__all__ = ["PARAM_KEYS", "Param", "parse_space"]

PARAM_KEYS = {
    "int": ("type", "low", "high", "step", "log"),
    "float": ("type", "low", "high", "step", "log"),
    "categorical": ("type", "choices"),
}
_PRIMITIVE = (type(None), bool, int, float, str)



@dataclass(frozen=True)
class Param:
    """One parameter of the space: its name and distribution."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def labels(self) -> list[Any]:
        """The categorical choices as Optuna stores them (JSON text for lists and mappings)."""
        return [c if isinstance(c, _PRIMITIVE) else json.dumps(c, sort_keys=True) for c in self.choices]

    def decode(self, stored: Any) -> Any:
        """The value a trial uses, from what Optuna stored.

        Parameters
        ----------
        stored : object
            The value in ``trial.params``: the number itself, or a categorical label
            (see :attr:`labels`).

        Returns
        -------
        object
            The number, or the choice the label stands for (a list or mapping again).
        """
        if self.kind != "categorical":
            return stored
        return self.choices[self.labels.index(stored)]

    def holds(self, value: Any) -> bool:
        """Whether ``value`` is one this parameter can take (a choice, or a number in range and on its step).

        Parameters
        ----------
        value : object
            A value a trial would use.

        Returns
        -------
        bool
        """
        if self.kind == "categorical":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and value != int(value):
            return False
        if not self.low - 1e-12 <= value <= self.high + 1e-12:
            return False
        if self.step:
            steps = (value - self.low) / self.step
            return abs(steps - round(steps)) < 1e-9
        return True

    def encode(self, value: Any) -> Any:
        """What Optuna stores for ``value`` (the inverse of :meth:`decode`).

        Parameters
        ----------
        value : object
            A value the parameter :meth:`holds`.

        Returns
        -------
        object
        """
        if self.kind == "categorical":
            return self.labels[self.choices.index(value)]
        return int(value) if self.kind == "int" else float(value)

    def suggest(self, trial) -> Any:
        """Draw this parameter for an Optuna ``trial``; return the value the trial uses.

        Parameters
        ----------
        trial : optuna.trial.Trial
            The running trial; the draw is recorded in it under :attr:`name`.

        Returns
        -------
        object
            An int, a float, or the chosen categorical value (decoded).
        """
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)
        return self.decode(trial.suggest_categorical(self.name, self.labels))

    def extremes(self) -> list[Any]:
        """The values checked before any trial: both bounds, or every choice."""
        if self.kind == "categorical":
            return list(self.choices)
        high = self.high
        if self.step:  # the largest value on the grid of steps
            high = self.low + math.floor((self.high - self.low) / self.step + 1e-9) * self.step
        cast = int if self.kind == "int" else float
        return [cast(self.low), cast(high)]

    def grid(self) -> list[Any]:
        """Every value, for the grid sampler (categorical, int, or float with a step)."""
        if self.kind == "categorical":
            return self.labels
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if not self.step:
            raise ConfigError(
                f"search.{self.name}: the grid sampler needs a finite set of values; give this float "
                "a step (e.g. step: 0.1), make it categorical, or use sampler: tpe or random."
            )
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return [round(self.low + i * self.step, 12) for i in range(count)]


def parse_space(space: Any, options: list[str] | None = None) -> list[Param]:
    """Check the written form of every parameter and return them as :class:`Param`.

    Names are checked later, against the base training config and the dataset
    (:func:`lociflow.searching.space.check_space`).

    Parameters
    ----------
    space : dict
        Parameter name -> distribution, e.g. ``{type: int, low: 5, high: 30, step: 5}``.
    options : list of str or None
        The search options, so that a mistyped option written directly under
        ``search:`` (not a mapping) is named as such. Default is None.

    Returns
    -------
    list of Param
        One per parameter, in the order written.

    Raises
    ------
    ConfigError
        When ``space`` is not a mapping, or a distribution has a bad type, key or range.
    """
    if not isinstance(space, dict):
        raise ConfigError(f"the search space must map parameter names to distributions, got {space!r}")
    return [_parse_param(str(name), raw, options or []) for name, raw in space.items()]


def _parse_param(name: str, raw: Any, options: list[str]) -> Param:
    where = name  # messages read "search: NAME: ..." once the config names its section
    if not isinstance(raw, dict):
        close = suggest(name, options)
        hint = f" (if this is a search option: {close.removeprefix(' (')}" if close else ""
        raise ConfigError(
            f"{where}: a parameter is written {{type: int|float|categorical, ...}}, got {raw!r}{hint}"
        )
    kind = raw.get("type")
    if kind not in PARAM_KEYS:
        raise ConfigError(
            f"{where}: type must be one of {', '.join(PARAM_KEYS)}"
            f"{suggest(str(kind), list(PARAM_KEYS)) if kind is not None else ' (type is missing)'}, got {kind!r}"
        )
    for key in raw:
        if key not in PARAM_KEYS[kind]:
            raise ConfigError(
                f"{where}: unknown key {key!r}{suggest(str(key), PARAM_KEYS[kind])} for type {kind}; "
                f"valid keys: {', '.join(PARAM_KEYS[kind])}"
            )
    if kind == "categorical":
        choices = raw.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a non-empty list, e.g. choices: [64, 128], got {choices!r}")
        param = Param(name, kind, choices=tuple(choices))
        if len(set(map(repr, param.labels))) != len(choices):
            raise ConfigError(f"{where}: choices lists a value twice: {choices}")
        return param
    return _parse_range(name, kind, raw)


def _parse_range(name: str, kind: str, raw: dict[str, Any]) -> Param:
    where = name
    number = int if kind == "int" else (int, float)
    for key in ("low", "high"):
        value = raw.get(key)
        if value is None:
            raise ConfigError(f"{where}: {key} is required for type {kind}")
        if isinstance(value, bool) or not isinstance(value, number):
            wanted = "a whole number" if kind == "int" else "a number"
            raise ConfigError(f"{where}: {key} must be {wanted}, got {value!r}")
    low, high, step, log = raw["low"], raw["high"], raw.get("step"), bool(raw.get("log", False))
    if low >= high:
        raise ConfigError(f"{where}: low ({low}) must be below high ({high})")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, number) or step <= 0:
            wanted = "whole number" if kind == "int" else "number"
            raise ConfigError(f"{where}: step must be a positive {wanted}, got {step!r}")
        if log:
            raise ConfigError(f"{where}: step and log: true exclude each other "
                              "(Optuna samples a log scale without steps)")
    if log and low <= 0:
        raise ConfigError(f"{where}: log: true needs low above 0 (got {low})")
    return Param(name, kind, low=low, high=high, step=step, log=log)

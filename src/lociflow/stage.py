"""Stage modules that are also the stage's API function.

``lociflow.train`` is both a module and the function users call: importing any module
``lociflow.train`` binds it to the package attribute of the same name, so a plain
function exported from ``lociflow/__init__.py`` would be hidden after first use. Making
the stage module callable keeps ``lociflow.train(config, output)`` working either way.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class StageModule(types.ModuleType):
    """A module whose call runs its stage function (imported on first call)."""

    _stage_target: tuple[str, str]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module, attr = self._stage_target
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)


def make_callable(module_name: str, target_module: str, function: str) -> None:
    """Make ``sys.modules[module_name]`` callable as ``target_module.function``."""
    module = sys.modules[module_name]
    module.__class__ = StageModule
    module._stage_target = (target_module, function)  # type: ignore[attr-defined]
